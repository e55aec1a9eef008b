"""``driftcoach webhooks ...``: endpoints, secrets, deliveries and replay, until the HTTP
API offers the same. A secret is printed once, when it is made or rotated; nothing else
ever prints it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.support import fail, settings_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from service.outbox.webhook_endpoints import SecretBox
    from service.store import Store

webhooks_app = typer.Typer(help="Where driftcoach sends events.", no_args_is_help=True)


@webhooks_app.command("key")
def make_key() -> None:
    """Print a new key for DRIFTCOACH_WEBHOOK_SECRET_KEY (it encrypts endpoint secrets)."""
    from service.outbox.webhook_endpoints import new_key

    typer.echo(new_key())


@webhooks_app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="https URL that receives the POSTs.")],
    event: Annotated[
        list[str] | None, typer.Option(help="An event type to send (repeat); default: all.")
    ] = None,
    description: Annotated[str, typer.Option(help="What this endpoint is for.")] = "",
) -> None:
    """Add an endpoint; prints its signing secret, once."""
    from service.outbox.webhook_endpoints import add_endpoint
    from service.store.tables.base import utcnow

    settings = settings_of(ctx)
    with _session(ctx) as session:
        made = add_endpoint(
            session, url, _box(ctx), event_types=event or (), description=description,
            policy=settings.webhook_url_policy(), now=utcnow(),
        )  # fmt: skip
        typer.echo(f"added webhook endpoint {made.endpoint.id}: {url}")
        typer.echo(f"signing secret (shown once, keep it): {made.secret}")


@webhooks_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Endpoints, their event types and state (never their secrets)."""
    from service.outbox.webhook_endpoints import list_endpoints

    with _session(ctx) as session:
        for endpoint in list_endpoints(session):
            state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
            types = endpoint.event_types or "all events"
            typer.echo(f"{endpoint.id}  {endpoint.url}  {types}  {state}")


@webhooks_app.command("rotate")
def rotate(
    ctx: typer.Context,
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")],
    overlap_hours: Annotated[
        float, typer.Option(min=0, help="Hours the old secret keeps signing too.")
    ] = 24,
) -> None:
    """A new signing secret; the old one keeps signing for the overlap. Prints it once."""
    from datetime import timedelta

    from service.outbox.webhook_endpoints import rotate_secret
    from service.store.tables.base import utcnow

    with _session(ctx) as session:
        secret = rotate_secret(
            session, endpoint_id, _box(ctx), now=utcnow(), overlap=timedelta(hours=overlap_hours)
        )
        typer.echo(f"new signing secret for endpoint {endpoint_id} (shown once): {secret}")


@webhooks_app.command("enable")
def enable(
    ctx: typer.Context,
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")],
) -> None:
    """Send to an endpoint disabled by a 410 or five days of failures again."""
    from service.outbox.webhook_endpoints import enable_endpoint

    with _session(ctx) as session:
        endpoint = enable_endpoint(session, endpoint_id)
        typer.echo(f"enabled webhook endpoint {endpoint.id}: {endpoint.url}")


@webhooks_app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    endpoint_id: Annotated[int | None, typer.Option("--endpoint", help="One endpoint.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most recent first.")] = 20,
) -> None:
    """Recent deliveries: event, state, attempts, last status or error."""
    from sqlalchemy import select

    from service.store.tables import WebhookEvent
    from service.store.tables.webhooks import WebhookDelivery

    with _session(ctx) as session:
        query = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if endpoint_id is not None:
            query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
        for delivery, event in session.execute(query).all():
            outcome = delivery.last_error or delivery.last_status or ""
            typer.echo(
                f"{delivery.id}  endpoint {delivery.endpoint_id}  {event.type}  {event.event_id}"
                f"  {delivery.state}  attempts {delivery.attempts}  {outcome}"
            )


@webhooks_app.command("replay")
def replay_command(
    ctx: typer.Context,
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")],
    since: Annotated[datetime | None, typer.Option(help="Only events since (ISO time).")] = None,
) -> None:
    """Queue an endpoint's failed deliveries again; 'driftcoach deliver' sends them."""
    from datetime import UTC

    from service.outbox.webhook_delivery import replay

    with _store(ctx) as store:
        when = None if since is None else (since if since.tzinfo else since.replace(tzinfo=UTC))
        count = replay(store, endpoint_id=endpoint_id, since=when)
    typer.echo(f"queued {count} deliveries again")


@contextmanager
def _store(ctx: typer.Context) -> Iterator[Store]:
    from service.store import Store

    store = Store.from_settings(settings_of(ctx))
    try:
        yield store
    finally:
        store.dispose()


@contextmanager
def _session(ctx: typer.Context) -> Iterator[Session]:
    """One unit of work; a refused URL or a webhook setting that cannot be used ends the
    command with its message (nothing is written)."""
    from service.outbox.ssrf import UnsafeUrlError
    from service.outbox.webhook_endpoints import WebhookConfigError

    with _store(ctx) as store:
        try:
            with store.unit_of_work() as session:
                yield session
        except (UnsafeUrlError, WebhookConfigError) as exc:
            raise fail(str(exc)) from None


def _box(ctx: typer.Context) -> SecretBox:
    from service.outbox.webhook_endpoints import SecretBox

    return SecretBox(settings_of(ctx).webhook_secret_key)
