"""The CRM-neutral records of a seeded sales organisation.

Loaders turn these into Salesforce records and HubSpot objects, so nothing here names a CRM
field. Records are frozen (slotted where there are many of them) so a generated org can be
shared between tests and loaders without anyone mutating it; mappings are plain dicts,
excluded from hashing, because loaders read them and never need to hash them.

Conventions: instants are aware UTC ``datetime``; calendar days are ``date``; money is
``Decimal`` with two places; attainment is a ``Decimal`` ratio with four places (1.0 = 100%).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

Role = Literal["VP Sales", "Sales Manager", "Account Executive"]
StageCategory = Literal["open", "won", "lost"]
ActivityKind = Literal["call", "email", "meeting", "task", "note"]
ActivityStatus = Literal["completed", "open"]
#: The kind of rep, as a real org has them (see :mod:`.people`): what really drives each
#: rep's activity and results, the answer key a backtest is scored against.
Persona = Literal["steady", "drifting", "noisy", "unlucky", "ramping"]
PERSONAS: tuple[Persona, ...] = ("steady", "drifting", "noisy", "unlucky", "ramping")
QualificationValue = str | bool | date | None

#: The leading indicators a drifting rep can decline on, in canonical order.
INDICATORS: tuple[str, ...] = (
    "calls",
    "meetings",
    "pipeline_created",
    "stalled_deals",
    "qualification",
)

#: Final attainment below this ratio counts as a missed quota. The healthy band is 80-120%,
#: so "missed" means below the band rather than merely short of 100%.
MISS_THRESHOLD = Decimal("0.80")


@dataclass(frozen=True)
class OrgSpec:
    """What to generate; equal specs always generate equal orgs."""

    seed: int = 7
    managers: int = 4
    reps: int = 24
    months: int = 12
    drift_share: float = 0.25
    as_of: date = date(2026, 11, 20)
    deal_scale: float = 1.0
    noisy_share: float = 0.15
    unlucky_share: float = 0.1

    def __post_init__(self) -> None:
        # Drift starts 6-12 weeks before as_of and needs a baseline before it.
        if self.months < 3:
            raise ValueError("months must be at least 3")
        if self.managers < 1 or self.reps < self.managers:
            raise ValueError("need at least one manager and one rep per manager")
        shares = {
            "drift_share": self.drift_share,
            "noisy_share": self.noisy_share,
            "unlucky_share": self.unlucky_share,
        }
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if sum(shares.values()) > 1.0:
            raise ValueError("drift_share, noisy_share and unlucky_share must add up to 1 or less")
        if self.deal_scale <= 0:
            raise ValueError("deal_scale must be positive")


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    manager_id: str


@dataclass(frozen=True, slots=True)
class User:
    id: str
    first_name: str
    last_name: str
    email: str
    title: str
    role: Role
    manager_id: str | None
    team_id: str | None
    is_active: bool
    start_date: date
    time_zone: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class Stage:
    key: str
    label: str
    probability: int
    category: StageCategory
    order: int


#: A neutral pipeline: five open stages, then won and lost.
STAGES: tuple[Stage, ...] = (
    Stage("qualify", "Qualification", 10, "open", 1),
    Stage("discover", "Discovery", 20, "open", 2),
    Stage("solution", "Solution", 40, "open", 3),
    Stage("proposal", "Proposal", 60, "open", 4),
    Stage("negotiate", "Negotiation", 80, "open", 5),
    Stage("won", "Closed Won", 100, "won", 6),
    Stage("lost", "Closed Lost", 0, "lost", 7),
)
STAGE_BY_KEY: Mapping[str, Stage] = {stage.key: stage for stage in STAGES}
OPEN_STAGE_KEYS: tuple[str, ...] = tuple(s.key for s in STAGES if s.category == "open")


@dataclass(frozen=True, slots=True)
class Quota:
    user_id: str
    period_start: date
    period_end: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DealChange:
    """One entry of a deal's field history; ``None`` means "unchanged by this entry"."""

    at: datetime
    stage_key: str | None
    amount: Decimal | None
    close_date: date | None
    probability: int | None


@dataclass(frozen=True, slots=True)
class Deal:
    """A deal's current state; replaying ``history`` yields the same stage, amount and date."""

    id: str
    name: str
    account_name: str
    owner_id: str
    created_at: datetime
    amount: Decimal
    stage_key: str
    close_date: date
    closed_at: datetime | None
    next_step: str | None
    qualification: Mapping[str, QualificationValue] = field(hash=False)
    history: tuple[DealChange, ...]

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def is_won(self) -> bool:
        return self.stage_key == "won"


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    kind: ActivityKind
    owner_id: str
    occurred_at: datetime
    deal_id: str | None
    subject: str
    outcome: str | None
    duration_seconds: int | None
    status: ActivityStatus


@dataclass(frozen=True, slots=True)
class RepTruth:
    """What really happened to a rep: the answer key a drift detector is scored against."""

    user_id: str
    persona: Persona
    drifts: bool
    drift_start: date | None
    drifting_indicators: tuple[str, ...]
    attainment_by_quarter: Mapping[date, Decimal] = field(hash=False)
    final_attainment: Decimal
    missed_quota: bool
