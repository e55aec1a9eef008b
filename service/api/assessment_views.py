"""The rules core's judgement of one connection as of a moment, for the scorecards:
read-only, nothing written, no write lock taken.

An evaluation (``service.evaluation.run.evaluate_connection``) would give the same
scorecard, but its plan keeps only the cells; a scorecard also shows how each standard
was derived and the values of past periods, which the core's assessments carry. So this
runs the same steps on the same inputs through the core's own functions (roster,
periods, :func:`~rules.assessment.assess_rule`, :func:`~rules.rollup.roll_up`,
:func:`~rules.scorecard.build_scorecard`): the sellers as of the moment, the rules the
data health lets through, the live findings' anchors. Nothing here judges anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rules.assessment import RuleAssessment, assess_rule
from rules.documents import VersionedRule
from rules.evaluation import EvaluationSettings
from rules.intents import LiveFinding
from rules.metrics import (
    ActiveDays,
    MetricSeries,
    MetricSource,
    MetricSpec,
    RepProfile,
    SubjectKey,
    WinRate,
)
from rules.periods import Period
from rules.rollup import roll_up
from rules.scorecard import Scorecard, build_scorecard
from rules.series import roster, rule_periods
from service.evaluation.data_health import held_back, missing_data
from service.evaluation.run import SellersOnly, sellers, stored_rules
from service.store.findings import live_findings_at
from service.store.sql_metric_source import SqlMetricSource


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the core made of a connection as of ``as_of``.

    ``judged``: per enabled rule not held back, its assessment (deal rules with a roll-up
    already rolled up per rep, as the core judges them); ``history``: for rules whose
    window is shorter than the periods asked for, the same rule judged over a window that
    long (only its earlier periods are shown); ``held``: rules not judged, with why.
    """

    as_of: datetime
    rules: tuple[VersionedRule, ...]
    judged: Mapping[str, RuleAssessment]
    history: Mapping[str, RuleAssessment]
    held: Mapping[str, str]
    invalid: tuple[str, ...]
    scorecard: Scorecard
    live: tuple[LiveFinding, ...]
    people: Mapping[str, RepProfile] = field(default_factory=dict)


def judge_connection(
    session: Session,
    connection_id: int,
    as_of: datetime,
    periods: int,
    *,
    settings: EvaluationSettings | None = None,
    max_data_age: timedelta | None = None,
) -> Judgement:
    """Judge every enabled rule for ``connection_id`` as of ``as_of`` (aware)."""
    settings = settings or EvaluationSettings()
    loaded, invalid = stored_rules(session, enabled_only=True)
    rules = [rule for rule in loaded if rule.document.enabled]
    held = held_back(rules, missing_data(session, connection_id, as_of, max_data_age))
    live = live_findings_at(session, connection_id, as_of)
    seller_ids = sellers(session, connection_id, as_of=as_of)
    store_source = SqlMetricSource(session, connection_id, as_of=as_of)
    source = _Measured(SellersOnly(store_source, seller_ids))
    people = {rep.crm_id: rep for rep in source.reps()}
    reps = roster(list(people.values()), settings.include_managers)
    judged: dict[str, RuleAssessment] = {}
    history: dict[str, RuleAssessment] = {}
    for rule in rules:
        if rule.key in held:
            continue
        anchors = {
            f.subject: f.baseline for f in live if f.rule_key == rule.key and f.baseline is not None
        }
        judged[rule.key] = _assess(rule, source, reps, as_of, anchors)
        if rule.document.window < periods:
            widened = VersionedRule(
                rule.document.model_copy(update={"window": periods}), rule.version
            )
            history[rule.key] = _assess(widened, source, reps, as_of, anchors)
    store_source.close()  # the temporary tables it made; not after a failure (rolled back)
    scorecard = build_scorecard(list(judged.values()), reps)
    return Judgement(as_of, tuple(rules), judged, history, held, invalid, scorecard, tuple(live),
                     people)  # fmt: skip


def _assess(
    rule: VersionedRule,
    source: _Measured,
    reps: Mapping[str, RepProfile],
    as_of: datetime,
    anchors: Mapping[SubjectKey, float],
) -> RuleAssessment:
    """The core's steps for one rule, as :func:`rules.evaluation.evaluate` takes them:
    its periods, every metric it reads over them, the assessment, the roll-up."""
    periods = rule_periods(rule.document, as_of)
    metric, *more = rule.document.reads
    series = source.measure(metric, periods.all)
    extra = {type(spec): source.measure(spec, periods.all) for spec in more}
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


class _Measured:
    """The source, each (metric, periods) measured once however many rules read it."""

    def __init__(self, source: MetricSource) -> None:
        self._source = source
        self._cache: dict[tuple[MetricSpec, tuple[Period, ...]], MetricSeries] = {}

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        key = (metric, tuple(periods))
        if key not in self._cache:
            self._cache[key] = self._source.measure(metric, periods)
        return self._cache[key]

    def reps(self) -> Sequence[RepProfile]:
        return self._source.reps()
