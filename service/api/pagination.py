"""Cursor pagination for every list: ``?limit=`` and ``?cursor=``, ``next_cursor`` in the
answer (null on the last page). A cursor is opaque to clients: the last item's sort key,
base64url-encoded JSON, so a list can be walked while rows are added without skipping
or repeating one (unlike offsets)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from service.api.problems import FieldProblem, invalid

T = TypeVar("T")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


def encode(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key a cursor carries (``arity`` values), or None for the first page."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity:
        message = "not a cursor this list gave out"
        raise invalid("the cursor is not valid", [FieldProblem(field="cursor", message=message)])
    return key


def page(items: list[T], limit: int, key: Any) -> Page[T]:
    """The first ``limit`` of ``items`` (fetch ``limit + 1`` to know whether more follow)."""
    more = len(items) > limit
    shown = items[:limit]
    return Page[T](data=shown, next_cursor=encode(key(shown[-1])) if more and shown else None)
