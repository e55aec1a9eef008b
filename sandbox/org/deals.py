"""Deal creation: when each rep opens deals, for whom, and for how much.

Assumptions: deals arise from meetings, so every deal has an originating meeting 1-4 of the
rep's working days (and at most a week) before it is created; creation is steady rather
than bursty (a smoothed accumulator around the rep's rate, +-40% a day); amounts are
lognormal (sigma 0.45) around the rep's median and rounded to tens; the expected close date
at creation is the typical cycle for the rep's speed, which real deals often overrun (hence
close-date pushes). The simulation starts 150 days before the history window so the
pipeline is already in a steady state when history begins; deals from that warm-up that are
still open (or close) inside the window are kept, without their originating meetings, which
predate the window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from .model import STAGE_BY_KEY, DealChange, OrgSpec
from .names import PRODUCTS
from .people import RepProfile
from .workdays import history_start, local_midnight_utc, workdays

WARMUP_DAYS = 150
#: Median calendar days spent in each open stage by a rep of speed 1.0.
STAGE_DAYS: tuple[float, ...] = (6.0, 10.0, 13.0, 11.0, 9.0)
#: Typical cycle quoted at creation, in days, before the rep's speed factor.
QUOTED_CYCLE_DAYS = 45.0
AMOUNT_SIGMA = 0.45
NOTICE_DAYS = 14
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SimContext:
    """The window every simulation shares."""

    spec: OrgSpec
    first_day: date
    warmup_day: date

    @classmethod
    def of(cls, spec: OrgSpec) -> SimContext:
        first = history_start(spec.as_of, spec.months)
        return cls(spec, first, first - timedelta(days=WARMUP_DAYS))

    def cutoff(self, zone: str) -> datetime:
        """The end of ``as_of`` in ``zone``: nothing happens after it."""
        return local_midnight_utc(self.spec.as_of + timedelta(days=1), zone)


@dataclass(slots=True, eq=False)
class DealPlan:
    """A deal while it is being simulated: mutable, compared by identity."""

    seq: int
    creator: RepProfile
    owner: RepProfile
    account: str
    product: str
    origin_at: datetime
    created_at: datetime
    amount: Decimal
    close_date: date
    stage: str
    history: list[DealChange]
    rng: random.Random
    sloppy: bool = False
    stall_at: datetime | None = None
    decision_at: datetime | None = None
    closed_at: datetime | None = None
    handover_at: datetime | None = None
    pushes: int = 0
    deal_id: str = field(default="")

    def record(self, change: DealChange) -> None:
        """Append ``change`` (kept strictly after the previous entry) and apply it."""
        last = self.history[-1].at
        if change.at <= last:
            change = DealChange(
                last + timedelta(seconds=60),
                change.stage_key,
                change.amount,
                change.close_date,
                change.probability,
            )
        self.history.append(change)
        self.stage = change.stage_key or self.stage
        self.amount = change.amount if change.amount is not None else self.amount
        self.close_date = change.close_date or self.close_date


def money(value: float) -> Decimal:
    """Round to tens, as reps quote, with two decimal places."""
    return Decimal(round(value / 10) * 10).quantize(_CENT)


def work_instant(
    day: date, zone: str, rng: random.Random, lo: float = 8.5, hi: float = 17.0
) -> datetime:
    """A random instant between ``lo`` and ``hi`` o'clock local time on ``day``."""
    seconds = rng.randrange(int(lo * 3600), int(hi * 3600))
    return local_midnight_utc(day, zone) + timedelta(seconds=seconds)


def create_deals(profile: RepProfile, ctx: SimContext, first_seq: int) -> list[DealPlan]:
    """Every deal ``profile`` opens between the warm-up start and as_of, in order."""
    rng = profile.stream("deals")
    last = ctx.spec.as_of
    if profile.end is not None:  # a leaver stops prospecting in their notice period
        last = min(last, profile.end - timedelta(days=NOTICE_DAYS))
    worked = [d for d in workdays(max(ctx.warmup_day, profile.start), last) if d not in profile.pto]
    plans: list[DealPlan] = []
    backlog = rng.random()
    for index, day in enumerate(worked):
        backlog += _daily_rate(profile, day) * rng.uniform(0.6, 1.4)
        # the originating meeting is 1-4 working days back and within a week; after leave,
        # creation waits until the rep has had a meeting again
        recent = [d for d in worked[max(0, index - 4) : index] if (day - d).days <= 7]
        while backlog >= 1.0 and recent:
            backlog -= 1.0
            origin_day = rng.choice(recent)
            plans.append(_new_deal(profile, rng, origin_day, day, first_seq + len(plans)))
    return plans


def _daily_rate(profile: RepProfile, day: date) -> float:
    # a new hire builds up to full pipeline generation, a drifting rep may let it slide
    return profile.deals_per_day * profile.level("pipeline_created", day)


def _new_deal(
    profile: RepProfile, rng: random.Random, origin_day: date, day: date, seq: int
) -> DealPlan:
    zone = profile.zone
    origin = local_midnight_utc(origin_day, zone) + timedelta(minutes=540 + 30 * rng.randrange(15))
    created = work_instant(day, zone, rng)
    amount = money(profile.median_amount * rng.lognormvariate(0.0, AMOUNT_SIGMA))
    cycle = QUOTED_CYCLE_DAYS * profile.speed * rng.uniform(0.85, 1.2)
    close = day + timedelta(days=round(cycle))
    first = DealChange(created, "qualify", amount, close, STAGE_BY_KEY["qualify"].probability)
    plan = DealPlan(
        seq=seq,
        creator=profile,
        owner=profile,
        account=rng.choice(profile.accounts),
        product=rng.choice(PRODUCTS),
        origin_at=origin,
        created_at=created,
        amount=amount,
        close_date=close,
        stage="qualify",
        history=[first],
        rng=random.Random(rng.getrandbits(64)),
    )
    _plan_drift_effects(plan, profile, day)
    return plan


def _plan_drift_effects(plan: DealPlan, profile: RepProfile, day: date) -> None:
    """Mark deals a drifting rep will let stall or will qualify sloppily."""
    drift = profile.drift
    if drift is None:
        return
    rng = plan.rng
    if "qualification" in drift.indicators and day >= drift.start:
        plan.sloppy = True
    if "stalled_deals" not in drift.indicators:
        return
    if day >= drift.start and rng.random() < 0.6:
        stall_day = day + timedelta(days=rng.randint(3, 12))
        plan.stall_at = local_midnight_utc(stall_day, profile.zone)
    elif day < drift.start and rng.random() < 0.6:
        stall_day = drift.start + timedelta(days=rng.randint(0, 14))
        plan.stall_at = local_midnight_utc(stall_day, profile.zone)
