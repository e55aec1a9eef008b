"""Ground truth: who drifted, and what it cost them, measured from the generated deals.

Attainment is never asserted: it is closed-won amount (won deals whose close date falls in
the quarter, counted for their owner) divided by the quarter's quota. A quarter still in
progress on ``as_of`` is measured against its quota prorated to the days elapsed (pace to
quota), otherwise every rep would look short mid-quarter; likewise the first quarter, which
the history only partly covers, is measured on the covered days. The final period is the current
quarter once 30 days of it have passed, else the previous (complete) quarter; a rep who left
is measured on their last quarter. ``missed_quota`` is final attainment below 80%
(:data:`.model.MISS_THRESHOLD`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from .model import MISS_THRESHOLD, Deal, Quota, RepTruth
from .people import RepProfile
from .workdays import final_period_start

_RATIO = Decimal("0.0001")


def attainment(quota: Quota, won: Iterable[Deal], first_day: date, as_of: date) -> Decimal:
    """Closed-won in the part of the quota's period inside the history, over the quota
    prorated to that part."""
    start = max(quota.period_start, first_day)
    end = min(quota.period_end, as_of)
    total = sum((d.amount for d in won if start <= d.close_date <= end), Decimal("0.00"))
    covered = (end - start).days + 1
    length = (quota.period_end - quota.period_start).days + 1
    return (total * length / (quota.amount * covered)).quantize(_RATIO)


def build_truth(
    profiles: Sequence[RepProfile],
    deals: Sequence[Deal],
    quotas: Sequence[Quota],
    first_day: date,
    as_of: date,
) -> tuple[RepTruth, ...]:
    """One :class:`RepTruth` per rep, active or not, in profile order."""
    won: dict[str, list[Deal]] = defaultdict(list)
    for deal in deals:
        if deal.stage_key == "won":
            won[deal.owner_id].append(deal)
    by_rep: dict[str, list[Quota]] = defaultdict(list)
    for quota in quotas:
        by_rep[quota.user_id].append(quota)
    return tuple(
        _rep_truth(p, by_rep[p.user_id], won[p.user_id], first_day, as_of) for p in profiles
    )


def _rep_truth(
    profile: RepProfile, quotas: list[Quota], won: list[Deal], first_day: date, as_of: date
) -> RepTruth:
    by_quarter = {q.period_start: attainment(q, won, first_day, as_of) for q in quotas}
    final_start = final_period_start(as_of, profile.end)
    eligible = [start for start in by_quarter if start <= final_start]
    final = by_quarter[max(eligible)] if eligible else Decimal("0.0000")
    drift = profile.drift
    return RepTruth(
        user_id=profile.user_id,
        persona=profile.persona,
        drifts=drift is not None,
        drift_start=drift.start if drift else None,
        drifting_indicators=drift.indicators if drift else (),
        attainment_by_quarter=by_quarter,
        final_attainment=final,
        missed_quota=final < MISS_THRESHOLD,
    )
