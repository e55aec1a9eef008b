"""Scorecards as the API shows them: per rep, every indicator its enabled rules judge,
with the value, the standard and how it was derived, whether it drifts or has a live
finding, and the last periods' values.

Everything comes from the rules core's judgement (:mod:`service.api.assessment_views`):
the scorecard cells say what drifts, the assessments' points say which values and
standards the periods had. A deal rule without a roll-up counts the rep's deals that
drift, as the core's scorecard does; one with a roll-up shows the rep's count of deals
outside the standard against the roll-up's limit, as its findings do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from rules.assessment import Assessment, PeriodPoint, RuleAssessment
from rules.documents import VersionedRule
from rules.drift import Bounds
from rules.formatting import finite, format_value
from rules.intents import LiveFinding
from rules.metrics import SubjectKind
from rules.periods import period_label
from rules.scorecard import ScoreCell, ScoreRow
from service.api.assessment_views import Judgement

Status = Literal["ok", "drifting", "finding_open", "held_back"]


class Standard(BaseModel):
    min: float | None
    max: float | None


class PeriodValue(BaseModel):
    label: str
    start: datetime
    end: datetime
    value: float | None
    standard: Standard | None
    outside: bool = Field(description="Outside the standard by more than the tolerance.")


class FindingRef(BaseModel):
    id: int
    state: str
    severity: str
    deal_crm_id: str | None


class Indicator(BaseModel):
    rule_key: str
    rule_name: str
    rule_version: int
    level: str
    subject_kind: Literal["rep", "deal"]
    rolled_up: bool = Field(description="A deal rule judged per rep (its roll-up).")
    status: Status
    value: float | None = Field(description="The latest period's (deal rules: a count).")
    value_text: str
    standard: Standard | None
    derivation: str | None = Field(description="How the standard came about, in words.")
    drift_reason: Literal["sustained", "trend"] | None
    severity: str | None
    deals_drifting: int | None = Field(description="Deal rules without a roll-up.")
    findings: list[FindingRef] = Field(description="Live findings of this rule and rep.")
    held_back: str | None = Field(description="Why the rule was not judged (stale data).")
    periods: list[PeriodValue] = Field(description="The last periods asked for, oldest first.")


class RepScore(BaseModel):
    crm_id: str
    name: str
    team: str | None
    manager_crm_id: str | None
    judged: bool = Field(description="False for reps the rules do not judge: inactive, "
                         "managers, users who sell nothing.")  # fmt: skip
    indicators: list[Indicator]


class RepScorecard(BaseModel):
    connection_id: int
    as_of: datetime
    rep: RepScore
    invalid_rules: list[str] = Field(description="Stored rules that no longer validate.")


class TeamScorecard(BaseModel):
    connection_id: int
    as_of: datetime
    team: str
    reps: list[RepScore]
    invalid_rules: list[str]


def rep_score(judgement: Judgement, crm_id: str, name: str, periods: int) -> RepScore:
    """``crm_id``'s indicators; a rep the rules do not judge gets none."""
    row = next((r for r in judgement.scorecard.rows if r.rep_crm_id == crm_id), None)
    person = judgement.people.get(crm_id)
    manager = None if person is None else person.manager_crm_id
    if row is None:
        team = None if person is None else person.team
        return RepScore(crm_id=crm_id, name=name, team=team, manager_crm_id=manager,
                        judged=False, indicators=[])  # fmt: skip
    indicators = [
        indicator
        for rule in judgement.rules
        if (indicator := _indicator(judgement, rule, row, periods)) is not None
    ]
    return RepScore(crm_id=crm_id, name=row.rep_name, team=row.team, manager_crm_id=manager,
                    judged=True, indicators=indicators)  # fmt: skip


def team_scores(judgement: Judgement, team: str, periods: int) -> list[RepScore]:
    return [
        rep_score(judgement, row.rep_crm_id, row.rep_name, periods)
        for row in judgement.scorecard.rows
        if row.team == team
    ]


def _indicator(
    judgement: Judgement, rule: VersionedRule, row: ScoreRow, periods: int
) -> Indicator | None:
    """The rule's indicator for the row's rep; None when an override switches it off."""
    key, document = rule.key, rule.document
    base: dict[str, Any] = {
        "rule_key": key, "rule_name": document.name, "rule_version": rule.version,
        "level": document.level.value, "subject_kind": document.subject_kind.value,
        "rolled_up": document.rollup is not None,
    }  # fmt: skip
    if key in judgement.held:
        return Indicator(**base, status="held_back", value=None, value_text="n/a",
                         standard=None, derivation=None, drift_reason=None, severity=None,
                         deals_drifting=None, findings=[], held_back=judgement.held[key],
                         periods=[])  # fmt: skip
    cell = row.cells.get(key)
    if cell is None:
        return None
    findings = _findings(judgement.live, key, row.rep_crm_id)
    status: Status = "finding_open" if findings else "drifting" if cell.drifting else "ok"
    judged, history = judgement.judged[key], judgement.history.get(key)
    if document.subject_kind is SubjectKind.DEAL and document.rollup is None:
        pair = (judged, history)
        return _deal_indicator(base, cell, status, findings, pair, row.rep_crm_id, periods)
    mine = _of_rep(judged, row.rep_crm_id)
    if mine is None:
        return None
    earlier = None if history is None else _of_rep(history, row.rep_crm_id)
    standard = mine.standard
    verdict = mine.verdict
    return Indicator(
        **base,
        status=status,
        value=finite(mine.observed),
        value_text=format_value(mine.observed, mine.rule.document.value_format),
        standard=_bounds(mine.bounds),
        derivation=None if standard is None else standard.derivation,
        drift_reason=verdict.reason,
        severity=None if verdict.severity is None else verdict.severity.value,
        deals_drifting=None,
        findings=findings,
        held_back=None,
        periods=_periods(mine, earlier, periods),
    )


def _deal_indicator(  # noqa: PLR0917 - the pieces of one cell
    base: dict[str, Any],
    cell: ScoreCell,
    status: Status,
    findings: list[FindingRef],
    judged: tuple[RuleAssessment, RuleAssessment | None],
    crm_id: str,
    periods: int,
) -> Indicator:
    """A deal rule judged deal by deal: the count of the rep's drifting deals now, and
    per period the count of their deals outside the standard then."""
    now, history = judged
    deals = [a for a in now.assessments if a.rep.crm_id == crm_id]
    drifting = [a for a in deals if a.verdict.drifting]
    example = next((a.standard for a in (*drifting, *deals) if a.standard is not None), None)
    counts = _deal_counts(now, crm_id)
    if history is not None and len(counts) < periods:
        older = _deal_counts(history, crm_id)
        counts = older[: len(older) - len(counts)] + counts
    return Indicator(
        **base,
        status=status,
        value=cell.value,
        value_text=cell.text,
        standard=None,
        derivation=None if example is None else f"each deal held to {example.derivation}",
        drift_reason=None,
        severity=_worst([a.verdict.severity.value for a in drifting if a.verdict.severity]),
        deals_drifting=cell.deals_drifting,
        findings=findings,
        held_back=None,
        periods=counts[-periods:],
    )


def _deal_counts(judged: RuleAssessment, crm_id: str) -> list[PeriodValue]:
    """Per window period, how many of the rep's deals were outside the standard."""
    deals = [a for a in judged.assessments if a.rep.crm_id == crm_id]
    found = []
    for index, period in enumerate(judged.periods.window):
        count = sum(1 for deal in deals if deal.verdict.breaches[index] is not None)
        label = period_label(period, judged.periods.unit)
        found.append(PeriodValue(label=label, start=period.start, end=period.end,
                                 value=float(count), standard=None, outside=count > 0))  # fmt: skip
    return found


def _of_rep(judged: RuleAssessment, crm_id: str) -> Assessment | None:
    return next((a for a in judged.assessments if a.subject.rep_crm_id == crm_id), None)


def _periods(now: Assessment, earlier: Assessment | None, wanted: int) -> list[PeriodValue]:
    """The last ``wanted`` periods: the window as judged, before it (when more are
    asked for than the window holds) as a window that long judges them."""
    points = list(zip(now.points, now.verdict.breaches, strict=True))
    if earlier is not None and len(points) < wanted:
        before = list(zip(earlier.points, earlier.verdict.breaches, strict=True))
        points = before[: len(before) - len(points)] + points
    return [_period(point, found is not None) for point, found in points[-wanted:]]


def _period(point: PeriodPoint, outside: bool) -> PeriodValue:
    bounds = None if point.standard is None else point.standard.bounds
    return PeriodValue(label=point.label, start=point.period.start, end=point.period.end,
                       value=finite(point.value), standard=_bounds(bounds),
                       outside=outside)  # fmt: skip


def _bounds(bounds: Bounds | None) -> Standard | None:
    if bounds is None:
        return None
    return Standard(min=finite(bounds.minimum), max=finite(bounds.maximum))


def _findings(live: Sequence[LiveFinding], rule_key: str, crm_id: str) -> list[FindingRef]:
    return [
        FindingRef(id=int(f.id), state=f.state, severity=f.severity.value,
                   deal_crm_id=f.subject.deal_crm_id)
        for f in live
        if f.rule_key == rule_key and f.subject.rep_crm_id == crm_id
    ]  # fmt: skip


def _worst(severities: list[str]) -> str | None:
    order = ("low", "medium", "high")
    return max(severities, key=order.index) if severities else None
