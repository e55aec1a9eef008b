"""Evaluation end to end through the in-memory metric source: plan, idempotency, evidence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest

from rules.evaluation import (
    Alert,
    CloseCoachingTask,
    CoachingHistory,
    CreateCoachingTask,
    EvaluationSettings,
    KeepFinding,
    LiveFinding,
    OpenFinding,
    Plan,
    ResolveFinding,
    ReviseCoachingTask,
    VersionedRule,
    evaluate,
    measurements_needed,
)
from rules.fake_source import FakeMetricSource
from rules.intents import EscalateFinding
from rules.metrics import (
    DealProfile,
    MetricSeries,
    MetricSpec,
    Observation,
    SubjectKey,
)
from rules.periods import Period
from rules.policies import Severity
from rules.series import rule_periods
from service.evaluation.packs import default_pack_dir, load_pack
from tests.unit.rules_support import AS_OF, BASE_DOCUMENT, DEAL_DOCUMENT, manager, rep, rule

DATA_AS_OF = AS_OF - timedelta(hours=2)
REPS = [manager(), rep("r1", team="west"), rep("r2", team="west"), rep("r3", team="west")]
CALLS = {
    SubjectKey("r1"): [50, 50, 30, 30],
    SubjectKey("r2"): [50, 50, 50, 50],
    SubjectKey("r3"): [50, 50, 50, 50],
}
ACME = DealProfile("006A", "Acme renewal", "r2", 12000.0, "Proposal", date(2024, 6, 30))


def source(calls=CALLS, **series) -> FakeMetricSource:
    fake = FakeMetricSource(REPS, [ACME], DATA_AS_OF).set_series("activity_count", calls)
    for name, values in series.items():
        fake.set_series(name, values)
    return fake


def run(rules, fake=None, live=(), history=None, as_of=AS_OF, **settings) -> Plan:
    return evaluate(
        rules,
        fake or source(),
        list(live),
        history or CoachingHistory(),
        as_of,
        settings=EvaluationSettings(**settings),
    )


def applied(plan: Plan, live: list[LiveFinding], history: CoachingHistory):
    """What the service would store after carrying out ``plan``: findings and task history."""
    findings = {(f.rule_key, f.subject): f for f in live}
    for index, intent in enumerate(plan.intents):
        if isinstance(intent, OpenFinding):
            findings[(intent.rule_key, intent.subject)] = LiveFinding(
                f"f{index}", intent.rule_key, intent.subject, intent.severity, "open", plan.as_of
            )
        elif isinstance(intent, ResolveFinding):
            findings.pop((intent.rule_key, intent.subject), None)
        elif isinstance(intent, KeepFinding | EscalateFinding):
            old = findings[(intent.rule_key, intent.subject)]
            findings[(intent.rule_key, intent.subject)] = LiveFinding(
                old.id, old.rule_key, old.subject, intent.severity, old.state, old.opened_at
            )
    last = dict(history.last_task_at)
    week = dict(history.tasks_this_week)
    for task in plan.of_type(CreateCoachingTask):
        last[(task.rule_key, task.rep_crm_id, task.deal_crm_id)] = plan.as_of
        week[task.budget_owner_crm_id] = week.get(task.budget_owner_crm_id, 0) + 1
    return list(findings.values()), CoachingHistory(last, week)


def test_a_drifting_rep_gets_a_finding_an_alert_and_a_coaching_task():
    plan = run([rule()])
    assert [type(i).__name__ for i in plan.intents] == [
        "OpenFinding",
        "Alert",
        "CreateCoachingTask",
    ]
    task = plan.of_type(CreateCoachingTask)[0]
    assert (task.rep_crm_id, task.assignee_crm_id) == ("r1", "m1")
    assert plan.deferred == ()


def test_the_same_inputs_give_the_same_plan():
    assert run([rule()]) == run([rule()])


def test_re_evaluating_after_the_plan_was_applied_only_keeps_findings():
    first = run(
        [rule(), rule(DEAL_DOCUMENT)],
        source(days_since_activity={SubjectKey("r2", "006A"): [8, 9, 10]}),
    )
    live, history = applied(first, [], CoachingHistory())
    again = run(
        [rule(), rule(DEAL_DOCUMENT)],
        source(days_since_activity={SubjectKey("r2", "006A"): [8, 9, 10]}),
        live,
        history,
    )
    assert len(first.of_type(OpenFinding)) == 2
    assert {type(i) for i in again.intents} == {KeepFinding}
    assert len(again.intents) == 2
    assert again.deferred == ()


def test_deferred_tasks_stay_deferred_when_nothing_changed():
    first = run([rule()], weekly_task_budget=0)
    live, history = applied(first, [], CoachingHistory())
    again = run([rule()], live=live, history=history, weekly_task_budget=0)
    assert len(first.deferred) == 1
    assert {type(i) for i in again.intents} == {KeepFinding}
    assert [d.task.key for d in again.deferred] == [d.task.key for d in first.deferred]


def test_a_finding_that_recovers_resolves_after_the_hysteresis_periods():
    first = run([rule()])
    live, history = applied(first, [], CoachingHistory())
    recovered = {**CALLS, SubjectKey("r1"): [30, 30, 50, 50]}
    later = run([rule()], source(recovered), live, history, as_of=AS_OF + timedelta(days=14))
    assert [type(i).__name__ for i in later.intents] == [
        "ResolveFinding",
        "Alert",
        "CloseCoachingTask",
    ]
    (close,) = later.of_type(CloseCoachingTask)
    assert close.finding_id == later.of_type(ResolveFinding)[0].finding_id
    # dated by the evaluation, not the wall clock
    assert f"on {(AS_OF + timedelta(days=14)).date().isoformat()}:" in close.note


def test_an_escalated_finding_rewords_its_task_and_asks_for_no_new_one():
    first = run([rule()])
    live, history = applied(first, [], CoachingHistory())
    deeper = {**CALLS, SubjectKey("r1"): [50, 50, 5, 5]}
    later = run([rule()], source(deeper), live, history)
    (escalated,) = later.of_type(EscalateFinding)
    (revised,) = later.of_type(ReviseCoachingTask)
    assert later.of_type(CreateCoachingTask) == ()  # same cadence window: no second task
    assert revised.finding_id == escalated.finding_id
    assert revised.severity is escalated.severity is Severity.HIGH
    assert revised.priority == "high"
    original = first.of_type(CreateCoachingTask)[0]
    assert revised.title
    assert revised.body != original.body
    assert "5" in revised.body


def test_a_snoozed_finding_that_escalates_leaves_its_task_alone():
    first = run([rule()])
    live, history = applied(first, [], CoachingHistory())
    snoozed = [LiveFinding(f.id, f.rule_key, f.subject, f.severity, "snoozed", f.opened_at)
               for f in live]  # fmt: skip
    deeper = {**CALLS, SubjectKey("r1"): [50, 50, 5, 5]}
    later = run([rule()], source(deeper), snoozed, history)
    assert later.of_type(EscalateFinding)
    assert later.of_type(ReviseCoachingTask) == ()


def test_each_metric_is_measured_once_for_all_rules_that_use_it():
    fake = source()
    run([rule(), rule(key="calls-strict", standard={"min": 45})], fake)
    measured = [metric.metric for metric, _ in fake.measured]
    assert measured == ["activity_count", "quota_pace"]


def test_coverage_against_win_rate_also_measures_the_win_rate_once():
    coverage = rule(
        {**BASE_DOCUMENT, "metric": {"metric": "pipeline_coverage"}},
        key="coverage",
        standard={"basis": "inverse_win_rate", "min": 1.0},
    )
    fake = source(
        pipeline_coverage={SubjectKey(r): [4, 4, 2, 2] for r in ("r1", "r2", "r3")},
        win_rate={SubjectKey(r): [0.25] * 4 for r in ("r1", "r2", "r3")},
    )
    plan = run([coverage], fake)
    assert [metric.metric for metric, _ in fake.measured] == [
        "pipeline_coverage",
        "win_rate",
        "quota_pace",
    ]
    assert len(plan.of_type(OpenFinding)) == 3
    standard = plan.of_type(OpenFinding)[0].evidence["standard"]
    assert standard["min"] == 4.0
    assert "1 / trailing win rate 25%" in standard["derivation"]


def test_a_rep_missing_from_a_rate_series_counts_as_zero():
    plan = run([rule()], source({SubjectKey("r2"): [50] * 4, SubjectKey("r3"): [50] * 4}))
    assert [f.subject for f in plan.of_type(OpenFinding)] == [SubjectKey("r1")]
    assert plan.of_type(OpenFinding)[0].observed == 0.0


def test_managers_are_not_judged_as_reps_unless_asked():
    calls = {**CALLS, SubjectKey("m1"): [0, 0, 0, 0]}
    assert len(run([rule()], source(calls)).of_type(OpenFinding)) == 1
    assert len(run([rule()], source(calls), include_managers=True).of_type(OpenFinding)) == 2


def test_deal_findings_carry_the_deal_and_name_it_in_the_evidence():
    fake = source(
        days_since_activity={
            SubjectKey("r2", "006A"): [8, 9, 10],
            SubjectKey("r2", "006B"): [1, 2, 3],
        }
    )
    plan = run([rule(DEAL_DOCUMENT)], fake)
    (opened,) = plan.of_type(OpenFinding)
    assert opened.subject == SubjectKey("r2", "006A")
    assert opened.evidence["deals"][0] == {
        "crm_id": "006A",
        "name": "Acme renewal",
        "amount": 12000.0,
        "stage": "Proposal",
        "close_date": "2024-06-30",
    }
    (task,) = plan.of_type(CreateCoachingTask)
    assert (task.deal_crm_id, task.subject) == ("006A", "Re-engage Acme renewal")
    assert "Deals: Acme renewal" in task.body
    # Decided while later rules were read, completed once the deals were known: the
    # alert and the task carry the same, completed evidence.
    (alert,) = plan.of_type(Alert)
    assert alert.payload["evidence"] == task.evidence == opened.evidence
    assert fake.deal_lookups == [("006A",)]
    assert plan.scorecard.cell("r2", "stale-deals") is not None


def test_a_disabled_rule_resolves_its_live_findings_and_measures_nothing():
    fake = source()
    finding = LiveFinding(3, "calls", SubjectKey("r1"), "low", "open", AS_OF)  # type: ignore[arg-type]
    plan = run([rule(enabled=False)], fake, [finding])
    assert [type(i).__name__ for i in plan.intents] == [
        "ResolveFinding",
        "Alert",
        "CloseCoachingTask",
    ]
    assert plan.of_type(ResolveFinding)[0].reason == "rule disabled"
    assert plan.of_type(CloseCoachingTask)[0].note.endswith(": rule disabled.")
    assert fake.measured == []


def test_findings_of_rules_not_given_are_left_alone():
    finding = LiveFinding(3, "retired", SubjectKey("r1"), "low", "open", AS_OF)  # type: ignore[arg-type]
    plan = run([rule()], live=[finding])
    assert all(getattr(i, "rule_key", None) != "retired" for i in plan.intents)


def test_evidence_is_complete_and_json_ready():
    pace = Observation(
        None,
        parts={"won_amount": 20000.0, "weighted_open": 10000.0, "quota": 100000.0},
        period_start=date(2024, 4, 1),
        period_end=date(2024, 6, 30),
    )
    plan = run([rule()], source(quota_pace={SubjectKey("r1"): [pace]}))
    evidence = plan.of_type(OpenFinding)[0].evidence
    json.dumps(evidence)
    json.dumps([a.payload for a in plan.of_type(Alert)])
    assert evidence["rule"] == {
        "key": "calls",
        "version": 1,
        "name": "Calls per week",
        "level": "activity",
    }
    assert evidence["metric"]["metric"] == "activity_count"
    assert evidence["standard"]["derivation"] == "at least 40: absolute standard (rule standard)"
    assert [p["value"] for p in evidence["periods"]] == [50.0, 50.0, 30.0, 30.0]
    assert evidence["sparkline"] == "██▁▁"
    assert evidence["team_median"] == 50.0
    assert evidence["drives"] == "Pipeline created"
    assert evidence["quota_gap"]["remaining"] == 80000.0
    assert evidence["quota_gap"]["pace"] == pytest.approx(30000 / (100000 * 28 / 65))
    assert evidence["data_as_of"] == DATA_AS_OF.isoformat()


def test_the_quota_gap_is_unknown_without_a_quota():
    evidence = run([rule()]).of_type(OpenFinding)[0].evidence
    assert evidence["quota_gap"] == "unknown"


def test_own_baseline_reads_the_periods_before_the_window():
    versioned = rule(standard={"basis": "own_baseline", "min": 0.7, "baseline_periods": 2})
    calls = {
        SubjectKey("r1"): [100, 100, 60, 60, 60, 60],  # fell from 100 to 60: below 70
        SubjectKey("r2"): [50, 50, 50, 50, 50, 50],  # always 50: fine for them
        SubjectKey("r3"): [50, 50, 50, 50, 50, 50],
    }
    fake = source(calls)
    plan = run([versioned], fake)
    assert [f.subject for f in plan.of_type(OpenFinding)] == [SubjectKey("r1")]
    assert len(fake.measured[0][1]) == 6


def test_team_median_compares_reps_within_the_same_period():
    versioned = rule(standard={"basis": "team_median", "min": 0.7})
    plan = run([versioned], source())
    (opened,) = plan.of_type(OpenFinding)
    assert opened.standard is not None
    assert opened.standard.minimum == pytest.approx(35.0)


def test_a_ramping_rep_is_held_to_a_reduced_standard():
    reps = [manager(), rep("r1", started_on=date(2024, 4, 1)), rep("r2"), rep("r3")]
    versioned = rule(ramp={"days": 90, "factor": 0.5})
    fake = FakeMetricSource(reps, (), DATA_AS_OF).set_series("activity_count", CALLS)
    assert run([versioned], fake).of_type(OpenFinding) == ()
    assert len(run([rule()], fake).of_type(OpenFinding)) == 1


def test_quota_pace_is_not_judged_before_the_share_of_the_quarter_has_passed():
    pace = Observation(
        None,
        parts={"won_amount": 0.0, "weighted_open": 0.0, "quota": 100000.0},
        period_start=date(2024, 4, 1),
        period_end=date(2024, 6, 30),
    )
    versioned = rule(
        {**BASE_DOCUMENT, "metric": {"metric": "quota_pace"}},
        key="pace",
        standard={"min": 0.75},
        min_quota_elapsed=0.5,
    )
    fake = source(quota_pace={SubjectKey(r): [pace] * 4 for r in ("r1", "r2", "r3")})
    early = run([versioned], fake)
    late = run([versioned], fake, as_of=datetime(2024, 5, 22, 10, tzinfo=AS_OF.tzinfo))
    assert early.of_type(OpenFinding) == ()
    assert len(late.of_type(OpenFinding)) == 3


def test_the_scorecard_marks_drifting_cells():
    plan = run([rule()])
    cell = plan.scorecard.cell("r1", "calls")
    assert cell is not None
    assert (cell.value, cell.drifting) == (30.0, True)
    assert "30!" in plan.scorecard.render()
    assert plan.scorecard.cell("m1", "calls") is None


def test_a_naive_evaluation_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        run([rule()], as_of=datetime(2024, 5, 8))  # noqa: DTZ001


def test_a_rule_key_given_twice_is_refused():
    with pytest.raises(ValueError, match="more than once: calls"):
        run([rule(), rule(version=2)])


def test_a_source_that_breaks_the_series_contract_is_reported():
    class ShortSource(FakeMetricSource):
        def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
            return {SubjectKey("r1"): [Observation(1.0)]}

    with pytest.raises(ValueError, match="gave 1 values for 4 periods"):
        run([rule()], ShortSource(REPS))


def test_the_reads_named_up_front_are_the_reads_the_evaluation_makes_in_order():
    """``measurements_needed`` lets a source read ahead; it must name exactly what the
    core then asks for, in the same order, and nothing for disabled rules."""
    pack = [VersionedRule(packed.document, 1) for packed in load_pack(default_pack_dir())]
    off = rule(
        key="emails-off", enabled=False, metric={"metric": "activity_count", "kinds": ["email"]}
    )
    twin = VersionedRule(pack[0].document.model_copy(update={"key": "twin"}), 1)
    rules = [*pack, off, twin]
    fake = source()

    run(rules, fake)

    needed = measurements_needed(rules, AS_OF)
    assert needed == tuple(fake.measured)
    # rules measured per day at work over the same periods share one read of active days
    active = {rule_periods(r.document, AS_OF).all for r in pack if r.document.period.per_active_day}
    assert len(set(needed)) == len(needed) == sum(1 + _inverse(r) for r in pack) + len(active)
    assert off.document.metric not in {metric for metric, _ in needed}


def _inverse(versioned: VersionedRule) -> int:
    return sum(s.basis.value == "inverse_win_rate" for s in versioned.document.standards)
