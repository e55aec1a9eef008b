"""Decisions: from verdicts and live findings to intents (open, keep, escalate, resolve, alert).

The table, per rule and subject:

============================  ====================  ===============================
verdict                       no live finding       live finding
============================  ====================  ===============================
drifting                      open (+ coach)        escalate if severity rose, else
                                                    keep (+ coach unless snoozed)
not drifting, quiet >= m      nothing               resolve
not drifting, quiet < m       nothing               keep (hysteresis)
subject gone or switched off  nothing               resolve
============================  ====================  ===============================

Alerts accompany open, escalate and resolve when the rule asks for them. Evidence is built
(by the caller's function) only for subjects that get an intent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.assessment import Assessment, RuleAssessment
from rules.coaching import CoachingCandidate
from rules.documents import VersionedRule
from rules.formatting import describe_bounds, finite, format_value
from rules.intents import (
    SNOOZED,
    Alert,
    AlertEvent,
    CloseCoachingTask,
    EscalateFinding,
    Evidence,
    FindingIntent,
    KeepFinding,
    LiveFinding,
    OpenFinding,
    ResolveFinding,
)
from rules.metrics import SubjectKey
from rules.policies import Severity

EvidenceFn = Callable[[Assessment], Evidence]


@dataclass(frozen=True, slots=True)
class Decisions:
    intents: tuple[FindingIntent | Alert | CloseCoachingTask, ...]
    candidates: tuple[CoachingCandidate, ...]


def decide_rule(
    judged: RuleAssessment,
    live: Mapping[SubjectKey, LiveFinding],
    evidence: EvidenceFn,
    as_of: datetime,
) -> Decisions:
    """Intents for one rule; ``live`` holds that rule's live findings by subject."""
    intents: list[FindingIntent] = []
    closes: list[CloseCoachingTask] = []
    candidates: list[CoachingCandidate] = []
    assessed: set[SubjectKey] = set()
    for assessment in judged.assessments:
        assessed.add(assessment.subject)
        finding = live.get(assessment.subject)
        if not assessment.verdict.drifting and finding is None:
            continue
        proof = evidence(assessment)
        intent = _decide(assessment, finding, proof)
        if intent is not None:
            intents.append(intent)
        if isinstance(intent, ResolveFinding):
            closes.append(close_task(intent, resolution_note(assessment, as_of)))
        if assessment.verdict.drifting and (finding is None or finding.state != SNOOZED):
            candidates.append(_candidate(assessment, finding, proof))
    for subject, finding in sorted(live.items(), key=lambda item: str(item[1].id)):
        if subject not in assessed:
            why = _gone_reason(subject, judged.disabled_reps)
            resolved = resolve_without_assessment(judged.rule, finding, why, as_of)
            intents.append(resolved)
            closes.append(close_task(resolved, closing_note(why, as_of)))
    alerted = with_alerts(intents, judged.rule, as_of)
    return Decisions((*alerted, *closes), tuple(candidates))


def resolve_rule(
    rule: VersionedRule, live: Sequence[LiveFinding], reason: str, as_of: datetime
) -> tuple[FindingIntent | Alert | CloseCoachingTask, ...]:
    """Resolve every live finding of a rule that no longer runs (disabled)."""
    ordered = sorted(live, key=lambda finding: str(finding.id))
    intents = [resolve_without_assessment(rule, f, reason, as_of) for f in ordered]
    closes = [close_task(intent, closing_note(reason, as_of)) for intent in intents]
    return (*with_alerts(intents, rule, as_of), *closes)


def close_task(resolved: ResolveFinding, note: str) -> CloseCoachingTask:
    return CloseCoachingTask(resolved.finding_id, resolved.rule_key, resolved.subject, note)


def resolution_note(assessment: Assessment, as_of: datetime) -> str:
    """Why the task is closed, in the manager's terms: the value the indicator is back
    to, the standard it meets, and the evaluation's date (never the wall clock: a replay
    as of a past moment writes what was known then)."""
    fmt = assessment.rule.document.value_format
    value = format_value(assessment.observed, fmt)
    standard = describe_bounds(assessment.bounds, fmt)
    return (
        f"Closed by driftcoach on {as_of.date().isoformat()}: "
        f"{assessment.rule.document.name} is back inside the standard "
        f"({value}, standard {standard}, {assessment.latest.label})."
    )


def closing_note(reason: str, as_of: datetime) -> str:
    return f"Closed by driftcoach on {as_of.date().isoformat()}: {reason}."


def _decide(
    assessment: Assessment, finding: LiveFinding | None, evidence: Evidence
) -> FindingIntent | None:
    rule, verdict = assessment.rule, assessment.verdict
    subject, observed = assessment.subject, finite(assessment.observed)
    if finding is None:
        return _open(assessment, evidence)
    if verdict.may_resolve(rule.document.drift):
        reason = f"back inside the standard for {verdict.quiet_periods} periods"
        return ResolveFinding(finding.id, rule.key, subject, reason, observed, evidence)
    severity = verdict.severity or finding.severity
    if severity.rank > finding.severity.rank:
        return EscalateFinding(
            finding_id=finding.id,
            rule_key=rule.key,
            rule_version=rule.version,
            subject=subject,
            previous_severity=finding.severity,
            severity=severity,
            observed=observed,
            standard=assessment.bounds,
            evidence=evidence,
        )
    return KeepFinding(
        finding_id=finding.id,
        rule_key=rule.key,
        rule_version=rule.version,
        subject=subject,
        severity=severity,
        observed=observed,
        standard=assessment.bounds,
        evidence=evidence,
    )


def _open(assessment: Assessment, evidence: Evidence) -> OpenFinding | None:
    severity = assessment.verdict.severity
    if severity is None:
        return None
    period = assessment.latest.period
    return OpenFinding(
        rule_key=assessment.rule.key,
        rule_version=assessment.rule.version,
        subject=assessment.subject,
        severity=severity,
        observed=finite(assessment.observed),
        standard=assessment.bounds,
        period_start=period.start,
        period_end=period.end,
        evidence=evidence,
        baseline=finite(assessment.baseline),
    )


def _candidate(
    assessment: Assessment, finding: LiveFinding | None, evidence: Evidence
) -> CoachingCandidate:
    severity = assessment.verdict.severity or Severity.LOW  # drifting verdicts carry one
    finding_id = None if finding is None else finding.id
    return CoachingCandidate(assessment, finding_id, severity, assessment.verdict.gap, evidence)


def _gone_reason(subject: SubjectKey, disabled_reps: frozenset[str]) -> str:
    if subject.rep_crm_id in disabled_reps:
        return "rule switched off for this rep by an override"
    if subject.deal_crm_id is not None:
        return "deal no longer open (or owner no longer evaluated)"
    return "rep no longer evaluated (inactive, manager or removed)"


def resolve_without_assessment(
    rule: VersionedRule, finding: LiveFinding, reason: str, as_of: datetime
) -> ResolveFinding:
    evidence = {
        "rule": {"key": rule.key, "version": rule.version, "name": rule.document.name},
        "subject": {
            "rep_crm_id": finding.subject.rep_crm_id,
            "deal_crm_id": finding.subject.deal_crm_id,
        },
        "reason": reason,
        "evaluated_at": as_of.isoformat(),
    }
    return ResolveFinding(finding.id, rule.key, finding.subject, reason, None, evidence)


_EVENTS: dict[type, AlertEvent] = {
    OpenFinding: "finding.opened",
    EscalateFinding: "finding.escalated",
    ResolveFinding: "finding.resolved",
}


def with_alerts(
    intents: Sequence[FindingIntent], rule: VersionedRule, as_of: datetime
) -> tuple[FindingIntent | Alert, ...]:
    """``intents`` with an :class:`Alert` after each open, escalate and resolve (if asked)."""
    result: list[FindingIntent | Alert] = []
    for intent in intents:
        result.append(intent)
        event = _EVENTS.get(type(intent))
        if event is not None and rule.document.alert:
            result.append(
                Alert(event, rule.key, intent.subject, alert_payload(event, intent, rule, as_of))
            )
    return tuple(result)


def alert_payload(
    event: AlertEvent, intent: FindingIntent, rule: VersionedRule, as_of: datetime
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event": event,
        "occurred_at": as_of.isoformat(),
        "rule_key": rule.key,
        "rule_version": rule.version,
        "rep_crm_id": intent.subject.rep_crm_id,
        "deal_crm_id": intent.subject.deal_crm_id,
        "finding_id": None if isinstance(intent, OpenFinding) else intent.finding_id,
        "observed": intent.observed,
    }
    if isinstance(intent, OpenFinding | EscalateFinding):
        payload["severity"] = intent.severity.value
        bounds = intent.standard
        payload["standard"] = (
            None if bounds is None else {"min": bounds.minimum, "max": bounds.maximum}
        )
    if isinstance(intent, EscalateFinding):
        payload["previous_severity"] = intent.previous_severity.value
    if isinstance(intent, ResolveFinding):
        payload["reason"] = intent.reason
    # The intent's own evidence, not a copy: an evaluation completes it in place once it
    # knows the deals and quota gaps (rules.evidence.complete_evidence).
    payload["evidence"] = intent.evidence
    return payload
