"""Alerts inside the CRMs, through the real client libraries over HTTP(S) against the
sandbox: Salesforce custom notifications read back from the fake org, HubSpot notes read
back through the notes and v4 associations APIs. A refused input fails alone; an answer
lost after sending is reported "outcome unknown" and never sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from connectors.hubspot import HubSpotConnector
from connectors.hubspot import api as hubspot_api
from connectors.hubspot.alerts import AlertSender as HubSpotAlerts
from connectors.hubspot.sdk import Apis
from connectors.records import CrmAlert, TaskIntent, task_marker
from connectors.salesforce import RetryPolicy, SalesforceConfig, SalesforceConnector
from connectors.salesforce.alerts import AlertSender as SalesforceAlerts
from connectors.writeback import UNKNOWN_OUTCOME
from sandbox.faults import FaultConfig
from sandbox.hubspot import routes_associations
from sandbox.hubspot.properties import ASSOCIATION_TYPES
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox
from sandbox.salesforce.ids import make_id
from tests.integration.hubspot_sandbox import Portal, connector, running_hubspot, sandbox_portal
from tests.integration.hubspot_sandbox import reset as reset_hubspot
from tests.integration.salesforce_sandbox import reset as reset_salesforce
from tests.integration.salesforce_sandbox import running_salesforce, trusted_session
from tests.integration.test_salesforce_connector import _auth

ORG = OrgSpec(seed=11, managers=1, reps=3, months=3, deal_scale=0.5)
FAST = RetryPolicy(attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.05)
SF_SEND = "POST custom notification action"
HS_CREATE = "POST /crm/v3/objects/notes/batch/create"
LOST_ANSWERS = [FaultConfig(error_rate=1.0), FaultConfig(drop_rate=1.0)]


def _alert(key: str, recipient: str, task: str, deal: str | None = None) -> CrmAlert:
    return CrmAlert(key, recipient, f"Deal slipped ({key})", "Close date moved twice.", task, deal)


def _task(key: str, owner: str, deal: str | None = None) -> TaskIntent:
    return TaskIntent(key, owner, "Coach on the slipped deal", "Two moves.", date(2026, 12, 1),
                      opportunity_crm_id=deal)  # fmt: skip


# ----------------------------------------------------------------------------- Salesforce


@pytest.fixture(scope="module")
def salesforce() -> Iterator[Sandbox]:
    with running_salesforce(ORG) as running:
        yield running


@pytest.fixture
def org(salesforce: Sandbox) -> Iterator[Sandbox]:
    salesforce.clock.set(datetime.combine(ORG.as_of + timedelta(days=3), time(12), UTC))
    yield salesforce
    assert salesforce.info is not None
    reset_salesforce(salesforce.info)


def _sf_connector(org: Sandbox, **options: Any) -> SalesforceConnector:
    info = org.info
    assert info is not None
    config = SalesforceConfig(
        auth=_auth(info, "client_credentials"), login_url=info.salesforce_url,
        instance_url=info.salesforce_url, ca_bundle=info.ca_bundle, retry=FAST, **options,
    )  # fmt: skip
    return SalesforceConnector(config, clock=org.clock.now, sleep=lambda _: None)


def _owner_and_deal(org: Sandbox) -> tuple[str, str]:
    rows = org.salesforce_state.records
    users = rows.rows("User", include_deleted=False)
    owner = next(str(u["Id"]) for u in users if u["ManagerId"] and u["IsActive"])
    deal = next(str(r["Id"]) for r in rows.rows("Opportunity", include_deleted=False))
    return owner, deal


def _sf_task(crm: SalesforceConnector, key: str, owner: str, deal: str | None = None) -> str:
    (result,) = crm.write_tasks([_task(key, owner, deal)])
    assert result.crm_id is not None
    return result.crm_id


def _notifications(org: Sandbox) -> list[dict[str, Any]]:
    """The fake org's sent notifications, read through its admin endpoint over HTTPS."""
    assert org.info is not None
    answer = trusted_session(org.info).get(f"{org.info.salesforce_url}/__sandbox/notifications")
    answer.raise_for_status()
    return list(answer.json()["notifications"])


def test_salesforce_notifies_the_assignee_about_the_deal_or_else_the_task(org: Sandbox):
    owner, deal = _owner_and_deal(org)
    crm = _sf_connector(org)
    on_deal, on_task = _sf_task(crm, "sf-1", owner, deal), _sf_task(crm, "sf-2", owner)
    alerts = [_alert("a-1", owner, on_deal, deal), _alert("a-2", owner, on_task)]

    results = SalesforceAlerts(crm.client).send(alerts)

    assert [(r.key, r.sent, r.error) for r in results] == [("a-1", True, None), ("a-2", True, None)]
    sent = _notifications(org)
    assert [(n["recipientIds"], n["title"], n["targetId"]) for n in sent] == [
        ([owner], "Deal slipped (a-1)", deal),
        ([owner], "Deal slipped (a-2)", on_task),
    ]
    assert {n["customNotifTypeId"][:3] for n in sent} == {"0ML"}


def test_salesforce_refuses_an_unknown_recipient_and_a_missing_target_alone(org: Sandbox):
    owner, deal = _owner_and_deal(org)
    crm = _sf_connector(org)
    task = _sf_task(crm, "sf-3", owner, deal)
    nobody, no_deal = make_id("005", 999_999), make_id("006", 999_999)
    alerts = [_alert("ok", owner, task, deal), _alert("who", nobody, task, deal),
              _alert("where", owner, task, no_deal)]  # fmt: skip

    ok, who, where = SalesforceAlerts(crm.client).send(alerts)

    outcomes = [(r.sent, r.retryable) for r in (ok, who, where)]
    assert outcomes == [(True, False), (False, False), (False, False)]
    assert "recipientIds" in str(who.error)
    assert "targetId" in str(where.error)
    assert [n["title"] for n in _notifications(org)] == ["Deal slipped (ok)"]


def test_salesforce_sends_200_inputs_per_call_and_looks_the_type_up_once(org: Sandbox):
    owner, deal = _owner_and_deal(org)
    crm = _sf_connector(org)
    task = _sf_task(crm, "sf-4", owner, deal)
    sender = SalesforceAlerts(crm.client)
    org.salesforce_meter.reset()

    first = sender.send([_alert(f"bulk-{n}", owner, task, deal) for n in range(201)])
    second = sender.send([_alert("one-more", owner, task, deal)])

    assert all(result.sent for result in [*first, *second])
    assert org.salesforce_meter.calls(SF_SEND) == 3
    assert org.salesforce_meter.calls("GET query") == 1
    assert len(org.salesforce_state.notifications.sent()) == 202


def test_salesforce_past_the_hourly_limit_alerts_wait_for_the_next_hour(org: Sandbox):
    owner, deal = _owner_and_deal(org)
    crm = _sf_connector(org)
    task = _sf_task(crm, "sf-5", owner, deal)
    sender, log = SalesforceAlerts(crm.client), org.salesforce_state.notifications
    log.hourly_limit = 2
    try:
        results = sender.send([_alert(f"hour-{n}", owner, task, deal) for n in range(3)])
        org.clock.advance(timedelta(hours=1))
        (later,) = sender.send([_alert("hour-2", owner, task, deal)])
    finally:
        log.hourly_limit = 10_000

    assert [r.sent for r in results] == [True, True, False]
    assert results[2].retryable
    assert str(results[2].error).startswith("LIMIT_EXCEEDED")
    assert later.sent


def test_salesforce_without_the_notification_type_fails_every_alert_for_good(org: Sandbox):
    owner, deal = _owner_and_deal(org)
    crm = _sf_connector(org, notification_type="no_such_type")
    task = _sf_task(crm, "sf-6", owner, deal)

    (result,) = SalesforceAlerts(crm.client).send([_alert("typeless", owner, task, deal)])

    assert (result.sent, result.retryable) == (False, False)
    assert "no_such_type" in str(result.error)
    assert org.salesforce_meter.calls(SF_SEND) == 0


@pytest.mark.parametrize("faults", LOST_ANSWERS, ids=["5xx", "dropped"])
def test_salesforce_an_answer_lost_after_sending_is_unknown_and_not_resent(
    org: Sandbox, faults: FaultConfig
):
    owner, deal = _owner_and_deal(org)
    crm = _sf_connector(org)
    task = _sf_task(crm, "sf-7", owner, deal)
    sender = SalesforceAlerts(crm.client)
    sender.notification_type_id()
    org.salesforce_meter.reset()
    org.salesforce_faults.configure(faults)

    (result,) = sender.send([_alert("lost", owner, task, deal)])
    org.salesforce_faults.configure(FaultConfig())

    assert (result.sent, result.retryable) == (False, False)
    assert str(result.error).startswith(UNKNOWN_OUTCOME)
    assert org.salesforce_meter.calls(SF_SEND) == 1
    dropped = faults.drop_rate > 0  # the org handled it; only the answer was lost
    assert len(org.salesforce_state.notifications.sent()) == (1 if dropped else 0)


# ----------------------------------------------------------------------------- HubSpot


@pytest.fixture(scope="module")
def hubspot() -> Iterator[Sandbox]:
    with running_hubspot(ORG) as running:
        yield running


@pytest.fixture
def portal(hubspot: Sandbox) -> Iterator[Portal]:
    yield sandbox_portal(hubspot)
    assert hubspot.info is not None
    reset_hubspot(hubspot.info.hubspot_url)


def _hs_people(portal: Portal) -> tuple[str, str]:
    owner = sorted(o.id for o in portal.state.owners.values() if not o.archived)[0]
    live = [d for d in portal.state.objects["deals"].values() if d.archived_ms is None]
    return owner, str(min(d.id for d in live))


def _hs_task(crm: HubSpotConnector, key: str, owner: str, deal: str | None = None) -> str:
    (result,) = crm.write_tasks([_task(key, owner, deal)])
    assert result.crm_id is not None
    return result.crm_id


def _note(crm: HubSpotConnector, note_id: str) -> dict[str, Any]:
    props = ["hs_note_body", "hubspot_owner_id", "hs_timestamp"]
    answer = hubspot_api.batch_read(crm.client, "notes", [note_id], properties=props)
    return dict(answer["results"][0]["properties"])


def _linked(crm: HubSpotConnector, note_id: str, to_type: str) -> list[tuple[str, int]]:
    """(id, association type id) of what a note is associated with, via v4 through the client."""

    def send(apis: Apis) -> Any:
        return apis.associations.get_page(
            "notes", to_type, {"inputs": [{"id": note_id}]}, _preload_content=False
        )

    answer = crm.client.call("POST /crm/v4/associations/{objectType}/{toObjectType}/batch/read",
                             send)  # fmt: skip
    links = answer["results"][0]["to"] if answer.get("results") else []
    return [(str(link["toObjectId"]), link["associationTypes"][0]["typeId"]) for link in links]


def test_hubspot_notes_go_on_the_deal_or_else_on_the_task_owned_by_the_assignee(portal: Portal):
    owner, deal = _hs_people(portal)
    crm = connector(portal)
    on_deal, on_task = _hs_task(crm, "hs-1", owner, deal), _hs_task(crm, "hs-2", owner)
    alerts = [_alert("n-1", owner, on_deal, deal), _alert("n-2", owner, on_task)]

    first, second = HubSpotAlerts(crm.client, portal.clock.now).send(alerts)

    assert (first.sent, second.sent) == (True, True)
    assert first.crm_id is not None
    assert second.crm_id is not None
    note = _note(crm, first.crm_id)
    assert note["hubspot_owner_id"] == owner
    assert note["hs_note_body"] == (
        "Deal slipped (n-1)\n\nClose date moved twice.\n\n" + task_marker("n-1")
    )
    assert _linked(crm, first.crm_id, "deals") == [(deal, 214)]
    assert _linked(crm, second.crm_id, "tasks") == [
        (on_task, ASSOCIATION_TYPES[("notes", "tasks")])
    ]
    assert _linked(crm, second.crm_id, "deals") == []


def test_hubspot_refuses_an_unknown_owner_and_a_missing_deal_alone(portal: Portal):
    owner, deal = _hs_people(portal)
    crm = connector(portal)
    task = _hs_task(crm, "hs-3", owner, deal)
    alerts = [_alert("ok", owner, task, deal), _alert("who", "99999999", task, deal),
              _alert("where", owner, task, "1")]  # fmt: skip

    ok, who, where = HubSpotAlerts(crm.client, portal.clock.now).send(alerts)

    outcomes = [(r.sent, r.retryable) for r in (ok, who, where)]
    assert outcomes == [(True, False), (False, False), (False, False)]
    assert "hubspot_owner_id" in str(who.error)
    notes = [n for n in portal.state.objects["notes"].values() if n.archived_ms is None]
    assert [task_marker("ok") in str(n.props.get("hs_note_body")) for n in notes].count(True) == 1


def test_hubspot_a_daily_stop_during_a_one_by_one_resend_keeps_what_was_sent(portal: Portal):
    owner, deal = _hs_people(portal)
    crm = connector(portal)
    task = _hs_task(crm, "hs-7", owner, deal)
    used = crm.client.usage.daily_used()
    assert used is not None
    # The refused batch and one resend fit in the day; the second resend does not.
    portal.faults.configure(FaultConfig(daily_budget=used + 2))
    alerts = [_alert("first", owner, task, deal), _alert("who", "99999999", task, deal),
              _alert("last", owner, task, deal)]  # fmt: skip

    first, who, last = HubSpotAlerts(crm.client, portal.clock.now).send(alerts)

    assert first.sent
    assert [(r.sent, r.retryable) for r in (who, last)] == [(False, True), (False, True)]


def test_hubspot_without_a_note_to_task_type_fails_only_the_task_alerts(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
):
    owner, deal = _hs_people(portal)
    crm = connector(portal)
    task = _hs_task(crm, "hs-4", owner, deal)
    known = {pair: type_id for pair, type_id in ASSOCIATION_TYPES.items() if "tasks" not in pair}
    monkeypatch.setattr(routes_associations, "ASSOCIATION_TYPES", known)

    on_deal, on_task = HubSpotAlerts(crm.client, portal.clock.now).send(
        [_alert("deal", owner, task, deal), _alert("task", owner, task)]
    )

    assert on_deal.sent
    assert (on_task.sent, on_task.retryable) == (False, False)
    assert "no association type from notes to tasks" in str(on_task.error)


def test_hubspot_task_alerts_wait_when_the_type_lookup_gets_no_answer(portal: Portal):
    owner, _ = _hs_people(portal)
    crm = connector(portal)
    task = _hs_task(crm, "hs-6", owner)
    portal.meter.reset()
    portal.faults.configure(FaultConfig(error_rate=1.0))

    (result,) = HubSpotAlerts(crm.client, portal.clock.now).send([_alert("t", owner, task)])
    portal.faults.configure(FaultConfig())

    assert (result.sent, result.retryable) == (False, True)
    assert portal.calls("GET /crm/v4/associations/{objectType}/{toObjectType}/labels") > 1
    assert portal.calls(HS_CREATE) == 0


@pytest.mark.parametrize("faults", LOST_ANSWERS, ids=["5xx", "dropped"])
def test_hubspot_an_answer_lost_after_sending_is_unknown_and_not_resent(
    portal: Portal, faults: FaultConfig
):
    owner, deal = _hs_people(portal)
    crm = connector(portal)
    task = _hs_task(crm, "hs-5", owner, deal)
    portal.meter.reset()
    portal.faults.configure(faults)

    (result,) = HubSpotAlerts(crm.client, portal.clock.now).send(
        [_alert("lost", owner, task, deal)]
    )
    portal.faults.configure(FaultConfig())

    assert (result.sent, result.retryable) == (False, False)
    assert str(result.error).startswith(UNKNOWN_OUTCOME)
    assert portal.calls(HS_CREATE) == 1
