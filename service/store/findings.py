"""What the rules core needs to know of past evaluations: the live findings of a
connection and its coaching history (from the CRM-write outbox)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased

from rules.cadence import CoachingHistory
from rules.intents import (
    LiveFinding,
)
from rules.metrics import SubjectKey
from rules.policies import Severity
from service.store.tables import (
    CrmWrite,
    Finding,
    FindingState,
    FindingTransition,
    Opportunity,
    OutboxState,
    Rep,
    Rule,
)


def live_findings(session: Session, connection_id: int) -> list[LiveFinding]:
    """Open and snoozed findings of the connection's reps and deals.

    Only the columns the core reads: loading whole findings would parse every live
    finding's evidence (thousands on a large org) for nothing."""
    return _live(session, connection_id, Finding.state != FindingState.RESOLVED)


def coaching_history(session: Session, connection_id: int, as_of: datetime) -> CoachingHistory:
    """When each (rule, rep, deal) was last coached, and tasks per budget owner and kind
    this week."""
    queued = CrmWrite.state != OutboxState.CANCELLED
    mine = (CrmWrite.connection_id == connection_id, CrmWrite.created_at <= as_of, queued)
    last = session.execute(
        select(
            CrmWrite.rule_key,
            CrmWrite.rep_crm_id,
            CrmWrite.opportunity_crm_id,
            func.max(CrmWrite.created_at),
        )
        .where(*mine)
        .group_by(CrmWrite.rule_key, CrmWrite.rep_crm_id, CrmWrite.opportunity_crm_id)
    )
    monday = (as_of - timedelta(days=as_of.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    week = session.execute(
        select(CrmWrite.task_kind, CrmWrite.budget_owner_crm_id, func.count())
        .where(*mine, CrmWrite.created_at >= monday)
        .group_by(CrmWrite.task_kind, CrmWrite.budget_owner_crm_id)
    )
    counts: dict[str, dict[str, int]] = {"coaching": {}, "hygiene": {}}
    for kind, owner, count in week:
        counts.setdefault(kind, {})[owner] = count
    return CoachingHistory(
        last_task_at={(rule, rep, deal): at for rule, rep, deal, at in last},
        tasks_this_week=counts["coaching"],
        hygiene_this_week=counts["hygiene"],
    )


def _rules_severity(stored: str) -> str:
    """The store also knows ``critical``; the rules core tops out at ``high``."""
    return "high" if stored == "critical" else stored


def live_findings_at(session: Session, connection_id: int, as_of: datetime) -> list[LiveFinding]:
    """The findings of the connection that were live at ``as_of``: opened by then and not
    resolved by then (``resolved_at`` is the resolving evaluation's as-of time, so this
    is what an evaluation of that moment knew). A finding live at ``as_of`` and
    resolved since reads as open: whether it was snoozed then is not kept per moment."""
    f = Finding
    then = (f.opened_at <= as_of, or_(f.resolved_at.is_(None), f.resolved_at > as_of))
    return _live(session, connection_id, *then)


def _live(session: Session, connection_id: int, *live: ColumnElement[bool]) -> list[LiveFinding]:
    """The findings matching ``live``, as the core reads them (a resolved one as open)."""
    deal = aliased(Opportunity)
    f = Finding
    rows = session.execute(
        select(
            f.id,
            f.severity,
            f.state,
            f.opened_at,
            f.baseline,
            Rule.key,
            Rep.crm_id.label("rep_crm_id"),
            deal.crm_id.label("deal_crm_id"),
        )
        .join(Rule, Rule.id == f.rule_id)
        .join(Rep, Rep.id == f.rep_id)
        .outerjoin(deal, deal.id == f.opportunity_id)
        .where(Rep.connection_id == connection_id, *live)
        .order_by(f.id)
    )
    return [
        LiveFinding(
            id=row.id,
            rule_key=row.key,
            subject=SubjectKey(row.rep_crm_id, row.deal_crm_id),
            severity=Severity(_rules_severity(row.severity.value)),
            state=FindingState.OPEN.value
            if row.state is FindingState.RESOLVED
            else row.state.value,
            opened_at=row.opened_at,
            baseline=row.baseline,
        )
        for row in rows
    ]


def add_transition(session: Session, finding: Finding, action: str, at: datetime) -> None:
    """Record ``finding`` as it stands now in its history under ``action`` (the plan
    writer's actions, and ``snoozed``/``unsnoozed`` for a person's or a lapse's)."""
    session.add(
        FindingTransition(
            finding_id=finding.id,
            at=at,
            action=action,
            state=finding.state,
            severity=finding.severity,
            rule_version=finding.rule_version,
            observed=finding.observed,
            evidence=finding.evidence,
        )
    )


def reopen_lapsed_snoozes(session: Session, connection_id: int, as_of: datetime) -> list[int]:
    """Snoozed findings of the connection whose snooze ended by ``as_of``, back to open,
    each with an ``unsnoozed`` transition; returns their ids.

    The rules core keeps a snoozed finding snoozed (never coached) for as long as the
    store says so, and nothing else looks at ``snoozed_until``: an evaluation should call
    this before it reads the live findings, so a lapsed snooze is coached again."""
    lapsed = session.scalars(
        select(Finding)
        .join(Rep, Rep.id == Finding.rep_id)
        .where(
            Rep.connection_id == connection_id,
            Finding.state == FindingState.SNOOZED,
            Finding.snoozed_until <= as_of,
        )
        .order_by(Finding.id)
    ).all()
    for finding in lapsed:
        finding.state, finding.snoozed_until, finding.updated_at = FindingState.OPEN, None, as_of
        add_transition(session, finding, "unsnoozed", as_of)
    session.flush()
    return [finding.id for finding in lapsed]
