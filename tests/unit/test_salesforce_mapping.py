"""Salesforce rows into canonical records, SOQL and cursors: pure functions, no I/O."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr, ValidationError

from connectors.base import SyncStopped
from connectors.records import ActivityKind, StageCategory
from connectors.salesforce import mapping
from connectors.salesforce.auth import jwt_assertion, token_form
from connectors.salesforce.config import JwtBearerAuth, SalesforceConfig, SessionAuth
from connectors.salesforce.errors import SalesforceAuthError
from connectors.salesforce.streams import SPECS_BY_NAME, StreamCursor, build_soql, soql_string
from connectors.salesforce.usage import UsageTracker

STAGES = mapping.stage_map(
    [
        {"ApiName": "Prospecting", "MasterLabel": "Prospecting", "IsClosed": False, "IsWon": False},
        {"ApiName": "Closed Won", "MasterLabel": "Won!", "IsClosed": True, "IsWon": True},
        {"ApiName": "Closed Lost", "MasterLabel": "Closed Lost", "IsClosed": True, "IsWon": False},
    ]
)


def _opportunity(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Id": "0068W0000000001QAA",
        "Name": "Big deal",
        "StageName": "Prospecting",
        "IsClosed": False,
        "IsWon": False,
        "OwnerId": "0058W0000000002QAA",
        "Account": {"attributes": {"type": "Account"}, "Name": "Acme"},
        "Amount": Decimal("1200.50"),
        "Probability": 10,
        "CloseDate": "2026-12-31",
        "NextStep": "Call the CFO",
        "CreatedDate": "2026-01-05T09:00:00.000+0000",
        "LastModifiedDate": "2026-02-01T10:00:00.000+0000",
        "SystemModstamp": "2026-02-01T10:00:01.000+0000",
        "IsDeleted": False,
        "Budget_Confirmed__c": True,
        "Decision_Maker__c": None,
        "Next_Meeting_Date__c": "2026-03-01",
        "Score__c": Decimal("7.5"),
    }
    row.update(values)
    return row


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T09:00:00.000+0000", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T09:00:00.123Z", datetime(2026, 1, 5, 9, 0, 0, 123000, tzinfo=UTC)),
        ("2026-01-05T09:00:00+00:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T11:00:00.000+0200", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    ],
)
def test_salesforce_datetimes_parse_to_aware_utc(text: str, expected: datetime):
    parsed = mapping.parse_datetime(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


def test_missing_datetimes_are_none_and_naive_ones_are_refused():
    assert mapping.parse_datetime(None) is None
    assert mapping.parse_datetime("") is None
    with pytest.raises(ValueError, match="offset"):
        mapping.parse_datetime("2026-01-05T09:00:00")


@pytest.mark.parametrize(
    ("day", "end"),
    [
        (date(2026, 1, 1), date(2026, 3, 31)),
        (date(2024, 2, 29), date(2024, 3, 31)),
        (date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 8, 15), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_a_quota_period_ends_with_the_quarter_of_its_start(day: date, end: date):
    assert mapping.quarter_end(day) == end


def test_money_stays_exact_and_booleans_are_not_numbers():
    assert mapping.to_decimal(Decimal("0.10")) == Decimal("0.10")
    assert mapping.to_decimal(0.1) == Decimal("0.1")
    assert mapping.to_decimal(10) == Decimal(10)
    assert mapping.to_decimal(None) is None
    assert mapping.to_decimal(True) is None


# ----------------------------------------------------------------------------- stages


def test_stage_categories_come_from_stage_metadata():
    categories = {name: info.category for name, info in STAGES.items()}
    assert categories == {
        "Prospecting": StageCategory.OPEN,
        "Closed Won": StageCategory.WON,
        "Won!": StageCategory.WON,
        "Closed Lost": StageCategory.LOST,
    }


def test_an_unknown_stage_falls_back_to_the_opportunitys_own_flags():
    lost = mapping.map_opportunity(
        _opportunity(StageName="Gone Cold", IsClosed=True, IsWon=False), STAGES, {}
    )
    won = mapping.map_opportunity(
        _opportunity(StageName="Signed", IsClosed=True, IsWon=True), STAGES, {}
    )
    assert (lost.stage_category, won.stage_category) == (StageCategory.LOST, StageCategory.WON)
    # Metadata wins over the row: the stage says won even if the row's flags lag behind.
    assert (
        mapping.map_opportunity(_opportunity(StageName="Closed Won"), STAGES, {}).stage_category
        is StageCategory.WON
    )


# ----------------------------------------------------------------------------- records


def test_an_opportunity_maps_every_field_and_the_configured_qualification():
    fields = {
        "budget_confirmed": "Budget_Confirmed__c",
        "decision_maker": "Decision_Maker__c",
        "next_meeting_date": "Next_Meeting_Date__c",
        "score": "Score__c",
        "absent": "Not_Selected__c",
    }
    opportunity = mapping.map_opportunity(_opportunity(), STAGES, fields)
    assert opportunity.crm_id == "0068W0000000001QAA"
    assert opportunity.stage_category is StageCategory.OPEN
    assert opportunity.account_name == "Acme"
    assert opportunity.amount == Decimal("1200.50")
    assert opportunity.probability == Decimal(10)
    assert opportunity.close_date == date(2026, 12, 31)
    assert opportunity.created_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert opportunity.closed_at is None
    assert opportunity.next_step == "Call the CFO"
    assert opportunity.modified_at == datetime(2026, 2, 1, 10, 0, 1, tzinfo=UTC)
    assert dict(opportunity.qualification) == {
        "budget_confirmed": True,
        "decision_maker": None,
        "next_meeting_date": "2026-03-01",
        "score": 7.5,
    }
    json.dumps(dict(opportunity.qualification))  # goes into a JSON column as it is


def test_a_closed_opportunity_is_closed_at_its_last_modification():
    row = _opportunity(StageName="Closed Lost", IsClosed=True, Account=None, IsDeleted=True)
    opportunity = mapping.map_opportunity(row, STAGES, {})
    assert opportunity.closed_at == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert opportunity.account_name is None
    assert opportunity.deleted is True


def test_a_history_row_is_a_change_at_its_created_date():
    change = mapping.map_history(
        {
            "Id": "0088W0000000001QAA",
            "OpportunityId": "0068W0000000001QAA",
            "StageName": "Closed Won",
            "Amount": Decimal("99.99"),
            "Probability": 100,
            "CloseDate": "2026-05-01",
            "CreatedDate": "2026-05-01T12:30:00.000+0000",
            "SystemModstamp": "2026-05-01T12:30:00.000+0000",
            "IsDeleted": False,
        },
        STAGES,
    )
    assert change.changed_at == datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    assert change.stage_category is StageCategory.WON
    assert (change.amount, change.probability) == (Decimal("99.99"), Decimal(100))
    unknown = mapping.map_history({**_history_row(), "StageName": "Renamed"}, STAGES)
    assert unknown.stage_category is None


def _history_row() -> dict[str, Any]:
    return {
        "Id": "0088W0000000002QAA",
        "OpportunityId": "0068W0000000001QAA",
        "StageName": "Prospecting",
        "CreatedDate": "2026-05-01T12:30:00.000+0000",
    }


def test_a_user_becomes_a_rep_with_manager_role_team_and_start_date():
    rep = mapping.map_user(
        {
            "Id": "0058W0000000003QAA",
            "Name": "Vera Mendes",
            "Email": "vera@example.com",
            "ManagerId": "0058W0000000002QAA",
            "UserRole": {"attributes": {"type": "UserRole"}, "Name": "Sales Manager"},
            "Department": "team-1",
            "IsActive": False,
            "TimeZoneSidKey": "Europe/Berlin",
            "CreatedDate": "2021-03-01T09:00:00.000+0000",
            "SystemModstamp": "2026-01-01T00:00:00.000+0000",
        }
    )
    assert (rep.manager_crm_id, rep.role, rep.team) == (
        "0058W0000000002QAA",
        "Sales Manager",
        "team-1",
    )
    assert (rep.is_active, rep.started_on, rep.time_zone) == (
        False,
        date(2021, 3, 1),
        "Europe/Berlin",
    )
    assert mapping.map_user({"Id": "005x", "UserRole": None}).role is None


@pytest.mark.parametrize(
    ("subtype", "task_type", "kind"),
    [
        ("Call", None, ActivityKind.CALL),
        ("Email", None, ActivityKind.EMAIL),
        ("ListEmail", None, ActivityKind.EMAIL),
        ("Task", "Call", ActivityKind.TASK),
        ("Cadence", None, ActivityKind.TASK),
        ("LinkedIn", None, ActivityKind.TASK),
        (None, "Call", ActivityKind.CALL),
        (None, None, ActivityKind.TASK),
    ],
)
def test_task_subtypes_map_to_activity_kinds(
    subtype: str | None, task_type: str | None, kind: ActivityKind
):
    assert mapping.task_kind(subtype, task_type) is kind


def _task(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Id": "00T8W0000000001UAA",
        "TaskSubtype": "Call",
        "Status": "Completed",
        "OwnerId": "0058W0000000004QAA",
        "WhatId": "0068W0000000001QAA",
        "CallDurationInSeconds": 300,
        "CallDisposition": "Connected",
        "CompletedDateTime": "2026-03-02T16:45:00.000+0000",
        "ActivityDate": "2026-03-02",
        "CreatedDate": "2026-03-01T08:00:00.000+0000",
        "SystemModstamp": "2026-03-02T16:45:00.000+0000",
        "IsDeleted": False,
    }
    row.update(values)
    return row


def test_a_logged_call_maps_owner_deal_duration_and_outcome():
    activity = mapping.map_task(_task())
    assert activity.kind is ActivityKind.CALL
    assert activity.occurred_at == datetime(2026, 3, 2, 16, 45, tzinfo=UTC)
    assert (activity.rep_crm_id, activity.opportunity_crm_id) == (
        "0058W0000000004QAA",
        "0068W0000000001QAA",
    )
    assert (activity.duration_seconds, activity.outcome, activity.status) == (
        300,
        "Connected",
        "Completed",
    )


def test_a_task_about_an_account_has_no_opportunity():
    assert mapping.map_task(_task(WhatId="0018W0000000001QAA")).opportunity_crm_id is None
    assert mapping.map_task(_task(WhatId=None)).opportunity_crm_id is None


def test_a_task_occurs_when_completed_unless_that_disagrees_with_its_date():
    # Completed a day later in UTC is still the same day somewhere: keep the instant.
    late_evening = _task(CompletedDateTime="2026-03-03T02:00:00.000+0000")
    assert mapping.map_task(late_evening).occurred_at == datetime(2026, 3, 3, 2, tzinfo=UTC)
    # Logged a week after the call: the call's date wins, at noon UTC.
    logged_late = _task(CompletedDateTime="2026-03-09T09:00:00.000+0000")
    assert mapping.map_task(logged_late).occurred_at == datetime(2026, 3, 2, 12, tzinfo=UTC)
    # An open to-do occurs on its due date; one without a date when it was created.
    todo = _task(CompletedDateTime=None, ActivityDate="2026-04-01")
    assert mapping.map_task(todo).occurred_at == datetime(2026, 4, 1, 12, tzinfo=UTC)
    undated = _task(CompletedDateTime=None, ActivityDate=None)
    assert mapping.map_task(undated).occurred_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="no date"):
        mapping.map_task(_task(CompletedDateTime=None, ActivityDate=None, CreatedDate=None))


def test_an_event_is_a_meeting_at_its_start():
    row = {
        "Id": "00U8W0000000001UAA",
        "StartDateTime": "2026-03-04T14:00:00.000+0000",
        "ActivityDate": "2026-03-04",
        "DurationInMinutes": 45,
        "OwnerId": "0058W0000000004QAA",
        "WhatId": "0068W0000000001QAA",
        "Type": "Meeting",
        "CreatedDate": "2026-02-01T08:00:00.000+0000",
    }
    meeting = mapping.map_event(row)
    assert meeting.kind is ActivityKind.MEETING
    assert meeting.occurred_at == datetime(2026, 3, 4, 14, tzinfo=UTC)
    assert (meeting.duration_seconds, meeting.subtype) == (2700, "Meeting")
    all_day = mapping.map_event({**row, "StartDateTime": None})
    assert all_day.occurred_at == datetime(2026, 3, 4, 12, tzinfo=UTC)


def test_a_quota_covers_the_quarter_of_its_start_and_quantity_quotas_are_skipped():
    row = {
        "Id": "0J98W0000000001SAA",
        "QuotaOwnerId": "0058W0000000004QAA",
        "QuotaAmount": Decimal("20500.0"),
        "StartDate": "2026-07-01",
        "SystemModstamp": "2026-07-01T09:00:00.000+0000",
    }
    quota = mapping.map_quota(row)
    assert quota is not None
    assert (quota.period_start, quota.period_end, quota.amount) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        Decimal("20500.0"),
    )
    assert mapping.map_quota({**row, "QuotaAmount": None}) is None


# ----------------------------------------------------------------------------- SOQL


def test_incremental_soql_filters_and_orders_by_system_modstamp_then_id():
    since = datetime(2026, 1, 5, 9, 0, 30, 999000, tzinfo=UTC)
    soql = build_soql(SPECS_BY_NAME["tasks"], since)
    assert soql.startswith("SELECT Id, CreatedDate, SystemModstamp, IsDeleted, ")
    # Floored to the second: a lower bound may only widen.
    assert soql.endswith(
        " FROM Task WHERE SystemModstamp >= 2026-01-05T09:00:30Z ORDER BY SystemModstamp, Id"
    )
    offset = datetime(2026, 1, 5, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert "SystemModstamp >= 2026-01-05T09:00:00Z" in build_soql(SPECS_BY_NAME["tasks"], offset)
    whole = build_soql(SPECS_BY_NAME["users"], None)
    assert "WHERE" not in whole
    assert "UserRole.Name" in whole
    assert "IsDeleted" not in whole  # User has no IsDeleted: users are deactivated


def test_extra_fields_are_added_once_and_strings_are_escaped():
    soql = build_soql(SPECS_BY_NAME["opportunities"], None, ["Amount", "Budget_Confirmed__c"])
    assert soql.count("Amount") == 1
    assert "Budget_Confirmed__c" in soql
    assert soql_string("O'Brien \\ co") == "'O\\'Brien \\\\ co'"


def test_a_cursor_round_trips_through_json():
    cursor = StreamCursor(
        system_modstamp=datetime(2026, 1, 5, 9, 0, 0, 123000, tzinfo=UTC),
        deleted_until=datetime(2026, 1, 6, tzinfo=UTC),
    )
    dumped = json.loads(json.dumps(cursor.dump()))
    assert dumped["v"] == 1
    assert StreamCursor.load(dumped) == cursor
    assert StreamCursor.load(None) == StreamCursor()
    assert cursor.lower_bound(timedelta(minutes=5)) == datetime(
        2026, 1, 5, 8, 55, 0, 123000, tzinfo=UTC
    )


# ----------------------------------------------------------------------------- budget


def test_the_budget_allows_a_share_of_the_daily_allocation_and_never_more_than_it():
    tracker = UsageTracker(budget_share=0.1)
    tracker.before_call("query", budgeted=True)  # the allocation is unknown before an answer
    tracker.observe("api-usage=10/30")
    tracker.before_call("query more", budgeted=True)
    tracker.before_call("query more", budgeted=True)
    with pytest.raises(SyncStopped, match="3 calls of 3"):
        tracker.before_call("query more", budgeted=True)
    tracker.before_call("composite create", budgeted=False)  # write-back: hard limit only
    tracker.observe("api-usage=30/30")
    with pytest.raises(SyncStopped, match="used up"):
        tracker.before_call("composite create", budgeted=False)
    usage = tracker.snapshot()
    assert (usage.calls, usage.daily_used, usage.daily_limit) == (4, 30, 30)
    assert usage.by_endpoint == {"composite create": 1, "query": 1, "query more": 2}


# ----------------------------------------------------------------------------- auth


def test_the_jwt_assertion_is_signed_rs256_with_the_configured_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    auth = JwtBearerAuth(client_id="3MVGapp", username="me@example.com", private_key=SecretStr(pem))
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    header, claims, signature = jwt_assertion(auth, now).split(".")
    assert _b64json(header) == {"alg": "RS256"}
    assert _b64json(claims) == {
        "iss": "3MVGapp",
        "sub": "me@example.com",
        "aud": "https://login.salesforce.com",
        "exp": int(now.timestamp()) + 180,
    }
    key.public_key().verify(
        _b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert pem not in repr(auth)


def test_a_bare_session_cannot_be_renewed_and_says_so():
    config = SalesforceConfig(
        auth=SessionAuth(session_id=SecretStr("00D!secret")), instance_url="https://x.test"
    )
    with pytest.raises(SalesforceAuthError, match="no refresh token") as raised:
        token_form(config, datetime.now(UTC))
    assert "00D!secret" not in str(raised.value)
    with pytest.raises(ValidationError, match="instance_url"):
        SalesforceConfig(auth=SessionAuth(session_id=SecretStr("x")))


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64json(text: str) -> Any:
    return json.loads(_b64(text))
