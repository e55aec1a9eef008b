"""The backtest's HTML report, as a reader opens it: rendered in Debian's Chromium, no
console errors, timelines drawn, and a hostile deal name shown as text, not run.

The screenshot goes to ``test-artefacts/`` (or ``$DRIFTCOACH_TEST_ARTEFACTS``).
Without Chromium the test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, sync_playwright
from sqlalchemy import update

from bench._evaluate_load import load_whole_org
from bench.org_records import BenchOrg, OrgShape
from rules.backtest import replay_moments
from rules.evaluation import OpenFinding
from service.backtest.replay import replay_connection
from service.settings import Settings
from service.store import Store, make_engine, migrate
from service.store.tables import Opportunity
from tests.e2e.test_cli import run
from tests.integration.test_backtest import _rules

ORG = OrgShape(reps=8, managers=2, months=9, deal_scale=0.6, seed=11)
#: A description from the apex-recipes sample data (github.com/trailheadapps/apex-recipes,
#: data/Opportunities.json, CC0), taken from the "big list of naughty strings".
HOSTILE = "<img src=x onerror=alert('hi') />"
ARTEFACTS = Path(os.environ.get("DRIFTCOACH_TEST_ARTEFACTS", "test-artefacts"))


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backtest report of a generated org where a flagged deal bears a hostile name."""
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 's.db'}"
    settings = Settings(database_url=url, _env_file=None)
    migrate.upgrade(settings)
    store = Store(make_engine(settings))
    _rename_a_flagged_deal(store, load_whole_org(store, BenchOrg(ORG)))
    store.dispose()
    path = folder / "backtest.html"
    end = ORG.end.date()
    dates = ["--from", str(end - timedelta(weeks=16)), "--to", str(end)]
    extra = ["--report", str(path), "--suggest", "pipeline-coverage"]
    result = run("--database-url", url, "backtest", *dates, *extra)
    assert result.returncode == 0, result.stderr
    assert f"report written to {path}" in result.stdout
    return path


def _rename_a_flagged_deal(store: Store, connection_id: int) -> None:
    moments = replay_moments(ORG.end - timedelta(weeks=16), ORG.end)
    steps = replay_connection(store, connection_id, _rules(store), moments).replay.steps
    deal = next(  # a deal a finding names: the rolled-up deal rules list theirs
        listed["crm_id"]
        for step in steps
        for intent in step.plan.of_type(OpenFinding)
        for listed in intent.evidence["deals"]
    )
    with store.unit_of_work() as session:
        session.execute(update(Opportunity).where(Opportunity.crm_id == deal).values(name=HOSTILE))


def test_the_report_is_one_file_with_no_script_and_the_hostile_name_escaped(report: Path):
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(&#39;hi&#39;) /&gt;" in html
    assert "Threshold suggestions" in html


def test_the_report_renders_in_chromium_without_errors_and_draws_the_timelines(report: Path):
    executable = _chromium()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("dialog", lambda dialog: _refuse(dialog, problems))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "backtest-report.png"), full_page=True)
            timelines = page.locator("svg.timeline").count()
            hostile_cells = page.get_by_text(HOSTILE).count()
            images = page.locator("img").count()
            title = page.title()
        finally:
            browser.close()
    assert problems == []
    assert timelines > 10
    assert hostile_cells >= 1  # shown, as text
    assert images == 0  # and never made into an element
    assert title == "driftcoach backtest: bench-evaluate"
    assert (ARTEFACTS / "backtest-report.png").stat().st_size > 50_000


def _refuse(dialog: Dialog, problems: list[str]) -> None:
    """A dialog (an ``alert`` the hostile name would raise) is a failure, and dismissed."""
    problems.append(f"dialog: {dialog.message}")
    dialog.dismiss()
