"""How values, standards and series read in task text, evidence and the scorecard.

One place decides that a win rate reads "23%" and a pipeline "48,500", so a manager sees
the same number in the CRM task, the webhook payload and the CLI scorecard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rules.documents import ValueFormat
from rules.drift import Bounds

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARK_GAP = "·"  # a period with no measurable value


def format_value(value: float | None, fmt: ValueFormat = "number") -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if fmt == "percent":
        return f"{value * 100:.0f}%"
    if fmt == "currency":
        return f"{value:,.0f}"
    if fmt == "days":
        return f"{value:.1f} days"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def describe_bounds(bounds: Bounds | None, fmt: ValueFormat = "number") -> str:
    """``at least 8``, ``at most 7.0 days`` or ``between 2 and 5``."""
    if bounds is None:
        return "no standard (reference not measurable)"
    low, high = bounds.minimum, bounds.maximum
    if low is not None and high is not None:
        return f"between {format_value(low, fmt)} and {format_value(high, fmt)}"
    if low is not None:
        return f"at least {format_value(low, fmt)}"
    return f"at most {format_value(high, fmt)}"


def sparkline(values: Sequence[float | None]) -> str:
    """A one-line picture of a series, scaled between its own lowest and highest value."""
    known = [value for value in values if value is not None and math.isfinite(value)]
    if not known:
        return SPARK_GAP * len(values)
    low, high = min(known), max(known)
    span = high - low
    top = len(SPARK_LEVELS) - 1
    marks = []
    for value in values:
        if value is None or not math.isfinite(value):
            marks.append(SPARK_GAP)
        elif span == 0:
            marks.append(SPARK_LEVELS[top // 2])
        else:
            marks.append(SPARK_LEVELS[round((value - low) / span * top)])
    return "".join(marks)


def finite(value: float | None) -> float | None:
    """``value`` when it is a real number, else None (JSON has no NaN or infinity)."""
    return value if value is not None and math.isfinite(value) else None


# ------------------------------------------------------------------ backtest scores


def share_text(value: float | None) -> str:
    """A share as a whole percentage; "-" when there is nothing to divide by."""
    return "-" if value is None else f"{value:.0%}"


def days_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def correlation_text(value: float | None) -> str:
    """Pearson's r with its sign; "-" when too few points or no spread."""
    return "-" if value is None else f"{value:+.2f}"
