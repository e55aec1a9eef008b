"""A whole backtest: the replay, the quota outcomes, and their scores."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from rules.backtest import Replay, replay_moments
from rules.backtest_scoring import Chain, QuotaOutcome, Scores, activity_chain, score
from rules.backtest_tuning import Suggestion, suggest, variants
from rules.documents import VersionedRule
from rules.evaluation import EvaluationSettings
from rules.periods import PeriodUnit
from service.backtest.outcomes import quota_outcomes
from service.backtest.replay import Progress, replay_connection, replay_side_by_side
from service.store.engine import Store
from service.store.tables import Rep


@dataclass(frozen=True)
class Backtest:
    connection_id: int
    start: datetime
    end: datetime
    rules: tuple[VersionedRule, ...]
    replay: Replay
    outcomes: tuple[QuotaOutcome, ...]
    scores: Scores
    chains: tuple[Chain, ...]
    seconds: float
    #: Everyone's name by CRM id (as now: the CRMs keep no history of names), for the
    #: managers a roster of sellers leaves out.
    names: Mapping[str, str]
    suggestions: tuple[Suggestion, ...] = ()


def run_backtest(
    store: Store,
    connection_id: int,
    rules: Sequence[VersionedRule],
    start: datetime,
    end: datetime,
    *,
    every: PeriodUnit = PeriodUnit.WEEK,
    settings: EvaluationSettings | None = None,
    miss_below: float = 1.0,
    causes: Mapping[str, date] | None = None,
    progress: Progress | None = None,
    suggest_for: Sequence[str] = (),
    false_alarm_budget: float = 0.2,
) -> Backtest:
    """Replay ``rules`` at every ``every`` boundary in ``(start, end]`` and score them
    against the quota periods that ended in that range; for the rules named in
    ``suggest_for``, also the standard and drift policy that would have done best
    within ``false_alarm_budget`` (:mod:`rules.backtest_tuning`)."""
    started = time.perf_counter()
    moments = replay_moments(start, end, every)
    run = replay_connection(
        store, connection_id, rules, moments, settings=settings, progress=progress
    )
    with store.unit_of_work() as session:
        outcomes = quota_outcomes(session, connection_id, start, end)
        rows = session.execute(
            select(Rep.crm_id, Rep.name).where(Rep.connection_id == connection_id)
        ).all()
        names = {str(crm_id): str(name) for crm_id, name in rows}
    steps = run.replay.steps
    scores = score(steps, outcomes, miss_below=miss_below, causes=causes)
    chains = activity_chain(rules, steps, list(scores.outcomes))
    by_key = {rule.key: rule for rule in rules}
    suggestions = tuple(
        suggest_thresholds(
            store, connection_id, by_key[key], moments, scores.outcomes, settings=settings,
            budget=false_alarm_budget, miss_below=miss_below,
        )
        for key in suggest_for
    )  # fmt: skip
    return Backtest(
        connection_id, start, end, tuple(rules), run.replay, tuple(outcomes), scores,
        tuple(chains), time.perf_counter() - started, names, suggestions,
    )  # fmt: skip


def suggest_thresholds(
    store: Store,
    connection_id: int,
    rule: VersionedRule,
    moments: Sequence[datetime],
    outcomes: Sequence[QuotaOutcome],
    *,
    settings: EvaluationSettings | None = None,
    budget: float,
    miss_below: float,
) -> Suggestion:
    """Replay every variant of ``rule`` side by side and pick the best within budget."""
    grid = variants(rule)
    replays = replay_side_by_side(
        store, connection_id, [[variant.rule] for variant in grid], moments, settings=settings
    )
    scored = []
    for variant, replay in zip(grid, replays, strict=True):
        scores = score(replay.steps, outcomes, miss_below=miss_below)
        scored.append((variant, next((s for s in scores.rules if s.rule_key == rule.key),
                                     scores.pack)))  # fmt: skip
    return suggest(rule, scored, budget=budget)
