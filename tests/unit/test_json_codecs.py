"""The fast JSON paths (orjson) must read and write what the standard library would.

Three places trade the standard codec for orjson: the HubSpot client's decoding of
answers, the JSON text a SQLite batch upsert reads through ``json_each``, and the store's
JSON columns (evidence, payloads). Each falls back to the standard codec for what orjson
refuses, so the result never depends on which one ran.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.client import decode_json
from service.store import json_codec
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


# ------------------------------------------------------------------ the store's JSON columns

documents = st.recursive(
    values,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(documents)
def test_a_stored_document_reads_back_as_the_standard_codec_would_read_it(value: Any) -> None:
    text = json_codec.dumps(value)
    assert json_codec.loads(text) == json.loads(json.dumps(value)) == json.loads(text)


class Level(StrEnum):
    HIGH = "high"


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {1: "integer key", None: "null key"},
        {"big": 2**70},
        ["lone \ud800 surrogate"],
        {"level": Level.HIGH, "levels": (Level.HIGH,)},
    ],
    ids=["keys that are not strings", "big integer", "lone surrogate", "str enum and tuple"],
)
def test_documents_orjson_refuses_or_reads_differently_are_the_standard_encoders(
    value: Any,
) -> None:
    assert json_codec.loads(json_codec.dumps(value)) == json.loads(json.dumps(value))


def test_dates_and_dataclasses_reach_default_as_with_the_standard_encoder() -> None:
    value = {"at": datetime(2026, 11, 18, 18, 0, tzinfo=UTC), "on": date(2026, 1, 2)}
    value["point"] = Point(3)  # type: ignore[assignment]
    assert json_codec.dumps(value, default=str) == json.dumps(value, default=str).replace(
        ", ", ","
    ).replace(": ", ":")
    with pytest.raises(TypeError):
        json_codec.dumps(value)


def test_not_a_number_is_stored_as_null_not_as_a_token_json_does_not_have() -> None:
    assert json_codec.loads(json_codec.dumps([math.nan, math.inf, 1.5])) == [None, None, 1.5]


def test_stored_text_orjson_cannot_read_is_read_by_the_standard_decoder() -> None:
    assert math.isnan(json_codec.loads("[NaN]")[0])
    assert json_codec.loads('{"n": 1180591620717411303424}') == {"n": 2**70}
    with pytest.raises(json.JSONDecodeError):
        json_codec.loads('{"cut": ')
