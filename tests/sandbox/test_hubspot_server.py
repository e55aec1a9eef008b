"""The fake HubSpot against the real hubspot-api-client 12, over real sockets.

Budgets are shrunk with HubSpotLimits and the sandbox clock is advanced instead of
sleeping, so the whole file runs in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.objects.tasks.exceptions import ApiException as TasksApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from hubspot.oauth.exceptions import ApiException as OAuthApiException
from urllib3.util.retry import Retry

from sandbox.clock import SandboxClock
from sandbox.faults import FaultInjector
from sandbox.http import RunningServer, SandboxHttpServer
from sandbox.hubspot import (
    HubSpotLimits,
    HubSpotState,
    Pipeline,
    PipelineStage,
    build_hubspot_server,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
DEALS = 120


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Org:
    state: HubSpotState
    clock: SandboxClock
    owners: dict[str, str]
    teams: dict[str, str]
    deals: list[str]  # deals[i - 1] is "Deal i"


def _build_org() -> Org:
    clock = SandboxClock()
    clock.set(datetime(2024, 6, 1, tzinfo=UTC))
    state = HubSpotState(clock)
    teams = {"east": state.add_team("East"), "west": state.add_team("West")}
    owners = {
        "alice": state.add_owner(
            email="alice@example.com",
            first_name="Alice",
            last_name="Ames",
            team_ids=[teams["east"], teams["west"]],
            primary_team_id=teams["west"],
        ),
        "bob": state.add_owner(
            email="bob@example.com", first_name="Bob", last_name="Byrd", team_ids=[teams["east"]]
        ),
        "gone": state.add_owner(
            email="gone@example.com", first_name="Gone", last_name="Away", archived=True
        ),
    }
    deals = [_import_deal(state, i, owners) for i in range(1, DEALS + 1)]
    return Org(state, clock, owners, teams, deals)


def _import_deal(state: HubSpotState, i: int, owners: dict[str, str]) -> str:
    created = T0 + timedelta(hours=i)
    properties = {
        "dealname": f"Deal {i:03d}",
        "amount": str(1000 * i),
        "dealstage": STAGES[i % 7],
        "pipeline": "default",
        "closedate": _iso(T0 + timedelta(days=i)),
        "hubspot_owner_id": owners["alice" if i % 2 else "bob"],
        "description": "Renewal with ACME corp" if i % 10 == 0 else None,
    }
    history = {"dealstage": [("appointmentscheduled", created), (STAGES[i % 7], created)]}
    return state.import_object(
        "deals",
        properties,
        created_at=created,
        updated_at=created + timedelta(days=1),
        history=history,
    )


@dataclass
class Hub:
    org: Org
    server: SandboxHttpServer
    url: str
    token: str

    @property
    def api(self) -> HubSpot:
        return HubSpot(access_token=self.token, host=self.url)

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.url}/__sandbox/{path}", json=body)


@contextmanager
def _serve(
    org: Org, limits: HubSpotLimits | None = None, faults: FaultInjector | None = None
) -> Iterator[Hub]:
    token = org.state.issue_private_app_token()
    server = build_hubspot_server(org.state, limits=limits, faults=faults)
    running = RunningServer(server)
    try:
        yield Hub(org, server, running.url, token)
    finally:
        running.stop()


@pytest.fixture(scope="module")
def shared_org() -> Org:
    return _build_org()


@pytest.fixture
def hub(shared_org: Org) -> Iterator[Hub]:
    """A read-mostly portal; writes are undone by the admin reset afterwards."""
    with _serve(shared_org) as served:
        yield served
        assert served.admin("POST", "reset").status_code == 200


@pytest.fixture
def serve() -> Iterator[Callable[..., Hub]]:
    """A fresh portal with custom limits: ``serve(HubSpotLimits(...))``."""
    with ExitStack() as stack:

        def start(limits: HubSpotLimits | None = None, org: Org | None = None) -> Hub:
            return stack.enter_context(_serve(org or _build_org(), limits))

        yield start


def _body(exc: Exception) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(getattr(exc, "body", "") or "{}")
    return body


# ---------------------------------------------------------------------- owners, pipelines
def test_owners_are_listed_with_their_teams_and_read_by_id_or_user_id(hub: Hub) -> None:
    owners = hub.api.crm.owners.owners_api
    page = owners.get_page()
    by_email = {o.email: o for o in page.results}
    assert set(by_email) == {"alice@example.com", "bob@example.com"}
    alice = by_email["alice@example.com"]
    assert alice.id == hub.org.owners["alice"]
    assert {(t.name, t.primary) for t in alice.teams} == {("East", False), ("West", True)}
    assert owners.get_page(archived=True).results[0].email == "gone@example.com"
    assert owners.get_page(email="bob@example.com").results[0].first_name == "Bob"
    assert owners.get_by_id(str(alice.user_id), id_property="userId").id == alice.id
    with pytest.raises(OwnersApiException) as raised:
        owners.get_by_id("1")
    assert raised.value.status == 404


def test_the_owner_list_pages_with_after(hub: Hub) -> None:
    owners = hub.api.crm.owners.owners_api
    first = owners.get_page(limit=1)
    assert first.paging is not None
    second = owners.get_page(limit=1, after=first.paging.next.after)
    assert second.results[0].id != first.results[0].id
    assert second.paging is None


def test_pipelines_carry_stage_metadata_as_strings(hub: Hub) -> None:
    pipelines = hub.api.crm.pipelines
    (default,) = pipelines.pipelines_api.get_all("deals").results
    assert default.id == "default"
    assert [s.id for s in default.stages] == list(STAGES)
    won = pipelines.pipeline_stages_api.get_by_id("deals", "default", "closedwon")
    assert won.metadata == {"isClosed": "true", "probability": "1.0"}
    assert default.stages[0].metadata == {"isClosed": "false", "probability": "0.2"}
    stages = pipelines.pipeline_stages_api.get_all("deals", "default").results
    assert [s.display_order for s in stages] == list(range(7))


def test_custom_pipelines_replace_the_default_one(serve: Callable[..., Hub]) -> None:
    org = _build_org()
    org.state.set_pipelines(
        [
            Pipeline(
                "p2",
                "Renewals",
                [PipelineStage("open", "Open", 0.5), PipelineStage("won", "Won", 1.0, True)],
            )
        ]
    )
    hub = serve(org=org)
    (only,) = hub.api.crm.pipelines.pipelines_api.get_all("deals").results
    assert (only.id, [s.id for s in only.stages]) == ("p2", ["open", "won"])


# ---------------------------------------------------------------------- reading objects
def test_listing_deals_pages_with_after_until_no_paging_is_left(hub: Hub) -> None:
    basic = hub.api.crm.deals.basic_api
    first = basic.get_page(limit=100)
    assert len(first.results) == 100
    assert first.paging.next.after == hub.org.deals[100]
    second = basic.get_page(limit=100, after=first.paging.next.after)
    assert [d.id for d in first.results + second.results] == hub.org.deals
    assert second.paging is None
    assert len(basic.get_page().results) == 10  # HubSpot's default page size
    assert len(hub.api.crm.deals.get_all()) == DEALS


def test_a_list_limit_above_100_is_refused(hub: Hub) -> None:
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.basic_api.get_page(limit=101)
    assert raised.value.status == 400
    assert _body(raised.value)["category"] == "VALIDATION_ERROR"


def test_without_properties_a_read_returns_the_default_ones(hub: Hub) -> None:
    deal = hub.api.crm.deals.basic_api.get_by_id(hub.org.deals[6])
    assert set(deal.properties) == {
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    }
    assert deal.properties["dealname"] == "Deal 007"
    assert deal.properties["createdate"] == "2024-01-01T07:00:00.000Z"
    assert deal.properties["hs_lastmodifieddate"] == "2024-01-02T07:00:00.000Z"
    assert deal.created_at == T0 + timedelta(hours=7)


def test_named_properties_come_with_the_system_ones_and_unknown_names_are_ignored(
    hub: Hub,
) -> None:
    deal = hub.api.crm.deals.basic_api.get_by_id(
        hub.org.deals[9], properties=["description", "hs_is_closed", "no_such_property"]
    )
    assert deal.properties == {
        "createdate": "2024-01-01T10:00:00.000Z",
        "description": "Renewal with ACME corp",
        "hs_is_closed": "false",
        "hs_lastmodifieddate": "2024-01-02T10:00:00.000Z",
        "hs_object_id": hub.org.deals[9],
    }
    unset = hub.api.crm.deals.basic_api.get_by_id(hub.org.deals[0], properties=["description"])
    assert unset.properties["description"] is None


def test_property_history_comes_newest_first(hub: Hub) -> None:
    deal = hub.api.crm.deals.basic_api.get_by_id(
        hub.org.deals[4], properties_with_history=["dealstage", "amount"]
    )
    stage = deal.properties_with_history["dealstage"]
    assert [(h.value, h.source_type) for h in stage] == [
        ("closedwon", "CRM_UI"),
        ("appointmentscheduled", "CRM_UI"),
    ]
    assert stage[0].timestamp >= stage[1].timestamp
    # A property never changed since creation has one entry: its value at creation.
    assert [h.value for h in deal.properties_with_history["amount"]] == ["5000"]


def test_with_property_history_a_page_holds_at_most_50_objects(hub: Hub) -> None:
    basic = hub.api.crm.deals.basic_api
    page = basic.get_page(limit=50, properties_with_history=["dealstage"])
    assert len(page.results) == 50
    assert all(d.properties_with_history["dealstage"] for d in page.results)
    with pytest.raises(DealsApiException) as raised:
        basic.get_page(limit=51, properties_with_history=["dealstage"])
    assert raised.value.status == 400
    # The client's get_all knows the smaller page size.
    assert len(hub.api.crm.deals.get_all(properties_with_history=["dealstage"])) == DEALS


def test_reading_a_missing_object_is_a_404(hub: Hub) -> None:
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.basic_api.get_by_id("999")
    assert raised.value.status == 404
    assert _body(raised.value)["category"] == "OBJECT_NOT_FOUND"
    assert raised.value.headers["X-HubSpot-Correlation-Id"] == _body(raised.value)["correlationId"]


def test_objects_can_be_read_by_a_unique_property(hub: Hub) -> None:
    deal = hub.api.crm.deals.basic_api.get_by_id("Deal 012", id_property="dealname")
    assert deal.id == hub.org.deals[11]


# ---------------------------------------------------------------------- writing objects
def test_a_deal_is_created_updated_and_archived(hub: Hub) -> None:
    basic = hub.api.crm.deals.basic_api
    created = basic.create(
        {"properties": {"dealname": "New", "dealstage": "qualifiedtobuy", "amount": "10"}}
    )
    assert created.properties["pipeline"] == "default"
    assert created.properties["hs_object_id"] == created.id
    hub.org.clock.advance(timedelta(minutes=5))
    updated = basic.update(created.id, {"properties": {"dealstage": "closedwon", "amount": ""}})
    assert updated.properties["dealstage"] == "closedwon"
    assert "amount" not in updated.properties  # cleared by the empty string
    assert updated.updated_at > created.updated_at
    read = basic.get_by_id(
        created.id, properties=["hs_is_closed_won"], properties_with_history=["dealstage"]
    )
    assert read.properties["hs_is_closed_won"] == "true"
    history = read.properties_with_history["dealstage"]
    assert [(h.value, h.source_type) for h in history] == [
        ("closedwon", "INTEGRATION"),
        ("qualifiedtobuy", "INTEGRATION"),
    ]
    basic.archive(created.id)
    with pytest.raises(DealsApiException):
        basic.get_by_id(created.id)
    archived = basic.get_page(archived=True)
    assert [(d.id, d.archived) for d in archived.results] == [(created.id, True)]
    assert archived.results[0].archived_at is not None
    assert basic.get_by_id(created.id, archived=True).archived
    basic.archive("123456")  # archiving is idempotent, even for unknown ids


def test_a_task_is_written_back_with_an_association_to_its_deal(hub: Hub) -> None:
    tasks = hub.api.crm.objects.tasks.basic_api
    deal_id = hub.org.deals[0]
    task = tasks.create(
        {
            "properties": {
                "hs_timestamp": "2024-06-03T09:00:00Z",
                "hs_task_subject": "Coach: pipeline coverage",
                "hs_task_body": "Coverage fell to 1.8x",
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
                "hs_task_type": "TODO",
                "hubspot_owner_id": hub.org.owners["bob"],
            },
            "associations": [
                {
                    "to": {"id": deal_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
                }
            ],
        }
    )
    assert task.properties["hs_timestamp"] == "2024-06-03T09:00:00.000Z"
    deal = hub.api.crm.deals.basic_api.get_by_id(deal_id, associations=["tasks"])
    assert [(a.id, a.type) for a in deal.associations["tasks"].results] == [
        (task.id, "deal_to_task")
    ]
    done = tasks.update(task.id, {"properties": {"hs_task_status": "COMPLETED"}})
    assert done.properties["hs_task_completion_date"] is not None


@pytest.mark.parametrize(
    ("properties", "error"),
    [
        ({"hs_timestamp": "2024-06-03T09:00:00Z", "hs_task_priority": "URGENT"}, "INVALID_OPTION"),
        ({"hs_timestamp": "2024-06-03T09:00:00Z", "made_up": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"hs_timestamp": "yesterday"}, "INVALID_LONG"),
        ({"hs_timestamp": "2024-06-03", "hubspot_owner_id": "1"}, "INVALID_OPTION"),
        ({"hs_task_subject": "no timestamp"}, "REQUIRED_PROPERTY"),
        ({"hs_timestamp": "2024-06-03", "hs_lastmodifieddate": "0"}, "READ_ONLY_VALUE"),
    ],
)
def test_invalid_property_values_are_a_validation_error(
    hub: Hub, properties: dict[str, str], error: str
) -> None:
    with pytest.raises(TasksApiException) as raised:
        hub.api.crm.objects.tasks.basic_api.create({"properties": properties})
    assert raised.value.status == 400
    body = _body(raised.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    details = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert error in {d["error"] for d in details}


def test_a_deal_stage_must_belong_to_the_deals_pipeline(hub: Hub) -> None:
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.basic_api.update(
            hub.org.deals[0], {"properties": {"dealstage": "no-such-stage"}}
        )
    assert "INVALID_OPTION" in _body(raised.value)["message"]


# ---------------------------------------------------------------------- batches
def test_batch_read_answers_207_with_the_missing_ids(hub: Hub) -> None:
    batch = hub.api.crm.deals.batch_api
    response = batch.read(
        {
            "inputs": [{"id": hub.org.deals[0]}, {"id": "1"}, {"id": hub.org.deals[1]}],
            "properties": ["amount"],
            "propertiesWithHistory": ["dealstage"],
        }
    )
    assert [d.properties["amount"] for d in response.results] == ["1000", "2000"]
    assert response.results[0].properties_with_history["dealstage"]
    assert response.num_errors == 1
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["1"]}


def test_batch_create_makes_tasks_associated_with_their_deals(hub: Hub) -> None:
    deal_ids = hub.org.deals[:3]
    inputs = [
        {
            "properties": {"hs_timestamp": "2024-06-03T09:00:00Z", "hs_task_subject": f"T{i}"},
            "associations": [
                {
                    "to": {"id": deal_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
                }
            ],
        }
        for i, deal_id in enumerate(deal_ids)
    ]
    response, status, _ = hub.api.crm.objects.tasks.batch_api.create_with_http_info(
        {"inputs": inputs}
    )
    assert status == 201
    assert response.status == "COMPLETE"
    task_ids = [t.id for t in response.results]
    read = hub.api.crm.associations.v4.batch_api.get_page(
        "tasks", "deals", {"inputs": [{"id": task_id} for task_id in task_ids]}
    )
    pairs = {
        (r._from.id, r.to[0].to_object_id, r.to[0].association_types[0].type_id)
        for r in read.results
    }
    assert pairs == {(t, d, 216) for t, d in zip(task_ids, deal_ids, strict=True)}
    back = hub.api.crm.associations.v4.basic_api.get_page("deals", deal_ids[0], "tasks")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in back.results] == [
        (task_ids[0], 215)
    ]


def test_batch_create_reports_inputs_whose_deal_does_not_exist(hub: Hub) -> None:
    good = {"properties": {"hs_timestamp": "2024-06-03T09:00:00Z"}}
    bad = {
        **good,
        "associations": [
            {
                "to": {"id": "1"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
            }
        ],
    }
    response, status, _ = hub.api.crm.objects.tasks.batch_api.create_with_http_info(
        {"inputs": [good, bad]}
    )
    assert status == 207
    assert len(response.results) == 1
    assert response.errors[0].category == "VALIDATION_ERROR"


def test_batch_update_applies_found_ids_and_reports_missing_ones(hub: Hub) -> None:
    response, status, _ = hub.api.crm.deals.batch_api.update_with_http_info(
        {
            "inputs": [
                {"id": hub.org.deals[0], "properties": {"amount": "1"}},
                {"id": "42", "properties": {"amount": "2"}},
            ]
        }
    )
    assert status == 207
    assert [d.properties["amount"] for d in response.results] == ["1"]
    assert response.errors[0].context == {"ids": ["42"]}
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.batch_api.update(
            {"inputs": [{"id": hub.org.deals[0], "properties": {"amount": "x"}}]}
        )
    assert raised.value.status == 400


@pytest.mark.parametrize("operation", ["read", "create", "update", "archive"])
def test_batches_of_more_than_100_inputs_are_refused(hub: Hub, operation: str) -> None:
    inputs = [{"id": str(i), "properties": {"dealname": "x"}} for i in range(101)]
    body: dict[str, Any] = {"inputs": inputs}
    if operation == "read":
        body |= {"properties": [], "propertiesWithHistory": []}
    with pytest.raises(DealsApiException) as raised:
        getattr(hub.api.crm.deals.batch_api, operation)(body)
    assert raised.value.status == 400


def test_batch_archive_hides_the_objects(hub: Hub) -> None:
    hub.api.crm.deals.batch_api.archive({"inputs": [{"id": hub.org.deals[0]}]})
    assert len(hub.api.crm.deals.basic_api.get_page(archived=True).results) == 1


# ---------------------------------------------------------------------- search
def _stage(i: int) -> str:
    return STAGES[i % 7]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"operator": "EQ", "propertyName": "amount", "value": "5000"}, lambda i: i == 5),
        ({"operator": "EQ", "propertyName": "dealname", "value": "deal 007"}, lambda i: i == 7),
        (
            {"operator": "NEQ", "propertyName": "dealstage", "value": "closedwon"},
            lambda i: _stage(i) != "closedwon",
        ),
        ({"operator": "LT", "propertyName": "amount", "value": "3000"}, lambda i: i < 3),
        ({"operator": "LTE", "propertyName": "amount", "value": "3000"}, lambda i: i <= 3),
        ({"operator": "GT", "propertyName": "amount", "value": "118000"}, lambda i: i > 118),
        ({"operator": "GTE", "propertyName": "amount", "value": "118000"}, lambda i: i >= 118),
        (
            {
                "operator": "BETWEEN",
                "propertyName": "closedate",
                "value": "2024-01-04T00:00:00Z",
                "highValue": str(int((T0 + timedelta(days=6)).timestamp() * 1000)),
            },
            lambda i: 3 <= i <= 6,
        ),
        (
            {"operator": "IN", "propertyName": "dealstage", "values": ["closedwon", "closedlost"]},
            lambda i: _stage(i) in ("closedwon", "closedlost"),
        ),
        (
            {
                "operator": "NOT_IN",
                "propertyName": "dealstage",
                "values": ["closedwon", "closedlost"],
            },
            lambda i: _stage(i) not in ("closedwon", "closedlost"),
        ),
        ({"operator": "HAS_PROPERTY", "propertyName": "description"}, lambda i: i % 10 == 0),
        ({"operator": "NOT_HAS_PROPERTY", "propertyName": "description"}, lambda i: i % 10 != 0),
        (
            {"operator": "CONTAINS_TOKEN", "propertyName": "description", "value": "acme"},
            lambda i: i % 10 == 0,
        ),
        (
            {"operator": "NOT_CONTAINS_TOKEN", "propertyName": "description", "value": "acme"},
            lambda i: i % 10 != 0,
        ),
        (
            {"operator": "EQ", "propertyName": "hs_is_closed_won", "value": "true"},
            lambda i: _stage(i) == "closedwon",
        ),
        (
            {
                "operator": "GTE",
                "propertyName": "hs_lastmodifieddate",
                "value": "2024-01-05T00:00:00Z",
            },
            lambda i: i >= 72,
        ),
    ],
    ids=lambda value: value["operator"] if isinstance(value, dict) else "",
)
def test_search_filters_with_every_operator(
    hub: Hub, flt: dict[str, Any], expected: Callable[[int], bool]
) -> None:
    found = hub.api.crm.deals.search_api.do_search(
        {"filterGroups": [{"filters": [flt]}], "limit": 200, "properties": ["dealname"]}
    )
    wanted = [hub.org.deals[i - 1] for i in range(1, DEALS + 1) if expected(i)]
    assert [d.id for d in found.results] == wanted
    assert found.total == len(wanted)


def test_search_ors_groups_and_ands_filters(hub: Hub) -> None:
    found = hub.api.crm.deals.search_api.do_search(
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "amount", "operator": "LTE", "value": "10000"},
                        {
                            "propertyName": "hubspot_owner_id",
                            "operator": "EQ",
                            "value": hub.org.owners["bob"],
                        },
                    ]
                },
                {"filters": [{"propertyName": "dealname", "operator": "EQ", "value": "Deal 099"}]},
            ],
            "limit": 100,
        }
    )
    assert [d.properties["dealname"] for d in found.results] == [
        "Deal 002",
        "Deal 004",
        "Deal 006",
        "Deal 008",
        "Deal 010",
        "Deal 099",
    ]


def test_search_sorts_and_pages_with_after(hub: Hub) -> None:
    search = hub.api.crm.deals.search_api
    request = {"sorts": [{"propertyName": "amount", "direction": "DESCENDING"}], "limit": 50}
    first = search.do_search(request)
    assert first.total == DEALS
    assert first.results[0].properties["amount"] == "120000"
    assert first.paging.next.after == "50"
    second = search.do_search({**request, "after": first.paging.next.after})
    third = search.do_search({**request, "after": second.paging.next.after})
    assert third.paging is None
    amounts = [int(d.properties["amount"]) for d in first.results + second.results + third.results]
    assert amounts == sorted(amounts, reverse=True)
    ascending = search.do_search({"sorts": ["closedate"], "limit": 1})
    assert ascending.results[0].id == hub.org.deals[0]
    assert search.do_search({"query": "deal 11"}).total == 10  # "Deal 110" to "Deal 119"


def test_search_results_default_to_id_order_with_the_default_properties(hub: Hub) -> None:
    found = hub.api.crm.deals.search_api.do_search({})
    assert [d.id for d in found.results] == hub.org.deals[:10]
    assert "dealstage" in found.results[0].properties


@pytest.mark.parametrize(
    "request_body",
    [
        {"limit": 201},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "amount", "operator": "GT", "value": "1"}]}
            ]
            * 6
        },
        {
            "filterGroups": [
                {"filters": [{"propertyName": "amount", "operator": "GT", "value": "1"}] * 7}
            ]
        },
        {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}]},
        {"sorts": ["amount", "dealname"]},
    ],
    ids=["limit", "groups", "filters", "property", "two-sorts"],
)
def test_invalid_searches_are_refused(hub: Hub, request_body: dict[str, Any]) -> None:
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.search_api.do_search(request_body)
    assert raised.value.status == 400
    assert _body(raised.value)["category"] == "VALIDATION_ERROR"


def test_search_cannot_page_past_10000_results(serve: Callable[..., Hub]) -> None:
    org = _build_org()
    for i in range(10_050):
        org.state.import_object(
            "notes",
            {"hs_timestamp": "2024-02-01T00:00:00.000Z", "hs_note_body": f"n{i}"},
            created_at=T0,
        )
    search = serve(org=org).api.crm.objects.notes.search_api
    page = search.do_search({"limit": 100, "after": "9900"})
    assert page.total == 10_050
    assert page.paging.next.after == "10000"
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the notes client's own ApiException
        search.do_search({"limit": 100, "after": page.paging.next.after})
    assert getattr(raised.value, "status", None) == 400
    assert _body(raised.value)["category"] == "VALIDATION_ERROR"


def test_search_lags_behind_writes_when_an_index_lag_is_configured(
    serve: Callable[..., Hub],
) -> None:
    hub = serve(HubSpotLimits(search_index_lag_seconds=5))
    search, basic = hub.api.crm.deals.search_api, hub.api.crm.deals.basic_api
    by_name = {
        "filterGroups": [
            {"filters": [{"propertyName": "dealname", "operator": "EQ", "value": "Fresh"}]}
        ]
    }
    created = basic.create({"properties": {"dealname": "Fresh", "dealstage": "closedwon"}})
    basic.update(hub.org.deals[0], {"properties": {"amount": "7"}})
    assert search.do_search(by_name).total == 0
    seven = {
        "filterGroups": [{"filters": [{"propertyName": "amount", "operator": "EQ", "value": "7"}]}]
    }
    assert search.do_search(seven).total == 0
    hub.org.clock.advance(timedelta(seconds=5))
    assert [d.id for d in search.do_search(by_name).results] == [created.id]
    assert search.do_search(seven).total == 1


# ---------------------------------------------------------------------- associations v4
def test_v4_association_reads_page_and_report_objects_without_associations(hub: Hub) -> None:
    deal_id = hub.org.deals[0]
    calls = [
        hub.org.state.import_object(
            "calls",
            {"hs_timestamp": "2024-02-01T00:00:00.000Z", "hs_call_duration": "60000"},
            created_at=T0,
            associations={"deals": [deal_id]},
        )
        for _ in range(3)
    ]
    v4 = hub.api.crm.associations.v4
    first = v4.basic_api.get_page("deals", deal_id, "calls", limit=2)
    assert [r.to_object_id for r in first.results] == calls[:2]
    rest = v4.basic_api.get_page("deals", deal_id, "calls", after=first.paging.next.after)
    assert [(r.to_object_id, r.association_types[0].type_id) for r in rest.results] == [
        (calls[2], 205)
    ]
    batch = v4.batch_api.get_page(
        "deals", "calls", {"inputs": [{"id": deal_id}, {"id": hub.org.deals[1]}]}
    )
    assert [len(r.to) for r in batch.results] == [3]
    assert batch.errors[0].context == {"fromObjectId": [hub.org.deals[1]]}


def test_a_default_association_is_created_both_ways(hub: Hub) -> None:
    note = hub.org.state.import_object(
        "notes", {"hs_timestamp": "2024-02-01T00:00:00.000Z"}, created_at=T0
    )
    v4 = hub.api.crm.associations.v4.basic_api
    made = v4.create_default("notes", note, "deals", hub.org.deals[3])
    assert {r.association_spec.association_type_id for r in made.results} == {213, 214}
    assert v4.get_page("deals", hub.org.deals[3], "notes").results[0].to_object_id == note


# ---------------------------------------------------------------------- authentication
def test_an_unknown_token_gets_hubspots_401_body(hub: Hub) -> None:
    api = HubSpot(access_token="pat-na1-00000000-0000-0000-0000-000000000000", host=hub.url)
    with pytest.raises(DealsApiException) as raised:
        api.crm.deals.basic_api.get_page()
    assert raised.value.status == 401
    body = _body(raised.value)
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    assert "X-HubSpot-RateLimit-Max" not in raised.value.headers


def test_a_missing_token_is_a_401(hub: Hub) -> None:
    with pytest.raises(DealsApiException) as raised:
        HubSpot(host=hub.url).crm.deals.basic_api.get_page()
    assert raised.value.status == 401


def test_oauth_tokens_are_refreshed_and_expire_with_the_sandbox_clock(hub: Hub) -> None:
    client_id, secret, refresh = hub.org.state.register_oauth_client()
    tokens_api = HubSpot(host=hub.url).oauth.tokens_api
    tokens = tokens_api.create(
        grant_type="refresh_token", client_id=client_id, client_secret=secret, refresh_token=refresh
    )
    assert (tokens.token_type, tokens.expires_in, tokens.refresh_token) == ("bearer", 1800, refresh)
    api = HubSpot(access_token=tokens.access_token, host=hub.url)
    _, _, headers = api.crm.deals.basic_api.get_page_with_http_info()
    assert "X-HubSpot-RateLimit-Max" in headers
    assert "X-HubSpot-RateLimit-Daily" not in headers  # OAuth apps have no daily limit
    hub.org.clock.advance(timedelta(seconds=1800 + 125))
    with pytest.raises(DealsApiException) as raised:
        api.crm.deals.basic_api.get_page()
    body = _body(raised.value)
    assert (raised.value.status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert body["message"] == "The OAuth token used to make this call expired 2 minute(s) ago."
    again = tokens_api.create(
        grant_type="refresh_token", client_id=client_id, client_secret=secret, refresh_token=refresh
    )
    assert HubSpot(access_token=again.access_token, host=hub.url).crm.deals.basic_api.get_page()


def test_the_token_endpoint_refuses_unknown_refresh_tokens(hub: Hub) -> None:
    client_id, secret, _ = hub.org.state.register_oauth_client()
    with pytest.raises(OAuthApiException) as raised:
        HubSpot(host=hub.url).oauth.tokens_api.create(
            grant_type="refresh_token", client_id=client_id, client_secret=secret, refresh_token="x"
        )
    assert raised.value.status == 400
    assert _body(raised.value)["status"] == "BAD_REFRESH_TOKEN"


def test_an_authorization_code_is_exchanged_once_for_tokens(hub: Hub) -> None:
    client_id, secret, refresh = hub.org.state.register_oauth_client()
    code = hub.org.state.issue_authorization_code(client_id)
    tokens_api = HubSpot(host=hub.url).oauth.tokens_api
    grant = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost/callback",
        "client_id": client_id,
        "client_secret": secret,
    }
    tokens = tokens_api.create(**grant)
    assert tokens.refresh_token != refresh
    with pytest.raises(OAuthApiException):
        tokens_api.create(**grant)


# ---------------------------------------------------------------------- rate limits
def test_exceeding_the_ten_second_budget_answers_429_until_the_window_rolls(
    serve: Callable[..., Hub],
) -> None:
    hub = serve(HubSpotLimits(ten_second_budget=5))
    basic = hub.api.crm.deals.basic_api
    remaining = [
        basic.get_page_with_http_info()[2]["X-HubSpot-RateLimit-Remaining"] for _ in range(5)
    ]
    assert remaining == ["4", "3", "2", "1", "0"]
    with pytest.raises(DealsApiException) as raised:
        basic.get_page()
    error = raised.value
    assert error.status == 429
    body = _body(error)
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert body["correlationId"]
    assert body["requestId"]
    assert error.headers["X-HubSpot-RateLimit-Max"] == "5"
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert error.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert error.headers["X-HubSpot-RateLimit-Daily"] == "250000"
    assert "Retry-After" not in error.headers
    hub.org.clock.advance(timedelta(seconds=10))
    assert basic.get_page()


def test_retry_after_is_sent_only_when_configured(serve: Callable[..., Hub]) -> None:
    hub = serve(HubSpotLimits(ten_second_budget=1, send_retry_after=True))
    # urllib3 would honour Retry-After by sleeping and retrying; look at the raw 429 instead.
    api = HubSpot(access_token=hub.token, host=hub.url, retry=Retry(total=0))
    api.crm.deals.basic_api.get_page()
    hub.org.clock.advance(timedelta(seconds=4))
    with pytest.raises(DealsApiException) as raised:
        api.crm.deals.basic_api.get_page()
    assert raised.value.headers["Retry-After"] == "6"


def test_search_has_its_own_per_second_limit_and_no_rate_limit_headers(
    serve: Callable[..., Hub],
) -> None:
    hub = serve(HubSpotLimits(ten_second_budget=3, searches_per_second=2))
    search = hub.api.crm.deals.search_api
    for _ in range(2):
        _, status, headers = search.do_search_with_http_info({})
        assert status == 200
        assert not [name for name in headers if name.startswith("X-HubSpot-RateLimit")]
    with pytest.raises(DealsApiException) as raised:
        search.do_search({})
    body = _body(raised.value)
    assert (raised.value.status, body["policyName"]) == (429, "SECONDLY")
    assert body["message"] == "You have reached your secondly limit."
    # Search is exempt from the ten-second budget: all three list calls still pass.
    for _ in range(3):
        hub.api.crm.deals.basic_api.get_page()
    hub.org.clock.advance(timedelta(seconds=1))
    assert search.do_search({}).total == DEALS


def test_the_daily_budget_answers_429_until_the_next_day(serve: Callable[..., Hub]) -> None:
    hub = serve(HubSpotLimits(daily_budget=3))
    basic = hub.api.crm.deals.basic_api
    for _ in range(3):
        basic.get_page()
    with pytest.raises(DealsApiException) as raised:
        basic.get_page()
    body = _body(raised.value)
    assert (body["policyName"], body["message"]) == ("DAILY", "You have reached your daily limit.")
    assert raised.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    hub.org.clock.advance(timedelta(days=1))
    assert basic.get_page()


# ---------------------------------------------------------------------- faults and admin
def test_injected_server_errors_come_in_hubspots_format(hub: Hub) -> None:
    assert hub.admin("PUT", "faults", {"error_rate": 1.0, "error_status": 502}).status_code == 200
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.basic_api.get_page()
    assert raised.value.status == 502
    assert _body(raised.value)["status"] == "error"
    hub.admin("PUT", "faults", {})
    assert hub.api.crm.deals.basic_api.get_page()


def test_injected_429_bursts_look_like_the_ten_second_limit(hub: Hub) -> None:
    hub.admin("PUT", "faults", {"burst_every": 2, "burst_length": 1})
    basic = hub.api.crm.deals.basic_api

    def outcome() -> tuple[int, str | None]:
        try:
            basic.get_page()
        except DealsApiException as exc:
            return exc.status, _body(exc)["policyName"]
        return 200, None

    assert [outcome() for _ in range(4)] == [
        (200, None),
        (429, "TEN_SECONDLY_ROLLING"),
        (200, None),
        (429, "TEN_SECONDLY_ROLLING"),
    ]


def test_tokens_stop_working_after_the_configured_number_of_calls(hub: Hub) -> None:
    hub.admin("PUT", "faults", {"token_ttl_calls": 2})
    basic = hub.api.crm.deals.basic_api
    basic.get_page()
    basic.get_page()
    with pytest.raises(DealsApiException) as raised:
        basic.get_page()
    assert _body(raised.value)["category"] == "INVALID_AUTHENTICATION"
    client_id, secret, refresh = hub.org.state.register_oauth_client()
    tokens_api = HubSpot(host=hub.url).oauth.tokens_api
    grant = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": secret}
    oauth = HubSpot(
        access_token=tokens_api.create(**grant, refresh_token=refresh).access_token, host=hub.url
    )
    oauth.crm.deals.basic_api.get_page()
    oauth.crm.deals.basic_api.get_page()
    with pytest.raises(DealsApiException) as raised:
        oauth.crm.deals.basic_api.get_page()
    assert _body(raised.value)["category"] == "EXPIRED_AUTHENTICATION"
    fresh = tokens_api.create(**grant, refresh_token=refresh).access_token
    assert HubSpot(access_token=fresh, host=hub.url).crm.deals.basic_api.get_page()


def test_the_daily_budget_can_be_overridden_through_the_faults(hub: Hub) -> None:
    hub.admin("PUT", "faults", {"daily_budget": 1})
    hub.api.crm.deals.basic_api.get_page()
    with pytest.raises(DealsApiException) as raised:
        hub.api.crm.deals.basic_api.get_page()
    assert _body(raised.value)["policyName"] == "DAILY"


def test_the_meter_counts_calls_per_route_and_object_type(hub: Hub) -> None:
    hub.admin("POST", "meter/reset")
    hub.api.crm.deals.basic_api.get_page()
    hub.api.crm.objects.basic_api.get_page("0-3")  # the type id counts as deals
    hub.api.crm.deals.search_api.do_search({})
    hub.api.crm.objects.tasks.basic_api.get_page()
    with pytest.raises(DealsApiException):
        hub.api.crm.deals.basic_api.get_by_id("1")
    meter = hub.admin("GET", "meter").json()
    assert meter["by_endpoint"] == {
        "GET /crm/v3/objects/deals": 2,
        "GET /crm/v3/objects/deals/{objectId}": 1,
        "GET /crm/v3/objects/tasks": 1,
        "POST /crm/v3/objects/deals/search": 1,
    }
    assert meter["by_status"] == {"200": 4, "404": 1}


def test_the_admin_reset_restores_the_data_as_loaded(hub: Hub) -> None:
    basic = hub.api.crm.deals.basic_api
    basic.create({"properties": {"dealname": "Temp", "dealstage": "closedlost"}})
    basic.update(hub.org.deals[0], {"properties": {"amount": "1"}})
    assert hub.org.state.count("deals") == DEALS + 1
    assert hub.admin("POST", "reset").status_code == 200
    assert hub.org.state.count("deals") == DEALS
    assert basic.get_by_id(hub.org.deals[0]).properties["amount"] == "1000"


# ---------------------------------------------------------------------- the import API
def test_imports_refuse_what_hubspot_would_refuse() -> None:
    state = HubSpotState(SandboxClock())
    with pytest.raises(ValueError, match="made_up"):
        state.import_object("deals", {"made_up": "x"}, created_at=T0)
    with pytest.raises(ValueError, match="does not exist"):
        state.import_object(
            "tasks", {"hs_timestamp": "2024-01-01"}, created_at=T0, associations={"deals": ["9"]}
        )
    with pytest.raises(ValueError, match="not one of the allowed options"):
        state.import_object("deals", {"dealstage": "nope"}, created_at=T0)
    archived = state.import_object(
        "notes", {"hs_timestamp": "1704067200000"}, created_at=T0, archived_at=T0
    )
    assert (state.count("notes"), state.count("notes", archived=True)) == (0, 1)
    assert state.objects["notes"][int(archived)].props["hs_timestamp"] == "2024-01-01T00:00:00.000Z"
