"""What the command line prints of a sync and of an evaluation (also the demo's output)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rules.backtest_tuning import Suggestion
from rules.formatting import correlation_text, days_text, share_text
from rules.intents import OpenFinding, ResolveFinding
from service.backtest.run import Backtest
from service.evaluation.run import EvaluationResult
from service.store.plan_writer import AppliedPlan
from service.store.tables import QuarantinedRecord
from service.sync.pipeline import SyncReport


def format_report(name: str, report: SyncReport) -> str:
    """A per-stream table and the run's status and API calls."""
    lines = [f"{name}: {report.status} ({'full' if report.full else 'incremental'})"]
    lines.append(
        f"  {'stream':<22}{'status':<11}{'read':>9}{'upserted':>10}{'deleted':>9}"
        f"{'quarantined':>13}"
    )
    for stream in report.streams:
        counts = stream.counts
        lines.append(
            f"  {stream.stream:<22}{stream.status:<11}{counts.records_read:>9}"
            f"{counts.records_upserted:>10}{counts.records_deleted:>9}"
            f"{counts.records_quarantined:>13}" + (f"  {stream.error}" if stream.error else "")
        )
    usage = report.usage
    if usage is not None:
        daily = f", daily usage {usage.daily_used}/{usage.daily_limit}" if usage.daily_limit else ""
        lines.append(f"  API calls {usage.calls} (retries {usage.retries}){daily}")
    held = sum(report.held.values())
    if held:
        streams = ", ".join(f"{name} {count}" for name, count in sorted(report.held.items()))
        lines.append(
            f"  {held} records held in quarantine ({streams}): "
            "'driftcoach sync --quarantined' lists them"
        )
    return "\n".join(lines)


def format_quarantine(entries: Sequence[QuarantinedRecord], names: Mapping[int, str]) -> str:
    """One line per held record: where it came from, since when, how often tried, why."""
    if not entries:
        return "no records in quarantine"
    lines = [f"{'connection':<18}{'stream':<22}{'crm id':<24}{'since':<18}{'tries':>6}  reason"]
    for entry in entries:
        crm_id = entry.crm_id if len(entry.crm_id) <= 22 else entry.crm_id[:21] + "\u2026"
        since = entry.first_seen_at.strftime("%Y-%m-%d %H:%M")
        lines.append(
            f"{names.get(entry.connection_id, str(entry.connection_id)):<18}"
            f"{entry.stream:<22}{crm_id:<24}{since:<18}{entry.attempts:>6}  {entry.reason}"
        )
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
        f" ease {len(applied.eased)}, resolve {len(applied.resolved)};"
        f" {applied.refreshed - len(applied.eased)} refreshed, {applied.kept} unchanged;"
        f" {_live_after(applied)} live after this run",
        f"tasks: {verb} queue {applied.tasks_queued - applied.hygiene_queued} coaching for"
        f" managers and {applied.hygiene_queued} deal hygiene for reps ({len(plan.deferred)}"
        f" deferred by weekly budgets); webhook events: {applied.events_queued}",
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


def _live_after(applied: AppliedPlan) -> int:
    """Open or snoozed once the plan is applied, of the findings it judged."""
    return len(applied.opened) + len(applied.escalated) + applied.refreshed + applied.kept


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


def format_backtest(name: str, backtest: Backtest) -> str:
    """The scores, the pack first, then each rule; then how each activity went with
    the result across the org."""
    steps = backtest.replay.steps
    scores = backtest.scores
    missed = scores.pack.misses
    lines = [
        f"{name}: {len(steps)} evaluations from {backtest.start:%Y-%m-%d} to "
        f"{backtest.end:%Y-%m-%d} in {backtest.seconds:.1f} s; {scores.pack.rep_periods} "
        f"rep-quarters scored, {missed} missed (attainment below {scores.miss_below:.0%})",
        f"  {'rule':<30}{'flagged':>8}{'recall':>8}{'precision':>10}{'lead days':>10}"
        f"{'findings/mw':>12}{'tasks/mw':>9}",
    ]
    if not scores.pack.rep_periods:
        lines.append(
            "  no quota period of a rep with a quota ended in this range: recall and "
            "precision need quotas (Salesforce forecasting quotas, HubSpot revenue goals)"
        )
    for score in (scores.pack, *scores.rules):
        lines.append(
            f"  {score.rule_key:<30}{score.flagged:>8}{share_text(score.recall):>8}"
            f"{share_text(score.precision):>10}{days_text(score.median_lead_days):>10}"
            f"{score.findings_per_manager_week:>12.2f}{score.tasks_per_manager_week:>9.2f}"
        )
    org_wide = [chain for chain in backtest.chains if chain.team is None]
    if org_wide:
        lines.append(
            "  activity / objective -> result (correlation with attainment, whole period / "
            "first half; an activity's strongest objective)"
        )
        for chain in org_wide:
            linked = [(key, r) for key, r in chain.with_objectives if r is not None]
            strongest = max(linked, key=lambda pair: abs(pair[1]), default=None)
            objective = (
                "" if strongest is None else f"  {strongest[0]} {correlation_text(strongest[1])}"
            )
            whole, early = (
                correlation_text(r) for r in (chain.with_result, chain.early_with_result)
            )
            lines.append(
                f"  {chain.rule_key:<30}{whole:>8}{early:>8}"
                f"  over {chain.rep_periods} rep-periods{objective}"
            )
    for suggestion in backtest.suggestions:
        lines.extend(format_suggestion(suggestion))
    return "\n".join(lines)


def format_suggestion(suggestion: Suggestion) -> list[str]:
    """The current policy and the suggested one, with the same scores."""
    lines = [
        f"  {suggestion.rule_key}: {suggestion.tried} variants tried, false alarms within "
        f"{suggestion.budget:.0%}"
    ]
    rows = [("current", suggestion.current)]
    if suggestion.best is not None:
        rows.append(("suggested", suggestion.best))
    for name, scored in rows:
        score = scored.score
        lines.append(
            f"    {name:<10}{scored.variant.label:<34}recall {share_text(score.recall):>5}  "
            f"precision {share_text(score.precision):>5}  false alarms "
            f"{share_text(scored.false_alarm_rate):>5}  lead {days_text(score.median_lead_days)} d"
        )
    if suggestion.best is None:
        lines.append("    no variant stays within the false-alarm budget")
    return lines
