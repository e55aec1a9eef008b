"""Decisions: open, keep, escalate, resolve, alert; coaching cadence and weekly budgets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from rules.assessment import Assessment, RuleAssessment, assess_rule
from rules.cadence import Budgets, CoachingHistory, task_key
from rules.coaching import CoachingCandidate, CoachingContext, plan_coaching
from rules.decisions import Decisions, decide_rule, resolve_rule
from rules.documents import VersionedRule
from rules.evidence import EvidenceContext, build_evidence
from rules.fake_source import FakeMetricSource
from rules.intents import (
    SNOOZED,
    Alert,
    CloseCoachingTask,
    EscalateFinding,
    Evidence,
    KeepFinding,
    LiveFinding,
    OpenFinding,
    ResolveFinding,
)
from rules.metrics import DealProfile, RepProfile, SubjectKey
from rules.policies import Severity
from rules.series import rule_periods
from tests.unit.rules_support import AS_OF, DEAL_DOCUMENT, manager, rep, rule

R1, R2, R3 = SubjectKey("r1"), SubjectKey("r2"), SubjectKey("r3")
REPS = [manager(), rep("r1"), rep("r2"), rep("r3")]
DRIFTING = [50, 50, 30, 30]  # the last two weeks below 40: gap 0.25
DEEP = [50, 50, 10, 10]  # gap 0.75: high
HEALTHY = [50, 50, 50, 50]
RECOVERING = [30, 30, 30, 50]  # back inside for one week only


def judged(
    versioned: VersionedRule,
    values: dict[SubjectKey, list[Any]],
    reps: Sequence[RepProfile] = REPS,
) -> RuleAssessment:
    """Reps missing from ``values`` of a rep rule are healthy (a rate metric reads them as 0)."""
    if versioned.document.subject_kind.value == "rep":
        values = {**{SubjectKey(r.crm_id): HEALTHY for r in reps}, **values}
    source = FakeMetricSource(reps).set_series(versioned.document.metric.metric, values)
    periods = rule_periods(versioned.document, AS_OF)
    series = source.measure(versioned.document.metric, periods.all)
    return assess_rule(versioned, periods, series, {r.crm_id: r for r in reps if r.crm_id != "m1"})


def evidence(assessment: Assessment) -> Evidence:
    return build_evidence(assessment, EvidenceContext(AS_OF, None, {}, {}))


def live(
    subject: SubjectKey = R1,
    severity: Severity = Severity.LOW,
    state: str = "open",
    rule_key: str = "calls",
    finding_id: int = 7,
) -> LiveFinding:
    return LiveFinding(finding_id, rule_key, subject, severity, state, AS_OF - timedelta(days=9))


def decide(
    versioned: VersionedRule,
    values: dict[SubjectKey, list[Any]],
    findings: Sequence[LiveFinding] = (),
    reps: Sequence[RepProfile] = REPS,
) -> Decisions:
    by_subject = {finding.subject: finding for finding in findings}
    return decide_rule(judged(versioned, values, reps), by_subject, evidence, AS_OF)


def kinds(decisions: Decisions) -> list[str]:
    return [type(intent).__name__ for intent in decisions.intents]


def test_a_drifting_rep_without_a_finding_gets_one_an_alert_and_a_coaching_candidate():
    decisions = decide(rule(), {R1: DRIFTING, R2: HEALTHY})
    assert kinds(decisions) == ["OpenFinding", "Alert"]
    opened, alert = decisions.intents
    assert isinstance(opened, OpenFinding)
    assert isinstance(alert, Alert)
    assert (opened.subject, opened.severity, opened.observed) == (R1, Severity.MEDIUM, 30.0)
    assert alert.event == "finding.opened"
    assert alert.payload["finding_id"] is None
    assert [c.assessment.subject for c in decisions.candidates] == [R1]


def test_no_alert_when_the_rule_does_not_ask_for_one():
    assert kinds(decide(rule(alert=False), {R1: DRIFTING})) == ["OpenFinding"]


def test_a_still_drifting_finding_is_kept_with_fresh_evidence_and_coached():
    decisions = decide(rule(), {R1: DRIFTING}, [live(severity=Severity.MEDIUM)])
    (kept,) = decisions.intents
    assert isinstance(kept, KeepFinding)
    assert (kept.finding_id, kept.severity, kept.observed) == (7, Severity.MEDIUM, 30.0)
    assert kept.evidence["observed"] == 30.0
    assert len(decisions.candidates) == 1


def test_a_finding_whose_gap_grew_is_escalated_with_an_alert():
    decisions = decide(rule(), {R1: DEEP}, [live(severity=Severity.LOW)])
    escalated, alert = decisions.intents
    assert isinstance(escalated, EscalateFinding)
    assert (escalated.previous_severity, escalated.severity) == (Severity.LOW, Severity.HIGH)
    assert isinstance(alert, Alert)
    assert alert.payload["previous_severity"] == "low"
    assert alert.payload["finding_id"] == 7


def test_an_easing_finding_is_kept_at_the_lower_severity():
    (kept,) = decide(rule(), {R1: DRIFTING}, [live(severity=Severity.HIGH)]).intents
    assert isinstance(kept, KeepFinding)
    assert kept.severity is Severity.MEDIUM


def test_hysteresis_keeps_a_finding_until_it_has_been_inside_long_enough():
    versioned = rule(drift={"k": 2, "n": 2, "resolve_after": 2})
    decisions = decide(versioned, {R1: RECOVERING}, [live()])
    (kept,) = decisions.intents
    assert isinstance(kept, KeepFinding)
    assert kept.severity is Severity.LOW
    assert decisions.candidates == ()


def test_a_finding_back_inside_for_long_enough_resolves_with_an_alert():
    decisions = decide(rule(), {R1: [30, 30, 50, 50]}, [live()])
    resolved, alert, close = decisions.intents
    assert isinstance(resolved, ResolveFinding)
    assert resolved.reason == "back inside the standard for 2 periods"
    assert isinstance(alert, Alert)
    assert alert.event == "finding.resolved"
    # the task is closed with the value, the standard and the evaluation's date
    assert isinstance(close, CloseCoachingTask)
    assert close.finding_id == resolved.finding_id
    assert close.note.startswith(f"Closed by driftcoach on {AS_OF.date().isoformat()}: ")
    assert "back inside the standard (50, standard at least " in close.note


def test_a_finding_on_a_deal_no_longer_open_resolves():
    deal = SubjectKey("r1", "006A")
    decisions = decide(rule(DEAL_DOCUMENT), {}, [live(deal, rule_key="stale-deals")])
    resolved = decisions.intents[0]
    assert isinstance(resolved, ResolveFinding)
    assert resolved.reason == "deal no longer open (or owner no longer evaluated)"
    close = decisions.intents[-1]
    assert isinstance(close, CloseCoachingTask)
    assert close.note.endswith(": deal no longer open (or owner no longer evaluated).")


def test_a_finding_for_a_rep_the_rule_was_switched_off_for_resolves():
    versioned = rule(overrides={"reps": {"r1": {"disabled": True}}})
    decisions = decide(versioned, {R1: DRIFTING}, [live()])
    resolved = decisions.intents[0]
    assert isinstance(resolved, ResolveFinding)
    assert resolved.reason == "rule switched off for this rep by an override"
    assert decisions.candidates == ()


def test_a_snoozed_finding_is_kept_but_not_coached():
    decisions = decide(rule(), {R1: DRIFTING}, [live(state=SNOOZED, severity=Severity.MEDIUM)])
    assert kinds(decisions) == ["KeepFinding"]
    assert decisions.candidates == ()


def test_a_disabled_rule_resolves_all_its_findings():
    intents = resolve_rule(
        rule(), [live(R2, finding_id=2), live(R1, finding_id=1)], "rule disabled", AS_OF
    )
    resolved = [i for i in intents if isinstance(i, ResolveFinding)]
    assert [(r.finding_id, r.reason) for r in resolved] == [
        (1, "rule disabled"),
        (2, "rule disabled"),
    ]


# ---------------------------------------------------------------- coaching


def candidates(
    versioned: VersionedRule,
    values: dict[SubjectKey, list[Any]],
    reps: Sequence[RepProfile] = REPS,
) -> list[CoachingCandidate]:
    return list(decide(versioned, values, reps=reps).candidates)


def context(
    history: CoachingHistory | None = None,
    *,
    budget: int = 10,
    budgets: dict[str, int] | None = None,
    hygiene: int = 2,
    as_of: datetime = AS_OF,
    reps: Sequence[RepProfile] = REPS,
    deals: Sequence[DealProfile] = (),
) -> CoachingContext:
    return CoachingContext(
        as_of,
        {r.crm_id: r for r in reps},
        {d.crm_id: d for d in deals},
        history or CoachingHistory(),
        Budgets(budget, budgets or {}, hygiene),
    )


def history_at(days_ago: int, subject: SubjectKey = R1) -> CoachingHistory:
    key = ("calls", subject.rep_crm_id, subject.deal_crm_id)
    return CoachingHistory(last_task_at={key: AS_OF - timedelta(days=days_ago)})


def test_a_task_is_created_when_the_cadence_window_is_open():
    tasks, deferred = plan_coaching(candidates(rule(), {R1: DRIFTING}), context())
    (task,) = tasks
    assert deferred == ()
    assert (task.rep_crm_id, task.assignee_crm_id, task.priority) == ("r1", "m1", "medium")
    assert task.finding_id is None


def test_no_second_task_inside_the_cadence_window():
    found = candidates(rule(), {R1: DRIFTING})
    assert plan_coaching(found, context(history_at(13))) == ((), ())
    assert len(plan_coaching(found, context(history_at(14)))[0]) == 1


def test_a_rep_can_have_a_cadence_of_their_own():
    versioned = rule(coaching={"cadence_days": 14, "cadence_days_by_rep": {"r1": 7}})
    found = candidates(versioned, {R1: DRIFTING, R2: DRIFTING})
    history = CoachingHistory(
        last_task_at={
            ("calls", "r1", None): AS_OF - timedelta(days=8),
            ("calls", "r2", None): AS_OF - timedelta(days=8),
        }
    )
    tasks, _ = plan_coaching(found, context(history))
    assert [t.rep_crm_id for t in tasks] == ["r1"]


def test_the_weekly_budget_keeps_the_most_severe_and_defers_the_rest():
    found = candidates(rule(), {R1: DRIFTING, R2: DEEP, R3: [50, 50, 20, 20]})
    tasks, deferred = plan_coaching(found, context(budget=2))
    assert [t.rep_crm_id for t in tasks] == ["r2", "r3"]
    assert [d.task.rep_crm_id for d in deferred] == ["r1"]
    assert deferred[0].reason == "weekly budget of 2 tasks for m1 is used up"


def test_a_deferred_task_is_the_draft_of_the_task_a_larger_budget_creates():
    found = candidates(rule(), {R1: DRIFTING, R2: DEEP})
    _, deferred = plan_coaching(found, context(budget=1))
    created, _ = plan_coaching(found, context(budget=2))
    (draft,) = [d.task for d in deferred]
    (task,) = [t for t in created if t.rep_crm_id == draft.rep_crm_id]
    shared = ("key", "rule_key", "deal_crm_id", "assignee_crm_id", "budget_owner_crm_id")
    assert {name: getattr(draft, name) for name in shared} == {
        name: getattr(task, name) for name in shared
    }
    assert (draft.severity, draft.gap, draft.finding_id) == (task.severity, task.gap, None)
    assert task.subject  # worded once chosen
    assert task.body


def test_ties_in_severity_are_ranked_by_gap():
    found = candidates(rule(), {R1: [50, 50, 28, 28], R2: [50, 50, 25, 25]})
    tasks, deferred = plan_coaching(found, context(budget=1))
    assert [t.rep_crm_id for t in tasks] == ["r2"]
    assert [d.task.rep_crm_id for d in deferred] == ["r1"]


def test_tasks_already_created_this_week_count_against_the_budget():
    found = candidates(rule(), {R1: DRIFTING, R2: DEEP})
    tasks, deferred = plan_coaching(found, context(CoachingHistory(tasks_this_week={"m1": 9})))
    assert [t.rep_crm_id for t in tasks] == ["r2"]
    assert len(deferred) == 1


def test_each_manager_has_a_budget_of_their_own():
    reps = [manager(), manager("m2", "Max"), rep("r1"), rep("r2", manager_crm_id="m2")]
    found = candidates(rule(), {R1: DRIFTING, R2: DRIFTING}, reps)
    tasks, deferred = plan_coaching(found, context(budget=1, reps=reps))
    assert sorted(t.budget_owner_crm_id for t in tasks) == ["m1", "m2"]
    assert deferred == ()
    tasks, deferred = plan_coaching(found, context(budget=1, budgets={"m2": 0}, reps=reps))
    assert [t.budget_owner_crm_id for t in tasks] == ["m1"]
    assert [d.task.budget_owner_crm_id for d in deferred] == ["m2"]


def test_the_task_key_is_the_same_within_a_cadence_window_and_changes_after():
    first = task_key("calls", R1, 14, datetime(2024, 5, 6, 9, tzinfo=AS_OF.tzinfo))
    same = task_key("calls", R1, 14, datetime(2024, 5, 12, 23, tzinfo=AS_OF.tzinfo))
    later = task_key("calls", R1, 14, datetime(2024, 5, 20, 9, tzinfo=AS_OF.tzinfo))
    assert first == same != later
    assert task_key("calls", R2, 14, AS_OF) != task_key("calls", R1, 14, AS_OF)
    assert task_key("calls", SubjectKey("r1", "006A"), 14, AS_OF) != task_key(
        "calls", R1, 14, AS_OF
    )


def test_task_keys_fit_the_outbox_column_even_for_the_longest_rule_key():
    longest = "k" * 48
    assert len(task_key(longest, SubjectKey("r" * 80, "d" * 80), 365, AS_OF)) <= 80
    assert len(task_key(longest, R1, 1, AS_OF)) <= 80


@pytest.mark.parametrize(
    ("coaching", "assignee"),
    [
        ({"assignee": "manager"}, "m1"),
        ({"assignee": "rep"}, "r1"),
        ({"assignee": "user", "user_crm_id": "005COACH"}, "005COACH"),
    ],
)
def test_the_task_goes_to_the_assignee_the_rule_names(coaching: dict[str, str], assignee: str):
    (task,), _ = plan_coaching(candidates(rule(coaching=coaching), {R1: DRIFTING}), context())
    assert task.assignee_crm_id == assignee
    assert task.budget_owner_crm_id == "m1"


def test_a_rep_without_a_manager_gets_the_task_themself():
    reps = [rep("r1", manager_crm_id=None)]
    (task,), _ = plan_coaching(candidates(rule(), {R1: DRIFTING}, reps), context(reps=reps))
    assert task.assignee_crm_id == "r1"
    assert task.budget_owner_crm_id == "r1"


def test_a_task_due_on_a_weekend_moves_to_monday():
    friday = datetime(2024, 5, 10, 9, tzinfo=AS_OF.tzinfo)
    found = candidates(rule(coaching={"due_in_days": 1}), {R1: DRIFTING})
    (task,), _ = plan_coaching(found, context(as_of=friday))
    assert task.due_on == date(2024, 5, 13)


def test_priority_follows_the_severity_map():
    versioned = rule(coaching={"priority": {"high": "medium"}})
    (task,), _ = plan_coaching(candidates(versioned, {R1: DEEP}), context())
    assert (task.severity, task.priority) == (Severity.HIGH, "medium")


def test_the_task_text_has_the_template_what_good_looks_like_and_the_evidence():
    versioned = rule(
        coaching={
            "subject_template": "Coach {rep_first_name}: {observed} calls",
            "body_template": "{rep_name} made {observed} calls; standard {standard}.",
        }
    )
    (task,), _ = plan_coaching(candidates(versioned, {R1: DRIFTING}), context())
    assert task.subject == "Coach Rep: 30 calls"
    assert task.body.startswith("Rep R1 made 30 calls; standard at least 40.")
    assert "What good looks like: A call block every morning." in task.body
    assert "Recent periods: 2024-W15 50, 2024-W16 50, 2024-W17 30, 2024-W18 30" in task.body
    assert "rule calls v1" in task.body


def test_a_deal_task_names_and_carries_the_deal():
    deal = SubjectKey("r1", "006A")
    reps: list[RepProfile] = [manager(), rep("r1")]
    found = candidates(rule(DEAL_DOCUMENT), {deal: [3, 9, 10]}, reps)
    acme = DealProfile("006A", "Acme renewal", "r1", 12000.0, "Proposal", date(2024, 6, 30))
    (task,), _ = plan_coaching(found, context(reps=reps, deals=[acme]))
    assert (task.rep_crm_id, task.deal_crm_id, task.assignee_crm_id) == ("r1", "006A", "r1")
    assert task.subject == "Re-engage Acme renewal"
