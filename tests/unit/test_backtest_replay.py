"""The pure replay (rules.backtest): the moments, and a scratch memory that answers each
step as the store would after the previous plans were applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.backtest import Replay, Scratch, replay_moments
from rules.cadence import CoachingHistory
from rules.evaluation import CreateCoachingTask, OpenFinding, ResolveFinding, evaluate
from rules.fake_source import FakeMetricSource
from rules.intents import LiveFinding
from rules.metrics import SubjectKey
from rules.periods import PeriodUnit
from tests.unit.rules_support import manager, rep, rule

MONDAY = datetime(2024, 5, 6, tzinfo=UTC)
REPS = [manager(), rep("r1"), rep("r2")]


def test_moments_are_the_period_boundaries_inside_the_range():
    wednesday = MONDAY + timedelta(days=2, hours=9)
    assert replay_moments(wednesday, wednesday + timedelta(days=15)) == [
        MONDAY + timedelta(weeks=1),
        MONDAY + timedelta(weeks=2),
    ]
    assert replay_moments(MONDAY, MONDAY + timedelta(weeks=1)) == [MONDAY + timedelta(weeks=1)]
    months = replay_moments(MONDAY, MONDAY + timedelta(days=62), PeriodUnit.MONTH)
    assert months == [datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)]
    with pytest.raises(ValueError, match="after it starts"):
        replay_moments(MONDAY, MONDAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        replay_moments(MONDAY.replace(tzinfo=None), MONDAY.replace(tzinfo=None) + timedelta(1))


def _calls(*weeks_of_r1: int) -> FakeMetricSource:
    """r1's calls per week (newest last) and a steady r2."""
    series = {SubjectKey("r1"): list(weeks_of_r1), SubjectKey("r2"): [50] * len(weeks_of_r1)}
    return FakeMetricSource(REPS).set_series("activity_count", series)


def test_each_step_sees_the_findings_and_tasks_of_the_steps_before_it():
    """r1 slips from week 3 and recovers in week 7: one finding opened once, kept while
    it lasts, one task (cadence 14 days), resolved after two good weeks."""
    calls = rule()  # 40 calls a week, k=2 of n=3, resolve after 2
    weeks = [50, 50, 30, 30, 30, 30, 50, 50, 50]
    replay = Replay([calls])
    for step in range(4, len(weeks) + 1):
        replay.step(_calls(*weeks[:step]), MONDAY + timedelta(weeks=step))

    kinds = [sorted({type(intent).__name__ for intent in s.plan.intents}) for s in replay.steps]
    assert kinds[0] == ["Alert", "CreateCoachingTask", "OpenFinding"]
    assert "OpenFinding" not in {k for step in kinds[1:] for k in step}
    assert sum(len(s.plan.of_type(CreateCoachingTask)) for s in replay.steps) == 2
    resolved = [s.as_of for s in replay.steps if s.plan.of_type(ResolveFinding)]
    assert resolved == [MONDAY + timedelta(weeks=8)]
    assert replay.scratch.live() == []
    assert replay.opened() == {"calls": [(MONDAY + timedelta(weeks=4), SubjectKey("r1"))]}


def test_a_step_decides_what_evaluate_decides_given_the_same_memory():
    calls = rule()
    replay = Replay([calls])
    first = replay.step(_calls(50, 30, 30, 30), MONDAY + timedelta(weeks=4))
    (opened,) = first.of_type(OpenFinding)
    (task,) = first.of_type(CreateCoachingTask)
    memory = [LiveFinding(1, "calls", SubjectKey("r1"), opened.severity, "open", first.as_of)]
    history = CoachingHistory({("calls", "r1", None): first.as_of}, {task.budget_owner_crm_id: 1})
    later = MONDAY + timedelta(weeks=4, days=3)

    assert replay.scratch.live() == memory
    assert replay.scratch.history(later) == history
    expected = evaluate([calls], _calls(30, 30, 30, 30), memory, history, later)
    assert replay.step(_calls(30, 30, 30, 30), later) == expected


def test_the_scratch_history_counts_this_weeks_tasks_and_ignores_later_ones():
    scratch = Scratch()
    replay = Replay([rule()])
    replay.scratch = scratch
    plan = replay.step(_calls(50, 30, 30, 30), MONDAY + timedelta(days=2))
    assert len(plan.of_type(CreateCoachingTask)) == 1
    assert scratch.history(MONDAY + timedelta(days=1)) == CoachingHistory()
    next_week = scratch.history(MONDAY + timedelta(weeks=1))
    assert next_week.tasks_this_week == {}
    assert next_week.last_task_at == {("calls", "r1", None): MONDAY + timedelta(days=2)}


def test_moments_must_increase():
    replay = Replay([rule()])
    replay.step(_calls(50, 50, 50, 50), MONDAY)
    with pytest.raises(ValueError, match="must increase"):
        replay.step(_calls(50, 50, 50, 50), MONDAY)
