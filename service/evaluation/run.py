"""Evaluation: run every rule for one connection as of a moment, and persist the outcome.

One transaction per evaluation: read the rules, the live findings and the coaching
history, let the pure core decide (:func:`rules.evaluation.evaluate`), then apply its
intents (findings and their transitions, queued coaching tasks, queued webhook events).
Either all of it commits or none, so a crash mid-way leaves no finding without its task.

Safe to run twice: evaluating again at the same moment changes nothing (the core is
deterministic, task and event keys are deterministic, unchanged findings are not
rewritten). Concurrent evaluations of one connection are serialised by the database
(``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so two
replicas cannot both open the same finding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.orm import Session

from rules.documents import VersionedRule, load_rule
from rules.evaluation import (
    Alert,
    CloseCoachingTask,
    CreateCoachingTask,
    EscalateFinding,
    EvaluationSettings,
    KeepFinding,
    OpenFinding,
    Plan,
    ResolveFinding,
    ReviseCoachingTask,
    evaluate,
    measurements_needed,
)
from rules.metrics import DealProfile, MetricSeries, MetricSource, MetricSpec, RepProfile
from rules.periods import Period
from rules.policies import Severity
from service.evaluation.data_health import held_back, missing_data
from service.evaluation.measure_ahead import ClosingSource, MeasuredAhead
from service.store.engine import Store
from service.store.findings import coaching_history, live_findings, reopen_lapsed_snoozes
from service.store.followups import AlertPolicy, FollowUpWriter
from service.store.plan_writer import AppliedPlan, PlanWriter
from service.store.sql_metric_source import SqlMetricSource
from service.store.stored_rules import StoredRule, current_rules
from service.store.tables import Activity, Opportunity, Rep, utcnow

logger = logging.getLogger(__name__)


class SourceFactory(Protocol):
    """Builds the metric source of one evaluation: the store's, unless a test swaps it."""

    def __call__(self, db: Session, connection_id: int, /, *, as_of: datetime) -> ClosingSource: ...


# Arbitrary, fixed: the first key of the advisory lock that serialises evaluations.
_ADVISORY_NAMESPACE = 0x64636576  # "dcev"


@dataclass(frozen=True)
class EvaluationResult:
    connection_id: int
    as_of: datetime
    plan: Plan
    applied: AppliedPlan
    dry_run: bool
    invalid_rules: tuple[str, ...] = ()
    #: Enabled rules not judged because data they read is missing, with the reason.
    held_back: Mapping[str, str] = field(default_factory=dict)
    rules_judged: int = 0

    @property
    def judged_nothing(self) -> bool:
        """Every enabled rule was held back: this run says nothing about the reps."""
        return bool(self.held_back) and self.rules_judged == 0


def evaluate_connection(
    store: Store,
    connection_id: int,
    *,
    as_of: datetime | None = None,
    dry_run: bool = False,
    settings: EvaluationSettings | None = None,
    source_factory: SourceFactory | None = None,
    read_ahead: bool = True,
    max_data_age: timedelta | None = None,
    only: VersionedRule | None = None,
) -> EvaluationResult:
    """Evaluate every rule for ``connection_id`` as of ``as_of`` (default: now).

    With ``dry_run`` the plan is computed and applied inside the transaction (so the
    report is exact), then rolled back. ``read_ahead`` runs the metric reads on a worker
    thread while the core judges (the same plan, sooner); off, they run in turn.
    Rules that read a stream whose last sync failed, or older than ``max_data_age``,
    are held back (:mod:`service.evaluation.data_health`). ``only`` judges that rule
    alone, in place of the stored ones (a rule's preview, a draft document included):
    other rules' live findings are left alone, and its tasks meet no other rule's in
    the budgets.
    """
    moment = as_of or utcnow()
    if moment.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    factory: SourceFactory = source_factory or SqlMetricSource
    try:
        with store.unit_of_work() as session:
            _serialise(session, connection_id)
            without_jit(session)
            stored, invalid = (
                ([only], ()) if only is not None else stored_rules(session, enabled_only=False)
            )
            missing = missing_data(session, connection_id, moment, max_data_age)
            held = held_back(stored, missing)
            rules = [rule for rule in stored if rule.key not in held]
            judged = sum(1 for rule in rules if rule.document.enabled)
            reopen_lapsed_snoozes(session, connection_id, moment)  # coached again
            live = live_findings(session, connection_id)
            history = coaching_history(session, connection_id, moment)
            seller_ids = sellers(session, connection_id, as_of=moment)  # before the reads
            source_then = factory(session, connection_id, as_of=moment)
            with _reading(source_then, rules, moment, read_ahead) as source:
                sellers_then = SellersOnly(source, seller_ids)
                plan = evaluate(rules, sellers_then, live, history, moment, settings=settings)
            alerts = (
                AlertPolicy(Severity(settings.crm_alert_severity), settings.crm_alerts_per_day)
                if settings
                else None
            )
            applied = apply_plan(session, connection_id, plan, alerts)
            result = EvaluationResult(
                connection_id, moment, plan, applied, dry_run, invalid, held, judged
            )
            if dry_run:
                raise _DryRun(result)
    except _DryRun as rolled_back:
        return rolled_back.result
    return result


@contextmanager
def source_as_of(session: Session, connection_id: int, moment: datetime) -> Iterator[MetricSource]:
    """The source an evaluation as of ``moment`` judges on: the store as known then, its
    roster cut to the sellers of then. Closed on leaving (not after a failure: the
    rollback undoes what it made)."""
    seller_ids = sellers(session, connection_id, as_of=moment)
    source = SqlMetricSource(session, connection_id, as_of=moment)
    yield SellersOnly(source, seller_ids)
    source.close()


@contextmanager
def _reading(
    source: ClosingSource, rules: Sequence[VersionedRule], moment: datetime, read_ahead: bool
) -> Iterator[MetricSource]:
    """The source for the core, closed before the session is used again.

    With ``read_ahead`` its reads run on a worker thread ahead of the core
    (:mod:`service.evaluation.measure_ahead`); the session is the worker's alone until it stops.
    """
    if read_ahead:
        with MeasuredAhead(source, measurements_needed(rules, moment)) as ahead:
            yield ahead
        return
    yield source
    source.close()  # not after a failure: the rollback undoes what the source made


class _DryRun(Exception):  # noqa: N818 - control flow: leave the unit of work by rollback
    def __init__(self, result: EvaluationResult) -> None:
        super().__init__("dry run")
        self.result = result


def apply_plan(
    session: Session, connection_id: int, plan: Plan, alerts: AlertPolicy | None = None
) -> AppliedPlan:
    """Write the plan's intents; findings first, so tasks and events can name them, then
    the tasks, and their follow-ups last (they name the tasks)."""
    writer = PlanWriter(session, connection_id, plan.as_of)
    writer.load_subjects(
        intent.subject
        for intent in plan.intents
        if isinstance(intent, OpenFinding | KeepFinding | EscalateFinding | ResolveFinding)
    )
    writer.load_findings(
        intent.finding_id
        for intent in plan.intents
        if isinstance(intent, KeepFinding | EscalateFinding | ResolveFinding)
    )
    for intent in plan.intents:
        if isinstance(intent, OpenFinding):
            writer.open(intent)
        elif isinstance(intent, KeepFinding | EscalateFinding):
            writer.keep(intent)
        elif isinstance(intent, ResolveFinding):
            writer.resolve(intent)
    writer.write_findings()
    followups = FollowUpWriter(session, connection_id, plan.as_of, alerts or AlertPolicy())
    for intent in plan.intents:
        if isinstance(intent, CreateCoachingTask):
            writer.queue_task(intent)
        elif isinstance(intent, Alert):
            writer.queue_alert(intent)
        elif isinstance(intent, ReviseCoachingTask):
            followups.revise(intent)
        elif isinstance(intent, CloseCoachingTask):
            followups.close(intent)
    writer.write_outboxes()
    new_tasks = [task.key for task in plan.of_type(CreateCoachingTask)]
    writer.applied.followups = followups.write(new_tasks)
    session.flush()
    return writer.applied


def alert_policy(settings: EvaluationSettings | None) -> AlertPolicy:
    if settings is None:
        return AlertPolicy()
    return AlertPolicy(Severity(settings.crm_alert_severity), settings.crm_alerts_per_day)


class SellersOnly:
    """The metric source with its roster cut to sellers: users who own deals or activities.

    A CRM's user list also holds integration users, admins and support staff; judging them
    on calls and pipeline would open findings nobody can act on. Everything else passes
    through unchanged.
    """

    def __init__(self, source: MetricSource, seller_ids: set[str]) -> None:
        self._source, self._sellers = source, seller_ids

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        return self._source.measure(metric, periods)

    def reps(self) -> Sequence[RepProfile]:
        return [rep for rep in self._source.reps() if rep.crm_id in self._sellers]

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        return self._source.deals(crm_ids)

    def data_as_of(self) -> datetime | None:
        return self._source.data_as_of()


def sellers(session: Session, connection_id: int, *, as_of: datetime | None = None) -> set[str]:
    """CRM ids of users who own at least one deal or logged at least one activity (by
    ``as_of``: a deal created or an activity done by then).

    Asked per user (a few hundred index probes), not as the distinct owners of every
    deal and activity, which would read the whole activity table.
    """
    o, a = Opportunity, Activity
    deal_then = [] if as_of is None else [
        or_(o.created_in_crm_at.is_(None), o.created_in_crm_at <= as_of)
    ]  # fmt: skip
    act_then = [] if as_of is None else [a.occurred_at <= as_of]
    owns = (
        exists()
        .where(o.connection_id == connection_id, o.owner_crm_id == Rep.crm_id, *deal_then)
        .correlate(Rep)
    )
    acts = (
        exists()
        .where(a.connection_id == connection_id, a.rep_crm_id == Rep.crm_id, *act_then)
        .correlate(Rep)
    )
    query = select(Rep.crm_id).where(Rep.connection_id == connection_id, or_(owns, acts))
    return {str(crm_id) for crm_id in session.scalars(query)}


def _serialise(session: Session, connection_id: int) -> None:
    """Take the database's lock for this connection's evaluation before reading anything."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE, connection_id)))
    else:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def without_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation in this transaction.

    The metric statements are short analytical queries, each run once: compiling them
    (about 0.15 s a statement) costs more than it saves. Measured on the benchmark org
    (250k activities): an evaluation takes 1.45x as long with JIT on."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def stored_rules(
    session: Session, *, enabled_only: bool = True
) -> tuple[list[VersionedRule], tuple[str, ...]]:
    """The stored rules as the core's rules, and the keys of those that no longer
    validate (logged, left out)."""
    return _versioned(current_rules(session, enabled_only=enabled_only))


def _versioned(stored: Sequence[StoredRule]) -> tuple[list[VersionedRule], tuple[str, ...]]:
    """Stored documents as the core's rules; one that no longer validates is reported."""
    rules, invalid = [], []
    for rule in stored:
        try:
            document = load_rule(dict(rule.document))
        except ValidationError as exc:
            logger.error("rule %s v%s no longer validates: %s", rule.key, rule.version, exc)
            invalid.append(rule.key)
            continue
        if not rule.enabled and document.enabled:
            document = document.model_copy(update={"enabled": False})
        rules.append(VersionedRule(document, rule.version))
    return rules, tuple(invalid)
