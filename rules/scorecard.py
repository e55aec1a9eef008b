"""The team scorecard: reps down the side, indicators across, drifting cells marked.

It is what a manager looks at on Monday morning: where each rep stands on each leading
indicator against their own standard. For deal rules a rep's cell counts the rep's
drifting deals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rules.assessment import Assessment, RuleAssessment
from rules.drift import Bounds
from rules.formatting import format_value
from rules.metrics import RepProfile, SubjectKind

DRIFT_MARK = "!"


@dataclass(frozen=True, slots=True)
class ScoreCell:
    value: float | None
    text: str
    standard: Bounds | None
    drifting: bool
    deals_drifting: int | None = None


@dataclass(frozen=True, slots=True)
class ScoreRow:
    rep_crm_id: str
    rep_name: str
    team: str | None
    cells: Mapping[str, ScoreCell]


@dataclass(frozen=True, slots=True)
class Scorecard:
    rule_keys: tuple[str, ...]
    rows: tuple[ScoreRow, ...]

    def cell(self, rep_crm_id: str, rule_key: str) -> ScoreCell | None:
        for row in self.rows:
            if row.rep_crm_id == rep_crm_id:
                return row.cells.get(rule_key)
        return None

    def render(self) -> str:
        """A fixed-width text table; drifting cells end in ``!``."""
        header = ["rep", "team", *self.rule_keys]
        lines = [header]
        for row in self.rows:
            cells = [_cell_text(row.cells.get(key)) for key in self.rule_keys]
            lines.append([row.rep_name, row.team or "-", *cells])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )


def _cell_text(cell: ScoreCell | None) -> str:
    if cell is None:
        return "-"
    return f"{cell.text}{DRIFT_MARK}" if cell.drifting else cell.text


def build_scorecard(judged: Sequence[RuleAssessment], reps: Mapping[str, RepProfile]) -> Scorecard:
    cells: dict[str, dict[str, ScoreCell]] = {crm_id: {} for crm_id in reps}
    for rule_assessment in judged:
        key = rule_assessment.rule.key
        document = rule_assessment.rule.document
        if document.subject_kind is SubjectKind.DEAL and document.rollup is None:
            for crm_id, cell in _deal_cells(rule_assessment, reps).items():
                cells[crm_id][key] = cell
            continue
        for assessment in rule_assessment.assessments:
            cells[assessment.rep.crm_id][key] = _rep_cell(assessment)
    rows = [
        ScoreRow(rep.crm_id, rep.name, rep.team, cells[rep.crm_id])
        for rep in sorted(reps.values(), key=lambda r: (r.team or "", r.name, r.crm_id))
    ]
    return Scorecard(tuple(r.rule.key for r in judged), tuple(rows))


def _rep_cell(assessment: Assessment) -> ScoreCell:
    """A rep's value; for a rolled-up deal rule, the rep's count of deals outside the
    standard (judged against the rule's limit), not one cell per deal."""
    document = assessment.rule.document
    text = format_value(assessment.observed, document.value_format)
    rolled_up = document.rollup is not None
    return ScoreCell(
        value=assessment.observed,
        text=f"{text} deals" if rolled_up else text,
        standard=assessment.bounds,
        drifting=assessment.verdict.drifting,
        deals_drifting=int(assessment.observed or 0) if rolled_up else None,
    )


def _deal_cells(
    rule_assessment: RuleAssessment, reps: Mapping[str, RepProfile]
) -> dict[str, ScoreCell]:
    counts = dict.fromkeys(reps, 0)
    for assessment in rule_assessment.assessments:
        if assessment.verdict.drifting:
            counts[assessment.rep.crm_id] += 1
    return {
        crm_id: ScoreCell(
            value=float(count),
            text=f"{count} deals",
            standard=None,
            drifting=count > 0,
            deals_drifting=count,
        )
        for crm_id, count in counts.items()
        if crm_id not in rule_assessment.disabled_reps
    }
