"""``driftcoach rules history|diff|enable|disable|delete``: what the API does to a rule,
from the command line (the actor in the audit log is ``cli``)."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.rule_commands import rules_app
from service.cli.support import fail, settings_of

KeyArgument = Annotated[str, typer.Argument(help="The rule's key.")]


@rules_app.command("history")
def history_command(ctx: typer.Context, key: KeyArgument) -> None:
    """Every version of a rule, newest first, with its author and time."""
    from service.store import Store
    from service.store.stored_rules import find_rule, rule_versions

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            rule = find_rule(session, key, archived=True)
            if rule is None:
                raise fail(f"no rule {key!r}")
            lines = [
                f"v{v.version:<4} {v.created_at:%Y-%m-%d %H:%M}  {v.created_by or '-':<24}"
                f"{' (current)' if v.version == rule.current_version else ''}"
                for v in reversed(rule_versions(session, rule))
            ]
            if rule.archived_at is not None:
                lines.insert(0, f"archived {rule.archived_at:%Y-%m-%d %H:%M}")
    finally:
        store.dispose()
    typer.echo("\n".join(lines))


@rules_app.command("diff")
def diff_command(
    ctx: typer.Context,
    key: KeyArgument,
    from_version: Annotated[int, typer.Option("--from", min=1, help="The older version.")],
    to_version: Annotated[
        int | None, typer.Option("--to", min=1, help="The newer one (default: current).")
    ] = None,
) -> None:
    """What changed between two versions, field by field."""
    from service.api.diff import diff_documents
    from service.store import Store
    from service.store.stored_rules import find_rule, rule_version

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            rule = find_rule(session, key, archived=True)
            if rule is None:
                raise fail(f"no rule {key!r}")
            to = to_version or rule.current_version
            before, after = (
                rule_version(session, rule, from_version),
                rule_version(session, rule, to),
            )
            if before is None or after is None:
                raise fail(f"rule {key!r} has no version {from_version if before is None else to}")
            changes = diff_documents(before.document, after.document)
    finally:
        store.dispose()
    typer.echo(f"{key}: v{from_version} -> v{to}")
    typer.echo("\n".join(f"  {c.path}: {c.before!r} -> {c.after!r}" for c in changes) or "  same")


@rules_app.command("enable")
def enable_command(ctx: typer.Context, key: KeyArgument) -> None:
    """Judge reps by the rule again (a new version)."""
    _switch(ctx, key, enabled=True)


@rules_app.command("disable")
def disable_command(ctx: typer.Context, key: KeyArgument) -> None:
    """Stop judging by the rule (a new version); its findings resolve at the next run."""
    _switch(ctx, key, enabled=False)


@rules_app.command("delete")
def delete_command(ctx: typer.Context, key: KeyArgument) -> None:
    """Archive the rule: its versions and findings stay; applying its key revives it."""
    from service.store import Store
    from service.store.stored_rules import archive_rule, find_rule

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            rule = find_rule(session, key)
            if rule is None:
                raise fail(f"no rule {key!r}")
            archive_rule(session, rule, actor="cli")
    finally:
        store.dispose()
    typer.echo(f"{key} archived")


def _switch(ctx: typer.Context, key: str, *, enabled: bool) -> None:
    from service.store import Store
    from service.store.stored_rules import apply_rule, find_rule, rule_version

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            rule = find_rule(session, key)
            current = None if rule is None else rule_version(session, rule)
            if current is None:
                raise fail(f"no rule {key!r}")
            applied = apply_rule(session, {**current.document, "enabled": enabled}, actor="cli")
    finally:
        store.dispose()
    state = "enabled" if enabled else "disabled"
    typer.echo(f"{key} {state} (v{applied.version}, {applied.outcome})")
