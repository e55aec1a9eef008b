"""Findings as the API shows them: the response models, the filtered query behind
``GET /v1/findings``, and snoozing (a person's decision, so it is audited).

A finding names its rep and deal by CRM id and name (what a person recognises), not by
the store's row ids; the rule by key and the version that last judged it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from service.api.problems import ApiProblem, not_found
from service.store.findings import add_transition
from service.store.tables import (
    AuditEntry,
    Finding,
    FindingState,
    FindingTransition,
    Opportunity,
    Rep,
    Rule,
    Severity,
    SubjectKind,
    utcnow,
)

#: How far ahead a snooze may reach: longer than a quarter is ignoring, not snoozing.
MAX_SNOOZE = timedelta(days=90)


class RuleRef(BaseModel):
    key: str
    version: int


class RecordRef(BaseModel):
    """A rep or a deal: its CRM id and name."""

    crm_id: str
    name: str


class FindingView(BaseModel):
    id: int
    connection_id: int
    rule: RuleRef
    subject_kind: SubjectKind
    rep: RecordRef
    deal: RecordRef | None
    state: FindingState
    severity: Severity
    observed: float | None
    standard: dict[str, Any]
    evidence: dict[str, Any]
    period_start: date = Field(description="The first day of the latest period judged.")
    period_end: date = Field(description="Its last day.")
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    snoozed_until: datetime | None
    snooze_lapsed: bool = Field(
        description="Snoozed, but the snooze has ended: the next evaluation reopens it."
    )
    coached_at: datetime | None


class TransitionView(BaseModel):
    at: datetime
    action: str = Field(description="opened, escalated, eased, resolved, snoozed, unsnoozed")
    state: FindingState
    severity: Severity
    rule_version: int
    observed: float | None
    evidence: dict[str, Any]


class FindingDetail(FindingView):
    transitions: list[TransitionView] = Field(description="Oldest first.")


class SnoozeRequest(BaseModel):
    until: AwareDatetime = Field(description="When the finding may be coached again.")
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("until")
    @classmethod
    def _ahead(cls, until: datetime) -> datetime:
        now = utcnow()
        if until <= now:
            raise ValueError("must be in the future")
        if until > now + MAX_SNOOZE:
            raise ValueError(f"must be at most {MAX_SNOOZE.days} days ahead")
        return until.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class FindingFilters:
    """``GET /v1/findings``'s filters; each one given narrows the list."""

    states: tuple[FindingState, ...] = ()
    severities: tuple[Severity, ...] = ()
    rule: str | None = None
    rep: str | None = None
    manager: str | None = None
    team: str | None = None
    opened_after: datetime | None = None
    opened_before: datetime | None = None
    connection: int | None = None


_Deal = aliased(Opportunity)


#: A finding, its rule's key, its rep, its deal's CRM id and name (None without a deal).
FindingRows = Select[Finding, str, Rep, str, str]


def findings_query(filters: FindingFilters) -> FindingRows:
    """Findings with their rule, rep and deal, newest first."""
    query = (
        select(Finding, Rule.key, Rep, _Deal.crm_id, _Deal.name)
        .join(Rule, Rule.id == Finding.rule_id)
        .join(Rep, Rep.id == Finding.rep_id)
        .outerjoin(_Deal, _Deal.id == Finding.opportunity_id)
        .order_by(Finding.id.desc())
    )
    conditions = [
        Finding.state.in_(filters.states) if filters.states else None,
        Finding.severity.in_(filters.severities) if filters.severities else None,
        Rule.key == filters.rule if filters.rule is not None else None,
        Rep.crm_id == filters.rep if filters.rep is not None else None,
        Rep.manager_crm_id == filters.manager if filters.manager is not None else None,
        Rep.team == filters.team if filters.team is not None else None,
        Finding.opened_at >= _utc(filters.opened_after) if filters.opened_after else None,
        Finding.opened_at < _utc(filters.opened_before) if filters.opened_before else None,
        Rep.connection_id == filters.connection if filters.connection is not None else None,
    ]
    return query.where(*(condition for condition in conditions if condition is not None))


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC, the store's zone; a moment that falls outside the calendar in
    UTC (year 1 ahead of UTC, year 9999 behind it) as the calendar's first or last."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        if moment.year == 1:
            return datetime.min.replace(tzinfo=UTC)
        return datetime.max.replace(tzinfo=UTC)


def finding_views(rows: Any) -> list[FindingView]:
    now = utcnow()
    return [_view(now, *row) for row in rows]


def _view(  # noqa: PLR0917 - one row of findings_query
    now: datetime,
    finding: Finding,
    rule_key: str,
    rep: Rep,
    deal_crm_id: str | None,
    deal_name: str | None,
) -> FindingView:
    deal = None if deal_crm_id is None else RecordRef(crm_id=deal_crm_id, name=deal_name or "")
    return FindingView(
        id=finding.id,
        connection_id=rep.connection_id,
        rule=RuleRef(key=rule_key, version=finding.rule_version),
        subject_kind=finding.subject_kind,
        rep=RecordRef(crm_id=rep.crm_id, name=rep.name),
        deal=deal,
        state=finding.state,
        severity=finding.severity,
        observed=finding.observed,
        standard=dict(finding.standard),
        evidence=dict(finding.evidence),
        period_start=finding.period_start,
        period_end=finding.period_end,
        opened_at=finding.opened_at,
        updated_at=finding.updated_at,
        resolved_at=finding.resolved_at,
        snoozed_until=finding.snoozed_until,
        snooze_lapsed=_lapsed(finding, now),
        coached_at=finding.coached_at,
    )


def finding_detail(session: Session, finding_id: int) -> FindingDetail:
    """The finding and its transitions, oldest first; 404 when there is none."""
    row = session.execute(findings_query(FindingFilters()).where(Finding.id == finding_id)).first()
    if row is None:
        raise not_found(f"finding {finding_id}")
    view = finding_views([row])[0]
    transitions = session.scalars(
        select(FindingTransition)
        .where(FindingTransition.finding_id == finding_id)
        .order_by(FindingTransition.at, FindingTransition.id)
    )
    history = [
        TransitionView(at=t.at, action=t.action, state=t.state, severity=t.severity,
                       rule_version=t.rule_version, observed=t.observed,
                       evidence=dict(t.evidence))
        for t in transitions
    ]  # fmt: skip
    return FindingDetail(**view.model_dump(), transitions=history)


def snooze(session: Session, finding_id: int, wanted: SnoozeRequest, actor: str) -> None:
    """Open (or snoozed with its snooze ended) -> snoozed until ``wanted.until``."""
    finding, now = _locked(session, finding_id), utcnow()
    lapsed = _lapsed(finding, now)
    if finding.state is not FindingState.OPEN and not lapsed:
        raise _refused(finding, "snoozed")
    before = _snooze_state(finding)
    finding.state, finding.snoozed_until = FindingState.SNOOZED, wanted.until
    _record(session, finding, "snoozed", actor, before, now, reason=wanted.reason)


def unsnooze(session: Session, finding_id: int, actor: str) -> None:
    """Snoozed -> open: it is coached again from the next evaluation."""
    finding, now = _locked(session, finding_id), utcnow()
    if finding.state is not FindingState.SNOOZED:
        raise _refused(finding, "unsnoozed")
    before = _snooze_state(finding)
    finding.state, finding.snoozed_until = FindingState.OPEN, None
    _record(session, finding, "unsnoozed", actor, before, now)


def _locked(session: Session, finding_id: int) -> Finding:
    """The finding, locked until the request's transaction ends: on PostgreSQL the row
    is locked; on SQLite a writing request's transaction holds the write lock from its
    start (:func:`service.api.auth.session`); 404 when there is none. So two people
    changing one finding at once are served one after the other."""
    found = session.scalars(
        select(Finding).where(Finding.id == finding_id).with_for_update()
    ).one_or_none()
    if found is None:
        raise not_found(f"finding {finding_id}")
    return found


def _lapsed(finding: Finding, now: datetime) -> bool:
    until = finding.snoozed_until
    return finding.state is FindingState.SNOOZED and until is not None and until <= now


def _snooze_state(finding: Finding) -> dict[str, Any]:
    return {"state": finding.state.value, "snoozed_until": _iso(finding.snoozed_until)}


def _record(  # noqa: PLR0917 - the pieces of one audited change
    session: Session,
    finding: Finding,
    action: str,
    actor: str,
    before: dict[str, Any],
    now: datetime,
    reason: str | None = None,
) -> None:
    """The change's time, its transition (the finding's history) and its audit entry."""
    finding.updated_at = now
    session.flush()
    add_transition(session, finding, action, now)
    details: dict[str, Any] = {"before": before, "after": _snooze_state(finding)}
    if reason is not None:
        details["reason"] = reason
    session.add(
        AuditEntry(occurred_at=now, actor=actor, action=f"finding.{action}",
                   entity_type="finding", entity_id=str(finding.id), details=details)
    )  # fmt: skip
    session.flush()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _refused(finding: Finding, action: str) -> ApiProblem:
    """409, saying what state the finding is in."""
    state = finding.state.value
    if finding.state is FindingState.SNOOZED and finding.snoozed_until is not None:
        state += f" until {finding.snoozed_until.isoformat()} (unsnooze it first)"
    wanted = "an open" if action == "snoozed" else "a snoozed"
    detail = f"finding {finding.id} is {state}: only {wanted} finding can be {action}"
    return ApiProblem(409, "conflict", "Conflict", detail)
