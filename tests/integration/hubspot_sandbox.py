"""Shared plumbing for tests that run against the sandbox's HubSpot.

Two kinds of portal: a seeded sales org (``running_hubspot``, the whole sandbox with the
org placed in HubSpot) and synthetic portals built object by object (``serve_portal`` on
a ``HubSpotState``) for the large scenarios. Connectors built here run on **the sandbox's
clock**: their pacing reads it and their sleeps advance it, so a sync that waits minutes
on the rate limits takes no wall time, and the sandbox's own limiter, on the same clock,
judges whether the pacing was right.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from connectors.hubspot import HubSpotConfig, HubSpotConnector, PrivateAppAuth, RetryPolicy
from sandbox.clock import SandboxClock
from sandbox.faults import FaultInjector
from sandbox.http import RunningServer
from sandbox.hubspot import HubSpotLimits, HubSpotState, build_hubspot_server
from sandbox.hubspot.model import CrmObject
from sandbox.hubspot.views import live_associations
from sandbox.hubspot.writes import history_of
from sandbox.meter import Meter
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox, SandboxOptions
from service.store import Store
from service.store.tables import Activity, Opportunity, OpportunityChange, Rep

FAST_RETRY = RetryPolicy(
    attempts=8, rate_limit_attempts=20, base_delay_seconds=0.01, max_delay_seconds=0.05
)
ENGAGEMENTS = {"calls": "call", "emails": "email", "meetings": "meeting", "tasks": "task",
               "notes": "note"}  # fmt: skip
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


@dataclass
class Portal:
    """One fake HubSpot being served: its data, clock, meter and faults."""

    state: HubSpotState
    url: str
    token: str
    meter: Meter = field(default_factory=Meter)
    faults: FaultInjector = field(default_factory=FaultInjector)

    @property
    def clock(self) -> SandboxClock:
        return self.state.clock

    def statuses(self) -> dict[str, int]:
        return dict(self.meter.snapshot()["by_status"])

    def calls(self, endpoint: str) -> int:
        return self.meter.calls(endpoint)


def sandbox_portal(sandbox: Sandbox) -> Portal:
    """The portal of a running sandbox (the seeded org's HubSpot half)."""
    assert sandbox.info is not None
    return Portal(
        sandbox.hubspot_state,
        sandbox.info.hubspot_url,
        sandbox.info.hubspot.access_token,
        sandbox.hubspot_meter,
        sandbox.hubspot_faults,
    )


@contextmanager
def running_hubspot(org: OrgSpec, limits: HubSpotLimits | None = None) -> Iterator[Sandbox]:
    """A sandbox holding ``org`` in HubSpot only, for a test module."""
    options = SandboxOptions(org=org, placement="hubspot", hubspot_limits=limits or HubSpotLimits())
    sandbox = Sandbox(options)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@contextmanager
def serve_portal(state: HubSpotState, limits: HubSpotLimits | None = None) -> Iterator[Portal]:
    """Serve a synthetic portal on a free port until the block ends."""
    meter, faults = Meter(), FaultInjector()
    server = build_hubspot_server(state, limits=limits, meter=meter, faults=faults)
    running = RunningServer(server)
    try:
        yield Portal(state, running.url, state.issue_private_app_token(), meter, faults)
    finally:
        running.stop()


def reset(url: str) -> None:
    """Back to the data as served first, no faults, a zero meter, the real clock."""
    httpx.post(f"{url}/__sandbox/reset").raise_for_status()


def connector(portal: Portal, **options: Any) -> HubSpotConnector:
    """A private-app connector on the portal's clock (see the module doc)."""
    config = HubSpotConfig(
        auth=options.pop("auth", None) or PrivateAppAuth(access_token=SecretStr(portal.token)),
        base_url=portal.url,
        retry=options.pop("retry", FAST_RETRY),
        **options,
    )
    return HubSpotConnector(config, **on_clock(portal.clock))


def on_clock(clock: SandboxClock) -> dict[str, Any]:
    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return {"clock": clock.now, "timer": lambda: clock.now().timestamp(), "sleep": sleep}


# ----------------------------------------------------------------------------- synthetic data


def synthetic_state(
    *,
    deals: int = 0,
    engagements: Mapping[str, int] | None = None,
    stamp: datetime | None = None,
    clock: SandboxClock | None = None,
) -> HubSpotState:
    """A portal with two owners in one team, ``deals`` deals (with a stage history) and
    engagements per type, every second one associated with a deal. ``stamp``: every
    object created and last modified at that one moment (as a bulk import leaves them)."""
    clock = clock or SandboxClock()
    clock.set(T0 + timedelta(days=30))
    state = HubSpotState(clock)
    team = state.add_team("East")
    owners = [
        state.add_owner(email=f"rep{i}@example.com", first_name="Rep", last_name=str(i),
                        team_ids=[team], created_at=T0 - timedelta(days=400))
        for i in range(2)
    ]  # fmt: skip
    deal_ids = [_deal(state, i, owners, stamp) for i in range(deals)]
    for object_type, count in (engagements or {}).items():
        for i in range(count):
            moment = stamp or T0 + timedelta(seconds=i)
            links = {"deals": [deal_ids[i % len(deal_ids)]]} if deal_ids and i % 2 else None
            state.import_object(
                object_type,
                {"hs_timestamp": _iso(moment), "hubspot_owner_id": owners[i % 2]},
                created_at=moment,
                associations=links,
            )
    return state


def _deal(state: HubSpotState, i: int, owners: list[str], stamp: datetime | None) -> str:
    created = stamp or T0 + timedelta(minutes=i)
    moved = stamp or created + timedelta(days=1)
    history = {"dealstage": [("appointmentscheduled", created), ("qualifiedtobuy", moved)]}
    properties = {
        "dealname": f"Deal {i}",
        "dealstage": "qualifiedtobuy",
        "pipeline": "default",
        "amount": str(1000 + i),
        "closedate": _iso(datetime.combine(date(2026, 3, 31), datetime.min.time(), UTC)),
        "hubspot_owner_id": owners[i % 2],
    }
    return state.import_object(
        "deals", properties, created_at=created, updated_at=moved, history=history
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def touch_all(state: HubSpotState, object_type: str, at_ms: int, **properties: str) -> int:
    """Write ``properties`` into every live object of a type, all stamped ``at_ms``."""
    with state.lock:
        objects = [o for o in state.objects[object_type].values() if o.archived_ms is None]
        for obj in objects:
            for name, value in properties.items():
                history_of(obj, name).insert(0, (value, at_ms, "INTEGRATION", None))
            obj.props.update(properties)
            obj.updated_ms = at_ms
    return len(objects)


# ----------------------------------------------------------------------------- equality


# The columns each comparison needs: whole ORM rows cost more than the sync being checked.
_COLUMNS: dict[Any, tuple[str, ...]] = {
    Rep: ("is_active", "team", "manager_crm_id"),
    Opportunity: ("deleted_at", "stage", "stage_category", "owner_crm_id", "amount",
                  "close_date"),
    OpportunityChange: ("opportunity_crm_id", "changed_at", "stage", "amount", "close_date"),
    Activity: ("deleted_at", "kind", "rep_crm_id", "opportunity_crm_id"),
}  # fmt: skip


def _store(store: Store, model: Any, connection_id: int) -> dict[str, Any]:
    columns = [model.crm_id, *(getattr(model, name) for name in _COLUMNS[model])]
    with store.unit_of_work() as session:
        rows = session.execute(select(*columns).where(model.connection_id == connection_id)).all()
    by_id = {row.crm_id: row for row in rows}
    assert len(by_id) == len(rows)  # no duplicates
    return by_id


def assert_store_mirrors_portal(
    store: Store, state: HubSpotState, connection_id: int, managers: Mapping[str, str] | None = None
) -> None:
    """Every owner, deal (with its history) and engagement as the portal holds it now."""
    reps = _store(store, Rep, connection_id)
    assert set(reps) == set(state.owners)
    for owner_id, owner in state.owners.items():
        team = state.teams[owner.primary_team_id].name if owner.primary_team_id else None
        rep = reps[owner_id]
        assert (rep.is_active, rep.team) == (not owner.archived, team)
        if managers is not None:
            assert rep.manager_crm_id == managers.get(owner_id)
    deals = _store(store, Opportunity, connection_id)
    _assert_objects(state, deals, "deals", _same_deal(state))
    _assert_changes(store, state, connection_id, deals)
    activities = _store(store, Activity, connection_id)
    for object_type, kind in ENGAGEMENTS.items():
        of_kind = {crm_id: row for crm_id, row in activities.items() if row.kind == kind}
        _assert_objects(state, of_kind, object_type, _same_activity(state))


def _assert_objects(
    state: HubSpotState, stored: Mapping[str, Any], object_type: str, same: Any
) -> None:
    objects = {str(o.id): o for o in state.objects[object_type].values()}
    live = {crm_id for crm_id, o in objects.items() if o.archived_ms is None}
    assert {crm_id for crm_id, row in stored.items() if row.deleted_at is None} == live
    assert {crm_id for crm_id, row in stored.items() if row.deleted_at is not None} <= (
        set(objects) - live
    )
    assert set(stored) <= set(objects)
    for crm_id in live:
        same(stored[crm_id], objects[crm_id])


def _same_deal(state: HubSpotState) -> Any:
    def same(row: Any, obj: CrmObject) -> None:
        props = obj.props
        stage = state.stages[(props.get("pipeline") or "default", str(props["dealstage"]))]
        category = "won" if stage.is_won else "lost" if stage.is_closed else "open"
        closedate = props.get("closedate")
        assert row.stage == props["dealstage"]
        assert row.stage_category == category
        assert row.owner_crm_id == props.get("hubspot_owner_id")
        assert row.amount == Decimal(str(props["amount"])).quantize(Decimal("0.01"))
        assert row.close_date == (date.fromisoformat(closedate[:10]) if closedate else None)

    return same


def _same_activity(state: HubSpotState) -> Any:
    def same(row: Any, obj: CrmObject) -> None:
        """The lowest live deal; or a deal archived after the engagement was last read
        (archiving a deal does not touch its engagements, so they are not read again)."""
        deals = live_associations(state, obj, "deals")
        linked = obj.assoc.get("deals", {}) if obj.assoc else {}
        archived = {str(i) for i in linked if state.objects["deals"][i].archived_ms is not None}
        assert row.rep_crm_id == obj.props.get("hubspot_owner_id")
        assert row.opportunity_crm_id in {str(min(deals)) if deals else None} | archived

    return same


def _assert_changes(
    store: Store, state: HubSpotState, connection_id: int, deals: Mapping[str, Any]
) -> None:
    """Per live deal: one change per moment its stage, amount or close date changed, the
    last one holding the deal's current values."""
    changes = _store(store, OpportunityChange, connection_id)
    by_deal: dict[str, list[Any]] = {}
    for change in changes.values():
        by_deal.setdefault(change.opportunity_crm_id, []).append(change)
    for obj in state.objects["deals"].values():
        if obj.archived_ms is not None:
            continue
        deal_id = str(obj.id)
        moments = _history_moments(obj)
        stored = sorted(by_deal.get(deal_id, []), key=lambda change: change.changed_at)
        assert {f"{deal_id}:{ms}" for ms in moments} == {change.crm_id for change in stored}
        last, deal = stored[-1], deals[deal_id]
        assert (last.stage, last.amount, last.close_date) == (
            deal.stage, deal.amount, deal.close_date,
        )  # fmt: skip


def _history_moments(obj: CrmObject) -> set[int]:
    moments: set[int] = set()
    for name in ("dealstage", "amount", "closedate"):
        entries = obj.history.get(name) if obj.history else None
        if entries is not None:
            moments.update(moment for _, moment, _, _ in entries)
        elif name in obj.props:
            moments.add(obj.created_ms)
    return moments
