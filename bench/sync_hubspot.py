"""Benchmark: a first (full) and an incremental HubSpot sync of a large portal.

Run from the project root::

    .venv/bin/python -m bench.sync_hubspot --backend both

The sandbox (``driftcoach sandbox --json --placement hubspot``, at HubSpot's own limits:
100 calls per 10 s, 5 searches per second) runs in its own process, each sync in another
(a child that reports its own peak RSS), and this driver counts, changes and compares. The
driver talks to the portal as another app (the sandbox's OAuth app), so its calls never
use the sync's ten-second window. Per backend (SQLite in a temporary file; PostgreSQL in a
fresh schema of the ``--postgres-url`` database, dropped afterwards) it prints:

(a) API calls of the first sync, from the sandbox's meter (reset just before), divided by
    the published minimum: search pages of 200 per engagement stream (``max(1,
    ceil(n / 200))``, n counted by the sandbox's own search in the first sync's
    ``history_days`` window) plus v4 association reads of 1,000 ids (``ceil(n / 1000)``,
    the cheapest way to learn n engagements' deals: listing them with associations takes
    pages of 100); deal list pages of 50 (deals come with their property history, which
    halves the page); owner pages of 500 (active and archived); and the pipelines.
(b) records per second of the sync divided by records per second of the DBAPI's
    ``executemany`` inserting the same rows into a fresh, identically migrated database
    (see ``bench._common.raw_insert_baseline``). HubSpot's limits cap any sync at about
    1,000 engagements a second (5 searches of 200), far below a database, and the
    pipeline writes on one thread while the connector waits on another; so three rates
    are printed: over the wall time; over the time not spent waiting on the limits (the
    connector's pacing and 429 waits); and over the time the sync spent in its store
    transactions (upserts, cursor, commit; timed around each unit of work), which is
    what the raw baseline times too. The summary shows the last two (at ``--limits capacity``
    the time not paced is the wall time).
(c) peak RSS (``VmHWM``) of the sync's child process, and of the same child doing
    everything but the sync.
(d) after ``--change-share`` of the calls (title) and of the deals (amount, next step)
    changed through batch updates of 100, API calls of an incremental sync divided by its
    minimum: per stream with changes ``ceil(changed / 200)`` search pages (deals: plus
    ``ceil(changed / 50)`` history reads; engagements: plus ``ceil(changed / 1000)``
    association reads), one search per unchanged stream, one archive listing per deletable
    stream (6), the two owner listings and, when deals changed, the pipelines.
(e) wall time spent waiting on the rate limits (the connector's pacing sleeps and 429
    waits) against the theoretical minimum at the budget: with S standard calls at 100
    per 10 s and Q searches at 5 per second, no client can finish sooner than
    ``max((ceil(S / 100) - 1) * 10 s, (ceil(Q / 5) - 1) * 1 s)``. The sync's wall time
    is printed against the same minimum.

The portal ends ``--as-of`` (default two days ago), so no record lies within the search
index lag the connector leaves before "now". This is a benchmark, not a test: it asserts
nothing about time; it prints figures.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench._common import (
    DEFAULT_POSTGRES_URL,
    InsertBaseline,
    SandboxAdmin,
    SandboxProcess,
    ceil_div,
    meter_api_calls,
    mib,
    migrated_store,
    peak_rss_bytes,
    progress,
    ratio,
    raw_insert_baseline,
    run_child,
    scratch_database,
    settings_for,
    table,
)
from bench.hubspot_driver import Driver
from connectors.hubspot import HubSpotConfig, HubSpotConnector, PrivateAppAuth
from connectors.hubspot.streams import SPECS
from service.store import Store, make_engine
from service.store.connections import add_connection
from service.store.tables import Activity, CrmKind, Opportunity
from service.sync.pipeline import SyncReport, sync_connection

MODULE = "bench.sync_hubspot"
SEARCH_PAGE, LIST_PAGE, HISTORY_PAGE, ASSOCIATION_BATCH, OWNER_PAGE = 200, 100, 50, 1000, 500
BUDGET, INTERVAL, SEARCHES_PER_SECOND = 100, 10.0, 5
#: --limits: (10-second budget, searches per second), set on the sandbox and the connector.
LIMITS = {"portal": (100, 5), "capacity": (10_000, 500)}
OAUTH_ENDPOINT = "POST /oauth/v1/token"
CALL_TITLE = "Bench follow-up"
NEXT_STEP = "Bench: re-quoted"
CHILD_TIMEOUT_SECONDS = 3600.0
ENGAGEMENTS = [spec.object_type for spec in SPECS if spec.kind is not None]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--managers", type=int, default=4)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--deal-scale", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date.today() - timedelta(days=2),  # noqa: DTZ011 - the org's local "today"
        help="last day of the org's history (default: two days ago; see the module doc)",
    )
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--limits",
        choices=tuple(LIMITS),
        default="portal",
        help="portal: HubSpot's 100 per 10 s and 5 searches/s (default); capacity: limits"
        " raised 100-fold on both sides, to measure what the pipeline itself can ingest",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def sandbox_arguments(args: argparse.Namespace) -> list[str]:
    return [
        "--placement", "hubspot",
        "--seed", str(args.seed),
        "--reps", str(args.reps),
        "--managers", str(args.managers),
        "--months", str(args.months),
        "--deal-scale", str(args.deal_scale),
        "--as-of", args.as_of.isoformat(),
        "--hubspot-ten-second-budget", str(BUDGET),
        "--hubspot-searches-per-second", str(SEARCHES_PER_SECOND),
    ]  # fmt: skip


# --------------------------------------------------------------------------- the child


def child_main() -> None:
    """Inside the measured process: sync (or, for the memory baseline, only get ready)."""
    payload = json.loads(sys.stdin.read())
    store = TimedStore(make_engine(settings_for(payload["database_url"])))
    budget, searches = payload["limits"]
    config = HubSpotConfig(
        auth=PrivateAppAuth(access_token=SecretStr(payload["access_token"])),
        base_url=payload["base_url"],
        pacing={"ten_second_budget": budget, "searches_per_second": searches},
    )
    # The connector reads the sandbox's clock (the driver moves it past the index lag).
    offset = timedelta(seconds=float(payload["clock_offset_seconds"]))
    connector = HubSpotConnector(config, clock=lambda: datetime.now(UTC) + offset)
    try:
        answer = _memory() if payload["mode"] == "idle" else _child_sync(store, connector, payload)
    finally:
        connector.close()
        store.dispose()
    print(json.dumps(answer))


class TimedStore(Store):
    """The store, timing every unit of work (the sync's write transactions)."""

    write_seconds = 0.0

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        started = time.perf_counter()
        try:
            with super().unit_of_work() as session:
                yield session
        finally:
            self.write_seconds += time.perf_counter() - started


def _child_sync(
    store: TimedStore, connector: HubSpotConnector, payload: dict[str, Any]
) -> dict[str, Any]:
    reported: dict[str, int] = {}

    def on_progress(stream: str, records: int) -> None:
        if records - reported.get(stream, 0) >= 25_000:
            reported[stream] = records
            progress(f"    {stream}: {records:,} records read")

    started, cpu = time.perf_counter(), time.process_time()
    report = sync_connection(
        store,
        payload["connection_id"],
        connector,
        batch_size=payload["batch_size"],
        progress=on_progress,
    )
    wall = time.perf_counter() - started
    times = {
        "wall_seconds": wall,
        "cpu_seconds": time.process_time() - cpu,
        "write_seconds": store.write_seconds,
    }
    return {**times, **_report_json(report), **_memory()}


def _memory() -> dict[str, int]:
    return {"max_rss_bytes": peak_rss_bytes()}


def _report_json(report: SyncReport) -> dict[str, Any]:
    usage = report.usage
    assert usage is not None  # noqa: S101 - sync_connection always sets it
    return {
        "status": report.status.value,
        "streams": [
            {
                "stream": stream.stream,
                "status": stream.status.value,
                "records_read": stream.counts.records_read,
                "records_upserted": stream.counts.records_upserted,
                "api_calls": stream.counts.api_calls,
                "error": stream.error,
            }
            for stream in report.streams
        ],
        "usage": {
            "calls": usage.calls,
            "by_endpoint": usage.by_endpoint,
            "retries": usage.retries,
            "waits": usage.rate_limit_waits,
            "waited_seconds": usage.rate_limit_wait_seconds,
        },
    }


# --------------------------------------------------------------------------- minimums


@dataclass(frozen=True)
class Minimum:
    """The fewest API calls that can do a run, part by part."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def full_minimum(counts: dict[str, int]) -> Minimum:
    parts = {
        "owners (active)": max(1, ceil_div(counts["owners"], OWNER_PAGE)),
        "owners (archived)": max(1, ceil_div(counts["owners archived"], OWNER_PAGE)),
        "pipelines": 1,
        "deals: list pages of 50 with history": max(1, ceil_div(counts["deals"], HISTORY_PAGE)),
    }
    for name in ENGAGEMENTS:
        parts[f"{name}: search pages"] = max(1, ceil_div(counts[name], SEARCH_PAGE))
        parts[f"{name}: association reads"] = ceil_div(counts[name], ASSOCIATION_BATCH)
    return Minimum(parts)


def incremental_minimum(changed: dict[str, int], archived: dict[str, int]) -> Minimum:
    parts = {"owners (active, archived)": 2, "pipelines": 1 if changed["deals"] else 0}
    for name, count in archived.items():
        parts[f"{name}: archive listing"] = max(1, ceil_div(count, LIST_PAGE))
    parts["deals: search pages"] = max(1, ceil_div(changed["deals"], SEARCH_PAGE))
    parts["deals: history reads"] = ceil_div(changed["deals"], HISTORY_PAGE)
    for name in ENGAGEMENTS:
        parts[f"{name}: search pages"] = max(1, ceil_div(changed[name], SEARCH_PAGE))
        parts[f"{name}: association reads"] = ceil_div(changed[name], ASSOCIATION_BATCH)
    return Minimum(parts)


def budget_minimum_seconds(by_endpoint: dict[str, int]) -> tuple[int, int, float]:
    """(standard calls, searches, the least wall time any client needs for them)."""
    searches = sum(n for name, n in by_endpoint.items() if name.endswith("/search"))
    standard = sum(by_endpoint.values()) - searches - by_endpoint.get(OAUTH_ENDPOINT, 0)
    least = max(
        (max(1, math.ceil(standard / BUDGET)) - 1) * INTERVAL,
        (max(1, math.ceil(searches / SEARCHES_PER_SECOND)) - 1) * 1.0,
    )
    return standard, searches, least


# --------------------------------------------------------------------------- one backend


@dataclass
class BackendRun:
    backend: str
    counts: dict[str, int] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)
    full_meter: dict[str, Any] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    baseline: InsertBaseline = field(default_factory=InsertBaseline)
    changes: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    incremental: dict[str, Any] = field(default_factory=dict)
    incremental_meter: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    sandbox_cpu_seconds: float = 0.0


@dataclass(frozen=True)
class Context:
    args: argparse.Namespace
    details: dict[str, Any]
    driver: Driver
    admin: SandboxAdmin
    sandbox: SandboxProcess


def run_backend(backend: str, context: Context) -> BackendRun:
    """Every measurement on one backend, from the seeded data (the sandbox is reset)."""
    run, args = BackendRun(backend), context.args
    context.admin.reset()
    with scratch_database(backend, args.postgres_url, "hs_store") as url:
        store = migrated_store(url)
        try:
            with store.unit_of_work() as session:
                connection_id = add_connection(session, "bench-hubspot", CrmKind.HUBSPOT, {}).id
            payload = _payload(context, url, connection_id)
            _measure_full(run, context, payload)
            with scratch_database(backend, args.postgres_url, "hs_raw") as raw_url:
                progress(f"{backend}: raw executemany baseline")
                run.baseline = raw_insert_baseline(
                    url, raw_url, connection_id, batch_size=args.batch_size
                )
            _measure_incremental(run, context, store, payload)
        finally:
            store.dispose()
    return run


def _payload(context: Context, url: str, connection_id: int) -> dict[str, Any]:
    hubspot = context.details["hubspot"]
    return {
        "database_url": url,
        "connection_id": connection_id,
        "base_url": hubspot["base_url"],
        "access_token": hubspot["access_token"],
        "batch_size": context.args.batch_size,
        "clock_offset_seconds": 0.0,
        "limits": [BUDGET, SEARCHES_PER_SECOND],
    }


def _measure_full(run: BackendRun, context: Context, payload: dict[str, Any]) -> None:
    progress(f"{run.backend}: counting the sandbox's records")
    now = datetime.fromisoformat(context.admin.now()).astimezone(UTC)
    run.counts = context.driver.counts(now - timedelta(days=400))
    print(f"\n=== {run.backend}: the sandbox's own counts")
    print(table(sorted(run.counts.items()), ("what", "records")), flush=True)
    time.sleep(1.5)  # the driver's searches leave the per-second window first
    progress(f"{run.backend}: first sync (child process)")
    context.admin.reset_meter()
    sandbox_cpu = context.sandbox.cpu_seconds()
    run.full = run_child(MODULE, {**payload, "mode": "sync"}, timeout=CHILD_TIMEOUT_SECONDS)
    run.sandbox_cpu_seconds = context.sandbox.cpu_seconds() - sandbox_cpu
    run.full_meter = context.admin.meter()
    progress(f"{run.backend}: first sync took {run.full['wall_seconds']:.1f}s; idle child")
    run.idle = run_child(MODULE, {**payload, "mode": "idle"}, timeout=300)


def _measure_incremental(
    run: BackendRun, context: Context, store: Store, payload: dict[str, Any]
) -> None:
    args, driver = context.args, context.driver
    since = datetime.fromisoformat(context.admin.now()).astimezone(UTC)
    progress(f"{run.backend}: changing {args.change_share:.1%} of calls and deals")
    calls, deals = _live_ids(store, payload["connection_id"])
    rng = random.Random(args.seed)
    run.changes = {
        "calls": driver.update("calls", _sample(rng, calls, args.change_share),
                               lambda _: {"hs_call_title": CALL_TITLE}),
        "deals": driver.update("deals", _sample(rng, sorted(deals), args.change_share),
                               lambda i: {"amount": str((deals[i] or 0) + 1000),
                                          "hs_next_step": NEXT_STEP}),
    }  # fmt: skip
    # The connector's search windows end 60 s before "now" (the index lags): let that pass.
    offset = _advance_clock(context, 120)
    run.changed = driver.changed(since)
    time.sleep(1.5)
    progress(f"{run.backend}: incremental sync (child process)")
    context.admin.reset_meter()
    payload = {**payload, "mode": "sync", "clock_offset_seconds": offset}
    run.incremental = run_child(MODULE, payload, timeout=CHILD_TIMEOUT_SECONDS)
    run.incremental_meter = context.admin.meter()
    run.stored = _stored_edits(store, payload["connection_id"])
    print_backend(run)


def _advance_clock(context: Context, seconds: float) -> float:
    """Move the sandbox's clock on; returns its offset from this machine's clock."""
    url = f"{context.details['hubspot']['base_url']}/__sandbox/clock"
    answer = context.admin.session.post(url, json={"advance_seconds": seconds}, timeout=60)
    answer.raise_for_status()
    moved = datetime.fromisoformat(answer.json()["now"])
    return (moved - datetime.now(UTC)).total_seconds()


def _live_ids(store: Store, connection_id: int) -> tuple[list[str], dict[str, Any]]:
    with store.unit_of_work() as session:
        calls = session.scalars(
            select(Activity.crm_id).where(
                Activity.connection_id == connection_id,
                Activity.kind == "call",
                Activity.deleted_at.is_(None),
            )
        ).all()
        deals = session.execute(
            select(Opportunity.crm_id, Opportunity.amount).where(
                Opportunity.connection_id == connection_id, Opportunity.deleted_at.is_(None)
            )
        ).all()
    return sorted(calls), {row.crm_id: row.amount for row in deals}


def _sample(rng: random.Random, ids: list[str], share: float) -> list[str]:
    return rng.sample(ids, min(len(ids), math.ceil(len(ids) * share)))


def _stored_edits(store: Store, connection_id: int) -> dict[str, int]:
    with store.unit_of_work() as session:
        calls = session.scalars(
            select(Activity.crm_id).where(
                Activity.connection_id == connection_id, Activity.subject == CALL_TITLE
            )
        ).all()
        deals = session.scalars(
            select(Opportunity.crm_id).where(
                Opportunity.connection_id == connection_id, Opportunity.next_step == NEXT_STEP
            )
        ).all()
    return {"calls": len(calls), "deals": len(deals)}


# --------------------------------------------------------------------------- printing


def _records(child: dict[str, Any], key: str = "records_read") -> int:
    return sum(int(stream[key]) for stream in child["streams"])


def _used(meter: dict[str, Any]) -> int:
    return meter_api_calls(meter, excluded=[OAUTH_ENDPOINT])


def print_calls(title: str, child: dict[str, Any], meter: dict[str, Any], minimum: Minimum) -> None:
    used = _used(meter)
    print(f"\n--- {title}: API calls")
    print(table(list(minimum.parts.items()), ("minimum part", "calls")))
    endpoints = ", ".join(f"{name} {count}" for name, count in meter["by_endpoint"].items())
    print(f"meter by endpoint: {endpoints}; by status: {meter['by_status']}")
    print(
        f"API calls used (meter): {used:,}; minimum: {minimum.total:,};"
        f" ratio {ratio(used, minimum.total)}; connector's count {child['usage']['calls']:,}"
        f" (retries {child['usage']['retries']}); sync status {child['status']}"
    )


def _rates(run: BackendRun) -> tuple[float, float, float]:
    """Records per second over the wall time, over the time not waiting on the limits,
    and over the time spent in store transactions."""
    records, wall = _records(run.full), float(run.full["wall_seconds"])
    unpaced = wall - float(run.full["usage"]["waited_seconds"])
    own = float(run.full["write_seconds"])
    plain, not_paced, own_work = (
        records / span if span > 0 else 0.0 for span in (wall, unpaced, own)
    )
    return plain, not_paced, own_work


def print_throughput(run: BackendRun) -> None:
    rates, base, full = _rates(run), run.baseline, run.full
    waited, writes = float(full["usage"]["waited_seconds"]), float(full["write_seconds"])
    print(f"\n--- {run.backend}: ingest rate")
    print(
        f"sync: {_records(full):,} records in {float(full['wall_seconds']):.1f}s: the reader"
        f" waited {waited:.1f}s on HubSpot's limits; the writer spent {writes:.1f}s in"
        " store transactions"
    )
    print(
        f"CPU over the sync: the sync's process {float(full['cpu_seconds']):.1f}s (all its"
        f" threads), the sandbox {run.sandbox_cpu_seconds:.1f}s (serving it)"
    )
    print(
        f"raw DBAPI executemany: {base.rows:,} rows ({base.per_table}) in {base.seconds:.1f}s"
        f" = {base.rows_per_second:,.0f} rows/s"
    )
    for label, rate in zip(("wall time", "not waiting on limits", "store transactions"), rates,
                           strict=True):  # fmt: skip
        print(
            f"records/s over {label}: {rate:,.0f};"
            f" / raw insert rate: {ratio(rate, base.rows_per_second)}"
        )


def print_waits(run: BackendRun) -> None:
    usage = run.full["usage"]
    standard, searches, least = budget_minimum_seconds(usage["by_endpoint"])
    waited, wall = float(usage["waited_seconds"]), float(run.full["wall_seconds"])
    print(f"\n--- {run.backend}: time spent on HubSpot's rate limits (first sync)")
    print(
        f"{standard:,} standard calls at {BUDGET} per {INTERVAL:.0f} s and {searches:,} searches"
        f" at {SEARCHES_PER_SECOND} per second: no client can take less than {least:.1f}s"
    )
    print(
        f"waited {waited:.1f}s in {usage['waits']:,} waits (ratio {ratio(waited, least)});"
        f" wall time {wall:.1f}s (ratio {ratio(wall, least)});"
        f" 429 answers: {run.full_meter['by_status'].get('429', 0)}"
    )


def print_backend(run: BackendRun) -> None:
    print_calls(f"{run.backend} first sync", run.full, run.full_meter, full_minimum(run.counts))
    print_throughput(run)
    print_waits(run)
    peak, idle = int(run.full["max_rss_bytes"]), int(run.idle["max_rss_bytes"])
    print(f"\n--- {run.backend}: peak RSS of the sync's process (VmHWM)")
    print(
        f"first sync {mib(peak):,.1f} MiB; same child without the sync {mib(idle):,.1f} MiB;"
        f" incremental sync {mib(int(run.incremental['max_rss_bytes'])):,.1f} MiB"
    )
    print(f"\n--- {run.backend}: incremental run after changes")
    print(f"changed: {run.changes}; stamped since (sandbox): {run.changed};"
          f" edits in the store afterwards: {run.stored}")  # fmt: skip
    if any(run.stored.get(name, 0) < n for name, n in run.changes.items()):
        print("WARNING: the incremental sync did not bring every change")
    archived = {name: run.counts[f"{name} archived"] for name in ("deals", *ENGAGEMENTS)}
    minimum = incremental_minimum(run.changed, archived)
    print_calls(f"{run.backend} incremental", run.incremental, run.incremental_meter, minimum)
    print(f"incremental wall time: {float(run.incremental['wall_seconds']):.1f}s", flush=True)


def summary_rows(run: BackendRun) -> list[tuple[object, ...]]:
    full_min = full_minimum(run.counts).total
    archived = {name: run.counts[f"{name} archived"] for name in ("deals", *ENGAGEMENTS)}
    incr_min = incremental_minimum(run.changed, archived).total
    _, not_paced, working = _rates(run)
    _, _, least = budget_minimum_seconds(run.full["usage"]["by_endpoint"])
    waited = float(run.full["usage"]["waited_seconds"])
    peak, idle = int(run.full["max_rss_bytes"]), int(run.idle["max_rss_bytes"])
    full_used, incr_used = _used(run.full_meter), _used(run.incremental_meter)
    b, base = run.backend, run.baseline.rows_per_second
    return [
        (b, "(a) full sync API calls", full_used, full_min, ratio(full_used, full_min)),
        (b, "(b) records/s written vs raw executemany", round(working), round(base),
         ratio(working, base)),
        (b, "(b) ... over the sync's time not paced", round(not_paced), round(base),
         ratio(not_paced, base)),
        (b, "(c) peak RSS MiB, sync vs idle child", round(mib(peak), 1), round(mib(idle), 1),
         ratio(peak, idle)),
        (b, "(d) incremental API calls", incr_used, incr_min, ratio(incr_used, incr_min)),
        (b, "(e) s waiting on limits vs least at budget", round(waited, 1), round(least, 1),
         ratio(waited, least)),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main()
        return 0
    global BUDGET, SEARCHES_PER_SECOND  # one run, one set of limits
    BUDGET, SEARCHES_PER_SECOND = LIMITS[args.limits]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"org: seed {args.seed}, {args.managers} managers, {args.reps} reps, {args.months} months"
        f" to {args.as_of}, deal scale {args.deal_scale}; all in HubSpot (limits {BUDGET} per"
        f" {INTERVAL:.0f} s, {SEARCHES_PER_SECOND} searches/s); backends: {', '.join(backends)}"
    )
    progress("starting the sandbox (its own process)")
    started = time.perf_counter()
    sandbox = SandboxProcess(sandbox_arguments(args))
    with sandbox as details:
        print(f"sandbox ready in {time.perf_counter() - started:.1f}s", flush=True)
        session = requests.Session()
        session.trust_env = False  # nothing between this driver and 127.0.0.1
        admin = SandboxAdmin(details["hubspot"]["base_url"], session)
        driver = Driver.connect(details["hubspot"])
        try:
            runs = [run_backend(backend, Context(args, details, driver, admin, sandbox))
                    for backend in backends]  # fmt: skip
        finally:
            driver.close()
    rows = [row for run in runs for row in summary_rows(run)]
    print("\n=== summary (measured / baseline, both from this run)")
    print(table(rows, ("backend", "figure", "measured", "baseline", "ratio")))
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
