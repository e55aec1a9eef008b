"""What the store does to CRM values it could not hold as they are: few rules, written
down, the same on both backends, so one odd record never stops a stream.

* **NUL characters** are removed from every text value and from every string inside a
  JSON document (keys included). PostgreSQL refuses them in ``text`` and ``jsonb``
  (``DataError``), which failed the whole stream on every run; SQLite would keep the
  text only up to the first one.
* **Lone surrogates** (half of a UTF-16 pair, which JSON's ``\\ud800`` escapes can carry)
  become U+FFFD, the replacement character: neither backend's driver can encode them.
* **Free text longer than its column** (names, subjects: the columns marked
  ``info={"free_text": True}``) is cut to fit and ends in an ellipsis, so a reader sees
  it was cut. PostgreSQL refuses an oversize ``varchar`` (or, through the explicit cast
  of a batch upsert, cuts it without a word); SQLite keeps it whole. A CRM's limits
  differ from ours (a HubSpot deal name can run to thousands of characters). Identifiers
  and codes (CRM ids, stages, currencies, time zones) are never cut: a value that
  changed meaning would be worse than a record held back and listed (below).

What no rule can make storable is **refused**, one record at a time, and the record is
quarantined (:mod:`service.store.quarantine`) while its stream goes on: an identifier or
code longer than its column, a number beyond its column's precision (an amount of 1e30,
a call of 3 billion seconds), a number that is not finite. Both backends refuse the same
records, before the database sees them: PostgreSQL would refuse the batch, or, through
a batch upsert's cast, cut an identifier without a word; SQLite would keep it whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Enum, Integer, Numeric, SmallInteger, String

NUL = "\x00"
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
ELLIPSIS = "\u2026"

Cleaner = Callable[[Any], Any]
#: A value's problem, said for a person (``None``: storable).
Check = Callable[[Any], str | None]

_INT32 = 2**31


def cleaner_for(column: Column[Any]) -> Cleaner | None:
    """How values of ``column`` are made storable, or None when they need nothing."""
    if isinstance(column.type, JSON):
        return clean_document
    if not isinstance(column.type, String):  # Text is a String without a length
        return None
    limit = column.type.length if column.info.get("free_text") else None
    return clean_text if limit is None else _fitted(limit)


def clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    if NUL in value:
        value = value.replace(NUL, "")
    if not value.isascii() and _SURROGATE.search(value):
        value = _SURROGATE.sub(REPLACEMENT, value)
    return value


def _fitted(limit: int) -> Cleaner:
    def fit(value: str | None) -> str | None:
        value = clean_text(value)
        if value is None or len(value) <= limit:
            return value
        return value[: limit - 1] + ELLIPSIS

    return fit


def clean_document(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON document as a plain dict, with NUL characters removed from its strings."""
    if value is None:
        return None
    return {str(clean_text(key)): _clean_json(item) for key, item in value.items()}


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return clean_document(value)
    if isinstance(value, list | tuple):
        return [_clean_json(item) for item in value]
    return value


def length_limit(column: Column[Any]) -> int | None:
    """The length a (cleaned) identifier or code of ``column`` must not pass, if any.

    Checked inline by the caller, not through a :data:`Check`: it applies to most
    columns of every record a sync writes, and a call per value cost a tenth of a
    record's whole write. Free text is cut instead; enumerations are Python's own.
    """
    kind = column.type
    if not isinstance(kind, String) or isinstance(kind, Enum) or kind.length is None:
        return None
    return None if column.info.get("free_text") else kind.length


def too_long(column: str, length: int, limit: int) -> str:
    return f"{column}: {length} characters, more than the {limit} its column holds"


def check_for(column: Column[Any]) -> Check | None:
    """What a number of ``column`` must satisfy to be stored on both backends."""
    kind = column.type
    name = column.name
    if isinstance(kind, Numeric) and kind.precision is not None:
        return _numeric_check(name, kind.precision, kind.scale or 0)
    if isinstance(kind, Integer) and not isinstance(kind, BigInteger | SmallInteger):
        return _integer_check(name)
    return None


def _numeric_check(name: str, precision: int, scale: int) -> Check:
    bound = Decimal(10) ** (precision - scale)

    def check(value: Any) -> str | None:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite():
            return f"{name}: {number} is not a finite number"
        # Compared before rounding too: rounding 1e30 to two places overflows Decimal.
        if abs(number) >= bound or abs(round(number, scale)) >= bound:
            return f"{name}: {number:.6g} does not fit numeric({precision},{scale})"
        return None

    return check


def _integer_check(name: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not -_INT32 <= value < _INT32:
            return f"{name}: {value} is outside a 32-bit integer"
        return None

    return check
