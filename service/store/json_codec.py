"""The store's JSON codec: orjson, with the standard library for what orjson refuses.

A first evaluation of a large org writes thousands of findings, each with a few KB of
evidence that goes into the finding, its transition and its webhook event; with the
standard encoder, JSON text was a tenth of the evaluation's time, and orjson writes it
in a tenth of that. The engine's JSON columns (:func:`~service.store.engine.make_engine`)
and the findings repository use these two functions.

What the standard library would write, orjson writes too (values read back equal: the
text may differ, orjson does not escape non-ASCII characters). Where they part:

* what orjson refuses (keys that are not strings, integers beyond 64 bits, lone
  surrogates, and dates, times and dataclasses, which are passed through so that
  ``default`` sees them as it would with the standard encoder) goes through the standard
  encoder, so the result never depends on which encoder ran;
* a NaN or an infinity becomes ``null``: the standard encoder wrote a ``NaN`` token that
  is not JSON, which PostgreSQL refuses and SQLite stored as text no reader expects.

Reading, orjson is tried first and the standard decoder takes what it refuses (``NaN``
tokens written before, integers beyond 64 bits).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_PASSED_TO_DEFAULT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as JSON text; ``default`` converts what JSON has no type for (as with
    :func:`json.dumps`, without one such a value raises ``TypeError``)."""
    try:
        return orjson.dumps(value, default=default, option=_PASSED_TO_DEFAULT).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, default=default)


def loads(text: str | bytes) -> Any:
    """The value of a JSON text (``json.JSONDecodeError`` if it is not JSON)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
