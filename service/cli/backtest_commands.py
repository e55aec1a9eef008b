"""``driftcoach backtest``: replay rules over a connection's history and score them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.support import fail, settings_of

if TYPE_CHECKING:
    from rules.documents import VersionedRule
    from service.store.engine import Store

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


def backtest_command(
    ctx: typer.Context,
    start: Annotated[
        datetime,
        typer.Option("--from", help="Replay from this UTC date.", formats=_FORMATS),
    ],
    end: Annotated[
        datetime | None,
        typer.Option("--to", help="Replay up to this UTC date (default: now).", formats=_FORMATS),
    ] = None,
    rules_dir: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="A directory of rule documents (default: the stored rules).",
            file_okay=False,
        ),
    ] = None,
    rule_keys: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Only this stored rule; repeatable."),
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="The connection (default: the only one)."),
    ] = None,
    every: Annotated[
        str, typer.Option("--every", help="Evaluate at every week or month boundary.")
    ] = "week",
    miss_below: Annotated[
        float,
        typer.Option("--miss-below", help="A quota period is missed below this attainment."),
    ] = 1.0,
    suggest: Annotated[
        list[str] | None,
        typer.Option(
            "--suggest",
            help="Also find the standard and drift that would have warned best for this rule; "
            "repeatable.",
        ),
    ] = None,
    false_alarms: Annotated[
        float,
        typer.Option(
            "--false-alarms",
            help="--suggest: the share of well-ending quota periods a rule may flag.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.2,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Also write the backtest as one HTML file here.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Replay rules over history, as of each week, and score them against quota."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from rules.backtest import replay_moments
    from rules.periods import PeriodUnit
    from service.backtest.run import run_backtest
    from service.cli.reports import format_backtest
    from service.store import Store

    if every not in ("week", "month"):
        raise fail(f"--every takes week or month, not {every!r}")
    first = start.replace(tzinfo=start.tzinfo or UTC)
    last = (end or datetime.now(UTC)).replace(tzinfo=(end.tzinfo if end else None) or UTC)
    if last <= first:
        raise fail("--to must be after --from")
    unit = PeriodUnit(every)
    settings = settings_of(ctx)
    store = Store.from_settings(settings)
    try:
        target_id, target_name = _connection(store, connection)
        rules = _rules(store, rules_dir, rule_keys)
        unknown = sorted(set(suggest or ()) - {rule.key for rule in rules})
        if unknown:
            raise fail(f"--suggest names a rule not replayed: {', '.join(unknown)}")
        steps = len(replay_moments(first, last, unit))
        if steps == 0:
            raise fail(f"no {every} boundary between --from and --to")
        with Progress(
            TextColumn("replaying {task.description}"), BarColumn(), MofNCompleteColumn(),
            transient=True, console=Console(stderr=True),
        ) as bar:  # fmt: skip
            task = bar.add_task(target_name, total=steps)
            result = run_backtest(
                store, target_id, rules, first, last, every=unit, miss_below=miss_below,
                settings=settings.evaluation_settings(),
                progress=lambda _moment: bar.advance(task), suggest_for=list(suggest or ()),
                false_alarm_budget=false_alarms,
            )  # fmt: skip
    finally:
        store.dispose()
    typer.echo(format_backtest(target_name, result))
    if report is not None:
        from service.backtest.report import write_report

        try:
            write_report(result, report, connection=target_name)
        except OSError as exc:
            raise fail(f"cannot write the report to {report}: {exc.strerror}") from None
        typer.echo(f"report written to {report}")


def _connection(store: Store, name: str | None) -> tuple[int, str]:
    from service.store.connections import find_connection, list_connections

    with store.unit_of_work() as session:
        if name is not None:
            found = find_connection(session, name)
            if found is None:
                raise fail(f"no connection named {name!r}")
            return found.id, found.name
        every = list_connections(session)
        if len(every) != 1:
            names = ", ".join(c.name for c in every) or "none"
            raise fail(f"name the connection with --connection (connections: {names})")
        return every[0].id, every[0].name


def _rules(store: Store, directory: Path | None, keys: list[str] | None) -> list[VersionedRule]:
    """The pack in ``directory`` (as version 0), else the stored rules (``keys`` only)."""
    from rules.documents import VersionedRule
    from service.evaluation.packs import PackError, load_pack
    from service.evaluation.run import stored_rules

    if directory is not None:
        if keys:
            raise fail("give --rules or --rule, not both")
        try:
            return [VersionedRule(packed.document, 0) for packed in load_pack(directory)]
        except PackError as exc:
            raise fail("nothing to replay: " + "; ".join(exc.problems)) from None
    with store.unit_of_work() as session:
        stored, invalid = stored_rules(session)
    wanted = set(keys or ())
    if invalid and (not wanted or wanted & set(invalid)):
        raise fail(f"stored rules no longer validate: {', '.join(invalid)}: apply them again")
    unknown = wanted - {rule.key for rule in stored}
    if unknown:
        raise fail(f"no stored rule {', '.join(sorted(unknown))}")
    rules = [rule for rule in stored if not wanted or rule.key in wanted]
    if not rules:
        raise fail("no rules to replay: apply a pack or give --rules")
    return rules
