"""Benchmark: the backtest on the sandbox's seeded orgs, scored against their ground truth.

Run from the project root::

    .venv/bin/python -m bench.backtest                       # sizes 30x12 and 100x18, 3 seeds
    .venv/bin/python -m bench.backtest --sizes 200x18 --seeds 7 --backend postgresql
    .venv/bin/python -m bench.backtest --sizes 24x18,200x18 --quarters 4 --runs 0  # signal

For every backend, size (``REPSxMONTHS``) and seed, the org (:mod:`bench.org_records`: the
sandbox's generator, mapped to what a Salesforce sync writes, every activity included) is
loaded into a fresh, migrated store with the default pack, and then:

* **scores**: ``run_backtest`` over the last ``--weeks`` weeks, one evaluation per week,
  against the quota periods that ended in that range. A period is missed below the
  generator's own line (80% of quota, :data:`sandbox.org.model.MISS_THRESHOLD`), and the
  generator's ground truth (which reps drift, from when) gives the figures "with cause".
  Printed for the pack and each rule: recall of the misses, precision, recall of the
  drifting reps' misses (c.rec.), the share of flagged rep-periods whose rep really
  drifted (c.prec.), median lead in days, findings and coaching tasks per manager-week
  and hygiene tasks per rep-week. A rule flags a rep-period with a live finding; the
  pack, with a coaching task someone received. Before them, per persona of the
  generator (steady, drifting, noisy, unlucky, ramping): rep-quarters and misses, how
  many the pack flagged, and coaching tasks about those reps per rep-week.
* **time**: the replay (each metric measured once for every step), the replay measuring
  step by step as a live evaluation does, and as many live evaluations (dry runs:
  written, then rolled back) at the same instants; each best of ``--runs``, in rounds so
  a machine that slows down slows all three. Printed as replay / live (goal: 0.3x or
  less) and step-by-step / live. ``--runs 0`` skips the timing.

It asserts nothing; it prints figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bench._common import DEFAULT_POSTGRES_URL, migrated_store, progress, scratch_database
from bench._evaluate_load import load_whole_org, settle
from bench.org_records import BenchOrg, OrgShape
from rules.backtest import replay_moments
from rules.backtest_scoring import Score
from rules.documents import VersionedRule
from rules.evaluation import CreateCoachingTask
from rules.formatting import days_text, share_text
from rules.periods import PeriodUnit, previous_start, unit_start
from sandbox.org.model import MISS_THRESHOLD, Persona
from service.backtest.replay import replay_connection
from service.backtest.run import Backtest, run_backtest
from service.evaluation.run import evaluate_connection, stored_rules
from service.store import Store


@dataclass(frozen=True)
class Size:
    reps: int
    months: int

    @property
    def label(self) -> str:
        return f"{self.reps} reps x {self.months} months"


@dataclass(frozen=True)
class Timing:
    replay: float
    step_by_step: float
    live: float


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    sizes = [_size(text) for text in args.sizes.split(",")]
    seeds = [int(seed) for seed in args.seeds.split(",")]
    for backend in backends:
        for size in sizes:
            for seed in seeds:
                _one(backend, size, seed, args)
    return 0


def _one(backend: str, size: Size, seed: int, args: argparse.Namespace) -> None:
    shape = OrgShape(
        reps=size.reps,
        managers=max(1, size.reps // 10),
        months=size.months,
        deal_scale=args.deal_scale,
        seed=seed,
    )
    progress(f"{backend}, {size.label}, seed {seed}: generating and loading the org")
    with scratch_database(backend, args.postgres_url, "backtest") as url:
        store = migrated_store(url)
        try:
            connection_id, causes, personas = _load(store, shape)
            rules = _rules(store)
            start = _start(shape, args)
            progress("backtest (scores)")
            backtest = run_backtest(
                store, connection_id, rules, start, shape.end, miss_below=float(MISS_THRESHOLD),
                causes=causes,
            )  # fmt: skip
            timing = _time(store, connection_id, rules, backtest, args.runs) if args.runs else None
        finally:
            store.dispose()
    _print(backend, size, seed, backtest, timing, personas=personas)


def _start(shape: OrgShape, args: argparse.Namespace) -> datetime:
    """``--weeks`` back from the org's end, or the start of the ``--quarters``-th last
    complete quarter."""
    if args.quarters is None:
        return shape.end - timedelta(weeks=args.weeks)
    start = unit_start(shape.end, PeriodUnit.QUARTER)  # the quarter in progress
    for _ in range(args.quarters):
        start = previous_start(start, PeriodUnit.QUARTER)
    return start


def _load(store: Store, shape: OrgShape) -> tuple[int, dict[str, date], dict[str, Persona]]:
    """The loaded connection, the drifting reps' drift starts and every rep's persona,
    both by CRM id."""
    org = BenchOrg(shape)
    connection_id = load_whole_org(store, org)
    settle(store)
    ids = {user.id: crm for user in org.org.users if (crm := org.crm_id(user.id))}
    causes = {
        ids[truth.user_id]: truth.drift_start
        for truth in org.org.truth
        if truth.drifts and truth.drift_start is not None and truth.user_id in ids
    }
    personas = {ids[t.user_id]: t.persona for t in org.org.truth if t.user_id in ids}
    return connection_id, causes, personas


def _rules(store: Store) -> list[VersionedRule]:
    with store.unit_of_work() as session:
        return stored_rules(session)[0]


def _time(
    store: Store, connection_id: int, rules: list[VersionedRule], backtest: Backtest, runs: int
) -> Timing:
    moments = replay_moments(backtest.start, backtest.end)
    replay, step_by_step, live = [], [], []
    for round_ in range(runs):
        progress(f"timing, round {round_ + 1} of {runs}")
        started = time.perf_counter()
        replay_connection(store, connection_id, rules, moments)
        replay.append(time.perf_counter() - started)
        started = time.perf_counter()
        replay_connection(store, connection_id, rules, moments, reuse=False)
        step_by_step.append(time.perf_counter() - started)
        started = time.perf_counter()
        for moment in moments:
            evaluate_connection(store, connection_id, as_of=moment, dry_run=True)
        live.append(time.perf_counter() - started)
    return Timing(min(replay), min(step_by_step), min(live))


def _print(
    backend: str,
    size: Size,
    seed: int,
    backtest: Backtest,
    timing: Timing | None,
    *,
    personas: dict[str, Persona],
) -> None:
    scores = backtest.scores
    steps = len(backtest.replay.steps)
    print(
        f"\n=== {backend}, {size.label}, seed {seed}: {steps} weekly evaluations from "
        f"{backtest.start:%Y-%m-%d}"
    )
    print(f"rep-quarters scored {scores.pack.rep_periods}, missed {scores.pack.misses}")
    print(_by_persona(backtest, personas))
    print(f"{'rule':<28}{'recall':>8}{'prec.':>8}{'c.rec.':>8}{'c.prec.':>8}{'lead d':>8}"
          f"{'find/mw':>9}{'tasks/mw':>9}{'hyg/rw':>8}")  # fmt: skip
    for score in (scores.pack, *scores.rules):
        print(_row(score))
    if timing is None:
        sys.stdout.flush()
        return
    print(
        f"time: replay {timing.replay:.2f} s, step by step {timing.step_by_step:.2f} s, "
        f"{steps} live evaluations {timing.live:.2f} s -> replay / live "
        f"{timing.replay / timing.live:.2f}x (goal 0.30x), step by step / live "
        f"{timing.step_by_step / timing.live:.2f}x"
    )
    sys.stdout.flush()


def _by_persona(backtest: Backtest, personas: dict[str, Persona]) -> str:
    """Per persona: rep-quarters, misses, and how many of each the pack flagged for
    coaching; coaching tasks (not hygiene) about the persona's reps per rep-week.
    Unlucky reps' misses are the ones no activity rule should be blamed for catching or
    not; a task about a noisy or steady rep is a false alarm."""
    scores = backtest.scores
    flagged = {flag.outcome for flag in scores.pack_flags}
    tasks: dict[str, int] = {}
    rep_weeks: dict[str, int] = {}
    for step in backtest.replay.steps:
        for rep in step.reps:
            persona = personas.get(rep.crm_id, "other")
            rep_weeks[persona] = rep_weeks.get(persona, 0) + 1
        for task in step.plan.of_type(CreateCoachingTask):
            if task.kind == "coaching":
                persona = personas.get(task.subject_key.rep_crm_id, "other")
                tasks[persona] = tasks.get(persona, 0) + 1
    lines = [f"{'persona':<12}{'rep-q':>7}{'flagged':>9}{'missed':>8}{'flagged':>9}"
             f"{'tasks/rep-week':>16}"]  # fmt: skip
    for persona in ("drifting", "steady", "noisy", "unlucky", "ramping", "other"):
        mine = [o for o in scores.outcomes if personas.get(o.rep_crm_id, "other") == persona]
        if not mine and not rep_weeks.get(persona):
            continue
        missed = [o for o in mine if scores.missed(o)]
        weekly = tasks.get(persona, 0) / max(rep_weeks.get(persona, 0), 1)
        lines.append(
            f"{persona:<12}{len(mine):>7}{sum(o in flagged for o in mine):>9}{len(missed):>8}"
            f"{sum(o in flagged for o in missed):>9}{weekly:>16.2f}"
        )
    return "\n".join(lines)


def _row(score: Score) -> str:
    shares = (score.recall, score.precision, score.cause_recall, score.cause_precision)
    return (
        f"{score.rule_key:<28}{''.join(f'{share_text(s):>8}' for s in shares)}"
        f"{days_text(score.median_lead_days):>8}"
        f"{score.findings_per_manager_week:>9.2f}{score.tasks_per_manager_week:>9.2f}"
        f"{score.hygiene_per_rep_week:>8.2f}"
    )


def _size(text: str) -> Size:
    reps, _, months = text.partition("x")
    return Size(int(reps), int(months))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--sizes", default="30x12,100x18", help="REPSxMONTHS, comma-separated")
    parser.add_argument("--seeds", default="7,11,23")
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument(
        "--quarters", type=int, default=None, help="replay the last N complete quarters instead"
    )
    parser.add_argument("--runs", type=int, default=2, help="timing rounds (0: scores only)")
    parser.add_argument("--deal-scale", type=float, default=1.0)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    return parser


if __name__ == "__main__":
    sys.exit(main())
