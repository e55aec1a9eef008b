"""A seeded sales org for the metric tests, deterministic per seed.

It covers what the as-of rules care about: deals created, edited, pushed, closed,
reopened and deleted over time, histories recorded one field at a time (HubSpot) or as
full snapshots (Salesforce), deals without history, stages the CRM no longer knows, reps
deleted or inactive, quotas replaced or deleted, activities deleted, in the future, on a
period boundary, or owned by a user the store does not know.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from tests.integration.metric_fixtures import (
    DELETED_REP_AT,
    DELETED_REP_ID,
    GHOST_REP_ID,
    LEGACY_STAGE,
    LOST_STAGE,
    MANAGER_ID,
    NOW,
    OPEN_STAGES,
    ORIGIN,
    PROBABILITY,
    QUALIFICATION_FIELDS,
    REP_IDS,
    REP_WITHOUT_QUOTA,
    WON_STAGE,
    OrgFixture,
    Row,
    activity_row,
    change_row,
    deal_row,
    quota_row,
    rep_row,
)


@cache
def default_org() -> OrgFixture:
    """The seeded org most tests share (built once per test run; never mutate it)."""
    return seeded_org()


def seeded_org(seed: int = 6, deals: int = 120, activities: int = 3000) -> OrgFixture:
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
    fixture = OrgFixture()
    fixture.reps = [
        rep_row(MANAGER_ID, manager_crm_id=None, role="Manager"),
        *(rep_row(rep) for rep in REP_IDS),
    ]
    fixture.reps[3]["is_active"] = False
    fixture.reps[REP_IDS.index(DELETED_REP_ID) + 1]["deleted_at"] = DELETED_REP_AT
    for number in range(deals):
        _add_deal(rng, fixture, number)
    _add_activities(rng, fixture, activities)
    _add_quotas(rng, fixture)
    fixture.sync_states = [
        _sync_state("users", datetime(2026, 1, 21, 15, 0, tzinfo=UTC)),
        _sync_state("opportunities", datetime(2026, 1, 21, 15, 5, tzinfo=UTC)),
        _sync_state("tasks", None),
    ]
    return fixture


def _sync_state(stream: str, success: datetime | None) -> Row:
    return {"stream": stream, "cursor": None, "last_success_at": success}


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole second in ``[start, end)``."""
    return start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))


def _add_deal(rng: random.Random, fixture: OrgFixture, number: int) -> None:
    crm_id = f"006{number:012d}"
    owner: str | None = rng.choice(REP_IDS)
    if number == 7:
        owner = GHOST_REP_ID
    elif number == 8:
        owner = None
    created = _moment(rng, ORIGIN, NOW - timedelta(days=3))
    walk = _DealWalk(rng, crm_id, created)
    walk.run()
    deal = deal_row(
        crm_id,
        owner,
        created,
        amount=walk.amount,
        stage=walk.stage,
        stage_category=walk.category or "open",
        probability=walk.probability,
        close_date=walk.close_date,
        closed_at=walk.closed_at if walk.category in ("won", "lost") else None,
        qualification=_qualification(rng),
    )
    if rng.random() < 0.06:
        deal["deleted_at"] = _moment(rng, created, NOW)
    fixture.opportunities.append(deal)
    if rng.random() >= 0.1:  # one deal in ten has no history at all
        fixture.changes += walk.changes


def _qualification(rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in QUALIFICATION_FIELDS:
        roll = rng.random()
        if roll < 0.6:
            values[name] = rng.choice(["yes", "CFO", 25000, True, "Q3"])
        elif roll < 0.7:
            values[name] = ""
        elif roll < 0.8:
            values[name] = None
        # else: the key is missing
    return values


class _DealWalk:
    """A deal's life: a full first snapshot, then edits of one or all fields."""

    def __init__(self, rng: random.Random, crm_id: str, created: datetime) -> None:
        self.rng, self.crm_id, self.at = rng, crm_id, created
        self.stage: str = OPEN_STAGES[0]
        self.category: str | None = "open"
        self.amount = Decimal(rng.randrange(500_000, 15_000_000)) / 100
        self.close_date = created.date() + timedelta(days=rng.randint(20, 120))
        self.probability = Decimal(PROBABILITY[self.stage])
        self.closed_at: datetime | None = None
        self.changes: list[Row] = []
        self._record(stage=True, amount=True, close_date=True, probability=True)

    def run(self) -> None:
        for _ in range(self.rng.randint(0, 9)):
            self.at += timedelta(days=self.rng.randint(1, 25), seconds=self.rng.randint(0, 86399))
            if self.at >= NOW:
                return
            if self.category != "open":
                if self.rng.random() < 0.7:
                    return
                self._move(self.rng.choice(OPEN_STAGES[1:]), "open")  # reopened
                continue
            self._step(self.rng.random())

    def _step(self, roll: float) -> None:
        if roll < 0.3:
            index = OPEN_STAGES.index(self.stage) if self.stage in OPEN_STAGES else 0
            self._move(OPEN_STAGES[min(index + 1, len(OPEN_STAGES) - 1)], "open")
        elif roll < 0.4:
            self._move(LEGACY_STAGE, None)
        elif roll < 0.5:
            self.amount = (self.amount * Decimal(self.rng.uniform(0.5, 1.5))).quantize(
                Decimal("0.01")
            )
            self._record(amount=True, stage=self.rng.random() < 0.5)  # full rows keep the stage
        elif roll < 0.65:
            self.close_date += timedelta(days=self.rng.randint(-10, 40))
            self._record(close_date=True)
        elif roll < 0.72:
            self.probability = Decimal(self.rng.randint(5, 95))
            self._record(probability=True)
        elif roll < 0.86:
            self.closed_at = self.at
            won = self.rng.random() < 0.45
            self.probability = Decimal(100 if won else 0)
            self._move(WON_STAGE if won else LOST_STAGE, "won" if won else "lost")
        else:
            self._record(stage=True, amount=True, close_date=True, probability=True)

    def _move(self, stage: str, category: str | None) -> None:
        self.stage, self.category = stage, category
        if stage in PROBABILITY:
            self.probability = Decimal(PROBABILITY[stage])
        self._record(stage=True, probability=True)

    def _record(self, **fields: bool) -> None:
        values: Row = {}
        if fields.get("stage"):
            values.update(stage=self.stage, stage_category=self.category)
        for name in ("amount", "close_date", "probability"):
            if fields.get(name):
                values[name] = getattr(self, name)
        number = len(self.changes)
        self.changes.append(
            change_row(f"{self.crm_id}H{number:03d}", self.crm_id, self.at, **values)
        )


_SUBTYPES: dict[str, list[str | None]] = {
    "call": ["Call", "Cold Call", None],
    "email": ["Email", "ListEmail"],
    "meeting": [None, "Demo"],
    "task": ["Task"],
    "note": [None],
}
_OUTCOMES: dict[str, list[str | None]] = {
    "call": ["Connected", "connected", "Left voicemail", "No answer", None],
    "meeting": ["Held", "No show", "No-Show", "cancelled", "Canceled", None],
}


def _add_activities(rng: random.Random, fixture: OrgFixture, count: int) -> None:
    owners = [*REP_IDS, GHOST_REP_ID, MANAGER_ID, None]
    weights = [10, 9, 8, 7, 6, 5, 4, 3, 1, 1, 1]
    deals_by_owner: dict[str | None, list[Row]] = {}
    for deal in fixture.opportunities:
        deals_by_owner.setdefault(deal["owner_crm_id"], []).append(deal)
    for number in range(count):
        rep = rng.choices(owners, weights)[0]
        kind = rng.choice(["call", "call", "call", "email", "email", "meeting", "task", "note"])
        at = _moment(rng, ORIGIN, NOW + timedelta(days=10))  # tasks can be due in the future
        if number % 97 == 0:
            at = datetime.combine(at.date(), datetime.min.time(), tzinfo=UTC)  # on a boundary
        row = activity_row(
            f"00T{number:012d}",
            rep,
            kind,
            at,
            subtype=rng.choice(_SUBTYPES[kind]),
            outcome=rng.choice(_OUTCOMES.get(kind, [None])),
        )
        candidates = [d for d in deals_by_owner.get(rep, []) if d["created_in_crm_at"] <= at]
        if candidates and rng.random() < 0.6:
            row["opportunity_crm_id"] = rng.choice(candidates)["crm_id"]
        if rng.random() < 0.03:
            row["deleted_at"] = _moment(rng, at, NOW + timedelta(days=11))
        fixture.activities.append(row)


def _add_quotas(rng: random.Random, fixture: OrgFixture) -> None:
    quarters = [
        (date(2025, 4, 1), date(2025, 6, 30)),
        (date(2025, 7, 1), date(2025, 9, 30)),
        (date(2025, 10, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 3, 31)),
    ]
    for rep in REP_IDS:
        if rep == REP_WITHOUT_QUOTA:
            continue
        for number, (start, end) in enumerate(quarters):
            amount = str(rng.randrange(40_000, 300_000))
            fixture.quotas.append(quota_row(f"0J9{rep[-3:]}{number}", rep, start, end, amount))
    # A quota replaced by a newer one for the same quarter, and a deleted quota.
    first = REP_IDS[0]
    fixture.quotas.append(
        quota_row(
            f"0J9{first[-3:]}R",
            first,
            date(2026, 1, 1),
            date(2026, 3, 31),
            "90000",
            updated_at=ORIGIN + timedelta(days=1),
        )
    )
    fixture.quotas[1]["deleted_at"] = datetime(2025, 8, 20, tzinfo=UTC)
