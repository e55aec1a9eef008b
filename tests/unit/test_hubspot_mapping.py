"""HubSpot owners, deals and engagements into canonical records: pure, over decoded JSON."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.hubspot import engagements, goals, mapping
from connectors.hubspot.values import parse_datetime
from connectors.records import ActivityKind, Entity, OpportunityChange, Rejected, StageCategory

PIPELINES = [
    {
        "id": "default",
        "stages": [
            {"id": "qualified", "metadata": {"isClosed": "false", "probability": "0.4"}},
            {"id": "won", "metadata": {"isClosed": "true", "probability": "1.0"}},
            {"id": "lost", "metadata": {"isClosed": "true", "probability": "0.0"}},
        ],
    },
    {"id": "renewals", "stages": [{"id": "r-open", "metadata": {"isClosed": "false"}}]},
]
STAGES = mapping.stage_map(PIPELINES)


def _owner(
    owner_id: str, email: str, *teams: tuple[str, str, bool], **extra: Any
) -> dict[str, Any]:
    listed = [{"id": tid, "name": name, "primary": primary} for tid, name, primary in teams]
    return {"id": owner_id, "email": email, "firstName": "Ada", "lastName": owner_id,
            "createdAt": "2024-02-01T08:00:00.000Z", "teams": listed, **extra}  # fmt: skip


EAST, WEST, LEADS = ("1", "East", True), ("2", "West", True), ("9", "Leaders", False)
OWNERS = [
    _owner("100", "vp@acme.test"),
    _owner("101", "east.lead@acme.test", EAST, LEADS),
    _owner("102", "west.lead@acme.test", WEST, LEADS),
    _owner("103", "rep@acme.test", EAST),
    _owner("104", "other@acme.test", WEST),
]


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-05T09:30:00.000Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05T10:30:00+01:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("1767605400000", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_timestamps_arrive_as_iso_or_epoch_millis_and_become_aware_utc(raw, expected):
    assert parse_datetime(raw) == expected


# ----------------------------------------------------------------------------- owners


def test_managers_come_from_teams_and_the_owner_mapping_wins():
    managers = mapping.resolve_managers(
        OWNERS,
        team_managers={"east": "east.lead@acme.test", "2": "102", "Leaders": "vp@acme.test"},
        owner_managers={"104": "EAST.LEAD@acme.test"},
    )
    assert managers == {
        "100": None,  # in no team
        "101": "100",  # leads East (its primary team), reports through Leaders
        "102": "100",
        "103": "101",
        "104": "101",  # the explicit mapping beats West's manager
    }


def test_a_mapping_that_names_nobody_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING):
        managers = mapping.resolve_managers(OWNERS, {"North": "vp@acme.test"}, {"103": "ghost"})
    assert set(managers.values()) == {None}
    assert "North" in caplog.text
    assert "ghost" in caplog.text


def test_owners_become_reps_and_queues_are_not_people():
    rep = mapping.map_owner(OWNERS[3], "101", archived=True)
    assert rep is not None
    assert (rep.crm_id, rep.name, rep.email, rep.team) == (
        "103",
        "Ada 103",
        "rep@acme.test",
        "East",
    )
    assert (rep.manager_crm_id, rep.is_active, rep.started_on) == ("101", False, date(2024, 2, 1))
    assert rep.modified_at is None  # rewritten whenever a value differs
    assert mapping.map_owner(_owner("7", "q@acme.test", type="QUEUE"), None, archived=False) is None


# ----------------------------------------------------------------------------- stages and deals


@pytest.mark.parametrize(
    ("pipeline", "stage", "category", "probability"),
    [
        ("default", "qualified", StageCategory.OPEN, Decimal(40)),
        ("default", "won", StageCategory.WON, Decimal(100)),
        ("default", "lost", StageCategory.LOST, Decimal(0)),
        ("renewals", "r-open", StageCategory.OPEN, None),
    ],
)
def test_stage_categories_come_from_is_closed_and_probability(
    pipeline, stage, category, probability
):
    info = STAGES[(pipeline, stage)]
    assert (info.category, info.probability) == (category, probability)


def _entry(value: str, at: str) -> dict[str, str]:
    return {"value": value, "timestamp": at, "sourceType": "CRM_UI"}


DEAL: dict[str, Any] = {
    "id": "555",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "properties": {
        "dealname": "Acme renewal",
        "dealstage": "won",
        "pipeline": "default",
        "amount": "1200.50",
        "closedate": "2026-02-28T00:00:00.000Z",
        "hubspot_owner_id": "103",
        "createdate": "2026-01-01T00:00:00.000Z",
        "hs_lastmodifieddate": "2026-02-20T10:00:00.000Z",
        "budget_confirmed": "true",
        "pain_identified": "slow onboarding",
        "decision_maker": "",
    },
    "propertiesWithHistory": {  # newest first, as HubSpot lists them
        "dealstage": [_entry("won", "2026-02-20T10:00:00.000Z"),
                      _entry("qualified", "2026-01-01T00:00:00.000Z")],
        "amount": [_entry("1200.50", "2026-01-15T00:00:00.000Z"),
                   _entry("1000", "2026-01-01T00:00:00.000Z")],
        "closedate": [_entry("2026-02-28T00:00:00.000Z", "2026-01-01T00:00:00.000Z")],
    },
}  # fmt: skip
QUALIFICATION = {"budget_confirmed": "budget_confirmed", "pain": "pain_identified",
                 "decision_maker": "decision_maker", "champion": "champion"}  # fmt: skip


def test_a_deal_maps_with_its_stage_metadata_and_qualification():
    deal, _ = mapping.map_deal(DEAL, STAGES, QUALIFICATION)
    assert (deal.crm_id, deal.name, deal.stage, deal.pipeline) == (
        "555", "Acme renewal", "won", "default",
    )  # fmt: skip
    assert (deal.stage_category, deal.probability) == (StageCategory.WON, Decimal(100))
    assert (deal.amount, deal.close_date) == (Decimal("1200.50"), date(2026, 2, 28))
    assert deal.closed_at == datetime(2026, 2, 20, 10, tzinfo=UTC)  # entered its closed stage
    assert deal.qualification == {"budget_confirmed": True, "pain": "slow onboarding"}
    assert deal.modified_at == datetime(2026, 2, 20, 10, tzinfo=UTC)


def test_deal_history_becomes_one_full_snapshot_per_moment_of_change():
    _, mapped = mapping.map_deal(DEAL, STAGES, {})
    changes = [c for c in mapped if isinstance(c, OpportunityChange)]
    assert len(changes) == len(mapped)
    rows = [(c.crm_id, c.stage, c.amount, c.close_date, c.stage_category) for c in changes]
    assert rows == [
        ("555:1767225600000", "qualified", Decimal(1000), date(2026, 2, 28), StageCategory.OPEN),
        ("555:1768435200000", "qualified", Decimal("1200.50"), date(2026, 2, 28),
         StageCategory.OPEN),
        ("555:1771581600000", "won", Decimal("1200.50"), date(2026, 2, 28), StageCategory.WON),
    ]  # fmt: skip
    assert all(c.modified_at == c.changed_at for c in changes)  # a snapshot never changes


def test_of_two_entries_at_one_moment_the_one_listed_first_is_the_newer():
    history = {"dealstage": [_entry("won", "2026-02-01T00:00:00.000Z"),
                             _entry("lost", "2026-02-01T00:00:00.000Z")],
               "amount": [_entry("", "2026-02-01T00:00:00.000Z")]}  # fmt: skip
    [change] = mapping.deal_changes("1", "default", history, STAGES)
    assert isinstance(change, OpportunityChange)
    assert (change.stage, change.amount) == ("won", None)  # an empty value clears


def test_a_moment_of_history_that_cannot_be_read_is_rejected_alone():
    """A close date past year 9999 stays in history after the deal is fixed; only the
    snapshots that hold it are rejected, with the deal to read again."""
    history = {
        "closedate": [_entry("2026-03-31", "2026-02-02T00:00:00.000Z"),
                      _entry("253402300800000", "2026-02-01T00:00:00.000Z")],
        "dealstage": [_entry("won", "2026-02-03T00:00:00.000Z"),
                      _entry("qualified", "2026-01-01T00:00:00.000Z")],
    }  # fmt: skip
    changes = mapping.deal_changes("7", "default", history, STAGES)
    assert [type(c).__name__ for c in changes] == [
        "OpportunityChange", "Rejected", "OpportunityChange", "OpportunityChange"
    ]  # fmt: skip
    rejected = changes[1]
    assert isinstance(rejected, Rejected)
    assert (rejected.entity, rejected.crm_id, rejected.reread_id) == (
        Entity.OPPORTUNITY_CHANGE, "7:1769904000000", "7"
    )  # fmt: skip
    assert "year 10000" in rejected.reason


def test_a_stage_the_pipelines_do_not_list_falls_back_to_the_deals_own_flags():
    props = {**dict(DEAL["properties"]), "dealstage": "mystery", "hs_is_closed": "true",
             "hs_is_closed_won": "false", "hs_deal_stage_probability": "0.0"}  # fmt: skip
    deal, _ = mapping.map_deal({"id": "9", "properties": props}, STAGES, {})
    assert (deal.stage_category, deal.probability) == (StageCategory.LOST, Decimal(0))


# ----------------------------------------------------------------------------- engagements


def _engagement(**props: str) -> dict[str, Any]:
    base = {"hs_timestamp": "2026-03-02T15:00:00.000Z", "hubspot_owner_id": "103",
            "hs_lastmodifieddate": "2026-03-02T16:00:00.000Z"}  # fmt: skip
    return {"id": "77", "properties": {**base, **props}}


def test_calls_carry_their_outcome_label_and_duration_in_seconds():
    connected = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
    call = engagements.map_engagement(
        ActivityKind.CALL,
        _engagement(
            hs_call_disposition=connected,
            hs_call_duration="95500",
            hs_call_title="Intro",
            hs_call_direction="OUTBOUND",
        ),
        "555",
    )
    assert (call.kind, call.outcome, call.duration_seconds) == (ActivityKind.CALL, "Connected", 95)
    assert (call.rep_crm_id, call.opportunity_crm_id, call.subtype) == ("103", "555", "OUTBOUND")
    custom = engagements.map_engagement(
        ActivityKind.CALL, _engagement(hs_call_disposition="x-1"), None
    )
    assert custom.outcome == "x-1"


def test_meetings_happen_at_their_start_and_last_until_their_end():
    meeting = engagements.map_engagement(
        ActivityKind.MEETING,
        _engagement(hs_meeting_start_time="2026-03-03T09:00:00.000Z",
                    hs_meeting_end_time="2026-03-03T09:45:00.000Z", hs_meeting_outcome="NO_SHOW"),
        None,
    )  # fmt: skip
    assert meeting.occurred_at == datetime(2026, 3, 3, 9, tzinfo=UTC)
    assert (meeting.duration_seconds, meeting.outcome) == (2700, "NO_SHOW")


def test_notes_and_tasks_keep_a_subject_the_store_can_hold():
    note = engagements.map_engagement(ActivityKind.NOTE, _engagement(hs_note_body="n" * 400), None)
    assert note.subject == "n" * 255
    task = engagements.map_engagement(
        ActivityKind.TASK,
        _engagement(hs_task_subject="Follow up", hs_task_status="COMPLETED", hs_task_type="CALL"),
        None,
    )
    assert (task.subject, task.status, task.subtype) == ("Follow up", "COMPLETED", "CALL")
    assert task.occurred_at == datetime(2026, 3, 2, 15, tzinfo=UTC)


def test_an_engagement_without_any_date_is_refused():
    with pytest.raises(ValueError, match="no date"):
        engagements.map_engagement(ActivityKind.EMAIL, {"id": "1", "properties": {}}, None)


def _goal(**props: str) -> dict[str, object]:
    base = {
        "hs_goal_type": "sales_quota", "hs_target_amount": "150000",
        "hs_start_datetime": "2026-04-01T00:00:00Z",
        "hs_end_datetime": "2026-06-30T23:59:59.999Z", "hubspot_owner_id": "70000001",
        "hs_lastmodifieddate": "2026-03-20T10:00:00Z",
    }  # fmt: skip
    return {"id": "44027423340", "properties": {**base, **props}}


def test_a_sales_quota_goal_is_the_owners_quota_for_its_period():
    quota = goals.map_goal(_goal(), archived=False)
    assert quota is not None
    assert (quota.crm_id, quota.rep_crm_id, quota.amount) == (
        "44027423340", "70000001", Decimal(150000)
    )  # fmt: skip
    assert (quota.period_start, quota.period_end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert quota.modified_at == datetime(2026, 3, 20, 10, tzinfo=UTC)
    # An end at midnight closes the day before; an archived goal is a deleted quota.
    closed = goals.map_goal(_goal(hs_end_datetime="2026-07-01T00:00:00Z"), archived=True)
    assert closed is not None
    assert (closed.period_end, closed.deleted) == (date(2026, 6, 30), True)


def test_other_goals_and_team_goals_are_not_quotas_and_a_broken_one_is_refused():
    assert goals.map_goal(_goal(hs_goal_type="calls_made"), archived=False) is None
    assert goals.map_goal(_goal(hubspot_owner_id=""), archived=False) is None
    with pytest.raises(ValueError, match="lacks its period or its amount"):
        goals.map_goal(_goal(hs_target_amount=""), archived=False)
    with pytest.raises(ValueError, match="ends before it starts"):
        goals.map_goal(_goal(hs_end_datetime="2026-03-01T00:00:00Z"), archived=False)
