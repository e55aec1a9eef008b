"""``driftcoach rules ...`` and ``driftcoach evaluate``: load rule packs, judge the reps.

The rules core and the store are imported when a command runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.support import connection_targets, fail, settings_of

if TYPE_CHECKING:
    pass

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
    from service.evaluation.packs import PackError, default_pack_dir, load_pack
    from service.store import Store
    from service.store.stored_rules import apply_rule

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
    from service.evaluation.packs import PackError, load_pack

    try:
        pack = load_pack(directory)
    except PackError as exc:
        raise fail(f"{directory}:\n" + "\n".join(exc.problems)) from None
    typer.echo(f"{len(pack)} rule documents, all valid")


@rules_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """The stored rules at their current versions."""
    from service.store import Store
    from service.store.stored_rules import current_rules

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
    from service.cli.reports import format_evaluation
    from service.evaluation.run import evaluate_connection
    from service.store import Store

    moment = None if as_of is None else as_of.replace(tzinfo=as_of.tzinfo or UTC)
    settings = settings_of(ctx)
    max_age = timedelta(hours=settings.max_data_age_hours)
    store = Store.from_settings(settings)
    blind: list[str] = []
    try:
        for target in connection_targets(store, connection):
            result = evaluate_connection(
                store,
                target.id,
                as_of=moment,
                dry_run=dry_run,
                max_data_age=max_age,
                settings=settings.evaluation_settings(),
            )
            typer.echo(format_evaluation(target.name, result))
            if result.judged_nothing:
                blind.append(target.name)
    finally:
        store.dispose()
    if blind:
        raise fail(f"nothing could be judged for {', '.join(blind)}: its data is missing")
