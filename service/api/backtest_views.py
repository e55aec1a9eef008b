"""What ``/v1/backtests`` and ``/v1/rules/{key}/suggestions`` take and answer: the
request, the job as a client sees it, and the scores as ``driftcoach backtest`` prints
them (recall, precision, lead days, findings and tasks per manager-week, per rule and
for the pack), as numbers rather than text."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.backtest_scoring import Chain, Score
from rules.backtest_tuning import Scored, Suggestion
from service.api.problems import FieldProblem, invalid
from service.api.settings_views import MAX_ID
from service.backtest.run import Backtest

Step = Literal["week", "month"]
JobState = Literal["queued", "running", "succeeded", "failed"]
#: The bounds any replay's dates must keep inside (sane calendar arithmetic).
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


class BacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: int = Field(
        ge=1, le=MAX_ID, description="The connection whose history is replayed."
    )
    rules: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=200,
        description="Stored rules to replay, by key (default: every enabled stored rule).",
    )  # fmt: skip
    pack: Literal["default"] | None = Field(
        default=None, description="Replay a shipped pack instead of the stored rules."
    )
    start: datetime = Field(alias="from", description="Replay from this time (UTC if no offset).")
    end: datetime | None = Field(
        default=None, alias="to", description="Replay up to this time (default: now)."
    )
    step: Step = Field(default="week", description="Evaluate at every week or month boundary.")
    miss_below: float = Field(
        default=1.0, gt=0, le=10, description="A quota period is missed below this attainment."
    )


class Progress(BaseModel):
    steps_done: int
    steps_total: int


class ScoreView(BaseModel):
    """One rule's scores, or the pack's (``rule_key`` "pack": flagged only when a
    manager really got a coaching task, after budgets and cadence)."""

    rule_key: str
    rep_periods: int
    misses: int
    flagged: int
    recall: float | None
    precision: float | None
    median_lead_days: float | None
    findings_per_manager_week: float
    tasks_per_manager_week: float


class ChainView(BaseModel):
    """How an activity or objective went with quota attainment across the org."""

    rule_key: str
    rep_periods: int
    with_result: float | None
    early_with_result: float | None


class Scores(BaseModel):
    evaluations: int
    seconds: float
    rep_periods: int
    misses: int
    miss_below: float
    scores: list[ScoreView] = Field(description="The pack first, then each rule.")
    chains: list[ChainView] = Field(description="Org-wide correlations with attainment.")


class BacktestJobView(BaseModel):
    id: str
    state: JobState
    connection_id: int
    rules: list[str]
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    step: Step
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    error: str | None = Field(description="Why it failed, when it did.")
    result: Scores | None = Field(description="The scores, once it succeeded.")


class VariantView(BaseModel):
    label: str
    strictness: float
    standard_min: float | None
    standard_max: float | None
    drift_k: int
    drift_n: int
    recall: float | None
    precision: float | None
    false_alarm_rate: float | None
    median_lead_days: float | None
    flagged: int


class SuggestionView(BaseModel):
    rule_key: str
    connection_id: int
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    false_alarm_budget: float
    tried: int
    current: VariantView
    best: VariantView | None = Field(description="None: no variant stays within the budget.")


def in_utc(moment: datetime, field: str) -> datetime:
    """``moment`` as UTC (naive: taken as UTC), inside the supported calendar."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        message = f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}"
        raise invalid("a date is out of range", [FieldProblem(field=field, message=message)])
    return aware.astimezone(UTC)


def scores_view(backtest: Backtest) -> Scores:
    scores = backtest.scores
    return Scores(
        evaluations=len(backtest.replay.steps), seconds=round(backtest.seconds, 3),
        rep_periods=scores.pack.rep_periods, misses=scores.pack.misses,
        miss_below=scores.miss_below,
        scores=[_score(score) for score in (scores.pack, *scores.rules)],
        chains=[_chain(chain) for chain in backtest.chains if chain.team is None],
    )  # fmt: skip


def suggestion_view(
    suggestion: Suggestion, connection_id: int, start: datetime, end: datetime
) -> SuggestionView:
    best = suggestion.best
    return SuggestionView(
        rule_key=suggestion.rule_key, connection_id=connection_id, start=start, end=end,
        false_alarm_budget=suggestion.budget, tried=suggestion.tried,
        current=_variant(suggestion.current), best=None if best is None else _variant(best),
    )  # fmt: skip


def _score(score: Score) -> ScoreView:
    return ScoreView(
        rule_key=score.rule_key, rep_periods=score.rep_periods, misses=score.misses,
        flagged=score.flagged, recall=finite(score.recall), precision=finite(score.precision),
        median_lead_days=finite(score.median_lead_days),
        findings_per_manager_week=finite(score.findings_per_manager_week) or 0.0,
        tasks_per_manager_week=finite(score.tasks_per_manager_week) or 0.0,
    )  # fmt: skip


def _chain(chain: Chain) -> ChainView:
    return ChainView(rule_key=chain.rule_key, rep_periods=chain.rep_periods,
                     with_result=finite(chain.with_result),
                     early_with_result=finite(chain.early_with_result))  # fmt: skip


def _variant(scored: Scored) -> VariantView:
    variant, score = scored.variant, scored.score
    standard = variant.rule.document.standard
    return VariantView(
        label=variant.label, strictness=variant.strictness,
        standard_min=finite(standard.min), standard_max=finite(standard.max),
        drift_k=variant.k, drift_n=variant.n, recall=finite(score.recall),
        precision=finite(score.precision), false_alarm_rate=finite(scored.false_alarm_rate),
        median_lead_days=finite(score.median_lead_days), flagged=score.flagged,
    )  # fmt: skip


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: None instead."""
    return None if value is None or not math.isfinite(value) else value
