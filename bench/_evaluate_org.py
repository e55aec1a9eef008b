"""A synthetic sales org for the evaluation benchmark, deterministic per seed.

The org is built as canonical records (``connectors.records``), the very values a sync
writes, so the store holds what a real Salesforce org would leave there:

* a VP, ``managers`` managers each with a team, and ``reps`` sellers spread over the
  teams; most started years ago, a few during the span (some inside the ramp);
* ``opportunities`` deals created evenly over ``months`` months, each walking the
  Salesforce standard stages (sometimes skipping one), lost at any stage with a chance
  that depends on the seller, with OpportunityHistory-style change rows (every row holds
  stage, amount, close date and probability) for each stage move, some amount changes
  and close-date pushes; qualification fields filled as diligently as the seller is;
* quarterly quotas per seller, sized to the pipeline the generator makes;
* activities (calls with dispositions, emails, meetings held or no-show, tasks) on
  business days, a share of them linked to one of the seller's deals open at the time.

About 15% of the sellers drift: from a week near the end they log fewer activities and
create fewer deals, so the default pack has something to find.

Activities are generated in blocks of :data:`BLOCK` with a random generator per block,
so the first N activities are the same whether an org is loaded at once or grown step by
step (250k, then 500k, ...): each step adds activities over the same months, denser.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from bench._evaluate_deals import MEAN_DEAL_AMOUNT, DealLife, Seller
from connectors.records import Activity, ActivityKind, Opportunity, OpportunityChange, Quota, Rep

BLOCK = 10_000
#: Activity kinds by share, and the share of each linked to a deal.
KIND_SHARE = {
    ActivityKind.CALL: 0.45,
    ActivityKind.EMAIL: 0.30,
    ActivityKind.MEETING: 0.10,
    ActivityKind.TASK: 0.15,
}
LINK_SHARE = {
    ActivityKind.CALL: 0.4,
    ActivityKind.EMAIL: 0.5,
    ActivityKind.MEETING: 0.7,
    ActivityKind.TASK: 0.3,
}
CALL_OUTCOMES = (("Connected", 0.3), ("Left Voicemail", 0.4), ("No Answer", 0.3))
NO_SHOW_CHANCE = 0.15
WORKDAY_SECONDS = (8 * 3600, 18 * 3600)


@dataclass(frozen=True)
class OrgShape:
    reps: int = 200
    managers: int = 20
    opportunities: int = 50_000
    months: int = 18
    end: datetime = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)
    seed: int = 7

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=round(self.months * 30.44))


@dataclass
class _DealSpans:
    """One seller's deals by creation time, for linking activities to open deals."""

    created: list[datetime] = field(default_factory=list)
    ended: list[datetime] = field(default_factory=list)
    crm_ids: list[str] = field(default_factory=list)


class SyntheticOrg:
    """The org's records; deals must be read (:meth:`deals`) before activities."""

    def __init__(self, shape: OrgShape) -> None:
        self.shape = shape
        rng = random.Random(f"{shape.seed}:people")
        self.vp_crm_id = "005V000000000001"
        self.managers = [f"005M{i:012d}" for i in range(1, shape.managers + 1)]
        self.sellers = [self._seller(rng, i) for i in range(shape.reps)]
        self._weights = list(accumulate(seller.weight for seller in self.sellers))
        self.business_days = _business_days(shape.start.date(), shape.end.date())
        self._spans: dict[str, _DealSpans] = {s.crm_id: _DealSpans() for s in self.sellers}
        self._deals_read = False

    def _seller(self, rng: random.Random, index: int) -> Seller:
        shape, team = self.shape, index % self.shape.managers
        started = shape.start.date() - timedelta(days=rng.randint(60, 1800))
        if rng.random() < 0.08:  # joined during the span; some are still ramping
            started = shape.end.date() - timedelta(days=rng.randint(20, 400))
        drifting = rng.random() < 0.15
        return Seller(
            crm_id=f"005R{index + 1:012d}",
            manager_crm_id=self.managers[team],
            team=f"Team {team + 1:02d}",
            started_on=started,
            weight=rng.uniform(0.6, 1.4),
            pace=rng.uniform(0.7, 1.5),
            loss_chance=rng.uniform(0.1, 0.2),
            diligence=rng.uniform(0.4, 0.65) if rng.random() < 0.1 else rng.uniform(0.8, 0.97),
            drift_from=shape.end - timedelta(weeks=rng.randint(3, 6)) if drifting else None,
            drift_keep=rng.uniform(0.3, 0.55) if drifting else 1.0,
        )

    # ------------------------------------------------------------------ people and quotas

    def reps(self) -> list[Rep]:
        """The VP, the managers and the sellers (all CRM users)."""
        stamp = self.shape.start
        vp = Rep(self.vp_crm_id, "Vera Vance", role="VP Sales", modified_at=stamp)
        managers = [
            Rep(
                crm_id,
                f"Manager {i + 1:02d}",
                email=f"manager{i + 1}@example.com",
                manager_crm_id=self.vp_crm_id,
                team=f"Team {i + 1:02d}",
                role="Sales Manager",
                started_on=date(2019, 1, 7),
                modified_at=stamp,
            )
            for i, crm_id in enumerate(self.managers)
        ]
        sellers = [
            Rep(
                seller.crm_id,
                f"Seller {i + 1:03d}",
                email=f"seller{i + 1}@example.com",
                manager_crm_id=seller.manager_crm_id,
                team=seller.team,
                role="Account Executive",
                started_on=seller.started_on,
                modified_at=stamp,
            )
            for i, seller in enumerate(self.sellers)
        ]
        return [vp, *managers, *sellers]

    def quotas(self) -> list[Quota]:
        """One quota per seller and calendar quarter of the span, sized so that an average
        seller at the org's win rate (about 30%) lands near 100%."""
        rng = random.Random(f"{self.shape.seed}:quotas")
        quarters = _quarters(self.shape.start.date(), self.shape.end.date())
        per_seller = self.shape.opportunities / len(self.sellers) / len(quarters)
        base = per_seller * 0.3 * MEAN_DEAL_AMOUNT
        return [
            Quota(
                crm_id=f"0QR{i:05d}{q:03d}",
                rep_crm_id=seller.crm_id,
                period_start=first,
                period_end=last,
                amount=Decimal(round(base * seller.weight * rng.uniform(0.9, 1.2), -3)),
                currency="USD",
                modified_at=self.shape.start,
            )
            for i, seller in enumerate(self.sellers)
            for q, (first, last) in enumerate(quarters)
        ]

    # ------------------------------------------------------------------ deals

    def deals(self) -> Iterator[tuple[Opportunity, list[OpportunityChange]]]:
        """Every deal with its history rows up to the org's end, oldest first."""
        rng = random.Random(f"{self.shape.seed}:deals")
        span = (self.shape.end - self.shape.start).total_seconds()
        count = self.shape.opportunities
        for index in range(count):
            created = self.shape.start + timedelta(seconds=span * (index + rng.random()) / count)
            seller = self._deal_owner(rng, created)
            deal, changes = DealLife(self.shape.end, seller, index, created, rng).build()
            spans = self._spans[seller.crm_id]
            spans.created.append(created)
            spans.ended.append(deal.closed_at or self.shape.end)
            spans.crm_ids.append(deal.crm_id)
            yield deal, changes
        self._deals_read = True

    def _deal_owner(self, rng: random.Random, created: datetime) -> Seller:
        while True:
            seller = self._pick_seller(rng)
            if seller.started_on <= created.date() and _active(seller, created, rng):
                return seller

    def _pick_seller(self, rng: random.Random) -> Seller:
        return self.sellers[bisect_left(self._weights, rng.random() * self._weights[-1])]

    # ------------------------------------------------------------------ activities

    def activities(self, start: int, stop: int) -> Iterator[Activity]:
        """Activities ``start`` .. ``stop - 1`` of the org's endless, deterministic stream."""
        if not self._deals_read:
            raise RuntimeError("read the deals first: activities link to them")
        for block in range(start // BLOCK, math.ceil(stop / BLOCK)):
            rng = random.Random(f"{self.shape.seed}:activities:{block}")
            for index in range(block * BLOCK, (block + 1) * BLOCK):
                activity = self._activity(rng, index)  # always drawn: keeps the stream fixed
                if start <= index < stop:
                    yield activity

    def _activity(self, rng: random.Random, index: int) -> Activity:
        seller, when = self._moment(rng)
        kind = _pick_kind(rng)
        deal = self._open_deal(rng, seller, when) if rng.random() < LINK_SHARE[kind] else None
        subtype, outcome, duration, subject = _details(rng, kind)
        return Activity(
            crm_id=f"00T{index:012d}",
            kind=kind,
            occurred_at=when,
            rep_crm_id=seller.crm_id,
            opportunity_crm_id=deal,
            subtype=subtype,
            subject=subject,
            status="Completed",
            outcome=outcome,
            duration_seconds=duration,
            modified_at=when,
        )

    def _moment(self, rng: random.Random) -> tuple[Seller, datetime]:
        """A seller and a working moment on a business day they were with the company."""
        days, end = self.business_days, self.shape.end
        while True:
            seller = self._pick_seller(rng)
            day = days[int(rng.random() * len(days))]
            when = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                seconds=rng.randint(*WORKDAY_SECONDS)
            )
            if when < end and day >= seller.started_on and _active(seller, when, rng):
                return seller, when

    def _open_deal(self, rng: random.Random, seller: Seller, when: datetime) -> str | None:
        """One of the seller's recent deals still open at ``when`` (a few random tries)."""
        spans = self._spans[seller.crm_id]
        newest = bisect_right(spans.created, when)
        if newest == 0:
            return None
        oldest = max(0, newest - 30)
        for _ in range(4):
            pick = rng.randrange(oldest, newest)
            if spans.ended[pick] >= when:
                return spans.crm_ids[pick]
        return None


def _active(seller: Seller, moment: datetime, rng: random.Random) -> bool:
    """Whether a drifting seller does this piece of work (fewer once the drift starts)."""
    if seller.drift_from is None or moment < seller.drift_from:
        return True
    return rng.random() < seller.drift_keep


_KINDS = tuple(KIND_SHARE)
_KIND_WEIGHTS = tuple(accumulate(KIND_SHARE.values()))


def _pick_kind(rng: random.Random) -> ActivityKind:
    return _KINDS[min(bisect_left(_KIND_WEIGHTS, rng.random()), len(_KINDS) - 1)]


def _details(
    rng: random.Random, kind: ActivityKind
) -> tuple[str | None, str | None, int | None, str]:
    """Subtype, outcome, duration in seconds and subject, the way Salesforce logs them."""
    if kind is ActivityKind.CALL:
        draw, outcome = rng.random(), CALL_OUTCOMES[-1][0]
        for name, share in CALL_OUTCOMES:
            if draw < share:
                outcome = name
                break
            draw -= share
        duration = rng.randint(120, 1500) if outcome == "Connected" else rng.randint(10, 60)
        return "Call", outcome, duration, "Call"
    if kind is ActivityKind.MEETING:
        outcome = "No show" if rng.random() < NO_SHOW_CHANCE else "Held"
        return None, outcome, rng.choice((1800, 2700, 3600)), "Meeting"
    if kind is ActivityKind.EMAIL:
        return "Email", None, None, "Email: follow-up"
    return "Task", None, None, "Prepare proposal"


def _business_days(first: date, last: date) -> list[date]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def _quarters(first: date, last: date) -> list[tuple[date, date]]:
    """Calendar quarters from the one containing ``first`` to the one containing ``last``."""
    quarters = []
    start = date(first.year, (first.month - 1) // 3 * 3 + 1, 1)
    while start <= last:
        month = start.month + 3
        following = date(start.year + (month > 12), (month - 1) % 12 + 1, 1)
        quarters.append((start, following - timedelta(days=1)))
        start = following
    return quarters
