"""``/v1/quotas`` through the real app: a quota set beside the CRM's, replaced, audited;
a CSV file applied whole, or refused whole with every problem named by line and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from service.store.tables import AuditEntry, Connection, CrmKind, Quota, QuotaSource, Rep
from tests.e2e.api_support import Api, api

__all__ = ["api"]
ANN, BO = "005A00000000001", "005A00000000002"
CSV = {"Content-Type": "text/csv"}
Q1 = {"period_start": "2026-01-01", "period_end": "2026-03-31"}


def _seed(api: Api) -> int:
    """A connection with two reps; Ann has a quota for Q1 from the CRM."""
    with api.store.unit_of_work() as db:
        connection = Connection(name="acme", crm=CrmKind.SALESFORCE, config={})
        db.add(connection)
        db.flush()
        db.add_all(
            [
                Rep(connection_id=connection.id, crm_id=ANN, name="Ann"),
                Rep(connection_id=connection.id, crm_id=BO, name="Bo"),
            ]
        )
        db.add(
            Quota(
                connection_id=connection.id,
                rep_crm_id=ANN,
                crm_id="0J9A1",
                period_start=date(2026, 1, 1),
                period_end=date(2026, 3, 31),
                amount=Decimal("90000"),
                source=QuotaSource.CRM,
            )
        )
        return connection.id


def _quotas(api: Api) -> list[tuple[str, str, str, Decimal, str | None]]:
    with api.store.unit_of_work() as db:
        rows = db.scalars(
            select(Quota).order_by(Quota.source, Quota.rep_crm_id, Quota.period_start)
        )
        return [
            (q.source.value, q.rep_crm_id, q.period_start.isoformat(), q.amount, q.currency)
            for q in rows
        ]


def _upload(api: Api, cid: int, text: str, **headers: str) -> Any:
    auth = api.auth("rules:write")
    return api.client.post(
        f"/v1/quotas:upload?connection={cid}",
        content=text.encode(),
        headers={**CSV, **auth, **headers},
    )


def test_a_quota_set_through_the_api_sits_beside_the_crms_and_is_replaced(api: Api):
    cid = _seed(api)
    writer = api.auth("rules:write", name="ops-lead")
    quota = {"connection_id": cid, "rep_crm_id": ANN, **Q1, "amount": 100000, "currency": "USD"}
    created = api.client.put("/v1/quotas", json=quota, headers=writer)
    assert (created.status_code, created.json()["source"]) == (201, "api")
    replaced = api.client.put("/v1/quotas", json={**quota, "amount": "120000.50"}, headers=writer)
    assert (replaced.status_code, replaced.json()["id"]) == (200, created.json()["id"])
    same = api.client.put("/v1/quotas", json={**quota, "amount": "120000.5"}, headers=writer)
    assert same.status_code == 200

    assert _quotas(api) == [
        ("api", ANN, "2026-01-01", Decimal("120000.50"), "USD"),
        ("crm", ANN, "2026-01-01", Decimal("90000.00"), None),
    ]
    listed = api.client.get(
        "/v1/quotas", params={"rep": ANN, "period": "2026-02-15"}, headers=api.auth("rules:read")
    ).json()
    assert sorted(q["source"] for q in listed["data"]) == ["api", "crm"]
    assert (
        api.client.get(
            "/v1/quotas", params={"period": "2026-04-01"}, headers=api.auth("rules:read")
        ).json()["data"]
        == []
    )
    with api.store.unit_of_work() as db:
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "quota").order_by(AuditEntry.id)
        ).all()
        assert [(e.action, e.actor) for e in entries] == [
            ("quota.created", "ops-lead"),
            ("quota.updated", "ops-lead"),
        ]
        assert entries[1].details["before"]["amount"] == "100000.00"
        assert entries[1].details["after"]["amount"] == "120000.50"


def test_a_quota_for_an_unknown_rep_or_connection_or_a_reversed_period_is_refused(api: Api):
    cid = _seed(api)
    writer = api.auth("rules:write")
    quota = {"connection_id": cid, "rep_crm_id": ANN, **Q1, "amount": 1}

    def field(**change: Any) -> str:
        answer = api.client.put("/v1/quotas", json={**quota, **change}, headers=writer)
        assert answer.status_code == 422
        return str(answer.json()["errors"][0]["field"])

    assert field(rep_crm_id="005NOBODY") == "rep_crm_id"
    assert field(connection_id=cid + 1) == "connection_id"
    assert field(period_end="2025-12-31") == "period_end"
    assert field(amount=-1) == "amount"
    assert field(amount="1.001") == "amount"
    assert (
        api.client.put("/v1/quotas", json=quota, headers=api.auth("rules:read")).status_code == 403
    )
    assert len(_quotas(api)) == 1


def test_a_good_csv_file_is_applied_and_a_second_upload_changes_only_what_differs(api: Api):
    cid = _seed(api)
    text = (
        "rep_crm_id,period_start,period_end,amount,currency\n"
        f"{ANN},2026-01-01,2026-03-31,100000,usd\n"
        f"{BO},2026-01-01,2026-03-31,80000.25,\n"
        f"{BO},2026-04-01,2026-06-30,85000,EUR\n"
    )
    first = _upload(api, cid, text)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "connection_id": cid,
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    again = _upload(api, cid, "\ufeff" + text.replace("85000,EUR", "86000,EUR"))
    assert (again.json()["updated"], again.json()["unchanged"]) == (1, 2)
    assert [q for q in _quotas(api) if q[0] == "api"] == [
        ("api", ANN, "2026-01-01", Decimal("100000.00"), "USD"),
        ("api", BO, "2026-01-01", Decimal("80000.25"), None),
        ("api", BO, "2026-04-01", Decimal("86000.00"), "EUR"),
    ]


def test_a_bad_csv_file_names_every_problem_by_line_and_column_and_applies_nothing(api: Api):
    cid = _seed(api)
    before = _quotas(api)
    text = (
        "period_start,period_end,rep_crm_id,amount\n"
        "2026-01-01,2026-03-31,005A00000000002,5000\n"  # good, but not applied
        "2026-13-01,2026-03-31,005A00000000001,5000\n"
        "2026-01-01,2026-03-31,005A00000000001,-5\n"
        "2026-01-01,2026-03-31,005NOBODY,5000\n"
        "2026-01-01,2026-03-31,005A00000000002,7000\n"
        "2026-04-01,2026-03-31,005A00000000001,12.345\n"
    )
    answer = _upload(api, cid, text)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [
        "lines.3.period_start",
        "lines.4.amount",
        "lines.5.rep_crm_id",  # unknown rep
        "lines.6.rep_crm_id",  # repeats line 2
        "lines.7.amount",
    ]
    assert "repeats line 2" in answer.json()["errors"][3]["message"]
    assert _quotas(api) == before

    no_amount = _upload(api, cid, "rep_crm_id,period_start,period_end,quota\n")
    assert [e["field"] for e in no_amount.json()["errors"]] == [
        "lines.1.column_4",
        "lines.1.amount",
    ]
    assert _upload(api, cid, "").json()["errors"][0]["field"] == "lines.1"
    not_csv = _upload(api, cid, "{}", **{"Content-Type": "application/json"})
    assert not_csv.status_code == 415
    with api.store.unit_of_work() as db:
        assert (
            db.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity_type == "quota")
            )
            == 0
        )
