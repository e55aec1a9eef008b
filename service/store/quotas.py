"""The quotas repository: quotas set by sales ops (through the API) beside the CRM's.

A quota set through the API is a row with ``source = 'api'`` and no CRM id, one per
connection, rep and period (the partial unique index ``uq_quotas_api_rep_period``); a
sync never touches it (CRM rows are matched by their CRM id). A CRM may hold several
quotas for the same rep and period; the metrics read the most recently updated one, so
a quota set through the API counts until the CRM's changes again.

Every change writes an audit entry with the amounts before and after; setting a quota
to what it already is changes nothing and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from service.store.tables import AuditEntry, Quota, QuotaSource, Rep


@dataclass(frozen=True, slots=True)
class QuotaInput:
    """One quota as sales ops set it (``period_end`` inclusive)."""

    rep_crm_id: str
    period_start: date
    period_end: date
    amount: Decimal
    currency: str | None = None

    @property
    def period(self) -> tuple[str, date, date]:
        return (self.rep_crm_id, self.period_start, self.period_end)


@dataclass(frozen=True, slots=True)
class SetQuota:
    """What setting one quota did: ``created``, ``updated`` or ``unchanged``."""

    quota: Quota
    outcome: str


def list_quotas(
    session: Session,
    *,
    connection_id: int | None = None,
    rep_crm_id: str | None = None,
    covering: date | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Quota]:
    """Live quotas (CRM and API) by id, optionally of one connection, one rep, or whose
    period contains the day ``covering``; at most ``limit``, after ``after_id``."""
    where: list[ColumnElement[bool]] = [Quota.deleted_at.is_(None)]
    if connection_id is not None:
        where.append(Quota.connection_id == connection_id)
    if rep_crm_id is not None:
        where.append(Quota.rep_crm_id == rep_crm_id)
    if covering is not None:
        where += [Quota.period_start <= covering, Quota.period_end >= covering]
    if after_id is not None:
        where.append(Quota.id > after_id)
    return list(session.scalars(select(Quota).where(*where).order_by(Quota.id).limit(limit)))


def known_reps(session: Session, connection_id: int, crm_ids: Iterable[str]) -> set[str]:
    """Which of ``crm_ids`` are reps of the connection the CRM has not deleted."""
    wanted = set(crm_ids)
    if not wanted:
        return set()
    found = session.scalars(
        select(Rep.crm_id).where(
            Rep.connection_id == connection_id,
            Rep.crm_id.in_(wanted),
            Rep.deleted_at.is_(None),
        )
    )
    return set(found)


def set_quotas(
    session: Session, connection_id: int, quotas: Sequence[QuotaInput], *, actor: str
) -> list[SetQuota]:
    """Create or replace the API quota of each rep and period (one lookup for all), in
    the caller's transaction; the caller checked that the reps exist."""
    existing = _api_quotas(session, connection_id, [quota.period for quota in quotas])
    results = []
    for wanted in quotas:
        row = existing.get(wanted.period)
        if row is None:
            row = Quota(connection_id=connection_id, rep_crm_id=wanted.rep_crm_id,
                        period_start=wanted.period_start, period_end=wanted.period_end,
                        amount=wanted.amount, currency=wanted.currency,
                        source=QuotaSource.API)  # fmt: skip
            session.add(row)
            session.flush()
            _audit(session, actor, "quota.created", row, {"after": _state(row)})
            results.append(SetQuota(row, "created"))
        elif row.deleted_at is None and (row.amount, row.currency) == (
            wanted.amount,
            wanted.currency,
        ):
            results.append(SetQuota(row, "unchanged"))
        else:
            before = _state(row)
            row.amount, row.currency, row.deleted_at = wanted.amount, wanted.currency, None
            session.flush()
            _audit(session, actor, "quota.updated", row, {"before": before, "after": _state(row)})
            results.append(SetQuota(row, "updated"))
    return results


def _api_quotas(
    session: Session, connection_id: int, periods: Sequence[tuple[str, date, date]]
) -> dict[tuple[str, date, date], Quota]:
    if not periods:
        return {}
    reps = {rep for rep, _, _ in periods}
    rows = session.scalars(
        select(Quota).where(
            Quota.connection_id == connection_id,
            Quota.source == QuotaSource.API,
            Quota.rep_crm_id.in_(reps),
        )
    )
    wanted = set(periods)
    return {
        (row.rep_crm_id, row.period_start, row.period_end): row
        for row in rows
        if (row.rep_crm_id, row.period_start, row.period_end) in wanted
    }


def _state(row: Quota) -> dict[str, Any]:
    return {
        "rep_crm_id": row.rep_crm_id,
        "period_start": row.period_start.isoformat(),
        "period_end": row.period_end.isoformat(),
        "amount": str(row.amount),
        "currency": row.currency,
    }


def _audit(session: Session, actor: str, action: str, row: Quota, details: dict[str, Any]) -> None:
    session.add(AuditEntry(actor=actor, action=action, entity_type="quota",
                           entity_id=str(row.id), details=details))  # fmt: skip
