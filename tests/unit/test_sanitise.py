"""What the store does to values it could not hold as they are (service.store.sanitise)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Table

from connectors import records
from connectors.records import StageCategory
from service.store.quarantine import backoff
from service.store.row_encoding import layout_of
from service.store.sanitise import (
    ELLIPSIS,
    check_for,
    clean_document,
    cleaner_for,
    length_limit,
)
from service.store.tables import Activity, Opportunity, Rep


def _column(model: Any, name: str) -> Column[Any]:
    table: Table = model.__table__
    return table.c[name]


def _clean(model: Any, name: str, value: object) -> object:
    clean = cleaner_for(_column(model, name))
    assert clean is not None
    return clean(value)


def test_nul_characters_leave_every_text_column_even_identifiers():
    assert _clean(Opportunity, "name", "nul\x00byte") == "nulbyte"
    assert _clean(Opportunity, "stage", "Closed\x00 Won") == "Closed Won"
    assert _clean(Rep, "email", None) is None


def test_free_text_is_cut_to_its_column_with_an_ellipsis_and_codes_are_not_cut():
    long = "x" * 300
    cut = _clean(Activity, "subject", long)
    assert cut == "x" * 254 + ELLIPSIS
    assert _clean(Activity, "subject", "x" * 255) == "x" * 255  # fits: unchanged
    assert _clean(Opportunity, "stage", long) == long  # a stage is never cut to mean another


def test_documents_lose_nul_characters_in_keys_and_nested_strings_and_keep_the_rest():
    document = {"bud\x00get": "yes\x00", "steps": ["a\x00", 3, {"n": "b\x00"}], "ok": True}
    assert clean_document(document) == {
        "budget": "yes",
        "steps": ["a", 3, {"n": "b"}],
        "ok": True,
    }
    assert _clean(Opportunity, "qualification", {"n": 1.5}) == {"n": 1.5}


def test_columns_that_are_not_text_need_no_cleaning():
    assert cleaner_for(_column(Opportunity, "amount")) is None


def _check(model: Any, name: str, value: object) -> str | None:
    check = check_for(_column(model, name))
    assert check is not None
    return check(value)


def test_lone_surrogates_become_the_replacement_character_and_pairs_stay():
    assert _clean(Opportunity, "name", "half \ud83d of a pair") == "half \ufffd of a pair"
    assert _clean(Opportunity, "stage", "Won \U0001f600") == "Won \U0001f600"
    assert clean_document({"k\udc00": ["v\ud800"]}) == {"k\ufffd": ["v\ufffd"]}


def test_codes_longer_than_their_column_are_refused_naming_the_column_and_the_sizes():
    layout = layout_of(records.Opportunity, Opportunity.__table__)  # type: ignore[arg-type]
    deal = records.Opportunity("006A", "Deal", "S" * 255, StageCategory.OPEN)
    assert layout.refusal(deal) is None
    assert layout.refusal(replace(deal, stage="S" * 256)) == (
        "stage: 256 characters, more than the 255 its column holds"
    )
    assert layout.refusal(replace(deal, stage="S\x00" * 200)) is None  # 200 once cleaned
    assert layout.refusal(replace(deal, crm_id="0" * 65)) == (
        "crm_id: 65 characters, more than the 64 its column holds"
    )
    assert layout.refusal(replace(deal, name="N" * 5000)) is None  # free text is cut instead
    assert length_limit(_column(Opportunity, "name")) is None
    assert length_limit(_column(Opportunity, "stage_category")) is None  # an enumeration


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (Decimal("9999999999999999.99"), None),
        (Decimal("-9999999999999999.99"), None),
        (Decimal("9999999999999999.995"), "amount: 1.00000e+16 does not fit numeric(18,2)"),
        (Decimal("1e30"), "amount: 1e+30 does not fit numeric(18,2)"),
        (Decimal("Infinity"), "amount: Infinity is not a finite number"),
        (Decimal("NaN"), "amount: NaN is not a finite number"),
        (12.5, None),
        (None, None),
    ],
)
def test_numbers_beyond_their_columns_precision_are_refused(value: object, problem: str | None):
    assert _check(Opportunity, "amount", value) == problem


def test_integers_beyond_32_bits_are_refused_and_big_integers_are_not_checked():
    assert _check(Activity, "duration_seconds", 2**31 - 1) is None
    assert _check(Activity, "duration_seconds", -(2**31)) is None
    assert _check(Activity, "duration_seconds", 2**31) == (
        "duration_seconds: 2147483648 is outside a 32-bit integer"
    )
    assert check_for(_column(Activity, "id")) is None


def test_a_refused_entry_backs_off_doubling_from_15_minutes_up_to_a_day():
    assert [backoff(n) for n in (0, 1, 2, 3)] == [
        timedelta(minutes=15),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
    ]
    assert backoff(8) == timedelta(days=1)
    assert backoff(10_000) == timedelta(days=1)
