"""Replaying rules over history: the live core, step by step, with a scratch memory.

A backtest asks "had these rules been on, what would they have done, and when?". It
must answer with the very decisions live evaluation makes, so it runs the same
:func:`~rules.evaluation.evaluate` at each moment. What differs is only where the
consequences go: live evaluation writes findings and tasks to the store, and the next
evaluation reads them back (the live findings, the coaching history that cadence and
budgets read); a replay keeps them in a :class:`Scratch` that answers the next step the
same way the store would. The metric source handed to each step must read only what
was known at that moment (the service's SQL source does: see :mod:`rules.metrics`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rules.cadence import CoachingHistory, HistoryKey
from rules.documents import VersionedRule
from rules.evaluation import (
    CreateCoachingTask,
    EscalateFinding,
    EvaluationSettings,
    KeepFinding,
    OpenFinding,
    Plan,
    ResolveFinding,
    evaluate,
)
from rules.intents import OPEN, LiveFinding, TaskKind
from rules.metrics import (
    DealProfile,
    MetricSeries,
    MetricSource,
    MetricSpec,
    RepProfile,
    SubjectKey,
)
from rules.periods import Period, PeriodUnit, next_start, unit_start


def replay_moments(
    start: datetime, end: datetime, unit: PeriodUnit = PeriodUnit.WEEK
) -> list[datetime]:
    """Every period boundary in ``(start, end]``: the instants a replay evaluates at
    (each closes a period, so rate rules see it whole)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a replay's bounds must be timezone-aware")
    if end <= start:
        raise ValueError("a replay must end after it starts")
    moments = []
    moment = next_start(unit_start(start, unit), unit)
    while moment <= end:
        moments.append(moment)
        moment = next_start(moment, unit)
    return moments


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A coaching task a step created, as the next steps' cadence and budgets see it."""

    created_at: datetime
    rule_key: str
    subject: SubjectKey
    budget_owner_crm_id: str
    kind: TaskKind = "coaching"


@dataclass
class Scratch:
    """The findings and coaching history a store would hold after each applied plan.

    Ids are assigned in the order findings open, as a fresh store would; nothing else
    reads them. Snoozing is a person's act, so a replay never snoozes.
    """

    _live: dict[tuple[str, SubjectKey], LiveFinding] = field(default_factory=dict)
    _tasks: list[TaskRecord] = field(default_factory=list)
    _next_id: int = 1
    #: The live findings a coaching task (not a hygiene task) has been created for since
    #: they opened.
    _coached: set[tuple[str, SubjectKey]] = field(default_factory=set)

    def live(self) -> list[LiveFinding]:
        return sorted(self._live.values(), key=lambda finding: int(finding.id))

    def coached(self) -> frozenset[tuple[str, SubjectKey]]:
        """(rule, subject) of the live findings someone has been given a task about."""
        return frozenset(self._coached)

    def history(self, as_of: datetime) -> CoachingHistory:
        """As :func:`service.store.findings.coaching_history` reads it from the outbox."""
        last: dict[HistoryKey, datetime] = {}
        week: Counter[str] = Counter()
        hygiene: Counter[str] = Counter()
        monday = (as_of - timedelta(days=as_of.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        for task in self._tasks:
            if task.created_at > as_of:
                continue
            key = (task.rule_key, task.subject.rep_crm_id, task.subject.deal_crm_id)
            last[key] = max(last.get(key, task.created_at), task.created_at)
            if task.created_at >= monday:
                (hygiene if task.kind == "hygiene" else week)[task.budget_owner_crm_id] += 1
        return CoachingHistory(last, dict(week), dict(hygiene))

    def apply(self, plan: Plan) -> None:
        """What :func:`service.evaluation.run.apply_plan` does to the store, in memory."""
        for intent in plan.intents:
            key = (intent.rule_key, _subject(intent))
            if isinstance(intent, OpenFinding):
                self._live[key] = LiveFinding(
                    self._next_id, intent.rule_key, intent.subject, intent.severity, OPEN,
                    plan.as_of, intent.baseline,
                )  # fmt: skip
                self._next_id += 1
                self._coached.discard(key)
            elif isinstance(intent, KeepFinding | EscalateFinding):
                known = self._live.get(key)
                if known is not None:
                    self._live[key] = replace(known, severity=intent.severity)
            elif isinstance(intent, ResolveFinding):
                self._live.pop(key, None)
                self._coached.discard(key)
            elif isinstance(intent, CreateCoachingTask):
                record = TaskRecord(
                    plan.as_of, intent.rule_key, key[1], intent.budget_owner_crm_id, intent.kind
                )
                self._tasks.append(record)
                if intent.kind == "coaching":
                    self._coached.add(key)


class _KnownReps:
    """The step's source, its roster read once: the core reads it, and so does the step."""

    def __init__(self, source: MetricSource) -> None:
        self._source = source
        self._reps: Sequence[RepProfile] | None = None

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        return self._source.measure(metric, periods)

    def reps(self) -> Sequence[RepProfile]:
        if self._reps is None:
            self._reps = self._source.reps()
        return self._reps

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        return self._source.deals(crm_ids)

    def data_as_of(self) -> datetime | None:
        return self._source.data_as_of()


def _subject(intent: object) -> SubjectKey:
    if isinstance(intent, CreateCoachingTask):
        return intent.subject_key
    subject: SubjectKey = intent.subject  # type: ignore[attr-defined]
    return subject


@dataclass(frozen=True, slots=True)
class Step:
    """One replayed evaluation: its moment, its plan, the people it knew then, and the
    (rule, subject) of every finding live once its plan was applied, and of those that
    someone has had a coaching task about."""

    as_of: datetime
    plan: Plan
    reps: tuple[RepProfile, ...]
    live: frozenset[tuple[str, SubjectKey]]
    coached: frozenset[tuple[str, SubjectKey]] = frozenset()


class Replay:
    """Evaluates ``rules`` at successive moments, each seeing the previous plans' effects.

    Moments must come in order; the caller gives each step a source that reads only
    what was known at its moment.
    """

    def __init__(
        self, rules: Sequence[VersionedRule], settings: EvaluationSettings | None = None
    ) -> None:
        self.rules = list(rules)
        self.settings = settings or EvaluationSettings()
        self.scratch = Scratch()
        self.steps: list[Step] = []

    def step(self, source: MetricSource, as_of: datetime) -> Plan:
        if self.steps and as_of <= self.steps[-1].as_of:
            raise ValueError("a replay's moments must increase")
        history = self.scratch.history(as_of)
        known = _KnownReps(source)
        plan = evaluate(
            self.rules, known, self.scratch.live(), history, as_of, settings=self.settings
        )
        self.scratch.apply(plan)
        live = frozenset((f.rule_key, f.subject) for f in self.scratch.live())
        coached = self.scratch.coached() & live
        self.steps.append(Step(as_of, plan, tuple(known.reps()), live, coached))
        return plan

    def opened(self) -> dict[str, list[tuple[datetime, SubjectKey]]]:
        """Per rule, every finding the replay opened, with when."""
        found: dict[str, list[tuple[datetime, SubjectKey]]] = defaultdict(list)
        for step in self.steps:
            for intent in step.plan.of_type(OpenFinding):
                found[intent.rule_key].append((step.as_of, intent.subject))
        return dict(found)
