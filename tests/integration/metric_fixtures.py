"""Fixture rows for the metric tests: plain rows of the store's tables, and their loader.

The same rows are inserted into the store (SQLite or PostgreSQL) and handed to the
pure-Python reference (``metric_reference``), so every metric can be checked against an
independent computation. ``metric_org`` builds a seeded org from these builders; the
hand-written tests build small ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from rules.periods import Period, PeriodUnit, complete_periods, periods_to_date
from service.store.tables import (
    Activity,
    Connection,
    Opportunity,
    OpportunityChange,
    Quota,
    Rep,
    SyncState,
)

Row = dict[str, Any]

ORIGIN = datetime(2025, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 21, 15, 30, tzinfo=UTC)  # a Wednesday afternoon
PAST = datetime(2025, 10, 15, 10, 0, tzinfo=UTC)  # an as-of in the past

OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")
LEGACY_STAGE = "Legacy Review"  # in old history rows only; the CRM no longer knows it
WON_STAGE, LOST_STAGE = "Closed Won", "Closed Lost"
PROBABILITY = {"Prospecting": 10, "Qualification": 25, "Proposal": 50, "Negotiation": 75}
QUALIFICATION_FIELDS = ("budget", "authority", "need", "timeline")

REP_IDS = tuple(f"005{n:012d}" for n in range(1, 9))
MANAGER_ID = "005000000000099"
GHOST_REP_ID = "005000000000777"  # owns activities and a deal, absent from ``reps``
DELETED_REP_ID = REP_IDS[6]
DELETED_REP_AT = datetime(2025, 11, 14, 12, 0, tzinfo=UTC)
REP_WITHOUT_QUOTA = REP_IDS[7]


#: Period lists every metric is checked over: current partial periods, complete periods,
#: and periods that ended long before the data did (as-of semantics).
PERIOD_SETS: dict[str, tuple[Period, ...]] = {
    "weeks to date": periods_to_date(NOW, PeriodUnit.WEEK, 6),
    "complete weeks in the past": complete_periods(PAST, PeriodUnit.WEEK, 4),
    "months": complete_periods(NOW, PeriodUnit.MONTH, 5),
    "quarters to date": periods_to_date(NOW, PeriodUnit.QUARTER, 4),
    "business days in the past": complete_periods(PAST, PeriodUnit.DAY, 5),
    # The port allows any periods; overlapping ones take the metrics' general path.
    "overlapping windows": (
        Period(NOW - timedelta(days=28), NOW),
        Period(NOW - timedelta(days=7), NOW),
        Period(PAST - timedelta(days=14), PAST),
    ),
}


@dataclass
class OrgFixture:
    """Rows per table, keyed by column name (``connection_id`` is added on load)."""

    reps: list[Row] = field(default_factory=list)
    opportunities: list[Row] = field(default_factory=list)
    changes: list[Row] = field(default_factory=list)
    activities: list[Row] = field(default_factory=list)
    quotas: list[Row] = field(default_factory=list)
    sync_states: list[Row] = field(default_factory=list)


def load(session: Session, fixture: OrgFixture, name: str = "acme") -> int:
    """Insert the fixture under a new connection; returns the connection's id."""
    connection = Connection(name=name, crm="salesforce")
    session.add(connection)
    session.flush()
    tables = (
        (Rep, fixture.reps),
        (Opportunity, fixture.opportunities),
        (OpportunityChange, fixture.changes),
        (Activity, fixture.activities),
        (Quota, fixture.quotas),
        (SyncState, fixture.sync_states),
    )
    for model, rows in tables:
        if rows:
            session.execute(
                insert(model), [{**row, "connection_id": connection.id} for row in rows]
            )
    session.flush()
    return connection.id


# ------------------------------------------------------------------ row builders


def rep_row(crm_id: str, **values: Any) -> Row:
    return {
        "crm_id": crm_id,
        "name": f"Rep {crm_id[-3:]}",
        "email": f"{crm_id}@example.test",
        "manager_crm_id": MANAGER_ID,
        "team": "East",
        "role": "AE",
        "is_active": True,
        "started_on": date(2024, 1, 8),
        "deleted_at": None,
        **values,
    }


def deal_row(crm_id: str, owner: str | None, created: datetime | None, **values: Any) -> Row:
    return {
        "crm_id": crm_id,
        "owner_crm_id": owner,
        "name": f"Deal {crm_id[-4:]}",
        "amount": None,
        "stage": OPEN_STAGES[0],
        "stage_category": "open",
        "probability": None,
        "close_date": None,
        "created_in_crm_at": created,
        "closed_at": None,
        "deleted_at": None,
        "qualification": {},
        **values,
    }


def change_row(crm_id: str, deal: str, at: datetime, **values: Any) -> Row:
    row: Row = {
        "crm_id": crm_id,
        "opportunity_crm_id": deal,
        "changed_at": at,
        "stage": None,
        "stage_category": None,
        "amount": None,
        "close_date": None,
        "probability": None,
        "deleted_at": None,
    }
    row.update(values)
    return row


def activity_row(crm_id: str, rep: str | None, kind: str, at: datetime, **values: Any) -> Row:
    return {
        "crm_id": crm_id,
        "kind": kind,
        "subtype": None,
        "rep_crm_id": rep,
        "opportunity_crm_id": None,
        "occurred_at": at,
        "outcome": None,
        "deleted_at": None,
        **values,
    }


def quota_row(crm_id: str, rep: str, start: date, end: date, amount: str, **values: Any) -> Row:
    return {
        "crm_id": crm_id,
        "rep_crm_id": rep,
        "period_start": start,
        "period_end": end,
        "amount": Decimal(amount),
        "source": "crm",
        "deleted_at": None,
        "updated_at": ORIGIN,
        **values,
    }
