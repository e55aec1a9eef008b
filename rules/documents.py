"""Rule documents: one validated document per leading indicator a manager coaches on.

A rule ties a metric (from :mod:`rules.metrics`) to a standard, says how sustained a
breach must be before it counts as drift, and how the resulting coaching task is routed
and worded. Documents are written by people in YAML or JSON, so every check here names
the field at fault and says why; checks that span fields run as validators of the later
field (``standard`` knows the metric), which puts the error against that field.
:meth:`RuleDocument.model_json_schema` describes the whole document for a UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.metrics import (
    ActiveDays,
    DaysInStage,
    MetricShape,
    MetricSpec,
    PipelineCoverage,
    QuotaPace,
    SubjectKind,
)
from rules.periods import PeriodUnit
from rules.policies import CoachingPolicy, DriftPolicy
from rules.standards import Basis, Overrides, Ramp, Rollup, Standard
from rules.strict import Strict
from rules.templates import (
    DEAL_PLACEHOLDERS,
    REP_PLACEHOLDERS,
    ROLLUP_PLACEHOLDERS,
    check_placeholders,
)


class Level(StrEnum):
    """Where the indicator sits in the framework: activities drive objectives drive results."""

    ACTIVITY = "activity"
    OBJECTIVE = "objective"
    RESULT = "result"


ValueFormat = Literal["number", "percent", "currency", "days"]

RuleKey = Annotated[
    str, Field(min_length=2, max_length=48, pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
]


class PeriodPolicy(Strict):
    """The period a value is measured over; a rep's rate metric may be divided by the
    business days in it, or by the days the rep logged anything (``per_active_day``:
    leave, sick days and days off are not days of zero activity; at most the business
    days of the period).

    ``span``: each value covers the last ``span`` units, one value per unit (a rolling
    window). A metric counted in small numbers (a handful of meetings a week) is too
    noisy to judge week by week and too slow to judge month by month; four weeks judged
    every week have a month's sample and a week's notice."""

    unit: PeriodUnit
    per_business_day: bool = False
    per_active_day: bool = False
    span: int = Field(default=1, ge=1, le=13)

    @model_validator(mode="after")
    def _one_divisor(self) -> Self:
        if self.per_business_day and self.per_active_day:
            raise ValueError("choose per_business_day or per_active_day, not both")
        return self


#: Where each metric sits when a rule does not say (``level``), and what it drives.
METRIC_LEVELS: dict[str, Level] = {
    "activity_count": Level.ACTIVITY,
    "meetings_held": Level.ACTIVITY,
    "active_days": Level.ACTIVITY,
    "days_since_activity": Level.ACTIVITY,
    "pipeline_created": Level.OBJECTIVE,
    "pipeline_coverage": Level.OBJECTIVE,
    "stage_duration": Level.OBJECTIVE,
    "days_in_stage": Level.OBJECTIVE,
    "qualification_completeness": Level.OBJECTIVE,
    "close_date_pushes": Level.OBJECTIVE,
    "win_rate": Level.RESULT,
    "quota_pace": Level.RESULT,
}
LEVEL_DRIVES = {
    Level.ACTIVITY: "Pipeline created",
    Level.OBJECTIVE: "Win rate and quota attainment",
    Level.RESULT: "Quota attainment",
}


def _nul_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first text (key or value) holding a NUL, if any."""
    if isinstance(value, str):
        return (path or "document") if "\x00" in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return f"{path}.{key!r}" if path else repr(key)
            items.append((f"{path}.{key}" if path else str(key), item))
    elif isinstance(value, list):
        items = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    for where, item in items:
        found = _nul_at(item, where)
        if found is not None:
            return found
    return None


def _derived_not_required(schema: dict[str, Any]) -> None:
    """A form need not ask for what the document derives (name, level, drives)."""
    schema["required"] = [name for name in schema.get("required", []) if name not in DERIVED]


DERIVED = ("name", "level", "drives")


class RuleDocument(Strict):
    """A rule: metric + standard + drift policy + coaching policy.

    The shortest rule is its key, metric, period and standard; the rest has documented
    defaults: ``name`` from the key, ``level`` from the metric (:data:`METRIC_LEVELS`),
    ``drives`` from the level, a window of 4 periods, 2 of the last 3 periods out of the
    standard to drift, tasks for the manager every 14 days, alerts on. A stored document
    is always the complete one, defaults written out, so a version says everything."""

    model_config = ConfigDict(**Strict.model_config, json_schema_extra=_derived_not_required)

    key: RuleKey
    name: str = Field(min_length=1, max_length=120, description="Default: from the key")
    description: str = Field(default="", max_length=2000)
    level: Level = Field(description="Default: the metric's (activity, objective, result)")
    drives: str = Field(
        min_length=1,
        max_length=200,
        description="The objective or result this drives; default: the level's",
    )
    metric: MetricSpec
    subject: SubjectKind | None = Field(
        default=None, description="rep or deal; derived from the metric, checked if given"
    )
    period: PeriodPolicy
    window: int = Field(default=4, ge=1, le=120, description="How many periods are looked at")
    value_format: ValueFormat = "number"
    standard: Standard
    overrides: Overrides = Field(default_factory=Overrides)
    ramp: Ramp | None = None
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    rollup: Rollup | None = Field(
        default=None, description="deal rules: judge the rep's deals together (see Rollup)"
    )
    coaching: CoachingPolicy = Field(default_factory=CoachingPolicy)
    alert: bool = True
    enabled: bool = True
    min_quota_elapsed: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="quota_pace only: judge once this share of the quota period has passed",
    )

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """Name, level and drives a short document leaves out, from what it does say."""
        if not isinstance(data, dict):
            return data
        where = _nul_at(data)
        if where is not None:  # no database stores it as text, and no person means it
            raise ValueError(f"{where}: a NUL character is not allowed")
        filled = dict(data)
        key, metric = filled.get("key"), filled.get("metric")
        if "name" not in filled and isinstance(key, str) and key:
            filled["name"] = key.replace("-", " ").replace("_", " ").capitalize()[:120]
        if "level" not in filled and isinstance(metric, dict):
            known = METRIC_LEVELS.get(str(metric.get("metric")))
            if known is not None:
                filled["level"] = known.value
        level = filled.get("level")
        if (
            "drives" not in filled
            and isinstance(level, str)
            and level in Level.__members__.values()
        ):
            filled["drives"] = LEVEL_DRIVES[Level(level)]
        return filled

    @property
    def subject_kind(self) -> SubjectKind:
        return self.metric.subject_kind

    @property
    def standards(self) -> tuple[Standard, ...]:
        """The base standard and every override's, e.g. to see which inputs are needed."""
        groups = (self.overrides.teams, self.overrides.roles, self.overrides.reps)
        extra = [o.standard for group in groups for o in group.values() if o.standard]
        return (self.standard, *extra)

    @property
    def reads(self) -> tuple[MetricSpec, ...]:
        """Every metric judging the rule reads, its own first: for a coverage standard of
        1 / win rate, that win rate; for a rule measured per day at work, active days."""
        reads: list[MetricSpec] = [self.metric]
        inverse = [s for s in self.standards if s.basis is Basis.INVERSE_WIN_RATE]
        if inverse:
            reads.append(inverse[0].win_rate)
        if self.period.per_active_day:
            reads.append(ActiveDays())
        return tuple(reads)

    @field_validator("metric")
    @classmethod
    def _fixed_metric_traits(cls, metric: MetricSpec) -> MetricSpec:
        for trait in ("subject_kind", "shape"):
            fixed = type(metric).model_fields[trait].default
            if getattr(metric, trait) != fixed:
                raise ValueError(f"{trait} of {metric.metric} is always {fixed}")
        return metric

    @field_validator("subject")
    @classmethod
    def _subject_matches(cls, subject: SubjectKind | None, info: ValidationInfo) -> Any:
        metric = info.data.get("metric")
        if subject is not None and metric is not None and subject != metric.subject_kind:
            raise ValueError(f"{metric.metric} describes a {metric.subject_kind}, not a {subject}")
        return subject

    @field_validator("period")
    @classmethod
    def _rate_only(cls, period: PeriodPolicy, info: ValidationInfo) -> PeriodPolicy:
        metric = info.data.get("metric")
        divided = "per_business_day" if period.per_business_day else "per_active_day"
        if (period.per_business_day or period.per_active_day) and metric is not None:
            if metric.shape != MetricShape.RATE:
                raise ValueError(f"{divided} needs a rate metric; {metric.metric} is a snapshot")
            if period.per_active_day and metric.subject_kind != SubjectKind.REP:
                raise ValueError(f"per_active_day needs a rep metric; {metric.metric} is not")
        if period.span > 1 and metric is not None and metric.shape != MetricShape.RATE:
            raise ValueError(f"span needs a rate metric; {metric.metric} is a snapshot")
        return period

    @field_validator("standard")
    @classmethod
    def _basis_fits(cls, standard: Standard, info: ValidationInfo) -> Standard:
        metric = info.data.get("metric")
        if metric is not None:
            _check_basis(standard, metric)
        return standard

    @field_validator("overrides")
    @classmethod
    def _override_bases_fit(cls, overrides: Overrides, info: ValidationInfo) -> Overrides:
        metric = info.data.get("metric")
        groups = {"teams": overrides.teams, "roles": overrides.roles, "reps": overrides.reps}
        for group, entries in groups.items():
            for name, override in entries.items():
                if metric is not None and override.standard is not None:
                    try:
                        _check_basis(override.standard, metric)
                    except ValueError as exc:
                        raise ValueError(f"{group}.{name}.standard: {exc}") from None
        return overrides

    @field_validator("drift")
    @classmethod
    def _fits_window(cls, drift: DriftPolicy, info: ValidationInfo) -> DriftPolicy:
        window = info.data.get("window")
        if window is None:
            return drift
        if drift.n > window:
            raise ValueError(f"n ({drift.n}) looks at more periods than the window ({window})")
        if drift.trend_horizon is not None and window < 4:
            raise ValueError(f"a trend needs a window of at least 4 periods, not {window}")
        return drift

    @field_validator("coaching")
    @classmethod
    def _known_placeholders(cls, coaching: CoachingPolicy, info: ValidationInfo) -> Any:
        metric = info.data.get("metric")
        allowed = REP_PLACEHOLDERS
        if info.data.get("rollup") is not None:
            allowed = REP_PLACEHOLDERS | ROLLUP_PLACEHOLDERS
        elif metric is not None and metric.subject_kind == SubjectKind.DEAL:
            allowed = REP_PLACEHOLDERS | DEAL_PLACEHOLDERS
        for name in ("subject_template", "body_template"):
            try:
                check_placeholders(getattr(coaching, name), allowed)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return coaching

    @field_validator("rollup")
    @classmethod
    def _rollup_deals_only(cls, rollup: Rollup | None, info: ValidationInfo) -> Rollup | None:
        metric = info.data.get("metric")
        if rollup is not None and metric is not None and metric.subject_kind != SubjectKind.DEAL:
            raise ValueError(f"rollup needs a deal metric; {metric.metric} is about reps")
        return rollup

    @field_validator("min_quota_elapsed")
    @classmethod
    def _quota_pace_only(cls, value: float | None, info: ValidationInfo) -> float | None:
        metric = info.data.get("metric")
        if value is not None and metric is not None and not isinstance(metric, QuotaPace):
            raise ValueError(f"only quota_pace has a quota period; not {metric.metric}")
        return value


def _check_basis(standard: Standard, metric: MetricSpec) -> None:
    """Relative bases need the reference they are relative to."""
    basis = standard.basis
    if basis is Basis.STAGE_MEDIAN and not isinstance(metric, DaysInStage):
        raise ValueError(f"basis stage_median needs metric days_in_stage, not {metric.metric}")
    if basis is Basis.INVERSE_WIN_RATE and not isinstance(metric, PipelineCoverage):
        raise ValueError(
            f"basis inverse_win_rate needs metric pipeline_coverage, not {metric.metric}"
        )
    relative_to_reps = basis in {Basis.TEAM_MEDIAN, Basis.OWN_BASELINE}
    if relative_to_reps and metric.subject_kind != SubjectKind.REP:
        raise ValueError(f"basis {basis} compares reps; {metric.metric} describes deals")


@dataclass(frozen=True, slots=True)
class VersionedRule:
    """A rule document as stored: each edit makes a new version, cited in evidence."""

    document: RuleDocument
    version: int

    @property
    def key(self) -> str:
        return self.document.key


def load_rule(data: object) -> RuleDocument:
    """Validate a parsed YAML/JSON document; raises ``pydantic.ValidationError``."""
    return RuleDocument.model_validate(data)


def describe_errors(error: ValidationError, *, whole: str = "document") -> list[str]:
    """One ``field.path: reason`` line per problem, for a CLI or an API response; a
    problem of the whole object is under ``whole``. Never the value given (a setting may
    be a secret)."""
    lines = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or whole
        reason = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {reason}")
    return lines
