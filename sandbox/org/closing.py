"""The decision at the end of negotiation: win, lose, or slip to a later close date.

Assumptions: healthy reps manage their number. The win probability is 50% when closed-won
this quarter is on pace (quota x elapsed share of the quarter x the rep's personal aim of
92-105%), rising to 90% as the rep falls behind (they work deals over the line) and falling
to 5% as they get ahead; ahead of pace most of the rest slip into the next quarter
(sandbagging) rather than being lost. This keeps most healthy reps at 80% of quota or more
despite lumpy, lognormal deal sizes. A drifting rep has stopped chasing the number: from
their drift start they settle for a token 6-10% of pace, win half their decisions while
short of that and 2% after it, and far fewer of the deals above their median size (those
need attention they no longer give), so deals slip instead. That is how the
leading-indicator decline turns into a missed quarter and into repeated close-date pushes.
An unlucky rep wins each decision only 45-65% as often as this, however hard they push.
A slipped deal's close date moves 10-35 days out and it is decided again around then;
decisions due after the cutoff leave the deal open in negotiation.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta

from .deals import DealPlan, SimContext, work_instant
from .people import RepProfile
from .timeline import close_plan, push_close_date, reach
from .workdays import local_day, next_workday, pace_fraction, quarter_end, quarter_start

QuotaFn = Callable[[RepProfile, date], float]

#: Win probability is 0.5 on pace and moves WIN_GAIN per quota-share behind (or ahead).
WIN_GAIN = 6.0
#: Early in a quarter reps aim for at least this share of it, not the few days' pace.
PACE_FLOOR = 0.3
WIN_RANGE = (0.05, 0.90)
#: Of the decisions not won, the share that slips: 45% on pace, more when ahead (sandbagging
#: into next quarter), fewer when behind.
SLIP_RANGE = (0.25, 0.75)
#: A drifting rep settles for this share of their drift floor (itself 30-50%) of pace, and
#: no longer works deals over the line.
DRIFT_AMBITION = 0.2
DRIFT_WIN_BEHIND, DRIFT_WIN_AHEAD = 0.5, 0.02


def decide_all(
    plans: list[DealPlan], ctx: SimContext, successors: dict[str, RepProfile], quota: QuotaFn
) -> None:
    """Decide every deal that reached negotiation's end, in time order across the org."""
    queue: list[tuple[datetime, int, DealPlan]] = [
        (p.decision_at, p.seq, p) for p in plans if p.decision_at is not None
    ]
    heapq.heapify(queue)
    won: dict[tuple[str, date], float] = defaultdict(float)
    while queue:
        at, seq, plan = heapq.heappop(queue)
        if not reach(plan, at, ctx, successors):
            continue
        outcome = _outcome(plan, at, won, quota)
        if outcome == "slip":
            push_close_date(plan, at)
            heapq.heappush(queue, (_next_decision(plan), seq, plan))
            continue
        close_plan(plan, at, outcome)
        if outcome == "won":
            owner = plan.owner
            won[(owner.user_id, quarter_start(local_day(at, owner.zone)))] += float(plan.amount)


def _outcome(
    plan: DealPlan, at: datetime, won: dict[tuple[str, date], float], quota: QuotaFn
) -> str:
    owner = plan.owner
    day = local_day(at, owner.zone)
    start = quarter_start(day)
    full = quota(owner, start)
    pace = full * max(PACE_FLOOR, pace_fraction(start, quarter_end(day), day)) * owner.aim
    so_far = won[(owner.user_id, start)]
    gap = (pace - so_far) / full if full else 1.0
    if owner.drift is not None and owner.drift.active(day):
        behind = so_far < pace * owner.drift.floor * DRIFT_AMBITION
        win = DRIFT_WIN_BEHIND if behind else DRIFT_WIN_AHEAD
        # big deals need the attention a drifting rep no longer gives
        win *= min(1.0, owner.median_amount / float(plan.amount)) ** 2
    else:
        win = _clamp(0.5 + WIN_GAIN * gap, WIN_RANGE) * owner.luck
    slip = _clamp(0.45 - gap, SLIP_RANGE)
    draw = plan.rng.random()
    if draw < win:
        return "won"
    return "slip" if draw < win + (1 - win) * slip else "lost"


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(bounds[1], max(bounds[0], value))


def _next_decision(plan: DealPlan) -> datetime:
    """Around the new close date: up to three days early, never on a weekend."""
    day = plan.close_date - timedelta(days=plan.rng.randint(0, 3))
    zone = plan.owner.zone
    return work_instant(next_workday(day), zone, plan.rng)
