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
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from pydantic import SecretStr

from bench import _sync_run as shared
from bench._common import SandboxAdmin, SandboxProcess, ceil_div, meter_api_calls, mib, ratio, table
from bench._sync_child import child_main
from bench._sync_run import BackendRun, SyncBench, live_ids, meter_line, records, sample
from bench.hubspot_driver import Driver
from connectors.hubspot import HubSpotConfig, HubSpotConnector, PrivateAppAuth
from connectors.hubspot.streams import SPECS
from service.store import Store
from service.store.tables import Activity, CrmKind

MODULE = "bench.sync_hubspot"
SEARCH_PAGE, LIST_PAGE, HISTORY_PAGE, ASSOCIATION_BATCH, OWNER_PAGE = 200, 100, 50, 1000, 500
BUDGET, INTERVAL, SEARCHES_PER_SECOND = 100, 10.0, 5
#: --limits: (10-second budget, searches per second), set on the sandbox and the connector.
LIMITS = {"portal": (100, 5), "capacity": (10_000, 500)}
OAUTH_ENDPOINT = "POST /oauth/v1/token"
CALL_TITLE = "Bench follow-up"
NEXT_STEP = "Bench: re-quoted"
ENGAGEMENTS = [spec.object_type for spec in SPECS if spec.kind is not None]
Run = BackendRun[dict[str, int]]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = shared.argument_parser(MODULE, __doc__, reps=40, managers=4, deal_scale=0.5)
    parser.add_argument(
        "--limits",
        choices=tuple(LIMITS),
        default="portal",
        help="portal: HubSpot's 100 per 10 s and 5 searches/s (default); capacity: limits"
        " raised 100-fold on both sides, to measure what the pipeline itself can ingest",
    )
    return parser.parse_args(argv)


def sandbox_arguments(args: argparse.Namespace) -> list[str]:
    return [
        *shared.sandbox_arguments(args, "hubspot"),
        "--hubspot-ten-second-budget", str(BUDGET),
        "--hubspot-searches-per-second", str(SEARCHES_PER_SECOND),
    ]  # fmt: skip


def connector(payload: dict[str, Any]) -> HubSpotConnector:
    """The measured sync's connector (in the child), from the driver's payload."""
    budget, searches = payload["limits"]
    config = HubSpotConfig(
        auth=PrivateAppAuth(access_token=SecretStr(payload["access_token"])),
        base_url=payload["base_url"],
        pacing={"ten_second_budget": budget, "searches_per_second": searches},
    )
    # The connector reads the sandbox's clock (the driver moves it past the index lag).
    offset = timedelta(seconds=float(payload["clock_offset_seconds"]))
    return HubSpotConnector(config, clock=lambda: datetime.now(UTC) + offset)


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


# --------------------------------------------------------------------------- the run


class HubSpotBench(SyncBench[dict[str, int]]):
    module = MODULE
    crm = ("bench-hubspot", CrmKind.HUBSPOT)
    label = "hs"
    changing = "calls and deals"
    child_timeout = 3600.0

    def __init__(
        self, args: argparse.Namespace, details: dict[str, Any], sandbox: SandboxProcess
    ) -> None:
        super().__init__(args, details, sandbox)
        session = requests.Session()
        session.trust_env = False  # nothing between this driver and 127.0.0.1
        self._admin = SandboxAdmin(details["hubspot"]["base_url"], session)
        self.driver = Driver.connect(details["hubspot"])

    @property
    def admin(self) -> SandboxAdmin:
        return self._admin

    def close(self) -> None:
        self.driver.close()

    def payload(self) -> dict[str, Any]:
        hubspot = self.details["hubspot"]
        return {
            "base_url": hubspot["base_url"],
            "access_token": hubspot["access_token"],
            "clock_offset_seconds": 0.0,
            "limits": [BUDGET, SEARCHES_PER_SECOND],
        }

    def count(self, backend: str, now: datetime) -> dict[str, int]:
        counts = self.driver.counts(now - timedelta(days=400))
        print(f"\n=== {backend}: the sandbox's own counts")
        print(table(sorted(counts.items()), ("what", "records")), flush=True)
        time.sleep(1.5)  # the driver's searches leave the per-second window first
        return counts

    def change(
        self, run: Run, store: Store, payload: dict[str, Any], since: datetime
    ) -> dict[str, Any]:
        args, driver = self.args, self.driver
        calls, deals = live_ids(store, payload["connection_id"], Activity.kind == "call")
        rng = random.Random(args.seed)
        run.changes = {
            "calls": driver.update("calls", sample(rng, calls, args.change_share),
                                   lambda _: {"hs_call_title": CALL_TITLE}),
            "deals": driver.update("deals", sample(rng, sorted(deals), args.change_share),
                                   lambda i: {"amount": str((deals[i] or 0) + 1000),
                                              "hs_next_step": NEXT_STEP}),
        }  # fmt: skip
        # The connector's search windows end 60 s before "now" (the index lags): let that pass.
        offset = self._advance_clock(120)
        run.changed = driver.changed(since)
        time.sleep(1.5)
        return {**payload, "clock_offset_seconds": offset}

    def _advance_clock(self, seconds: float) -> float:
        """Move the sandbox's clock on; returns its offset from this machine's clock."""
        url = f"{self.details['hubspot']['base_url']}/__sandbox/clock"
        answer = self.admin.session.post(url, json={"advance_seconds": seconds}, timeout=60)
        answer.raise_for_status()
        moved = datetime.fromisoformat(answer.json()["now"])
        return (moved - datetime.now(UTC)).total_seconds()

    def stored_edits(self, store: Store, connection_id: int) -> dict[str, int]:
        calls, deals = shared.stored_edits(
            store, connection_id, Activity.subject == CALL_TITLE, NEXT_STEP
        )
        return {"calls": calls, "deals": deals}

    def print_backend(self, run: Run) -> None:
        print_backend(run)

    def summary_rows(self, run: Run) -> list[tuple[object, ...]]:
        return summary_rows(run)


# --------------------------------------------------------------------------- printing


def _used(meter: dict[str, Any]) -> int:
    return meter_api_calls(meter, excluded=[OAUTH_ENDPOINT])


def print_calls(title: str, child: dict[str, Any], meter: dict[str, Any], minimum: Minimum) -> None:
    used = _used(meter)
    print(f"\n--- {title}: API calls")
    print(table(list(minimum.parts.items()), ("minimum part", "calls")))
    print(meter_line(meter))
    print(
        f"API calls used (meter): {used:,}; minimum: {minimum.total:,};"
        f" ratio {ratio(used, minimum.total)}; connector's count {child['usage']['calls']:,}"
        f" (retries {child['usage']['retries']}); sync status {child['status']}"
    )


def _rates(run: Run) -> tuple[float, float, float]:
    """Records per second over the wall time, over the time not waiting on the limits,
    and over the time spent in store transactions."""
    read, wall = records(run.full), float(run.full["wall_seconds"])
    unpaced = wall - float(run.full["usage"]["waited_seconds"])
    own = float(run.full["write_seconds"])
    plain, not_paced, own_work = (read / span if span > 0 else 0.0 for span in (wall, unpaced, own))
    return plain, not_paced, own_work


def print_throughput(run: Run) -> None:
    rates, base, full = _rates(run), run.baseline, run.full
    waited, writes = float(full["usage"]["waited_seconds"]), float(full["write_seconds"])
    print(f"\n--- {run.backend}: ingest rate")
    print(
        f"sync: {records(full):,} records in {float(full['wall_seconds']):.1f}s: the reader"
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


def print_waits(run: Run) -> None:
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


def print_backend(run: Run) -> None:
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


def summary_rows(run: Run) -> list[tuple[object, ...]]:
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
        child_main(connector, report_every=25_000)
        return 0
    global BUDGET, SEARCHES_PER_SECOND  # one run, one set of limits
    BUDGET, SEARCHES_PER_SECOND = LIMITS[args.limits]
    header = (
        f"{shared.org_line(args)}; all in HubSpot (limits {BUDGET} per {INTERVAL:.0f} s,"
        f" {SEARCHES_PER_SECOND} searches/s); backends: {', '.join(shared.backends(args))}"
    )
    return shared.main(HubSpotBench, args, sandbox_arguments(args), header)


if __name__ == "__main__":
    sys.exit(main())
