"""``driftcoach rules ...`` and ``driftcoach evaluate`` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import run


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "DRIFTCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DRIFTCOACH_LOG_LEVEL": "WARNING",
    }


def test_the_default_pack_applies_once_then_is_unchanged_and_lists(tmp_path: Path):
    env = _env(tmp_path)
    assert run("db", "upgrade", env=env).returncode == 0

    first = run("rules", "apply", env=env)
    second = run("rules", "apply", env=env)
    listed = run("rules", "list", env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout.count("  created  ") == 10
    assert second.stdout.count("unchanged  ") == 10
    assert "calls-per-business-day  v1  enabled" in listed.stdout


def test_an_invalid_pack_is_refused_whole_with_every_file_and_field_named(tmp_path: Path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "a.yaml").write_text(
        "key: calls\nname: Calls\nlevel: activity\nmetric: {metric: activity_count}\n"
        "period: {unit: fortnight}\nstandard: {basis: absolute}\n",
        encoding="utf-8",
    )
    (pack / "b.yaml").write_text("- not a mapping\n", encoding="utf-8")
    env = _env(tmp_path)
    assert run("db", "upgrade", env=env).returncode == 0

    result = run("rules", "apply", str(pack), env=env)
    listed = run("rules", "list", env=env)

    assert result.returncode == 1
    assert "nothing applied" in result.stderr
    assert "a.yaml: period.unit:" in result.stderr
    assert "b.yaml: a rule document must be a mapping" in result.stderr
    assert listed.stdout.strip() == ""


def test_evaluate_without_connections_says_how_to_add_one(tmp_path: Path):
    env = _env(tmp_path)
    assert run("db", "upgrade", env=env).returncode == 0

    result = run("evaluate", "--dry-run", env=env)

    assert result.returncode == 1
    assert "driftcoach connections add" in result.stderr


def test_evaluate_after_a_failed_sync_judges_nothing_says_why_and_exits_non_zero(
    tmp_path: Path,
):
    env = {**_env(tmp_path), "DRIFTCOACH_SALESFORCE__CLIENT_SECRET": "canary-secret"}
    assert run("db", "upgrade", env=env).returncode == 0
    assert run("rules", "apply", env=env).returncode == 0
    added = run(
        "connections", "add", "salesforce", "acme", "--client-id", "3MVG-test",
        "--login-url", "https://127.0.0.1:9", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    synced = run("sync", env=env)  # nothing listens on port 9: every stream fails
    assert synced.returncode == 1

    result = run("evaluate", env=env)

    assert result.returncode == 1
    assert "nothing could be judged for acme: its data is missing" in result.stderr
    assert "not judged calls-per-business-day: data missing (stream users failed" in result.stdout
    assert "findings: did open 0" in result.stdout
    assert "canary-secret" not in result.stdout + result.stderr
