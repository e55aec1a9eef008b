"""``driftcoach coaching``: is coaching working? Per manager and rule, the tasks created
and completed, the median days to completion, and how often the indicator recovered
after the manager completed the task (:mod:`service.store.coaching_report`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.support import connection_targets, settings_of

if TYPE_CHECKING:
    from service.store.coaching_report import CoachingLine


def coaching_command(
    ctx: typer.Context,
    connection: Annotated[
        str | None, typer.Option(help="Only this connection's tasks (default: all).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Tasks delivered in the last DAYS days.")] = 180,
) -> None:
    """Print the coaching loop per manager and rule."""
    from sqlalchemy import select

    from service.store import Store
    from service.store.coaching_report import coaching_report
    from service.store.tables import Rep

    store = Store.from_settings(settings_of(ctx))
    try:
        targets = connection_targets(store, connection)
        since = datetime.now(UTC) - timedelta(days=days)
        with store.unit_of_work() as session:
            ids = [target.id for target in targets]
            lines = coaching_report(session, ids, since=since)
            people = dict(
                session.execute(select(Rep.crm_id, Rep.name).where(Rep.connection_id.in_(ids)))
            )
    finally:
        store.dispose()
    typer.echo(format_coaching(lines, people, days))


def format_coaching(lines: list[CoachingLine], people: dict[str, str], days: int) -> str:
    if not lines:
        return f"no coaching tasks delivered in the last {days} days"
    header = (
        f"{'manager':<24}{'rule':<26}{'created':>8}{'completed':>10}"
        f"{'median days':>12}{'recovered':>11}"
    )
    out = [header]
    for line in lines:
        name = people.get(line.manager, line.manager)[:23]
        median = (
            "-" if line.median_days_to_complete is None else f"{line.median_days_to_complete:.1f}"
        )
        share = line.recovered_share
        recovered = "-" if share is None else f"{share:.0%} ({line.recovered})"
        out.append(
            f"{name:<24}{line.rule_key[:25]:<26}{line.created:>8}{line.completed:>10}"
            f"{median:>12}{recovered:>11}"
        )
    out.append(
        "recovered: of the tasks the manager completed, the share whose finding resolved "
        "within the rule's resolve_after periods (plus the one under way) after completion"
    )
    return "\n".join(out)
