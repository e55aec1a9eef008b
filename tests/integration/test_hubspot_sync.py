"""HubSpot portal -> store, end to end: the real client over HTTP, the pipeline, the store.

Each test runs on SQLite and PostgreSQL. After every sync the store must mirror the
portal: every owner, live deal (with its history) and engagement present with its key
fields, every archived one that was stored marked deleted, nothing duplicated.

Connectors run on the sandbox's clock (see ``hubspot_sandbox``): minutes of waiting on
HubSpot's rate limits cost no wall time, and the sandbox's limiter, on the same clock,
still judges every call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time as wall
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.hubspot.streams import SPECS
from sandbox.faults import FaultConfig
from sandbox.hubspot import HubSpotLimits
from sandbox.hubspot import writes as portal_writes
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox
from service.settings import Settings
from service.store import Store, quarantine
from service.store.connections import add_connection
from service.store.tables import (
    Activity,
    CrmKind,
    Opportunity,
    QuarantinedRecord,
    Rep,
    SyncState,
)
from service.sync.pipeline import StreamStatus, SyncReport, sync_connection
from tests.integration.hubspot_sandbox import (
    T0,
    Portal,
    assert_store_mirrors_portal,
    connector,
    reset,
    running_hubspot,
    sandbox_portal,
    serve_portal,
    synthetic_state,
    touch_all,
)

# Two days back: no seeded stamp lies within the search index's lag of "now".
ORG = OrgSpec(
    seed=5, managers=1, reps=4, months=6, deal_scale=0.6,
    as_of=date.today() - timedelta(days=2),  # noqa: DTZ011 - the org's local "today"
)  # fmt: skip
DRIFTCOACH = Path(sys.executable).with_name("driftcoach")
SETTLED = timedelta(minutes=3)  # past the connector's index lag


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_hubspot(ORG) as running:
        yield running


@pytest.fixture
def portal(sandbox: Sandbox) -> Iterator[Portal]:
    served = sandbox_portal(sandbox)
    yield served
    reset(served.url)


def _managers(sandbox: Sandbox) -> tuple[dict[str, Any], dict[str, str]]:
    """The org's reporting lines as connection options (by team name and email), and the
    manager each owner must end up with."""
    assert sandbox.info is not None
    org, ids = sandbox.info.org, sandbox.info.hubspot_ids
    users = {user.id: user for user in org.users}
    teams = {team.name: users[team.manager_id].email for team in org.teams}
    bosses = {
        user.email: users[user.manager_id].email
        for user in org.users
        if user.role == "Sales Manager" and user.manager_id
    }
    expected = {ids[u.id]: ids[u.manager_id] for u in org.users if u.manager_id in ids}
    return {"team_managers": teams, "owner_managers": bosses}, expected


def _connection(store: Store, portal: Portal, **options: Any) -> int:
    with store.unit_of_work() as session:
        return add_connection(
            session, "acme", CrmKind.HUBSPOT, {"base_url": portal.url, **options}
        ).id


def _sync(
    store: Store, connection_id: int, portal: Portal, *, retry: bool = False, **options: Any
) -> SyncReport:
    hubspot = connector(portal, **options)
    try:
        report = sync_connection(store, connection_id, hubspot, retry_every_quarantined=retry)
    finally:
        hubspot.close()
    assert report.status is StreamStatus.SUCCEEDED, report
    return report


# ----------------------------------------------------------------------------- seeded org


def test_a_full_sync_then_incremental_syncs_keep_the_store_equal_to_the_portal(
    store: Store, sandbox: Sandbox, portal: Portal
):
    options, managers = _managers(sandbox)
    connection_id = _connection(store, portal)
    _sync(store, connection_id, portal, **options)
    assert_store_mirrors_portal(store, portal.state, connection_id, managers)

    state = portal.state
    with state.lock:
        deals = [o for o in state.objects["deals"].values() if o.archived_ms is None]
        portal_writes.update(state, deals[0], {"dealstage": "closedwon"}, "test")
        portal_writes.archive(state, deals[1])
        calls = list(state.objects["calls"].values())
        portal_writes.update(state, calls[0], {"hs_call_title": "Rescheduled"}, "test")
        portal_writes.archive(state, next(iter(state.objects["tasks"].values())))
    owner = deals[2].props["hubspot_owner_id"]
    state.import_object(
        "calls",
        {"hs_timestamp": "2026-01-05T10:00:00.000Z", "hubspot_owner_id": owner},
        created_at=portal.clock.now(),
        associations={"deals": [str(deals[2].id)]},
    )
    portal.clock.advance(SETTLED)

    _sync(store, connection_id, portal, **options)
    assert_store_mirrors_portal(store, state, connection_id, managers)
    with store.unit_of_work() as session:
        won = session.scalars(select(Opportunity).where(Opportunity.crm_id == str(deals[0].id)))
        assert won.one().stage_category == "won"


def test_a_sync_with_no_changes_in_the_portal_changes_nothing(store: Store, portal: Portal):
    connection_id = _connection(store, portal)
    _sync(store, connection_id, portal)
    before = {model: _snapshot(store, model) for model in (Rep, Opportunity, Activity)}
    portal.clock.advance(SETTLED)
    _sync(store, connection_id, portal)
    assert {model: _snapshot(store, model) for model in before} == before


def _snapshot(store: Store, model: Any) -> dict[str, tuple[Any, ...]]:
    with store.unit_of_work() as session:
        return {
            row.crm_id: (row.crm_modified_at, row.deleted_at, row.synced_at)
            for row in session.scalars(select(model))
        }


def test_a_sync_through_429_bursts_server_errors_and_dropped_answers_ends_equal(
    store: Store, portal: Portal
):
    connection_id = _connection(store, portal)
    portal.faults.configure(
        FaultConfig(burst_every=17, burst_length=3, error_rate=0.08, drop_rate=0.04, seed=3)
    )
    _sync(store, connection_id, portal)
    statuses = portal.statuses()
    assert statuses.get("429", 0) > 0
    assert statuses.get("503", 0) > 0
    portal.faults.configure(FaultConfig())
    assert_store_mirrors_portal(store, portal.state, connection_id)


def test_a_sync_killed_mid_run_resumes_and_ends_equal_without_duplicates(
    store: Store, settings: Settings, portal: Portal, tmp_path: Path
):
    connection_id = _connection(store, portal)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTCOACH_")},
        "DRIFTCOACH_DATABASE_URL": settings.database_url,
        "DRIFTCOACH_HUBSPOT__ACCESS_TOKEN": portal.token,
        "DRIFTCOACH_LOG_LEVEL": "WARNING",
        # Commit every page, so the kill lands mid-run whatever the machine's speed.
        "DRIFTCOACH_SYNC_MIN_COMMIT": "1",
    }
    portal.faults.configure(
        FaultConfig(latency_ms=80)
    )  # slow enough to kill, even on a busy machine
    first = subprocess.Popen([str(DRIFTCOACH), "sync"], env=env, cwd=tmp_path)
    _wait_for_committed_activities(store, connection_id)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert _unfinished_streams(store, connection_id)  # it really died mid-run

    portal.faults.configure(FaultConfig())
    second = subprocess.run(
        [str(DRIFTCOACH), "sync"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr + second.stdout
    assert_store_mirrors_portal(store, portal.state, connection_id)


def _wait_for_committed_activities(store: Store, connection_id: int) -> None:
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
        wall.sleep(0.1)
    raise AssertionError("the first sync never committed any activity")


def _unfinished_streams(store: Store, connection_id: int) -> set[str]:
    """Streams the run had not finished: running when killed, or not begun yet (a kill
    between two streams leaves none running)."""
    with store.unit_of_work() as session:
        done = set(
            session.scalars(
                select(SyncState.stream).where(
                    SyncState.connection_id == connection_id, SyncState.status == "succeeded"
                )
            )
        )
    return {spec.stream.name for spec in SPECS} - done


# ----------------------------------------------------------------------------- large portals


def test_25000_deals_changed_between_two_syncs_all_arrive(store: Store):
    with serve_portal(synthetic_state(deals=25_000)) as portal:
        connection_id = _connection(store, portal)
        _sync(store, connection_id, portal)
        portal.clock.advance(timedelta(minutes=1))
        moment = int(portal.clock.now().timestamp() * 1000)
        assert touch_all(portal.state, "deals", moment, dealstage="closedwon") == 25_000
        portal.clock.advance(SETTLED)
        _sync(store, connection_id, portal)
        assert_store_mirrors_portal(store, portal.state, connection_id)
        assert "400" not in portal.statuses()  # never paged past 10,000 results


def test_12000_records_sharing_one_modification_time_are_all_read_every_time(store: Store):
    state = synthetic_state(deals=10, engagements={"calls": 12_000}, stamp=T0)
    with serve_portal(state) as portal:
        connection_id = _connection(store, portal)
        _sync(store, connection_id, portal)
        assert_store_mirrors_portal(store, portal.state, connection_id)

        moment = int(portal.clock.now().timestamp() * 1000)
        touch_all(portal.state, "calls", moment, hs_call_title="Same instant")
        portal.clock.advance(SETTLED)
        _sync(store, connection_id, portal)
        assert_store_mirrors_portal(store, portal.state, connection_id)
        with store.unit_of_work() as session:
            renamed = session.scalar(select(func.count()).where(Activity.subject == "Same instant"))
        assert renamed == 12_000
        assert "400" not in portal.statuses()


def test_50000_engagements_sync_under_hubspots_limits_without_a_single_429(store: Store):
    engagements = {"calls": 20_000, "emails": 15_000, "meetings": 6_000, "tasks": 5_000,
                   "notes": 4_000}  # fmt: skip
    limits = HubSpotLimits(ten_second_budget=100, searches_per_second=5)
    state = synthetic_state(deals=500, engagements=engagements)
    with serve_portal(state, limits) as portal:
        connection_id = _connection(store, portal)
        _sync(store, connection_id, portal)
        assert "429" not in portal.statuses()
        assert sum(engagements.values()) == 50_000
        assert_store_mirrors_portal(store, portal.state, connection_id)


def test_text_longer_than_its_column_is_cut_to_fit_and_the_stream_goes_on(
    store: Store, sandbox: Sandbox, portal: Portal
):
    """HubSpot's text properties run far past the store's columns: PostgreSQL cut them
    without a word, SQLite kept them whole. Free text is cut to fit (ending in an
    ellipsis), NUL characters are dropped, on both backends, and later changes arrive."""
    options, _ = _managers(sandbox)
    connection_id = _connection(store, portal)
    _sync(store, connection_id, portal, **options)
    state = portal.state
    long_name = "Renewal " + "x" * 400
    with state.lock:
        deals = [o for o in state.objects["deals"].values() if o.archived_ms is None]
        portal_writes.update(state, deals[0], {"dealname": long_name}, "test")
        calls = list(state.objects["calls"].values())
        portal_writes.update(state, calls[0], {"hs_call_title": "call\x00 back"}, "test")
    portal.clock.advance(SETTLED)
    _sync(store, connection_id, portal, **options)

    with state.lock:
        portal_writes.update(state, deals[1], {"dealstage": "closedwon"}, "test")
    portal.clock.advance(SETTLED)
    _sync(store, connection_id, portal, **options)
    with store.unit_of_work() as session:
        names = dict(session.execute(select(Opportunity.crm_id, Opportunity.name)).all())
        stages = dict(session.execute(select(Opportunity.crm_id, Opportunity.stage)).all())
        subject = session.scalar(
            select(Activity.subject).where(Activity.crm_id == str(calls[0].id))
        )
    assert names[str(deals[0].id)] == long_name[:254] + "\u2026"
    assert subject == "call back"
    assert stages[str(deals[1].id)] == "closedwon"


def test_deals_and_calls_no_backend_can_hold_are_held_and_stored_once_fixed(
    store: Store, sandbox: Sandbox, portal: Portal
):
    """A close date in year 10000 (the deals stream failed on every run, on both
    backends), an amount of 1e30 (PostgreSQL refused the batch) and a call of 116 days
    in milliseconds past a 32-bit column: each is held back alone, the streams and later
    syncs go on, and a fix in HubSpot stores them and releases their entries."""
    options, _ = _managers(sandbox)
    connection_id = _connection(store, portal)
    _sync(store, connection_id, portal, **options)
    state = portal.state
    with state.lock:
        deals = [o for o in state.objects["deals"].values() if o.archived_ms is None]
        calls = list(state.objects["calls"].values())
        portal_writes.update(state, deals[0], {"closedate": "253402300800000"}, "test")
        portal_writes.update(state, deals[1], {"amount": "1e30"}, "test")
        portal_writes.update(state, calls[0], {"hs_call_duration": "9999999999999"}, "test")
        portal_writes.update(state, deals[2], {"dealstage": "closedwon"}, "test")
    portal.clock.advance(SETTLED)
    report = _sync(store, connection_id, portal, **options)

    # The amount also entered the deal's history: that change is held as well.
    assert report.held == {"deals": 3, "calls": 1}
    with store.unit_of_work() as session:
        held = {(e.entity, e.reread_id): e.reason for e in quarantine.listing(session)}
        stage = session.scalar(
            select(Opportunity.stage).where(Opportunity.crm_id == str(deals[2].id))
        )
    too_much = "amount: 1e+30 does not fit numeric(18,2)"
    assert "year 10000" in held["opportunity", str(deals[0].id)]
    assert held["opportunity", str(deals[1].id)] == too_much
    assert held["opportunity_change", str(deals[1].id)] == too_much
    assert held["activity", str(calls[0].id)] == (
        "duration_seconds: 9999999999 is outside a 32-bit integer"
    )
    assert stage == "closedwon"

    with state.lock:
        portal_writes.update(state, deals[0], {"closedate": "2027-03-31"}, "test")
        portal_writes.update(state, deals[1], {"amount": "125000"}, "test")
        portal_writes.update(state, calls[0], {"hs_call_duration": "600000"}, "test")
    portal.clock.advance(SETTLED)
    report = _sync(store, connection_id, portal, **options)

    # History keeps both bad values for good: the two snapshots holding them stay held
    # and listed (the fixed deals themselves are stored), nothing else.
    assert report.held == {"deals": 2}
    with store.unit_of_work() as session:
        still = sorted((e.entity, e.reread_id) for e in quarantine.listing(session))
    assert still == sorted(
        [("opportunity_change", str(deals[0].id)), ("opportunity_change", str(deals[1].id))]
    )
    with store.unit_of_work() as session:
        amount = session.scalar(
            select(Opportunity.amount).where(Opportunity.crm_id == str(deals[1].id))
        )
        duration = session.scalar(
            select(Activity.duration_seconds).where(Activity.crm_id == str(calls[0].id))
        )
        resolved = session.execute(
            select(QuarantinedRecord.entity, QuarantinedRecord.resolution).where(
                QuarantinedRecord.resolved_at.is_not(None)
            )
        ).all()
    assert (amount, duration) == (Decimal(125000), 600)
    assert sorted(resolved) == [
        ("activity", "stored"),
        ("opportunity", "stored"),
        ("opportunity", "stored"),
    ]
