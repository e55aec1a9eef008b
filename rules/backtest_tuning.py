"""Threshold suggestions: the standard and drift policy that would have warned best.

For one rule, a grid of variants: its standard made stricter or looser (a minimum times
``s``, a maximum divided by ``s``, for ``s`` from 0.7 to 1.3; with a relative basis the
multipliers scale the same way) crossed with drift policies of ``k`` breaching periods
among the last ``n`` (k >= 2, as every rule: one bad period never opens a finding). Each
variant is replayed like the rule itself and scored alone. The suggestion is the
variant with the best recall of the misses whose **false-alarm rate** (flagged
rep-periods that ended well, over all that ended well) stays within the budget; ties go
to fewer false alarms, then to the variant closest to the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rules.backtest_scoring import Score
from rules.documents import VersionedRule

STRICTNESS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
DRIFTS = ((2, 2), (2, 3), (3, 3), (2, 4), (3, 4), (4, 4))


@dataclass(frozen=True, slots=True)
class Variant:
    """One candidate: the rule with its standard scaled by ``strictness`` and drift k of n."""

    strictness: float
    k: int
    n: int
    rule: VersionedRule

    @property
    def label(self) -> str:
        return f"standard x{self.strictness:.1f}, drift {self.k} of {self.n}"


def variants(rule: VersionedRule) -> list[Variant]:
    """The grid for ``rule`` (the current policy included), drift limited to its window."""
    document = rule.document
    found: list[Variant] = []
    current = (document.drift.k, document.drift.n)
    for strictness in STRICTNESS:
        for k, n in dict.fromkeys((current, *DRIFTS)):
            if n > document.window:
                continue
            low, high = document.standard.min, document.standard.max
            low = None if low is None else low * strictness
            high = None if high is None else high / strictness
            if low is not None and high is not None and low > high:
                continue  # the band closed: no rep could meet it
            standard = document.standard.model_copy(update={"min": low, "max": high})
            drift = document.drift.model_copy(update={"k": k, "n": n})
            changed = document.model_copy(update={"standard": standard, "drift": drift})
            found.append(Variant(strictness, k, n, VersionedRule(changed, rule.version)))
    return found


@dataclass(frozen=True, slots=True)
class Scored:
    variant: Variant
    score: Score
    false_alarm_rate: float | None


@dataclass(frozen=True, slots=True)
class Suggestion:
    rule_key: str
    budget: float
    current: Scored
    best: Scored | None
    """None when no variant stays within the false-alarm budget."""
    tried: int


def false_alarm_rate(score: Score) -> float | None:
    well = score.rep_periods - score.misses
    return (score.flagged - score.flagged_misses) / well if well else None


def suggest(
    rule: VersionedRule,
    scored: Sequence[tuple[Variant, Score]],
    *,
    budget: float,
) -> Suggestion:
    """The best variant within ``budget`` false alarms, beside the current policy."""
    if not 0 <= budget <= 1:
        raise ValueError("the false-alarm budget is a share between 0 and 1")
    document = rule.document
    rated = [Scored(v, s, false_alarm_rate(s)) for v, s in scored]
    current = next(
        r for r in rated
        if r.variant.strictness == 1.0
        and (r.variant.k, r.variant.n) == (document.drift.k, document.drift.n)
    )  # fmt: skip
    allowed = [r for r in rated if r.false_alarm_rate is not None and r.false_alarm_rate <= budget]

    def rank(r: Scored) -> tuple[float, float, float, int]:
        distance = abs(r.variant.strictness - 1.0)
        same_drift = (r.variant.k, r.variant.n) == (document.drift.k, document.drift.n)
        recall = r.score.recall or 0.0
        return (-recall, r.false_alarm_rate or 0.0, distance, 0 if same_drift else 1)

    best = min(allowed, key=rank) if allowed else None
    return Suggestion(rule.key, budget, current, best, len(rated))
