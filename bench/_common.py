"""Helpers shared by the sync benchmarks (Salesforce now, HubSpot later).

A benchmark here measures three processes, kept apart so that one's memory and CPU
never shows up in another's figures:

* the CRM sandbox, started as ``driftcoach sandbox --json`` (:class:`SandboxProcess`);
* the sync under test, run in a child process that reports its own peak RSS
  (:func:`run_child`, :func:`peak_rss_bytes`: why ``VmHWM`` rather than ``ru_maxrss``);
* this driver, which counts, changes and compares.

Every figure is printed with the baseline it is divided by, measured in the same run,
so a slow machine moves both sides of a ratio rather than the ratio itself.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Engine, Table, create_engine, text
from sqlalchemy.engine import make_url

from service.settings import Settings, normalize_database_url
from service.store import Base, Store, make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
#: The tables a CRM sync fills, in an order that satisfies every foreign key.
CRM_TABLES = ("reps", "opportunities", "opportunity_changes", "activities", "quotas")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

#: Children inherit the driver's start time, so every progress line shares one clock.
_STARTED_VARIABLE = "DRIFTCOACH_BENCH_STARTED_AT"
_STARTED = float(os.environ.get(_STARTED_VARIABLE) or time.time())


# --------------------------------------------------------------------------- output


def progress(message: str) -> None:
    """Progress goes to stderr with the elapsed time, so stdout holds only the results."""
    print(f"[{time.time() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def ratio(measured: float, baseline: float) -> str:
    """``measured / baseline`` to two decimals; a zero baseline has no ratio."""
    if baseline == 0:
        return "n/a"
    return f"{measured / baseline:.2f}"


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain left-aligned text table (numbers right-aligned), for stdout."""
    cells = [[_cell(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) and bool(rows)
        for i in range(len(header))
    ]
    lines = []
    for row in cells:
        parts = [
            value.rjust(width) if is_number else value.ljust(width)
            for value, width, is_number in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def mib(size_bytes: int) -> float:
    return size_bytes / 2**20


# --------------------------------------------------------------------------- sandbox


class SandboxProcess:
    """``driftcoach sandbox --json`` in its own process: its memory is not the sync's.

    The sandbox prints its connection details as (indented) JSON once it is ready, then
    runs until SIGINT; its stderr goes to a file so a chatty server cannot block on a
    full pipe.
    """

    def __init__(self, arguments: Sequence[str], *, startup_timeout: float = 300.0) -> None:
        self.arguments = list(arguments)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self._data_dir = tempfile.TemporaryDirectory(prefix="driftcoach-bench-")

    def start(self) -> dict[str, Any]:
        command = [
            _driftcoach(),
            "sandbox",
            "--json",
            "--data-dir",
            self._data_dir.name,
            *self.arguments,
        ]
        self._process = subprocess.Popen(  # noqa: S603 - our own command, no shell
            command, stdout=subprocess.PIPE, stderr=self._stderr, cwd=ROOT
        )
        return self._read_details(self._process)

    def _read_details(self, process: subprocess.Popen[bytes]) -> dict[str, Any]:
        """Read stdout until it parses as one JSON document (or give up at the deadline).

        Raw ``os.read`` after ``select``: a buffered reader could hold the rest of the
        document while ``select`` reports an empty pipe.
        """
        assert process.stdout is not None  # noqa: S101 - set by Popen(stdout=PIPE)
        descriptor = process.stdout.fileno()
        deadline, received = time.monotonic() + self.startup_timeout, b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([descriptor], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:
                break
            received += chunk
            try:
                return dict(json.loads(received))
            except json.JSONDecodeError:
                continue
        raise RuntimeError(f"the sandbox did not start: {self._stderr_tail()}")

    def cpu_seconds(self) -> float:
        """The sandbox's CPU time so far (user + system, all its threads), from ``/proc``:
        what the fake CRM itself cost, which a sync's wall time includes."""
        process = self._process
        if process is None:
            return 0.0
        try:
            with open(f"/proc/{process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:]

    def stop(self) -> None:
        """SIGINT (the sandbox's own clean stop), then a kill if it does not listen."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()
        self._stderr.close()
        self._data_dir.cleanup()

    def __enter__(self) -> dict[str, Any]:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _driftcoach() -> str:
    """The ``driftcoach`` script of this interpreter's environment (not whatever is on PATH)."""
    candidate = Path(sys.executable).parent / "driftcoach"
    if not candidate.exists():
        raise RuntimeError(f"no driftcoach command next to {sys.executable}")
    return str(candidate)


def tls_session(ca_bundle: str) -> requests.Session:
    """A session that trusts the sandbox's CA and nothing from the environment.

    requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify`` (psf/requests#3829),
    so ``trust_env`` is off, which also keeps proxies away from 127.0.0.1.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle
    return session


class SandboxAdmin:
    """The unmetered ``/__sandbox/`` endpoints every sandbox server has."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session

    def meter(self) -> dict[str, Any]:
        return self._call("GET", "meter")

    def reset_meter(self) -> None:
        self._call("POST", "meter/reset")

    def now(self) -> str:
        """The sandbox clock (ISO 8601): record stamps come from it, not from ours."""
        return str(self._call("POST", "clock", json={"advance_seconds": 0})["now"])

    def reset(self) -> None:
        """Back to the seeded data, real time, a zero meter and no faults."""
        self._call("POST", "reset")

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Faults from now on (``latency_ms``, ``error_rate`` ...); a reset clears them."""
        self._call("PUT", "faults", json=faults)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(
            method, f"{self.base_url}/__sandbox/{path}", timeout=120, **kwargs
        )
        response.raise_for_status()
        return dict(response.json())


def meter_api_calls(snapshot: dict[str, Any], *, excluded: Sequence[str] = ()) -> int:
    """The meter's total less the endpoints that are not API calls (e.g. OAuth tokens)."""
    by_endpoint: dict[str, int] = snapshot.get("by_endpoint", {})
    return sum(count for endpoint, count in by_endpoint.items() if endpoint not in excluded)


# --------------------------------------------------------------------------- databases


@contextmanager
def scratch_database(backend: str, postgres_url: str, label: str) -> Iterator[str]:
    """A fresh, empty database URL, removed afterwards.

    SQLite: a file in a temporary folder. PostgreSQL: a new schema in ``postgres_url``'s
    database, selected through ``search_path`` in the URL, dropped with everything in it.
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"driftcoach-bench-{label}-") as folder:
            yield f"sqlite:///{Path(folder) / 'store.db'}"
        return
    schema = f"bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(normalize_database_url(postgres_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(normalize_database_url(postgres_url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def settings_for(database_url: str) -> Settings:
    return Settings(database_url=database_url)


def migrated_store(database_url: str) -> Store:
    """The schema the service would run on: every migration, not ``create_all``."""
    settings = settings_for(database_url)
    migrate.upgrade(settings)
    return Store(make_engine(settings))


# --------------------------------------------------------------------------- child runs


def run_child(module: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run ``python -m module --child`` with ``payload`` on stdin; its last stdout line is
    its JSON answer. Secrets travel on stdin, never on the command line (``ps`` shows it).
    The child's stderr is this process's, so its progress shows as it happens."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, "--child"],
        input=json.dumps(payload),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, _STARTED_VARIABLE: repr(_STARTED)},
        timeout=timeout,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"child {module} failed with exit code {completed.returncode}")
    return dict(json.loads(lines[-1]))


def peak_rss_bytes() -> int:
    """This process's own peak resident set size since it was exec'd: ``VmHWM``.

    Not ``ru_maxrss`` alone: Linux folds the RSS of the process image that called
    ``execve`` into ``ru_maxrss``, and Python's subprocess spawns through vfork, whose
    pre-exec image is the *parent's*; so a child of a 1 GiB parent reports at least
    1 GiB whatever it does. ``VmHWM`` is the high-water mark of the child's own memory.
    Elsewhere than Linux, ``ru_maxrss`` is all there is.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()


def ru_maxrss_bytes() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# --------------------------------------------------------------------------- raw baseline


@dataclass
class InsertBaseline:
    """How fast the bare driver inserts the rows a sync stored (the ceiling for a sync)."""

    rows: int = 0
    seconds: float = 0.0
    per_table: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def raw_insert_baseline(
    source_url: str, target_url: str, connection_id: int, *, batch_size: int
) -> InsertBaseline:
    """Copy one connection's CRM rows from ``source_url`` into a freshly migrated
    ``target_url`` with the DBAPI's ``executemany``, timing only the inserts.

    The target has the very same schema (same migrations: indexes, unique constraints,
    foreign keys), the rows are the ones the sync wrote, the database assigns the ids,
    and every ``batch_size`` rows are committed, as the sync commits its batches; so the
    difference from the sync's rate is the cost of the sync itself (network, mapping,
    upsert logic), not of the database.
    """
    source_store, target_store = (
        Store(make_engine(settings_for(source_url))),
        migrated_store(target_url),
    )
    result = InsertBaseline()
    try:
        _copy_connection_row(source_store.engine, target_store.engine, connection_id)
        for name in CRM_TABLES:
            table = Base.metadata.tables[name]
            columns = [column.name for column in table.columns if column.name != "id"]
            rows = _read_rows(source_store.engine, table, columns, connection_id)
            progress(f"  raw executemany: {len(rows):,} rows into {name}")
            result.seconds += _insert_rows(target_store.engine, table, columns, rows, batch_size)
            result.rows += len(rows)
            result.per_table[name] = len(rows)
    finally:
        source_store.dispose()
        target_store.dispose()
    return result


def _copy_connection_row(source: Engine, target: Engine, connection_id: int) -> None:
    """The parent row every CRM row's foreign key points at (not timed)."""
    table = Base.metadata.tables["connections"]
    columns = [column.name for column in table.columns]
    rows = _read_rows(source, table, columns, connection_id, key="id")
    _insert_rows(target, table, columns, rows, batch_size=1)


def _read_rows(
    engine: Engine, table: Table, columns: list[str], connection_id: int, *, key: str = ""
) -> list[tuple[Any, ...]]:
    """The rows exactly as the driver hands them back (SQLite: its stored text)."""
    key = key or "connection_id"
    marker = _marker(engine)
    # Table and column names come from the models, never from input.
    sql = (
        f"SELECT {', '.join(columns)} FROM {table.name}"  # noqa: S608
        f" WHERE {key} = {marker} ORDER BY id"
    )
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, (connection_id,))
        rows = [tuple(row) for row in cursor.fetchall()]
        connection.commit()
    finally:
        connection.close()
    if engine.dialect.name == "postgresql":
        rows = _adapt_documents(table, columns, rows)
    return rows


def _adapt_documents(
    table: Table, columns: list[str], rows: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """psycopg reads JSONB as dicts but will not write a dict back without being told."""
    documents = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    if not documents:
        return rows
    adapted = []
    for row in rows:
        values = list(row)
        for i in documents:
            if values[i] is not None:
                values[i] = Jsonb(values[i])
        adapted.append(tuple(values))
    return adapted


def _insert_rows(
    engine: Engine,
    table: Table,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    batch_size: int,
) -> float:
    """``executemany`` per batch, one transaction each; returns the seconds it took."""
    marker = _marker(engine)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)})"  # noqa: S608 - names from models
        f" VALUES ({', '.join([marker] * len(columns))})"
    )
    sqlite = engine.dialect.name == "sqlite"
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        for start in range(0, len(rows), batch_size):
            if sqlite:  # the store's engine runs sqlite3 in autocommit mode: BEGIN by hand
                cursor.execute("BEGIN")
            cursor.executemany(sql, rows[start : start + batch_size])
            if sqlite:
                cursor.execute("COMMIT")
            else:
                connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def _marker(engine: Engine) -> str:
    """The driver's own placeholder: sqlite3 takes ``?``, psycopg ``%s``."""
    return "?" if engine.dialect.name == "sqlite" else "%s"
