"""The backtest as one static HTML file: scores, the activity -> result chain, and per
rep a timeline of each metric against its standard with findings, tasks and quota.

One self-contained page: inline CSS and inline SVG (:mod:`service.backtest.svg`), no
script, no font or image from anywhere, so it opens offline, prints, and can be mailed.
Every CRM string (rep, deal and rule names, task subjects) is escaped by the template
engine's autoescaping or, inside the SVG, by :mod:`markupsafe`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from rules.backtest import Step
from rules.backtest_scoring import Chain, QuotaOutcome
from rules.evaluation import CreateCoachingTask, OpenFinding, ResolveFinding
from rules.formatting import correlation_text, days_text, share_text
from rules.metrics import RepProfile, SubjectKey
from service.backtest import svg
from service.backtest.run import Backtest


@dataclass
class FindingRow:
    opened_at: datetime
    rule: str
    subject: str
    severity: str
    resolved_at: datetime | None = None


@dataclass
class OutcomeRow:
    period: str
    attainment: str
    missed: bool


@dataclass
class RepSection:
    profile: RepProfile
    manager: str
    outcomes: list[OutcomeRow] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    tasks: int = 0
    charts: list[tuple[str, Markup]] = field(default_factory=list)


def write_report(backtest: Backtest, path: Path, *, connection: str) -> None:
    path.write_text(render_report(backtest, connection=connection), encoding="utf-8")


def render_report(backtest: Backtest, *, connection: str) -> str:
    environment = Environment(
        loader=PackageLoader("service.backtest", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    scores = backtest.scores
    template = environment.get_template("report.html.j2")
    return template.render(
        connection=connection,
        backtest=backtest,
        steps=backtest.replay.steps,
        scores=[scores.pack, *scores.rules],
        rule_names=_rule_names(backtest),
        score_bars=svg.bars([(s.rule_key, s.recall, s.precision) for s in scores.rules]),
        chains=_chains_by_team(backtest.chains),
        reps=_rep_sections(backtest),
        share=share_text,
        days=days_text,
        correlation=correlation_text,
        missed=scores.missed,
    )


def _rule_names(backtest: Backtest) -> dict[str, str]:
    names = {rule.key: rule.document.name for rule in backtest.rules}
    names["pack"] = "All rules (the pack)"
    return names


def _chains_by_team(chains: Sequence[Chain]) -> list[tuple[str, list[Chain]]]:
    grouped: dict[str, list[Chain]] = defaultdict(list)
    for chain in chains:
        grouped["Whole org" if chain.team is None else chain.team].append(chain)
    return sorted(grouped.items(), key=lambda item: (item[0] != "Whole org", item[0]))


def _rep_sections(backtest: Backtest) -> list[RepSection]:
    steps = backtest.replay.steps
    profiles = _profiles(steps)
    names = {**backtest.names, **{crm_id: p.name for crm_id, p in profiles.items()}}
    sections = {
        crm_id: RepSection(profile, _manager(profile, names))
        for crm_id, profile in profiles.items()
    }
    outcomes_by_rep: dict[str, list[QuotaOutcome]] = defaultdict(list)
    for outcome in backtest.scores.outcomes:
        outcomes_by_rep[outcome.rep_crm_id].append(outcome)
    events = _events(steps, sections)
    for crm_id, section in sections.items():
        mine = outcomes_by_rep.get(crm_id, [])
        section.outcomes = [_outcome_row(o, backtest.scores.missed(o)) for o in mine]
        bands = [_band(o, backtest.scores.missed(o)) for o in mine]
        for rule in backtest.rules:
            points = _points(steps, crm_id, rule.key)
            if any(point.value is not None for point in points):
                title = f"{section.profile.name}: {rule.document.name}"
                chart = svg.timeline(points, events.get((crm_id, rule.key), []), bands, title)
                section.charts.append((rule.document.name, chart))
    relevant = [s for s in sections.values() if s.outcomes or s.findings or s.charts]
    return sorted(relevant, key=lambda s: (s.profile.team or "", s.profile.name))


def _manager(profile: RepProfile, names: Mapping[str, str]) -> str:
    manager = profile.manager_crm_id
    return "-" if manager is None else names.get(manager, manager)


def _profiles(steps: Sequence[Step]) -> dict[str, RepProfile]:
    """Each person as the latest step knew them; only reps a step judged."""
    judged = {row.rep_crm_id for step in steps for row in step.plan.scorecard.rows}
    profiles: dict[str, RepProfile] = {}
    for step in steps:
        for profile in step.reps:
            profiles[profile.crm_id] = profile
    managers = {p.manager_crm_id for p in profiles.values() if p.manager_crm_id}
    return {
        crm_id: profile
        for crm_id, profile in profiles.items()
        if crm_id in judged or crm_id in managers
    }


def _events(
    steps: Sequence[Step], sections: Mapping[str, RepSection]
) -> dict[tuple[str, str], list[svg.Event]]:
    """Markers per (rep, rule), and each rep's findings table and task count."""
    events: dict[tuple[str, str], list[svg.Event]] = defaultdict(list)
    open_rows: dict[tuple[str, SubjectKey], FindingRow] = {}
    for step in steps:
        for intent in step.plan.intents:
            if isinstance(intent, OpenFinding):
                rep = intent.subject.rep_crm_id
                subject = _subject_name(intent.subject, intent.evidence)
                row = FindingRow(step.as_of, intent.rule_key, subject, intent.severity.value)
                open_rows[intent.rule_key, intent.subject] = row
                if rep in sections:
                    sections[rep].findings.append(row)
                label = f"opened: {subject} ({intent.severity.value})"
                events[rep, intent.rule_key].append(svg.Event(step.as_of, "opened", label))
            elif isinstance(intent, ResolveFinding):
                known = open_rows.pop((intent.rule_key, intent.subject), None)
                if known is not None:
                    known.resolved_at = step.as_of
                rep = intent.subject.rep_crm_id
                label = f"resolved: {intent.reason}"
                events[rep, intent.rule_key].append(svg.Event(step.as_of, "resolved", label))
            elif isinstance(intent, CreateCoachingTask):
                rep = intent.rep_crm_id
                if rep in sections:
                    sections[rep].tasks += 1
                label = f"task: {intent.subject}"
                events[rep, intent.rule_key].append(svg.Event(step.as_of, "task", label))
    return events


def _subject_name(subject: SubjectKey, evidence: Mapping[str, Any]) -> str:
    """The deal a deal finding is about; for a rep, the deals behind the finding if
    any (a rolled-up deal rule's)."""
    deals = [d for d in evidence.get("deals") or [] if isinstance(d, Mapping)]
    if subject.deal_crm_id is None:
        names = [str(d.get("name") or d.get("crm_id")) for d in deals]
        return "the rep" + (f" (deals: {'; '.join(names)})" if names else "")
    for deal in deals:
        if deal.get("crm_id") == subject.deal_crm_id:
            return str(deal.get("name") or subject.deal_crm_id)
    return subject.deal_crm_id


def _points(steps: Sequence[Step], crm_id: str, rule_key: str) -> list[svg.Point]:
    points = []
    for step in steps:
        cell = step.plan.scorecard.cell(crm_id, rule_key)
        if cell is None:
            points.append(svg.Point(step.as_of, None))
            continue
        bounds = cell.standard
        minimum = None if bounds is None else bounds.minimum
        maximum = None if bounds is None else bounds.maximum
        value = None if cell.deals_drifting is not None else cell.value
        points.append(svg.Point(step.as_of, value, minimum, maximum))
    return points


def _outcome_row(outcome: QuotaOutcome, missed: bool) -> OutcomeRow:
    period = f"{outcome.period_start:%Y-%m-%d} to {outcome.period_end:%Y-%m-%d}"
    return OutcomeRow(period, share_text(outcome.attainment), missed)


def _band(outcome: QuotaOutcome, missed: bool) -> svg.Band:
    label = f"{outcome.period_start:%b %Y}: {share_text(outcome.attainment)} of quota"
    return svg.Band(outcome.starts_at, outcome.ends_at, missed, label)
