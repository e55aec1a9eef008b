"""Benchmark: evaluating the default rule pack on a large org, against a raw grouped scan.

Run from the project root::

    .venv/bin/python -m bench.evaluate --backend both

The org is the sandbox's (:mod:`bench.org_records`: ``sandbox.org.generate_org``,
seeded, mapped to the canonical records a Salesforce sync writes): 200 reps under 20
managers with 18 months of history at the sandbox's own rates (``--deal-scale`` 1: about
31,000 opportunities with 150,000 stage, amount and close-date history rows, quarterly
quotas, and 2.2 million activities), written into a freshly migrated store per backend
(SQLite in a temporary file; PostgreSQL in a fresh schema of ``--postgres-url``'s
database, dropped afterwards) through the sync's own batch upsert
(:mod:`bench._evaluate_load`). Generating it takes about 16 s and 1 GB of memory, and it
is generated again for every step and let go before the step is measured: a heap that
held it would make every full pass of the garbage collector walk it during the
evaluation, which the service never pays (seen on SQLite at 250k activities: rounds of
3.1, 4.3 and 4.4 s with the org held, 3.4 to 3.5 s once it is let go). Activities grow
in steps (``--activities``, default 250k, 500k, 1M): each step adds the next activities
of one seeded random order of the org's, so a step is a uniform sample of the same reps,
deals and months, denser than the one before and holding all of its activities. At
each step, per backend:

(a) the evaluation: ``evaluate_connection(..., dry_run=True)`` of the default pack
    (applied once per store), as of the org's end (noon UTC the day after ``--as-of``,
    when that day is over in every rep's time zone): one warm-up run, then the best of
    ``--runs``. Its parts are timed too (:mod:`bench._evaluate_timing`): each
    ``measure`` call of the metric source, slowest first; the SQL outside the source
    (findings, transitions, tasks and events written, then rolled back); and the rest
    (the rules core, evidence, the ORM, as far as it did not overlap the metric reads,
    which run ahead on a worker thread). The parts add up to the wall time. The same
    evaluation with the reads in turn (``read_ahead=False``: no overlap) is timed too,
    best of ``--runs``, to show what the overlap buys.
(b) the raw scan (:mod:`bench._evaluate_baseline`, whose docstring says exactly what it
    computes and why it is a fair floor): one grouped statement per table family
    through the DBAPI, best of ``--runs``.
(c) the steady state: the evaluation applied for real once (its findings committed),
    then dry runs again at the same instant, best of ``--runs``: what a scheduled run
    costs when the findings it judges are already open (it only keeps them). The
    findings, tasks and events are deleted afterwards, so every step's (a) is a first
    evaluation.

The runs go in rounds (an evaluation, the scan of the same aggregates, the evaluation
with its reads in turn, the floor; in the steady state an evaluation and a scan), after
one warm-up of each, so a shared machine that slows down for a while slows every kind
alike. Besides best / best, each round's evaluation is divided by the same round's scan
and the median of those ratios is printed ("paired"), the steadier figure when the
machine's speed wanders.

It prints evaluation / raw scan per step, and growth: each step's time / the first
step's, next to activities / the first step's activities. PostgreSQL gets ``VACUUM
ANALYZE`` after each load (what autovacuum does after a bulk load, done at a known
moment so every run sees the same statistics); SQLite gets no ``ANALYZE``, as the
service never runs one.

This is a benchmark, not a test: it asserts nothing about time; it prints figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text

from bench._common import DEFAULT_POSTGRES_URL, migrated_store, progress, scratch_database
from bench._evaluate_baseline import pack_needs, run_scan, statements
from bench._evaluate_load import load_org, load_records, settle
from bench._evaluate_report import Step, print_step, print_summary
from bench._evaluate_same import same_needs, same_statements
from bench._evaluate_timing import evaluate_once
from bench.org_records import BenchOrg, OrgShape
from connectors.records import Entity
from service.evaluation.packs import default_pack_dir, load_pack
from service.evaluation.run import evaluate_connection
from service.store import Store

MODULE = "bench.evaluate"
QUICK: dict[str, Any] = {
    "reps": 20, "managers": 4, "months": 12, "deal_scale": 0.5, "activities": [4000, 8000],
    "runs": 1,
}  # fmt: skip


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument(
        "--deal-scale",
        type=float,
        default=1.0,
        help="the sandbox generator's deal and activity rates (1: a real org's)",
    )
    parser.add_argument(
        "--activities",
        type=_counts,
        default=_counts("250000,500000,1000000"),
        help="activity counts to measure at, ascending, comma-separated",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (best kept)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=OrgShape().as_of,
        help="the org's last day; the evaluation runs as of its end",
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--quick", action="store_true", help="a tiny org: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:  # smaller defaults; options given explicitly still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    return args


def _counts(value: str) -> list[int]:
    counts = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    if not counts or counts != sorted(set(counts)) or counts[0] <= 0:
        raise argparse.ArgumentTypeError("give positive, ascending counts such as 250000,500000")
    return counts


def shape_of(args: argparse.Namespace) -> OrgShape:
    return OrgShape(
        reps=args.reps,
        managers=args.managers,
        months=args.months,
        deal_scale=args.deal_scale,
        seed=args.seed,
        as_of=args.as_of,
    )


# --------------------------------------------------------------------------- one backend


class TooFewActivities(Exception):  # noqa: N818 - reads as the reason where it is raised
    def __init__(self, available: int) -> None:
        super().__init__(f"the org has {available:,} activities")
        self.available = available


def run_backend(backend: str, args: argparse.Namespace) -> list[Step]:
    end = shape_of(args).end
    steps = []
    with scratch_database(backend, args.postgres_url, "evaluate") as url:
        store = migrated_store(url)
        try:
            connection_id, loaded = None, 0
            for target in args.activities:
                connection_id = grow(
                    store, connection_id, backend=backend, args=args, loaded=loaded, target=target
                )
                loaded = target
                settle(store)
                steps.append(
                    measure_step(backend, store, connection_id, args, activities=target, at=end)
                )
        finally:
            store.dispose()
    return steps


def grow(
    store: Store,
    connection_id: int | None,
    *,
    backend: str,
    args: argparse.Namespace,
    loaded: int,
    target: int,
) -> int:
    """Generate the org and load what this step adds (the whole org at the first step);
    the org is let go before anything is measured.

    The generated org takes about a gigabyte of Python objects. Kept alive beside the
    evaluation, every full pass of the garbage collector would walk it too, a cost the
    service, whose heap holds no org, never pays; so it is generated again per step."""
    started = time.perf_counter()
    org = BenchOrg(shape_of(args))
    progress(f"{backend}: org generated in {time.perf_counter() - started:.1f}s")
    if args.activities[-1] > org.activity_count:
        raise TooFewActivities(org.activity_count)
    if connection_id is None:
        progress(f"{backend}: loading reps, quotas, {len(org.org.deals):,} deals")
        connection_id, changes = load_org(store, org, args.batch_size)
        print(
            f"\n=== {backend}: {len(org.org.users):,} users ({len(org.org.reps)} reps), "
            f"{len(org.org.deals):,} opportunities, {changes:,} history rows, "
            f"quotas {len(org.org.quotas):,}; activities drawn from {org.activity_count:,}",
            flush=True,
        )
    progress(f"{backend}: adding activities {loaded:,} -> {target:,}")
    records = org.activities(loaded, target)
    load_records(
        store, connection_id, Entity.ACTIVITY, records, batch_size=args.batch_size,
        now=org.shape.end,
    )  # fmt: skip
    return connection_id


def measure_step(
    backend: str,
    store: Store,
    connection_id: int,
    args: argparse.Namespace,
    *,
    activities: int,
    at: datetime,
) -> Step:
    """One step's rounds, as of ``at``: first evaluation, scans, then the steady state."""
    step = Step(backend, activities)
    documents = [packed.document for packed in load_pack(default_pack_dir())]
    dialect = store.engine.dialect.name
    prepared = statements(pack_needs(documents, at), dialect, connection_id)
    same = same_statements(same_needs(documents, at), dialect, connection_id)
    progress(f"{backend} @ {activities:,}: warm-ups, then {args.runs} rounds")
    evaluate_once(store, connection_id, at)
    run_scan(store.engine, prepared)
    run_scan(store.engine, same)
    # Round by round, so a machine that slows down for a while slows all of them alike;
    # each round's evaluation is also divided by the same round's scan (the paired ratio).
    for _ in range(args.runs):
        step.evaluations.append(evaluate_once(store, connection_id, at))
        step.same.append(run_scan(store.engine, same))
        step.in_turn.append(evaluate_once(store, connection_id, at, read_ahead=False))
        step.scans.append(run_scan(store.engine, prepared))
    progress(f"{backend} @ {activities:,}: steady state, {args.runs} rounds")
    evaluate_connection(store, connection_id, as_of=at)
    try:
        for _ in range(args.runs):
            step.steady.append(evaluate_once(store, connection_id, at))
            step.steady_same.append(run_scan(store.engine, same))
    finally:
        forget_findings(store)
    print_step(step)
    return step


def forget_findings(store: Store) -> None:
    """Back to a store without findings, so the next step's evaluation is a first one."""
    with store.unit_of_work() as session:
        for name in ("webhook_events", "crm_writes", "finding_transitions", "findings"):
            session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - fixed names


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"org: seed {args.seed}, {args.managers} managers, {args.reps} reps, deal scale"
        f" {args.deal_scale} over {args.months} months to {args.as_of.isoformat()};"
        f" activity steps {', '.join(f'{n:,}' for n in args.activities)};"
        f" best of {args.runs}; backends: {', '.join(backends)}"
    )
    try:
        results = [run_backend(backend, args) for backend in backends]
    except TooFewActivities as short:
        print(
            f"the largest step ({args.activities[-1]:,}) exceeds the org's {short.available:,}"
            " activities: raise --deal-scale or --months, or lower --activities",
            file=sys.stderr,
        )
        return 2
    print_summary(results)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
