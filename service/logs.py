"""Process-wide logging set-up for the CLI and the service."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    """Log to stderr so commands' stdout stays machine-readable."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    # SQLAlchemy's engine logger repeats every statement at INFO; opt in with db_echo.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
