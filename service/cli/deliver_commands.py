"""``driftcoach deliver``: drain the outboxes once (cron-style, and for tests): the
queued tasks into the CRMs, then the events to the webhook endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.support import connection_targets, settings_of

if TYPE_CHECKING:
    from service.settings import Settings
    from service.store import Store


def deliver_command(
    ctx: typer.Context,
    connection: Annotated[
        str | None, typer.Option(help="Deliver only this connection's tasks (default: all).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Tasks claimed per batch.")
    ] = 200,
    lease_seconds: Annotated[
        int,
        typer.Option(
            min=1,
            help="How long a claim on a batch lasts unless renewed: a live run renews it "
            "while it sends, so this is how long a crashed run's batch waits to be taken over.",
        ),
    ] = 120,
) -> None:
    """Write the queued coaching and hygiene tasks into the CRMs, then send the events to
    the webhook endpoints.

    Safe to run in several places at once and to kill at any point: rows are leased,
    and a task whose create may have happened is looked up by its marker before it is
    sent again. Exits 1 when a connection could not be delivered to.
    """
    from pydantic import ValidationError

    from service.bootstrap import ConfigurationError, build_connector
    from service.outbox.crm_followups import FollowUpWorker
    from service.outbox.crm_writes import CrmWriteWorker, DeliveryPolicy
    from service.store import Store

    settings = settings_of(ctx)
    store = Store.from_settings(settings)
    try:
        targets = connection_targets(store, connection, required=False)
        failed = False
        for target in targets:
            try:
                connector = build_connector(target, settings)
            except (ConfigurationError, ValidationError) as exc:
                typer.echo(f"{target.name}: {exc}", err=True)
                failed = True
                continue
            try:
                policy = DeliveryPolicy(
                    batch_size=batch_size, lease=timedelta(seconds=lease_seconds)
                )
                worker = CrmWriteWorker(store, target.id, connector, policy=policy)
                counts = worker.run()
                # Then what follows a delivered task: updates, completions, alerts.
                followups = FollowUpWorker(store, target.id, connector, policy=policy).run()
            finally:
                connector.close()
            typer.echo(f"{target.name}: tasks {counts}")
            if followups.claimed or followups.cancelled:
                typer.echo(f"{target.name}: follow-ups {followups}")
        failed = not _deliver_webhooks(store, settings) or failed
        if failed:
            raise typer.Exit(1)
    finally:
        store.dispose()


def _deliver_webhooks(store: Store, settings: Settings) -> bool:
    """Send due webhook deliveries; False when endpoints exist but cannot be signed for."""
    from service.outbox.webhook_delivery import WebhookWorker, webhook_client
    from service.outbox.webhook_endpoints import SecretBox, WebhookConfigError, list_endpoints

    with store.unit_of_work() as session:
        if not list_endpoints(session):
            return True
    try:
        box = SecretBox(settings.webhook_secret_key)
    except WebhookConfigError as exc:
        typer.echo(f"webhooks: {exc}", err=True)
        return False
    with webhook_client(settings.webhook_url_policy()) as client:
        counts = WebhookWorker(store, box, client).run()
    typer.echo(f"webhooks: {counts}")
    return True
