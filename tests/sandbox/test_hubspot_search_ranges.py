"""The fake HubSpot's fast search path answers exactly what its general path answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.clock import SandboxClock
from sandbox.hubspot import HubSpotState
from sandbox.hubspot.model import SearchView
from sandbox.hubspot.properties import OBJECT_TYPES
from sandbox.hubspot.routes_objects import ObjectRoutes
from sandbox.hubspot.search import parse_request, run

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW_MS = int((T0 + timedelta(days=1)).timestamp() * 1000)
FIELDS = ("hs_object_id", "hs_lastmodifieddate", "hs_createdate")
OPERATORS = ("EQ", "GT", "GTE", "LT", "LTE")

objects = st.lists(
    st.tuples(
        st.integers(0, 50),  # minutes after T0 of the last change
        st.booleans(),  # archived
        st.sampled_from(["fresh", "stale", "unseen"]),  # what the lagging index shows
    ),
    min_size=1,
    max_size=40,
)


def _portal(rows: list[tuple[int, bool, str]]) -> tuple[HubSpotState, list[int]]:
    clock = SandboxClock()
    clock.set(T0 + timedelta(days=1))
    state = HubSpotState(clock)
    ids = []
    for minute, archived, index in rows:
        moment = T0 + timedelta(minutes=minute)
        object_id = state.import_object(
            "calls",
            {"hs_timestamp": "2026-01-01T00:00:00.000Z"},
            created_at=T0,
            updated_at=moment,
            archived_at=moment if archived else None,
        )
        obj = state.objects["calls"][int(object_id)]
        if index != "fresh":
            props = None if index == "unseen" else dict(obj.props)
            obj.indexed = SearchView(props, obj.updated_ms - 60_000, False, NOW_MS + 1)
        ids.append(obj.id)
    return state, ids


@settings(max_examples=150, deadline=None)
@given(
    rows=objects,
    filters=st.lists(
        st.tuples(st.sampled_from(FIELDS), st.sampled_from(OPERATORS), st.integers(-2, 60)),
        max_size=4,
    ),
    after=st.integers(0, 5),
)
def test_the_fast_path_and_the_general_path_agree(
    rows: list[tuple[int, bool, str]], filters: list[tuple[str, str, int]], after: int
):
    state, ids = _portal(rows)
    specs: list[dict[str, Any]] = []
    for field, operator, offset in filters:
        if field == "hs_object_id":
            value = str(ids[0] + offset)
        else:
            value = str(int((T0 + timedelta(minutes=offset)).timestamp() * 1000))
        specs.append({"propertyName": field, "operator": operator, "value": value})
    body = {
        "filterGroups": [{"filters": specs}] if specs else [],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "limit": 3,
        "after": after,
    }
    routes = ObjectRoutes(state, OBJECT_TYPES["calls"])
    query = parse_request(body, routes.kind, routes._accessors)
    assert query.system_range is not None
    fast = routes._range_page(query, query.system_range, NOW_MS)
    general = run(query, routes._rows(NOW_MS), ids_are_objects=False)
    assert fast == general


def test_searches_on_other_properties_or_sorts_take_the_general_path():
    routes = ObjectRoutes(HubSpotState(SandboxClock()), OBJECT_TYPES["calls"])
    by_title = {"filterGroups": [{"filters": [
        {"propertyName": "hs_call_title", "operator": "EQ", "value": "x"}]}]}  # fmt: skip
    by_date = {"sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]}
    two_groups = {"filterGroups": [
        {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "1"}]},
        {"filters": [{"propertyName": "hs_object_id", "operator": "LT", "value": "9"}]},
    ]}  # fmt: skip
    for body in (by_title, by_date, two_groups):
        assert parse_request(body, routes.kind, routes._accessors).system_range is None


@settings(max_examples=100, deadline=None)
@given(
    rows=objects,
    edits=st.lists(
        st.none() | st.tuples(st.integers(0, 39), st.integers(0, 50), st.booleans()), max_size=4
    ),
    later=st.sampled_from([0, 1, 2]),
)
def test_the_fast_path_follows_changes_and_the_index_catching_up(
    rows: list[tuple[int, bool, str]], edits: list[tuple[int, int, bool] | None], later: int
):
    """Page after page of one window (as a sync reads it), with objects changed and the
    clock moved between pages: every page is what a scan would answer at that moment."""
    state, ids = _portal(rows)
    routes = ObjectRoutes(state, OBJECT_TYPES["calls"])
    upper = str(int((T0 + timedelta(minutes=40)).timestamp() * 1000))
    now, last = NOW_MS, ids[0] - 1
    for step in range(len(edits) + 1):
        body = {
            "filterGroups": [{"filters": [
                {"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": upper},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
            ]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": 2,
        }  # fmt: skip
        query = parse_request(body, routes.kind, routes._accessors)
        assert query.system_range is not None
        fast = routes._range_page(query, query.system_range, now)
        assert fast == run(query, routes._rows(now), ids_are_objects=False)
        last = fast[1][-1] if fast[1] else last
        if step == len(edits):
            break
        now += later
        edit = edits[step]
        if edit is not None:  # else only the clock moves
            position, minute, archive = edit
            obj = state.objects["calls"][ids[-1 - position % len(ids)]]  # not read yet, likely
            obj.updated_ms = int((T0 + timedelta(minutes=minute)).timestamp() * 1000)
            if archive:
                obj.archived_ms = obj.updated_ms


def test_an_object_changed_between_two_pages_drops_out_of_the_next_page():
    state, ids = _portal([(0, False, "fresh")] * 4)
    routes = ObjectRoutes(state, OBJECT_TYPES["calls"])
    upper = str(int((T0 + timedelta(minutes=40)).timestamp() * 1000))

    def page(last: int) -> tuple[int, list[int]]:
        body = {
            "filterGroups": [{"filters": [
                {"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": upper},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
            ]}],
            "limit": 2,
        }  # fmt: skip
        query = parse_request(body, routes.kind, routes._accessors)
        assert query.system_range is not None
        return routes._range_page(query, query.system_range, NOW_MS)

    assert page(0) == (4, ids[:2])
    state.objects["calls"][ids[3]].updated_ms += 3_600_000  # past the window's end
    assert page(ids[1]) == (1, [ids[2]])
