"""Signal over noise in the core: comparable ranking, hygiene apart, anchored and seasonal
baselines, rules that keep findings without tasks. No database: the fake source and the
replay's scratch memory stand in for the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from pydantic import ValidationError

from rules.backtest import Replay
from rules.cadence import CoachingHistory
from rules.evaluation import (
    CreateCoachingTask,
    EvaluationSettings,
    KeepFinding,
    OpenFinding,
    ResolveFinding,
    evaluate,
)
from rules.fake_source import FakeMetricSource
from rules.intents import LiveFinding
from rules.metrics import Observation, SubjectKey
from rules.policies import Severity
from tests.unit.rules_support import BASE_DOCUMENT, DEAL_DOCUMENT, manager, rep, rule

MONDAY = datetime(2024, 5, 6, tzinfo=UTC)
REPS = [manager(), rep("r1"), rep("r2"), rep("r3")]

OWN: dict[str, Any] = {"standard": {"basis": "own_baseline", "min": 0.7, "baseline_periods": 4},
       "drift": {"k": 2, "n": 3, "resolve_after": 2}}  # fmt: skip


def _evaluate(rules: list[Any], source: FakeMetricSource, **settings: Any):
    return evaluate(
        rules, source, [], CoachingHistory(), MONDAY, settings=EvaluationSettings(**settings)
    )


HEALTHY = [50.0] * 24


def _source(**series: dict[SubjectKey, list[Any]]) -> FakeMetricSource:
    """Every rep at 50 calls a week unless ``activity_count`` says otherwise."""
    fake = FakeMetricSource(REPS)
    calls = {SubjectKey(r.crm_id): HEALTHY for r in REPS if r.crm_id.startswith("r")}
    fake.set_series("activity_count", {**calls, **series.pop("activity_count", {})})
    for name, values in series.items():
        fake.set_series(name, values)
    return fake


# ------------------------------------------------------------------ ranking and budgets


def test_an_activity_task_outranks_a_more_severe_objective_or_result_task():
    coverage = rule({**BASE_DOCUMENT, "key": "coverage", "level": "objective",
                     "metric": {"metric": "pipeline_coverage"}},
                    standard={"basis": "absolute", "min": 3})  # fmt: skip
    pace = rule({**BASE_DOCUMENT, "key": "pace", "level": "result",
                 "metric": {"metric": "win_rate"}},
                standard={"basis": "absolute", "min": 0.2})  # fmt: skip
    source = _source(
        activity_count={SubjectKey("r1"): [50, 50, 35, 35]},  # 12% short: low severity
        pipeline_coverage={SubjectKey("r2"): [3, 3, 0.2, 0.2]},  # 93% short: high
        win_rate={SubjectKey("r3"): [0.3, 0.3, 0.02, 0.02]},
    )

    plan = _evaluate([coverage, pace, rule()], source, weekly_task_budget=1)

    (task,) = plan.of_type(CreateCoachingTask)
    assert (task.rule_key, task.kind, task.budget_owner_crm_id) == ("calls", "coaching", "m1")
    assert sorted(d.task.rule_key for d in plan.deferred) == ["coverage", "pace"]


def test_a_rule_that_makes_no_tasks_still_opens_its_finding():
    quiet = rule(coaching={"create_tasks": False})
    plan = _evaluate([quiet], _source(activity_count={SubjectKey("r1"): [50, 50, 30, 30]}))
    assert [f.subject for f in plan.of_type(OpenFinding)] == [SubjectKey("r1")]
    assert plan.of_type(CreateCoachingTask) == ()
    assert plan.deferred == ()


def test_deal_hygiene_goes_to_the_owner_from_their_own_budget_most_pipeline_first():
    def idle(amount: float) -> list[Observation]:
        return [Observation(days, sample=1, parts={"amount": amount}) for days in (9, 10, 11)]

    deals = {SubjectKey("r2", f"d{n}"): idle(amount)
             for n, amount in enumerate((5_000, 80_000, 20_000, 40_000))}  # fmt: skip
    source = _source(days_since_activity=deals,
                     activity_count={SubjectKey("r1"): [50, 50, 30, 30]})  # fmt: skip

    plan = _evaluate([rule(), rule(DEAL_DOCUMENT)], source, weekly_task_budget=1)

    coaching = [t for t in plan.of_type(CreateCoachingTask) if t.kind == "coaching"]
    hygiene = [t for t in plan.of_type(CreateCoachingTask) if t.kind == "hygiene"]
    assert [(t.rule_key, t.budget_owner_crm_id) for t in coaching] == [("calls", "m1")]
    assert [t.deal_crm_id for t in hygiene] == ["d1", "d3"]  # 80k and 40k of the four
    assert {(t.assignee_crm_id, t.budget_owner_crm_id) for t in hygiene} == {("r2", "r2")}
    assert [d.reason for d in plan.deferred] == [
        "weekly budget of 2 hygiene tasks for r2 is used up"
    ] * 2


def test_hygiene_already_created_this_week_counts_against_the_reps_budget_only():
    deals = {SubjectKey("r2", "d1"): [9, 10, 11]}
    source = _source(days_since_activity=deals, activity_count={SubjectKey("r1"): [50, 50, 30, 30]})
    history = CoachingHistory(tasks_this_week={}, hygiene_this_week={"r2": 2})
    plan = evaluate([rule(), rule(DEAL_DOCUMENT)], source, [], history, MONDAY)
    assert [t.rule_key for t in plan.of_type(CreateCoachingTask)] == ["calls"]
    assert [d.task.kind for d in plan.deferred] == ["hygiene"]


# ------------------------------------------------------------------ anchored baselines


def _weekly(rules: list[Any], calls: list[float], first: int = 8) -> Replay:
    """A weekly replay over r1's calls (newest last), from step ``first`` on."""
    replay = Replay(rules)
    for step in range(first, len(calls) + 1):
        source = _source(activity_count={SubjectKey("r1"): calls[:step]})
        replay.step(source, MONDAY + timedelta(weeks=step))
    return replay


DROP = [50.0] * 8 + [30.0] * 16  # down 40% from week 9 and staying there


def test_an_own_baseline_finding_stays_open_while_the_drop_lasts():
    replay = _weekly([rule(**OWN)], DROP)

    opened = [s for s in replay.steps if s.plan.of_type(OpenFinding)]
    resolved = [s for s in replay.steps if s.plan.of_type(ResolveFinding)]
    assert len(opened) == 1
    assert resolved == []
    (finding,) = replay.scratch.live()
    assert finding.baseline == 50.0
    (kept,) = [i for i in replay.steps[-1].plan.intents if hasattr(i, "evidence")][:1]
    derivation = kept.evidence["standard"]["derivation"]
    assert "own level before the drift began (50)" in derivation


def test_without_the_anchor_the_trailing_baseline_would_have_followed_the_drop():
    fresh = _evaluate([rule(**OWN)], _source(activity_count={SubjectKey("r1"): DROP}))
    assert fresh.of_type(OpenFinding) == ()  # four weeks of 30 make 30 the baseline


def test_an_anchored_finding_resolves_once_the_rep_is_back_at_their_level():
    back = DROP[:14] + [48.0] * 4
    replay = _weekly([rule(**OWN)], back)
    resolves = [s.as_of for s in replay.steps if s.plan.of_type(ResolveFinding)]
    assert resolves == [MONDAY + timedelta(weeks=16)]  # two periods back inside
    assert replay.scratch.live() == []


def test_with_recover_a_finding_stays_open_until_the_rep_is_near_their_level_again():
    """Back above the line (0.7 x 50 = 35) but short of 0.9 x 50: the drop is not over."""
    partly = DROP[:14] + [40.0] * 4 + [46.0] * 2
    plain = _weekly([rule(**OWN)], partly)
    recovering = _weekly([rule(**merged_own(recover=0.9))], partly)

    def resolved(replay: Replay) -> list[datetime]:
        return [s.as_of for s in replay.steps if s.plan.of_type(ResolveFinding)]

    assert resolved(plain) == [MONDAY + timedelta(weeks=16)]
    assert resolved(recovering) == [MONDAY + timedelta(weeks=20)]
    (kept,) = recovering.steps[16 - 8].plan.intents  # 40: inside the standard, not back
    assert isinstance(kept, KeepFinding)
    derivation = kept.evidence["standard"]["derivation"]
    assert "resolves when back to at least 45" in derivation


@pytest.mark.parametrize(
    ("standard", "message"),
    [
        ({"basis": "team_median", "min": 0.7, "recover": 0.9}, "recover only goes with basis"),
        ({"basis": "own_baseline", "min": 0.7, "recover": 0.6}, "above min .0.7. and at most 1"),
        (
            {"basis": "own_baseline", "min": None, "max": 1.5, "recover": 1.6},
            "below max .1.5. and at least 1",
        ),
        ({"basis": "own_baseline", "min": 0.7, "max": 1.5, "recover": 0.9}, "not both"),
    ],
)
def test_a_recovery_line_must_lie_between_the_bound_and_the_level(
    standard: dict[str, Any], message: str
):
    with pytest.raises(ValidationError, match=message):
        rule(standard=standard)


def test_a_finding_without_an_anchor_is_held_to_the_trailing_baseline():
    """A finding stored before anchors existed (baseline None) resolves against the
    trailing median; the same finding anchored high is held to its anchor."""
    steady = _source(activity_count={SubjectKey("r1"): [50.0] * 8})

    def first(baseline: float | None) -> str:
        live = [LiveFinding(1, "calls", SubjectKey("r1"), Severity.LOW, "open", MONDAY, baseline)]
        plan = evaluate([rule(**OWN)], steady, live, CoachingHistory(), MONDAY)
        return type(plan.intents[0]).__name__

    assert first(None) == "ResolveFinding"
    assert first(500.0) == "EscalateFinding"  # 50 is far below 0.7 x 500


# ------------------------------------------------------------------ seasonal baselines


def test_a_seasonal_baseline_does_not_flag_a_dip_the_whole_team_had():
    holiday = [50.0] * 4 + [50.0, 50.0, 20.0, 20.0]
    team = {SubjectKey(r): holiday for r in ("r1", "r2", "r3")}
    seasonal = merged_own(seasonal=True)
    assert _evaluate([rule(**OWN)], _source(activity_count=team)).of_type(OpenFinding)
    assert _evaluate([rule(**seasonal)], _source(activity_count=team)).of_type(OpenFinding) == ()


def test_a_seasonal_baseline_still_flags_the_rep_who_dropped_alone():
    team = {SubjectKey("r1"): [50.0] * 6 + [20.0, 20.0],
            SubjectKey("r2"): [50.0] * 8, SubjectKey("r3"): [50.0] * 8}  # fmt: skip
    plan = _evaluate([rule(**merged_own(seasonal=True))], _source(activity_count=team))
    assert [f.subject for f in plan.of_type(OpenFinding)] == [SubjectKey("r1")]


def merged_own(**standard: Any) -> dict[str, Any]:
    return {**OWN, "standard": {**OWN["standard"], **standard}}


def test_seasonal_is_refused_on_other_bases():
    with pytest.raises(ValidationError, match="seasonal only goes with basis own_baseline"):
        rule(standard={"basis": "team_median", "min": 0.8, "seasonal": True})
    assert BASE_DOCUMENT["standard"] == {"basis": "absolute", "min": 40}


# ------------------------------------------------------------------ per day at work


def test_per_day_at_work_a_week_of_leave_is_no_drop():
    per_active = rule(**OWN, period={"unit": "week", "per_active_day": True})
    per_business = rule(**OWN, period={"unit": "week", "per_business_day": True})
    # weeks of 50 calls over 5 days, then one with 30 over 3 days and one away entirely
    calls = {SubjectKey("r1"): [50] * 6 + [30, 0]}
    days = {SubjectKey(r): [5] * 8 for r in ("r1", "r2", "r3")}
    days[SubjectKey("r1")] = [5] * 6 + [3, 0]
    source = _source(activity_count=calls, active_days=days)

    assert _evaluate([per_active], source).of_type(OpenFinding) == ()
    assert _evaluate([per_business], source).of_type(OpenFinding)
    cell = _evaluate([per_active], source).scorecard.cell("r1", "calls")
    assert cell is not None
    assert cell.value is None  # a week away is not measured, not zero


def test_per_day_at_work_still_sees_fewer_calls_on_the_days_worked():
    per_active = rule(**OWN, period={"unit": "week", "per_active_day": True})
    calls = {SubjectKey("r1"): [50] * 6 + [20, 20]}
    days = {SubjectKey(r): [5] * 8 for r in ("r1", "r2", "r3")}
    plan = _evaluate([per_active], _source(activity_count=calls, active_days=days))
    assert [f.subject for f in plan.of_type(OpenFinding)] == [SubjectKey("r1")]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"period": {"unit": "week", "per_active_day": True, "per_business_day": True}},
         "choose per_business_day or per_active_day"),
        ({"metric": {"metric": "days_since_activity"}, "period": {"unit": "day",
          "per_active_day": True}, "standard": {"basis": "absolute", "max": 7}},
         "per_active_day needs a rate metric"),
    ],
)  # fmt: skip
def test_per_day_at_work_is_refused_where_it_means_nothing(changes: dict[str, Any], message: str):
    with pytest.raises(ValidationError, match=message):
        rule({**BASE_DOCUMENT, **changes})


# ------------------------------------------------------------------ rolling spans


def test_a_rule_with_a_span_measures_rolling_periods_and_names_them():
    rolling = rule(**OWN, period={"unit": "week", "span": 4, "per_active_day": True})
    # four-week sums: 40 meetings over 20 days, then 24 over 20 in the last two
    meetings = {SubjectKey("r1"): [40] * 6 + [24, 24]}
    days = {SubjectKey(r): [20] * 8 for r in ("r1", "r2", "r3")}
    source = _source(activity_count=meetings, active_days=days)

    plan = _evaluate([rolling], source)

    (_, periods) = source.measured[0]
    assert len(periods) == 8  # baseline 4 + window 4, each four weeks long
    assert {(p.end - p.start).days for p in periods} == {28}
    assert [b.start - a.start for a, b in pairwise(periods)] == [timedelta(days=7)] * 7
    assert periods[-1].end == MONDAY
    (task,) = plan.of_type(CreateCoachingTask)
    assert task.evidence["periods"][-1]["label"] == "4 weeks to 2024-W18"
    assert task.evidence["periods"][-1]["value"] == pytest.approx(1.2)  # 24 over 20 days
    assert "4 weeks to 2024-W18" in task.body


def test_a_span_is_refused_on_a_snapshot_metric():
    changes = {"metric": {"metric": "days_since_activity"},
               "period": {"unit": "day", "span": 3},
               "standard": {"basis": "absolute", "max": 7}}  # fmt: skip
    with pytest.raises(ValidationError, match="span needs a rate metric"):
        rule({**BASE_DOCUMENT, **changes})
    with pytest.raises(ValidationError, match=r"period\.span"):
        rule(period={"unit": "week", "span": 0})


# ------------------------------------------------------------------ objectives as context


def test_an_activity_task_says_where_its_drop_shows_in_the_objectives_it_drives():
    coverage = rule({**BASE_DOCUMENT, "key": "coverage", "name": "Pipeline coverage",
                     "level": "objective", "metric": {"metric": "pipeline_coverage"}},
                    standard={"basis": "absolute", "min": 3},
                    coaching={"create_tasks": False})  # fmt: skip
    source = _source(
        activity_count={SubjectKey("r1"): [50, 50, 30, 30]},
        pipeline_coverage={SubjectKey(r): [3.5, 3.5, 0.6, 0.6] if r == "r1" else [4.0] * 4
                           for r in ("r1", "r2", "r3")},
    )  # fmt: skip

    plan = _evaluate([rule(), coverage], source)

    (task,) = plan.of_type(CreateCoachingTask)
    assert task.rule_key == "calls"
    (context,) = task.evidence["context"]
    assert (context["rule_key"], context["observed"], context["outside"]) == ("coverage", 0.6, True)
    assert "Where it shows: Pipeline coverage 0.6 (at least 3; outside)" in task.body
    opened = {f.rule_key: f for f in plan.of_type(OpenFinding)}
    assert opened["coverage"].evidence["context"] == []  # only activities carry it


# ------------------------------------------------------------------ deal hygiene rolled up

ROLLED: dict[str, Any] = {
    **DEAL_DOCUMENT,
    "rollup": {"min_deals": 3, "team_factor": 1.5},
    "coaching": {
        "assignee": "rep",
        "what_good_looks_like": "A dated next step on every deal.",
        "subject_template": "{deal_count} deals without activity",
        "body_template": "{rep_name}: {deal_count} deals idle: {deals}.",
    },
}


def _idle(counts: dict[str, int]) -> dict[SubjectKey, list[Observation]]:
    """Per rep, that many deals idle 9-11 days, the n-th worth n x 10k."""
    return {
        SubjectKey(rep, f"{rep}-d{n}"): [
            Observation(days, sample=1, parts={"amount": 10_000.0 * n}) for days in (9, 10, 11)
        ]
        for rep, count in counts.items()
        for n in range(1, count + 1)
    }


def test_a_rep_who_stands_out_gets_one_finding_and_one_hygiene_task_for_their_deals():
    source = _source(days_since_activity=_idle({"r1": 1, "r2": 5, "r3": 1}))

    plan = _evaluate([rule(ROLLED)], source)

    (opened,) = plan.of_type(OpenFinding)
    assert opened.subject == SubjectKey("r2")  # one finding for the rep, none per deal
    assert opened.observed == 5
    assert [d["crm_id"] for d in opened.evidence["deals"]][:2] == ["r2-d5", "r2-d4"]
    (task,) = plan.of_type(CreateCoachingTask)
    assert (task.kind, task.assignee_crm_id, task.budget_owner_crm_id) == ("hygiene", "r2", "r2")
    assert task.subject == "5 deals without activity"
    assert task.body.startswith("Rep R2: 5 deals idle: r2-d5; r2-d4;")


def test_old_deals_everyone_has_flag_no_one():
    source = _source(days_since_activity=_idle({"r1": 5, "r2": 6, "r3": 4}))
    assert _evaluate([rule(ROLLED)], source).of_type(OpenFinding) == ()


def _idle_since(counts: dict[str, tuple[int, int]], periods: int = 6) -> dict[SubjectKey, Any]:
    """Per rep (before, now): ``before`` deals idle 9+ days in every period, and ``now -
    before`` more that were fresh (2 days) before the last two periods."""
    series: dict[SubjectKey, Any] = {}
    for owner, (before, now) in counts.items():
        for n in range(1, now + 1):
            idle = [Observation(9.0 + i, sample=1, parts={"amount": 1e4}) for i in range(periods)]
            fresh = [Observation(2.0, sample=1, parts={"amount": 1e4})] * (periods - 2)
            series[SubjectKey(owner, f"{owner}-d{n}")] = idle if n <= before else fresh + idle[-2:]
    return series


OWN_HISTORY = {**ROLLED, "rollup": {**ROLLED["rollup"], "own_periods": 3, "own_factor": 2}}


def test_a_rep_whose_deals_went_stale_stands_out_against_their_own_history():
    """The team is untidy (median 6 idle deals): r1's 5 are no news against the team,
    but r1 had 1 before, and 5 is more than twice that."""
    source = _source(days_since_activity=_idle_since({"r1": (1, 5), "r2": (6, 6), "r3": (6, 6)}))

    assert _evaluate([rule(ROLLED)], source).of_type(OpenFinding) == ()
    (opened,) = _evaluate([rule(OWN_HISTORY)], source).of_type(OpenFinding)

    assert (opened.subject, opened.observed) == (SubjectKey("r1"), 5)
    derivation = opened.evidence["standard"]["derivation"]
    assert "own median of the 3 periods before the window (1)" in derivation
    idle = [len(periods) for m, periods in source.measured if m.metric == "days_since_activity"]
    assert idle == [3, 3 + 3]  # with own history: its periods, then the window


def test_a_rep_always_this_untidy_is_no_news_to_their_own_history():
    source = _source(days_since_activity=_idle_since({"r1": (2, 3), "r2": (4, 4), "r3": (4, 4)}))
    assert _evaluate([rule(OWN_HISTORY)], source).of_type(OpenFinding) == ()


def test_a_rollup_needs_a_deal_rule_and_templates_about_the_rep():
    with pytest.raises(ValidationError, match="rollup needs a deal metric"):
        rule(rollup={"min_deals": 3})
    with pytest.raises(ValidationError, match="deal_name"):
        rule(ROLLED, coaching={"subject_template": "Re-engage {deal_name}"})
