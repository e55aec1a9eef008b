"""``driftcoach api`` (the HTTP API under uvicorn) and ``driftcoach keys ...`` (API keys,
the first one included: the API cannot make a key before one exists)."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.support import fail, settings_of

SCOPES_HELP = (
    "Comma-separated: rules:read, rules:write, findings:read, findings:write, "
    "webhooks:write, admin."
)
keys_app = typer.Typer(help="API keys: who may call the HTTP API.", no_args_is_help=True)


def api_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs, the OpenAPI document at /openapi.json)."""
    import uvicorn

    from service.api.app import create_app
    from service.store import Store

    settings = settings_of(ctx)
    store = Store.from_settings(settings)
    try:
        uvicorn.run(
            create_app(store, settings), host=host, port=port, log_level=settings.log_level.lower()
        )
    finally:
        store.dispose()


@keys_app.command("create")
def create_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Who or what holds the key (the audit actor).")],
    scopes: Annotated[str, typer.Option(help=SCOPES_HELP)],
) -> None:
    """Make a key; its token is printed once and cannot be read again."""
    from service.api.keys import ApiKeyError, create_key
    from service.store import Store

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            made = create_key(session, name, scopes.split(","), actor="cli")
    except ApiKeyError as exc:
        raise fail(str(exc)) from None
    finally:
        store.dispose()
    typer.echo(f"key {made.key_id} ({made.name}: {', '.join(made.scopes)})")
    typer.echo(f"token (shown once, store it now): {made.token}")


@keys_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Every key: id, name, scopes, last use, revocation (never a token)."""
    from service.api.keys import list_keys
    from service.store import Store

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            lines = [
                f"{k.key_id}  {k.name:<24} {','.join(k.scopes):<40} "
                f"used {k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else
                f"{k.key_id}  {k.name:<24} {','.join(k.scopes):<40} never used"
                for k in list_keys(session)
                if k.revoked_at is None
            ]  # fmt: skip
    finally:
        store.dispose()
    typer.echo("\n".join(lines) if lines else "no keys: make one with 'driftcoach keys create'")


@keys_app.command("revoke")
def revoke_command(ctx: typer.Context, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key for good."""
    from service.api.keys import revoke_key
    from service.store import Store

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            found = revoke_key(session, key_id, actor="cli")
    finally:
        store.dispose()
    if not found:
        raise fail(f"no key {key_id!r}")
    typer.echo(f"key {key_id} revoked")
