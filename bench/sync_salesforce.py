"""Benchmark: a first (full) and an incremental Salesforce sync of a large org.

Run from the project root::

    .venv/bin/python -m bench.sync_salesforce --backend both

The sandbox (``driftcoach sandbox --json --placement salesforce``) runs in its own
process, each sync in another (a child that reports its own peak RSS), and this driver
counts, changes and compares. Per backend (SQLite in a temporary file; PostgreSQL in a
fresh schema of the ``--postgres-url`` database, dropped afterwards) it prints:

(a) API calls of the first sync, from the sandbox's meter (reset just before), divided by
    the minimum: per stream ``max(1, ceil(records / 2,000))`` query pages, with records
    counted by the sandbox itself (``SELECT COUNT()`` in the scope the first sync must
    read: ``queryAll`` where the stream reads deleted rows, and the connector's
    ``history_days`` window for bounded streams), plus the FIXED calls below. The
    connector's own ``ApiUsage.calls`` is printed next to it.
(b) records per second of the sync (records read, all streams, over the sync's wall
    time) divided by records per second of the DBAPI's ``executemany`` inserting the
    same rows (read back from the store) into a fresh, identically migrated database of
    the same kind, committed every ``--batch-size`` rows as the sync commits.
(c) peak RSS of the sync's child process, divided by the peak RSS of the same child
    doing everything but the sync (imports, engine, connector). The peak is the child's
    ``VmHWM``; its ``ru_maxrss`` is printed too, but on Linux that also holds this
    driver's RSS at spawn time (see ``bench._common.peak_rss_bytes``).
(d) after ``--change-share`` of the tasks and of the opportunities changed through the
    API (sObject Collections PATCH, 200 per call, before the meter is reset; changing an
    Amount also writes an OpportunityHistory row), API calls of an incremental sync
    divided by its minimum: ``max(1, ceil(changed / 2,000))`` per stream with changes,
    1 page per unchanged stream (the query that finds nothing new), plus the FIXED calls.

FIXED calls, made once per run whatever the volume: the OpportunityStage query (stage
metadata for mapping), ``describe global`` (does the optional ForecastingQuota object
exist?), and on incremental runs one Get Deleted per stream that asks for hard deletes
(opportunities, tasks, events, quotas); a first sync has no deletions to ask for. The
OAuth token request is not a REST API call (Salesforce does not count it against the
allocation) and is left out of both sides; the meter shows it separately.

The org ends ``--as-of`` (default: two days ago, so every figure compares like with like
whatever the hour). The sandbox clamps seeded stamps to its "now", so an org ending today
holds no future-stamped rows either; the counts table still checks (column ``future``).

This is a benchmark, not a test: it asserts nothing about time; it prints figures.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from pydantic import SecretStr
from simple_salesforce.api import Salesforce
from sqlalchemy import func, select

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
    ru_maxrss_bytes,
    run_child,
    scratch_database,
    settings_for,
    table,
    tls_session,
)
from connectors.salesforce import ClientCredentialsAuth, SalesforceConfig, SalesforceConnector
from connectors.salesforce.streams import SPECS, StreamSpec, soql_datetime
from service.store import Store, make_engine
from service.store.connections import add_connection
from service.store.tables import Activity, CrmKind, Opportunity
from service.sync.pipeline import SyncReport, sync_connection

MODULE = "bench.sync_salesforce"
PAGE_SIZE = 2000  # Salesforce's largest query batch
COLLECTION_SIZE = 200  # sObject Collections' limit per call
OAUTH_ENDPOINT = "POST oauth token"
API_VERSION = "59.0"
MIN_ACTIVITIES = 500_000
TASK_KEY_PREFIX = "00T"  # Salesforce's key prefix of Task ids
TASK_SUBJECT = "Bench follow-up"
OPPORTUNITY_NEXT_STEP = "Bench: re-quoted"
CHILD_TIMEOUT_SECONDS = 1800.0


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--deal-scale", type=float, default=0.37)
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def sandbox_arguments(args: argparse.Namespace) -> list[str]:
    return [
        "--placement", "salesforce",
        "--seed", str(args.seed),
        "--reps", str(args.reps),
        "--managers", str(args.managers),
        "--months", str(args.months),
        "--deal-scale", str(args.deal_scale),
        "--as-of", args.as_of.isoformat(),
    ]  # fmt: skip


# --------------------------------------------------------------------------- the child


def child_main() -> None:
    """Inside the measured process: sync (or, for the memory baseline, only get ready)."""
    payload = json.loads(sys.stdin.read())
    store = Store(make_engine(settings_for(payload["database_url"])))
    connector = SalesforceConnector(_config(payload))
    try:
        if payload["mode"] == "idle":
            answer: dict[str, Any] = _memory()
        else:
            answer = _child_sync(store, connector, payload)
    finally:
        connector.close()
        store.dispose()
    print(json.dumps(answer))


def _config(payload: dict[str, Any]) -> SalesforceConfig:
    return SalesforceConfig(
        auth=ClientCredentialsAuth(
            client_id=payload["client_id"], client_secret=SecretStr(payload["client_secret"])
        ),
        login_url=payload["login_url"],
        ca_bundle=payload["ca_bundle"],
        api_version=API_VERSION,
    )


def _child_sync(
    store: Store, connector: SalesforceConnector, payload: dict[str, Any]
) -> dict[str, Any]:
    """One sync_connection run, timed from its call to its return."""
    reported: dict[str, int] = {}

    def on_progress(stream: str, records: int) -> None:
        if records - reported.get(stream, 0) >= 100_000:
            reported[stream] = records
            progress(f"    {stream}: {records:,} records read")

    started = time.perf_counter()
    report = sync_connection(
        store,
        payload["connection_id"],
        connector,
        batch_size=payload["batch_size"],
        progress=on_progress,
    )
    wall = time.perf_counter() - started
    return {"wall_seconds": wall, **_report_json(report), **_memory()}


def _memory() -> dict[str, int]:
    return {"max_rss_bytes": peak_rss_bytes(), "ru_maxrss_bytes": ru_maxrss_bytes()}


def _report_json(report: SyncReport) -> dict[str, Any]:
    usage = report.usage
    return {
        "status": report.status.value,
        "streams": [
            {
                "stream": stream.stream,
                "status": stream.status.value,
                "records_read": stream.counts.records_read,
                "records_upserted": stream.counts.records_upserted,
                "records_deleted": stream.counts.records_deleted,
                "api_calls": stream.counts.api_calls,
                "error": stream.error,
            }
            for stream in report.streams
        ],
        "usage": {
            "calls": usage.calls if usage else 0,
            "by_endpoint": usage.by_endpoint if usage else {},
            "retries": usage.retries if usage else 0,
        },
    }


# --------------------------------------------------------------------------- the sandbox side


@dataclass(frozen=True)
class StreamCount:
    """The sandbox's own count of one stream's rows."""

    stream: str
    sobject: str
    present: bool
    in_scope: int  # what a first sync must read
    total: int  # every row of the object, deleted ones included where queryAll applies
    future: int  # rows stamped after the sandbox's clock


@dataclass(frozen=True)
class Minimum:
    """The fewest API calls that can do a run: query pages per stream plus fixed calls."""

    pages: dict[str, int]
    fixed: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.pages.values()) + sum(self.fixed.values())


def salesforce_client(details: dict[str, Any]) -> Salesforce:
    """The driver's own client (client credentials), for counting and changing records."""
    credentials = details["salesforce"]
    session = tls_session(details["ca_bundle"])
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
    }
    response = session.post(credentials["token_url"], data=form, timeout=60)
    response.raise_for_status()
    grant = response.json()
    return Salesforce(
        instance_url=grant["instance_url"],
        session_id=grant["access_token"],
        session=session,
        version=API_VERSION,
    )


def _count(sf: Salesforce, spec: StreamSpec, where: str = "") -> int:
    # simple-salesforce's query_all() overwrites totalSize with len(records), 0 for
    # COUNT(): ask query() directly, through queryAll when the stream reads deleted rows.
    soql = f"SELECT COUNT() FROM {spec.sobject}{where}"  # noqa: S608 - declared names
    answer = cast(dict[str, Any], sf.query(soql, include_deleted=spec.query_all))
    return int(answer["totalSize"])


def count_streams(sf: Salesforce, now: datetime) -> list[StreamCount]:
    """Per stream: rows in the first sync's scope, all rows, and future-stamped rows."""
    described = cast(dict[str, Any], sf.describe())
    objects = {str(entry["name"]) for entry in described["sobjects"]}
    window = now - timedelta(days=SalesforceConfig.model_fields["history_days"].default)
    counts = []
    for spec in SPECS:
        if spec.optional and spec.sobject not in objects:
            counts.append(StreamCount(spec.stream.name, spec.sobject, False, 0, 0, 0))
            continue
        scope = f" WHERE SystemModstamp >= {soql_datetime(window)}" if spec.bounded else ""
        counts.append(
            StreamCount(
                spec.stream.name,
                spec.sobject,
                True,
                in_scope=_count(sf, spec, scope),
                total=_count(sf, spec),
                future=_count(sf, spec, f" WHERE SystemModstamp > {soql_datetime(now)}"),
            )
        )
    return counts


def count_changed(sf: Salesforce, since: datetime, counts: Iterable[StreamCount]) -> dict[str, int]:
    """Rows per stream stamped at or after ``since``, by the sandbox's own count."""
    present = {count.stream for count in counts if count.present}
    where = f" WHERE SystemModstamp >= {soql_datetime(since)}"
    return {
        spec.stream.name: _count(sf, spec, where) for spec in SPECS if spec.stream.name in present
    }


def fixed_calls(counts: Iterable[StreamCount], *, incremental: bool) -> dict[str, int]:
    fixed = {"OpportunityStage query": 1, "describe global": 1}
    if incremental:
        present = {count.stream for count in counts if count.present}
        for spec in SPECS:
            if spec.get_deleted and spec.stream.name in present:
                fixed[f"Get Deleted {spec.sobject}"] = 1
    return fixed


def full_minimum(counts: Sequence[StreamCount]) -> Minimum:
    pages = {c.stream: max(1, ceil_div(c.in_scope, PAGE_SIZE)) for c in counts if c.present}
    return Minimum(pages, fixed_calls(counts, incremental=False))


def incremental_minimum(changed: dict[str, int], counts: Sequence[StreamCount]) -> Minimum:
    pages = {stream: max(1, ceil_div(rows, PAGE_SIZE)) for stream, rows in changed.items()}
    return Minimum(pages, fixed_calls(counts, incremental=True))


# --------------------------------------------------------------------------- changing records


def change_records(
    sf: Salesforce, store: Store, connection_id: int, share: float, seed: int
) -> dict[str, int]:
    """Change ``share`` of the stored tasks (Subject) and opportunities (Amount, NextStep)
    through sObject Collections; returns how many of each the API accepted."""
    rng = random.Random(seed)
    tasks, opportunities = _live_ids(store, connection_id)
    chosen_tasks = _sample(rng, sorted(tasks), share)
    chosen_opportunities = _sample(rng, sorted(opportunities), share)
    task_updates = [
        {"attributes": {"type": "Task"}, "Id": crm_id, "Subject": f"{TASK_SUBJECT} {i}"}
        for i, crm_id in enumerate(chosen_tasks)
    ]
    opportunity_updates = [
        {
            "attributes": {"type": "Opportunity"},
            "Id": crm_id,
            "Amount": float(opportunities[crm_id] or 0) + 1000.0,
            "NextStep": OPPORTUNITY_NEXT_STEP,
        }
        for crm_id in chosen_opportunities
    ]
    return {
        "Task": _patch_collections(sf, task_updates),
        "Opportunity": _patch_collections(sf, opportunity_updates),
    }


def _live_ids(store: Store, connection_id: int) -> tuple[list[str], dict[str, Any]]:
    """Stored, undeleted Task ids and opportunity ids with their amounts."""
    with store.unit_of_work() as session:
        tasks = session.scalars(
            select(Activity.crm_id).where(
                Activity.connection_id == connection_id,
                Activity.crm_id.startswith(TASK_KEY_PREFIX),
                Activity.deleted_at.is_(None),
            )
        ).all()
        opportunities = session.execute(
            select(Opportunity.crm_id, Opportunity.amount).where(
                Opportunity.connection_id == connection_id, Opportunity.deleted_at.is_(None)
            )
        ).all()
    return list(tasks), {row.crm_id: row.amount for row in opportunities}


def _sample(rng: random.Random, ids: list[str], share: float) -> list[str]:
    return rng.sample(ids, min(len(ids), math.ceil(len(ids) * share)))


def _patch_collections(sf: Salesforce, updates: list[dict[str, Any]]) -> int:
    """PATCH composite/sobjects, 200 records a call; returns the records updated."""
    updated = 0
    for start in range(0, len(updates), COLLECTION_SIZE):
        body = {"allOrNone": False, "records": updates[start : start + COLLECTION_SIZE]}
        results = cast(
            list[dict[str, Any]], sf.restful("composite/sobjects", method="PATCH", json=body)
        )
        updated += sum(1 for result in results if result.get("success"))
    return updated


def stored_edits(store: Store, connection_id: int) -> dict[str, int]:
    """How many of the edits the store holds after the incremental sync."""
    with store.unit_of_work() as session:
        tasks = session.scalar(
            select(func.count()).where(
                Activity.connection_id == connection_id,
                Activity.subject.startswith(TASK_SUBJECT),
            )
        )
        opportunities = session.scalar(
            select(func.count()).where(
                Opportunity.connection_id == connection_id,
                Opportunity.next_step == OPPORTUNITY_NEXT_STEP,
            )
        )
    return {"Task": int(tasks or 0), "Opportunity": int(opportunities or 0)}


# --------------------------------------------------------------------------- one backend


@dataclass
class BackendRun:
    backend: str
    counts: list[StreamCount] = field(default_factory=list)
    full: dict[str, Any] = field(default_factory=dict)
    full_meter: dict[str, Any] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    baseline: InsertBaseline = field(default_factory=InsertBaseline)
    changes: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    incremental: dict[str, Any] = field(default_factory=dict)
    incremental_meter: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)

    @property
    def full_minimum(self) -> Minimum:
        return full_minimum(self.counts)

    @property
    def incremental_minimum(self) -> Minimum:
        return incremental_minimum(self.changed, self.counts)


@dataclass(frozen=True)
class Context:
    args: argparse.Namespace
    details: dict[str, Any]
    sf: Salesforce
    admin: SandboxAdmin


def run_backend(backend: str, context: Context) -> BackendRun:
    """Every measurement on one backend, from the seeded data (the sandbox is reset)."""
    run = BackendRun(backend)
    args = context.args
    context.admin.reset()
    with scratch_database(backend, args.postgres_url, "sf_store") as url:
        store = migrated_store(url)
        try:
            with store.unit_of_work() as session:
                connection_id = add_connection(
                    session, "bench-salesforce", CrmKind.SALESFORCE, {}
                ).id
            payload = _payload(context, url, connection_id)
            _measure_full(run, context, payload)
            with scratch_database(backend, args.postgres_url, "sf_raw") as raw_url:
                progress(f"{backend}: raw executemany baseline")
                run.baseline = raw_insert_baseline(
                    url, raw_url, connection_id, batch_size=args.batch_size
                )
            _measure_incremental(run, context, store, payload)
        finally:
            store.dispose()
    return run


def _payload(context: Context, url: str, connection_id: int) -> dict[str, Any]:
    credentials = context.details["salesforce"]
    return {
        "database_url": url,
        "connection_id": connection_id,
        "login_url": credentials["instance_url"],
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "ca_bundle": context.details["ca_bundle"],
        "batch_size": context.args.batch_size,
    }


def _measure_full(run: BackendRun, context: Context, payload: dict[str, Any]) -> None:
    progress(f"{run.backend}: counting the sandbox's records")
    now = datetime.fromisoformat(context.admin.now()).astimezone(UTC)
    run.counts = count_streams(context.sf, now)
    print_counts(run)
    progress(f"{run.backend}: first sync (child process)")
    context.admin.reset_meter()
    run.full = run_child(MODULE, {**payload, "mode": "sync"}, timeout=CHILD_TIMEOUT_SECONDS)
    run.full_meter = context.admin.meter()
    progress(f"{run.backend}: first sync took {run.full['wall_seconds']:.1f}s; idle child")
    run.idle = run_child(MODULE, {**payload, "mode": "idle"}, timeout=300)


def _measure_incremental(
    run: BackendRun, context: Context, store: Store, payload: dict[str, Any]
) -> None:
    args = context.args
    since = datetime.fromisoformat(context.admin.now()).astimezone(UTC)
    progress(f"{run.backend}: changing {args.change_share:.1%} of tasks and opportunities")
    run.changes = change_records(
        context.sf, store, payload["connection_id"], args.change_share, args.seed
    )
    run.changed = count_changed(context.sf, since, run.counts)
    progress(f"{run.backend}: incremental sync (child process)")
    context.admin.reset_meter()
    run.incremental = run_child(MODULE, {**payload, "mode": "sync"}, timeout=CHILD_TIMEOUT_SECONDS)
    run.incremental_meter = context.admin.meter()
    run.stored = stored_edits(store, payload["connection_id"])
    print_backend(run)


# --------------------------------------------------------------------------- printing


def print_counts(run: BackendRun) -> None:
    rows = [
        (c.stream, c.sobject if c.present else f"{c.sobject} (absent)", c.in_scope, c.total,
         c.future)
        for c in run.counts
    ]  # fmt: skip
    activities = sum(c.total for c in run.counts if c.sobject in ("Task", "Event"))
    verdict = "ok" if activities >= MIN_ACTIVITIES else f"BELOW {MIN_ACTIVITIES:,}"
    print(f"\n=== {run.backend}: the sandbox's own counts")
    print(table(rows, ("stream", "sObject", "in scope", "total", "future")))
    print(f"activities (Task + Event): {activities:,} ({verdict})", flush=True)


def _api_calls(child: dict[str, Any]) -> int:
    usage = child["usage"]
    return int(usage["calls"]) - int(usage["by_endpoint"].get("oauth token", 0))


def _records(child: dict[str, Any], key: str = "records_read") -> int:
    return sum(int(stream[key]) for stream in child["streams"])


def _meter_line(meter: dict[str, Any]) -> str:
    endpoints = ", ".join(f"{name} {count}" for name, count in meter["by_endpoint"].items())
    return f"meter by endpoint: {endpoints}; by status: {meter['by_status']}"


def print_calls(title: str, child: dict[str, Any], meter: dict[str, Any], minimum: Minimum) -> None:
    used = meter_api_calls(meter, excluded=[OAUTH_ENDPOINT])
    per_stream = {stream["stream"]: stream for stream in child["streams"]}
    rows = [
        (name, pages, per_stream[name]["api_calls"] if name in per_stream else "-",
         per_stream[name]["records_read"] if name in per_stream else "-")
        for name, pages in minimum.pages.items()
    ]  # fmt: skip
    rows += [(f"fixed: {name}", calls, "", "") for name, calls in minimum.fixed.items()]
    print(f"\n--- {title}: API calls")
    print(table(rows, ("minimum part", "calls", "sync's stream calls*", "records read")))
    print("* the sync's per-stream count includes the OAuth token and fixed calls made in it")
    print(_meter_line(meter))
    print(
        f"API calls used (meter, without OAuth): {used:,}; minimum: {minimum.total:,};"
        f" ratio {ratio(used, minimum.total)}"
    )
    print(
        f"connector's ApiUsage.calls: {child['usage']['calls']:,}"
        f" ({_api_calls(child):,} without OAuth; retries {child['usage']['retries']});"
        f" sync status {child['status']}"
    )


def print_throughput(run: BackendRun) -> None:
    records = _records(run.full)
    wall = float(run.full["wall_seconds"])
    rate = records / wall if wall else 0.0
    base = run.baseline
    print(f"\n--- {run.backend}: ingest rate")
    print(
        f"sync: {records:,} records read ({_records(run.full, 'records_upserted'):,} upserted)"
        f" in {wall:.1f}s = {rate:,.0f} records/s"
    )
    print(
        f"raw DBAPI executemany: {base.rows:,} rows ({base.per_table}) in {base.seconds:.1f}s"
        f" = {base.rows_per_second:,.0f} rows/s"
    )
    print(f"sync rate / raw insert rate: {ratio(rate, base.rows_per_second)}")


def print_memory(run: BackendRun) -> None:
    peak, idle = int(run.full["max_rss_bytes"]), int(run.idle["max_rss_bytes"])
    print(f"\n--- {run.backend}: peak RSS of the sync's process (VmHWM)")
    print(
        f"first sync: {mib(peak):,.1f} MiB; same child without the sync: {mib(idle):,.1f} MiB;"
        f" ratio {ratio(peak, idle)} (+{mib(peak - idle):,.1f} MiB);"
        f" incremental sync: {mib(int(run.incremental['max_rss_bytes'])):,.1f} MiB"
    )
    print(
        f"ru_maxrss as the children report it (includes this driver's RSS at spawn, see"
        f" peak_rss_bytes): first sync {mib(int(run.full['ru_maxrss_bytes'])):,.1f} MiB,"
        f" idle {mib(int(run.idle['ru_maxrss_bytes'])):,.1f} MiB"
    )


def print_incremental(run: BackendRun) -> None:
    print(f"\n--- {run.backend}: incremental run after changes")
    print(
        f"changed through the API: {run.changes}; rows stamped since (sandbox): {run.changed};"
        f" edits in the store afterwards: {run.stored}"
    )
    missed = {name: n for name, n in run.changes.items() if run.stored.get(name, 0) < n}
    if missed:
        print(f"WARNING: the incremental sync did not bring every change: {missed}")
    print_calls(
        f"{run.backend} incremental", run.incremental, run.incremental_meter,
        run.incremental_minimum,
    )  # fmt: skip
    print(f"incremental wall time: {float(run.incremental['wall_seconds']):.1f}s")


def print_backend(run: BackendRun) -> None:
    print_calls(f"{run.backend} first sync", run.full, run.full_meter, run.full_minimum)
    print_throughput(run)
    print_memory(run)
    print_incremental(run)
    sys.stdout.flush()


def summary_rows(run: BackendRun) -> list[tuple[object, ...]]:
    full_used = meter_api_calls(run.full_meter, excluded=[OAUTH_ENDPOINT])
    incr_used = meter_api_calls(run.incremental_meter, excluded=[OAUTH_ENDPOINT])
    rate = _records(run.full) / float(run.full["wall_seconds"])
    peak, idle = int(run.full["max_rss_bytes"]), int(run.idle["max_rss_bytes"])
    b = run.backend
    return [
        (b, "(a) full sync API calls", full_used, run.full_minimum.total,
         ratio(full_used, run.full_minimum.total)),
        (b, "(b) records/s, sync vs raw executemany", round(rate),
         round(run.baseline.rows_per_second), ratio(rate, run.baseline.rows_per_second)),
        (b, "(c) peak RSS MiB, sync vs idle child", round(mib(peak), 1),
         round(mib(idle), 1), ratio(peak, idle)),
        (b, "(d) incremental API calls", incr_used, run.incremental_minimum.total,
         ratio(incr_used, run.incremental_minimum.total)),
    ]  # fmt: skip


def print_summary(runs: Sequence[BackendRun]) -> None:
    rows = [row for run in runs for row in summary_rows(run)]
    print("\n=== summary (measured / baseline, both from this run)")
    print(table(rows, ("backend", "figure", "measured", "baseline", "ratio")))


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main()
        return 0
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"org: seed {args.seed}, {args.managers} managers, {args.reps} reps, {args.months} months"
        f" to {args.as_of}, deal scale {args.deal_scale}; all in Salesforce;"
        f" backends: {', '.join(backends)}; batch size {args.batch_size}"
    )
    progress("starting the sandbox (its own process)")
    started = time.perf_counter()
    with SandboxProcess(sandbox_arguments(args)) as details:
        print(f"sandbox ready in {time.perf_counter() - started:.1f}s", flush=True)
        session = tls_session(details["ca_bundle"])
        context = Context(
            args, details, salesforce_client(details),
            SandboxAdmin(details["salesforce"]["instance_url"], session),
        )  # fmt: skip
        runs = [run_backend(backend, context) for backend in backends]
    print_summary(runs)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
