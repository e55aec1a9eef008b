"""``/v1/metrics`` through the real app: the catalogue read off the metric models, and a
seeded rep's, team's and deal's raw values equal to what was counted by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import func, select

from connectors.records import ActivityKind, StageCategory
from rules.metrics import MetricSpec
from service.store.tables import Activity, AuditEntry, Connection, CrmKind, Opportunity, Rep
from tests.e2e.api_support import Api, api

__all__ = ["api"]
PROBLEM = "application/problem+json"
ANN, BO, CY = "005A00000000001", "005A00000000002", "005A00000000003"
DEAL = "006A00000000001"
# Three complete weeks: Mondays 3, 10 and 17 March 2025.
WEEKS = {"unit": "week", "from": "2025-03-05", "to": "2025-03-20"}


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def _seed(api: Api) -> int:
    """Ann and Bo in East, Cy in West; Ann's calls, emails and deals by week."""
    with api.store.unit_of_work() as db:
        connection = Connection(name="acme", crm=CrmKind.SALESFORCE, config={})
        db.add(connection)
        db.flush()
        cid = connection.id
        for crm_id, name, team in ((ANN, "Ann", "East"), (BO, "Bo", "East"), (CY, "Cy", "West")):
            db.add(Rep(connection_id=cid, crm_id=crm_id, name=name, team=team))
        calls = [  # (rep, day, kind, outcome): week 1 three calls and an email, week 3 two
            (ANN, 3, ActivityKind.CALL, None), (ANN, 4, ActivityKind.CALL, "Connected"),
            (ANN, 7, ActivityKind.CALL, None), (ANN, 5, ActivityKind.EMAIL, None),
            (ANN, 18, ActivityKind.CALL, "No answer"), (ANN, 20, ActivityKind.CALL, None),
            (BO, 11, ActivityKind.CALL, None), (CY, 12, ActivityKind.CALL, None),
        ]  # fmt: skip
        db.add_all(
            [
                Activity(
                    connection_id=cid,
                    crm_id=f"00T{n:012d}",
                    kind=kind,
                    rep_crm_id=rep,
                    occurred_at=_at(day),
                    outcome=outcome,
                )
                for n, (rep, day, kind, outcome) in enumerate(calls)
            ]
        )
        db.add_all(
            [
                _deal(cid, DEAL, created=_at(4, 0), amount="1000.50"),
                _deal(cid, "006A00000000002", created=_at(11), amount="250.25"),
            ]
        )
        db.add(
            Activity(
                connection_id=cid,
                crm_id="00T000000000099",
                kind=ActivityKind.TASK,
                rep_crm_id=ANN,
                opportunity_crm_id=DEAL,
                occurred_at=_at(12, 12),
            )
        )
    return cid


def _deal(cid: int, crm_id: str, *, created: datetime, amount: str) -> Opportunity:
    return Opportunity(
        connection_id=cid,
        crm_id=crm_id,
        owner_crm_id=ANN,
        name=crm_id,
        amount=Decimal(amount),
        stage="Prospecting",
        stage_category=StageCategory.OPEN,
        created_in_crm_at=created,
    )


def _values(api: Api, name: str, **query: Any) -> Any:
    answer = api.client.get(
        f"/v1/metrics/{name}/values", params={**WEEKS, **query}, headers=api.auth("rules:read")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _numbers(series: dict[str, Any]) -> list[float | None]:
    return [None if v is None else v["value"] for v in series["values"]]


def test_the_catalogue_lists_every_metric_with_its_parameters(api: Api):
    reader = api.auth("rules:read")
    first = api.client.get("/v1/metrics?limit=5", headers=reader).json()
    rest = api.client.get(f"/v1/metrics?cursor={first['next_cursor']}", headers=reader).json()
    metrics = {m["name"]: m for m in first["data"] + rest["data"]}

    models = get_args(get_args(MetricSpec)[0])
    assert set(metrics) == {model.model_fields["metric"].default for model in models}
    kinds = {p["name"]: p for p in metrics["activity_count"]["parameters"]}["kinds"]
    assert (kinds["type"], kinds["items"], kinds["default"]) == ("array", "string", [])
    assert kinds["allowed"] == ["call", "email", "meeting", "task", "note"]
    win_rate = api.client.get("/v1/metrics/win_rate", headers=reader).json()
    trailing = {p["name"]: p for p in win_rate["parameters"]}["trailing_days"]
    assert (trailing["default"], trailing["minimum"], trailing["maximum"]) == (180, 7, 1095)
    assert (win_rate["subject"], win_rate["shape"], win_rate["value_format"]) == (
        "rep",
        "snapshot",
        "percent",
    )
    assert win_rate["summary"].startswith("Won / (won + lost)")
    fields = {p["name"]: p for p in metrics["qualification_completeness"]["parameters"]}
    assert (fields["fields"]["required"], fields["fields"]["min_items"]) == (True, 1)
    assert metrics["days_in_stage"]["bases"] == ["absolute", "stage_median"]
    assert "inverse_win_rate" in metrics["pipeline_coverage"]["bases"]
    assert metrics["days_since_activity"]["subject"] == "deal"
    missing = api.client.get("/v1/metrics/calls", headers=reader)
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


def test_a_seeded_reps_values_equal_the_hand_counted_numbers(api: Api):
    cid = _seed(api)
    calls = _values(
        api, "activity_count", connection=cid, rep=ANN, params=json.dumps({"kinds": ["call"]})
    )
    assert [p["label"] for p in calls["periods"]] == ["2025-W10", "2025-W11", "2025-W12"]
    assert [p["business_days"] for p in calls["periods"]] == [5, 5, 5]
    assert [s["rep_crm_id"] for s in calls["series"]] == [ANN]
    assert _numbers(calls["series"][0]) == [3.0, 0.0, 2.0]

    answered = _values(
        api,
        "activity_count",
        connection=cid,
        rep=ANN,
        params=json.dumps({"kinds": ["call"], "exclude_outcomes": ["no answer"]}),
    )
    assert _numbers(answered["series"][0]) == [3.0, 0.0, 1.0]
    everything = _values(api, "activity_count", connection=cid, rep=ANN)
    assert _numbers(everything["series"][0]) == [4.0, 1.0, 2.0]  # the deal's task in week 2

    created = _values(
        api, "pipeline_created", connection=cid, rep=ANN, params=json.dumps({"measure": "amount"})
    )
    week_1, week_2, _ = created["series"][0]["values"]
    assert (week_1["value"], week_1["parts"]) == (1000.5, {"count": 1.0, "amount": 1000.5})
    assert (week_2["value"], week_2["sample"]) == (250.25, 1)


def test_a_team_gets_one_series_per_rep_and_a_deal_its_own(api: Api):
    cid = _seed(api)
    east = _values(api, "activity_count", connection=cid, team="East")
    assert {s["rep_crm_id"]: _numbers(s) for s in east["series"]} == {
        ANN: [4.0, 1.0, 2.0],
        BO: [0.0, 1.0, 0.0],
    }

    idle = _values(api, "days_since_activity", connection=cid, deal=DEAL)
    # Created 4 March: 6 days old at the first week's end; the task of 12 March at noon
    # is 4.5 days old at the second's and 11.5 at the third's.
    assert [(s["rep_crm_id"], s["deal_crm_id"]) for s in idle["series"]] == [(ANN, DEAL)]
    assert _numbers(idle["series"][0]) == [6.0, 4.5, 11.5]
    assert idle["series"][0]["values"][0]["parts"] == {"amount": 1000.5}
    per_deal = _values(api, "days_since_activity", connection=cid, rep=ANN)
    assert [s["deal_crm_id"] for s in per_deal["series"]] == [DEAL, "006A00000000002"]


def test_bad_questions_get_problems_naming_the_field_and_nothing_is_written(api: Api):
    cid = _seed(api)
    reader = api.auth("rules:read")
    with api.store.unit_of_work() as db:
        audit_before = db.scalar(select(func.count()).select_from(AuditEntry)) or 0

    def ask(name: str, **query: Any) -> Any:
        return api.client.get(
            f"/v1/metrics/{name}/values",
            params={**WEEKS, "connection": cid, **query},
            headers=reader,
        )

    bad_kind = ask("activity_count", rep=ANN, params='{"kinds": ["fax"]}')
    assert bad_kind.status_code == 422
    assert bad_kind.json()["errors"][0]["field"].startswith("params.kinds")
    assert ask("activity_count", rep=ANN, params="[1]").json()["errors"][0]["field"] == "params"
    too_long = ask("activity_count", rep=ANN, unit="day", **{"from": "2024-01-01"})
    assert (too_long.status_code, too_long.json()["errors"][0]["field"]) == (422, "from")
    both = ask("activity_count", rep=ANN, team="East")
    assert (both.status_code, both.json()["errors"][0]["field"]) == (422, "rep")
    deal_of_rep_metric = ask("activity_count", deal=DEAL)
    assert deal_of_rep_metric.json()["errors"][0]["field"] == "deal"
    assert ask("activity_count", rep="005NOBODY").status_code == 404
    assert ask("activity_count", team="North").status_code == 404
    assert ask("no_such_metric", rep=ANN).status_code == 404
    assert ask("activity_count", rep=ANN, connection=cid + 1).status_code == 422
    assert api.client.get("/v1/metrics", headers=api.auth("findings:read")).status_code == 403
    with api.store.unit_of_work() as db:  # only the key made for the 403 was audited
        assert db.scalar(select(func.count()).select_from(AuditEntry)) == audit_before + 1
