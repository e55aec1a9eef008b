"""``driftcoach rules ...`` and ``driftcoach evaluate``: load rule packs, judge the reps.

Kept apart from :mod:`service.cli` so the root command stays a table of contents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from rules.intents import OpenFinding, ResolveFinding
from service.cli_support import fail, settings_of
from service.evaluate import EvaluationResult, evaluate_connection
from service.rule_packs import PackError, default_pack_dir, load_pack
from service.store import Store
from service.store.connections import find_connection, list_connections
from service.store.models import Connection
from service.store.rules_repo import apply_rule, current_rules

rules_app = typer.Typer(help="The rules reps are judged by.", no_args_is_help=True)


@rules_app.command("apply")
def apply_command(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(help="A directory of YAML rule documents (default: the default pack)."),
    ] = None,
) -> None:
    """Validate every document of the pack, then store them (a new version per change)."""
    pack_dir = directory or default_pack_dir()
    try:
        pack = load_pack(pack_dir)
    except PackError as exc:
        raise fail(f"{pack_dir}: nothing applied:\n" + "\n".join(exc.problems)) from None
    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            for packed in pack:
                document = packed.document.model_dump(mode="json")
                applied = apply_rule(session, document, actor="cli")
                typer.echo(f"{applied.outcome:>9}  {applied.key} v{applied.version}")
    finally:
        store.dispose()


@rules_app.command("validate")
def validate_command(
    directory: Annotated[Path, typer.Argument(help="A directory of YAML rule documents.")],
) -> None:
    """Check a pack without storing it."""
    try:
        pack = load_pack(directory)
    except PackError as exc:
        raise fail(f"{directory}:\n" + "\n".join(exc.problems)) from None
    typer.echo(f"{len(pack)} rule documents, all valid")


@rules_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """The stored rules at their current versions."""
    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            for rule in current_rules(session, enabled_only=False):
                state = "enabled" if rule.enabled else "disabled"
                typer.echo(f"{rule.key}  v{rule.version}  {state}  {rule.document.get('name')}")
    finally:
        store.dispose()


_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]


def evaluate_command(
    ctx: typer.Context,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Only this connection (default: all).")
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of", help="Evaluate as of this UTC time (default: now).", formats=_FORMATS
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; store nothing.")
    ] = False,
) -> None:
    """Judge every rep against every rule; open and resolve findings, queue coaching."""
    moment = None if as_of is None else as_of.replace(tzinfo=as_of.tzinfo or UTC)
    store = Store.from_settings(settings_of(ctx))
    try:
        for target in _targets(store, connection):
            result = evaluate_connection(store, target.id, as_of=moment, dry_run=dry_run)
            typer.echo(format_evaluation(target.name, result))
    finally:
        store.dispose()


def _targets(store: Store, name: str | None) -> list[Connection]:
    with store.unit_of_work() as session:
        if name is None:
            targets = list_connections(session, enabled_only=True)
        else:
            found = find_connection(session, name)
            if found is None:
                raise fail(f"no connection named {name!r}")
            targets = [found]
    if not targets:
        raise fail("no connections: add one with `driftcoach connections add ...`")
    return targets


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
