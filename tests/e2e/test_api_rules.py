"""``/v1/rules`` through the real app: versions with authors, diffs, ETag conflicts,
validation that names the field, scopes and keys, problem details throughout."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from service.store.tables import AuditEntry, RuleVersion
from tests.e2e.api_support import CALLS_RULE, Api, api
from tests.e2e.test_cli import run

__all__ = ["api"]
PROBLEM = "application/problem+json"


def test_a_rule_is_created_changed_and_read_back_at_every_version(api: Api):
    writer, reader = api.auth("rules:write", name="ops-lead"), api.auth("rules:read")
    created = api.client.post("/v1/rules", json=CALLS_RULE, headers=writer)
    assert created.status_code == 201
    assert created.headers["etag"] == '"v1"'
    assert created.json()["created_by"] == "ops-lead"

    stricter = {**CALLS_RULE, "standard": {"basis": "absolute", "min": 25}}
    changed = api.client.put("/v1/rules/calls-per-week", json=stricter,
                             headers={**writer, "If-Match": '"v1"'})  # fmt: skip
    assert changed.status_code == 200
    assert changed.json()["version"] == 2

    first = api.client.get("/v1/rules/calls-per-week/versions/1", headers=reader).json()
    assert first["document"]["standard"]["min"] == 20
    assert first["current"] is False
    diff = api.client.get("/v1/rules/calls-per-week/diff?from=1", headers=reader).json()
    assert diff["changes"] == [{"path": "standard.min", "before": 20, "after": 25}]
    versions = api.client.get("/v1/rules/calls-per-week/versions", headers=reader).json()
    assert [v["version"] for v in versions["data"]] == [2, 1]
    with api.store.unit_of_work() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "rule"))
        assert list(actions) == ["rule.created", "rule.updated"]


def test_a_stale_or_missing_if_match_is_refused_and_changes_nothing(api: Api):
    writer = api.auth("rules:write", "rules:read")
    api.client.post("/v1/rules", json=CALLS_RULE, headers=writer)
    api.client.put("/v1/rules/calls-per-week", json={**CALLS_RULE, "window": 6},
                   headers={**writer, "If-Match": '"v1"'})  # fmt: skip

    stale = api.client.put("/v1/rules/calls-per-week", json={**CALLS_RULE, "window": 8},
                           headers={**writer, "If-Match": '"v1"'})  # fmt: skip
    missing = api.client.post("/v1/rules/calls-per-week:disable", headers=writer)

    assert (stale.status_code, missing.status_code) == (412, 428)
    assert stale.headers["content-type"] == PROBLEM
    assert "version 2" in stale.json()["detail"]
    with api.store.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(RuleVersion)) == 2


def test_an_invalid_rule_gets_every_problem_named_by_field(api: Api):
    broken = {**CALLS_RULE, "window": 0, "standard": {"basis": "absolute"}}
    answer = api.client.post("/v1/rules:validate", json=broken, headers=api.auth("rules:read"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    fields = {problem["field"] for problem in answer.json()["errors"]}
    assert "window" in fields
    assert any(field.startswith("standard") for field in fields)


def test_disable_enable_and_delete_each_make_a_version_or_archive(api: Api):
    writer = api.auth("rules:write", "rules:read")
    api.client.post("/v1/rules", json=CALLS_RULE, headers=writer)
    disabled = api.client.post("/v1/rules/calls-per-week:disable",
                               headers={**writer, "If-Match": '"v1"'})  # fmt: skip
    assert (disabled.json()["version"], disabled.json()["document"]["enabled"]) == (2, False)
    gone = api.client.delete("/v1/rules/calls-per-week", headers={**writer, "If-Match": '"v2"'})
    assert gone.status_code == 204
    assert api.client.get("/v1/rules/calls-per-week", headers=writer).status_code == 404
    history = api.client.get("/v1/rules/calls-per-week/versions", headers=writer)
    assert len(history.json()["data"]) == 2  # an archived rule's history stays readable


def test_keys_and_scopes_are_enforced(api: Api):
    reader = api.auth("rules:read")
    refused = api.client.post("/v1/rules", json=CALLS_RULE, headers=reader)
    assert refused.status_code == 403
    assert "rules:write" in refused.json()["detail"]
    for headers in ({}, {"Authorization": "Bearer nonsense"},
                    {"Authorization": "Bearer dc_0000000000000000_wrong"}):  # fmt: skip
        answer = api.client.get("/v1/rules", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
    admin = api.auth("admin")
    made = api.client.post("/v1/keys", json={"name": "ci", "scopes": ["rules:read"]},
                           headers=admin).json()  # fmt: skip
    ci = {"Authorization": f"Bearer {made['token']}"}
    assert api.client.get("/v1/rules", headers=ci).status_code == 200
    assert api.client.delete(f"/v1/keys/{made['key_id']}", headers=admin).status_code == 204
    assert api.client.get("/v1/rules", headers=ci).status_code == 401  # revoked
    listed = api.client.get("/v1/keys", headers=admin).json()
    assert made["token"] not in str(listed)
    assert any(k["key_id"] == made["key_id"] and k["last_used_at"] for k in listed)


def test_lists_are_paged_by_cursor(api: Api):
    writer = api.auth("rules:write", "rules:read")
    for n in range(5):
        api.client.post("/v1/rules", json={**CALLS_RULE, "key": f"rule-{n}"}, headers=writer)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        answer = api.client.get("/v1/rules", params=params, headers=writer).json()
        seen += [rule["key"] for rule in answer["data"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"rule-{n}" for n in range(5)]
    bad = api.client.get("/v1/rules", params={"cursor": "!!"}, headers=writer)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")


def test_health_needs_no_key_and_a_large_body_is_refused(api: Api):
    assert api.client.get("/healthz").json() == {"status": "ok", "detail": None}
    assert api.client.get("/readyz").status_code == 200
    huge = {**CALLS_RULE, "name": "x" * 70_000}
    answer = api.client.post("/v1/rules", json=huge, headers=api.auth("rules:write"))
    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM


def test_the_first_key_comes_from_the_command_line_and_is_shown_once(database_url: str):
    env = {"DRIFTCOACH_DATABASE_URL": database_url, "DRIFTCOACH_LOG_LEVEL": "WARNING"}
    assert run("db", "upgrade", env=env).returncode == 0
    made = run("keys", "create", "--name", "ops lead", "--scopes", "admin", env=env)
    assert made.returncode == 0, made.stderr
    (token,) = re.findall(r"dc_[0-9a-f]{16}_[A-Za-z0-9_-]+", made.stdout)
    listed = run("keys", "list", env=env)
    assert "ops lead" in listed.stdout
    assert token not in listed.stdout
    refused = run("keys", "create", "--name", "x", "--scopes", "rules:everything", env=env)
    assert refused.returncode != 0
    assert "unknown scopes rules:everything" in refused.stderr + refused.stdout


def test_a_short_rule_is_stored_with_its_defaults_written_out(api: Api):
    short = {
        "key": "meetings",
        "metric": {"metric": "meetings_held"},
        "period": {"unit": "week"},
        "standard": {"basis": "absolute", "min": 3},
    }
    created = api.client.post("/v1/rules", json=short, headers=api.auth("rules:write"))
    assert created.status_code == 201, created.text
    document = created.json()["document"]
    assert (document["name"], document["level"], document["window"]) == ("Meetings", "activity", 4)
    assert document["coaching"]["assignee"] == "manager"


def test_the_command_line_reads_and_changes_rules_as_the_api_does(
    database_url: str, tmp_path: Path
):
    env = {"DRIFTCOACH_DATABASE_URL": database_url, "DRIFTCOACH_LOG_LEVEL": "WARNING"}
    assert run("db", "upgrade", env=env).returncode == 0
    (tmp_path / "meetings.yaml").write_text(
        "key: meetings\nmetric: {metric: meetings_held}\nperiod: {unit: week}\n"
        "standard: {basis: absolute, min: 3}\n"
    )
    assert run("rules", "apply", str(tmp_path), env=env).returncode == 0
    assert "meetings disabled (v2, updated)" in run("rules", "disable", "meetings", env=env).stdout
    history = run("rules", "history", "meetings", env=env).stdout
    assert history.index("v2") < history.index("v1")
    assert (
        "enabled: True -> False" in run("rules", "diff", "meetings", "--from", "1", env=env).stdout
    )
    assert run("rules", "delete", "meetings", env=env).returncode == 0
    assert "archived" in run("rules", "history", "meetings", env=env).stdout


def test_a_nul_in_a_filter_is_named_not_a_server_error(api: Api):
    answer = api.client.get("/v1/findings", params={"rule": "calls\x00"},
                            headers=api.auth("findings:read"))  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "rule", "message": "a NUL character is not allowed"}
    ]
    misspelt = api.client.get("/v1/findings", params={"sevrity": "high"},
                              headers=api.auth("findings:read"))  # fmt: skip
    assert misspelt.json()["errors"][0]["field"] == "sevrity"
