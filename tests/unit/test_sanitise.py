"""What the store does to values it could not hold as they are (service.store.sanitise)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table

from service.store.sanitise import ELLIPSIS, clean_document, cleaner_for
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
