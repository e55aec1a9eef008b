"""One synthetic deal's life, the way a Salesforce org records it, for the benchmark org.

A deal starts in Prospecting and walks the standard stages (sometimes skipping one),
staying a log-normal time in each (the stage's median times the seller's pace); at every
move it may be lost instead, with a chance that depends on the seller, and it is won
after its last stage. On the way its close date is pushed now and then (and always when
the deal outlives it) and its amount changes. Every step is an OpportunityHistory-style
row holding stage, amount, close date and probability; rows after the org's end are cut,
and the deal as it stands is its newest row.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from connectors.records import Opportunity, OpportunityChange
from connectors.records import StageCategory as Category
from sandbox.salesforce.stages import STANDARD_STAGES

OPEN_STAGES = tuple(stage for stage in STANDARD_STAGES if not stage.is_closed)
OPEN_STAGES_INDEX = {stage.name: i for i, stage in enumerate(OPEN_STAGES)}
WON_STAGE, LOST_STAGE = "Closed Won", "Closed Lost"
PROBABILITY = {stage.name: Decimal(int(stage.probability)) for stage in STANDARD_STAGES}
#: Median days a deal spends in each open stage (before the seller's own pace).
STAGE_MEDIAN_DAYS = (5.0, 7.0, 9.0, 10.0, 8.0, 8.0, 10.0, 12.0)
SKIP_CHANCE, PUSH_CHANCE, AMOUNT_CHANGE_CHANCE = 0.15, 0.18, 0.1
MEAN_DEAL_AMOUNT = 30_000.0


@dataclass(frozen=True)
class Seller:
    """A rep as the generator sees them: who, since when, how busy, how good."""

    crm_id: str
    manager_crm_id: str
    team: str
    started_on: date
    weight: float  # activity and pipeline volume relative to the average seller
    pace: float  # multiplies stage durations
    loss_chance: float  # per stage move
    diligence: float  # chance each qualification field is filled
    drift_from: datetime | None = None
    drift_keep: float = 1.0  # share of activity and pipeline kept once drifting


class DealLife:
    """One deal's life: stage moves, pushes and amount changes, cut at the org's end."""

    def __init__(
        self, end: datetime, seller: Seller, index: int, created: datetime, rng: random.Random
    ) -> None:
        self.end, self.seller, self.rng = end, seller, rng
        self.crm_id = f"006{index:012d}"
        self.created = created
        self.amount = Decimal(round(rng.lognormvariate(math.log(MEAN_DEAL_AMOUNT) - 0.18, 0.6)))
        self.close = created.date() + timedelta(days=rng.randint(30, 110))
        self.stage = OPEN_STAGES[0].name
        self.changes: list[OpportunityChange] = []

    def build(self) -> tuple[Opportunity, list[OpportunityChange]]:
        self._record(self.created)
        moment = self.created
        path = [s.name for i, s in enumerate(OPEN_STAGES) if i == 0 or self._keeps()]
        for position, stage in enumerate(path):
            moment = self._stay(moment, OPEN_STAGES_INDEX[stage])
            if moment >= self.end:
                break
            if self.rng.random() < self.seller.loss_chance:
                self._close(moment, LOST_STAGE)
                break
            if position + 1 == len(path):
                self._close(moment, WON_STAGE)
                break
            self._move(moment, path[position + 1])
        return self._opportunity(), self.changes

    def _keeps(self) -> bool:
        return self.rng.random() >= SKIP_CHANCE

    def _stay(self, entered: datetime, stage_index: int) -> datetime:
        """Time in the stage, with a push or an amount change on the way; returns its end."""
        median = STAGE_MEDIAN_DAYS[stage_index] * self.seller.pace
        stay = timedelta(days=self.rng.lognormvariate(math.log(median), 0.7))
        if self.rng.random() < PUSH_CHANCE:
            during = entered + stay * self.rng.uniform(0.2, 0.9)
            self.close = max(self.close, during.date()) + timedelta(days=self.rng.randint(7, 45))
            self._record(during)
        if self.rng.random() < AMOUNT_CHANGE_CHANCE:
            during = entered + stay * self.rng.uniform(0.2, 0.9)
            self.amount = Decimal(round(float(self.amount) * self.rng.uniform(0.75, 1.25)))
            self._record(during)
        return entered + stay

    def _move(self, moment: datetime, stage: str) -> None:
        self.stage = stage
        if self.close < moment.date():  # a deal past its close date gets a new one
            self.close = moment.date() + timedelta(days=self.rng.randint(10, 40))
        self._record(moment)

    def _close(self, moment: datetime, stage: str) -> None:
        self.stage, self.close = stage, moment.date()
        self._record(moment)

    def _record(self, moment: datetime) -> None:
        if moment >= self.end:
            return
        category = _category(self.stage)
        self.changes.append(
            OpportunityChange(
                crm_id=f"008{self.crm_id[3:]}{len(self.changes):03d}",
                opportunity_crm_id=self.crm_id,
                changed_at=moment,
                stage=self.stage,
                stage_category=category,
                amount=self.amount,
                close_date=self.close,
                probability=PROBABILITY[self.stage],
                modified_at=moment,
            )
        )

    def _opportunity(self) -> Opportunity:
        """The deal as it stands at the org's end: its newest change row."""
        last = self.changes[-1]
        category = last.stage_category or Category.OPEN
        diligence = self.seller.diligence
        return Opportunity(
            crm_id=self.crm_id,
            name=f"Deal {self.crm_id[-6:]}",
            account_name=f"Account {int(self.crm_id[3:]) % 9973:04d}",
            stage=last.stage or OPEN_STAGES[0].name,
            stage_category=category,
            owner_crm_id=self.seller.crm_id,
            amount=last.amount,
            currency="USD",
            probability=last.probability,
            close_date=last.close_date,
            created_at=self.created,
            closed_at=None if category is Category.OPEN else last.changed_at,
            qualification={
                "decision_maker": "A. Buyer" if self.rng.random() < diligence else "",
                "pain_identified": "Manual reporting" if self.rng.random() < diligence else None,
                "budget_confirmed": self.rng.random() < 0.6,
            },
            modified_at=last.changed_at,
        )


def _category(stage: str) -> Category:
    if stage == WON_STAGE:
        return Category.WON
    return Category.LOST if stage == LOST_STAGE else Category.OPEN
