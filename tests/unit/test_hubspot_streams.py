"""Streams declared as data, the search windows' requests, and the cursor they keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.hubspot.streams import SPECS, StreamCursor, search_body
from connectors.records import Entity

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_every_stream_names_its_object_key_cursor_and_records():
    assert [(s.stream.name, s.stream.entity) for s in SPECS] == [
        ("owners", Entity.REP),
        ("deals", Entity.OPPORTUNITY),
        ("calls", Entity.ACTIVITY),
        ("emails", Entity.ACTIVITY),
        ("meetings", Entity.ACTIVITY),
        ("tasks", Entity.ACTIVITY),
        ("notes", Entity.ACTIVITY),
        ("goals", Entity.QUOTA),
    ]
    assert [s.stream.crm_object for s in SPECS if s.listed] == ["goal_targets"]
    searched = [s for s in SPECS if s.searchable]
    assert all(s.stream.cursor_field == "hs_lastmodifieddate" for s in searched)
    assert all(s.stream.primary_key == "hs_object_id" for s in searched)


def test_a_window_page_bounds_the_modification_time_and_starts_after_the_last_id():
    body = search_body(T - timedelta(minutes=5), T, 4711, ["hs_call_title"])
    assert body["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                 "value": str(int((T - timedelta(minutes=5)).timestamp() * 1000))},
                {"propertyName": "hs_lastmodifieddate", "operator": "LTE",
                 "value": str(int(T.timestamp() * 1000))},
                {"propertyName": "hs_object_id", "operator": "GT", "value": "4711"},
            ]
        }
    ]  # fmt: skip
    assert body["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    assert (body["limit"], body["properties"][-1]) == (200, "hs_call_title")
    assert "after" not in body  # never an offset: offsets skip objects that leave the window


def test_a_first_window_without_a_lower_bound_has_two_filters():
    filters = search_body(None, T, 0, [])["filterGroups"][0]["filters"]
    assert [f["operator"] for f in filters] == ["LTE", "GT"]


def test_the_cursor_survives_json_and_a_window_closes_at_its_end():
    opened = StreamCursor(modified=T, deleted_until=T).open_window(T + timedelta(hours=1))
    read = opened.read_to(99)
    assert StreamCursor.load(read.dump()) == read
    closed = read.close_window()
    assert (closed.modified, closed.window_until, closed.after_id) == (
        T + timedelta(hours=1), None, None,
    )  # fmt: skip
    assert StreamCursor.load(None) == StreamCursor()
    assert StreamCursor().first_sync


def test_closing_a_window_never_moves_the_cursor_back():
    earlier = StreamCursor(modified=T).open_window(T - timedelta(minutes=1))
    assert earlier.close_window().modified == T


def test_a_cursor_with_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        StreamCursor.load({"modified": "2026-03-01T12:00:00"})
