"""Benchmark: evaluating the default rule pack on a large org, against a raw grouped scan.

Run from the project root::

    .venv/bin/python -m bench.evaluate --backend both

The org (:mod:`bench._evaluate_org`, seeded) has 200 reps under 20 managers, 50,000
opportunities over 18 months with their stage, amount and close-date history, quarterly
quotas, and activities; it is written into a freshly migrated store (SQLite in a
temporary file; PostgreSQL in a fresh schema of ``--postgres-url``'s database, dropped
afterwards) through the sync's own batch upsert. Activities then grow in steps
(``--activities``, default 250k, 500k, 1M: each step adds activities over the same
months) and at each step, per backend:

(a) the evaluation: ``evaluate_connection(..., dry_run=True)`` of the default pack
    (applied once per store), as of the org's end: one warm-up run, then the best of
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
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import text

from bench._common import DEFAULT_POSTGRES_URL, migrated_store, progress, ratio, scratch_database
from bench._common import table as text_table
from bench._evaluate_baseline import ScanRun, pack_needs, run_scan, statements
from bench._evaluate_org import OrgShape, SyntheticOrg
from bench._evaluate_same import same_needs, same_statements
from bench._evaluate_timing import EvaluationRun, evaluate_once
from connectors.records import Entity
from service.evaluation.packs import default_pack_dir, load_pack
from service.evaluation.run import evaluate_connection
from service.store import Store
from service.store.connections import add_connection
from service.store.stored_rules import apply_rule
from service.store.tables import CrmKind
from service.store.upserts import CanonicalRecord, upsert

MODULE = "bench.evaluate"
CRM_TABLES = ("reps", "opportunities", "opportunity_changes", "activities", "quotas")
QUICK: dict[str, Any] = {
    "reps": 20, "managers": 4, "opportunities": 1500, "activities": [4000, 8000], "runs": 1,
}  # fmt: skip


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--opportunities", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=18)
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
        type=_instant,
        default=OrgShape().end,
        help="the org's end and the evaluation instant (ISO 8601, UTC if no zone)",
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


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- loading


def load_records(
    store: Store,
    connection_id: int,
    entity: Entity,
    records: Iterable[CanonicalRecord],
    *,
    batch_size: int,
    now: datetime,
) -> int:
    """The sync's own upsert, ``batch_size`` records per statement and per commit."""
    written, batch = 0, []
    for record in records:
        batch.append(record)
        if len(batch) == batch_size:
            written += _write(store, connection_id, entity, batch, now)
            batch = []
    if batch:
        written += _write(store, connection_id, entity, batch, now)
    return written


def _write(
    store: Store, connection_id: int, entity: Entity, batch: list[CanonicalRecord], now: datetime
) -> int:
    with store.unit_of_work() as session:
        return upsert(session, connection_id, entity, batch, now=now)


def load_org(store: Store, org: SyntheticOrg, batch_size: int) -> tuple[int, int]:
    """Reps, quotas, deals and their history, and the default pack; returns
    (connection id, history rows)."""
    now = org.shape.end
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "bench-evaluate", CrmKind.SALESFORCE, {}).id
        for packed in load_pack(default_pack_dir()):
            apply_rule(session, packed.document.model_dump(mode="json"), actor="bench")
    load_records(store, connection_id, Entity.REP, org.reps(), batch_size=batch_size, now=now)
    load_records(store, connection_id, Entity.QUOTA, org.quotas(), batch_size=batch_size, now=now)
    changes = 0
    deals: list[CanonicalRecord] = []
    history: list[CanonicalRecord] = []
    for deal, rows in org.deals():
        deals.append(deal)
        history.extend(rows)
        if len(history) >= batch_size:
            changes += _flush_deals(
                store, connection_id, deals, history, batch_size=batch_size, now=now
            )
            deals, history = [], []
    changes += _flush_deals(store, connection_id, deals, history, batch_size=batch_size, now=now)
    return connection_id, changes


def _flush_deals(
    store: Store,
    connection_id: int,
    deals: list[CanonicalRecord],
    history: list[CanonicalRecord],
    *,
    batch_size: int,
    now: datetime,
) -> int:
    load_records(store, connection_id, Entity.OPPORTUNITY, deals, batch_size=batch_size, now=now)
    return load_records(
        store, connection_id, Entity.OPPORTUNITY_CHANGE, history, batch_size=batch_size, now=now
    )


def settle(store: Store) -> None:
    """PostgreSQL: VACUUM ANALYZE the CRM tables, as autovacuum would after a bulk load."""
    if store.engine.dialect.name != "postgresql":
        return
    with store.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for name in CRM_TABLES:
            autocommit.execute(text(f"VACUUM ANALYZE {name}"))


class _Timed(Protocol):
    @property
    def seconds(self) -> float: ...


_TimedT = TypeVar("_TimedT", bound=_Timed)


def _median_ratio(measured: Sequence[_Timed], baselines: Sequence[_Timed]) -> float:
    """The median of each round's time / that round's baseline: steadier than best /
    best on a machine whose speed wanders."""
    pairs = zip(measured, baselines, strict=True)
    return statistics.median(run.seconds / base.seconds for run, base in pairs)


def _best(runs: Sequence[_TimedT]) -> _TimedT:
    return min(runs, key=lambda run: run.seconds)


# --------------------------------------------------------------------------- one backend


@dataclass
class Step:
    backend: str
    activities: int
    evaluations: list[EvaluationRun] = field(default_factory=list)
    scans: list[ScanRun] = field(default_factory=list)
    same: list[ScanRun] = field(default_factory=list)
    steady: list[EvaluationRun] = field(default_factory=list)
    in_turn: list[EvaluationRun] = field(default_factory=list)
    steady_same: list[ScanRun] = field(default_factory=list)

    @property
    def paired(self) -> float:
        return _median_ratio(self.evaluations, self.same)

    @property
    def steady_paired(self) -> float:
        return _median_ratio(self.steady, self.steady_same)

    @property
    def evaluation(self) -> EvaluationRun:
        return _best(self.evaluations)

    @property
    def steady_state(self) -> EvaluationRun:
        return _best(self.steady)

    @property
    def reads_in_turn(self) -> EvaluationRun:
        return _best(self.in_turn)

    @property
    def scan(self) -> ScanRun:
        return _best(self.scans)

    @property
    def same_scan(self) -> ScanRun:
        return _best(self.same)


def run_backend(backend: str, args: argparse.Namespace) -> list[Step]:
    shape = OrgShape(
        reps=args.reps,
        managers=args.managers,
        opportunities=args.opportunities,
        months=args.months,
        end=args.as_of,
        seed=args.seed,
    )
    org = SyntheticOrg(shape)
    steps = []
    with scratch_database(backend, args.postgres_url, "evaluate") as url:
        store = migrated_store(url)
        try:
            progress(f"{backend}: loading reps, quotas, {shape.opportunities:,} deals")
            connection_id, changes = load_org(store, org, args.batch_size)
            print(
                f"\n=== {backend}: {len(org.reps()):,} users ({shape.reps} reps), "
                f"{shape.opportunities:,} opportunities, {changes:,} history rows, "
                f"quotas {len(org.quotas()):,}",
                flush=True,
            )
            loaded = 0
            for target in args.activities:
                progress(f"{backend}: adding activities {loaded:,} -> {target:,}")
                records = org.activities(loaded, target)
                load_records(
                    store,
                    connection_id,
                    Entity.ACTIVITY,
                    records,
                    batch_size=args.batch_size,
                    now=shape.end,
                )
                loaded = target
                settle(store)
                steps.append(measure_step(backend, store, connection_id, args, target))
        finally:
            store.dispose()
    return steps


def measure_step(
    backend: str, store: Store, connection_id: int, args: argparse.Namespace, activities: int
) -> Step:
    step = Step(backend, activities)
    documents = [packed.document for packed in load_pack(default_pack_dir())]
    dialect = store.engine.dialect.name
    prepared = statements(pack_needs(documents, args.as_of), dialect, connection_id)
    same = same_statements(same_needs(documents, args.as_of), dialect, connection_id)
    progress(f"{backend} @ {activities:,}: warm-ups, then {args.runs} rounds")
    evaluate_once(store, connection_id, args.as_of)
    run_scan(store.engine, prepared)
    run_scan(store.engine, same)
    # Round by round, so a machine that slows down for a while slows all of them alike;
    # each round's evaluation is also divided by the same round's scan (the paired ratio).
    for _ in range(args.runs):
        step.evaluations.append(evaluate_once(store, connection_id, args.as_of))
        step.same.append(run_scan(store.engine, same))
        step.in_turn.append(evaluate_once(store, connection_id, args.as_of, read_ahead=False))
        step.scans.append(run_scan(store.engine, prepared))
    progress(f"{backend} @ {activities:,}: steady state, {args.runs} rounds")
    evaluate_connection(store, connection_id, as_of=args.as_of)
    try:
        for _ in range(args.runs):
            step.steady.append(evaluate_once(store, connection_id, args.as_of))
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


# --------------------------------------------------------------------------- printing


def print_step(step: Step) -> None:
    best, scan, same = step.evaluation, step.scan, step.same_scan
    runs = ", ".join(f"{run.seconds:.2f}" for run in step.evaluations)
    scans = ", ".join(f"{run.seconds:.2f}" for run in step.scans)
    sames = ", ".join(f"{run.seconds:.2f}" for run in step.same)
    print(f"\n--- {step.backend} @ {step.activities:,} activities")
    print(
        f"evaluation (dry run): best {best.seconds:.2f}s of [{runs}];"
        f" would open {best.opened:,} findings, queue {best.tasks:,} coaching tasks"
    )
    print(f"raw scan of the same aggregates: best {same.seconds:.2f}s of [{sames}]")
    print(
        f"evaluation / same aggregates: {ratio(best.seconds, same.seconds)}"
        f" (best / best); {step.paired:.2f} (median of the rounds' own ratios)"
    )
    in_turn = step.reads_in_turn
    in_turns = ", ".join(f"{run.seconds:.2f}" for run in step.in_turn)
    print(
        f"evaluation with the reads in turn (no read-ahead): best {in_turn.seconds:.2f}s of"
        f" [{in_turns}]; / same aggregates: {ratio(in_turn.seconds, same.seconds)}"
    )
    print(f"floor (every row once, at t only): best {scan.seconds:.2f}s of [{scans}]")
    print(f"evaluation / floor: {ratio(best.seconds, scan.seconds)}")
    steady = step.steady_state
    steadies = ", ".join(f"{run.seconds:.2f}" for run in step.steady)
    print(
        f"steady state (findings already open, kept): best {steady.seconds:.2f}s of"
        f" [{steadies}]; would open {steady.opened:,}; / same aggregates:"
        f" {ratio(steady.seconds, same.seconds)} (best / best), {step.steady_paired:.2f}"
        f" (median of the rounds' own ratios); / floor: {ratio(steady.seconds, scan.seconds)}"
    )
    print(text_table(breakdown(best), ("evaluation part", "seconds", "share")))
    print(text_table(breakdown(steady), ("steady-state part", "seconds", "share")))
    for title, run in (("same-aggregates statement", same), ("floor statement", scan)):
        rows = [(name, round(sec, 3), run.rows[name]) for name, sec in run.per_statement.items()]
        print(text_table(rows, (title, "seconds", "rows")), flush=True)


def breakdown(run: EvaluationRun) -> list[tuple[object, ...]]:
    """The evaluation's parts, slowest metric first; they add up to its wall time."""
    clock = run.clock
    parts = sorted(clock.spent.items(), key=lambda item: -item[1])
    rest = run.seconds - sum(clock.spent.values()) - clock.other_sql
    parts += [
        (f"other SQL: {clock.other_statements:,} statements (findings, tasks, events)",
         clock.other_sql),
        ("rules core, evidence, ORM (the rest, not overlapped by reads)", rest),
    ]  # fmt: skip
    return [
        (label, round(seconds, 3), f"{seconds / run.seconds:.0%}" if run.seconds else "")
        for label, seconds in parts
    ]


def summary_rows(steps: Sequence[Step]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    first = steps[0]
    for step in steps:
        evaluation, scan = step.evaluation.seconds, step.scan.seconds
        same, steady = step.same_scan.seconds, step.steady_state.seconds
        in_turn = step.reads_in_turn.seconds
        rows.append(
            (
                step.backend,
                step.activities,
                round(evaluation, 2),
                round(same, 2),
                ratio(evaluation, same),
                f"{step.paired:.2f}",
                ratio(steady, same),
                f"{step.steady_paired:.2f}",
                ratio(in_turn, same),
                round(scan, 2),
                ratio(evaluation, scan),
                ratio(evaluation, first.evaluation.seconds),
                ratio(same, first.same_scan.seconds),
                ratio(step.activities, first.activities),
            )
        )
    return rows


def print_summary(steps_by_backend: Sequence[list[Step]]) -> None:
    rows = [row for steps in steps_by_backend if steps for row in summary_rows(steps)]
    header = (
        "backend", "activities", "evaluation s", "same aggr. s", "ratio", "paired",
        "steady ratio", "steady paired", "in-turn ratio",
        "floor s", "/ floor", "eval growth", "same growth", "activity growth",
    )  # fmt: skip
    print(
        "\n=== summary (evaluation / raw scan of the same aggregates; the floor for reference;"
        " growth = time / time at the first step)"
    )
    print(text_table(rows, header), flush=True)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"org: seed {args.seed}, {args.managers} managers, {args.reps} reps,"
        f" {args.opportunities:,} opportunities over {args.months} months to"
        f" {args.as_of.isoformat()}; activity steps {', '.join(f'{n:,}' for n in args.activities)};"
        f" best of {args.runs}; backends: {', '.join(backends)}"
    )
    results = [run_backend(backend, args) for backend in backends]
    print_summary(results)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
