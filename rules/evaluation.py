"""The pure orchestrator: rules + metric source + live findings + history -> a plan.

:func:`evaluate` reads through the :class:`~rules.metrics.MetricSource` port (one
``measure`` per distinct metric and period list, plus the win rate a coverage standard
needs and, for evidence, the quota pace), judges every rule, decides, and returns a
:class:`Plan` of intents. It writes nothing: the service persists findings, queues tasks
and alerts, and records the history the next evaluation reads. The same inputs give the
same plan; with the previous plan applied, evaluating again at the same moment gives only
:class:`~rules.intents.KeepFinding` intents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from rules.assessment import Assessment, RuleAssessment, assess_rule
from rules.cadence import Budgets, CoachingHistory
from rules.coaching import CoachingCandidate, CoachingContext, plan_coaching, plan_revisions
from rules.decisions import decide_rule, resolve_rule
from rules.documents import Level, VersionedRule
from rules.evidence import (
    EvidenceContext,
    complete_evidence,
    deals_involved,
    evidence_body,
    indicator_context,
    quota_gaps,
)
from rules.intents import (
    Alert,
    CloseCoachingTask,
    CreateCoachingTask,
    DeferredTask,
    EscalateFinding,
    Evidence,
    Intent,
    KeepFinding,
    LiveFinding,
    OpenFinding,
    ResolveFinding,
    ReviseCoachingTask,
)
from rules.metrics import (
    ActiveDays,
    MetricSeries,
    MetricSource,
    MetricSpec,
    PipelineCoverage,
    QuotaPace,
    RepProfile,
    SubjectKey,
    WinRate,
)
from rules.periods import Period, PeriodUnit, periods_to_date
from rules.rollup import roll_up
from rules.scorecard import Scorecard, build_scorecard
from rules.series import RulePeriods, roster, rule_periods

__all__ = [
    "Alert",
    "CloseCoachingTask",
    "CoachingHistory",
    "CreateCoachingTask",
    "DeferredTask",
    "EscalateFinding",
    "EvaluationSettings",
    "KeepFinding",
    "LiveFinding",
    "OpenFinding",
    "Plan",
    "ResolveFinding",
    "ReviseCoachingTask",
    "VersionedRule",
    "evaluate",
    "measurements_needed",
]

IntentT = TypeVar("IntentT")


@dataclass(frozen=True, slots=True)
class EvaluationSettings:
    """Knobs that are not part of any one rule.

    ``weekly_task_budget``: new coaching tasks per manager per week (``manager_budgets``
    overrides it per manager CRM id); ``hygiene_task_budget``: new deal-hygiene tasks per
    rep per week. ``include_managers``: judge people who manage others as reps too.
    ``quota_evidence``: measure quota pace for the evidence's quota gap when no rule
    measures it already. ``crm_alert_severity``/``crm_alerts_per_day``: a task at that
    severity or above also alerts its assignee in the CRM, at most so many times a day
    per recipient (the store applies them: it counts the alerts already sent).
    """

    weekly_task_budget: int = 3
    manager_budgets: Mapping[str, int] = field(default_factory=dict)
    hygiene_task_budget: int = 2
    include_managers: bool = False
    quota_evidence: bool = True
    crm_alert_severity: str = "high"
    crm_alerts_per_day: int = 3


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: intents in a stable order, tasks held back by budgets, and the scorecard."""

    as_of: datetime
    intents: tuple[Intent, ...]
    deferred: tuple[DeferredTask, ...]
    scorecard: Scorecard

    def of_type(self, kind: type[IntentT]) -> tuple[IntentT, ...]:
        return tuple(intent for intent in self.intents if isinstance(intent, kind))


class _Measurements:
    """Each (metric, periods) is measured once per evaluation, however many rules use it."""

    def __init__(self, source: MetricSource) -> None:
        self._source = source
        self._cache: dict[tuple[MetricSpec, tuple[Period, ...]], MetricSeries] = {}

    def get(self, metric: MetricSpec, periods: tuple[Period, ...]) -> MetricSeries:
        key = (metric, periods)
        if key not in self._cache:
            self._cache[key] = self._source.measure(metric, periods)
        return self._cache[key]

    def latest_of(self, kind: type[QuotaPace | PipelineCoverage]) -> MetricSeries | None:
        found = [series for (metric, _), series in self._cache.items() if isinstance(metric, kind)]
        return found[-1] if found else None


def evaluate(
    rules: Sequence[VersionedRule],
    source: MetricSource,
    live: Sequence[LiveFinding],
    history: CoachingHistory,
    as_of: datetime,
    *,
    settings: EvaluationSettings | None = None,
) -> Plan:
    """Judge ``rules`` as of ``as_of`` (timezone-aware) and return the plan.

    Pass disabled rules too: their live findings resolve. Live findings of rule keys not
    in ``rules`` are left alone.
    """
    settings = settings or EvaluationSettings()
    _check_inputs(rules, as_of)
    people = {rep.crm_id: rep for rep in source.reps()}
    reps = roster(list(people.values()), settings.include_managers)
    measurements = _Measurements(source)
    live_by_rule = _live_by_rule(live)
    judged: list[RuleAssessment] = []
    resolved: list[Intent] = []
    decided: list[Intent] = []
    candidates: list[CoachingCandidate] = []
    evidence = _EvidenceBook(as_of)
    for rule in rules:
        if not rule.document.enabled:
            findings = list(live_by_rule.get(rule.key, {}).values())
            resolved.extend(resolve_rule(rule, findings, "rule disabled", as_of))
            continue
        # Decided as soon as judged: with a source that reads ahead, the next rules'
        # metrics are being read meanwhile.
        found = live_by_rule.get(rule.key, {})
        rule_assessment = _assess(rule, measurements, reps, as_of, _anchors(found))
        judged.append(rule_assessment)
        decisions = decide_rule(rule_assessment, found, evidence, as_of)
        decided.extend(decisions.intents)
        candidates.extend(decisions.candidates)
    context = _evidence_context(
        evidence.assessments(), judged, measurements, source, as_of, settings=settings
    )
    evidence.complete(context)
    budgets = Budgets(
        settings.weekly_task_budget, settings.manager_budgets, settings.hygiene_task_budget
    )
    coaching = CoachingContext(as_of, people, context.deals, history, budgets)
    tasks, deferred = plan_coaching(candidates, coaching)
    escalated = {i.finding_id for i in decided if isinstance(i, EscalateFinding)}
    revisions = plan_revisions(candidates, escalated, coaching)
    intents = (*resolved, *decided, *tasks, *revisions)
    return Plan(as_of, intents, deferred, build_scorecard(judged, reps))


class _EvidenceBook:
    """Evidence per (rule, subject), built when a decision first asks for it (only
    subjects with intents pay), then completed for all at once by :meth:`complete`,
    when the deals and quota gaps are known (:func:`~rules.evidence.evidence_body`)."""

    def __init__(self, as_of: datetime) -> None:
        self._as_of = as_of
        self._built: dict[tuple[str, SubjectKey], tuple[Assessment, dict[str, Any]]] = {}

    def __call__(self, assessment: Assessment) -> Evidence:
        key = (assessment.rule.key, assessment.subject)
        if key not in self._built:
            self._built[key] = (assessment, evidence_body(assessment, self._as_of))
        return self._built[key][1]

    def assessments(self) -> list[Assessment]:
        """The subjects that got evidence: drifting, or with a live finding."""
        return [assessment for assessment, _ in self._built.values()]

    def complete(self, context: EvidenceContext) -> None:
        for assessment, evidence in self._built.values():
            complete_evidence(evidence, assessment, context)


def _check_inputs(rules: Sequence[VersionedRule], as_of: datetime) -> None:
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    keys = [rule.key for rule in rules]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"rule keys given more than once: {', '.join(duplicates)}")


def _live_by_rule(live: Iterable[LiveFinding]) -> dict[str, dict[SubjectKey, LiveFinding]]:
    grouped: dict[str, dict[SubjectKey, LiveFinding]] = defaultdict(dict)
    for finding in live:
        grouped[finding.rule_key][finding.subject] = finding
    return grouped


Measurement = tuple[MetricSpec, tuple[Period, ...]]


def measurements_needed(rules: Sequence[VersionedRule], as_of: datetime) -> tuple[Measurement, ...]:
    """The (metric, periods) reads :func:`evaluate` will ask its source for while judging
    ``rules``, in the order it asks, each once.

    A source that knows this can start its reads before they are asked for (the service's
    reads run ahead on a worker thread while the core judges the rules already read). The
    evidence may ask for one more (quota pace), and only when it needs it.
    """
    wanted = (
        measurement
        for rule in rules
        if rule.document.enabled
        for measurement in _rule_measurements(rule, rule_periods(rule.document, as_of))
    )
    return tuple(dict.fromkeys(wanted))


def evidence_measurement(as_of: datetime) -> Measurement:
    """The read the evidence makes for the quota gap when no rule measures quota pace."""
    return (QuotaPace(), periods_to_date(as_of, PeriodUnit.WEEK, 1))


def _rule_measurements(rule: VersionedRule, periods: RulePeriods) -> list[Measurement]:
    """What the rule reads (:attr:`~rules.documents.RuleDocument.reads`), over its periods."""
    return [(metric, periods.all) for metric in rule.document.reads]


def _assess(
    rule: VersionedRule,
    measurements: _Measurements,
    reps: Mapping[str, RepProfile],
    as_of: datetime,
    anchors: Mapping[SubjectKey, float],
) -> RuleAssessment:
    periods = rule_periods(rule.document, as_of)
    metric, *more = _rule_measurements(rule, periods)
    series = measurements.get(*metric)
    extra = {type(spec): measurements.get(spec, at) for spec, at in more}
    judged = assess_rule(
        rule,
        periods,
        series,
        reps,
        extra.get(WinRate),
        anchors=anchors,
        active_days=extra.get(ActiveDays),
    )
    return judged if rule.document.rollup is None else roll_up(judged, reps)


def _anchors(live: Mapping[SubjectKey, LiveFinding]) -> dict[SubjectKey, float]:
    return {key: f.baseline for key, f in live.items() if f.baseline is not None}


def _evidence_context(
    relevant: Sequence[Assessment],
    judged: Sequence[RuleAssessment],
    measurements: _Measurements,
    source: MetricSource,
    as_of: datetime,
    *,
    settings: EvaluationSettings,
) -> EvidenceContext:
    """Deal names and quota gaps, fetched once and only for subjects that get intents;
    the objectives and results every rep's activity findings are put in context of."""
    deal_ids = sorted({deal for a in relevant for deal in deals_involved(a)})
    deals = {deal.crm_id: deal for deal in source.deals(deal_ids)} if deal_ids else {}
    pace = measurements.latest_of(QuotaPace)
    if pace is None and relevant and settings.quota_evidence:
        pace = measurements.get(*evidence_measurement(as_of))
    gaps = quota_gaps(pace, measurements.latest_of(PipelineCoverage), as_of)
    active = {a.rep.crm_id for a in relevant if a.rule.document.level is Level.ACTIVITY}
    indicators = indicator_context((a for rule in judged for a in rule.assessments), active)
    return EvidenceContext(as_of, source.data_as_of(), deals, gaps, indicators)
