"""HubSpot engagements (calls, emails, meetings, tasks, notes) into activities. Pure.

* ``occurred_at`` is ``hs_timestamp`` (meetings: their start time; then the creation
  time), the rep is ``hubspot_owner_id``, the opportunity the associated deal, which the
  caller picks (the lowest id when there are several).
* Call outcomes are HubSpot's disposition GUIDs, turned into their labels for the default
  outcomes (a portal's own outcomes keep their GUID); call durations are milliseconds in
  HubSpot, seconds here; a meeting lasts from its start to its end time.
* Subjects are cut to what the store holds (255); a note's subject is its body's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.hubspot.values import Obj, modified_at, parse_datetime, props_of, text, to_decimal
from connectors.records import Activity, ActivityKind

SUBJECT_LIMIT = 255
# HubSpot's default call outcomes (hs_call_disposition holds their GUIDs).
# https://developers.hubspot.com/docs/guides/api/crm/engagements/calls
CALL_OUTCOMES: Mapping[str, str] = {
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "Busy",
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "Connected",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "Left live message",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "Left voicemail",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "No answer",
    "17b47fee-58de-441e-a44c-c6300d46f273": "Wrong number",
}


def map_engagement(kind: ActivityKind, obj: Obj, deal_id: str | None) -> Activity:
    props = props_of(obj)
    fields = _ENGAGEMENT_FIELDS[kind](props)
    occurred = fields.pop("occurred_at", None) or parse_datetime(props.get("hs_timestamp"))
    occurred = occurred or parse_datetime(props.get("hs_createdate") or obj.get("createdAt"))
    if occurred is None:
        raise ValueError(f"{kind} {obj.get('id')} has no date at all")
    return Activity(
        crm_id=str(obj["id"]),
        kind=kind,
        occurred_at=occurred,
        rep_crm_id=text(props.get("hubspot_owner_id")),
        opportunity_crm_id=deal_id,
        modified_at=modified_at(obj),
        **fields,
    )


def _call(props: Mapping[str, Any]) -> dict[str, Any]:
    millis = to_decimal(props.get("hs_call_duration"))
    disposition = text(props.get("hs_call_disposition"))
    return {
        "subtype": text(props.get("hs_call_direction")),
        "subject": text(props.get("hs_call_title"), SUBJECT_LIMIT),
        "status": text(props.get("hs_call_status")),
        "outcome": CALL_OUTCOMES.get(disposition or "", disposition),
        "duration_seconds": None if millis is None else int(millis / 1000),
    }


def _email(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "subtype": text(props.get("hs_email_direction")),
        "subject": text(props.get("hs_email_subject"), SUBJECT_LIMIT),
        "status": text(props.get("hs_email_status")),
    }


def _meeting(props: Mapping[str, Any]) -> dict[str, Any]:
    start = parse_datetime(props.get("hs_meeting_start_time"))
    end = parse_datetime(props.get("hs_meeting_end_time"))
    duration = int((end - start).total_seconds()) if start and end and end >= start else None
    return {
        "occurred_at": start,
        "subject": text(props.get("hs_meeting_title"), SUBJECT_LIMIT),
        "outcome": text(props.get("hs_meeting_outcome")),
        "duration_seconds": duration,
    }


def _note(props: Mapping[str, Any]) -> dict[str, Any]:
    return {"subject": text(props.get("hs_note_body"), SUBJECT_LIMIT)}


def _task(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "subtype": text(props.get("hs_task_type")),
        "subject": text(props.get("hs_task_subject"), SUBJECT_LIMIT),
        "status": text(props.get("hs_task_status")),
    }


_ENGAGEMENT_FIELDS = {
    ActivityKind.CALL: _call,
    ActivityKind.EMAIL: _email,
    ActivityKind.MEETING: _meeting,
    ActivityKind.NOTE: _note,
    ActivityKind.TASK: _task,
}

#: What each engagement stream asks for (unknown names are ignored by HubSpot).
ENGAGEMENT_PROPERTIES: Mapping[ActivityKind, tuple[str, ...]] = {
    ActivityKind.CALL: ("hs_call_title", "hs_call_duration", "hs_call_disposition",
                        "hs_call_status", "hs_call_direction"),
    ActivityKind.EMAIL: ("hs_email_subject", "hs_email_direction", "hs_email_status"),
    ActivityKind.MEETING: ("hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time",
                           "hs_meeting_outcome"),
    ActivityKind.NOTE: ("hs_note_body",),
    ActivityKind.TASK: ("hs_task_subject", "hs_task_status", "hs_task_type"),
}  # fmt: skip
ENGAGEMENT_COMMON = ("hs_timestamp", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate")
