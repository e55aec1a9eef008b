"""Engines and units of work: the one place that knows how to open the store.

SQLite needs help to behave like a server database under a service:

* WAL so readers (the API) never block the writer (sync, evaluation);
* foreign keys, which SQLite leaves off per connection unless asked;
* a busy timeout so a second writer waits for the lock instead of failing at once;
* transactions that really begin when SQLAlchemy begins one. The ``sqlite3`` module
  defers ``BEGIN`` until the first write and never wraps DDL, which breaks transactional
  migrations and ``BEGIN IMMEDIATE`` claims; so the driver's own transaction handling
  is switched off and SQLAlchemy emits ``BEGIN`` itself. A connection may ask for
  ``BEGIN IMMEDIATE`` with ``execution_options(sqlite_begin="IMMEDIATE")`` to take the
  write lock up front (the way outbox workers claim rows on SQLite).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from service.settings import Settings, normalize_database_url
from service.store import json_codec

_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def make_engine(settings: Settings, url: str | URL | None = None) -> Engine:
    """Build the engine for ``url`` (default: the settings' database URL)."""
    target = normalize_database_url(url) if url is not None else settings.sqlalchemy_url
    if target.get_backend_name() == "sqlite":
        return _sqlite_engine(
            target, busy_timeout_ms=settings.sqlite_busy_timeout_ms, echo=settings.db_echo
        )
    return create_engine(
        target,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        pool_pre_ping=True,  # survive a PostgreSQL restart or an idle-connection reaper
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )


#: ``AS MATERIALIZED`` CTEs and ``RETURNING`` (the metric queries, batched writes).
MINIMUM_SQLITE = (3, 35, 0)


def _sqlite_engine(url: URL, *, busy_timeout_ms: int, echo: bool) -> Engine:
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        wanted = ".".join(map(str, MINIMUM_SQLITE))
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old: driftcoach needs {wanted} or newer"
        )
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )
    in_memory = url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            # WAL makes NORMAL durable against application crashes; only an OS crash or
            # power loss can lose the last transactions, never corrupt the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = str(connection.get_execution_options().get("sqlite_begin", "DEFERRED")).upper()
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(_SQLITE_BEGIN_MODES)}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Store:
    """The engine plus a session factory; hands out units of work.

    Repositories take a session and flush; the unit of work (one per job run or API
    request) is the only thing that commits.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(make_engine(settings))

    @contextmanager
    def unit_of_work(self, *, writes: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        ``writes``: on SQLite the transaction takes the write lock when it begins, so a
        second writer waits up to the busy timeout. A deferred transaction that reads
        first and writes later cannot wait: SQLite refuses its upgrade at once
        (``database is locked``), which is how two syncs started together used to end.
        """
        with self._sessions.begin() as session:
            if writes and self.engine.dialect.name == "sqlite":
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def sqlite_foreign_keys_suspended(connection: Any) -> Iterator[None]:
    """Turn SQLite foreign keys off around a migration, then verify them.

    Alembic's batch mode rebuilds a table by copy, drop and rename. With foreign keys on,
    SQLite treats that drop as ``DELETE FROM`` and would cascade it into every child
    table. The pragma only works outside a transaction, so it goes straight to the driver
    before the migration's transaction begins. Any key the migration broke is reported.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")
