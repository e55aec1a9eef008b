"""The parts of a rule document: standard, overrides, ramp, drift and coaching policies.

Each part validates what it can see on its own (a minimum above its maximum, a ``user``
assignee without a user); what depends on the metric (which bases fit it, which
placeholders a deal rule may use) is checked by :class:`rules.documents.RuleDocument`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.metrics import WinRate
from rules.templates import placeholders


class Strict(BaseModel):
    """Frozen, no unknown keys, no NaN or infinity: documents are data written by people."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Severity(StrEnum):
    """How far outside the standard a rep or deal is; ordered low < medium < high."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}

Priority = Literal["low", "medium", "high"]
CadenceDays = Annotated[int, Field(ge=1, le=365)]


class Basis(StrEnum):
    """What the standard's numbers are measured against."""

    ABSOLUTE = "absolute"  # min/max are the values themselves
    TEAM_MEDIAN = "team_median"  # k x the team's median for the same period
    OWN_BASELINE = "own_baseline"  # k x the rep's own mean before the window
    STAGE_MEDIAN = "stage_median"  # k x the stage's historical median stint (days_in_stage)
    INVERSE_WIN_RATE = "inverse_win_rate"  # k / the rep's trailing win rate (coverage)


class Standard(Strict):
    """The band a value should stay in: ``min`` and/or ``max``.

    With ``absolute`` the bounds are values; with any other basis they are multipliers
    ``k`` of a reference (team median, own baseline, stage median, 1 / win rate).
    """

    basis: Basis = Basis.ABSOLUTE
    min: float | None = None
    max: float | None = None
    baseline_periods: int = Field(
        default=8, ge=1, le=52, description="own_baseline: periods before the window averaged"
    )
    win_rate: WinRate = Field(
        default_factory=WinRate, description="inverse_win_rate: how the win rate is measured"
    )

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("a standard needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.basis is not Basis.ABSOLUTE:
            for name, value in (("min", self.min), ("max", self.max)):
                if value is not None and value <= 0:
                    raise ValueError(f"{name} is a multiplier with basis {self.basis}: use > 0")
        return self


class Override(Strict):
    """For one team, role or rep: a different standard, or the rule switched off."""

    disabled: bool = False
    standard: Standard | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> Self:
        if self.disabled == (self.standard is not None):
            raise ValueError("an override either sets disabled: true or gives a standard")
        return self


class Overrides(Strict):
    """Per team name, role name and rep CRM id; a rep's own beats role beats team."""

    teams: dict[str, Override] = Field(default_factory=dict)
    roles: dict[str, Override] = Field(default_factory=dict)
    reps: dict[str, Override] = Field(default_factory=dict)


class Ramp(Strict):
    """New reps are held to ``factor`` of the standard for ``days`` from their start date:
    a minimum is multiplied by the factor, a maximum divided by it."""

    days: int = Field(ge=1, le=730)
    factor: float = Field(gt=0, le=1)


class SeverityThresholds(Strict):
    """Relative gap (share of the standard) from which a breach is medium, then high."""

    medium: float = Field(default=0.25, gt=0, le=100)
    high: float = Field(default=0.5, gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.medium > self.high:
            raise ValueError(f"medium ({self.medium}) must not exceed high ({self.high})")
        return self


class DriftPolicy(Strict):
    """When a breach becomes drift, and when drift is over.

    A period breaches when its value is outside the standard by more than ``tolerance``
    (a share of the standard). Drift is ``k`` breaching periods among the last ``n`` (k >=
    2: one bad period never opens a finding) while, with ``latest_must_breach``, the most
    recent measured period is still outside (a rep already back inside is not chased); or,
    with ``trend_horizon``, a robust linear trend over the window that crosses the standard
    within that many periods. A finding resolves once ``resolve_after`` periods in a row
    are back inside.
    """

    tolerance: float = Field(default=0.0, ge=0, le=1)
    k: int = Field(default=2, ge=2, le=52)
    n: int = Field(default=3, ge=2, le=52)
    latest_must_breach: bool = True
    trend_horizon: int | None = Field(default=None, ge=1, le=26)
    resolve_after: int = Field(default=2, ge=1, le=26)
    severity: SeverityThresholds = Field(default_factory=SeverityThresholds)

    @model_validator(mode="after")
    def _k_of_n(self) -> Self:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) must not exceed n ({self.n})")
        return self


class PriorityBySeverity(Strict):
    """The CRM task priority for each severity."""

    low: Priority = "low"
    medium: Priority = "medium"
    high: Priority = "high"

    def for_severity(self, severity: Severity) -> Priority:
        priority: Priority = getattr(self, severity.value)
        return priority


class CoachingPolicy(Strict):
    """Who gets the coaching task, how often, how urgent, and what it says."""

    assignee: Literal["manager", "rep", "user"] = "manager"
    user_crm_id: str | None = Field(default=None, min_length=1, max_length=64)
    cadence_days: int = Field(default=14, ge=1, le=365)
    cadence_days_by_rep: dict[str, CadenceDays] = Field(default_factory=dict)
    due_in_days: int = Field(default=3, ge=0, le=90)
    priority: PriorityBySeverity = Field(default_factory=PriorityBySeverity)
    subject_template: str = Field(
        default="Coaching: {rule_name} ({rep_name})", min_length=1, max_length=255
    )
    body_template: str = Field(
        default="{rep_name}: {observed} against a standard of {standard} ({period}).",
        max_length=4000,
    )
    what_good_looks_like: str = Field(min_length=1, max_length=2000)

    @field_validator("subject_template", "body_template")
    @classmethod
    def _template_syntax(cls, value: str) -> str:
        placeholders(value)  # raises ValueError naming the bad placeholder
        return value

    @model_validator(mode="after")
    def _user_named(self) -> Self:
        if self.assignee == "user" and self.user_crm_id is None:
            raise ValueError("assignee 'user' needs user_crm_id")
        if self.assignee != "user" and self.user_crm_id is not None:
            raise ValueError(f"user_crm_id only goes with assignee 'user', not {self.assignee!r}")
        return self

    def cadence_for(self, rep_crm_id: str) -> int:
        """Days between two tasks for this rep: the rep's own cadence, else the rule's."""
        return self.cadence_days_by_rep.get(rep_crm_id, self.cadence_days)
