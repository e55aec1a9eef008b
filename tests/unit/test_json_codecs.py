"""The fast JSON paths (orjson) must read and write what the standard library would.

Two places trade the standard codec for orjson: the HubSpot client's decoding of answers
and the JSON text a SQLite batch upsert reads through ``json_each``. Each falls back to
the standard codec for what orjson refuses, so the result never depends on which one ran.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.client import decode_json
from service.store.sqlite_binds import _ENCODER, rows_document

# What a row of converted values can hold on SQLite: text, numbers, nothing, flags.
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(exclude_categories=["Cs"])),
)
rows = st.lists(st.tuples(values, values, values), max_size=20)


@given(rows)
def test_a_batch_document_is_the_standard_encoders_text_or_reads_back_the_same(
    batch: list[tuple[Any, ...]],
) -> None:
    document = rows_document(batch)
    assert json.loads(document) == json.loads(_ENCODER.encode(batch)) == [list(r) for r in batch]


def test_a_batch_document_of_ordinary_values_is_byte_for_byte_the_standard_one() -> None:
    batch = [(1, 'Ünïcode 🚀 "quoted" \\ \n', None, True, 12345.67, "2026-01-01 10:00:00.000000")]
    assert rows_document(batch) == _ENCODER.encode(batch)


@pytest.mark.parametrize(
    "batch",
    [[(2**70, "beyond 64 bits")], [("lone \ud800 surrogate",)]],
    ids=["big integer", "lone surrogate"],
)
def test_what_orjson_refuses_goes_through_the_standard_encoder(
    batch: list[tuple[Any, ...]],
) -> None:
    assert rows_document(batch) == _ENCODER.encode(batch)


def test_hubspot_answers_decode_as_the_standard_decoder_reads_them() -> None:
    body = '{"results":[{"id":"9","properties":{"hs_call_title":"Ça va 🚀"}}],"total":1}'
    assert decode_json(body.encode()) == json.loads(body)


def test_what_orjson_refuses_but_python_reads_is_still_decoded() -> None:
    assert math.isnan(decode_json(b"[NaN]")[0])
    assert decode_json(b'"\\ud800"') == "\ud800"


def test_a_truncated_answer_raises_the_standard_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_json(b'{"results":[{"id":"9"')
