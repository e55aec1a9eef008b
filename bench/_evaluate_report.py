"""What the evaluation benchmark measured at one step, and how it prints it.

A :class:`Step` keeps every round's runs; the figures are the best of them and, steadier
when the machine's speed wanders, the median of each round's own ratio (the evaluation
divided by the scan of the same round).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from bench._common import ratio
from bench._common import table as text_table
from bench._evaluate_baseline import ScanRun
from bench._evaluate_timing import EvaluationRun


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


@dataclass
class Step:
    """One activity step on one backend: every round's runs, kept for both figures."""

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
