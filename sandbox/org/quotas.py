"""Quarterly quotas, sized from what each rep's own pipeline can be expected to close.

Assumptions: a full quarter's quota is the rep's expected closed-won over 63 working days:
new deals a day x the share that survives to a decision x 60% of decisions won x the mean
of the rep's amount distribution, rounded to the nearest 500. It is prorated by the days
a rep was employed in the quarter; a ramping rep carries 10% in their first quarter and 25%
in their second, since their own deals need a full cycle to close. Quotas exist for every
calendar quarter overlapping the history that the rep was employed in, the current one too.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from .deals import AMOUNT_SIGMA, SimContext
from .model import Quota
from .people import RepProfile
from .timeline import CONVERSIONS
from .workdays import quarter_end, quarters_between

WORKDAYS_PER_QUARTER = 63
DECISION_WIN_SHARE = 0.55
RAMP_FACTORS = (0.1, 0.25)
#: Quotas are round numbers: multiples of this, and at least this for any employed quarter.
QUOTA_STEP = 500
_CENT = Decimal("0.01")


def quarter_quota(profile: RepProfile, start: date) -> float:
    """The quota of ``profile`` for the quarter starting ``start`` (0.0 if not employed)."""
    end = quarter_end(start)
    employed_from = max(start, profile.start)
    employed_to = min(end, profile.end or end)
    if employed_to < employed_from:
        return 0.0
    share = ((employed_to - employed_from).days + 1) / ((end - start).days + 1)
    amount = _full_quarter(profile) * share * _ramp(profile, start)
    return float(max(QUOTA_STEP, round(amount / QUOTA_STEP) * QUOTA_STEP))


def quotas_for(profiles: tuple[RepProfile, ...], ctx: SimContext) -> tuple[Quota, ...]:
    """One quota per rep per employed quarter of the history, in rep then period order."""
    quarters = quarters_between(ctx.first_day, ctx.spec.as_of)
    records: list[Quota] = []
    for profile in profiles:
        for start, end in quarters:
            amount = quarter_quota(profile, start)
            if amount > 0:
                records.append(
                    Quota(profile.user_id, start, end, Decimal(int(amount)).quantize(_CENT))
                )
    return tuple(records)


def _full_quarter(profile: RepProfile) -> float:
    survive = math.prod(rate * profile.quality for rate in CONVERSIONS)
    mean_amount = profile.median_amount * math.exp(AMOUNT_SIGMA**2 / 2)
    return profile.deals_per_day * survive * DECISION_WIN_SHARE * mean_amount * WORKDAYS_PER_QUARTER


def _ramp(profile: RepProfile, start: date) -> float:
    if not profile.ramping:
        return 1.0
    first = profile.start
    index = (start.year - first.year) * 4 + (start.month - 1) // 3 - (first.month - 1) // 3
    return RAMP_FACTORS[index] if 0 <= index < len(RAMP_FACTORS) else 1.0
