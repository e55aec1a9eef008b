"""What every ``driftcoach`` command module shares: the settings and the error exit.

The root callback only records the options it was given; the settings are read (and
logging set up) the first time a command asks for them, so ``--help`` and ``version``
never pay for pydantic-settings and SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from service.settings import Settings

#: What ``pip`` installs for the fake CRMs (``driftcoach sandbox``, ``driftcoach demo``).
SANDBOX_EXTRA = "driftcoach[sandbox]"


@dataclass
class Invocation:
    """One run of the command line: the root options, and the settings once read."""

    overrides: dict[str, object] = field(default_factory=dict)
    settings: Settings | None = None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings for this invocation, read once (with the root options applied)."""
    from pydantic import ValidationError

    from service.logs import configure_logging
    from service.settings import load_settings

    invocation = ctx.find_root().obj
    if not isinstance(invocation, Invocation):  # pragma: no cover - set by the root callback
        raise RuntimeError("invocation missing: the root callback did not run")
    if invocation.settings is None:
        try:
            invocation.settings = load_settings(**invocation.overrides)
        except ValidationError as exc:
            raise fail(f"invalid settings:\n{exc}") from None
        configure_logging(invocation.settings.log_level)
    return invocation.settings


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 1)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def sandbox_missing(error: ImportError) -> typer.Exit:
    """The exit for a sandbox command run without the optional extra installed."""
    return fail(
        f"the CRM sandbox needs the optional extra {SANDBOX_EXTRA} ({error.name or error}"
        f" is not installed): pip install '{SANDBOX_EXTRA}'"
    )
