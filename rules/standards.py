"""The standard a rule holds reps to, as sales ops write it: the band, its basis, the
overrides per team, role and rep, and the ramp for new reps.

Each part validates what it can see on its own (a minimum above its maximum, a
multiplier that is not positive); which bases fit a metric is checked by
:class:`rules.documents.RuleDocument`. How a standard becomes numbers for one rep and
period is :mod:`rules.applied_standards`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from rules.metrics import WinRate
from rules.strict import Strict


class Basis(StrEnum):
    """What the standard's numbers are measured against."""

    ABSOLUTE = "absolute"  # min/max are the values themselves
    TEAM_MEDIAN = "team_median"  # k x the team's median for the same period
    OWN_BASELINE = "own_baseline"  # k x the rep's own median before the window
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
        default=8,
        ge=1,
        le=52,
        description="own_baseline: periods before the window whose median is the baseline",
    )
    seasonal: bool = Field(
        default=False,
        description="own_baseline: scale the baseline, period by period, by the team median's "
        "share of its own mean over the same baseline periods, so what hits the whole team "
        "(a holiday week, a quarter end) is not the rep's drift",
    )
    recover: float | None = Field(
        default=None,
        gt=0,
        description="own_baseline: while a finding lives, the multiplier of the level before "
        "the drift a value must reach again to count as back (between min and 1, or 1 and "
        "max), so a rep whose drop goes on is not let off by one period that clears the line",
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
        if self.seasonal and self.basis is not Basis.OWN_BASELINE:
            raise ValueError("seasonal only goes with basis own_baseline")
        if self.basis is not Basis.ABSOLUTE:
            for name, value in (("min", self.min), ("max", self.max)):
                if value is not None and value <= 0:
                    raise ValueError(f"{name} is a multiplier with basis {self.basis}: use > 0")
        if self.recover is not None:
            self._recover_fits(self.recover)
        return self

    def _recover_fits(self, recover: float) -> None:
        if self.basis is not Basis.OWN_BASELINE:
            raise ValueError("recover only goes with basis own_baseline")
        if self.min is not None and self.max is not None:
            raise ValueError("recover needs one bound, min or max, not both")
        if self.min is not None and not self.min < recover <= 1:
            raise ValueError(f"recover ({recover}) must lie above min ({self.min}) and at most 1")
        if self.max is not None and not 1 <= recover < self.max:
            raise ValueError(f"recover ({recover}) must lie below max ({self.max}) and at least 1")


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


class Rollup(Strict):
    """A deal rule judged per rep: the number of the rep's deals outside the standard,
    held to at most ``team_factor`` x the team's median number (and flagged only from
    ``min_deals`` deals), so a rep is flagged for standing out, not because some deal of
    theirs is old. The finding lists the deals with the most open pipeline.

    With ``own_periods``, a rep also stands out against their own history: a count above
    ``own_factor`` x their median count over the ``own_periods`` periods before the
    window. A rep whose pipeline was clean and went stale is news even where the whole
    team is untidy."""

    min_deals: int = Field(default=3, ge=1, le=1000)
    team_factor: float = Field(default=1.5, gt=0, le=100)
    own_periods: int = Field(default=0, ge=0, le=60)
    own_factor: float = Field(default=2.0, gt=1, le=100)
