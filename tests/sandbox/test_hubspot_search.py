"""The fake HubSpot's search semantics, on plain dict rows (no server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.hubspot.properties import DEALS, TASKS
from sandbox.hubspot.search import (
    SearchRequestError,
    dict_accessors,
    parse_request,
    run,
)

ROWS: list[dict[str, str | None]] = [
    {"dealname": "Acme renewal", "amount": "900", "closedate": "2024-01-10T00:00:00.000Z"},
    {"dealname": "acme upsell", "amount": "1000.5", "closedate": "2024-02-10T00:00:00.000Z"},
    {"dealname": "Globex", "amount": "20", "closedate": None, "description": "big-deal q3"},
    {"dealname": "Initech", "closedate": "2024-03-10T00:00:00.000Z", "dealstage": "closedwon"},
]
ACCESSORS = dict_accessors(DEALS)


def _search(body: dict[str, Any], rows: Sequence[Mapping[str, str | None]] = ROWS) -> list[int]:
    request = parse_request(body, DEALS, ACCESSORS)
    total, ids = run(request, enumerate(rows))
    assert total >= len(ids)
    return ids


def _filter(**spec: Any) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [spec]}], "limit": 200}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"operator": "EQ", "propertyName": "dealname", "value": "ACME RENEWAL"}, [0]),
        ({"operator": "EQ", "propertyName": "amount", "value": "1000.50"}, [1]),
        ({"operator": "NEQ", "propertyName": "dealstage", "value": "closedwon"}, [0, 1, 2]),
        ({"operator": "LT", "propertyName": "amount", "value": "900"}, [2]),
        ({"operator": "LTE", "propertyName": "amount", "value": "900"}, [0, 2]),
        ({"operator": "GT", "propertyName": "amount", "value": "100"}, [0, 1]),
        ({"operator": "GTE", "propertyName": "closedate", "value": "1707523200000"}, [1, 3]),
        (
            {
                "operator": "BETWEEN",
                "propertyName": "closedate",
                "value": "2024-01-10",
                "highValue": "2024-02-10T00:00:00Z",
            },
            [0, 1],
        ),
        ({"operator": "IN", "propertyName": "dealname", "values": ["globex", "INITECH"]}, [2, 3]),
        ({"operator": "NOT_IN", "propertyName": "dealstage", "values": ["closedwon"]}, [0, 1, 2]),
        ({"operator": "HAS_PROPERTY", "propertyName": "closedate"}, [0, 1, 3]),
        ({"operator": "NOT_HAS_PROPERTY", "propertyName": "amount"}, [3]),
        ({"operator": "CONTAINS_TOKEN", "propertyName": "dealname", "value": "acme"}, [0, 1]),
        ({"operator": "CONTAINS_TOKEN", "propertyName": "dealname", "value": "ups*"}, [1]),
        ({"operator": "CONTAINS_TOKEN", "propertyName": "description", "value": "big-deal"}, [2]),
        ({"operator": "NOT_CONTAINS_TOKEN", "propertyName": "dealname", "value": "acme"}, [2, 3]),
    ],
)
def test_each_operator_compares_by_the_property_type(spec: dict[str, Any], expected: list[int]):
    assert _search(_filter(**spec)) == expected


def test_groups_are_ored_and_filters_within_a_group_anded():
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "amount", "operator": "GT", "value": "10"},
                    {"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "acme"},
                ]
            },
            {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]},
        ]
    }
    assert _search(body) == [0, 1, 3]


def test_sorting_puts_missing_values_last_and_keeps_id_order_among_ties():
    rows = [{"amount": "5"}, {}, {"amount": "7"}, {"amount": "5"}]
    assert _search({"sorts": ["-amount"]}, rows) == [2, 0, 3, 1]
    ascending = {"sorts": [{"propertyName": "amount", "direction": "ASCENDING"}]}
    assert _search(ascending, rows) == [0, 3, 2, 1]


def test_the_query_string_matches_text_properties_case_insensitively():
    assert _search({"query": "ACME"}) == [0, 1]
    assert _search({"query": "ACME"}, [{"dealname": None}]) == []


def test_paging_is_an_offset_into_the_matches():
    request = parse_request({"limit": 2, "after": "2"}, DEALS, ACCESSORS)
    assert run(request, enumerate(ROWS)) == (4, [2, 3])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"after": "10000"}, "10000"),
        ({"after": "ten"}, "after"),
        ({"filterGroups": [{"filters": []}] * 6}, "groups"),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 7}
                ]
            },
            "filters",
        ),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 6}
                ]
                * 4
            },
            "18 filters",
        ),
        (_filter(propertyName="nope", operator="EQ", value="1"), "does not exist"),
        (_filter(propertyName="amount", operator="LIKE", value="1"), "operator"),
        (_filter(propertyName="amount", operator="EQ"), "value"),
        (_filter(propertyName="amount", operator="EQ", value="lots"), "not a valid value"),
        (_filter(propertyName="amount", operator="IN", values=[]), "values"),
        (_filter(propertyName="amount", operator="BETWEEN", value="1"), "highValue"),
        ({"sorts": ["amount", "dealname"]}, "one sort"),
        ({"sorts": [{"propertyName": "amount", "direction": "UP"}]}, "direction"),
        ({"query": "x" * 3001}, "query"),
    ],
)
def test_invalid_requests_are_refused(body: dict[str, Any], message: str):
    with pytest.raises(SearchRequestError, match=message):
        parse_request(body, DEALS, ACCESSORS)


def test_engagement_queries_look_at_their_own_text_properties():
    accessors = dict_accessors(TASKS)
    request = parse_request({"query": "coach"}, TASKS, accessors)
    rows = [{"hs_task_subject": "Coaching"}, {"hs_task_body": "coach the rep"}, {}]
    assert run(request, enumerate(rows)) == (2, [0, 1])


@given(st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), max_size=30), st.booleans())
def test_a_sorted_search_returns_every_match_once_in_order(
    amounts: list[int | None], descending: bool
):
    rows = [{} if a is None else {"amount": str(a)} for a in amounts]
    sort = f"{'-' if descending else ''}amount"
    request = parse_request({"sorts": [sort], "limit": 200}, DEALS, ACCESSORS)
    total, ids = run(request, enumerate(rows))
    assert total == len(rows)
    assert sorted(ids) == list(range(len(rows)))
    values = [value for i in ids if (value := amounts[i]) is not None]
    assert values == sorted(values, reverse=descending)
    assert all(amounts[i] is None for i in ids[len(values) :])
