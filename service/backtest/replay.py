"""A replay over the store: the pure :class:`~rules.backtest.Replay` fed, step by step,
with a source that reads only what the store knew at each step's moment.

Nothing is written: the findings and tasks of the replay live in its scratch memory, and
the one transaction it reads in is rolled back (the metric reads make temporary tables,
nothing else). Each step builds its source exactly as a live evaluation does
(:func:`~service.evaluation.run.source_as_of`), so a step decides what a live evaluation
at that instant, on a store holding the replay's findings, would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rules.backtest import Replay
from rules.documents import VersionedRule
from rules.evaluation import EvaluationSettings
from rules.metrics import DealProfile, MetricSeries, MetricSource, MetricSpec, RepProfile
from rules.periods import Period
from service.backtest.measure_once import MeasuredOnce, replay_needs
from service.evaluation.run import source_as_of, without_jit
from service.store.engine import Store

Progress = Callable[[datetime], None]
"""Called after each step with its moment."""


@dataclass(frozen=True)
class ReplayRun:
    connection_id: int
    replay: Replay


def replay_connection(
    store: Store,
    connection_id: int,
    rules: Sequence[VersionedRule],
    moments: Sequence[datetime],
    *,
    settings: EvaluationSettings | None = None,
    progress: Progress | None = None,
    reuse: bool = True,
) -> ReplayRun:
    """Evaluate ``rules`` at each of ``moments`` (increasing), as of each.

    With ``reuse`` each metric is measured once for every step
    (:mod:`service.backtest.measure_once`): the same decisions, sooner. Without it each
    step measures as a live evaluation does (what the benchmark compares with).
    """
    (replay,) = replay_side_by_side(
        store, connection_id, [rules], moments, settings=settings, progress=progress,
        reuse=reuse,
    )  # fmt: skip
    return ReplayRun(connection_id, replay)


def replay_side_by_side(
    store: Store,
    connection_id: int,
    rule_sets: Sequence[Sequence[VersionedRule]],
    moments: Sequence[datetime],
    *,
    settings: EvaluationSettings | None = None,
    progress: Progress | None = None,
    reuse: bool = True,
) -> list[Replay]:
    """One replay per set of rules (variants of a rule, say), every step of all of them
    fed by the same source: each metric is read once for all."""
    replays = [Replay(rules, settings) for rules in rule_sets]
    every_rule = [rule for rules in rule_sets for rule in rules]
    with store.unit_of_work() as session:
        without_jit(session)
        once = None
        if reuse:
            once = MeasuredOnce(session, connection_id, replay_needs(every_rule, moments))
        for moment in moments:
            with source_as_of(session, connection_id, moment) as source:
                step_source = source if once is None else _Reusing(source, once)
                for replay in replays:
                    replay.step(step_source, moment)
            if progress is not None:
                progress(moment)
        if once is not None:
            once.close()
        session.rollback()
    return replays


class _Reusing:
    """A step's source: measurements cut from the replay's one measurement each. Shared
    by the step's side-by-side replays, so each read (a cut, the roster, deal names) is
    made once per step, however many variants judge it."""

    def __init__(self, source: MetricSource, once: MeasuredOnce) -> None:
        self._source, self._once = source, once
        self._cuts: dict[tuple[MetricSpec, tuple[Period, ...]], MetricSeries] = {}
        self._deals: dict[tuple[str, ...], Sequence[DealProfile]] = {}
        self._reps: Sequence[RepProfile] | None = None

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        key = (metric, tuple(periods))
        if key not in self._cuts:
            self._cuts[key] = self._once.measure(metric, periods)
        return self._cuts[key]

    def reps(self) -> Sequence[RepProfile]:
        if self._reps is None:
            self._reps = self._source.reps()
        return self._reps

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        key = tuple(crm_ids)
        if key not in self._deals:
            self._deals[key] = self._source.deals(crm_ids)
        return self._deals[key]

    def data_as_of(self) -> datetime | None:
        return self._source.data_as_of()
