"""What ``POST /v1/rules/{key}:preview`` takes and answers: a dry run's plan for one rule,
as the findings it would open, keep, escalate and resolve and the coaching tasks it
would create, each with who it is about, severity, observed value and standard."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from rules.documents import RuleDocument
from rules.evaluation import (
    CreateCoachingTask,
    EscalateFinding,
    KeepFinding,
    OpenFinding,
    ResolveFinding,
)
from rules.intents import FindingId
from rules.metrics import SubjectKey
from service.api.backtest_views import finite
from service.api.settings_views import MAX_ID
from service.evaluation.run import EvaluationResult


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: datetime | None = Field(
        default=None, description="Judge as of this time (UTC if no offset; default: now)."
    )
    #: Declared as the core's model, so the OpenAPI document carries its schema; checked
    #: by the endpoint itself, so each problem is named ``document.<field>``.
    document: SkipValidation[RuleDocument] | None = Field(
        default=None, description="A draft document to try instead of the stored one."
    )
    connection_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="One connection (default: every enabled one)."
    )


class SubjectView(BaseModel):
    rep_crm_id: str
    rep_name: str | None
    deal_crm_id: str | None
    deal_name: str | None


class StandardView(BaseModel):
    min: float | None
    max: float | None
    text: str | None


class FindingPreview(BaseModel):
    finding_id: int | None = Field(description="The live finding's id; None for a new one.")
    subject: SubjectView
    severity: str | None
    previous_severity: str | None = None
    observed: float | None
    observed_text: str | None
    standard: StandardView | None
    reason: str | None = Field(default=None, description="Why it would resolve.")


class TaskPreview(BaseModel):
    title: str = Field(description="The task's subject line in the CRM.")
    subject: SubjectView
    kind: str
    assignee_crm_id: str
    due_on: date
    priority: str
    severity: str
    observed: float | None
    observed_text: str | None
    standard: StandardView | None


class ConnectionPreview(BaseModel):
    connection_id: int
    connection_name: str
    held_back: str | None = Field(description="Why the rule would not be judged: its data.")
    opened: list[FindingPreview]
    kept: list[FindingPreview]
    escalated: list[FindingPreview]
    resolved: list[FindingPreview]
    tasks: list[TaskPreview]
    deferred_tasks: int = Field(description="Tasks the weekly budgets would hold back.")


class Preview(BaseModel):
    key: str
    version: int = Field(description="The version judged (a draft: the one it would be).")
    draft: bool
    as_of: datetime
    connections: list[ConnectionPreview]


def connection_preview(
    connection_id: int, name: str, result: EvaluationResult
) -> ConnectionPreview:
    plan = result.plan
    return ConnectionPreview(
        connection_id=connection_id, connection_name=name,
        held_back=next(iter(result.held_back.values()), None),
        opened=[_finding(i, None, i.evidence) for i in plan.of_type(OpenFinding)],
        kept=[_finding(i, i.finding_id, i.evidence) for i in plan.of_type(KeepFinding)],
        escalated=[_escalated(i) for i in plan.of_type(EscalateFinding)],
        resolved=[_resolved(i) for i in plan.of_type(ResolveFinding)],
        tasks=[_task(i) for i in plan.of_type(CreateCoachingTask)],
        deferred_tasks=len(plan.deferred),
    )  # fmt: skip


def _finding(
    intent: OpenFinding | KeepFinding | EscalateFinding,
    finding_id: FindingId | None,
    evidence: Mapping[str, Any],
) -> FindingPreview:
    return FindingPreview(
        finding_id=None if finding_id is None else int(finding_id),
        subject=_subject(intent.subject, evidence), severity=intent.severity.value,
        observed=finite(intent.observed), observed_text=evidence.get("observed_text"),
        standard=_standard(evidence),
    )  # fmt: skip


def _escalated(intent: EscalateFinding) -> FindingPreview:
    found = _finding(intent, intent.finding_id, intent.evidence)
    return found.model_copy(update={"previous_severity": intent.previous_severity.value})


def _resolved(intent: ResolveFinding) -> FindingPreview:
    evidence = intent.evidence
    return FindingPreview(
        finding_id=int(intent.finding_id), subject=_subject(intent.subject, evidence),
        severity=None, observed=finite(intent.observed),
        observed_text=evidence.get("observed_text"), standard=_standard(evidence),
        reason=intent.reason,
    )  # fmt: skip


def _task(intent: CreateCoachingTask) -> TaskPreview:
    evidence = intent.evidence
    return TaskPreview(
        title=intent.subject, subject=_subject(intent.subject_key, evidence), kind=intent.kind,
        assignee_crm_id=intent.assignee_crm_id, due_on=intent.due_on,
        priority=intent.priority, severity=intent.severity.value,
        observed=finite(evidence.get("observed")), observed_text=evidence.get("observed_text"),
        standard=_standard(evidence),
    )  # fmt: skip


def _subject(subject: SubjectKey, evidence: Mapping[str, Any]) -> SubjectView:
    about = evidence.get("subject") or {}
    deals = [deal for deal in evidence.get("deals") or [] if isinstance(deal, Mapping)]
    deal = next((d for d in deals if d.get("crm_id") == subject.deal_crm_id), None)
    return SubjectView(
        rep_crm_id=subject.rep_crm_id, rep_name=about.get("rep_name"),
        deal_crm_id=subject.deal_crm_id, deal_name=None if deal is None else deal.get("name"),
    )  # fmt: skip


def _standard(evidence: Mapping[str, Any]) -> StandardView | None:
    standard = evidence.get("standard")
    if not isinstance(standard, Mapping):
        return None
    return StandardView(min=finite(standard.get("min")), max=finite(standard.get("max")),
                        text=standard.get("text"))  # fmt: skip
