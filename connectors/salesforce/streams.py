"""The streams, declared as data, their SOQL, and the cursor they keep.

Every stream reads ``WHERE SystemModstamp >= cursor - lookback ORDER BY SystemModstamp,
Id``: SystemModstamp is Salesforce's replication cursor (it also moves on system
changes LastModifiedDate misses), ``>=`` with a lookback re-reads the boundary and
late-committed rows rather than skipping them, and the Id tie-break gives a stable order
among rows sharing one stamp. Streams whose object can be deleted read through
``queryAll`` so soft-deleted rows arrive with ``IsDeleted = true``, and ask Get Deleted
for hard deletes (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
api_rest/resources_getdeleted.htm).

Cursor format (JSON-safe, version 1)::

    {"v": 1, "system_modstamp": "2026-11-20T10:00:00.123000+00:00" | None,
     "deleted_until": "2026-11-23T05:44:00+00:00" | None}

``system_modstamp`` is the SystemModstamp of the last row of the last complete page;
``deleted_until`` is where the next Get Deleted window starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Stream
from connectors.records import Entity

CURSOR_VERSION = 1


@dataclass(frozen=True)
class StreamSpec:
    """How to read one stream.

    ``bounded``: a first sync reads only ``history_days`` back (high-volume objects);
    users and quotas are small reference data and always read whole, so a rep hired
    years ago and never edited is still known. ``query_all``: the object has IsDeleted
    (User has none: users are deactivated, never deleted). ``get_deleted``: ask Get
    Deleted for hard deletes. ``optional``: the object exists only in some orgs.
    """

    stream: Stream
    fields: tuple[str, ...]
    bounded: bool = True
    query_all: bool = True
    get_deleted: bool = True
    optional: bool = False

    @property
    def sobject(self) -> str:
        return self.stream.crm_object


def _stream(name: str, entity: Entity, sobject: str) -> Stream:
    return Stream(name, entity, sobject, primary_key="Id", cursor_field="SystemModstamp")


_SYSTEM = ("Id", "CreatedDate", "SystemModstamp")

SPECS: tuple[StreamSpec, ...] = (
    StreamSpec(
        _stream("users", Entity.REP, "User"),
        (*_SYSTEM, "Name", "Email", "ManagerId", "UserRole.Name", "Department", "IsActive",
         "TimeZoneSidKey"),
        bounded=False,
        query_all=False,
        get_deleted=False,
    ),
    StreamSpec(
        _stream("opportunities", Entity.OPPORTUNITY, "Opportunity"),
        (*_SYSTEM, "IsDeleted", "Name", "StageName", "IsClosed", "IsWon", "OwnerId",
         "Account.Name", "Amount", "Probability", "CloseDate", "NextStep", "LastModifiedDate"),
    ),
    # OpportunityHistory rows die with their opportunity (a Deletion of the opportunity
    # covers them); Get Deleted is not asked for them.
    StreamSpec(
        _stream("opportunity_history", Entity.OPPORTUNITY_CHANGE, "OpportunityHistory"),
        (*_SYSTEM, "IsDeleted", "OpportunityId", "StageName", "Amount", "Probability",
         "CloseDate"),
        get_deleted=False,
    ),
    StreamSpec(
        _stream("tasks", Entity.ACTIVITY, "Task"),
        (*_SYSTEM, "IsDeleted", "Subject", "Status", "TaskSubtype", "Type", "ActivityDate",
         "CompletedDateTime", "OwnerId", "WhatId", "CallDurationInSeconds", "CallDisposition"),
    ),
    StreamSpec(
        _stream("events", Entity.ACTIVITY, "Event"),
        (*_SYSTEM, "IsDeleted", "Subject", "StartDateTime", "ActivityDateTime", "ActivityDate",
         "DurationInMinutes", "OwnerId", "WhatId", "EventSubtype", "Type"),
    ),
    # Collaborative Forecasts only. Selected without IsDeleted (not documented on this
    # object); deletions come from Get Deleted, which ForecastingQuota supports.
    StreamSpec(
        _stream("quotas", Entity.QUOTA, "ForecastingQuota"),
        (*_SYSTEM, "QuotaOwnerId", "QuotaAmount", "StartDate"),
        bounded=False,
        query_all=False,
        optional=True,
    ),
)  # fmt: skip
SPECS_BY_NAME: Mapping[str, StreamSpec] = {spec.stream.name: spec for spec in SPECS}


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal, floored to the second (a lower bound only ever widens)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_string(value: str) -> str:
    """A quoted SOQL string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_soql(spec: StreamSpec, since: datetime | None, extra: Iterable[str] = ()) -> str:
    where = f" WHERE SystemModstamp >= {soql_datetime(since)}" if since is not None else ""
    return _select(spec, extra, where)


#: Ids per re-read query: 200 quoted 18-character ids stay far below SOQL's 100,000
#: characters.
IDS_PER_QUERY = 200


def build_soql_by_ids(spec: StreamSpec, ids: Sequence[str], extra: Iterable[str] = ()) -> str:
    """The same fields for the rows with these ids (a re-read of quarantined records)."""
    if not ids:
        raise ValueError("a re-read needs at least one id")
    return _select(spec, extra, f" WHERE Id IN ({', '.join(soql_string(i) for i in ids)})")


def _select(spec: StreamSpec, extra: Iterable[str], where: str) -> str:
    fields = ", ".join(dict.fromkeys((*spec.fields, *extra)))
    # Field and object names are declared or configured, never user input; ids are quoted.
    return f"SELECT {fields} FROM {spec.sobject}{where} ORDER BY SystemModstamp, Id"  # noqa: S608


@dataclass(frozen=True)
class StreamCursor:
    system_modstamp: datetime | None = None
    deleted_until: datetime | None = None

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None) -> StreamCursor:
        if not cursor:
            return cls()
        return cls(_instant(cursor.get("system_modstamp")), _instant(cursor.get("deleted_until")))

    def dump(self) -> dict[str, Any]:
        return {
            "v": CURSOR_VERSION,
            "system_modstamp": _iso(self.system_modstamp),
            "deleted_until": _iso(self.deleted_until),
        }

    def lower_bound(self, lookback: timedelta) -> datetime | None:
        return None if self.system_modstamp is None else self.system_modstamp - lookback


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("a Salesforce cursor holds aware datetimes only")
    return parsed


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
