"""Moving a deal through the open stages until it is lost, stalls, or reaches a decision.

Assumptions: time in each stage is lognormal (sigma 0.5) around the stage's median scaled by
the rep's speed, so most stages take days to a couple of weeks; 15% of stage visits get
stuck waiting on the customer and last a Pareto-distributed multiple of that (alpha 1.5:
heavy-tailed, as real stage durations are, so an old deal alone says little about its rep);
stage moves happen in working hours on working days. Early stages lose more deals than late
ones (conversion 75%, 80%, 85%, 88% out of qualify..proposal, times the rep's quality, and
15% lower for deals a drifting rep qualified sloppily). When a deal outlives its close date
by more than three days the rep pushes it 10-35 days (recorded the working morning after the
close date), which is where most close-date pushes come from; a stalled deal gets no pushes
and goes past due. Amounts are revised when a proposal is made (35% of deals, -20%..+25%)
and discounted in negotiation (30%, 2-12%). When the leaving rep goes, their qualify-stage
deals are closed lost that evening and the rest pass to their successor, who works them
from their first day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .deals import STAGE_DAYS, DealPlan, SimContext, money, work_instant
from .model import OPEN_STAGE_KEYS, STAGE_BY_KEY, DealChange
from .people import UNLUCKY_CONVERSION, RepProfile
from .workdays import local_day, local_midnight_utc, next_workday

CONVERSIONS: tuple[float, ...] = (0.75, 0.80, 0.85, 0.88)
#: The share of stage visits that get stuck, and the Pareto tail of how long they stay.
STUCK_SHARE, STUCK_ALPHA = 0.15, 1.5
SLOPPY_PENALTY = 0.85
#: A deal closed within this many days after its close date is closed, not pushed first.
PUSH_GRACE_DAYS = 3


def run_timeline(plan: DealPlan, ctx: SimContext, successors: dict[str, RepProfile]) -> None:
    """Advance ``plan`` to its decision point, its loss, or wherever it stands at the cutoff."""
    at = plan.created_at
    for index in range(len(OPEN_STAGE_KEYS) - 1):
        at = stage_exit(plan, at, index)
        lost = plan.rng.random() > _conversion(plan, index)
        target = "lost" if lost else OPEN_STAGE_KEYS[index + 1]
        if not reach(plan, at, ctx, successors):
            return
        _move(plan, at, target)
        if lost:
            return
    decision = stage_exit(plan, at, len(OPEN_STAGE_KEYS) - 1)
    if reach(plan, decision, ctx, successors):
        plan.decision_at = decision


def stage_exit(plan: DealPlan, entered: datetime, index: int) -> datetime:
    rng = plan.rng
    days = STAGE_DAYS[index] * plan.owner.speed * rng.lognormvariate(0.0, 0.5)
    if rng.random() < STUCK_SHARE:  # waiting on the customer: legal, budget, a reorg
        days *= rng.paretovariate(STUCK_ALPHA)
    return later_workday(plan, entered, round(days))


def later_workday(plan: DealPlan, after: datetime, days: int) -> datetime:
    """A working-hours instant ``days`` (at least one) calendar days after ``after``."""
    zone = plan.owner.zone
    day = next_workday(local_day(after, zone) + timedelta(days=max(1, days)))
    return work_instant(day, zone, plan.rng)


def reach(plan: DealPlan, at: datetime, ctx: SimContext, successors: dict[str, RepProfile]) -> bool:
    """Bring ``plan`` up to ``at``; False when it cannot get there (cutoff, stall, handover)."""
    owner = plan.owner
    if owner.end is not None and at > _leave_instant(owner) and not hand_over(plan, successors):
        return False
    limit = ctx.cutoff(plan.owner.zone)
    if plan.stall_at is not None:
        limit = min(limit, plan.stall_at)
    if at >= limit:
        catch_up_pushes(plan, limit)
        return False
    catch_up_pushes(plan, at)
    return True


def hand_over(plan: DealPlan, successors: dict[str, RepProfile]) -> bool:
    """The leaver is gone: lose early-stage deals, pass the rest on. True if it lives on."""
    leaver = plan.owner
    left = _leave_instant(leaver)
    catch_up_pushes(plan, left)
    successor = successors.get(leaver.user_id)
    if successor is None or plan.stage == "qualify":
        _move(plan, left, "lost")
        return False
    plan.owner = successor
    plan.handover_at = local_midnight_utc(successor.start, successor.zone) + timedelta(hours=8)
    return True


def catch_up_pushes(plan: DealPlan, until: datetime) -> None:
    """Push the close date, as the rep would, each time it passes before ``until``."""
    zone = plan.owner.zone
    while (local_day(until, zone) - plan.close_date).days > PUSH_GRACE_DAYS:
        day = next_workday(plan.close_date + timedelta(days=1))
        at = work_instant(day, zone, plan.rng, 8.0, 10.0)
        if at >= until:
            at = until - timedelta(minutes=1)
        push_close_date(plan, at)


def push_close_date(plan: DealPlan, at: datetime) -> None:
    start = max(plan.close_date, local_day(at, plan.owner.zone))
    new = start + timedelta(days=plan.rng.randint(10, 35))
    plan.record(DealChange(at, None, None, new, None))
    plan.pushes += 1


def _move(plan: DealPlan, at: datetime, key: str) -> None:
    rng = plan.rng
    amount = None
    if key == "proposal" and rng.random() < 0.35:
        amount = money(float(plan.amount) * rng.uniform(0.8, 1.25))
    elif key == "negotiate" and rng.random() < 0.30:
        amount = money(float(plan.amount) * rng.uniform(0.88, 0.98))
    close = None
    if key in ("won", "lost"):
        close = local_day(at, plan.owner.zone)
        close = None if close == plan.close_date else close
        plan.closed_at = at
    probability = STAGE_BY_KEY[key].probability
    plan.record(DealChange(at, key, amount, close, probability))
    if plan.closed_at is not None:
        plan.closed_at = plan.history[-1].at


def close_plan(plan: DealPlan, at: datetime, key: str) -> None:
    """Close ``plan`` as won or lost at ``at``."""
    _move(plan, at, key)


def _conversion(plan: DealPlan, index: int) -> float:
    creator = plan.creator
    rate = CONVERSIONS[index] * creator.quality
    if creator.persona == "unlucky":
        rate *= UNLUCKY_CONVERSION
    return rate * SLOPPY_PENALTY if plan.sloppy else rate


def _leave_instant(leaver: RepProfile) -> datetime:
    if leaver.end is None:
        raise ValueError(f"{leaver.user_id} has not left")
    return local_midnight_utc(leaver.end, leaver.zone) + timedelta(hours=17, minutes=30)
