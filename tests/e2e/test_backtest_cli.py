"""``driftcoach backtest`` as an operator runs it, on a store holding a generated org."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bench._evaluate_load import load_whole_org
from bench.org_records import BenchOrg, OrgShape
from service.evaluation.packs import default_pack_dir
from service.settings import Settings
from service.store import Store, make_engine, migrate
from tests.e2e.test_cli import run

ORG = OrgShape(reps=8, managers=2, months=9, deal_scale=0.6, seed=11)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('backtest') / 's.db'}"
    settings = Settings(database_url=url, _env_file=None)
    migrate.upgrade(settings)
    store = Store(make_engine(settings))
    load_whole_org(store, BenchOrg(ORG))
    store.dispose()
    return url


def _dates(weeks: int) -> list[str]:
    end = ORG.end.date()
    return ["--from", str(end - timedelta(weeks=weeks)), "--to", str(end)]


def test_a_backtest_prints_the_packs_and_each_rules_scores(store_url: str):
    result = run("--database-url", store_url, "backtest", *_dates(20))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bench-evaluate: 20 evaluations from ")
    assert "rep-quarters scored" in lines[0]
    assert lines[1].split() == [
        "rule", "flagged", "recall", "precision", "lead", "days", "findings/mw", "tasks/mw"
    ]  # fmt: skip
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.startswith("  ")}
    assert {"pack", "calls-per-business-day", "pipeline-coverage"} <= set(rows)
    assert int(rows["pack"][0]) > 0
    assert any("activity / objective -> result" in line for line in lines)


def test_one_stored_rule_or_a_pack_directory_is_replayed_alone(store_url: str):
    one = run("--database-url", store_url, "backtest", *_dates(6), "--rule", "win-rate")
    assert one.returncode == 0, one.stderr
    named = {line.split()[0] for line in one.stdout.splitlines()[2:] if line.startswith("  ")}
    assert named >= {"pack", "win-rate"}
    assert "calls-per-business-day" not in named
    pack = run("--database-url", store_url, "backtest", *_dates(6), "--rules",
               str(default_pack_dir()))  # fmt: skip
    assert pack.returncode == 0, pack.stderr


def test_suggest_prints_the_current_and_the_best_policy_within_the_budget(store_url: str):
    result = run("--database-url", store_url, "backtest", *_dates(12), "--rule",
                 "calls-per-business-day", "--suggest", "calls-per-business-day",
                 "--false-alarms", "0.5")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "variants tried" in line)
    assert lines[start].split()[:4] == ["calls-per-business-day:", "42", "variants", "tried,"]
    assert lines[start + 1].split()[:2] == ["current", "standard"]
    calls = yaml.safe_load((default_pack_dir() / "calls-per-business-day.yaml").read_text())
    assert f"x1.0, drift {calls['drift']['k']} of {calls['drift']['n']}" in lines[start + 1]
    assert lines[start + 2].split()[0] in {"suggested", "no"}
    unknown = run("--database-url", store_url, "backtest", *_dates(4), "--rule", "win-rate",
                  "--suggest", "calls-per-business-day")  # fmt: skip
    assert unknown.returncode == 1
    assert "--suggest names a rule not replayed: calls-per-business-day" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "no-such-rule"], "no stored rule no-such-rule"),
        (["--rules", "/nonexistent"], "nothing to replay: /nonexistent: not a directory"),
        (["--every", "fortnight"], "--every takes week or month"),
        (["--connection", "initech"], "no connection named 'initech'"),
    ],
)
def test_bad_choices_are_one_line_naming_them(store_url: str, args: list[str], message: str):
    result = run("--database-url", store_url, "backtest", *_dates(4), *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_range_backwards_is_refused(store_url: str, tmp_path: Path):
    end = ORG.end.date()
    result = run("--database-url", store_url, "backtest", "--from", str(end), "--to",
                 str(end - timedelta(days=30)))  # fmt: skip
    assert result.returncode == 1
    assert "--to must be after --from" in result.stderr
