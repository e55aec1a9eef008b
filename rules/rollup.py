"""Deal rules judged per rep: how many of the rep's deals are outside the standard, held
against how many the rep's team usually has, or the rep themselves had before.

Every open deal ages, and in a CRM where reps log sparingly most reps have a few deals
that look idle. A finding per deal buries a manager and tells nothing about the rep; a
finding per rep that stands out is something to act on. So a rule with a ``rollup``
judges each deal as before, then counts per rep and period the deals outside the
standard, and holds the count to at most ``team_factor`` x the team's median count (or,
with ``own_periods``, ``own_factor`` x the rep's own median count before the window,
when that is lower), flagging only from ``min_deals`` deals. The count drifts, resolves and
escalates under the rule's own drift policy; the finding names the deals with the most
open pipeline, and its task goes to the rep who owns them (hygiene, see
:mod:`rules.coaching`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from rules.applied_standards import AppliedStandard, ChosenStandard, References, TeamMedians
from rules.assessment import Assessment, PeriodPoint, RuleAssessment
from rules.documents import VersionedRule
from rules.drift import Bounds, judge
from rules.metrics import Observation, RepProfile, SubjectKey
from rules.periods import period_label
from rules.standards import Basis, Rollup, Standard

TOP_DEALS = 5


def roll_up(judged: RuleAssessment, reps: Mapping[str, RepProfile]) -> RuleAssessment:
    """``judged`` (a deal rule's per-deal assessment) as one assessment per rep."""
    rollup = judged.rule.document.rollup
    if rollup is None:
        raise ValueError(f"rule {judged.rule.key} has no rollup")
    rule = _counting(judged.rule)
    periods = judged.periods.window
    by_rep: dict[str, list[Assessment]] = defaultdict(list)
    for assessment in judged.assessments:
        by_rep[assessment.rep.crm_id].append(assessment)
    counted = {
        crm_id: _outside(by_rep.get(crm_id, []), len(periods))
        for crm_id in reps
        if crm_id not in judged.disabled_reps
    }
    medians = TeamMedians(
        ((crm_id, [float(len(deals)) for deals in per_period]) for crm_id, per_period in
         counted.items()), reps,
    )  # fmt: skip
    origin = f"rule roll-up, from {rollup.min_deals} deals"
    limits = _Limits(
        rollup,
        ChosenStandard(Standard(basis=Basis.TEAM_MEDIAN, max=rollup.team_factor), origin),
        ChosenStandard(Standard(basis=Basis.OWN_BASELINE, max=rollup.own_factor,
                                baseline_periods=max(1, rollup.own_periods)), origin),
    )  # fmt: skip
    own = _own_medians(by_rep, rollup.own_periods)
    assessments = []
    for crm_id, per_period in sorted(counted.items()):
        rep = reps[crm_id]
        points = tuple(
            _point(limits, medians, rep, index, per_period[index], judged, own.get(crm_id))
            for index in range(len(periods))
        )
        bounds = [None if p.standard is None else p.standard.bounds for p in points]
        verdict = judge([p.value for p in points], bounds, rule.document.drift)
        assessments.append(Assessment(rule, SubjectKey(crm_id), rep, points, verdict))
    return RuleAssessment(rule, judged.periods, tuple(assessments), judged.disabled_reps)


def _counting(rule: VersionedRule) -> VersionedRule:
    """The rule as its rolled-up findings show it: values are counts of deals."""
    return VersionedRule(rule.document.model_copy(update={"value_format": "number"}), rule.version)


Outside = list[tuple[float, str]]  # (open amount, deal CRM id) of each deal outside


def _outside(deals: Sequence[Assessment], period_count: int) -> list[Outside]:
    """Per window period, the deals outside the standard then, most open pipeline first."""
    found: list[Outside] = [[] for _ in range(period_count)]
    for deal in deals:
        for index, breach in enumerate(deal.verdict.breaches):
            if breach is None or deal.subject.deal_crm_id is None:
                continue
            observation = deal.points[index].observation
            amount = 0.0 if observation is None else observation.parts.get("amount") or 0.0
            found[index].append((amount, deal.subject.deal_crm_id))
    for deals_then in found:
        deals_then.sort(key=lambda item: (-item[0], item[1]))
    return found


@dataclass(frozen=True, slots=True)
class _Limits:
    """A roll-up's two comparisons, as standards: the team's and the rep's own."""

    rollup: Rollup
    team: ChosenStandard
    own: ChosenStandard

    def applied(
        self, median: float | None, label: str, own_median: float | None
    ) -> AppliedStandard:
        """The lower of the two limits (a rep stands out against either), never below
        ``min_deals - 1``."""
        floor = float(self.rollup.min_deals - 1)
        team = None if median is None else self.rollup.team_factor * median
        own = None if own_median is None else self.rollup.own_factor * own_median
        if own is not None and (team is None or own < team):
            references = References(own_baseline=own_median, team_median=median, team_label=label)
            return _standard(self.own, max(floor, own), references)
        references = References(team_median=median, team_label=label)
        return _standard(self.team, floor if team is None else max(floor, team), references)


def _standard(chosen: ChosenStandard, limit: float, references: References) -> AppliedStandard:
    basis = chosen.standard.basis
    return AppliedStandard(Bounds(None, limit), basis, chosen.origin, chosen, references, "number")


def _own_medians(by_rep: Mapping[str, list[Assessment]], periods: int) -> dict[str, float]:
    """Per rep, the median count of deals outside the standard over the ``periods``
    periods before the window (none without own history)."""
    if not periods:
        return {}
    found = {}
    for crm_id, deals in by_rep.items():
        counts = [sum(1 for deal in deals if deal.earlier[i]) for i in range(periods)]
        found[crm_id] = float(median(counts))
    return found


def _point(  # noqa: PLR0917 - the pieces of one period's point
    limits: _Limits,
    medians: TeamMedians,
    rep: RepProfile,
    index: int,
    outside: Outside,
    judged: RuleAssessment,
    own_median: float | None,
) -> PeriodPoint:
    """Window period ``index``: the count of deals outside, against the team's median or
    the rep's own."""
    lead = len(judged.periods.lead)
    team_median, label = medians.for_rep(rep, index)
    standard = limits.applied(team_median, label, own_median)
    count = float(len(outside))
    observation = Observation(
        count,
        sample=len(outside),
        parts={"amount": sum(amount for amount, _ in outside)},
        deals=tuple(deal for _, deal in outside[:TOP_DEALS]),
    )
    window_period = judged.periods.all[lead + index]
    return PeriodPoint(
        window_period,
        period_label(window_period, judged.periods.unit),
        count,
        standard,
        team_median,
        observation,
    )
