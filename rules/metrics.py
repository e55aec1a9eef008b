"""The metric catalogue and the ``MetricSource`` port the rules core reads metrics through.

Each metric is a small validated model (its parameters), discriminated by ``metric``, so a
rule document names a metric and its parameters and a bad parameter is a validation error
naming the field. What each metric *means* is defined here, once; the store's SQL adapter
(``service/store/sql_metric_source.py``) implements every one as a single set-based grouped query
per evaluation, and the unit tests implement the same meaning with an in-memory fake.

Time: every measurement is taken for an explicit list of :class:`~rules.periods.Period`
values and reads only what was known at each period's end ("as of" that instant):
activities by ``occurred_at``; a deal's stage, amount, close date and probability from its
change history (the newest change at or before the instant that recorded that field,
falling back to the deal's current value when the history has none, and the deal only
existing from ``created_in_crm_at`` on). The same code therefore serves live evaluation
and the backtest. Soft-deleted rows (``deleted_at`` set at or before the instant) and
deleted reps are ignored.

Two shapes of metric:

* **rate** metrics count what happened inside ``[period.start, period.end)``;
* **snapshot** metrics describe the state at ``period.end``.

Subjects: rep metrics are keyed by the rep's CRM id (the deal owner's id for deal-derived
rep metrics); deal metrics by ``(owner CRM id, deal CRM id)`` and cover the deals that are
*open* at the instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rules.periods import Period


class SubjectKind(StrEnum):
    REP = "rep"
    DEAL = "deal"


class MetricShape(StrEnum):
    RATE = "rate"
    SNAPSHOT = "snapshot"


class _Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Which subject the metric describes and how it is measured; fixed per metric.
    subject_kind: SubjectKind = SubjectKind.REP
    shape: MetricShape = MetricShape.RATE


# ------------------------------------------------------------------ activity (leading)


ActivityKindName = Literal["call", "email", "meeting", "task", "note"]


class ActivityCount(_Metric):
    """Activities a rep logged in the period, filtered by kind, subtype and outcome.

    Rate metric. Counts rows of ``activities`` with ``occurred_at`` in the period whose
    ``kind`` is in ``kinds`` (all kinds when empty), ``subtype`` in ``subtypes`` (any when
    empty), ``outcome`` in ``outcomes`` (any when empty) and not in ``exclude_outcomes``
    (compared case-insensitively; a NULL outcome is never excluded). Observation value:
    the count (the rules core divides by business days when the rule asks per business
    day); ``sample`` = the count.
    """

    metric: Literal["activity_count"] = "activity_count"
    kinds: tuple[ActivityKindName, ...] = ()
    subtypes: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    exclude_outcomes: tuple[str, ...] = ()


class MeetingsHeld(_Metric):
    """Meetings that took place in the period: ``kind = 'meeting'`` and an outcome that is
    not one of ``exclude_outcomes`` (no-shows and cancellations by default). Rate metric;
    value and sample = the count."""

    metric: Literal["meetings_held"] = "meetings_held"
    exclude_outcomes: tuple[str, ...] = ("No show", "No-show", "Canceled", "Cancelled")


class ActiveDays(_Metric):
    """Days in the period on which the rep logged anything at all (any kind of activity):
    the days they were at work, as far as the CRM can tell. Rate metric; value and
    sample = the number of distinct UTC calendar days with an activity. A rule measured
    ``per_active_day`` divides by it (at most the period's business days), so a day of
    leave is not a day of zero calls."""

    metric: Literal["active_days"] = "active_days"


class PipelineCreated(_Metric):
    """Deals the rep created in the period (``created_in_crm_at`` in the period, current
    owner). Rate metric. ``measure = 'count'``: value = number of deals; ``'amount'``: value
    = the sum of their amounts as of the period end. ``sample`` = number of deals.
    ``parts``: ``count``, ``amount``. ``deals``: the largest by amount, at most 5."""

    metric: Literal["pipeline_created"] = "pipeline_created"
    measure: Literal["count", "amount"] = "count"


# ------------------------------------------------------------------ objectives


class PipelineCoverage(_Metric):
    """Open pipeline closing in the current quota period / quota still to close.

    Snapshot at ``t`` = period end. The quota period is the rep's quota row (``quotas``,
    not deleted) whose ``[period_start, period_end]`` contains ``t``'s date (if several,
    the most recently updated). ``open_amount`` = sum of amounts as of ``t`` of the rep's
    deals open at ``t`` with close date as of ``t`` inside the quota period; ``won_amount``
    = sum of amounts of deals won at ``t`` whose close date as of ``t`` is inside the quota
    period; ``remaining`` = quota - won_amount. Value = open_amount / remaining; None when
    the rep has no quota at ``t`` or remaining <= 0. ``parts``: ``open_amount``,
    ``won_amount``, ``quota``, ``remaining``. ``deals``: the largest open deals counted.
    ``sample`` = number of open deals counted."""

    metric: Literal["pipeline_coverage"] = "pipeline_coverage"
    shape: MetricShape = MetricShape.SNAPSHOT


class WinRate(_Metric):
    """Won / (won + lost) over deals closed in the ``trailing_days`` before ``t``.

    Snapshot at ``t``. A deal counts when its stage category as of ``t`` is won or lost and
    the change that moved it into that closed stage happened in ``[t - trailing_days, t)``
    (for a deal without history: its ``closed_at``). ``measure = 'count'`` weighs deals
    equally, ``'amount'`` by amount. ``sample`` = number of closed deals; value None when
    ``sample < min_sample``. ``parts``: ``won``, ``lost`` (counts or amounts)."""

    metric: Literal["win_rate"] = "win_rate"
    shape: MetricShape = MetricShape.SNAPSHOT
    trailing_days: int = Field(default=180, ge=7, le=1095)
    min_sample: int = Field(default=5, ge=1, le=1000)
    measure: Literal["count", "amount"] = "count"


class StageDuration(_Metric):
    """Average days a rep's deals spent in a stage, over stints that ended in the trailing
    window before ``t``.

    Snapshot at ``t``. A stint is the time between a change that put a deal in a stage
    and the next change that recorded a different stage. Stints ending in ``[t -
    trailing_days, t)`` count; ``stages`` limits which stages (all open stages when empty).
    Value = mean stint length in days (fractional); ``sample`` = number of stints; None
    when there are none. ``parts``: ``<stage>`` -> mean days per stage."""

    metric: Literal["stage_duration"] = "stage_duration"
    shape: MetricShape = MetricShape.SNAPSHOT
    trailing_days: int = Field(default=180, ge=7, le=1095)
    stages: tuple[str, ...] = ()


class QualificationCompleteness(_Metric):
    """Share of the rep's open deals at ``t`` in ``stages`` whose qualification fields are
    all filled.

    Snapshot at ``t`` (stage as of ``t``; the qualification values are the current ones:
    the CRMs keep no history of them). A field is filled when the key exists in
    ``opportunities.qualification`` with a value that is not null and not an empty
    string. Value = filled deals / deals in those stages; None when there are none.
    ``sample`` = deals in those stages. ``deals``: incomplete deals, largest first."""

    metric: Literal["qualification_completeness"] = "qualification_completeness"
    shape: MetricShape = MetricShape.SNAPSHOT
    fields: tuple[str, ...] = Field(min_length=1)
    stages: tuple[str, ...] = Field(min_length=1)


class QuotaPace(_Metric):
    """(Won in the quota period + probability-weighted open pipeline closing in it) /
    quota pro-rated by elapsed business days.

    Snapshot at ``t``; the quota period as for :class:`PipelineCoverage`. The source
    reports the parts, the rules core computes the ratio (it owns business-day
    arithmetic): ``parts``: ``won_amount``, ``weighted_open`` (sum of amount x
    probability / 100 as of ``t``), ``quota``, and the quota period as ISO dates in
    ``Observation.period_start`` / ``period_end``. Value = None from the source."""

    metric: Literal["quota_pace"] = "quota_pace"
    shape: MetricShape = MetricShape.SNAPSHOT


# ------------------------------------------------------------------ deal metrics


class DaysSinceActivity(_Metric):
    """Days from the deal's last activity (or, without one, its creation) to ``t``.

    Deal snapshot at ``t`` for deals open at ``t``. Activities linked to the deal with
    ``occurred_at <= t``. Value = fractional days; ``parts``: ``amount``."""

    metric: Literal["days_since_activity"] = "days_since_activity"
    subject_kind: SubjectKind = SubjectKind.DEAL
    shape: MetricShape = MetricShape.SNAPSHOT


class DaysInStage(_Metric):
    """Days the open deal has been in its current stage at ``t``, and that stage's
    historical median stint.

    Deal snapshot at ``t``. Entry time = the newest change at or before ``t`` that
    recorded a stage different from the one before it (the deal's creation when there
    is none). ``parts``: ``stage_median_days`` (median length of all deals' completed
    stints in that stage that ended in ``[t - trailing_days, t)``, connection-wide;
    absent when there are fewer than ``min_sample``), ``amount``. ``detail`` carries
    the stage name."""

    metric: Literal["days_in_stage"] = "days_in_stage"
    subject_kind: SubjectKind = SubjectKind.DEAL
    shape: MetricShape = MetricShape.SNAPSHOT
    trailing_days: int = Field(default=365, ge=7, le=1095)
    min_sample: int = Field(default=5, ge=1, le=1000)


class CloseDatePushes(_Metric):
    """How many times the open deal's close date was moved later, up to ``t``.

    Deal snapshot at ``t``: over the deal's change rows at or before ``t`` with a close
    date, ordered by time, count the rows whose close date is later than the previous
    such row's. ``parts``: ``amount``, ``days_pushed`` (total days moved later)."""

    metric: Literal["close_date_pushes"] = "close_date_pushes"
    subject_kind: SubjectKind = SubjectKind.DEAL
    shape: MetricShape = MetricShape.SNAPSHOT


MetricSpec = Annotated[
    ActivityCount
    | MeetingsHeld
    | ActiveDays
    | PipelineCreated
    | PipelineCoverage
    | WinRate
    | StageDuration
    | QualificationCompleteness
    | QuotaPace
    | DaysSinceActivity
    | DaysInStage
    | CloseDatePushes,
    Field(discriminator="metric"),
]


# ------------------------------------------------------------------ the port


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """Who a value is about: a rep, or one of the rep's deals."""

    rep_crm_id: str
    deal_crm_id: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One metric value for one subject and period.

    ``value`` None means "not measurable" (no quota, sample too small), never zero.
    ``deals`` lists CRM ids of the deals behind the value, most relevant first (at most
    5), for the evidence. ``detail`` carries a label such as the deal's stage.
    """

    value: float | None
    sample: int = 0
    parts: Mapping[str, float] = field(default_factory=dict)
    deals: tuple[str, ...] = ()
    detail: str | None = None
    period_start: date | None = None
    period_end: date | None = None


#: Per subject, one observation per requested period (same order); None where the
#: subject had nothing to measure in that period (a rate metric with no rows is an
#: observation of 0, not None; a deal not open at that instant is None).
MetricSeries = Mapping[SubjectKey, Sequence[Observation | None]]


@dataclass(frozen=True, slots=True)
class RepProfile:
    """A rep as the rules see them: hierarchy, team and role for overrides, start for ramp."""

    crm_id: str
    name: str
    manager_crm_id: str | None = None
    team: str | None = None
    role: str | None = None
    started_on: date | None = None
    is_active: bool = True
    email: str | None = None


@dataclass(frozen=True, slots=True)
class DealProfile:
    crm_id: str
    name: str
    owner_crm_id: str | None
    amount: float | None
    stage: str
    close_date: date | None


class MetricSource(Protocol):
    """What the rules core reads; bound to one connection by whoever builds it.

    Every rep metric returns a series for every rep who is active and owns at least one
    row of the data the metric reads; reps with no rows at all for a rate metric may be
    missing (the core treats a missing rep as zeros for rate metrics).
    """

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        """Values of ``metric`` for each period, computed in one set-based query."""
        ...

    def reps(self) -> Sequence[RepProfile]:
        """Every rep (CRM user) of the connection that is not deleted."""
        ...

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        """Current facts of the named deals, for evidence and task text."""
        ...

    def data_as_of(self) -> datetime | None:
        """When the connection's data was last synced successfully (data freshness)."""
        ...
