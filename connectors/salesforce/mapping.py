"""Salesforce rows (as simple-salesforce decodes them) into canonical records. Pure.

Decisions, so every consumer reads the same thing:

* Stage category comes from OpportunityStage metadata (IsWon -> won, IsClosed -> lost,
  else open), queried once per run; a stage missing there (renamed, deleted) falls back
  to the opportunity's own IsClosed/IsWon, and a history row's to None.
* ``Opportunity.closed_at`` is LastModifiedDate for a closed opportunity, None for an
  open one. A closed deal's last edit is almost always its close; the exact moment is the
  ``changed_at`` of the last OpportunityChange into a closed stage, which the
  opportunity_history stream delivers (no extra calls per page here).
* ``Activity.occurred_at`` of a task: CompletedDateTime when it agrees with ActivityDate
  (within a day: the date is in the rep's time zone), else ActivityDate, else
  CompletedDateTime, else CreatedDate. An event: StartDateTime, ActivityDateTime,
  ActivityDate, CreatedDate. A date-only value becomes 12:00 UTC of that date, which is
  the same calendar day in every time zone from UTC-11 to UTC+11.
* Quotas are amount quotas; a quantity-only quota (no QuotaAmount) is skipped. The period
  ends with the calendar quarter of StartDate (the standard forecast period).
* Money and probabilities are Decimal (the client parses JSON numbers as Decimal).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from connectors.records import (
    Activity,
    ActivityKind,
    Opportunity,
    OpportunityChange,
    Quota,
    Rep,
    StageCategory,
)

Row = Mapping[str, Any]
OPPORTUNITY_PREFIX = "006"
_NOON = time(12, tzinfo=UTC)
_KINDS = {"call": ActivityKind.CALL, "email": ActivityKind.EMAIL, "listemail": ActivityKind.EMAIL}


# ----------------------------------------------------------------------------- values


def parse_datetime(value: Any) -> datetime | None:
    """Salesforce's ``2026-01-05T09:00:00.000+0000`` (or ``Z``/``+00:00``) as aware UTC."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"a Salesforce dateTime without an offset: {value!r}")
    return parsed.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    return None if value is None or value == "" else date.fromisoformat(str(value)[:10])


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def date_instant(day: date | None) -> datetime | None:
    """A date-only value as an instant: noon UTC keeps the day in (almost) every zone."""
    return None if day is None else datetime.combine(day, _NOON)


def quarter_end(day: date) -> date:
    """The last day of the calendar quarter that holds ``day``."""
    last_month = (day.month - 1) // 3 * 3 + 3
    first_of_next = date(day.year + last_month // 12, last_month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def _related(row: Row, relationship: str, field: str) -> Any:
    parent = row.get(relationship)
    return parent.get(field) if isinstance(parent, Mapping) else None


def _json_value(value: Any) -> Any:
    """Qualification values go into a JSON document: no Decimal there."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# ----------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class StageInfo:
    is_closed: bool
    is_won: bool

    @property
    def category(self) -> StageCategory:
        if self.is_won:
            return StageCategory.WON
        return StageCategory.LOST if self.is_closed else StageCategory.OPEN


def stage_map(rows: Iterable[Row]) -> dict[str, StageInfo]:
    """OpportunityStage rows by the value StageName holds (ApiName), and by label."""
    stages: dict[str, StageInfo] = {}
    for row in rows:
        info = StageInfo(bool(row.get("IsClosed")), bool(row.get("IsWon")))
        for key in (row.get("MasterLabel"), row.get("ApiName")):
            if key:
                stages[str(key)] = info
    return stages


def stage_category(
    stage: str | None, stages: Mapping[str, StageInfo], fallback: StageInfo | None = None
) -> StageCategory | None:
    info = stages.get(stage or "") or fallback
    return None if info is None else info.category


# ----------------------------------------------------------------------------- records


def map_user(row: Row) -> Rep:
    created = parse_datetime(row.get("CreatedDate"))
    return Rep(
        crm_id=str(row["Id"]),
        name=str(row.get("Name") or ""),
        email=row.get("Email"),
        manager_crm_id=row.get("ManagerId"),
        team=row.get("Department"),
        role=_related(row, "UserRole", "Name"),
        is_active=bool(row.get("IsActive", True)),
        started_on=created.date() if created else None,
        time_zone=row.get("TimeZoneSidKey"),
        modified_at=parse_datetime(row.get("SystemModstamp")),
        deleted=bool(row.get("IsDeleted", False)),
    )


def map_opportunity(
    row: Row, stages: Mapping[str, StageInfo], qualification_fields: Mapping[str, str]
) -> Opportunity:
    own = StageInfo(bool(row.get("IsClosed")), bool(row.get("IsWon")))
    category = stage_category(row.get("StageName"), stages, own) or own.category
    return Opportunity(
        crm_id=str(row["Id"]),
        name=str(row.get("Name") or ""),
        stage=str(row.get("StageName") or ""),
        stage_category=category,
        owner_crm_id=row.get("OwnerId"),
        account_name=_related(row, "Account", "Name"),
        amount=to_decimal(row.get("Amount")),
        probability=to_decimal(row.get("Probability")),
        close_date=parse_date(row.get("CloseDate")),
        created_at=parse_datetime(row.get("CreatedDate")),
        closed_at=(
            None if category is StageCategory.OPEN else parse_datetime(row.get("LastModifiedDate"))
        ),
        next_step=row.get("NextStep"),
        qualification={
            name: _json_value(row[field])
            for name, field in qualification_fields.items()
            if field in row
        },
        modified_at=parse_datetime(row.get("SystemModstamp")),
        deleted=bool(row.get("IsDeleted", False)),
    )


def map_history(row: Row, stages: Mapping[str, StageInfo]) -> OpportunityChange:
    """One OpportunityHistory row: a full snapshot of the tracked values at CreatedDate."""
    changed_at = parse_datetime(row.get("CreatedDate"))
    if changed_at is None:
        raise ValueError(f"OpportunityHistory {row.get('Id')} has no CreatedDate")
    return OpportunityChange(
        crm_id=str(row["Id"]),
        opportunity_crm_id=str(row["OpportunityId"]),
        changed_at=changed_at,
        stage=row.get("StageName"),
        stage_category=stage_category(row.get("StageName"), stages),
        amount=to_decimal(row.get("Amount")),
        close_date=parse_date(row.get("CloseDate")),
        probability=to_decimal(row.get("Probability")),
        modified_at=parse_datetime(row.get("SystemModstamp")),
        deleted=bool(row.get("IsDeleted", False)),
    )


def task_kind(task_subtype: str | None, task_type: str | None = None) -> ActivityKind:
    """TaskSubtype Call -> call, Email/ListEmail -> email, anything else -> task.

    Orgs older than TaskSubtype (API 37) logged calls with Type = Call: the fallback.
    """
    key = (task_subtype or task_type or "").lower()
    return _KINDS.get(key, ActivityKind.TASK)


def task_occurred_at(row: Row) -> datetime:
    completed = parse_datetime(row.get("CompletedDateTime"))
    day = parse_date(row.get("ActivityDate"))
    if completed is not None and (day is None or abs((completed.date() - day).days) <= 1):
        return completed
    return _first(row, date_instant(day), completed, parse_datetime(row.get("CreatedDate")))


def event_occurred_at(row: Row) -> datetime:
    return _first(
        row,
        parse_datetime(row.get("StartDateTime")),
        parse_datetime(row.get("ActivityDateTime")),
        date_instant(parse_date(row.get("ActivityDate"))),
        parse_datetime(row.get("CreatedDate")),
    )


def _first(row: Row, *moments: datetime | None) -> datetime:
    for moment in moments:
        if moment is not None:
            return moment
    raise ValueError(f"activity {row.get('Id')} has no date at all")


def map_task(row: Row) -> Activity:
    return Activity(
        crm_id=str(row["Id"]),
        kind=task_kind(row.get("TaskSubtype"), row.get("Type")),
        occurred_at=task_occurred_at(row),
        rep_crm_id=row.get("OwnerId"),
        opportunity_crm_id=_opportunity_id(row.get("WhatId")),
        subtype=row.get("TaskSubtype"),
        subject=row.get("Subject"),
        status=row.get("Status"),
        outcome=row.get("CallDisposition"),
        duration_seconds=_int(row.get("CallDurationInSeconds")),
        modified_at=parse_datetime(row.get("SystemModstamp")),
        deleted=bool(row.get("IsDeleted", False)),
    )


def map_event(row: Row) -> Activity:
    minutes = _int(row.get("DurationInMinutes"))
    return Activity(
        crm_id=str(row["Id"]),
        kind=ActivityKind.MEETING,
        occurred_at=event_occurred_at(row),
        rep_crm_id=row.get("OwnerId"),
        opportunity_crm_id=_opportunity_id(row.get("WhatId")),
        subtype=row.get("EventSubtype") or row.get("Type"),
        subject=row.get("Subject"),
        duration_seconds=None if minutes is None else minutes * 60,
        modified_at=parse_datetime(row.get("SystemModstamp")),
        deleted=bool(row.get("IsDeleted", False)),
    )


def map_quota(row: Row) -> Quota | None:
    amount = to_decimal(row.get("QuotaAmount"))
    start = parse_date(row.get("StartDate"))
    if amount is None or start is None or not row.get("QuotaOwnerId"):
        return None
    return Quota(
        crm_id=str(row["Id"]),
        rep_crm_id=str(row["QuotaOwnerId"]),
        period_start=start,
        period_end=quarter_end(start),
        amount=amount,
        modified_at=parse_datetime(row.get("SystemModstamp")),
        deleted=bool(row.get("IsDeleted", False)),
    )


def _opportunity_id(what_id: Any) -> str | None:
    """WhatId is polymorphic; the key prefix 006 says it is an opportunity."""
    text = str(what_id or "")
    return text if text.startswith(OPPORTUNITY_PREFIX) else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
