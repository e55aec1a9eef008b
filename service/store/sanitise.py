"""What the store does to CRM values it could not hold as they are: few rules, written
down, the same on both backends, so one odd record never stops a stream.

* **NUL characters** are removed from every text value and from every string inside a
  JSON document (keys included). PostgreSQL refuses them in ``text`` and ``jsonb``
  (``DataError``), which failed the whole stream on every run; SQLite would keep the
  text only up to the first one.
* **Free text longer than its column** (names, subjects: the columns marked
  ``info={"free_text": True}``) is cut to fit and ends in an ellipsis, so a reader sees
  it was cut. PostgreSQL refuses an oversize ``varchar`` (or, through the explicit cast
  of a batch upsert, cuts it without a word); SQLite keeps it whole. A CRM's limits
  differ from ours (a HubSpot deal name can run to thousands of characters). Identifiers
  and codes (CRM ids, stages, currencies, time zones) are never cut: a value that
  changed meaning would be worse than a stream that says why it failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import JSON, Column, String

NUL = "\x00"
ELLIPSIS = "\u2026"

Cleaner = Callable[[Any], Any]


def cleaner_for(column: Column[Any]) -> Cleaner | None:
    """How values of ``column`` are made storable, or None when they need nothing."""
    if isinstance(column.type, JSON):
        return clean_document
    if not isinstance(column.type, String):  # Text is a String without a length
        return None
    limit = column.type.length if column.info.get("free_text") else None
    return clean_text if limit is None else _fitted(limit)


def clean_text(value: str | None) -> str | None:
    return value.replace(NUL, "") if value is not None and NUL in value else value


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
