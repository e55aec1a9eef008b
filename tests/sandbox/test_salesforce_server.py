"""The fake Salesforce through the real simple-salesforce client over real HTTPS sockets."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sandbox.clock import SandboxClock
from sandbox.faults import FaultConfig
from sandbox.org import OrgSpec, generate_org
from sandbox.runner import Sandbox, SandboxInfo, SandboxOptions
from sandbox.salesforce import seed
from sandbox.salesforce.state import SalesforceState
from tests.integration.salesforce_sandbox import reset, running_salesforce, trusted_session

SMALL_ORG = OrgSpec(seed=11, managers=1, reps=4, months=3, deal_scale=0.5)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_salesforce(SMALL_ORG) as running:
        yield running


@pytest.fixture
def info(sandbox: Sandbox) -> Iterator[SandboxInfo]:
    assert sandbox.info is not None
    yield sandbox.info
    # Each test leaves the org as it was loaded, with no faults and a clean meter.
    reset(sandbox.info)


def _token(info: SandboxInfo, **form: str) -> requests.Response:
    return trusted_session(info).post(f"{info.salesforce_url}/services/oauth2/token", data=form)


def _sobject(sf: Salesforce, name: str) -> SFType:
    """``sf.Task`` with the type mypy cannot infer from simple-salesforce's __getattr__."""
    return cast(SFType, getattr(sf, name))


def _restful(sf: Salesforce, path: str, **kwargs: Any) -> Any:
    return sf.restful(path, **kwargs)


def _error_code(raised: pytest.ExceptionInfo[SalesforceError]) -> str:
    content: Any = raised.value.content
    return str(content[0]["errorCode"])


def _client(info: SandboxInfo) -> Salesforce:
    grant = _token(
        info,
        grant_type="client_credentials",
        client_id=info.salesforce.client_id,
        client_secret=info.salesforce.client_secret,
    ).json()
    return Salesforce(
        instance_url=grant["instance_url"],
        session_id=grant["access_token"],
        session=trusted_session(info),
    )


def test_client_credentials_password_and_refresh_grants_issue_working_tokens(info: SandboxInfo):
    creds = info.salesforce
    grants = [
        {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
        {
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": creds.password + creds.security_token,
        },
        {
            "grant_type": "refresh_token",
            "client_id": creds.client_id,
            "refresh_token": creds.refresh_token,
        },
    ]
    for form in grants:
        body = _token(info, **form).json()
        assert body["instance_url"] == info.salesforce_url
        assert body["token_type"] == "Bearer"
        sf = Salesforce(
            instance_url=body["instance_url"],
            session_id=body["access_token"],
            session=trusted_session(info),
        )
        assert sf.query("SELECT COUNT() FROM User")["totalSize"] > 0


def test_bad_credentials_get_oauth_errors(info: SandboxInfo):
    creds = info.salesforce
    wrong_secret = _token(
        info, grant_type="client_credentials", client_id=creds.client_id, client_secret="nope"
    )
    assert wrong_secret.status_code == 400
    assert wrong_secret.json()["error"] == "invalid_client"
    wrong_password = _token(
        info,
        grant_type="password",
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        username=creds.username,
        password="guess",
    )
    assert wrong_password.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }
    assert _token(info, grant_type="magic").json()["error"] == "unsupported_grant_type"


def test_versions_are_listed_without_authentication(info: SandboxInfo):
    versions = trusted_session(info).get(f"{info.salesforce_url}/services/data").json()
    assert {"label", "url", "version"} <= set(versions[0])
    assert any(v["version"] == "59.0" for v in versions)


def test_query_nests_relationship_fields(info: SandboxInfo):
    sf = _client(info)
    result = sf.query(
        "SELECT Id, Name, Owner.Name, Owner.Manager.Name FROM Opportunity"
        " ORDER BY CreatedDate LIMIT 3"
    )
    assert result["done"] is True
    record = result["records"][0]
    assert record["attributes"]["type"] == "Opportunity"
    assert record["Id"].startswith("006")
    assert len(record["Id"]) == 18
    assert record["Owner"]["attributes"]["type"] == "User"
    assert record["Owner"]["Name"]
    assert record["Owner"]["Manager"]["Name"]


def test_query_all_pages_through_more_than_two_thousand_rows(sandbox: Sandbox, info: SandboxInfo):
    expected = sandbox.salesforce_state.records.count("Task")
    assert expected > 2_000
    sf = _client(info)
    result = sf.query_all("SELECT Id, SystemModstamp FROM Task ORDER BY SystemModstamp, Id")
    assert result["totalSize"] == expected
    ids = [record["Id"] for record in result["records"]]
    assert len(ids) == len(set(ids)) == expected
    pages = math.ceil(expected / 2_000)
    assert sandbox.salesforce_meter.calls("GET query") == 1
    assert sandbox.salesforce_meter.calls("GET query more") == pages - 1


def test_batch_size_header_is_honoured_within_its_bounds(info: SandboxInfo):
    sf = _client(info)
    small = sf.query("SELECT Id FROM Task", headers={"Sforce-Query-Options": "batchSize=300"})
    assert len(small["records"]) == 300
    assert small["done"] is False
    assert small["nextRecordsUrl"].startswith("/services/data/v")
    tiny = sf.query("SELECT Id FROM Task", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200  # Salesforce's minimum batch


def test_deleted_rows_are_visible_only_to_query_all(info: SandboxInfo):
    sf = _client(info)
    task_id = sf.query("SELECT Id FROM Task LIMIT 1")["records"][0]["Id"]
    _sobject(sf, "Task").delete(task_id)
    soql = f"SELECT Id, IsDeleted FROM Task WHERE Id = '{task_id}'"
    assert sf.query(soql)["totalSize"] == 0
    found = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in found] == [(task_id, True)]
    with pytest.raises(SalesforceResourceNotFound):
        _sobject(sf, "Task").get(task_id)


def test_create_read_update_and_automatic_opportunity_history(info: SandboxInfo):
    sf = _client(info)
    owner = sf.query("SELECT Id FROM User WHERE IsActive = true LIMIT 1")["records"][0]["Id"]
    created = _sobject(sf, "Opportunity").create(
        {
            "Name": "Sandbox deal",
            "StageName": "Prospecting",
            "CloseDate": "2026-12-31",
            "Amount": 1200.5,
            "OwnerId": owner,
        }
    )
    assert created["success"] is True
    assert created["id"].startswith("006")
    _sobject(sf, "Opportunity").update(created["id"], {"StageName": "Closed Won"})
    record = _sobject(sf, "Opportunity").get(created["id"])
    assert (record["IsClosed"], record["IsWon"], record["Probability"]) == (True, True, 100)
    history = sf.query(
        "SELECT StageName, Amount FROM OpportunityHistory"
        f" WHERE OpportunityId = '{created['id']}' ORDER BY CreatedDate"
    )["records"]
    assert [h["StageName"] for h in history] == ["Prospecting", "Closed Won"]
    assert history[0]["Amount"] == 1200.5


def test_sobject_collections_report_each_item_and_honour_all_or_none(info: SandboxInfo):
    sf = _client(info)
    good = {"attributes": {"type": "Task"}, "Subject": "Coach on calls"}
    bad = {"attributes": {"type": "Task"}, "NoSuchField__c": "x"}
    results = _restful(
        sf, "composite/sobjects", method="POST", json={"allOrNone": False, "records": [good, bad]}
    )
    assert [r["success"] for r in results] == [True, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    before = sf.query("SELECT COUNT() FROM Task")["totalSize"]
    rolled = _restful(
        sf, "composite/sobjects", method="POST", json={"allOrNone": True, "records": [good, bad]}
    )
    assert [r["success"] for r in rolled] == [False, False]
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == before
    with pytest.raises(SalesforceMalformedRequest):
        _restful(sf, "composite/sobjects", method="POST", json={"records": [good] * 201})


def test_stage_metadata_is_queryable_from_opportunity_stage(info: SandboxInfo):
    stages = _client(info).query(
        "SELECT ApiName, IsClosed, IsWon, DefaultProbability FROM OpportunityStage"
        " WHERE IsActive = true ORDER BY SortOrder"
    )["records"]
    by_name = {stage["ApiName"]: stage for stage in stages}
    assert by_name["Closed Won"]["IsWon"] is True
    assert by_name["Closed Lost"]["IsClosed"] is True
    assert by_name["Closed Lost"]["IsWon"] is False
    assert by_name["Prospecting"]["DefaultProbability"] == 10


def test_describe_lists_fields_and_picklists(info: SandboxInfo):
    described = _sobject(_client(info), "Opportunity").describe()
    fields = {field["name"]: field for field in described["fields"]}
    assert described["keyPrefix"] == "006"
    assert "Closed Won" in [value["value"] for value in fields["StageName"]["picklistValues"]]
    assert fields["OwnerId"]["referenceTo"] == ["User"]


def test_limit_info_header_is_parsed_into_api_usage(info: SandboxInfo):
    sf = _client(info)
    sf.query("SELECT COUNT() FROM User")
    first = sf.api_usage["api-usage"]
    sf.query("SELECT COUNT() FROM User")
    second = sf.api_usage["api-usage"]
    assert second.used == first.used + 1
    assert second.total == 100_000
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000


def test_errors_have_salesforce_codes(info: SandboxInfo):
    sf = _client(info)
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FROM Opportunity WHERE")
    assert _error_code(malformed) == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as invalid:
        sf.query("SELECT Nope__c FROM Opportunity")
    assert _error_code(invalid) == "INVALID_FIELD"
    with pytest.raises(SalesforceResourceNotFound) as missing:
        _sobject(sf, "Opportunity").get("0068W00000000zzZZZ")
    assert _error_code(missing) == "NOT_FOUND"


def test_sessions_expire_with_the_clock_and_after_injected_call_counts(
    sandbox: Sandbox, info: SandboxInfo
):
    sf = _client(info)
    sandbox.clock.advance(timedelta(hours=3))
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT COUNT() FROM User")
    assert _error_code(expired) == "INVALID_SESSION_ID"
    sandbox.salesforce_faults.configure(FaultConfig(token_ttl_calls=2))
    fresh = _client(info)
    fresh.query("SELECT COUNT() FROM User")
    fresh.query("SELECT COUNT() FROM User")
    with pytest.raises(SalesforceExpiredSession):
        fresh.query("SELECT COUNT() FROM User")


def test_the_daily_allocation_runs_out_with_request_limit_exceeded(
    sandbox: Sandbox, info: SandboxInfo
):
    sf = _client(info)
    used = sandbox.salesforce_state.auth.usage()
    sandbox.salesforce_faults.configure(FaultConfig(daily_budget=used + 1))
    sf.query("SELECT COUNT() FROM User")
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT COUNT() FROM User")
    assert _error_code(refused) == "REQUEST_LIMIT_EXCEEDED"


def test_injected_server_errors_reach_the_client(sandbox: Sandbox, info: SandboxInfo):
    sf = _client(info)
    sandbox.salesforce_faults.configure(FaultConfig(error_rate=1.0, error_status=503))
    with pytest.raises(SalesforceGeneralError) as failed:
        sf.query("SELECT COUNT() FROM User")
    assert failed.value.status == 503


def test_get_updated_and_get_deleted_cover_a_window(info: SandboxInfo):
    sf = _client(info)
    start = datetime.now(UTC) - timedelta(minutes=5)
    task = _sobject(sf, "Task").create({"Subject": "Follow up"})
    doomed = _sobject(sf, "Task").create({"Subject": "Mistake"})
    _sobject(sf, "Task").delete(doomed["id"])
    end = datetime.now(UTC) + timedelta(minutes=5)
    assert task["id"] in _sobject(sf, "Task").updated(start, end)["ids"]
    deleted = _sobject(sf, "Task").deleted(start, end)["deletedRecords"]
    assert [d["id"] for d in deleted] == [doomed["id"]]


def test_tree_import_resolves_references_and_keeps_audit_dates(info: SandboxInfo):
    tree: dict[str, Any] = {
        "documents": [
            {
                "records": [
                    {
                        "attributes": {"type": "Account", "referenceId": "AccRef1"},
                        "name": "Émoji 🚀 Ltd",
                    }
                ]
            },
            {
                "records": [
                    {
                        "attributes": {"type": "Opportunity", "referenceId": "OppRef1"},
                        "name": "'; DROP TABLE opportunities; --",
                        "StageName": "Prospecting",
                        "closedate": "2026-12-22T21:16:01Z",
                        "amount": "119373.34",
                        "accountId": "@AccRef1",
                        "CreatedDate": "2025-01-02T03:04:05.000+0000",
                    }
                ]
            },
        ]
    }
    response = trusted_session(info).post(f"{info.salesforce_url}/__sandbox/import", json=tree)
    assert response.status_code == 201, response.text
    opp_id = response.json()["results"][1]["id"]
    record = _client(info).query(
        "SELECT Name, Amount, CloseDate, CreatedDate, Account.Name FROM Opportunity"
        f" WHERE Id = '{opp_id}'"
    )["records"][0]
    assert record["Account"]["Name"] == "Émoji 🚀 Ltd"
    assert record["Name"] == "'; DROP TABLE opportunities; --"
    assert (record["Amount"], record["CloseDate"]) == (119373.34, "2026-12-22")
    assert record["CreatedDate"].startswith("2025-01-02T03:04:05")


def test_purged_records_leave_query_all_but_stay_in_get_deleted(info: SandboxInfo):
    sf = _client(info)
    start = datetime.now(UTC) - timedelta(minutes=5)
    task_id = _sobject(sf, "Task").create({"Subject": "Hard delete me"})["id"]
    purged = trusted_session(info).post(
        f"{info.salesforce_url}/__sandbox/purge", json={"sobject": "Task", "ids": [task_id]}
    )
    assert purged.json() == {"purged": [task_id]}
    soql = f"SELECT Id FROM Task WHERE Id = '{task_id}'"
    assert sf.query_all(soql, include_deleted=True)["totalSize"] == 0
    end = datetime.now(UTC) + timedelta(minutes=5)
    deleted = _sobject(sf, "Task").deleted(start, end)["deletedRecords"]
    assert [d["id"] for d in deleted] == [task_id]


def test_sobject_collections_update_several_records_in_one_call(info: SandboxInfo):
    sf = _client(info)
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Task LIMIT 3")["records"]]
    records = [{"attributes": {"type": "Task"}, "Id": i, "Status": "Completed"} for i in ids]
    records.append({"attributes": {"type": "Task"}, "Id": "00T8W00000zzzzzAAA", "Status": "x"})
    results = _restful(sf, "composite/sobjects", method="PATCH", json={"records": records})
    assert [r["success"] for r in results] == [True, True, True, False]
    in_list = ", ".join(f"'{i}'" for i in ids)
    statuses = sf.query(f"SELECT Status, IsClosed FROM Task WHERE Id IN ({in_list})")["records"]
    assert {(s["Status"], s["IsClosed"]) for s in statuses} == {("Completed", True)}


def _org_rows(sandbox: Sandbox) -> list[tuple[str, ...]]:
    """Every seeded record with the values the seed decides (not the start-up time)."""
    rows: list[tuple[str, ...]] = []
    for sobject in ("User", "Opportunity", "OpportunityHistory", "Task", "Event"):
        for row in sandbox.salesforce_state.records.rows(sobject, include_deleted=True):
            if row.get("Username") == "integration@driftcoach.sandbox":
                continue
            rows.append(tuple(f"{k}={v}" for k, v in sorted(row.items()) if k != "AccountId"))
    return rows


def test_same_seed_loads_the_same_org():
    loaded = []
    for _ in range(2):
        sandbox = Sandbox(SandboxOptions(org=SMALL_ORG, placement="split"))
        info = sandbox.start()
        try:
            loaded.append((_org_rows(sandbox), sorted(info.hubspot_ids)))
        finally:
            sandbox.stop()
    assert loaded[0] == loaded[1]
    assert len(loaded[0][0]) > 1_000


def test_an_org_ending_today_has_no_record_stamped_in_the_future():
    org = generate_org(
        OrgSpec(seed=3, managers=1, reps=4, months=3, deal_scale=0.3, as_of=date.today())  # noqa: DTZ011
    )
    state = SalesforceState(SandboxClock())
    seed.load_org(state, org)
    now = state.clock.now()
    for sobject in ("Opportunity", "OpportunityHistory", "Task", "Event"):
        stamps = [
            row["SystemModstamp"] for row in state.records.rows(sobject, include_deleted=True)
        ]
        assert max(stamps) <= now, sobject
