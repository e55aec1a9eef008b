"""The Salesforce connector against the fake Salesforce, over HTTPS, with the real client."""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from simple_salesforce.api import Salesforce, SFType

from connectors.base import Connector, Stream, SyncStopped
from connectors.records import (
    Activity,
    Checkpoint,
    Deletion,
    Entity,
    Opportunity,
    OpportunityChange,
    Quota,
    Record,
    Rejected,
    Rep,
    TaskIntent,
    TaskPriority,
    task_marker,
)
from connectors.salesforce import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    PasswordAuth,
    RetryPolicy,
    SalesforceAuthError,
    SalesforceConfig,
    SalesforceConnector,
    SessionAuth,
    mapping,
)
from connectors.salesforce.config import AuthConfig
from sandbox.faults import FaultConfig
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox, SandboxInfo
from tests.integration.salesforce_sandbox import reset, running_salesforce, trusted_session

SMALL_ORG = OrgSpec(seed=11, managers=1, reps=4, months=3, deal_scale=0.5)
FAST_RETRY = RetryPolicy(attempts=6, base_delay_seconds=0.01, max_delay_seconds=0.05)
QUERY_ALL = {"Opportunity", "OpportunityHistory", "Task", "Event"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_salesforce(SMALL_ORG) as running:
        yield running


@pytest.fixture
def info(sandbox: Sandbox) -> Iterator[SandboxInfo]:
    assert sandbox.info is not None
    # "Now" is a few days after the seeded org's last day, whatever the date of the run, so
    # the first sync's history_days window always holds the same rows.
    sandbox.clock.set(datetime.combine(SMALL_ORG.as_of + timedelta(days=3), time(12), UTC))
    yield sandbox.info
    # Each test leaves the org as it was loaded, with no faults, a clean meter and clock.
    reset(sandbox.info)


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# ----------------------------------------------------------------------------- helpers


def _grant(info: SandboxInfo) -> dict[str, Any]:
    form = {
        "grant_type": "client_credentials",
        "client_id": info.salesforce.client_id,
        "client_secret": info.salesforce.client_secret,
    }
    body: dict[str, Any] = (
        trusted_session(info).post(f"{info.salesforce_url}/services/oauth2/token", data=form).json()
    )
    return body


def _auth(info: SandboxInfo, method: str, pem: str = "") -> AuthConfig:
    creds = info.salesforce
    if method == "client_credentials":
        return ClientCredentialsAuth(
            client_id=creds.client_id, client_secret=SecretStr(creds.client_secret)
        )
    if method == "password":
        return PasswordAuth(
            client_id=creds.client_id,
            client_secret=SecretStr(creds.client_secret),
            username=creds.username,
            password=SecretStr(creds.password),
            security_token=SecretStr(creds.security_token),
        )
    if method == "jwt_bearer":
        return JwtBearerAuth(
            client_id=creds.client_id, username=creds.username, private_key=SecretStr(pem)
        )
    refresh = method == "session_with_refresh"
    return SessionAuth(
        session_id=SecretStr(_grant(info)["access_token"]),
        refresh_token=SecretStr(creds.refresh_token) if refresh else None,
        client_id=creds.client_id if refresh else None,
    )


def _connector(
    sandbox: Sandbox, auth: AuthConfig | None = None, **settings: Any
) -> SalesforceConnector:
    info = sandbox.info
    assert info is not None
    config = SalesforceConfig(
        auth=auth or _auth(info, "client_credentials"),
        login_url=info.salesforce_url,
        instance_url=info.salesforce_url,
        ca_bundle=info.ca_bundle,
        retry=settings.pop("retry", FAST_RETRY),
        **settings,
    )
    # The sandbox's clock is this org's "now" (tests move it); production uses UTC now.
    return SalesforceConnector(config, clock=sandbox.clock.now, sleep=lambda _: None)


def _stream(connector: Connector, name: str) -> Stream:
    return next(s for s in connector.streams() if s.name == name)


def _read(
    connector: Connector, name: str, cursor: Mapping[str, Any] | None = None
) -> tuple[list[Record], list[Checkpoint]]:
    records: list[Record] = []
    checkpoints: list[Checkpoint] = []
    for item in connector.read(_stream(connector, name), cursor):
        if isinstance(item, Checkpoint):
            checkpoints.append(item)
        else:
            assert not isinstance(item, Rejected), item
            records.append(item)
    return records, checkpoints


def _read_until_stopped(
    connector: SalesforceConnector, name: str, cursor: Mapping[str, Any] | None = None
) -> tuple[list[Record], Checkpoint | None, SyncStopped | None]:
    """Records up to the last checkpoint (what a pipeline commits), the checkpoint, the stop."""
    committed: list[Record] = []
    pending: list[Record] = []
    last: Checkpoint | None = None
    try:
        for item in connector.read(_stream(connector, name), cursor):
            if isinstance(item, Checkpoint):
                committed, pending, last = committed + pending, [], item
            else:
                assert not isinstance(item, Rejected), item
                pending.append(item)
    except SyncStopped as stop:
        return committed, last, stop
    return committed + pending, last, None


def _rows(sandbox: Sandbox, sobject: str, *, deleted: bool = True) -> list[Mapping[str, Any]]:
    return list(sandbox.salesforce_state.records.rows(sobject, include_deleted=deleted))


def _ids(records: Iterable[Record]) -> set[str]:
    return {r.crm_id for r in records if not isinstance(r, Deletion)}


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _sf(info: SandboxInfo) -> Salesforce:
    grant = _grant(info)
    return Salesforce(
        instance_url=grant["instance_url"],
        session_id=grant["access_token"],
        session=trusted_session(info),
    )


def _sobject(sf: Salesforce, name: str) -> SFType:
    return cast(SFType, getattr(sf, name))


def _api_calls(sandbox: Sandbox) -> int:
    return sandbox.salesforce_meter.calls() - sandbox.salesforce_meter.calls("POST oauth token")


def _first_faulty_seed(rate: float, clean_after: int) -> int:
    """A fault seed whose first request is faulted and the next ``clean_after`` are not."""
    for seed in range(10_000):
        draws = random.Random(seed)  # noqa: S311 - mirrors the sandbox's seeded fault RNG
        if draws.random() < rate and all(draws.random() >= rate for _ in range(clean_after)):
            return seed
    raise AssertionError("no such seed")


# ----------------------------------------------------------------------------- auth

METHODS = ["client_credentials", "password", "jwt_bearer", "session_with_refresh"]


@pytest.mark.parametrize("method", METHODS)
def test_every_login_method_reads_and_survives_session_expiry(
    sandbox: Sandbox, info: SandboxInfo, private_key_pem: str, method: str
):
    connector = _connector(sandbox, _auth(info, method, private_key_pem))
    expected = {row["Id"] for row in _rows(sandbox, "User")}
    assert _ids(_read(connector, "users")[0]) == expected
    logins = sandbox.salesforce_meter.calls("POST oauth token")
    # Sessions die after two idle hours: the connector logs in again by itself.
    sandbox.clock.advance(timedelta(hours=2, minutes=5))
    assert _ids(_read(connector, "users")[0]) == expected
    assert sandbox.salesforce_meter.calls("POST oauth token") == logins + 1
    # Two reads, one of them refused once with 401 INVALID_SESSION_ID, then sent again.
    assert sandbox.salesforce_meter.calls("GET query") == 3
    assert sandbox.salesforce_meter.snapshot()["by_status"]["401"] == 1


@pytest.mark.parametrize("method", METHODS)
def test_every_login_method_survives_tokens_that_die_after_a_few_calls(
    sandbox: Sandbox, info: SandboxInfo, private_key_pem: str, method: str
):
    connector = _connector(sandbox, _auth(info, method, private_key_pem), page_size=500)
    sandbox.salesforce_faults.configure(FaultConfig(token_ttl_calls=3))
    records, _ = _read(connector, "tasks")
    assert _ids(records) == {row["Id"] for row in _rows(sandbox, "Task")}
    assert sandbox.salesforce_meter.calls("POST oauth token") >= 3


def test_a_bare_session_that_expires_fails_with_a_clear_error_and_no_secret(
    sandbox: Sandbox, info: SandboxInfo
):
    auth = _auth(info, "session")  # the test logs in; the connector gets the session only
    assert isinstance(auth, SessionAuth)
    connector = _connector(sandbox, auth)
    _read(connector, "users")
    sandbox.clock.advance(timedelta(hours=3))
    with pytest.raises(SalesforceAuthError, match="no refresh token") as raised:
        _read(connector, "users")
    assert auth.session_id.get_secret_value() not in str(raised.value)
    assert sandbox.salesforce_meter.calls("POST oauth token") == 1


# ----------------------------------------------------------------------------- full reads


def _expected(sandbox: Sandbox) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every stream's records as the sandbox holds them, keyed by id, with key fields."""
    roles = {row["Id"]: row["Name"] for row in _rows(sandbox, "UserRole")}
    accounts = {row["Id"]: row["Name"] for row in _rows(sandbox, "Account")}
    kinds = {"Call": "call", "Email": "email"}
    return {
        "users": {
            r["Id"]: (
                *(r["Name"], r["ManagerId"], roles.get(r["UserRoleId"]), r["Department"]),
                *(r["IsActive"], r["CreatedDate"].date()),
            )
            for r in _rows(sandbox, "User")
        },
        "opportunities": {
            r["Id"]: (
                *(r["StageName"], _money(r["Amount"]), r["CloseDate"], r["OwnerId"]),
                *(accounts.get(r["AccountId"]), r["IsDeleted"]),
            )
            for r in _rows(sandbox, "Opportunity")
        },
        "opportunity_history": {
            r["Id"]: (r["OpportunityId"], r["StageName"], _money(r["Amount"]), r["CreatedDate"])
            for r in _rows(sandbox, "OpportunityHistory")
        },
        "tasks": {
            r["Id"]: (kinds.get(r["TaskSubtype"], "task"), r["OwnerId"], r["WhatId"], r["Status"])
            for r in _rows(sandbox, "Task")
        },
        "events": {
            r["Id"]: ("meeting", r["OwnerId"], r["WhatId"], r["StartDateTime"])
            for r in _rows(sandbox, "Event")
        },
        "quotas": {
            r["Id"]: (r["QuotaOwnerId"], r["StartDate"], _money(r["QuotaAmount"]))
            for r in _rows(sandbox, "ForecastingQuota")
        },
    }


def _actual(record: Record) -> tuple[Any, ...]:
    if isinstance(record, Rep):
        return (
            *(record.name, record.manager_crm_id, record.role, record.team),
            *(record.is_active, record.started_on),
        )
    if isinstance(record, Opportunity):
        return (
            *(record.stage, record.amount, record.close_date, record.owner_crm_id),
            *(record.account_name, record.deleted),
        )
    if isinstance(record, OpportunityChange):
        return (record.opportunity_crm_id, record.stage, record.amount, record.changed_at)
    if isinstance(record, Activity):
        moment = record.occurred_at if record.kind == "meeting" else record.status
        return (record.kind.value, record.rep_crm_id, record.opportunity_crm_id, moment)
    assert isinstance(record, Quota)
    return (record.rep_crm_id, record.period_start, record.amount)


def _read_everything(connector: Connector) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every stream through the interface the sync pipeline uses (mypy checks the fit)."""
    read: dict[str, dict[str, tuple[Any, ...]]] = {}
    for stream in connector.streams():
        records, checkpoints = _read(connector, stream.name)
        assert checkpoints, stream.name
        read[stream.name] = {r.crm_id: _actual(r) for r in records if not isinstance(r, Deletion)}
    return read


def test_a_full_read_of_every_stream_equals_the_sandbox(sandbox: Sandbox, info: SandboxInfo):
    assert _read_everything(_connector(sandbox)) == _expected(sandbox)


def test_a_re_read_by_id_yields_what_a_full_read_yields_for_those_ids(
    sandbox: Sandbox, info: SandboxInfo
):
    """How quarantined records are tried again: every stream, 250 ids (two queries), an
    id the org never had left out; a row the mapping cannot read is rejected alone."""
    everything = _read_everything(_connector(sandbox))
    connector = _connector(sandbox)
    for stream in connector.streams():
        wanted = sorted(everything[stream.name])[:250]
        again = list(connector.reread(stream, [*wanted, "00Q000000000000AAA"]))
        assert not any(isinstance(item, Rejected) for item in again), stream.name
        got = {r.crm_id: _actual(r) for r in again if not isinstance(r, (Deletion, Rejected))}
        assert got == {crm_id: everything[stream.name][crm_id] for crm_id in wanted}, stream.name


def test_a_row_the_mapping_cannot_read_is_rejected_alone_and_the_read_goes_on(
    sandbox: Sandbox, info: SandboxInfo, monkeypatch: pytest.MonkeyPatch
):
    tasks = sorted(row["Id"] for row in _rows(sandbox, "Task"))
    broken = tasks[len(tasks) // 2]
    read_task = mapping.map_task

    def map_task(row: Mapping[str, Any]) -> Activity:
        if row["Id"] == broken:
            raise ValueError("year 10000 is out of range")
        return read_task(row)

    monkeypatch.setattr(mapping, "map_task", map_task)
    connector = _connector(sandbox)
    items = [i for i in connector.read(_stream(connector, "tasks"), None)
             if not isinstance(i, Checkpoint)]  # fmt: skip
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert rejected == [Rejected(Entity.ACTIVITY, broken, "ValueError: year 10000 is out of range")]
    assert {i.crm_id for i in items} == set(tasks)


def test_a_first_sync_reads_activity_back_to_history_days_and_reference_data_whole(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox, history_days=7)
    since = sandbox.clock.now().replace(microsecond=0) - timedelta(days=7)
    recent = {row["Id"] for row in _rows(sandbox, "Task") if row["SystemModstamp"] >= since}
    assert 0 < len(recent) < len(_rows(sandbox, "Task"))
    assert _ids(_read(connector, "tasks")[0]) == recent
    # Users hired years ago and never edited since are still reps.
    assert _ids(_read(connector, "users")[0]) == {row["Id"] for row in _rows(sandbox, "User")}


def test_a_qualification_field_the_org_lacks_is_dropped_after_one_describe(
    sandbox: Sandbox, info: SandboxInfo, caplog: pytest.LogCaptureFixture
):
    fields = {"budget_confirmed": "Budget_Confirmed__c", "champion": "Champion__c"}
    connector = _connector(sandbox, qualification_fields=fields)
    records, _ = _read(connector, "opportunities")
    assert len(records) == len(_rows(sandbox, "Opportunity"))
    assert all(
        isinstance(r, Opportunity) and set(r.qualification) == {"budget_confirmed"} for r in records
    )
    assert sandbox.salesforce_meter.calls("GET sobjects */describe") == 1
    assert "Champion__c" in caplog.text


def test_a_full_read_costs_at_most_a_tenth_more_calls_than_the_minimum(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox)
    _read_everything(connector)
    pages = sum(
        max(1, math.ceil(len(_rows(sandbox, sobject, deleted=sobject in QUERY_ALL)) / 2000))
        for sobject in ("User", *QUERY_ALL, "ForecastingQuota")
    )
    minimum = pages + 2  # + OpportunityStage metadata + the org's object list (quotas?)
    used = _api_calls(sandbox)
    print(f"full read: {used} API calls, minimum {minimum}")
    assert used <= 1.1 * minimum
    assert connector.usage().calls == used + 1  # and one login
    assert connector.usage().daily_used == sandbox.salesforce_state.auth.usage()


def test_the_full_read_survives_server_errors_dropped_connections_and_dying_tokens(
    sandbox: Sandbox, info: SandboxInfo, caplog: pytest.LogCaptureFixture
):
    connector = _connector(
        sandbox, page_size=200, retry=FAST_RETRY.model_copy(update={"attempts": 8})
    )
    caplog.set_level(logging.DEBUG)
    sandbox.salesforce_faults.configure(
        FaultConfig(error_rate=0.10, drop_rate=0.05, token_ttl_calls=10, seed=5)
    )
    assert _read_everything(connector) == _expected(sandbox)
    statuses = sandbox.salesforce_meter.snapshot()["by_status"]
    assert statuses.get("503", 0) > 0
    assert connector.usage().retries > 0
    assert sandbox.salesforce_meter.calls("POST oauth token") > 3
    # A lost last page frees its cursor on the server: the read restarted from its checkpoint.
    assert "query cursor lost" in caplog.text
    # Nothing secret reached the logs, however much went wrong.
    assert info.salesforce.client_secret not in caplog.text
    assert "00D8W0000000001!" not in caplog.text  # the sandbox's access tokens


# ----------------------------------------------------------------------------- incremental


def test_an_incremental_read_yields_what_changed_and_deletions_for_purged_ids(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox)
    cursors = {name: _read(connector, name)[1][-1].cursor for name in ("tasks", "opportunities")}
    sf = _sf(info)
    tasks = sorted(_rows(sandbox, "Task"), key=lambda r: r["Id"])
    edited, soft, hard = [t["Id"] for t in tasks[:3]], [t["Id"] for t in tasks[3:5]], tasks[5]["Id"]
    for task_id in edited:
        _sobject(sf, "Task").update(task_id, {"Subject": "Edited"})
    for task_id in soft:
        _sobject(sf, "Task").delete(task_id)
    created = _sobject(sf, "Task").create({"Subject": "New", "OwnerId": tasks[0]["OwnerId"]})["id"]
    opportunity = next(r for r in _rows(sandbox, "Opportunity") if not r["IsClosed"])
    _sobject(sf, "Opportunity").update(opportunity["Id"], {"StageName": "Closed Won"})
    purged = trusted_session(info).post(
        f"{info.salesforce_url}/__sandbox/purge", json={"sobject": "Task", "ids": [hard]}
    )
    assert purged.json() == {"purged": [hard]}
    # Get Deleted works in whole minutes: let the deletions' minute pass.
    sandbox.clock.advance(timedelta(minutes=2))

    fresh = _connector(sandbox)
    records, checkpoints = _read(fresh, "tasks", cursors["tasks"])
    lookback = datetime.fromisoformat(cursors["tasks"]["system_modstamp"]) - timedelta(minutes=5)
    lookback = lookback.replace(microsecond=0)
    rereads = {r["Id"] for r in _rows(sandbox, "Task") if r["SystemModstamp"] >= lookback}
    assert {*edited, *soft, created} <= rereads
    assert _ids(records) == rereads
    assert {r.crm_id for r in records if isinstance(r, Activity) and r.deleted} == set(soft)
    deletions = [r for r in records if isinstance(r, Deletion)]
    assert {d.crm_id for d in deletions} == {*soft, hard}
    assert hard not in _ids(records)
    assert checkpoints[-1].cursor["deleted_until"] > cursors["tasks"]["deleted_until"]

    changed = _read(fresh, "opportunities", cursors["opportunities"])[0]
    won = [r for r in changed if isinstance(r, Opportunity) and r.crm_id == opportunity["Id"]]
    assert [(r.stage, r.stage_category.value, r.closed_at is not None) for r in won] == [
        ("Closed Won", "won", True)
    ]
    # Nothing changed since: a run right after re-reads the lookback window only, and once
    # the lookback has passed no deletion is reported again.
    again, after_again = _read(fresh, "tasks", checkpoints[-1].cursor)
    assert _ids(again) <= rereads
    assert {r.crm_id for r in again if isinstance(r, Deletion)} <= {*soft, hard}
    sandbox.clock.advance(timedelta(minutes=10))
    _, moved = _read(fresh, "tasks", after_again[-1].cursor)
    later, _ = _read(fresh, "tasks", moved[-1].cursor)
    assert not [r for r in later if isinstance(r, Deletion)]


def test_rows_sharing_one_system_modstamp_across_a_page_boundary_are_all_read(
    sandbox: Sandbox, info: SandboxInfo
):
    stamp = sandbox.clock.now().replace(microsecond=0) - timedelta(hours=1)
    owner = _rows(sandbox, "User")[0]["Id"]
    rows = [
        {"Subject": f"Bulk {i}", "OwnerId": owner, "TaskSubtype": "Call", "Status": "Completed"}
        | {"CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp}
        for i in range(2_500)
    ]
    same = set(sandbox.salesforce_state.records.bulk_load("Task", rows, user_id=owner))
    connector = _connector(sandbox, lookback_seconds=0)
    cursor = {"system_modstamp": stamp.isoformat(), "deleted_until": None}
    # A run that commits its first page (2,000 rows, all stamped alike) and then dies...
    stream = connector.read(_stream(connector, "tasks"), cursor)
    first: list[Record] = []
    for item in stream:
        if isinstance(item, Checkpoint):
            checkpoint = item
            break
        assert not isinstance(item, Rejected), item
        first.append(item)
    assert len(first) == 2_000
    assert checkpoint.cursor["system_modstamp"] == stamp.isoformat()
    # ... resumes from that checkpoint and still gets the 500 rows of the same instant.
    resumed, _ = _read(_connector(sandbox, lookback_seconds=0), "tasks", checkpoint.cursor)
    assert same - _ids(first) <= _ids(resumed)
    assert _ids(first) | _ids(resumed) == same


# ----------------------------------------------------------------------------- limits


def test_the_budget_share_stops_the_run_and_its_last_checkpoint_resumes(
    sandbox: Sandbox, info: SandboxInfo
):
    # 0.003% of the 100,000 daily calls: three calls for this run.
    connector = _connector(sandbox, budget_share=0.00003, page_size=200)
    committed, checkpoint, stop = _read_until_stopped(connector, "tasks")
    assert stop is not None
    assert "budget" in stop.reason
    assert checkpoint is not None
    assert len(committed) == 600
    assert _api_calls(sandbox) == 3
    rest, _ = _read(_connector(sandbox), "tasks", checkpoint.cursor)
    assert _ids(committed) | _ids(rest) == {row["Id"] for row in _rows(sandbox, "Task")}


def test_request_limit_exceeded_stops_the_run_and_its_last_checkpoint_resumes(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox, page_size=200)
    # The login, the query, one more page: the fourth request is refused with 403.
    sandbox.salesforce_faults.configure(FaultConfig(burst_every=4, burst_length=1))
    committed, checkpoint, stop = _read_until_stopped(connector, "tasks")
    assert stop is not None
    assert "REQUEST_LIMIT_EXCEEDED" in stop.reason
    assert checkpoint is not None
    assert len(committed) == 400
    sandbox.salesforce_faults.configure(FaultConfig())
    rest, _ = _read(_connector(sandbox), "tasks", checkpoint.cursor)
    assert _ids(committed) | _ids(rest) == {row["Id"] for row in _rows(sandbox, "Task")}


def test_a_run_never_takes_the_org_past_its_daily_allocation(sandbox: Sandbox, info: SandboxInfo):
    connector = _connector(sandbox, budget_share=1.0, page_size=200)
    used = sandbox.salesforce_state.auth.usage()
    sandbox.salesforce_faults.configure(FaultConfig(daily_budget=used + 2))
    committed, _, stop = _read_until_stopped(connector, "tasks")
    assert stop is not None
    assert "used up" in stop.reason
    assert len(committed) == 400
    assert sandbox.salesforce_meter.snapshot()["by_status"] == {"200": 3}


# ----------------------------------------------------------------------------- write-back


def _intents(sandbox: Sandbox, count: int, prefix: str = "k") -> list[TaskIntent]:
    manager = next(r["Id"] for r in _rows(sandbox, "User") if r["ManagerId"] and r["IsActive"])
    deal = _rows(sandbox, "Opportunity")[0]["Id"]
    priorities = list(TaskPriority)
    return [
        TaskIntent(
            key=f"{prefix}-{i}",
            assignee_crm_id=manager,
            subject=f"Coach on call volume ({i})",
            body="Calls dropped 40% over four weeks.",
            due_date=date(2026, 12, 1),
            priority=priorities[i % 3],
            opportunity_crm_id=deal if i % 2 else None,
        )
        for i in range(count)
    ]


def _tasks_by_marker(sandbox: Sandbox, intents: Iterable[TaskIntent]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {intent.key: [] for intent in intents}
    for row in _rows(sandbox, "Task"):
        for key, ids in found.items():
            if task_marker(key) in (row.get("Description") or ""):
                ids.append(row["Id"])
    return found


def test_writing_450_tasks_takes_three_collection_calls(sandbox: Sandbox, info: SandboxInfo):
    intents = _intents(sandbox, 450)
    results = _connector(sandbox).write_tasks(intents)
    assert [r.key for r in results] == [i.key for i in intents]
    assert all(r.ok and not r.already_existed for r in results)
    assert sandbox.salesforce_meter.calls("POST composite sobjects create") == 3
    assert _api_calls(sandbox) == 3
    created = {row["Id"]: row for row in _rows(sandbox, "Task")}
    sample, intent = created[results[1].crm_id or ""], intents[1]
    assert (sample["Subject"], sample["OwnerId"], sample["WhatId"]) == (
        intent.subject,
        intent.assignee_crm_id,
        intent.opportunity_crm_id,
    )
    assert (sample["ActivityDate"], sample["Priority"], sample["Status"]) == (
        date(2026, 12, 1),
        "Normal",
        "Not Started",
    )
    assert sample["TaskSubtype"] == "Task"
    assert sample["Description"] == intent.body + "\n\n" + task_marker(intent.key)
    assert all(len(ids) == 1 for ids in _tasks_by_marker(sandbox, intents).values())


def test_a_create_whose_response_was_lost_is_found_by_its_marker_not_repeated(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox)
    assert connector.write_tasks(_intents(sandbox, 1, prefix="warm"))[0].ok  # logged in
    intents = _intents(sandbox, 250)
    # The first collection call is carried out, but its answer is cut off mid-body.
    seed = _first_faulty_seed(0.05, clean_after=20)
    sandbox.salesforce_faults.configure(FaultConfig(drop_rate=0.05, seed=seed))
    results = connector.write_tasks(intents)
    assert all(r.ok for r in results)
    assert [r.already_existed for r in results] == [True] * 200 + [False] * 50
    assert all(len(ids) == 1 for ids in _tasks_by_marker(sandbox, intents).values())
    by_marker = _tasks_by_marker(sandbox, intents)
    assert [r.crm_id for r in results] == [by_marker[i.key][0] for i in intents]
    assert sandbox.salesforce_meter.calls("POST composite sobjects create") == 3


def test_a_create_refused_with_a_server_error_is_made_once_after_looking(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox)
    assert connector.write_tasks(_intents(sandbox, 1, prefix="warm"))[0].ok
    intents = _intents(sandbox, 30)
    seed = _first_faulty_seed(0.05, clean_after=20)
    sandbox.salesforce_faults.configure(FaultConfig(error_rate=0.05, seed=seed))
    results = connector.write_tasks(intents)
    assert all(r.ok and not r.already_existed for r in results)
    assert all(len(ids) == 1 for ids in _tasks_by_marker(sandbox, intents).values())
    assert sandbox.salesforce_meter.calls("GET queryAll") == 1  # the look before the resend


def test_a_create_that_stays_unknown_is_reported_so_and_its_retry_makes_no_duplicate(
    sandbox: Sandbox, info: SandboxInfo
):
    connector = _connector(sandbox)
    assert connector.write_tasks(_intents(sandbox, 1, prefix="warm"))[0].ok
    intents = _intents(sandbox, 20)
    # Every answer is lost: the create happens, the look for its markers never gets through.
    sandbox.salesforce_faults.configure(FaultConfig(drop_rate=1.0))
    lost = connector.write_tasks(intents)
    assert all(r.retryable and (r.error or "").startswith("outcome unknown") for r in lost)
    sandbox.salesforce_faults.configure(FaultConfig())
    retried = _connector(sandbox).write_tasks(intents, verify_existing=True)
    assert all(r.ok and r.already_existed for r in retried)
    assert all(len(ids) == 1 for ids in _tasks_by_marker(sandbox, intents).values())


def test_verify_existing_adopts_what_an_interrupted_run_created(
    sandbox: Sandbox, info: SandboxInfo
):
    intents = _intents(sandbox, 5)
    first = _connector(sandbox).write_tasks(intents[:3])
    again = _connector(sandbox).write_tasks(intents, verify_existing=True)
    assert [r.already_existed for r in again] == [True, True, True, False, False]
    assert [r.crm_id for r in again[:3]] == [r.crm_id for r in first]
    assert all(len(ids) == 1 for ids in _tasks_by_marker(sandbox, intents).values())


def test_a_task_salesforce_refuses_is_reported_and_the_others_are_created(
    sandbox: Sandbox, info: SandboxInfo
):
    good, bad = _intents(sandbox, 2)
    bad = dataclasses.replace(bad, assignee_crm_id="005000000000000AAA")
    results = _connector(sandbox).write_tasks([good, bad, good])
    assert results[0].ok
    assert results[2] == results[0]  # one task per key, even when asked twice
    assert not results[1].ok
    assert results[1].error is not None
    assert results[1].error.startswith("INVALID_CROSS_REFERENCE_KEY")
    assert results[1].retryable is False
