"""The ``driftcoach`` command as an operator runs it: the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from service.settings import Settings
from service.store import Base, Store, make_engine, migrate, quarantine
from service.store.connections import list_connections
from service.store.quarantine import Refused

DRIFTCOACH = Path(sys.executable).with_name("driftcoach")


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTCOACH_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(DRIFTCOACH), *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("version", "db", "demo"):
        assert command in result.stdout


def test_version_names_the_package_and_the_schema():
    result = run("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("driftcoach ")
    assert f"schema {migrate.head_revision()}" in result.stdout


def test_db_upgrade_creates_every_table_and_current_reports_it(database_url: str):
    env = {"DRIFTCOACH_DATABASE_URL": database_url, "DRIFTCOACH_LOG_LEVEL": "WARNING"}
    before = run("db", "current", env=env)
    assert before.returncode == 0, before.stderr
    assert "no revision" in before.stdout

    upgraded = run("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    current = run("db", "current", env=env)
    assert f"{migrate.head_revision()} (up to date)" in current.stdout

    downgraded = run("db", "downgrade", "base", env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "no revision" in run("db", "current", env=env).stdout


def test_downgrade_demands_an_explicit_target(tmp_path: Path):
    result = run("--database-url", f"sqlite:///{tmp_path / 's.db'}", "db", "downgrade")
    assert result.returncode != 0
    assert "missing argument" in result.stderr.lower()


def test_a_bad_database_url_is_a_clear_error_not_a_traceback():
    result = run("--database-url", "nonsense", "db", "current")
    assert result.returncode == 1
    assert "database_url" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_store_is_a_clear_error_not_a_traceback():
    url = "postgresql://nobody:hunter2@127.0.0.1:1/none?connect_timeout=2"
    result = run("--database-url", url, "db", "upgrade")
    assert result.returncode == 1
    assert "cannot reach the store" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_demo_syncs_both_crms_evaluates_the_default_pack_and_prints_the_store(tmp_path: Path):
    (tmp_path / "driftcoach-demo.db").write_text("an old store the demo must replace")
    # The HubSpot half waits on HubSpot's search limit (5 a second) for ~90,000 engagements.
    result = run("demo", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "drifting reps (ground truth):" in result.stdout
    assert "sandbox-salesforce: succeeded" in result.stdout
    assert "sandbox-hubspot: succeeded" in result.stdout
    for table in Base.metadata.tables:
        assert table in result.stdout
    assert "MISSING" not in result.stdout
    counts = dict(
        line.split()[:2]
        for line in result.stdout.splitlines()
        if line.split() and line.split()[0] in Base.metadata.tables
    )
    assert int(counts["activities"]) > 10_000
    assert int(counts["opportunities"]) > 100
    assert "rules: applied the default pack (10 rules" in result.stdout
    for name in ("sandbox-salesforce", "sandbox-hubspot"):
        assert f"== {name}: evaluation as of" in result.stdout
    assert "ground truth: reps the generator made drift" in result.stdout
    for name in ("sandbox-salesforce", "sandbox-hubspot"):
        assert f"{name}: 13 evaluations from " in result.stdout
        report = tmp_path / f"driftcoach-demo-backtest-{name}.html"
        assert f"report: {report}" in result.stdout
        assert "<svg" in report.read_text(encoding="utf-8")
    assert int(counts["findings"]) > 0
    assert int(counts["crm_writes"]) > 0
    assert int(counts["webhook_events"]) > 0


@pytest.mark.parametrize("args", [["db"], []])
def test_group_without_a_command_shows_help(args: list[str]):
    result = run(*args)
    assert "Usage" in result.stdout + result.stderr


def test_connections_are_added_listed_and_refused_when_invalid(tmp_path: Path):
    env = {"DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    added = run(
        "connections", "add", "salesforce", "acme", "--client-id", "3MVGabc",
        "--login-url", "https://acme.my.salesforce.com", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run("connections", "list", env=env)
    assert "acme\tsalesforce\tenabled" in listed.stdout
    twice = run("connections", "add", "salesforce", "acme", "--client-id", "x", env=env)
    assert twice.returncode == 1
    assert "exists already" in twice.stderr
    bad = run("connections", "add", "salesforce", "b", "--auth-method", "magic", env=env)
    assert bad.returncode == 1
    assert "auth_method must be one of" in bad.stderr


def test_sync_without_secrets_names_the_missing_setting(tmp_path: Path):
    env = {"DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    run("db", "upgrade", env=env)
    run("connections", "add", "salesforce", "acme", "--client-id", "x", env=env)
    result = run("sync", env=env)
    assert result.returncode == 1
    assert "DRIFTCOACH_SALESFORCE__CLIENT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_hubspot_connections_are_added_with_their_reporting_lines(tmp_path: Path):
    env = {"DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    added = run(
        "connections", "add", "hubspot", "acme-hs", "--base-url", "http://127.0.0.1:9",
        "--team-manager", "East=lead@acme.test", "--owner-manager", "lead@acme.test=vp@acme.test",
        env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run("connections", "list", env=env)
    assert "acme-hs\thubspot\tenabled" in listed.stdout
    assert "'team_managers': {'East': 'lead@acme.test'}" in listed.stdout
    bad = run("connections", "add", "hubspot", "b", "--team-manager", "East", env=env)
    assert bad.returncode == 1
    assert "--team-manager takes KEY=VALUE" in bad.stderr
    oauth = run("connections", "add", "hubspot", "c", "--auth-method", "oauth", env=env)
    assert oauth.returncode == 1
    assert "DRIFTCOACH_HUBSPOT__CLIENT_ID" in oauth.stderr


def test_a_hubspot_sync_without_its_token_names_the_missing_setting(tmp_path: Path):
    env = {"DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    run("db", "upgrade", env=env)
    run("connections", "add", "hubspot", "acme-hs", env=env)
    result = run("sync", env=env)
    assert result.returncode == 1
    assert "DRIFTCOACH_HUBSPOT__ACCESS_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


CANARY_PASSWORD = "canary-pw-7f3a"
CANARY_TOKEN = "pat-na1-canary-token-9b2c"
BAD_STORES = [
    pytest.param("foo://x", "unknown database dialect", id="unknown-dialect"),
    pytest.param(f"mysql://u:{CANARY_PASSWORD}@127.0.0.1/db", "driver", id="missing-driver"),
    pytest.param(
        f"postgresql://nobody:{CANARY_PASSWORD}@127.0.0.1:1/none?connect_timeout=2",
        "Connection refused",
        id="unreachable",
    ),
    pytest.param(
        f"postgresql://nobody:{CANARY_PASSWORD}@127.0.0.1:notaport/db",
        "database_url: not a SQLAlchemy database URL",
        id="bad-port",
    ),
]


@pytest.mark.parametrize(("url", "named"), BAD_STORES)
@pytest.mark.parametrize(
    "command", [["sync"], ["rules", "list"], ["evaluate"], ["connections", "list"]]
)
def test_a_store_that_cannot_be_used_is_one_line_naming_it_without_secrets(
    url: str, named: str, command: list[str], tmp_path: Path
):
    env = {"DRIFTCOACH_HUBSPOT__ACCESS_TOKEN": CANARY_TOKEN}
    result = run("--database-url", url, *command, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert named in result.stderr
    for secret in (CANARY_PASSWORD, CANARY_TOKEN, CANARY_TOKEN[-8:]):
        assert secret not in result.stdout + result.stderr


def test_a_placeholder_secret_in_production_is_named_without_any_secret(tmp_path: Path):
    env = {
        "DRIFTCOACH_ENVIRONMENT": "production",
        "DRIFTCOACH_HUBSPOT__ACCESS_TOKEN": "changeme",
        "DRIFTCOACH_SALESFORCE__CLIENT_SECRET": CANARY_TOKEN,
        "DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
    }
    result = run("rules", "list", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: invalid settings: settings: hubspot.access_token holds a placeholder value;"
        " set a real secret\n"
    )
    assert CANARY_TOKEN[-8:] not in result.stdout + result.stderr


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_a_ca_bundle_that_does_not_exist_is_refused_when_the_connection_is_added(
    crm: str, tmp_path: Path
):
    env = {"DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    result = run(
        "connections", "add", crm, "acme", "--ca-bundle", str(tmp_path / "missing.pem"), env=env
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert "acme" not in run("connections", "list", env=env).stdout


def test_sync_quarantined_lists_the_held_records_of_one_or_every_connection(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = {"DRIFTCOACH_DATABASE_URL": url}
    assert run("db", "upgrade", env=env).returncode == 0
    for name in ("acme", "globex"):
        run("connections", "add", "salesforce", name, "--client-id", "x", env=env)
    assert run("sync", "--quarantined", env=env).stdout.strip() == "no records in quarantine"

    store = Store(make_engine(Settings(database_url=url, _env_file=None)))
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    with store.unit_of_work() as session:
        ids = {c.name: c.id for c in list_connections(session)}
        too_long = Refused("activity", "00T" + "9" * 40, "00T" + "9" * 40, "outcome: 300 chars")
        quarantine.hold(session, ids["acme"], "tasks", [too_long], now=now)
        unreadable = Refused("opportunity", "006A", "006A", "ValueError: year 10000")
        quarantine.hold(session, ids["globex"], "opportunities", [unreadable], now=now)
    store.dispose()

    every = run("sync", "--quarantined", env=env)
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    assert lines[0].split() == ["connection", "stream", "crm", "id", "since", "tries", "reason"]
    assert lines[1].split() == [
        "acme", "tasks", "00T" + "9" * 18 + "\u2026", "2026-12-07", "09:30", "1", "outcome:",
        "300", "chars",
    ]  # fmt: skip
    assert lines[2].split()[:3] == ["globex", "opportunities", "006A"]
    one = run("sync", "--quarantined", "--connection", "globex", env=env)
    assert [line.split()[0] for line in one.stdout.splitlines()[1:]] == ["globex"]
    missing = run("sync", "--quarantined", "--connection", "initech", env=env)
    assert missing.returncode == 1
    assert "no connection named 'initech'" in missing.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["connections", "add", "salesforce", "globex", "--client-id", "x"],
        ["sync", "--connection", "acme"],
        ["rules", "apply"],  # the default pack
    ],
)
def test_a_read_only_sqlite_store_is_one_line_naming_it(command: list[str], tmp_path: Path):
    """Opened read-only (as a file without write permission is, for any user but root)."""
    path = tmp_path / "s.db"
    writable = {"DRIFTCOACH_DATABASE_URL": f"sqlite:///{path}"}
    assert run("db", "upgrade", env=writable).returncode == 0
    added = run("connections", "add", "hubspot", "acme", env=writable)
    assert added.returncode == 0, added.stderr
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    env = {"DRIFTCOACH_HUBSPOT__ACCESS_TOKEN": CANARY_TOKEN}
    result = run("--database-url", url, *command, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "readonly database" in result.stderr
    assert CANARY_TOKEN[-8:] not in result.stdout + result.stderr
