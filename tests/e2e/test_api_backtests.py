"""``/v1/backtests`` and ``/v1/rules/{key}/suggestions`` through the real app, on both
backends, over a small generated org with the default pack applied: a job queued, run
on the app's worker thread to success, its scores as the CLI prints them and its HTML
report; threshold suggestions; requests refused with the field named."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from bench._evaluate_load import load_whole_org
from bench.org_records import BenchOrg, OrgShape
from service.settings import Settings
from tests.e2e.api_support import Api, api

__all__ = ["api"]
ORG = OrgShape(reps=8, managers=2, months=9, deal_scale=0.6, seed=11)
END = ORG.end
RANGE = {"from": (END - timedelta(weeks=4)).isoformat(), "to": END.isoformat()}


@pytest.fixture
def org(api: Api, settings: Settings) -> int:
    """The generated org (the default pack stored), behind an app with settings."""
    api.client.app.state.settings = settings  # type: ignore[attr-defined]
    return load_whole_org(api.store, BenchOrg(ORG), activities=6000)


def _finished(api: Api, location: str, headers: dict[str, str]) -> dict[str, Any]:
    """The job once it has succeeded or failed. Polled (the worker is a thread of the
    app); the bound only stops a hung job from hanging the suite."""
    for _ in range(6000):
        job: dict[str, Any] = api.client.get(location, headers=headers).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"the backtest is still {job['state']}")


def test_a_backtest_is_queued_runs_to_success_and_has_an_html_report(api: Api, org: int):
    writer = api.auth("rules:write", name="ops-lead")
    reader = api.auth("rules:read")
    asked = api.client.post("/v1/backtests", json={"connection_id": org, "pack": "default",
                                                   **RANGE}, headers=writer)  # fmt: skip
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] in ("queued", "running", "succeeded")
    location = asked.headers["location"]

    job = _finished(api, location, reader)
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == {"steps_done": 4, "steps_total": 4}
    assert (job["created_by"], job["step"]) == ("ops-lead", "week")
    assert datetime.fromisoformat(job["from"]) == END - timedelta(weeks=4)
    result = job["result"]
    assert result["evaluations"] == 4
    scores = {score["rule_key"]: score for score in result["scores"]}
    assert result["scores"][0]["rule_key"] == "pack"
    assert {"calls-per-business-day", "pipeline-coverage"} <= set(scores)
    printed = ("recall", "precision", "median_lead_days", "tasks_per_manager_week")
    assert set(printed) <= set(scores["pack"])
    report = api.client.get(f"{location}/report", headers=reader)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert report.text.lstrip().lower().startswith("<!doctype html")
    assert "<script" not in report.text.lower()


def test_stored_rules_named_are_replayed_and_a_bad_request_names_its_field(api: Api, org: int):
    writer = api.auth("rules:write", "rules:read")
    some = {"connection_id": org, "rules": ["win-rate", "calls-per-business-day"], **RANGE}
    asked = api.client.post("/v1/backtests", json=some, headers=writer)
    job = _finished(api, asked.headers["location"], writer)
    assert job["rules"] == ["win-rate", "calls-per-business-day"]
    assert {s["rule_key"] for s in job["result"]["scores"]} <= {
        "pack", "win-rate", "calls-per-business-day"
    }  # fmt: skip

    refused = {
        "connection_id": {**some, "connection_id": org + 100},
        "rules[1]": {**some, "rules": ["win-rate", "no-such-rule"]},
        "pack": {**some, "pack": "default"},
        "to": {**some, "to": RANGE["from"]},
        "from": {**some, "from": "1990-01-01T00:00:00Z"},  # longer than a job may replay
    }
    for field, body in refused.items():
        answer = api.client.post("/v1/backtests", json=body, headers=writer)
        assert answer.status_code == 422, (field, answer.text)
        assert [p["field"] for p in answer.json()["errors"]] == [field]
    assert api.client.get("/v1/backtests/nope", headers=writer).status_code == 404
    assert api.client.get("/v1/backtests/nope/report", headers=writer).status_code == 404
    forbidden = api.client.post("/v1/backtests", json=some, headers=api.auth("rules:read"))
    assert forbidden.status_code == 403


def test_suggestions_show_the_current_policy_beside_the_best_within_the_budget(api: Api, org: int):
    reader = api.auth("rules:read")
    params = {"connection_id": org, **RANGE, "false_alarms": 0.5}
    answer = api.client.get("/v1/rules/calls-per-business-day/suggestions", params=params,
                            headers=reader)  # fmt: skip
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["rule_key"], found["tried"], found["false_alarm_budget"]) == (
        "calls-per-business-day", 42, 0.5,
    )  # fmt: skip
    assert found["current"]["strictness"] == 1.0
    assert "x1.0" in found["current"]["label"]
    best = found["best"]
    assert best is None or best["false_alarm_rate"] is None or best["false_alarm_rate"] <= 0.5
    missing = api.client.get("/v1/rules/no-such-rule/suggestions", params=params, headers=reader)
    assert missing.status_code == 404


def test_backtests_answer_503_without_the_apps_settings(api: Api):
    writer = api.auth("rules:write")
    answer = api.client.post("/v1/backtests", json={"connection_id": 1, **RANGE}, headers=writer)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
