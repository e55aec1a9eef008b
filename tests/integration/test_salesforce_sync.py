"""Salesforce org -> store, end to end: the real client over HTTPS, the pipeline, the store.

Each test runs on SQLite and PostgreSQL. After every sync the store must mirror the
org: every live record present with its key fields, every deleted one marked, nothing
duplicated (the unique keys guarantee it; the counts check it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time as wall
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr
from sqlalchemy import func, select

from connectors.salesforce import (
    ClientCredentialsAuth,
    RetryPolicy,
    SalesforceConfig,
    SalesforceConnector,
)
from sandbox.faults import FaultConfig
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox, SandboxInfo
from service.settings import Settings
from service.store import Store, quarantine
from service.store.connections import add_connection
from service.store.tables import (
    Activity,
    CrmKind,
    Opportunity,
    OpportunityChange,
    QuarantinedRecord,
    Quota,
    Rep,
    SyncState,
)
from service.sync.pipeline import StreamStatus, SyncReport, sync_connection
from tests.integration.salesforce_sandbox import reset, running_salesforce

# The org ends today so a first sync's history window holds it whatever the run date.
ORG = OrgSpec(seed=5, managers=1, reps=4, months=6, deal_scale=0.6, as_of=date.today())  # noqa: DTZ011
FAST_RETRY = RetryPolicy(attempts=8, base_delay_seconds=0.01, max_delay_seconds=0.05)
DRIFTCOACH = Path(sys.executable).with_name("driftcoach")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_salesforce(ORG) as running:
        yield running


@pytest.fixture
def info(sandbox: Sandbox) -> Iterator[SandboxInfo]:
    assert sandbox.info is not None
    sandbox.clock.set(datetime.combine(ORG.as_of + timedelta(days=3), time(12), UTC))
    yield sandbox.info
    reset(sandbox.info)


def _connector(sandbox: Sandbox, **options: Any) -> SalesforceConnector:
    assert sandbox.info is not None
    creds = sandbox.info.salesforce
    config = SalesforceConfig(
        auth=ClientCredentialsAuth(
            client_id=creds.client_id, client_secret=SecretStr(creds.client_secret)
        ),
        login_url=sandbox.info.salesforce_url,
        ca_bundle=sandbox.info.ca_bundle,
        retry=FAST_RETRY,
        **options,
    )
    return SalesforceConnector(config, clock=sandbox.clock.now)


def _connection(store: Store, info: SandboxInfo) -> int:
    with store.unit_of_work() as session:
        options = {"login_url": info.salesforce_url, "client_id": info.salesforce.client_id}
        return add_connection(session, "acme", CrmKind.SALESFORCE, options).id


def _sync(
    store: Store, connection_id: int, sandbox: Sandbox, *, retry: bool = False, **options: Any
) -> SyncReport:
    connector = _connector(sandbox, **options)
    try:
        report = sync_connection(store, connection_id, connector, retry_every_quarantined=retry)
    finally:
        connector.close()
    assert report.status is StreamStatus.SUCCEEDED, report
    return report


# ----------------------------------------------------------------------------- equality


def _org(sandbox: Sandbox, sobject: str) -> dict[str, dict[str, Any]]:
    rows = sandbox.salesforce_state.records.rows(sobject, include_deleted=True)
    return {str(row["Id"]): dict(row) for row in rows}


def _store(store: Store, model: Any) -> dict[str, Any]:
    with store.unit_of_work() as session:
        rows = list(session.scalars(select(model)))
        total = session.scalar(select(func.count()).select_from(model))
    assert total == len({row.crm_id for row in rows})  # no duplicates
    return {row.crm_id: row for row in rows}


def assert_store_mirrors_org(
    store: Store, sandbox: Sandbox, purged: set[str] | None = None
) -> None:
    purged = purged or set()
    users, reps = _org(sandbox, "User"), _store(store, Rep)
    assert set(reps) == set(users)
    for crm_id, user in users.items():
        assert (reps[crm_id].manager_crm_id, reps[crm_id].is_active) == (
            user["ManagerId"],
            user["IsActive"],
        )
    _assert_table(store, Opportunity, _org(sandbox, "Opportunity"), purged, _same_opportunity)
    _assert_table(store, OpportunityChange, _org(sandbox, "OpportunityHistory"), purged, None)
    activities = {**_org(sandbox, "Task"), **_org(sandbox, "Event")}
    _assert_table(store, Activity, activities, purged, None)
    quotas = _store(store, Quota)
    org_quotas = _org(sandbox, "ForecastingQuota")
    assert set(quotas) == set(org_quotas)
    for crm_id, quota in org_quotas.items():
        assert quotas[crm_id].amount == Decimal(str(quota["QuotaAmount"])).quantize(Decimal("0.01"))


def _assert_table(
    store: Store, model: Any, org_rows: dict[str, dict[str, Any]], purged: set[str], same: Any
) -> None:
    stored = _store(store, model)
    live = {crm_id for crm_id, row in org_rows.items() if not row["IsDeleted"]}
    soft_deleted = set(org_rows) - live
    assert {crm_id for crm_id, row in stored.items() if row.deleted_at is None} == live
    deleted = {crm_id for crm_id, row in stored.items() if row.deleted_at is not None}
    assert deleted == soft_deleted | (purged & set(stored))
    assert set(stored) - set(org_rows) <= purged
    if same is not None:
        for crm_id in live:
            same(stored[crm_id], org_rows[crm_id])


def _same_opportunity(stored: Opportunity, row: dict[str, Any]) -> None:
    assert stored.stage == row["StageName"]
    assert stored.owner_crm_id == row["OwnerId"]
    assert stored.close_date == row["CloseDate"]
    assert stored.amount == Decimal(str(row["Amount"])).quantize(Decimal("0.01"))
    expected = "won" if row["IsWon"] else "lost" if row["IsClosed"] else "open"
    assert stored.stage_category == expected


# ----------------------------------------------------------------------------- tests


def test_a_full_sync_then_incremental_syncs_keep_the_store_equal_to_the_org(
    store: Store, sandbox: Sandbox, info: SandboxInfo
):
    connection_id = _connection(store, info)
    _sync(store, connection_id, sandbox)
    assert_store_mirrors_org(store, sandbox)

    records = sandbox.salesforce_state.records
    user = sandbox.salesforce_state.integration_user_id
    sandbox.clock.advance(timedelta(minutes=2))
    opportunity = next(iter(_org(sandbox, "Opportunity")))
    records.update("Opportunity", opportunity, {"StageName": "Closed Won"}, user_id=user)
    records.insert("Task", {"Subject": "New call", "TaskSubtype": "Call"}, user_id=user)
    tasks = sorted(_org(sandbox, "Task"))
    records.delete("Task", tasks[0], user_id=user)
    records.purge("Task", tasks[1])
    event = next(iter(_org(sandbox, "Event")))
    records.purge("Event", event)
    sandbox.clock.advance(timedelta(minutes=2))

    _sync(store, connection_id, sandbox)
    assert_store_mirrors_org(store, sandbox, purged={tasks[1], event})
    with store.unit_of_work() as session:
        won = session.scalars(select(Opportunity).where(Opportunity.crm_id == opportunity)).one()
    assert won.stage_category == "won"


def test_a_sync_with_no_changes_in_the_org_changes_nothing(
    store: Store, sandbox: Sandbox, info: SandboxInfo
):
    connection_id = _connection(store, info)
    _sync(store, connection_id, sandbox)
    before = {model: _snapshot(store, model) for model in (Rep, Opportunity, Activity)}
    sandbox.clock.advance(timedelta(minutes=5))
    _sync(store, connection_id, sandbox)
    assert {model: _snapshot(store, model) for model in before} == before


def _snapshot(store: Store, model: Any) -> dict[str, tuple[Any, ...]]:
    return {
        crm_id: (row.crm_modified_at, row.deleted_at, row.synced_at)
        for crm_id, row in _store(store, model).items()
    }


def test_a_sync_through_5xx_expiring_tokens_and_dropped_connections_ends_equal(
    store: Store, sandbox: Sandbox, info: SandboxInfo
):
    connection_id = _connection(store, info)
    sandbox.salesforce_faults.configure(
        FaultConfig(error_rate=0.10, token_ttl_calls=50, drop_rate=0.05, seed=3)
    )
    _sync(store, connection_id, sandbox, page_size=200)  # small pages: many calls, many faults
    statuses = sandbox.salesforce_meter.snapshot()["by_status"]
    assert statuses.get("503", 0) > 0
    assert statuses.get("401", 0) > 0
    assert_store_mirrors_org(store, sandbox)


def _cli_connection(
    store: Store, settings: Settings, sandbox: Sandbox, info: SandboxInfo
) -> tuple[int, dict[str, str]]:
    """A connection to the sandbox and the environment ``driftcoach sync`` runs it in,
    committing every page (so a run can be caught mid-way whatever the machine's speed)."""
    with store.unit_of_work() as session:
        options = {
            "login_url": info.salesforce_url,
            "client_id": info.salesforce.client_id,
            "ca_bundle": str(info.ca_bundle),
            "page_size": 200,
        }
        connection_id = add_connection(session, "acme", CrmKind.SALESFORCE, options).id
    sandbox.clock.reset()  # the CLI's connector reads the real clock
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTCOACH_")},
        "DRIFTCOACH_DATABASE_URL": settings.database_url,
        "DRIFTCOACH_SALESFORCE__CLIENT_SECRET": info.salesforce.client_secret,
        "DRIFTCOACH_LOG_LEVEL": "WARNING",
        "DRIFTCOACH_SYNC_MIN_COMMIT": "1",
    }
    return connection_id, env


def test_a_sync_killed_mid_run_resumes_and_ends_equal_without_duplicates(
    store: Store, settings: Settings, sandbox: Sandbox, info: SandboxInfo, tmp_path: Path
):
    connection_id, env = _cli_connection(store, settings, sandbox, info)
    sandbox.salesforce_faults.configure(FaultConfig(latency_ms=30))  # slow enough to kill
    first = subprocess.Popen([str(DRIFTCOACH), "sync"], env=env, cwd=tmp_path)
    _wait_for_committed_progress(store, connection_id)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert _running_streams(store, connection_id)  # it really died mid-run

    sandbox.salesforce_faults.configure(FaultConfig())
    second = subprocess.run(
        [str(DRIFTCOACH), "sync"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr + second.stdout
    assert_store_mirrors_org(store, sandbox)


def _wait_for_committed_progress(store: Store, connection_id: int) -> None:
    deadline = wall.monotonic() + 120
    while wall.monotonic() < deadline:
        with store.unit_of_work() as session:
            committed = session.scalar(
                select(func.count())
                .select_from(Activity)
                .where(Activity.connection_id == connection_id)
            )
        if committed:
            return
        wall.sleep(0.2)
    raise AssertionError("the first sync never committed any activity")


def _running_streams(store: Store, connection_id: int) -> list[str]:
    with store.unit_of_work() as session:
        return list(
            session.scalars(
                select(SyncState.stream).where(
                    SyncState.connection_id == connection_id, SyncState.status == "running"
                )
            )
        )


def test_a_nul_byte_in_crm_text_is_stored_without_it_and_the_stream_goes_on(
    store: Store, sandbox: Sandbox, info: SandboxInfo
):
    """PostgreSQL refuses NUL in text (the stream failed on every run); SQLite kept the
    text only up to it. Both now store the text without it, and later changes arrive."""
    connection_id = _connection(store, info)
    _sync(store, connection_id, sandbox)
    records = sandbox.salesforce_state.records
    user = sandbox.salesforce_state.integration_user_id
    sandbox.clock.advance(timedelta(minutes=2))
    poisoned, later = sorted(_org(sandbox, "Opportunity"))[:2]
    records.update("Opportunity", poisoned, {"Name": "nul\x00byte deal"}, user_id=user)
    task = records.insert("Task", {"Subject": "call\x00 back", "TaskSubtype": "Call"}, user_id=user)
    _sync(store, connection_id, sandbox)

    sandbox.clock.advance(timedelta(minutes=2))
    records.update("Opportunity", later, {"StageName": "Closed Won"}, user_id=user)
    _sync(store, connection_id, sandbox)
    with store.unit_of_work() as session:
        names = dict(session.execute(select(Opportunity.crm_id, Opportunity.name)).all())
        stages = dict(session.execute(select(Opportunity.crm_id, Opportunity.stage)).all())
        subject = session.scalar(select(Activity.subject).where(Activity.crm_id == task))
    assert names[poisoned] == "nulbyte deal"
    assert subject == "call back"
    assert stages[later] == "Closed Won"


def test_a_record_the_store_cannot_hold_is_held_retried_and_stored_once_fixed(
    store: Store, sandbox: Sandbox, info: SandboxInfo
):
    """A call disposition longer than the store's column: PostgreSQL's batch cast cut it
    without a word, SQLite kept it whole. Now the task is held back on both, the stream
    and later syncs go on, a fix in the CRM stores it, and one deleted in the CRM is
    released as gone."""
    connection_id = _connection(store, info)
    _sync(store, connection_id, sandbox)
    records = sandbox.salesforce_state.records
    user = sandbox.salesforce_state.integration_user_id
    sandbox.clock.advance(timedelta(minutes=2))
    odd = {"Subject": "odd call", "TaskSubtype": "Call", "CallDisposition": "D" * 300}
    fixed, deleted = (records.insert("Task", odd, user_id=user) for _ in range(2))
    fine = records.insert("Task", {"Subject": "fine call", "TaskSubtype": "Call"}, user_id=user)
    report = _sync(store, connection_id, sandbox)

    tasks = report.stream("tasks")
    assert (tasks.status, tasks.counts.records_quarantined) == (StreamStatus.SUCCEEDED, 2)
    assert report.held == {"tasks": 2}
    with store.unit_of_work() as session:
        held = {entry.crm_id: entry.reason for entry in quarantine.listing(session)}
        stored = set(session.scalars(select(Activity.crm_id)))
    reason = "outcome: 300 characters, more than the 255 its column holds"
    assert held == {fixed: reason, deleted: reason}
    assert fine in stored
    assert fixed not in stored

    sandbox.clock.advance(timedelta(minutes=2))
    records.update("Task", fixed, {"CallDisposition": "Left voicemail"}, user_id=user)
    records.delete("Task", deleted, user_id=user)
    report = _sync(store, connection_id, sandbox, retry=True)

    assert report.held == {}
    with store.unit_of_work() as session:
        outcome = session.scalar(select(Activity.outcome).where(Activity.crm_id == fixed))
        resolutions = dict(
            session.execute(select(QuarantinedRecord.crm_id, QuarantinedRecord.resolution)).all()
        )
    assert outcome == "Left voicemail"
    # The deleted one came back through queryAll, still too long: only its end counts.
    assert resolutions == {fixed: "stored", deleted: "gone"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_syncs_started_together_on_sqlite_both_end_well_and_the_store_is_whole(
    store: Store, settings: Settings, sandbox: Sandbox, info: SandboxInfo, tmp_path: Path
):
    """The second used to die at once with a 'database is locked' traceback: its first
    transaction read, then wrote, and SQLite refuses such an upgrade without waiting."""
    _, env = _cli_connection(store, settings, sandbox, info)
    sandbox.salesforce_faults.configure(FaultConfig(latency_ms=10))
    syncs = [
        subprocess.Popen(
            [str(DRIFTCOACH), "sync"],
            env=env,
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [sync.communicate(timeout=300) for sync in syncs]
    sandbox.salesforce_faults.configure(FaultConfig())
    for sync, (out, err) in zip(syncs, outputs, strict=True):
        assert sync.returncode == 0, out + err
        assert "Traceback" not in err
    assert_store_mirrors_org(store, sandbox)


def test_a_ca_bundle_that_does_not_match_fails_the_run_at_once_without_retries(
    store: Store, sandbox: Sandbox, info: SandboxInfo, tmp_path: Path
):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    config = SalesforceConfig(
        auth=ClientCredentialsAuth(
            client_id=info.salesforce.client_id,
            client_secret=SecretStr(info.salesforce.client_secret),
        ),
        login_url=info.salesforce_url,
        ca_bundle=other_ca,
        retry=RetryPolicy(attempts=8, base_delay_seconds=0.5, max_delay_seconds=2.0),
    )
    connector = SalesforceConnector(config, clock=sandbox.clock.now)
    try:
        report = sync_connection(store, _connection(store, info), connector)
    finally:
        connector.close()
    assert report.status is StreamStatus.FAILED
    assert all("CERTIFICATE_VERIFY_FAILED" in (s.error or "") for s in report.streams)
    assert report.usage is not None
    assert report.usage.retries == 0  # eight tries with backoff per stream took 20 s and more
