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
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from bench import _sync_run as shared
from bench._common import (
    SandboxAdmin,
    SandboxProcess,
    ceil_div,
    meter_api_calls,
    mib,
    ratio,
    table,
    tls_session,
)
from bench._sync_child import child_main
from bench._sync_run import BackendRun, SyncBench, meter_line, records
from bench.salesforce_driver import (
    API_VERSION,
    OPPORTUNITY_NEXT_STEP,
    TASK_SUBJECT,
    StreamCount,
    change_records,
    count_changed,
    count_streams,
    salesforce_client,
)
from connectors.salesforce import ClientCredentialsAuth, SalesforceConfig, SalesforceConnector
from connectors.salesforce.streams import SPECS
from service.store import Store
from service.store.tables import Activity, CrmKind

MODULE = "bench.sync_salesforce"
PAGE_SIZE = 2000  # Salesforce's largest query batch
OAUTH_ENDPOINT = "POST oauth token"
MIN_ACTIVITIES = 500_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = shared.argument_parser(MODULE, __doc__, reps=200, managers=20, deal_scale=0.37)
    return parser.parse_args(argv)


def connector(payload: dict[str, Any]) -> SalesforceConnector:
    """The measured sync's connector (in the child), from the driver's payload."""
    return SalesforceConnector(
        SalesforceConfig(
            auth=ClientCredentialsAuth(
                client_id=payload["client_id"], client_secret=SecretStr(payload["client_secret"])
            ),
            login_url=payload["login_url"],
            ca_bundle=payload["ca_bundle"],
            api_version=API_VERSION,
        )
    )


# --------------------------------------------------------------------------- minimums


@dataclass(frozen=True)
class Minimum:
    """The fewest API calls that can do a run: query pages per stream plus fixed calls."""

    pages: dict[str, int]
    fixed: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.pages.values()) + sum(self.fixed.values())


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


Run = BackendRun[list[StreamCount]]


# --------------------------------------------------------------------------- the run


class SalesforceBench(SyncBench[list[StreamCount]]):
    module = MODULE
    crm = ("bench-salesforce", CrmKind.SALESFORCE)
    label = "sf"
    changing = "tasks and opportunities"
    child_timeout = 1800.0

    def __init__(
        self, args: argparse.Namespace, details: dict[str, Any], sandbox: SandboxProcess
    ) -> None:
        super().__init__(args, details, sandbox)
        self.sf = salesforce_client(details)
        session = tls_session(details["ca_bundle"])
        self._admin = SandboxAdmin(details["salesforce"]["instance_url"], session)

    @property
    def admin(self) -> SandboxAdmin:
        return self._admin

    def payload(self) -> dict[str, Any]:
        credentials = self.details["salesforce"]
        return {
            "login_url": credentials["instance_url"],
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "ca_bundle": self.details["ca_bundle"],
        }

    def count(self, backend: str, now: datetime) -> list[StreamCount]:
        counts = count_streams(self.sf, now)
        print_counts(backend, counts)
        return counts

    def change(
        self,
        run: Run,
        store: Store,
        payload: dict[str, Any],
        since: datetime,
    ) -> dict[str, Any]:
        share, seed = self.args.change_share, self.args.seed
        run.changes = change_records(self.sf, store, payload["connection_id"], share, seed)
        run.changed = count_changed(self.sf, since, run.counts)
        return payload

    def stored_edits(self, store: Store, connection_id: int) -> dict[str, int]:
        """How many of the edits the store holds after the incremental sync."""
        tasks, opportunities = shared.stored_edits(
            store, connection_id, Activity.subject.startswith(TASK_SUBJECT), OPPORTUNITY_NEXT_STEP
        )
        return {"Task": tasks, "Opportunity": opportunities}

    def print_backend(self, run: Run) -> None:
        print_calls(f"{run.backend} first sync", run.full, run.full_meter, full_minimum(run.counts))
        print_throughput(run)
        print_memory(run)
        print_incremental(run)
        sys.stdout.flush()

    def summary_rows(self, run: Run) -> list[tuple[object, ...]]:
        return summary_rows(run)


# --------------------------------------------------------------------------- printing


def print_counts(backend: str, counts: Sequence[StreamCount]) -> None:
    rows = [
        (c.stream, c.sobject if c.present else f"{c.sobject} (absent)", c.in_scope, c.total,
         c.future)
        for c in counts
    ]  # fmt: skip
    activities = sum(c.total for c in counts if c.sobject in ("Task", "Event"))
    verdict = "ok" if activities >= MIN_ACTIVITIES else f"BELOW {MIN_ACTIVITIES:,}"
    print(f"\n=== {backend}: the sandbox's own counts")
    print(table(rows, ("stream", "sObject", "in scope", "total", "future")))
    print(f"activities (Task + Event): {activities:,} ({verdict})", flush=True)


def _api_calls(child: dict[str, Any]) -> int:
    usage = child["usage"]
    return int(usage["calls"]) - int(usage["by_endpoint"].get("oauth token", 0))


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
    print(meter_line(meter))
    print(
        f"API calls used (meter, without OAuth): {used:,}; minimum: {minimum.total:,};"
        f" ratio {ratio(used, minimum.total)}"
    )
    print(
        f"connector's ApiUsage.calls: {child['usage']['calls']:,}"
        f" ({_api_calls(child):,} without OAuth; retries {child['usage']['retries']});"
        f" sync status {child['status']}"
    )


def print_throughput(run: Run) -> None:
    read = records(run.full)
    wall = float(run.full["wall_seconds"])
    rate = read / wall if wall else 0.0
    base = run.baseline
    print(f"\n--- {run.backend}: ingest rate")
    print(
        f"sync: {read:,} records read ({records(run.full, 'records_upserted'):,} upserted)"
        f" in {wall:.1f}s = {rate:,.0f} records/s"
    )
    print(
        f"raw DBAPI executemany: {base.rows:,} rows ({base.per_table}) in {base.seconds:.1f}s"
        f" = {base.rows_per_second:,.0f} rows/s"
    )
    print(f"sync rate / raw insert rate: {ratio(rate, base.rows_per_second)}")


def print_memory(run: Run) -> None:
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


def print_incremental(run: Run) -> None:
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
        incremental_minimum(run.changed, run.counts),
    )  # fmt: skip
    print(f"incremental wall time: {float(run.incremental['wall_seconds']):.1f}s")


def summary_rows(run: Run) -> list[tuple[object, ...]]:
    full_used = meter_api_calls(run.full_meter, excluded=[OAUTH_ENDPOINT])
    incr_used = meter_api_calls(run.incremental_meter, excluded=[OAUTH_ENDPOINT])
    rate = records(run.full) / float(run.full["wall_seconds"])
    peak, idle = int(run.full["max_rss_bytes"]), int(run.idle["max_rss_bytes"])
    full_min = full_minimum(run.counts).total
    incr_min = incremental_minimum(run.changed, run.counts).total
    b = run.backend
    return [
        (b, "(a) full sync API calls", full_used, full_min, ratio(full_used, full_min)),
        (b, "(b) records/s, sync vs raw executemany", round(rate),
         round(run.baseline.rows_per_second), ratio(rate, run.baseline.rows_per_second)),
        (b, "(c) peak RSS MiB, sync vs idle child", round(mib(peak), 1),
         round(mib(idle), 1), ratio(peak, idle)),
        (b, "(d) incremental API calls", incr_used, incr_min, ratio(incr_used, incr_min)),
    ]  # fmt: skip


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(connector, report_every=100_000)
        return 0
    header = (
        f"{shared.org_line(args)}; all in Salesforce;"
        f" backends: {', '.join(shared.backends(args))}; batch size {args.batch_size}"
    )
    options = shared.sandbox_arguments(args, "salesforce")
    return shared.main(SalesforceBench, args, options, header)


if __name__ == "__main__":
    sys.exit(main())
