"""``/v1/reps`` and the scorecards through the real app, on a small seeded org: the rep
whose calls fell is marked drifting (then finding open once an evaluation opened one),
standards say how they were derived, past periods are shown, deal rules count deals,
the same cells as an evaluation's scorecard, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bench._evaluate_load import load_org, load_records
from bench.org_records import BenchOrg, OrgShape
from connectors.records import ActivityKind, Entity, StageCategory
from rules.documents import load_rule
from rules.periods import PeriodUnit, complete_periods
from service.evaluation.run import evaluate_connection
from service.store import Base, Store
from service.store.connections import add_connection
from service.store.stored_rules import apply_rule
from service.store.tables import Activity, CrmKind, Opportunity, Rep
from tests.e2e.api_support import CALLS_RULE, Api, api

__all__ = ["api"]
#: A Wednesday; the last four complete weeks are the window.
AS_OF = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
MANAGER, STEADY, SLIPPING, WESTERN = "005MGR", "005STEADY", "005SLIP", "005WEST"
IDLE_DEALS: dict[str, Any] = {
    "key": "idle-deals",
    "name": "Idle deals",
    "level": "activity",
    "drives": "Win rate",
    "metric": {"metric": "days_since_activity"},
    "period": {"unit": "week"},
    "window": 3,
    "value_format": "days",
    "standard": {"basis": "absolute", "max": 7},
    "drift": {"k": 2, "n": 2, "resolve_after": 1},
    "coaching": {"assignee": "rep", "what_good_looks_like": "A touch a week."},
}


def calls_org(store: Store, *, deals: bool = False) -> int:
    """A manager with two reps in East (one whose calls fell), one in West, an inactive
    one; eight weeks of calls; the calls rule (and, with ``deals``, an idle deal of the
    slipping rep, a busy one of the steady rep and two deal rules)."""
    weeks = complete_periods(AS_OF, PeriodUnit.WEEK, 8)
    calls = {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 25, 25, 12, 10, 8], WESTERN: [22] * 8}
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "acme", CrmKind.SALESFORCE, {}).id
        for crm_id, manager, team, active in (
            (MANAGER, None, None, True),
            (STEADY, MANAGER, "East", True),
            (SLIPPING, MANAGER, "East", True),
            (WESTERN, MANAGER, "West", True),
            ("005GONE", MANAGER, "East", False),
        ):
            name = crm_id[3:].title()
            session.add(
                Rep(
                    connection_id=connection_id,
                    crm_id=crm_id,
                    name=name,
                    manager_crm_id=manager,
                    team=team,
                    is_active=active,
                )
            )
        rows = [
            {
                "connection_id": connection_id,
                "crm_id": f"{rep}-{week.first_day}-{n}",
                "kind": ActivityKind.CALL,
                "rep_crm_id": rep,
                "occurred_at": week.start + timedelta(days=1, minutes=n),
            }
            for rep, counts in calls.items()
            for week, count in zip(weeks, counts, strict=True)
            for n in range(count)
        ]
        if deals:
            rows += _deals(session, connection_id, weeks[0].start)
        session.execute(insert(Activity), rows)
        apply_rule(session, CALLS_RULE)
        if deals:
            rolled = {"min_deals": 1, "team_factor": 1.5}
            per_rep = {**IDLE_DEALS, "key": "idle-deals-per-rep", "rollup": rolled}
            for document in (IDLE_DEALS, per_rep):
                apply_rule(session, load_rule(document).model_dump(mode="json"))
    return connection_id


def _deals(session: Any, connection_id: int, since: datetime) -> list[dict[str, Any]]:
    """Two open deals from ``since``: the steady rep's touched daily, the other never."""
    for crm_id, owner in (("OPP-BUSY", STEADY), ("OPP-IDLE", SLIPPING)):
        session.add(
            Opportunity(
                connection_id=connection_id,
                crm_id=crm_id,
                name=crm_id,
                owner_crm_id=owner,
                stage="Proposal",
                stage_category=StageCategory.OPEN,
                amount=1000,
                created_in_crm_at=since,
            )
        )
    days = (AS_OF - since).days
    return [
        {
            "connection_id": connection_id,
            "crm_id": f"busy-{day}",
            "kind": ActivityKind.EMAIL,
            "rep_crm_id": STEADY,
            "opportunity_crm_id": "OPP-BUSY",
            "occurred_at": since + timedelta(days=day, hours=1),
        }
        for day in range(days)
    ]


def _row_counts(store: Store) -> dict[str, int]:
    with store.unit_of_work() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _indicators(answer: Any) -> dict[str, dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return {i["rule_key"]: i for i in answer.json()["rep"]["indicators"]}


def test_reps_are_listed_by_connection_manager_team_and_activity(api: Api):
    connection_id = calls_org(api.store)
    with api.store.unit_of_work() as session:
        other = add_connection(session, "beta", CrmKind.HUBSPOT, {}).id
        session.add(Rep(connection_id=other, crm_id="H1", name="Hal", team="East"))
    reader = api.auth("findings:read")

    def listed(query: str) -> list[str]:
        answer = api.client.get(f"/v1/reps?{query}", headers=reader)
        assert answer.status_code == 200, answer.text
        return [rep["crm_id"] for rep in answer.json()["data"]]

    everyone = [MANAGER, STEADY, SLIPPING, WESTERN, "005GONE", "H1"]
    assert listed("") == everyone
    assert listed(f"connection={connection_id}") == everyone[:-1]
    assert listed(f"manager={MANAGER}") == [STEADY, SLIPPING, WESTERN, "005GONE"]
    assert listed("team=East") == [STEADY, SLIPPING, "005GONE", "H1"]
    assert listed("team=East&active=false") == ["005GONE"]
    assert listed(f"team=East&active=true&connection={other}") == ["H1"]
    first = api.client.get("/v1/reps?limit=4", headers=reader).json()
    rest = api.client.get(f"/v1/reps?cursor={first['next_cursor']}", headers=reader).json()
    assert [r["crm_id"] for r in first["data"] + rest["data"]] == everyone
    steady = api.client.get(f"/v1/reps?manager={MANAGER}&limit=1", headers=reader).json()
    assert steady["data"][0] | {"id": 0} == {
        "id": 0,
        "crm_id": STEADY,
        "connection_id": connection_id,
        "name": "Steady",
        "manager_crm_id": MANAGER,
        "team": "East",
        "role": None,
        "active": True,
        "started_on": None,
    }


def test_a_rep_scorecard_marks_the_drift_says_why_and_writes_nothing(api: Api):
    connection_id = calls_org(api.store)
    reader = api.auth("findings:read")
    before = _row_counts(api.store)
    url = f"/v1/reps/{SLIPPING}/scorecard?as_of={AS_OF.isoformat()}&periods=6"

    slipping = _indicators(api.client.get(url.replace("+", "%2B"), headers=reader))
    steady = _indicators(
        api.client.get(f"/v1/reps/{STEADY}/scorecard?as_of=2026-11-18T10:00:00Z", headers=reader)
    )

    calls = slipping["calls-per-week"]
    assert (calls["status"], calls["value"], calls["standard"]) == (
        "drifting",
        8.0,
        {"min": 20.0, "max": None},
    )
    assert calls["derivation"] == "at least 20: absolute standard (rule standard)"
    assert (calls["drift_reason"], calls["severity"]) == ("sustained", "high")
    assert [p["value"] for p in calls["periods"]] == [25, 25, 25, 12, 10, 8]
    assert [p["outside"] for p in calls["periods"]] == [False] * 3 + [True] * 3
    assert (steady["calls-per-week"]["status"], len(steady["calls-per-week"]["periods"])) == (
        "ok",
        4,
    )
    assert _row_counts(api.store) == before
    core = evaluate_connection(api.store, connection_id, as_of=AS_OF, dry_run=True).plan
    for rep, shown in ((SLIPPING, calls), (STEADY, steady["calls-per-week"])):
        cell = core.scorecard.cell(rep, "calls-per-week")
        assert cell is not None
        assert (cell.value, cell.drifting) == (shown["value"], shown["status"] == "drifting")
    manager = api.client.get(f"/v1/reps/{MANAGER}/scorecard", headers=reader).json()["rep"]
    assert (manager["judged"], manager["indicators"]) == (False, [])


def test_a_team_scorecard_shows_open_findings_and_the_past_as_known_then(api: Api):
    connection_id = calls_org(api.store)
    evaluate_connection(api.store, connection_id, as_of=AS_OF)
    reader = api.auth("findings:read")
    finding = api.client.get("/v1/findings", headers=reader).json()["data"][0]

    now = api.client.get("/v1/teams/East/scorecard?as_of=2026-11-18T10:00:00Z", headers=reader)
    then = api.client.get("/v1/teams/East/scorecard?as_of=2026-10-28T10:00:00Z", headers=reader)

    assert now.status_code == 200, now.text
    rows = {rep["crm_id"]: rep["indicators"][0] for rep in now.json()["reps"]}
    assert set(rows) == {STEADY, SLIPPING}  # West's rep and the inactive one are not shown
    assert rows[SLIPPING]["status"] == "finding_open"
    assert [f["id"] for f in rows[SLIPPING]["findings"]] == [finding["id"]]
    assert rows[STEADY]["status"] == "ok"
    earlier = {rep["crm_id"]: rep["indicators"][0] for rep in then.json()["reps"]}
    assert (earlier[SLIPPING]["status"], earlier[SLIPPING]["findings"]) == ("ok", [])
    assert [p["value"] for p in earlier[SLIPPING]["periods"]] == [25, 25, 25, 25]


def test_deal_rules_count_the_reps_drifting_deals_as_the_core_does(api: Api):
    connection_id = calls_org(api.store, deals=True)
    reader = api.auth("findings:read")
    url = "/v1/reps/{}/scorecard?as_of=2026-11-18T10:00:00Z&periods=5"

    slipping = _indicators(api.client.get(url.format(SLIPPING), headers=reader))
    steady = _indicators(api.client.get(url.format(STEADY), headers=reader))

    per_deal, rolled = slipping["idle-deals"], slipping["idle-deals-per-rep"]
    assert (per_deal["status"], per_deal["deals_drifting"], per_deal["value"]) == (
        "drifting",
        1,
        1.0,
    )
    assert (
        per_deal["derivation"]
        == "each deal held to at most 7.0 days: absolute standard (rule standard)"
    )
    assert [p["value"] for p in per_deal["periods"]][-3:] == [1, 1, 1]
    assert len(per_deal["periods"]) == 5
    assert (rolled["status"], rolled["value"], rolled["rolled_up"]) == ("drifting", 1.0, True)
    assert rolled["standard"] == {"min": None, "max": 0.0}
    assert "roll-up" in rolled["derivation"]
    assert (steady["idle-deals"]["status"], steady["idle-deals"]["deals_drifting"]) == ("ok", 0)
    assert steady["idle-deals-per-rep"]["status"] == "ok"
    core = evaluate_connection(api.store, connection_id, as_of=AS_OF, dry_run=True).plan
    cell = core.scorecard.cell(SLIPPING, "idle-deals")
    assert cell is not None
    assert (cell.deals_drifting, cell.drifting) == (1, True)


def test_a_scorecard_needs_a_known_rep_team_connection_and_moment(api: Api):
    reader = api.auth("findings:read")
    assert api.client.get(f"/v1/reps/{STEADY}/scorecard", headers=reader).status_code == 404
    calls_org(api.store)
    with api.store.unit_of_work() as session:
        other = add_connection(session, "beta", CrmKind.HUBSPOT, {}).id

    several = api.client.get(f"/v1/reps/{STEADY}/scorecard", headers=reader)
    assert several.status_code == 422
    assert several.json()["errors"][0]["field"] == "connection"
    base = "/v1/reps/{}/scorecard?connection=1"
    assert api.client.get(base.format("NOBODY"), headers=reader).status_code == 404
    assert (
        api.client.get(
            f"{base.format(STEADY)}&as_of=2999-01-01T00:00:00Z", headers=reader
        ).status_code
        == 422
    )
    assert api.client.get(f"{base.format(STEADY)}&periods=13", headers=reader).status_code == 422
    assert (
        api.client.get("/v1/teams/North/scorecard?connection=1", headers=reader).status_code == 404
    )
    assert (
        api.client.get(f"/v1/teams/East/scorecard?connection={other}", headers=reader).status_code
        == 404
    )
    assert (
        api.client.get(
            f"/v1/reps/{STEADY}/scorecard?connection=1", headers=api.auth("rules:read")
        ).status_code
        == 403
    )


def test_every_cell_of_the_default_pack_agrees_with_the_evaluations_scorecard(api: Api):
    """The benchmark's small synthetic org with the default pack (every metric, roll-ups
    with own history, several period units): the API shows what the core decided."""
    org = BenchOrg(OrgShape(reps=8, managers=2, months=12, deal_scale=0.5))
    connection_id, _ = load_org(api.store, org, 5000)
    load_records(
        api.store,
        connection_id,
        Entity.ACTIVITY,
        org.activities(0, 3000),
        batch_size=5000,
        now=org.shape.end,
    )
    as_of = org.shape.end
    core = evaluate_connection(api.store, connection_id, as_of=as_of, dry_run=True).plan
    reader = api.auth("findings:read")
    moment = as_of.isoformat().replace("+", "%2B")

    shown: dict[str, dict[str, Any]] = {}
    for team in sorted({row.team for row in core.scorecard.rows if row.team}):
        answer = api.client.get(
            f"/v1/teams/{team}/scorecard?as_of={moment}&periods=12", headers=reader
        )
        assert answer.status_code == 200, answer.text
        shown |= {
            rep["crm_id"]: {i["rule_key"]: i for i in rep["indicators"]}
            for rep in answer.json()["reps"]
        }

    assert set(shown) == {row.rep_crm_id for row in core.scorecard.rows}
    drifting = 0
    for row in core.scorecard.rows:
        assert set(shown[row.rep_crm_id]) == set(row.cells)
        for key, cell in row.cells.items():
            indicator = shown[row.rep_crm_id][key]
            assert cell.drifting == (indicator["status"] == "drifting"), (row.rep_crm_id, key)
            if not indicator["rolled_up"]:
                assert cell.value == indicator["value"], (row.rep_crm_id, key)
            assert len(indicator["periods"]) == 12
            drifting += cell.drifting
    assert drifting > 3
