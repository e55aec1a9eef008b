"""Evidence: why a finding exists, attached to the finding, its coaching task and its alert.

A manager acting on a task, and a rep reading it, should not need driftcoach open: the
evidence carries the metric, the standard and how it was derived, the recent values with a
sparkline, the team median, the deals behind the number, the objective the indicator
drives, the rep's quota gap and how fresh the data is. Everything is JSON-ready.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.assessment import Assessment
from rules.documents import Level
from rules.drift import Bounds
from rules.formatting import describe_bounds, finite, format_value, sparkline
from rules.metrics import DealProfile, MetricSeries, Observation
from rules.series import quota_pace

TOP_DEALS = 5
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class EvidenceContext:
    """Facts shared by every piece of evidence in one evaluation."""

    as_of: datetime
    data_as_of: datetime | None
    deals: Mapping[str, DealProfile]
    quota_gaps: Mapping[str, Mapping[str, Any]]
    #: Per rep, the objectives and results their activities drive, as judged in the same
    #: evaluation (:func:`indicator_context`): the context of an activity finding.
    indicators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def deals_involved(assessment: Assessment) -> tuple[str, ...]:
    """The deal itself for a deal finding, else the deals behind the latest value."""
    ids: list[str] = []
    if assessment.subject.deal_crm_id is not None:
        ids.append(assessment.subject.deal_crm_id)
    latest = next((p.observation for p in reversed(assessment.points) if p.observation), None)
    if latest is not None:
        ids.extend(deal for deal in latest.deals if deal not in ids)
    return tuple(ids[:TOP_DEALS])


def build_evidence(assessment: Assessment, context: EvidenceContext) -> dict[str, Any]:
    evidence = evidence_body(assessment, context.as_of)
    complete_evidence(evidence, assessment, context)
    return evidence


def evidence_body(assessment: Assessment, as_of: datetime) -> dict[str, Any]:
    """Everything the assessment alone tells. ``deals``, ``quota_gap`` and
    ``data_as_of`` are held empty until :func:`complete_evidence` fills them: an
    evaluation knows them only after every rule is judged, and builds the rest while
    later rules' metrics are still being read."""
    document = assessment.rule.document
    fmt = document.value_format
    verdict = assessment.verdict
    values = [point.value for point in assessment.points]
    return {
        "rule": {
            "key": document.key,
            "version": assessment.rule.version,
            "name": document.name,
            "level": document.level.value,
        },
        "drives": document.drives,
        "metric": document.metric.model_dump(mode="json", exclude={"subject_kind", "shape"}),
        "subject": {
            "rep_crm_id": assessment.rep.crm_id,
            "rep_name": assessment.rep.name,
            "deal_crm_id": assessment.subject.deal_crm_id,
        },
        "value_format": fmt,
        "observed": finite(assessment.observed),
        "observed_text": format_value(assessment.observed, fmt),
        "standard": _standard(assessment),
        "drift": {
            "drifting": verdict.drifting,
            "reason": verdict.reason,
            "severity": None if verdict.severity is None else verdict.severity.value,
            "gap": finite(verdict.gap),
            "breaches": sum(found is not None for found in verdict.breaches),
            "periods": len(verdict.breaches),
        },
        "periods": _periods(assessment),
        "sparkline": sparkline(values),
        "team_median": finite(assessment.latest.team_median),
        "deals": [],
        "quota_gap": UNKNOWN,
        "context": [],
        "data_as_of": None,
        "evaluated_at": as_of.isoformat(),
    }


def complete_evidence(
    evidence: dict[str, Any], assessment: Assessment, context: EvidenceContext
) -> None:
    """Fill in what :func:`evidence_body` held empty (its keys keep their places)."""
    evidence["deals"] = [
        _deal(deal, context.deals.get(deal)) for deal in deals_involved(assessment)
    ]
    evidence["quota_gap"] = dict(context.quota_gaps.get(assessment.rep.crm_id, {})) or UNKNOWN
    if assessment.rule.document.level is Level.ACTIVITY:
        evidence["context"] = [dict(i) for i in context.indicators.get(assessment.rep.crm_id, ())]
    evidence["data_as_of"] = None if context.data_as_of is None else context.data_as_of.isoformat()


def _standard(assessment: Assessment) -> dict[str, Any] | None:
    standard = assessment.standard
    if standard is None:
        return None
    return {
        "min": finite(standard.bounds.minimum),
        "max": finite(standard.bounds.maximum),
        "basis": standard.basis.value,
        "text": describe_bounds(standard.bounds, assessment.rule.document.value_format),
        "derivation": standard.derivation,
    }


def _periods(assessment: Assessment) -> list[dict[str, Any]]:
    rows = []
    for point, found in zip(assessment.points, assessment.verdict.breaches, strict=True):
        bounds = Bounds(None, None) if point.standard is None else point.standard.bounds
        rows.append(
            {
                "label": point.label,
                "start": point.period.start.isoformat(),
                "end": point.period.end.isoformat(),
                "value": finite(point.value),
                "min": finite(bounds.minimum),
                "max": finite(bounds.maximum),
                "breach": found is not None,
            }
        )
    return rows


def _deal(crm_id: str, deal: DealProfile | None) -> dict[str, Any]:
    if deal is None:
        return {"crm_id": crm_id, "name": None}
    return {
        "crm_id": crm_id,
        "name": deal.name,
        "amount": finite(deal.amount),
        "stage": deal.stage,
        "close_date": None if deal.close_date is None else deal.close_date.isoformat(),
    }


def indicator_context(
    assessments: Iterable[Assessment], reps: Set[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each of ``reps``, each objective and result rule's latest value against its
    standard, from the rep-level ``assessments`` of one evaluation: what the rep's
    activities drive. Only the reps with activity evidence are asked for: a large org
    has thousands of rep assessments and few findings."""
    found: dict[str, list[dict[str, Any]]] = {}
    for assessment in assessments:
        document = assessment.rule.document
        if (
            document.level is Level.ACTIVITY
            or assessment.subject.deal_crm_id is not None
            or assessment.rep.crm_id not in reps
        ):
            continue
        bounds, fmt = assessment.bounds, document.value_format
        found.setdefault(assessment.rep.crm_id, []).append(
            {
                "rule_key": document.key,
                "name": document.name,
                "level": document.level.value,
                "observed": finite(assessment.observed),
                "observed_text": format_value(assessment.observed, fmt),
                "standard_text": None if bounds is None else describe_bounds(bounds, fmt),
                "outside": assessment.verdict.breaches[-1] is not None,
                "drifting": assessment.verdict.drifting,
            }
        )
    return found


def quota_gaps(
    pace: MetricSeries | None, coverage: MetricSeries | None, at: datetime
) -> dict[str, dict[str, Any]]:
    """Per rep, the quota gap from the latest quota-pace (preferred) or coverage value."""
    gaps: dict[str, dict[str, Any]] = {}
    for source, series in (("pipeline_coverage", coverage), ("quota_pace", pace)):
        for key, observations in (series or {}).items():
            latest = observations[-1] if observations else None
            if key.deal_crm_id is None and latest is not None:
                facts = _quota_facts(source, latest, at)
                if facts is not None:
                    gaps[key.rep_crm_id] = facts
    return gaps


def _quota_facts(source: str, observation: Observation, at: datetime) -> dict[str, Any] | None:
    parts = observation.parts
    quota = parts.get("quota")
    if quota is None:
        return None
    won = parts.get("won_amount", 0.0)
    facts: dict[str, Any] = {
        "source": source,
        "quota": finite(quota),
        "won": finite(won),
        "remaining": finite(quota - won),
    }
    if source == "quota_pace":
        facts["weighted_open"] = finite(parts.get("weighted_open"))
        facts["pace"] = finite(quota_pace(observation, at))
        facts["quota_period_start"] = _iso(observation.period_start)
        facts["quota_period_end"] = _iso(observation.period_end)
    else:
        facts["open_pipeline"] = finite(parts.get("open_amount"))
        facts["coverage"] = finite(observation.value)
    return facts


def _iso(day: Any) -> str | None:
    return None if day is None else str(day.isoformat())


def summarise(evidence: Mapping[str, Any]) -> str:
    """The evidence as a few plain lines for a CRM task body."""
    fmt = evidence["value_format"]
    recent = ", ".join(f"{p['label']} {format_value(p['value'], fmt)}" for p in evidence["periods"])
    lines = [
        f"Now: {evidence['observed_text']}; standard: {_standard_text(evidence)}",
        f"Recent periods: {recent}  {evidence['sparkline']}",
        f"Team median: {format_value(evidence['team_median'], fmt)}",
    ]
    deals = [d.get("name") or d["crm_id"] for d in evidence["deals"]]
    if deals:
        lines.append("Deals: " + "; ".join(deals))
    lines.append(f"Drives: {evidence['drives']}; quota gap: {_quota_text(evidence['quota_gap'])}")
    context = [_indicator_text(i) for i in evidence.get("context", ())]
    if context:
        lines.append("Where it shows: " + "; ".join(context))
    rule = evidence["rule"]
    lines.append(
        f"Data as of {evidence['data_as_of'] or UNKNOWN}; rule {rule['key']} v{rule['version']}"
    )
    return "\n".join(lines)


def _indicator_text(indicator: Mapping[str, Any]) -> str:
    standard = indicator["standard_text"] or "no standard this period"
    where = "outside" if indicator["outside"] else "inside"
    return f"{indicator['name']} {indicator['observed_text']} ({standard}; {where})"


def _standard_text(evidence: Mapping[str, Any]) -> str:
    standard = evidence["standard"]
    return "not measurable" if standard is None else str(standard["derivation"])


def _quota_text(gap: Any) -> str:
    if not isinstance(gap, Mapping):
        return UNKNOWN
    remaining = format_value(gap.get("remaining"), "currency")
    text = f"{remaining} of {format_value(gap.get('quota'), 'currency')} to go"
    if gap.get("pace") is not None:
        text += f", pace {format_value(gap['pace'], 'percent')}"
    return text
