"""The policies of a rule document: severity, drift (when a deviation counts) and coaching
(who is told, how often, in what words).

Each part validates what it can see on its own (a ``user`` assignee without a user);
what depends on the metric (which placeholders a deal rule may use) is checked by
:class:`rules.documents.RuleDocument`. The standard itself is in :mod:`rules.standards`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from rules.strict import Strict
from rules.templates import placeholders


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


class SeverityThresholds(Strict):
    """The gap (:func:`rules.drift.relative_gap`: below a minimum, the share of the
    standard missing; above a maximum, the share of the value beyond it) from which a
    breach is medium, then high."""

    medium: float = Field(default=0.25, gt=0, le=100)
    high: float = Field(default=0.5, gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.medium > self.high:
            raise ValueError(f"medium ({self.medium}) must not exceed high ({self.high})")
        return self


class DriftPolicy(Strict):
    """When a breach becomes drift, and when drift is over.

    A period breaches when its value is outside the standard by a gap of more than
    ``tolerance`` (:func:`rules.drift.relative_gap`). Drift is ``k`` breaching periods
    among the last ``n`` (k >= 2: one bad period never opens a finding) while, with
    ``latest_must_breach``, the most recent measured period is still outside (a rep
    already back inside is not chased); or, with ``trend_horizon``, a robust linear trend
    over the window that crosses the standard within that many periods. A finding
    resolves once ``resolve_after`` periods in a row are back inside.
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
    """Who gets the coaching task, how often, how urgent, and what it says.

    ``create_tasks: false`` keeps the rule's findings (scorecard, webhooks, the context of
    activity tasks) without tasks of its own: the default pack's objective and result
    rules, so the few tasks a manager gets each week are about activities to coach.
    """

    create_tasks: bool = True
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
    what_good_looks_like: str = Field(
        default="",
        max_length=2000,
        description="The behaviour the manager coaches towards; in every task when given",
    )

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
