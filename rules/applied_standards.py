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
from rules.standards import Basis, Ramp, Standard

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
    #: The own baseline is the one a live finding opened against (not the trailing mean).
    anchored: bool = False
    #: A seasonal own baseline: the team median this period over its baseline mean.
    season: float | None = None
    stage_median: float | None = None
    stage: str | None = None
    win_rate: float | None = None


@dataclass(frozen=True, slots=True)
class AppliedStandard:
    """The numbers one period is held to, and what is needed to say how they came about.

    The plain-language derivation is built on demand: an evaluation applies standards to
    every subject and period (tens of thousands of deal periods), and only the few that
    drift ever show theirs.
    """

    bounds: Bounds
    basis: Basis
    origin: str
    chosen: ChosenStandard
    references: References
    fmt: ValueFormat
    ramp_factor: float | None = None
    #: While a finding lives (anchored references) and the standard sets ``recover``: the
    #: line a value must be back inside to count towards resolving it.
    recovery: Bounds | None = None

    @property
    def derivation(self) -> str:
        how = _words(self.chosen.standard, self.references)
        text = f"{describe_bounds(self.bounds, self.fmt)}: {how} ({self.origin})"
        if self.ramp_factor is not None:
            text += f"; ramp: held to {self.ramp_factor:.0%} of the standard while new"
        if self.recovery is not None:
            text += f"; resolves when back to {describe_bounds(self.recovery, self.fmt)}"
        return text


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
    factor = _reference(standard, references)
    if factor is None:
        return None
    low = None if standard.min is None else _combine(standard, standard.min, factor)
    high = None if standard.max is None else _combine(standard, standard.max, factor)
    recovery = None
    if references.anchored and standard.recover is not None:
        line = standard.recover * factor
        recovery = Bounds(line, None) if standard.min is not None else Bounds(None, line)
    if ramp_factor is not None:
        low = None if low is None else low * ramp_factor
        high = None if high is None else high / ramp_factor
        recovery = None if recovery is None else _ramped(recovery, ramp_factor)
    bounds = Bounds(low, high)
    return AppliedStandard(
        bounds, standard.basis, chosen.origin, chosen, references, fmt, ramp_factor, recovery
    )


def _ramped(bounds: Bounds, factor: float) -> Bounds:
    low = None if bounds.minimum is None else bounds.minimum * factor
    return Bounds(low, None if bounds.maximum is None else bounds.maximum / factor)


def _combine(standard: Standard, k: float, reference: float) -> float:
    if standard.basis is Basis.INVERSE_WIN_RATE:
        return k / reference
    return k * reference


def _reference(standard: Standard, refs: References) -> float | None:
    """The value a relative basis multiplies (1 for an absolute standard); None when it
    cannot be measured this period."""
    if standard.basis is Basis.ABSOLUTE:
        return 1.0
    if standard.basis is Basis.TEAM_MEDIAN:
        return refs.team_median
    if standard.basis is Basis.OWN_BASELINE:
        if refs.own_baseline is None or refs.season is None:
            return refs.own_baseline
        return refs.own_baseline * refs.season
    if standard.basis is Basis.STAGE_MEDIAN:
        return refs.stage_median
    ref = refs.win_rate
    return None if ref is None or ref <= 0 else ref


def _words(standard: Standard, refs: References) -> str:
    """How the reference came about, in words (for a standard that could be applied)."""
    k = _multipliers(standard)
    if standard.basis is Basis.ABSOLUTE:
        return "absolute standard"
    if standard.basis is Basis.TEAM_MEDIAN:
        return f"{k} x median of {refs.team_label} {_n(refs.team_median)}"
    if standard.basis is Basis.OWN_BASELINE:
        if refs.anchored:
            words = f"{k} x own level before the drift began {_n(refs.own_baseline)}"
        else:
            periods = standard.baseline_periods
            words = f"{k} x own median of the {periods} periods before the window"
            words += f" {_n(refs.own_baseline)}"
        if refs.season is not None:
            words += f" x {format_value(refs.season)} for the {refs.team_label}'s period"
        return words
    if standard.basis is Basis.STAGE_MEDIAN:
        words = f"{k} x historical median days in stage {refs.stage or '?'}"
        return f"{words} {_n(refs.stage_median)}"
    return f"{k} / trailing win rate {format_value(refs.win_rate, 'percent')}"


def _multipliers(standard: Standard) -> str:
    ks = [format_value(k) for k in (standard.min, standard.max) if k is not None]
    return "/".join(ks)


def _n(value: float | None) -> str:
    return f"({format_value(value)})"


def ramp_factor(ramp: Ramp | None, rep: RepProfile, day: date) -> float | None:
    """The ramp factor when ``day`` falls in the rep's first ``ramp.days`` days."""
    if ramp is None or rep.started_on is None:
        return None
    tenure = (day - rep.started_on).days
    return ramp.factor if 0 <= tenure < ramp.days else None


def own_baseline(values: Sequence[float | None], periods: int) -> float | None:
    """Median of the measured values among the last ``periods`` before the window: a
    week of leave or a holiday among them does not lower the rep's usual level."""
    recent = [value for value in values[-periods:] if value is not None] if periods else []
    return median(recent) if recent else None


def season(medians: Sequence[float | None], index: int, periods: int, lead: int) -> float | None:
    """The team median of period ``index`` over its mean in the ``periods`` periods before
    the window (which starts at ``lead``); None when either is unknown or the mean is 0."""
    base = [m for m in medians[max(0, lead - periods) : lead] if m is not None]
    now = medians[index]
    if not base or now is None or fmean(base) <= 0:
        return None
    return now / fmean(base)


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
        self._found: dict[tuple[str | None, int], tuple[float | None, str]] = {}

    def for_rep(self, rep: RepProfile, index: int) -> tuple[float | None, str]:
        """(median, which group it is the median of) for ``rep`` in period ``index``;
        worked out once per team and period (a deal rule asks once per deal)."""
        key = (rep.team, index)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._median(rep.team, index)
        return found

    def _median(self, team: str | None, index: int) -> tuple[float | None, str]:
        team_values = self._groups.get(team, {}).get(index, []) if team else []
        if len(team_values) >= MIN_TEAM_SIZE:
            return median(team_values), f"team {team}"
        everyone = self._groups.get(None, {}).get(index, [])
        return (median(everyone) if everyone else None), "all reps"
