"""Which reps drift, from when, on which indicators, and how hard.

Assumptions: drift starts on a Monday anywhere from 20 weeks into the history (so every
drifting rep has a baseline a coach could know them by) to 6 weeks before ``as_of`` (so it
has cost something by then), and the rep stays low from then on: it is a disengagement, not
a bad patch. A history too short for that window keeps drift to 6-12 weeks before ``as_of``,
no later than two weeks into the quarter the miss is measured on. The affected indicators
slide linearly over two to four weeks to a floor of 30-50% of the rep's own baseline rather
than dropping overnight, because real disengagement is gradual. Every drifting rep declines
on calls or meetings (the most common visible symptom) plus one or two of pipeline creation,
stalled deals and qualification hygiene. The lagging result (deals slipping and not
closing) follows in :mod:`.closing` for every drifting rep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from .model import INDICATORS
from .workdays import final_period_start

RAMP_DAYS = (14, 28)
#: Weeks of history a drifting rep works normally before the drift can start.
BASELINE_WEEKS = 20
_ACTIVITY_CHOICES: tuple[tuple[str, ...], ...] = (("calls",), ("meetings",), ("calls", "meetings"))
_OUTCOME_INDICATORS: tuple[str, ...] = ("pipeline_created", "stalled_deals", "qualification")


@dataclass(frozen=True, slots=True)
class DriftPlan:
    start: date
    indicators: tuple[str, ...]
    floor: float
    ramp_days: int = RAMP_DAYS[0]

    def factor(self, indicator: str, day: date) -> float:
        """Multiplier on the rep's baseline for ``indicator`` on ``day`` (1.0 when unaffected)."""
        if day < self.start or indicator not in self.indicators:
            return 1.0
        progress = min(1.0, ((day - self.start).days + 1) / self.ramp_days)
        return 1.0 - (1.0 - self.floor) * progress

    def active(self, day: date) -> bool:
        return day >= self.start


def drift_count(reps: int, share: float) -> int:
    """How many reps drift: ``share`` of them, at least one when there are 4+ reps."""
    if share <= 0 or reps <= 0:
        return 0
    count = round(reps * share)
    if reps >= 4:
        count = max(1, count)
    return min(count, reps)


def plan_drift(rng: random.Random, first_day: date, as_of: date) -> DriftPlan:
    """A drift start Monday (see the module's assumptions), its indicators and its floor."""
    mondays = _mondays(first_day + timedelta(weeks=BASELINE_WEEKS), as_of - timedelta(weeks=6))
    mondays = mondays or _late_candidates(as_of)
    start = mondays[rng.randrange(len(mondays))]
    activity = rng.choice(_ACTIVITY_CHOICES)
    outcomes = tuple(rng.sample(_OUTCOME_INDICATORS, rng.randint(1, 2)))
    chosen = set(activity) | set(outcomes)
    indicators = tuple(name for name in INDICATORS if name in chosen)
    floor = rng.uniform(0.3, 0.5)
    return DriftPlan(start, indicators, floor, rng.randint(*RAMP_DAYS))


def _mondays(first: date, last: date) -> list[date]:
    day = first + timedelta(days=(7 - first.weekday()) % 7)
    mondays = []
    while day <= last:
        mondays.append(day)
        day += timedelta(weeks=1)
    return mondays


def _late_candidates(as_of: date) -> list[date]:
    """Mondays 42-83 days before ``as_of`` that are at most two weeks into the final period.

    The final period (see :func:`.workdays.final_period_start`) is where the miss is
    measured; a drift that began late in it would leave most of the quarter healthy.
    When no Monday qualifies, the earliest of the 6-12 week window is used.
    """
    earliest = as_of - timedelta(days=83)
    latest = min(as_of - timedelta(days=42), final_period_start(as_of, None) + timedelta(days=14))
    return _mondays(earliest, latest) or _mondays(earliest, earliest + timedelta(days=6))
