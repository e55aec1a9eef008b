"""Judging one rule: every subject's window of values against its standard, period by period.

This is where series, standards and drift meet. The result, an :class:`Assessment` per
subject, is everything the decisions, evidence and scorecard need, so none of them has to
go back to the metric source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rules.applied_standards import (
    AppliedStandard,
    ChosenStandard,
    References,
    TeamMedians,
    apply_standard,
    choose_standard,
    own_baseline,
    ramp_factor,
    season,
)
from rules.documents import RuleDocument, VersionedRule
from rules.drift import Bounds, Verdict, breach, judge
from rules.metrics import MetricSeries, Observation, RepProfile, SubjectKey
from rules.periods import Period, period_label
from rules.series import RulePeriods, rule_value, subject_observations
from rules.standards import Basis


@dataclass(frozen=True, slots=True)
class PeriodPoint:
    """One period of a subject's window: its value and the standard that applied."""

    period: Period
    label: str
    value: float | None
    standard: AppliedStandard | None
    team_median: float | None
    observation: Observation | None


@dataclass(frozen=True, slots=True)
class Assessment:
    """One subject judged; ``baseline`` is the own baseline its standard used (an own-
    baseline standard only), ``anchored`` when that was a live finding's anchor;
    ``earlier``, for a roll-up with own history, whether the subject was outside the
    standard in each of the ``own_periods`` periods before the window."""

    rule: VersionedRule
    subject: SubjectKey
    rep: RepProfile
    points: tuple[PeriodPoint, ...]
    verdict: Verdict
    baseline: float | None = None
    anchored: bool = False
    earlier: tuple[bool, ...] = ()

    @property
    def latest(self) -> PeriodPoint:
        return self.points[-1]

    @property
    def observed(self) -> float | None:
        return self.latest.value

    @property
    def standard(self) -> AppliedStandard | None:
        """The standard of the latest period that had one."""
        found = (p.standard for p in reversed(self.points) if p.standard is not None)
        return next(found, None)

    @property
    def bounds(self) -> Bounds | None:
        standard = self.standard
        return None if standard is None else standard.bounds


@dataclass(frozen=True, slots=True)
class RuleAssessment:
    """A rule's verdicts; ``disabled_reps`` are reps an override switched the rule off for."""

    rule: VersionedRule
    periods: RulePeriods
    assessments: tuple[Assessment, ...]
    disabled_reps: frozenset[str]


def assess_rule(
    rule: VersionedRule,
    periods: RulePeriods,
    series: MetricSeries,
    reps: Mapping[str, RepProfile],
    win_rates: MetricSeries | None = None,
    *,
    anchors: Mapping[SubjectKey, float] | None = None,
    active_days: MetricSeries | None = None,
) -> RuleAssessment:
    """Judge every subject of ``series`` whose rep is on the roster ``reps``.

    ``anchors``: per subject with a live finding, the own baseline it opened against.
    While the finding lives, an own-baseline standard holds the subject to that level,
    not to the trailing median: a rep whose level falls would otherwise pull their own
    baseline down after them, and the finding would resolve while the drop goes on.
    ``active_days``: the rep's active days, for a rule measured per active day.
    """
    document = rule.document
    observations = subject_observations(document, series, len(periods.all), reps)
    none: tuple[None, ...] = (None,) * len(periods.all)
    values = {
        key: tuple(
            rule_value(document, o, p, a)
            for o, p, a in zip(obs, periods.all, (active_days or {}).get(key, none), strict=True)
        )
        for key, obs in sorted(observations.items(), key=lambda item: _order(item[0]))
    }
    medians = TeamMedians(((key.rep_crm_id, v) for key, v in values.items()), reps)
    labels = tuple(period_label(period, periods.unit) for period in periods.all)
    shared = _RuleShared(rule, periods, labels, medians, win_rates)
    chosen_by_rep: dict[str, ChosenStandard | None] = {}
    judged: list[Assessment] = []
    disabled: set[str] = set()
    for key, subject_values in values.items():
        rep = reps[key.rep_crm_id]
        if rep.crm_id not in chosen_by_rep:  # a deal rule has many subjects per rep
            chosen_by_rep[rep.crm_id] = choose_standard(document, rep)
        chosen = chosen_by_rep[rep.crm_id]
        if chosen is None:
            disabled.add(rep.crm_id)
            continue
        context = _Subject(shared, rep, chosen)
        anchor = None if anchors is None else anchors.get(key)
        judged.append(context.assess(key, subject_values, observations[key], anchor))
    return RuleAssessment(rule, periods, tuple(judged), frozenset(disabled))


def _order(key: SubjectKey) -> tuple[str, str]:
    return key.rep_crm_id, key.deal_crm_id or ""


class _RuleShared:
    """What is fixed for one rule while its subjects are judged.

    An absolute standard's numbers do not depend on the period or the subject, only on
    which standard applies (rule or override, told apart by its origin) and the ramp:
    they are worked out once per such pair instead of once per period of every subject
    (tens of thousands on a large org's deal rules).
    """

    __slots__ = ("absolute", "document", "labels", "medians", "periods", "rule", "win_rates")

    def __init__(
        self,
        rule: VersionedRule,
        periods: RulePeriods,
        labels: tuple[str, ...],
        medians: TeamMedians,
        win_rates: MetricSeries | None,
    ) -> None:
        self.rule, self.document, self.periods = rule, rule.document, periods
        self.labels, self.medians, self.win_rates = labels, medians, win_rates
        self.absolute: dict[tuple[str, float | None], AppliedStandard | None] = {}


@dataclass(frozen=True, slots=True)
class _Own:
    """A subject's own baseline: its value, whether a live finding anchored it, and per
    period the team's seasonal factor (seasonal standards only)."""

    baseline: float | None
    anchored: bool
    seasons: Mapping[int, float | None] | None


@dataclass(frozen=True, slots=True)
class _Subject:
    """What is fixed for one subject while its periods are judged."""

    shared: _RuleShared
    rep: RepProfile
    chosen: ChosenStandard

    def assess(
        self,
        key: SubjectKey,
        values: tuple[float | None, ...],
        observations: tuple[Observation | None, ...],
        anchor: float | None = None,
    ) -> Assessment:
        shared = self.shared
        document: RuleDocument = shared.document
        lead = len(shared.periods.lead)
        standard = self.chosen.standard
        baseline = None
        anchored = standard.basis is Basis.OWN_BASELINE and anchor is not None
        if standard.basis is Basis.OWN_BASELINE:
            baseline = (
                anchor if anchored else own_baseline(values[:lead], standard.baseline_periods)
            )
        own = _Own(baseline, anchored, self._seasons(lead) if standard.seasonal else None)
        points = tuple(
            self._point(lead + offset, period, values, observations, own)
            for offset, period in enumerate(shared.periods.window)
        )
        bounds = [None if p.standard is None else p.standard.bounds for p in points]
        recovery = [None if p.standard is None else p.standard.recovery for p in points]
        verdict = judge([p.value for p in points], bounds, document.drift, recovery)
        earlier = self._earlier(values, observations, own)
        return Assessment(shared.rule, key, self.rep, points, verdict, baseline, anchored, earlier)

    def _earlier(
        self,
        values: tuple[float | None, ...],
        observations: tuple[Observation | None, ...],
        own: _Own,
    ) -> tuple[bool, ...]:
        """Per period of a roll-up's own history, whether the value was outside then."""
        rollup, periods = self.shared.document.rollup, self.shared.periods
        if rollup is None or not rollup.own_periods:
            return ()
        lead, tolerance = len(periods.lead), self.shared.document.drift.tolerance
        found = []
        for index in range(lead - rollup.own_periods, lead):
            point = self._point(index, periods.all[index], values, observations, own)
            bounds = None if point.standard is None else point.standard.bounds
            found.append(breach(point.value, bounds, tolerance) is not None)
        return tuple(found)

    def _point(
        self,
        index: int,
        period: Period,
        values: tuple[float | None, ...],
        observations: tuple[Observation | None, ...],
        own: _Own,
    ) -> PeriodPoint:
        shared = self.shared
        observation = observations[index]
        team_median, team_label = shared.medians.for_rep(self.rep, index)
        ramp = shared.document.ramp
        factor = None
        if ramp is not None and self.rep.started_on is not None:
            factor = ramp_factor(ramp, self.rep, period.last_day)
        if self.chosen.standard.basis is Basis.ABSOLUTE:
            standard = self._absolute(factor)
        else:
            references = References(
                team_median=team_median,
                team_label=team_label,
                own_baseline=own.baseline,
                anchored=own.anchored,
                season=None if own.seasons is None else own.seasons[index],
                stage_median=None
                if observation is None
                else observation.parts.get("stage_median_days"),
                stage=None if observation is None else observation.detail,
                win_rate=self._win_rate(index),
            )
            standard = apply_standard(self.chosen, references, shared.document.value_format, factor)
        label = shared.labels[index]
        return PeriodPoint(period, label, values[index], standard, team_median, observation)

    def _seasons(self, lead: int) -> dict[int, float | None]:
        """Per window period, the team's median over its mean in the baseline periods."""
        medians = [
            self.shared.medians.for_rep(self.rep, i)[0] for i in range(len(self.shared.periods.all))
        ]
        periods = self.chosen.standard.baseline_periods
        return {i: season(medians, i, periods, lead) for i in range(lead, len(medians))}

    def _absolute(self, factor: float | None) -> AppliedStandard | None:
        """The absolute standard's numbers: they need no reference, so no period's."""
        key = (self.chosen.origin, factor)
        absolute = self.shared.absolute
        if key not in absolute:
            absolute[key] = apply_standard(
                self.chosen, References(), self.shared.document.value_format, factor
            )
        return absolute[key]

    def _win_rate(self, index: int) -> float | None:
        win_rates = self.shared.win_rates
        if win_rates is None:
            return None
        series = win_rates.get(SubjectKey(self.rep.crm_id))
        if series is None or index >= len(series):
            return None
        observation = series[index]
        return None if observation is None else observation.value
