"""The standard a rep (or a rep's deal) is held to in one period, and how it was derived.

Resolution order: pick the standard (the rep's own override beats their role's, which beats
their team's, which beats the rule's), turn a relative basis into numbers with this
period's reference (team median, own baseline, stage median, trailing win rate), then
apply the ramp for new reps. Every step adds to a plain-language derivation, because a
rep told "you are below standard" will ask "says who?".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import fmean, median

from rules.documents import RuleDocument, ValueFormat
from rules.drift import Bounds
from rules.formatting import describe_bounds, format_value
from rules.metrics import RepProfile
from rules.policies import Basis, Ramp, Standard

#: Fewest measured reps a team needs for its own median; smaller teams use everyone's.
MIN_TEAM_SIZE = 3


@dataclass(frozen=True, slots=True)
class ChosenStandard:
    """The standard that applies to a rep, and where it came from (rule or override)."""

    standard: Standard
    origin: str


@dataclass(frozen=True, slots=True)
class References:
    """What relative bases are relative to, for one subject and period."""

    team_median: float | None = None
    team_label: str = "all reps"
    own_baseline: float | None = None
    stage_median: float | None = None
    stage: str | None = None
    win_rate: float | None = None


@dataclass(frozen=True, slots=True)
class AppliedStandard:
    bounds: Bounds
    basis: Basis
    origin: str
    derivation: str


def choose_standard(document: RuleDocument, rep: RepProfile) -> ChosenStandard | None:
    """The standard for ``rep``; None when an override switches the rule off for them."""
    overrides = document.overrides
    candidates = (
        (overrides.reps.get(rep.crm_id), f"override for rep {rep.name}"),
        (overrides.roles.get(rep.role) if rep.role else None, f"override for role {rep.role}"),
        (overrides.teams.get(rep.team) if rep.team else None, f"override for team {rep.team}"),
    )
    for override, origin in candidates:
        if override is None:
            continue
        if override.standard is None:
            return None
        return ChosenStandard(override.standard, origin)
    return ChosenStandard(document.standard, "rule standard")


def apply_standard(
    chosen: ChosenStandard,
    references: References,
    fmt: ValueFormat,
    ramp_factor: float | None = None,
) -> AppliedStandard | None:
    """Numbers for one period; None when the reference cannot be measured this period."""
    standard = chosen.standard
    scale = _scale(standard, references)
    if scale is None:
        return None
    factor, how = scale
    low = None if standard.min is None else _combine(standard, standard.min, factor)
    high = None if standard.max is None else _combine(standard, standard.max, factor)
    if ramp_factor is not None:
        low = None if low is None else low * ramp_factor
        high = None if high is None else high / ramp_factor
    bounds = Bounds(low, high)
    derivation = f"{describe_bounds(bounds, fmt)}: {how} ({chosen.origin})"
    if ramp_factor is not None:
        derivation += f"; ramp: held to {ramp_factor:.0%} of the standard while new"
    return AppliedStandard(bounds, standard.basis, chosen.origin, derivation)


def _combine(standard: Standard, k: float, reference: float) -> float:
    if standard.basis is Basis.INVERSE_WIN_RATE:
        return k / reference
    return k * reference


def _scale(standard: Standard, refs: References) -> tuple[float, str] | None:
    """The reference value a relative basis multiplies, and the words for it."""
    k = _multipliers(standard)
    if standard.basis is Basis.ABSOLUTE:
        return 1.0, "absolute standard"
    if standard.basis is Basis.TEAM_MEDIAN:
        ref = refs.team_median
        return None if ref is None else (ref, f"{k} x median of {refs.team_label} {_n(ref)}")
    if standard.basis is Basis.OWN_BASELINE:
        ref = refs.own_baseline
        periods = standard.baseline_periods
        words = f"{k} x own mean of the {periods} periods before the window"
        return None if ref is None else (ref, f"{words} {_n(ref)}")
    if standard.basis is Basis.STAGE_MEDIAN:
        ref = refs.stage_median
        words = f"{k} x historical median days in stage {refs.stage or '?'}"
        return None if ref is None else (ref, f"{words} {_n(ref)}")
    ref = refs.win_rate
    if ref is None or ref <= 0:
        return None
    return ref, f"{k} / trailing win rate {format_value(ref, 'percent')}"


def _multipliers(standard: Standard) -> str:
    ks = [format_value(k) for k in (standard.min, standard.max) if k is not None]
    return "/".join(ks)


def _n(value: float) -> str:
    return f"({format_value(value)})"


def ramp_factor(ramp: Ramp | None, rep: RepProfile, day: date) -> float | None:
    """The ramp factor when ``day`` falls in the rep's first ``ramp.days`` days."""
    if ramp is None or rep.started_on is None:
        return None
    tenure = (day - rep.started_on).days
    return ramp.factor if 0 <= tenure < ramp.days else None


def own_baseline(values: Sequence[float | None], periods: int) -> float | None:
    """Mean of the measured values among the last ``periods`` before the window."""
    recent = [value for value in values[-periods:] if value is not None] if periods else []
    return fmean(recent) if recent else None


class TeamMedians:
    """Per team and period, the median value of the team's reps (everyone's as fallback).

    A rep without a team, or in a team with fewer than :data:`MIN_TEAM_SIZE` measured reps
    that period, is compared with the median of all reps on the roster.
    """

    def __init__(
        self,
        values: Iterable[tuple[str, Sequence[float | None]]],
        reps: Mapping[str, RepProfile],
    ) -> None:
        """``values``: (rep CRM id, series) pairs; a rep's deals each give one pair."""
        by_team: dict[str | None, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for crm_id, series in values:
            team = reps[crm_id].team if crm_id in reps else None
            for index, value in enumerate(series):
                if value is None:
                    continue
                by_team[None][index].append(value)
                if team is not None:
                    by_team[team][index].append(value)
        self._groups = by_team

    def for_rep(self, rep: RepProfile, index: int) -> tuple[float | None, str]:
        """(median, which group it is the median of) for ``rep`` in period ``index``."""
        team_values = self._groups.get(rep.team, {}).get(index, []) if rep.team else []
        if len(team_values) >= MIN_TEAM_SIZE:
            return median(team_values), f"team {rep.team}"
        everyone = self._groups.get(None, {}).get(index, [])
        return (median(everyone) if everyone else None), "all reps"
