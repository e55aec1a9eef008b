"""The streams, declared as data, the search windows they read, and the cursor they keep.

Incremental reads go through CRM search, in **windows**: ``hs_lastmodifieddate >= lower
AND <= upper AND hs_object_id > last id``, sorted by ``hs_object_id``, 200 per page.

* ``upper`` lags ``index_lag_seconds`` behind now, because the search index is
  eventually consistent ("It may take a few moments for newly created or updated CRM
  objects to appear in search results",
  https://developers.hubspot.com/docs/guides/api/crm/search#limitations); ``lower`` is
  the previous window's upper bound minus ``lookback_seconds``, which re-reads objects the
  index only caught up with late. Re-reads are harmless (the store's upsert only takes
  newer versions); skips are not.
* Every page is a new query starting after the last id read, never an ``after`` offset:
  offsets shift when an object drops out of the window between two pages (it was
  modified again) and the next page would silently skip one; and since no query ever
  pages on, the 10,000-results-per-query ceiling ("paging beyond 10,000 will result in a
  400 error") is never met, however many objects changed, even when more than 10,000
  share one ``hs_lastmodifieddate`` (the id tie-break orders them). This is the "restart
  from the last id" remedy, applied at every page.
* The window's bounds and the last id are the cursor while a window is open, so a run that
  stops mid-window resumes with the same bounds after the same id.

Cursor format (JSON-safe, version 1)::

    {"v": 1, "modified": iso | None, "window_until": iso | None, "after_id": int | None,
     "deleted_until": iso | None, "list_after": str | None}

``modified``: every change up to it is stored (the next window starts there, minus the
lookback); ``window_until``/``after_id``: the open window, if any; ``deleted_until``: the
archive listing's watermark; ``list_after``: the paging token of an unfinished first-sync
listing (deals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connectors.base import Stream
from connectors.records import ActivityKind, Entity

CURSOR_VERSION = 1
ID, MODIFIED = "hs_object_id", "hs_lastmodifieddate"


@dataclass(frozen=True)
class StreamSpec:
    """How to read one stream.

    ``kind``: the activity kind of an engagement stream (None for owners, deals, goals).
    ``searchable``: read incrementally through search windows (owners and goals are read
    whole: a few per rep). ``listed``: read whole through the object listing (goals).
    ``list_first``: a first sync lists every object instead of searching (deals: the list
    brings their history along, 50 a page, which search cannot). ``bounded``: a first
    sync searches only ``history_days`` back. ``deletable``: later runs list the archive.
    """

    stream: Stream
    kind: ActivityKind | None = None
    searchable: bool = True
    listed: bool = False
    list_first: bool = False
    bounded: bool = True
    deletable: bool = True

    @property
    def object_type(self) -> str:
        return self.stream.crm_object


def _stream(name: str, entity: Entity, object_type: str) -> Stream:
    return Stream(name, entity, object_type, primary_key=ID, cursor_field=MODIFIED)


def _engagement(name: str, kind: ActivityKind) -> StreamSpec:
    return StreamSpec(_stream(name, Entity.ACTIVITY, name), kind=kind)


SPECS: tuple[StreamSpec, ...] = (
    StreamSpec(
        Stream("owners", Entity.REP, "owners", primary_key="id", cursor_field="updatedAt",
               sorted_by_cursor=False),
        searchable=False,
        bounded=False,
        deletable=False,
    ),
    # Deals yield their OpportunityChange records too: history comes with the deal.
    StreamSpec(_stream("deals", Entity.OPPORTUNITY, "deals"), list_first=True, bounded=False),
    _engagement("calls", ActivityKind.CALL),
    _engagement("emails", ActivityKind.EMAIL),
    _engagement("meetings", ActivityKind.MEETING),
    _engagement("tasks", ActivityKind.TASK),
    _engagement("notes", ActivityKind.NOTE),
    # Revenue goals are the quotas (:mod:`connectors.hubspot.goals`).
    StreamSpec(
        Stream("goals", Entity.QUOTA, "goal_targets", primary_key=ID, cursor_field=MODIFIED,
               sorted_by_cursor=False),
        searchable=False,
        listed=True,
        bounded=False,
        deletable=False,
    ),
)  # fmt: skip
SPECS_BY_NAME: Mapping[str, StreamSpec] = {spec.stream.name: spec for spec in SPECS}


def millis(moment: datetime) -> str:
    """Epoch milliseconds, as HubSpot's search filters take datetimes."""
    return str(int(moment.timestamp() * 1000))


def search_body(
    lower: datetime | None,
    upper: datetime,
    after_id: int,
    properties: Sequence[str],
    limit: int = 200,
) -> dict[str, Any]:
    """One page of a window: changed in [lower, upper], id above ``after_id``, id order."""
    filters = [
        {"propertyName": MODIFIED, "operator": "LTE", "value": millis(upper)},
        {"propertyName": ID, "operator": "GT", "value": str(after_id)},
    ]
    if lower is not None:
        filters.insert(0, {"propertyName": MODIFIED, "operator": "GTE", "value": millis(lower)})
    return {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": ID, "direction": "ASCENDING"}],
        "properties": list(dict.fromkeys((ID, MODIFIED, *properties))),
        "limit": limit,
    }


@dataclass(frozen=True)
class StreamCursor:
    modified: datetime | None = None
    window_until: datetime | None = None
    after_id: int | None = None
    deleted_until: datetime | None = None
    list_after: str | None = None

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None) -> StreamCursor:
        if not cursor:
            return cls()
        after = cursor.get("after_id")
        return cls(
            modified=_instant(cursor.get("modified")),
            window_until=_instant(cursor.get("window_until")),
            after_id=None if after is None else int(after),
            deleted_until=_instant(cursor.get("deleted_until")),
            list_after=cursor.get("list_after"),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "v": CURSOR_VERSION,
            "modified": _iso(self.modified),
            "window_until": _iso(self.window_until),
            "after_id": self.after_id,
            "deleted_until": _iso(self.deleted_until),
            "list_after": self.list_after,
        }

    @property
    def first_sync(self) -> bool:
        return self.modified is None

    def open_window(self, upper: datetime) -> StreamCursor:
        return replace(self, window_until=upper, after_id=0)

    def read_to(self, object_id: int) -> StreamCursor:
        return replace(self, after_id=object_id)

    def close_window(self) -> StreamCursor:
        """Everything up to the window's end is stored; the cursor never moves back."""
        until = self.window_until
        modified = self.modified if until is None else max(until, self.modified or until)
        return replace(self, modified=modified, window_until=None, after_id=None)


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("a HubSpot cursor holds aware datetimes only")
    return parsed


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
