"""SQLite is set up to behave like a service database: WAL, foreign keys, real transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service.settings import Settings
from service.store import make_engine


def _settings(path: Path, busy_timeout_ms: int = 5_000) -> Settings:
    return Settings(
        database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=busy_timeout_ms, _env_file=None
    )


def test_every_connection_gets_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path):
    engine = make_engine(_settings(tmp_path / "s.db", busy_timeout_ms=1234))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    engine.dispose()


def test_a_rolled_back_transaction_undoes_ddl_and_writes(tmp_path: Path):
    engine = make_engine(_settings(tmp_path / "s.db"))
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        connection.rollback()
    with engine.connect() as connection:
        tables = connection.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    assert "t" not in tables
    engine.dispose()


def test_begin_immediate_takes_the_write_lock_up_front(tmp_path: Path):
    path = tmp_path / "s.db"
    holder = make_engine(_settings(path))
    waiter = make_engine(_settings(path, busy_timeout_ms=50))
    with holder.connect().execution_options(sqlite_begin="IMMEDIATE") as first:
        first.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the lock is ours before any write
        with (
            pytest.raises(OperationalError, match="locked"),
            waiter.connect().execution_options(sqlite_begin="IMMEDIATE") as second,
        ):
            second.execute(text("SELECT 1"))
        first.rollback()
    # Readers are never blocked by a writer under WAL.
    with holder.connect().execution_options(sqlite_begin="IMMEDIATE") as first:
        first.execute(text("SELECT 1"))
        with waiter.connect() as reader:
            assert reader.execute(text("SELECT 1")).scalar() == 1
    holder.dispose()
    waiter.dispose()


def test_an_unknown_begin_mode_is_refused(tmp_path: Path):
    engine = make_engine(_settings(tmp_path / "s.db"))
    with (
        pytest.raises(ValueError, match="sqlite_begin"),
        engine.connect().execution_options(sqlite_begin="SOMETIMES") as connection,
    ):
        connection.execute(text("SELECT 1"))
    engine.dispose()


def test_an_sqlite_too_old_for_the_metric_queries_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("service.store.engine.sqlite3.sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr("service.store.engine.sqlite3.sqlite_version", "3.31.1")
    with pytest.raises(RuntimeError, match=r"SQLite 3\.31\.1 is too old.*3\.35\.0"):
        make_engine(_settings(tmp_path))
