"""Scoring a replay (rules.backtest_scoring): recall, precision, lead, load, the chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rules.backtest import Replay
from rules.backtest_scoring import PACK, QuotaOutcome, activity_chain, score
from rules.evaluation import EvaluationSettings
from rules.fake_source import FakeMetricSource
from rules.metrics import SubjectKey
from tests.unit.rules_support import BASE_DOCUMENT, manager, rep, rule

MONDAY = datetime(2024, 5, 6, tzinfo=UTC)
Q2 = (date(2024, 4, 1), date(2024, 6, 30))
REPS = [manager(), rep("r1"), rep("r2"), rep("r3"), rep("r4")]


def _replay(
    weeks: dict[str, list[int]], first_step: int = 4, settings: EvaluationSettings | None = None
) -> Replay:
    """Weekly steps over the calls of each rep (newest last), the calls rule only."""
    replay = Replay([rule()], settings)
    length = len(next(iter(weeks.values())))
    for step in range(first_step, length + 1):
        series = {SubjectKey(r): calls[:step] for r, calls in weeks.items()}
        source = FakeMetricSource(REPS).set_series("activity_count", series)
        replay.step(source, MONDAY + timedelta(weeks=step))
    return replay


STEADY = [50] * 10
SLIPPING = [50, 50, 30, 30, 30, 30, 30, 30, 30, 30]  # flagged from the first step


def _outcome(rep_id: str, won: float, quota: float = 100.0) -> QuotaOutcome:
    return QuotaOutcome(rep_id, *Q2, quota, won)


def test_a_warned_miss_counts_for_recall_precision_and_lead():
    replay = _replay({"r1": SLIPPING, "r2": STEADY, "r3": STEADY, "r4": STEADY})
    outcomes = [_outcome("r1", 50), _outcome("r2", 120), _outcome("r3", 60), _outcome("r4", 100)]

    scores = score(replay.steps, outcomes, causes={"r1": date(2024, 5, 20)})

    pack = scores.pack
    assert (pack.rep_periods, pack.misses, pack.flagged, pack.flagged_misses) == (4, 2, 1, 1)
    assert (pack.recall, pack.precision, pack.cause_precision) == (0.5, 1.0, 1.0)
    assert pack.cause_recall == 1.0  # r3's miss had no cause: not counted against it
    # First flagged at the step of 3 June; Q2 ends at 1 July 00:00.
    assert pack.median_lead_days == 28
    (calls,) = scores.rules
    assert calls.rule_key == "calls"
    assert (calls.recall, calls.precision) == (pack.recall, pack.precision)
    # One finding and a task every 14 days it lasts, over 7 steps of one manager.
    assert pack.findings_per_manager_week == pytest.approx(1 / 7)
    assert pack.tasks_per_manager_week == pytest.approx(4 / 7)
    assert pack.rule_key == PACK


def test_the_pack_flags_only_what_reached_a_manager_as_a_task():
    weeks = {"r1": SLIPPING, "r2": SLIPPING, "r3": STEADY, "r4": STEADY}
    outcomes = [_outcome("r1", 50), _outcome("r2", 50), _outcome("r3", 100)]

    scores = score(_replay(weeks, settings=EvaluationSettings(weekly_task_budget=0)).steps,
                   outcomes)  # fmt: skip
    (calls,) = scores.rules
    assert (calls.flagged, scores.pack.flagged, scores.pack.recall) == (2, 0, 0.0)

    one_a_week = _replay(weeks, settings=EvaluationSettings(weekly_task_budget=1))
    assert score(one_a_week.steps, outcomes).pack.flagged == 2  # r2's task came a week later
    assert one_a_week.steps[0].coached < one_a_week.steps[0].live


def test_a_miss_below_threshold_and_periods_outside_the_replay_are_not_scored():
    replay = _replay({"r1": SLIPPING, "r2": STEADY, "r3": STEADY, "r4": STEADY})
    later = QuotaOutcome("r2", date(2024, 7, 1), date(2024, 9, 30), 100.0, 10.0)
    no_quota = _outcome("r3", 0.0, quota=0.0)
    scores = score(replay.steps, [_outcome("r1", 85), later, no_quota], miss_below=0.8)
    assert scores.pack.rep_periods == 1
    assert scores.pack.misses == 0
    assert (scores.pack.recall, scores.pack.precision) == (None, 0.0)
    assert scores.pack.cause_precision is None  # no ground truth given


def test_a_finding_resolved_before_the_period_does_not_flag_it():
    recovers = [30, 30, 30, 30, 50, 50, 50, 50, 50, 50]
    replay = _replay({"r1": recovers, "r2": STEADY, "r3": STEADY, "r4": STEADY})
    june = QuotaOutcome("r1", date(2024, 6, 17), date(2024, 6, 30), 100.0, 10.0)
    assert score(replay.steps, [june]).pack.flagged == 0
    may = QuotaOutcome("r1", date(2024, 5, 27), date(2024, 6, 9), 100.0, 10.0)
    assert score(replay.steps, [may]).pack.flagged == 1


def test_the_activity_chain_correlates_the_rules_value_with_attainment():
    weeks = {"r1": [20] * 10, "r2": [40] * 10, "r3": [60] * 10, "r4": [80] * 10}
    replay = _replay(weeks)
    outcomes = [_outcome(r, won) for r, won in (("r1", 40), ("r2", 70), ("r3", 95), ("r4", 130))]

    (org,) = [c for c in activity_chain(replay.rules, replay.steps, outcomes) if c.team is None]

    assert (org.rule_key, org.level, org.rep_periods) == ("calls", "activity", 4)
    assert org.with_result == pytest.approx(0.995, abs=0.01)
    assert org.early_with_result == pytest.approx(org.with_result)
    assert org.with_objectives == ()


def test_the_chain_links_each_activity_to_each_objective_and_objectives_to_the_result():
    coverage = rule({
        **BASE_DOCUMENT, "key": "coverage", "name": "Coverage", "level": "objective",
        "drives": "Quota attainment", "metric": {"metric": "pipeline_coverage"},
        "standard": {"basis": "absolute", "min": 2},
    })  # fmt: skip
    replay = Replay([rule(), coverage])
    calls = {"r1": 20, "r2": 40, "r3": 60, "r4": 80}
    cover = {"r1": 4.0, "r2": 3.0, "r3": 2.0, "r4": 1.0}  # falls as calls rise
    for step in range(4, 11):
        source = FakeMetricSource(REPS)
        source.set_series("activity_count", {SubjectKey(r): [n] * step for r, n in calls.items()})
        source.set_series("pipeline_coverage",
                          {SubjectKey(r): [c] * step for r, c in cover.items()})  # fmt: skip
        replay.step(source, MONDAY + timedelta(weeks=step))
    outcomes = [_outcome(r, won) for r, won in (("r1", 40), ("r2", 70), ("r3", 95), ("r4", 130))]

    chains = {c.rule_key: c for c in activity_chain(replay.rules, replay.steps, outcomes)}

    ((objective, r),) = chains["calls"].with_objectives
    assert objective == "coverage"
    assert r == pytest.approx(-1.0)
    assert chains["coverage"].level == "objective"
    assert chains["coverage"].with_result == pytest.approx(-0.995, abs=0.01)
    assert chains["coverage"].with_objectives == ()
