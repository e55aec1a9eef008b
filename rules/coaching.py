"""Coaching tasks: who gets one, when it is due, and what it says.

A task is offered for every drifting subject of a rule that creates tasks, whose cadence
window allows one, and filtered through the weekly budgets (:mod:`rules.cadence`): a
rule about reps makes *coaching* tasks, charged to the rep's manager; a rule about deals
makes *hygiene* tasks, charged to the rep who owns the deals. The tasks created are then
worded from the rule's templates plus its "what good looks like" text and an evidence
summary.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rules.assessment import Assessment
from rules.cadence import Budgets, CoachingHistory, apply_budget, cadence_allows, task_key
from rules.documents import Level
from rules.evidence import deals_involved, summarise
from rules.formatting import describe_bounds, format_value
from rules.intents import (
    CreateCoachingTask,
    DeferredTask,
    Evidence,
    FindingId,
    ReviseCoachingTask,
    TaskDraft,
)
from rules.metrics import DealProfile, RepProfile, SubjectKind
from rules.periods import is_business_day
from rules.policies import Severity
from rules.templates import render

SUBJECT_LIMIT = 255  # Salesforce Task.Subject length


@dataclass(frozen=True, slots=True)
class CoachingCandidate:
    """A drifting subject that may deserve a task."""

    assessment: Assessment
    finding_id: FindingId | None
    severity: Severity
    gap: float
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class CoachingContext:
    as_of: datetime
    people: Mapping[str, RepProfile]
    deals: Mapping[str, DealProfile]
    history: CoachingHistory
    budgets: Budgets


def plan_coaching(
    candidates: Sequence[CoachingCandidate], context: CoachingContext
) -> tuple[tuple[CreateCoachingTask, ...], tuple[DeferredTask, ...]]:
    """Tasks to create now, and those deferred by a weekly budget. The budgets choose
    among drafts; only the chosen are worded."""
    due = [
        c
        for c in candidates
        if c.assessment.rule.document.coaching.create_tasks and _cadence_allows(c, context)
    ]
    drafts = [task_draft(candidate, context) for candidate in due]
    by_key = {draft.key: candidate for draft, candidate in zip(drafts, due, strict=True)}
    chosen, deferred = apply_budget(drafts, context.history, context.budgets)
    return tuple(_worded(draft, by_key[draft.key], context) for draft in chosen), deferred


def _cadence_allows(candidate: CoachingCandidate, context: CoachingContext) -> bool:
    assessment = candidate.assessment
    days = assessment.rule.document.coaching.cadence_for(assessment.rep.crm_id)
    return cadence_allows(
        context.history, assessment.rule.key, assessment.subject, days, context.as_of
    )


def task_draft(candidate: CoachingCandidate, context: CoachingContext) -> TaskDraft:
    assessment = candidate.assessment
    rule, rep, subject = assessment.rule, assessment.rep, assessment.subject
    document = rule.document
    policy = document.coaching
    assignee = _assignee(rep, policy.assignee, policy.user_crm_id)
    hygiene = document.subject_kind == SubjectKind.DEAL
    return TaskDraft(
        key=task_key(rule.key, subject, policy.cadence_for(rep.crm_id), context.as_of),
        rule_key=rule.key,
        rep_crm_id=rep.crm_id,
        deal_crm_id=subject.deal_crm_id,
        assignee_crm_id=assignee,
        budget_owner_crm_id=rep.crm_id if hygiene else rep.manager_crm_id or assignee,
        kind="hygiene" if hygiene else "coaching",
        tier=LEVEL_TIERS[document.level],
        severity=candidate.severity,
        gap=candidate.gap,
        at_risk=at_risk(assessment) if hygiene else 0.0,
        finding_id=candidate.finding_id,
    )


#: Coaching tasks rank activities first: they are what a manager can coach.
LEVEL_TIERS = {Level.ACTIVITY: 0, Level.OBJECTIVE: 1, Level.RESULT: 2}


def at_risk(assessment: Assessment) -> float:
    """The open amount behind a deal finding, as of its latest measured period."""
    latest = next((p.observation for p in reversed(assessment.points) if p.observation), None)
    return 0.0 if latest is None else latest.parts.get("amount", 0.0) or 0.0


def _worded(
    draft: TaskDraft, candidate: CoachingCandidate, context: CoachingContext
) -> CreateCoachingTask:
    """The draft with its subject, body, due date and priority."""
    rule = candidate.assessment.rule
    policy = rule.document.coaching
    title, body = _wording(candidate, context)
    return CreateCoachingTask(
        key=draft.key,
        rule_key=draft.rule_key,
        rule_version=rule.version,
        rep_crm_id=draft.rep_crm_id,
        deal_crm_id=draft.deal_crm_id,
        assignee_crm_id=draft.assignee_crm_id,
        budget_owner_crm_id=draft.budget_owner_crm_id,
        kind=draft.kind,
        subject=title,
        body=body,
        due_on=due_date(context.as_of.date(), policy.due_in_days),
        priority=policy.priority.for_severity(candidate.severity),
        severity=candidate.severity,
        gap=candidate.gap,
        finding_id=candidate.finding_id,
        evidence=candidate.evidence,
    )


def plan_revisions(
    candidates: Sequence[CoachingCandidate],
    escalated: Collection[FindingId],
    context: CoachingContext,
) -> tuple[ReviseCoachingTask, ...]:
    """The escalated findings' tasks, reworded: the new severity's priority, and a
    subject and body with the evidence of now. Budgets and cadence do not apply: the
    task exists already, and the manager should see it as it stands today."""
    revised = []
    for candidate in candidates:
        finding_id = candidate.finding_id
        if finding_id is None or finding_id not in escalated:
            continue
        assessment = candidate.assessment
        policy = assessment.rule.document.coaching
        if not policy.create_tasks:
            continue
        title, body = _wording(candidate, context)
        revised.append(
            ReviseCoachingTask(
                finding_id=finding_id,
                rule_key=assessment.rule.key,
                subject=assessment.subject,
                severity=candidate.severity,
                priority=policy.priority.for_severity(candidate.severity),
                title=title,
                body=body,
            )
        )
    return tuple(revised)


def _wording(candidate: CoachingCandidate, context: CoachingContext) -> tuple[str, str]:
    """The task's subject and body, from the rule's templates and the evidence."""
    policy = candidate.assessment.rule.document.coaching
    values = template_values(candidate, context)
    body = "\n\n".join(
        part
        for part in (
            render(policy.body_template, values),
            f"What good looks like: {policy.what_good_looks_like}"
            if policy.what_good_looks_like
            else "",
            summarise(candidate.evidence),
        )
        if part
    )
    return render(policy.subject_template, values)[:SUBJECT_LIMIT], body


def _assignee(rep: RepProfile, assignee: str, user_crm_id: str | None) -> str:
    """The manager (the rep when they have none), the rep, or the named user."""
    if assignee == "user" and user_crm_id:
        return user_crm_id
    if assignee == "manager" and rep.manager_crm_id:
        return rep.manager_crm_id
    return rep.crm_id


def due_date(today: date, days: int) -> date:
    """``days`` after today, moved to the next business day if it falls on a weekend."""
    due = today + timedelta(days=days)
    while not is_business_day(due):
        due += timedelta(days=1)
    return due


def template_values(candidate: CoachingCandidate, context: CoachingContext) -> dict[str, str]:
    assessment = candidate.assessment
    document = assessment.rule.document
    rep, fmt = assessment.rep, document.value_format
    manager = context.people.get(rep.manager_crm_id or "")
    values = {
        "rep_name": rep.name,
        "rep_first_name": rep.name.split()[0] if rep.name.split() else rep.name,
        "manager_name": manager.name if manager else "their manager",
        "rule_name": document.name,
        "drives": document.drives,
        "observed": format_value(assessment.observed, fmt),
        "standard": describe_bounds(assessment.bounds, fmt),
        "gap_percent": f"{candidate.gap:.0%}",
        "severity": candidate.severity.value,
        "period": assessment.latest.label,
        "window": f"{len(assessment.points)} {assessment.rule.document.period.unit.value}s",
    }
    deal_id = assessment.subject.deal_crm_id
    if deal_id is not None:
        values |= _deal_values(deal_id, context.deals.get(deal_id))
    if document.rollup is not None:
        names = [_deal_name(d, context.deals.get(d)) for d in deals_involved(assessment)]
        values |= {"deal_count": format_value(assessment.observed), "deals": "; ".join(names)}
    return values


def _deal_name(crm_id: str, deal: DealProfile | None) -> str:
    if deal is None:
        return crm_id
    amount = format_value(deal.amount, "currency")
    return f"{deal.name} ({deal.stage}, {amount})"


def _deal_values(crm_id: str, deal: DealProfile | None) -> dict[str, str]:
    if deal is None:
        return {"deal_name": crm_id, "deal_stage": "", "deal_amount": "", "deal_close_date": ""}
    return {
        "deal_name": deal.name,
        "deal_stage": deal.stage,
        "deal_amount": format_value(deal.amount, "currency"),
        "deal_close_date": "" if deal.close_date is None else deal.close_date.isoformat(),
    }
