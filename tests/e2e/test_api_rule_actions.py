"""``POST /v1/rules/{key}:preview`` and ``POST /v1/rule-packs:apply`` through the real
app, on both backends: a preview (of the stored rule or of a draft) that writes nothing
at all, and a pack applied all or nothing with every problem named by its index."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bench._evaluate_load import load_whole_org
from bench.org_records import BenchOrg, OrgShape
from service.evaluation.packs import default_pack_dir, load_pack
from service.evaluation.run import evaluate_connection
from service.settings import Settings
from service.store import Store
from service.store.tables import AuditEntry, Base, RuleVersion
from tests.e2e.api_support import CALLS_RULE, Api, api

__all__ = ["api"]
ORG = OrgShape(reps=8, managers=2, months=9, deal_scale=0.6, seed=11)
RULE = "meetings-per-week"  # drifting reps in this org: findings to keep, open, coach


@pytest.fixture
def configured(api: Api, settings: Settings) -> Api:
    api.client.app.state.settings = settings  # type: ignore[attr-defined]
    return api


@pytest.fixture
def org(configured: Api) -> int:
    """The generated org with the default pack stored, and findings live from a real
    evaluation two weeks before the preview's moment."""
    connection_id = load_whole_org(configured.store, BenchOrg(ORG), activities=6000)
    evaluate_connection(configured.store, connection_id, as_of=ORG.end - timedelta(weeks=2))
    return connection_id


def _rows(store: Store) -> dict[str, int]:
    """Rows in every table of the store."""
    with store.unit_of_work() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _stored_rule() -> dict[str, Any]:
    (packed,) = [p for p in load_pack(default_pack_dir()) if p.document.key == RULE]
    return packed.document.model_dump(mode="json")


def test_a_preview_shows_what_the_rule_would_do_and_writes_nothing(configured: Api, org: int):
    reader = configured.auth("rules:read")
    before = _rows(configured.store)
    body = {"as_of": ORG.end.isoformat()}
    answer = configured.client.post(f"/v1/rules/{RULE}:preview", json=body, headers=reader)
    assert answer.status_code == 200, answer.text
    assert _rows(configured.store) == before

    preview = answer.json()
    assert (preview["key"], preview["draft"]) == (RULE, False)
    (connection,) = preview["connections"]
    assert connection["connection_id"] == org
    assert connection["held_back"] is None
    changed = [*connection["opened"], *connection["kept"], *connection["escalated"],
               *connection["resolved"]]  # fmt: skip
    assert connection["opened"], "the org has drifting reps"
    assert connection["kept"], "the evaluation two weeks before opened findings"
    assert connection["tasks"]
    for finding in changed:
        assert finding["subject"]["rep_crm_id"]
        assert finding["standard"] is None or "text" in finding["standard"]
    for finding in connection["opened"] + connection["kept"]:
        assert finding["severity"] in ("low", "medium", "high")
    for task in connection["tasks"]:
        assert task["title"]
        assert task["assignee_crm_id"]


def test_a_stricter_draft_opens_more_than_the_stored_rule_and_writes_nothing(
    configured: Api, org: int
):
    reader = configured.auth("rules:read")
    stored = _stored_rule()
    stricter = {  # 50 meetings a week, missed twice: every rep drifts
        **stored,
        "standard": {"basis": "absolute", "min": 50},
        "drift": {**stored["drift"], "k": 2, "n": 2},
    }
    as_of = ORG.end.isoformat()
    before = _rows(configured.store)
    path = f"/v1/rules/{RULE}:preview"
    now = configured.client.post(path, json={"as_of": as_of}, headers=reader).json()
    draft = configured.client.post(path, json={"as_of": as_of, "document": stricter},
                                   headers=reader)  # fmt: skip
    assert draft.status_code == 200, draft.text
    assert _rows(configured.store) == before
    assert (draft.json()["draft"], draft.json()["version"]) == (True, 2)

    def live(preview: dict[str, Any]) -> int:
        (connection,) = preview["connections"]
        return sum(len(connection[kind]) for kind in ("opened", "kept", "escalated"))

    assert live(draft.json()) > live(now) > 0


def test_a_preview_refuses_a_bad_draft_or_an_unknown_rule(configured: Api):
    reader = configured.auth("rules:read")
    other = {"document": {**_stored_rule(), "key": "another-rule"}}
    broken = {"document": {**_stored_rule(), "window": 0}}
    renamed = configured.client.post(f"/v1/rules/{RULE}:preview", json=other, headers=reader)
    invalid = configured.client.post(f"/v1/rules/{RULE}:preview", json=broken, headers=reader)
    missing = configured.client.post("/v1/rules/no-such-rule:preview", headers=reader)
    assert (renamed.status_code, renamed.json()["errors"][0]["field"]) == (422, "document.key")
    assert invalid.status_code == 422
    assert "document.window" in {p["field"] for p in invalid.json()["errors"]}
    assert missing.status_code == 404


def _documents() -> list[dict[str, Any]]:
    return [{**CALLS_RULE, "key": f"calls-{n}", "name": f"Calls {n}"} for n in range(3)]


def _versions(store: Store) -> int:
    with store.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(RuleVersion)) or 0


def test_a_pack_is_applied_all_or_nothing(configured: Api):
    writer = configured.auth("rules:write", name="ci")
    bad = _documents()
    bad[2] = {**bad[2], "standard": {"basis": "absolute", "min": "lots"}}
    bad[1] = {**bad[1], "window": 0}
    refused = configured.client.post("/v1/rule-packs:apply", json={"rules": bad}, headers=writer)
    assert refused.status_code == 422
    fields = {problem["field"] for problem in refused.json()["errors"]}
    assert {"rules[1].window", "rules[2].standard.min"} <= fields  # every problem, at once
    twice = [*_documents(), _documents()[0]]
    duplicate = configured.client.post("/v1/rule-packs:apply", json={"rules": twice},
                                       headers=writer)  # fmt: skip
    assert [p["field"] for p in duplicate.json()["errors"]] == ["rules[3].key"]
    nul = [{**_documents()[0], "name": "Calls\x00"}]  # PostgreSQL cannot store it: refused on both
    unstorable = configured.client.post("/v1/rule-packs:apply", json={"rules": nul}, headers=writer)
    assert [p["field"] for p in unstorable.json()["errors"]] == ["rules[0].name"]
    assert _versions(configured.store) == 0

    applied = configured.client.post("/v1/rule-packs:apply", json={"rules": _documents()},
                                     headers=writer)  # fmt: skip
    assert applied.status_code == 200, applied.text
    assert applied.json()["created"] == 3
    changed = _documents()
    changed[1] = {**changed[1], "window": 6}
    again = configured.client.post("/v1/rule-packs:apply", json={"rules": changed},
                                   headers=writer).json()  # fmt: skip
    assert [(r["key"], r["outcome"], r["version"]) for r in again["rules"]] == [
        ("calls-0", "unchanged", 1), ("calls-1", "updated", 2), ("calls-2", "unchanged", 1),
    ]  # fmt: skip
    assert _versions(configured.store) == 4
    with configured.store.unit_of_work() as session:
        by_ci = select(AuditEntry.action).where(AuditEntry.actor == "ci")
        actions = list(session.scalars(by_ci))
    assert actions.count("rule_pack.applied") == 2
    assert actions.count("rule.created") == 3


def test_the_default_pack_is_applied_by_name(configured: Api):
    writer = configured.auth("rules:write")
    first = configured.client.post("/v1/rule-packs:apply", json={"pack": "default"},
                                   headers=writer).json()  # fmt: skip
    keys = {packed.document.key for packed in load_pack(default_pack_dir())}
    assert {r["key"] for r in first["rules"]} == keys
    assert first["created"] == len(keys)
    second = configured.client.post("/v1/rule-packs:apply", json={"pack": "default"},
                                    headers=writer).json()  # fmt: skip
    assert second["unchanged"] == len(keys)
    neither = configured.client.post("/v1/rule-packs:apply", json={}, headers=writer)
    assert neither.status_code == 422
    reader = configured.client.post("/v1/rule-packs:apply", json={"pack": "default"},
                                    headers=configured.auth("rules:read"))  # fmt: skip
    assert reader.status_code == 403
