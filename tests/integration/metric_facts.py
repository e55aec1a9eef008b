"""Facts at an instant, read naively from the fixture rows: the as-of rules of
``rules/metrics.py`` (history first, current row as fallback; existence and deletion
by time) written once more in plain Python for the reference implementation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from tests.integration.metric_fixtures import OrgFixture, Row

DAY = 86_400.0


@dataclass(frozen=True)
class StageAt:
    stage: str
    category: str
    entered_at: datetime | None
    closed_change_at: datetime | None


@dataclass(frozen=True)
class Stint:
    stage: str
    category: str
    start: datetime
    end: datetime | None


def days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / DAY


def date_days(later: date, earlier: date) -> float:
    return float((later - earlier).days)


def money(value: Decimal | None) -> float:
    return 0.0 if value is None else float(value)


def top(deals: Iterable[Row], amount: Callable[[Row], Decimal | None]) -> tuple[str, ...]:
    """The five largest deals; deals without an amount last, ties by CRM id."""
    ranked = sorted(deals, key=lambda d: (amount(d) is None, -(amount(d) or 0), d["crm_id"]))
    return tuple(d["crm_id"] for d in ranked[:5])


class Facts:
    """What the fixture rows say about a rep or a deal at an instant."""

    def __init__(self, fixture: OrgFixture) -> None:
        self.fx = fixture
        self.reps = {rep["crm_id"]: rep for rep in fixture.reps}
        self.deals = {deal["crm_id"]: deal for deal in fixture.opportunities}
        history: dict[str, list[Row]] = defaultdict(list)
        for change in fixture.changes:
            history[change["opportunity_crm_id"]].append(change)
        self.history = {
            deal: sorted(rows, key=lambda c: (c["changed_at"], c["crm_id"]))
            for deal, rows in history.items()
        }

    # -------------------------------------------------------------- facts at an instant

    def rep_alive(self, rep: str | None, t: datetime) -> bool:
        row = self.reps.get(rep or "")
        return row is not None and (row["deleted_at"] is None or row["deleted_at"] > t)

    def deal_exists(self, deal: Row, t: datetime) -> bool:
        created, deleted = deal["created_in_crm_at"], deal["deleted_at"]
        return (created is None or created <= t) and (deleted is None or deleted > t)

    def live_deals(self, t: datetime) -> list[Row]:
        """Deals that exist at ``t`` and belong to a rep who is not deleted at ``t``."""
        return [
            d
            for d in self.deals.values()
            if self.deal_exists(d, t) and self.rep_alive(d["owner_crm_id"], t)
        ]

    def recorded(self, deal: Row, name: str, t: datetime) -> list[Row]:
        return [
            c
            for c in self.history.get(deal["crm_id"], [])
            if c[name] is not None and c["changed_at"] <= t
        ]

    def value_at(self, deal: Row, name: str, t: datetime) -> Any:
        rows = self.recorded(deal, name, t)
        return rows[-1][name] if rows else deal[name]

    def stage_at(self, deal: Row, t: datetime) -> StageAt:
        rows = self.recorded(deal, "stage", t)
        if not rows:
            return StageAt(
                deal["stage"], deal["stage_category"], deal["created_in_crm_at"], deal["closed_at"]
            )
        entered, previous = None, None
        for row in rows:
            if previous is None or row["stage"] != previous:
                entered = row["changed_at"]
            previous = row["stage"]
        last = rows[-1]
        return StageAt(last["stage"], self.category(deal, last), entered, entered)

    def category(self, deal: Row, change: Row) -> str:
        if change["stage_category"] is not None:
            return str(change["stage_category"])
        return str(deal["stage_category"]) if change["stage"] == deal["stage"] else "open"

    def is_open(self, deal: Row, t: datetime) -> bool:
        return self.stage_at(deal, t).category == "open"

    def pushes_at(self, deal: Row, t: datetime) -> tuple[int, float]:
        dates = [c["close_date"] for c in self.recorded(deal, "close_date", t)]
        later = [(new, old) for old, new in pairwise(dates) if new > old]
        return len(later), sum(date_days(new, old) for new, old in later)

    def stints(self, deal: Row) -> list[Stint]:
        """From each recording that changed the stage to the next one that did."""
        entries: list[Row] = []
        previous = None
        for row in self.history.get(deal["crm_id"], []):
            if row["stage"] is None:
                continue
            if previous is None or row["stage"] != previous:
                entries.append(row)
            previous = row["stage"]
        ends: list[datetime | None] = [e["changed_at"] for e in entries[1:]]
        ends.append(None)
        return [
            Stint(e["stage"], self.category(deal, e), e["changed_at"], end)
            for e, end in zip(entries, ends, strict=False)
        ]
