"""Drift: a breach of the standard that is sustained, or a trend about to become one.

Leading indicators are noisy (a rep is ill for a day, a week has a holiday), and a coach who
reacts to every dip is ignored. So a single breach is only a breach; *drift* is ``k`` of the
last ``n`` periods outside the standard, or a robust trend over the window that will cross
it within the horizon. The trend uses Siegel's repeated median (per point, the median slope
to every other point; then the median of those), which resists outliers up to half the
points, so one bad period cannot tilt it even in a short window. Once drifting, a finding
stays open until the metric has been back inside for ``resolve_after`` periods in a row
(hysteresis), so a rep hovering at the line does not open and close a finding every week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Literal

from rules.policies import DriftPolicy, Severity, SeverityThresholds

#: Fewest measured periods a trend is fitted on.
MIN_TREND_POINTS = 4


@dataclass(frozen=True, slots=True)
class Bounds:
    """The standard as applied to one period: a minimum, a maximum, or both."""

    minimum: float | None
    maximum: float | None


@dataclass(frozen=True, slots=True)
class Breach:
    """A value outside the standard: which side, and by how much relative to the bound."""

    side: Literal["below", "above"]
    gap: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the series says about one subject under one rule."""

    drifting: bool
    reason: Literal["sustained", "trend"] | None
    breaches: tuple[Breach | None, ...]
    severity: Severity | None
    gap: float
    quiet_periods: int
    projected: float | None = None

    def may_resolve(self, policy: DriftPolicy) -> bool:
        """True when a live finding should close: no drift and enough quiet periods."""
        return not self.drifting and self.quiet_periods >= policy.resolve_after


def relative_gap(value: float, bound: float) -> float:
    """How far ``value`` is from ``bound``, as a share of the larger of the two.

    Below a minimum that is the share of the standard missing (2 calls against 10: 0.8);
    above a maximum, the share of the value beyond the standard (a deal idle 28 days
    against 7: 0.75). Either way a gap runs from 0 to 1 for values of one sign, so gaps
    and the severities set on them compare across rules: a maximum's gap is not
    unbounded while a minimum's stops at 1.
    """
    distance = abs(value - bound)
    scale = max(abs(value), abs(bound))
    return distance / scale if scale else 0.0


def breach(value: float | None, bounds: Bounds | None, tolerance: float) -> Breach | None:
    """The breach of ``bounds`` by ``value`` beyond ``tolerance``; None when inside or unknown."""
    if value is None or bounds is None:
        return None
    if bounds.minimum is not None and value < bounds.minimum:
        gap = relative_gap(value, bounds.minimum)
        return Breach("below", gap) if gap > tolerance else None
    if bounds.maximum is not None and value > bounds.maximum:
        gap = relative_gap(value, bounds.maximum)
        return Breach("above", gap) if gap > tolerance else None
    return None


def severity_of(gap: float, thresholds: SeverityThresholds) -> Severity:
    if gap >= thresholds.high:
        return Severity.HIGH
    if gap >= thresholds.medium:
        return Severity.MEDIUM
    return Severity.LOW


def trend_projection(values: Sequence[float | None], horizon: int) -> tuple[float, float] | None:
    """(slope, value projected ``horizon`` periods past the last) by the repeated median;
    None when fewer than :data:`MIN_TREND_POINTS` periods were measured."""
    points = [(index, value) for index, value in enumerate(values) if value is not None]
    if len(points) < MIN_TREND_POINTS:
        return None
    slope = median(
        median((y2 - y1) / (x2 - x1) for x2, y2 in points if x2 != x1) for x1, y1 in points
    )
    intercept = median(y - slope * x for x, y in points)
    return slope, intercept + slope * (len(values) - 1 + horizon)


def judge(
    values: Sequence[float | None],
    bounds: Sequence[Bounds | None],
    policy: DriftPolicy,
    recovery: Sequence[Bounds | None] | None = None,
) -> Verdict:
    """Judge a window of values (oldest first) against per-period bounds.

    ``recovery``: per period, the line a live finding's subject must be back inside to
    count as quiet (None where the period's ``bounds`` serve); values between the two
    neither drift nor count towards resolving.
    """
    breaches = tuple(
        breach(value, bound, policy.tolerance) for value, bound in zip(values, bounds, strict=True)
    )
    quiet = _quiet_tail(breaches)
    if recovery is not None and any(line is not None for line in recovery):
        lines = [line or bound for line, bound in zip(recovery, bounds, strict=True)]
        quiet = _quiet_tail(
            [
                breach(value, line, policy.tolerance)
                for value, line in zip(values, lines, strict=True)
            ]
        )
    recent = [found for found in breaches[-policy.n :] if found is not None]
    if len(recent) >= policy.k and (
        not policy.latest_must_breach or _latest_breaches(values, breaches)
    ):
        gap = recent[-1].gap
        return Verdict(
            True, "sustained", breaches, severity_of(gap, policy.severity), gap, quiet, None
        )
    trend = _trend_breach(values, bounds, policy)
    if trend is not None:
        projected, found = trend
        return Verdict(True, "trend", breaches, Severity.LOW, found.gap, quiet, projected)
    return Verdict(False, None, breaches, None, 0.0, quiet, None)


def _latest_breaches(values: Sequence[float | None], breaches: Sequence[Breach | None]) -> bool:
    """Whether the most recent period with a value is outside the standard."""
    for value, found in zip(reversed(values), reversed(breaches), strict=True):
        if value is not None:
            return found is not None
    return False


def _quiet_tail(breaches: Sequence[Breach | None]) -> int:
    quiet = 0
    for found in reversed(breaches):
        if found is not None:
            break
        quiet += 1
    return quiet


def _trend_breach(
    values: Sequence[float | None], bounds: Sequence[Bounds | None], policy: DriftPolicy
) -> tuple[float, Breach] | None:
    """The projected value and its breach when the trend heads out of the standard."""
    latest = next((bound for bound in reversed(bounds) if bound is not None), None)
    if policy.trend_horizon is None or latest is None:
        return None
    fitted = trend_projection(values, policy.trend_horizon)
    if fitted is None:
        return None
    slope, projected = fitted
    found = breach(projected, latest, policy.tolerance)
    heading_out = found is not None and (slope < 0) == (found.side == "below") and slope != 0
    return (projected, found) if heading_out and found is not None else None
