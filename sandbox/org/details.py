"""The finished deal: name, next step and qualification fields, frozen into a :class:`Deal`.

Assumptions: qualification is filled in as a deal matures, so early-stage deals are often
missing fields (half of qualify-stage fields are empty, a tenth by negotiation); a drifting
rep who stopped qualifying leaves 85% of fields empty on deals created after their drift
start. Open deals carry a next step and, when someone is working them, a next meeting in
the coming two weeks; a stalled deal keeps whatever was written before it stalled (often a
meeting date already in the past). Closed deals carry neither.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from .deals import DealPlan
from .model import Deal, QualificationValue
from .names import DECISION_MAKER_TITLES, FIRST_NAMES, LAST_NAMES, NEXT_STEPS, PAINS
from .workdays import local_day, next_workday

EMPTY_SHARE: dict[str, float] = {
    "qualify": 0.5, "discover": 0.35, "solution": 0.2, "proposal": 0.12, "negotiate": 0.1,
    "won": 0.08, "lost": 0.3,
}  # fmt: skip
BUDGET_SHARE: dict[str, float] = {
    "qualify": 0.15, "discover": 0.35, "solution": 0.55, "proposal": 0.75, "negotiate": 0.9,
    "won": 0.95, "lost": 0.35,
}  # fmt: skip
SLOPPY_EMPTY_SHARE = 0.85


def build_deal(plan: DealPlan, as_of: date) -> Deal:
    """Freeze ``plan``; its history already replays to its current fields."""
    rng = plan.rng
    return Deal(
        id=plan.deal_id,
        name=f"{plan.account} - {plan.product}",
        account_name=plan.account,
        owner_id=plan.owner.user_id,
        created_at=plan.created_at,
        amount=plan.amount,
        stage_key=plan.stage,
        close_date=plan.close_date,
        closed_at=plan.closed_at,
        next_step=_next_step(plan, rng),
        qualification=_qualification(plan, rng, as_of),
        history=tuple(plan.history),
    )


def _qualification(
    plan: DealPlan, rng: random.Random, as_of: date
) -> dict[str, QualificationValue]:
    empty = SLOPPY_EMPTY_SHARE if plan.sloppy else EMPTY_SHARE[plan.stage]
    budget = rng.random() >= empty and rng.random() < BUDGET_SHARE[plan.stage]
    maker = None
    if rng.random() >= empty:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        maker = f"{name} ({rng.choice(DECISION_MAKER_TITLES)})"
    pain = rng.choice(PAINS) if rng.random() >= empty else None
    return {
        "budget_confirmed": budget,
        "decision_maker": maker,
        "pain_identified": pain,
        "next_meeting_date": _next_meeting(plan, rng, as_of, empty),
    }


def _next_meeting(plan: DealPlan, rng: random.Random, as_of: date, empty: float) -> date | None:
    if plan.closed_at is not None or rng.random() < empty:
        return None
    if plan.stall_at is not None and local_day(plan.stall_at, plan.owner.zone) <= as_of:
        return local_day(plan.stall_at, plan.owner.zone) - timedelta(days=rng.randint(1, 5))
    return next_workday(as_of + timedelta(days=rng.randint(1, 14)))


def _next_step(plan: DealPlan, rng: random.Random) -> str | None:
    if plan.closed_at is not None:
        return None
    written = 0.3 if plan.sloppy else 0.85
    return rng.choice(NEXT_STEPS[plan.stage]) if rng.random() < written else None
