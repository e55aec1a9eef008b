"""What the command line prints of a sync and of an evaluation (also the demo's output)."""

from __future__ import annotations

from typing import Any

from rules.intents import OpenFinding, ResolveFinding
from service.evaluation.run import EvaluationResult
from service.sync.pipeline import SyncReport


def format_report(name: str, report: SyncReport) -> str:
    """A per-stream table and the run's status and API calls."""
    lines = [f"{name}: {report.status} ({'full' if report.full else 'incremental'})"]
    lines.append(f"  {'stream':<22}{'status':<11}{'read':>9}{'upserted':>10}{'deleted':>9}")
    for stream in report.streams:
        counts = stream.counts
        lines.append(
            f"  {stream.stream:<22}{stream.status:<11}{counts.records_read:>9}"
            f"{counts.records_upserted:>10}{counts.records_deleted:>9}"
            + (f"  {stream.error}" if stream.error else "")
        )
    usage = report.usage
    if usage is not None:
        daily = f", daily usage {usage.daily_used}/{usage.daily_limit}" if usage.daily_limit else ""
        lines.append(f"  API calls {usage.calls} (retries {usage.retries}){daily}")
    return "\n".join(lines)


def format_evaluation(name: str, result: EvaluationResult, *, limit: int = 12) -> str:
    """Scorecard, then the findings opened and resolved with their evidence."""
    plan, applied = result.plan, result.applied
    verb = "would" if result.dry_run else "did"
    lines = [
        f"== {name}: evaluation as of {result.as_of:%Y-%m-%d %H:%M} UTC"
        + (" (dry run: nothing stored)" if result.dry_run else ""),
        plan.scorecard.render(),
        "",
        f"findings: {verb} open {len(applied.opened)}, escalate {len(applied.escalated)},"
        f" resolve {len(applied.resolved)}; {applied.kept + applied.refreshed} still open;"
        f" coaching tasks queued {applied.tasks_queued} ({len(plan.deferred)} deferred by"
        f" managers' weekly budgets); webhook events {applied.events_queued}",
    ]
    opened = plan.of_type(OpenFinding)
    for intent in opened[:limit]:
        lines.append(describe_finding(intent.evidence))
    if len(opened) > limit:
        lines.append(f"  ... and {len(opened) - limit} more")
    for resolved in plan.of_type(ResolveFinding)[:limit]:
        lines.append(f"  resolved {resolved.rule_key} for {resolved.subject}: {resolved.reason}")
    for key, reason in result.held_back.items():
        lines.append(f"  not judged {key}: data missing ({reason})")
    if result.invalid_rules:
        lines.append(f"skipped rules that no longer validate: {', '.join(result.invalid_rules)}")
    return "\n".join(lines)


def describe_finding(evidence: Any) -> str:
    """Two lines from a finding's evidence: who, what, how far off, and the trend."""
    subject = evidence.get("subject", {})
    who = subject.get("rep_name") or subject.get("rep_crm_id")
    if subject.get("deal_crm_id"):
        deals = evidence.get("deals") or [{}]
        deal: dict[str, Any] = deals[0] or {}
        who = f"{who} / {deal.get('name') or subject['deal_crm_id']}"
    drift = evidence.get("drift", {})
    standard = evidence.get("standard", {})
    return (
        f"  [{drift.get('severity')}] {evidence.get('rule', {}).get('key')}: {who}:"
        f" {evidence.get('observed_text')} vs {standard.get('text')}"
        f" ({standard.get('derivation')})\n"
        f"      {evidence.get('sparkline', '')}  {drift.get('breaches')}/{drift.get('periods')}"
        f" periods outside; drives {evidence.get('drives')}"
    )
