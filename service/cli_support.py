"""What every ``driftcoach`` command module shares: the settings and the error exit."""

from __future__ import annotations

import typer

from service.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback read once for this invocation."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # pragma: no cover - set by the root callback
        raise RuntimeError("settings missing: the root callback did not run")
    return settings


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 1)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)
