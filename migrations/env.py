"""Alembic environment: the URL comes from driftcoach's settings, the metadata from the models.

Entry points, most specific first: a live ``connection`` in ``config.attributes`` (tests),
a ``database_url`` attribute (the CLI), ``sqlalchemy.url`` in ``alembic.ini``, and finally
``DRIFTCOACH_DATABASE_URL`` through the settings object.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from service.settings import load_settings
from service.store.engine import make_engine, sqlite_foreign_keys_suspended
from service.store.tables import Base
from service.store.types import render_store_type

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:  # the `alembic` command; the CLI logs on its own
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if kind == "type":
        rendered = render_store_type(obj, autogen_context.imports)
        if rendered is not None:
            return rendered
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def _run_on(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite's DDL is transactional; Alembic assumes otherwise only because the stock
    # sqlite3 driver commits around DDL, which our engine switches off (see engine.py).
    # So an upgrade that fails half-way leaves no half-made schema on either backend.
    _configure(connection=connection, render_as_batch=sqlite, transactional_ddl=True)
    with sqlite_foreign_keys_suspended(connection), context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return str(url) if url else load_settings().database_url


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    url = _database_url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(load_settings(), _database_url())
    try:
        with engine.connect() as connection:
            _run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
