"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL for each test.

Every store test runs on both backends through the ``database_url`` fixture. Each
PostgreSQL test gets its own schema (selected through ``search_path`` in the URL, so
any code, subprocesses included, that opens the URL lands in it), dropped afterwards;
each SQLite test gets its own file. Tests cannot see each other's rows.

PostgreSQL: ``DRIFTCOACH_TEST_POSTGRES_URL`` or the local trust-auth server. Under
``CI=true`` an unreachable server fails the PostgreSQL tests; elsewhere they are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from service.settings import Settings, normalize_database_url
from service.store import Store, make_engine, migrate

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = (
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres),
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgres_server_url() -> URL:
    """The PostgreSQL server the tests may create schemas in, or skip/fail if unreachable."""
    url = normalize_database_url(
        os.environ.get("DRIFTCOACH_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    )
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        message = f"PostgreSQL at {url.render_as_string()} is unreachable: {exc.orig}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_schema_url(postgres_server_url: URL) -> Iterator[URL]:
    """A URL whose connections live in a brand-new schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_server_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_server_url.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend in turn (as a URL string, as users give it)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: URL = request.getfixturevalue("postgres_schema_url")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, _env_file=None)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A store migrated to the newest schema."""
    migrate.upgrade(settings)
    store = Store(make_engine(settings))
    yield store
    store.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly whether the PostgreSQL half of the suite ran, so a skip is never missed."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        reports = terminalreporter.stats.get(outcome, [])
        counts[outcome] = sum(
            1
            for report in reports
            if "postgres" in getattr(report, "keywords", {}) and report.when in ("call", "setup")
        )
    if any(counts.values()):
        summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
        terminalreporter.write_line(f"PostgreSQL tests: {summary}")
