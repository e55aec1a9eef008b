"""The evaluation benchmark's org: the sandbox's generated sales org, as canonical records.

The evaluation benchmark and its tests need a large org in the store without running a
sync (that is what the sync benchmarks measure). Rather than a second generator, they use
the sandbox's own (:func:`sandbox.org.generate_org`), so a benchmark org has the same
people, pipeline, drift and ground truth the sandbox serves through its fake CRMs, and
this module only maps it to :mod:`connectors.records`. The sandbox must not import the
service's packages, so the mapping lives here.

The mapping follows what a Salesforce sync of the sandbox leaves in the store (see
``sandbox.salesforce.seed`` and ``connectors.salesforce.mapping``): 18-character ids with
each object's key prefix; stages on Salesforce's standard sales process with its default
probabilities; one full-snapshot history row per change (stage, amount, close date and
probability); calls, emails and to-dos as Tasks, meetings as Events; notes, which
Salesforce keeps as files rather than Tasks, left out. Two exceptions, both kept because
the rules read them: an activity keeps its exact moment (the sandbox's Tasks only carry a
date), and a meeting keeps its outcome (held or no-show), which HubSpot reports and the
meetings-held metric excludes on.

Activity volume: the generator's rates are a real org's (about 70 activities per deal),
so an org with tens of thousands of deals has millions of activities. The benchmark grows
activities in steps (250k, 500k, 1M) over the same deals, so :meth:`BenchOrg.activities`
hands out the org's activities in one seeded random order: the first N are a uniform
sample over all reps and months, and the same N whether they are loaded at once or in
steps. A step can hold at most :attr:`BenchOrg.activity_count` activities; ``deal_scale``
raises deals and activities together.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sandbox.org as neutral
from connectors.records import (
    Activity,
    ActivityKind,
    Opportunity,
    OpportunityChange,
    Quota,
    Rep,
    StageCategory,
)
from sandbox.org import OrgSpec, SalesOrg, generate_org
from sandbox.org.model import QualificationValue
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.seed import SALESFORCE_STAGES, TASK_SUBTYPES
from sandbox.salesforce.stages import find_stage

#: Salesforce key prefixes: User, Opportunity, OpportunityHistory, Task, Event, quota.
USER, OPPORTUNITY, HISTORY, TASK, EVENT, QUOTA = "005", "006", "008", "00T", "00U", "0J9"
#: The kinds a Salesforce org logs as Tasks and Events (notes are files there).
LOGGED_KINDS = frozenset({"call", "email", "task", "meeting"})


@dataclass(frozen=True)
class OrgShape:
    """What to generate: the sandbox's :class:`~sandbox.org.OrgSpec`, at the benchmark's
    size by default (200 reps under 20 managers, 18 months, the sandbox's own rates)."""

    reps: int = 200
    managers: int = 20
    months: int = 18
    deal_scale: float = 1.0
    seed: int = 7
    as_of: date = OrgSpec().as_of

    @property
    def spec(self) -> OrgSpec:
        return OrgSpec(
            seed=self.seed,
            managers=self.managers,
            reps=self.reps,
            months=self.months,
            as_of=self.as_of,
            deal_scale=self.deal_scale,
        )

    @property
    def end(self) -> datetime:
        """Noon UTC the day after ``as_of``: ``as_of`` is over in every rep's time zone
        (the sandbox's reps work as far west as UTC-8), so the whole org is in the past."""
        return datetime.combine(self.as_of + timedelta(days=1), time(12), tzinfo=UTC)


class BenchOrg:
    """One generated org and its canonical records, mapped as they are read."""

    def __init__(self, shape: OrgShape) -> None:
        self.shape = shape
        self.org: SalesOrg = generate_org(shape.spec)
        self.start = datetime.combine(self.org.history_start, time(), tzinfo=UTC)
        # Users and deals are referred to by every activity: their ids are made once.
        self._ids = {user.id: make_id(USER, _number(user.id)) for user in self.org.users}
        deals = self.org.deals
        self._ids.update((deal.id, make_id(OPPORTUNITY, _number(deal.id))) for deal in deals)
        logged = [a for a in self.org.activities if a.kind in LOGGED_KINDS]
        random.Random(f"{shape.seed}:bench activities").shuffle(logged)
        self._activities = logged

    @property
    def activity_count(self) -> int:
        """How many activities :meth:`activities` can hand out."""
        return len(self._activities)

    def crm_id(self, neutral_id: str) -> str | None:
        """The CRM id a user or deal of the generated org is stored under."""
        return self._ids.get(neutral_id)

    def reps(self) -> list[Rep]:
        """The VP, the managers and the account executives (leavers too), as CRM users."""
        teams = {team.id: team.name for team in self.org.teams}
        return [
            Rep(
                crm_id=self._ids[user.id],
                name=user.name,
                email=user.email,
                manager_crm_id=self._ids.get(user.manager_id or ""),
                team=teams.get(user.team_id or ""),
                role=user.role,
                is_active=user.is_active,
                started_on=user.start_date,
                time_zone=user.time_zone,
                modified_at=self.start,
            )
            for user in self.org.users
        ]

    def quotas(self) -> list[Quota]:
        return [
            Quota(
                crm_id=make_id(QUOTA, number),
                rep_crm_id=self._ids[quota.user_id],
                period_start=quota.period_start,
                period_end=quota.period_end,
                amount=quota.amount,
                modified_at=self.start,
            )
            for number, quota in enumerate(self.org.quotas, start=1)
        ]

    def deals(self) -> Iterator[tuple[Opportunity, list[OpportunityChange]]]:
        """Every deal as it stands at ``as_of``, with its history rows, oldest first."""
        for deal in self.org.deals:
            crm_id = self._ids[deal.id]
            yield _opportunity(deal, crm_id, self._ids[deal.owner_id]), _history(deal, crm_id)

    def activities(self, start: int, stop: int) -> Iterator[Activity]:
        """Activities ``start`` .. ``stop - 1`` of the org's fixed, seeded order."""
        for activity in self._activities[start:stop]:
            yield _activity(activity, self._ids)


# --------------------------------------------------------------------------- mapping


def _number(neutral_id: str) -> int:
    """The sequence number in a sandbox id (``u0007``, ``d000123``, ``a0004567``)."""
    return int(neutral_id[1:])


def _stage(key: str) -> tuple[str, StageCategory, Decimal | None]:
    """Salesforce's stage name, its category and its default probability."""
    name = SALESFORCE_STAGES[key]
    info = find_stage(name)
    if info is None or not info.is_closed:
        category = StageCategory.OPEN
    else:
        category = StageCategory.WON if info.is_won else StageCategory.LOST
    return name, category, None if info is None else Decimal(int(info.probability))


def _opportunity(deal: neutral.Deal, crm_id: str, owner_crm_id: str) -> Opportunity:
    stage, category, probability = _stage(deal.stage_key)
    return Opportunity(
        crm_id=crm_id,
        name=deal.name,
        stage=stage,
        stage_category=category,
        owner_crm_id=owner_crm_id,
        account_name=deal.account_name,
        amount=deal.amount,
        probability=probability,
        close_date=deal.close_date,
        created_at=deal.created_at,
        closed_at=deal.closed_at,
        next_step=deal.next_step,
        qualification=_qualification(deal.qualification),
        modified_at=deal.history[-1].at if deal.history else deal.created_at,
    )


def _qualification(values: Mapping[str, QualificationValue]) -> dict[str, object]:
    """As the API's JSON carries them: a date is its ISO text."""
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in values.items()
    }


def _history(deal: neutral.Deal, crm_id: str) -> list[OpportunityChange]:
    """Replay the sandbox's partial changes into full snapshots, as Salesforce keeps them."""
    rows: list[OpportunityChange] = []
    stage: tuple[str | None, StageCategory | None, Decimal | None] = (None, None, None)
    amount: Decimal | None = None
    close: date | None = None
    for index, change in enumerate(deal.history):
        if change.stage_key is not None:
            stage = _stage(change.stage_key)
        amount = change.amount if change.amount is not None else amount
        close = change.close_date or close
        rows.append(
            OpportunityChange(
                crm_id=make_id(HISTORY, _number(deal.id) * 1000 + index),
                opportunity_crm_id=crm_id,
                changed_at=change.at,
                stage=stage[0],
                stage_category=stage[1],
                amount=amount,
                close_date=close,
                probability=stage[2],
                modified_at=change.at,
            )
        )
    return rows


def _activity(activity: neutral.Activity, ids: Mapping[str, str]) -> Activity:
    meeting = activity.kind == "meeting"
    return Activity(
        crm_id=make_id(EVENT if meeting else TASK, _number(activity.id)),
        kind=ActivityKind(activity.kind),
        occurred_at=activity.occurred_at,
        rep_crm_id=ids[activity.owner_id],
        opportunity_crm_id=ids[activity.deal_id] if activity.deal_id else None,
        subtype="Meeting" if meeting else TASK_SUBTYPES[activity.kind],
        subject=activity.subject,
        status=None if meeting else _task_status(activity),
        outcome=activity.outcome,
        duration_seconds=activity.duration_seconds,
        modified_at=activity.occurred_at,
    )


def _task_status(activity: neutral.Activity) -> str:
    return "Completed" if activity.status == "completed" else "Not Started"
