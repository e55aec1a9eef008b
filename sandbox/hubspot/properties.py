"""The object types the fake HubSpot serves and their property definitions.

Only what driftcoach touches is modelled: deals and the five engagement types, with the
HubSpot-defined properties a sync reads or a coaching task writes, plus the portal's
custom qualification properties on deals. Everything else is an unknown property: ignored
on read, a ``PROPERTY_DOESNT_EXIST`` validation error on write, as HubSpot does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Kind(StrEnum):
    """How a property's value is validated, normalised and compared in search."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"  # returned as ISO-8601 with millis and ``Z``
    DATE = "date"  # midnight UTC only, returned as ``YYYY-MM-DD``
    BOOL = "bool"  # "true" / "false"
    ENUM = "enum"  # a fixed option list
    OWNER = "owner"  # an owner id of the portal
    PIPELINE = "pipeline"  # a deal pipeline id
    STAGE = "stage"  # a stage of the deal's pipeline


@dataclass(frozen=True, slots=True)
class PropertyDef:
    name: str
    kind: Kind
    options: frozenset[str] = frozenset()
    read_only: bool = False


@dataclass(frozen=True)
class ObjectType:
    name: str  # the plural path segment, e.g. "deals"
    singular: str  # used in association labels such as "deal_to_task"
    type_id: str  # HubSpot's object type id, accepted in paths instead of the name
    properties: MappingProxyType[str, PropertyDef]
    defaults: tuple[str, ...]  # returned when a read names no properties
    always: tuple[str, ...]  # returned even when other properties are named
    required: tuple[str, ...]  # must be present on create
    text_search: tuple[str, ...]  # what the search ``query`` string looks at


def _props(*defs: PropertyDef) -> MappingProxyType[str, PropertyDef]:
    return MappingProxyType({d.name: d for d in defs})


def _enum(name: str, *options: str) -> PropertyDef:
    return PropertyDef(name, Kind.ENUM, frozenset(options))


_SYSTEM = (
    PropertyDef("hs_object_id", Kind.NUMBER, read_only=True),
    PropertyDef("hs_createdate", Kind.DATETIME, read_only=True),
    PropertyDef("hs_lastmodifieddate", Kind.DATETIME, read_only=True),
    PropertyDef("hubspot_owner_id", Kind.OWNER),
)
_ENGAGEMENT_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")

# Default call outcomes every portal has (hs_call_disposition holds these ids; portals may
# add their own, so the property itself is free text).
# https://developers.hubspot.com/docs/guides/api/crm/engagements/calls
CALL_OUTCOMES: Final = MappingProxyType(
    {
        "Busy": "9d9162e7-6cf3-4944-bf63-4dff82258764",
        "Connected": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
        "Left live message": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
        "Left voicemail": "b2cf5968-551e-4856-9783-52b3da59a7d0",
        "No answer": "73a0d17f-1163-4015-bdd5-ec830791da20",
        "Wrong number": "17b47fee-58de-441e-a44c-c6300d46f273",
    }
)

DEALS = ObjectType(
    name="deals",
    singular="deal",
    type_id="0-3",
    properties=_props(
        *_SYSTEM,
        PropertyDef("createdate", Kind.DATETIME),
        PropertyDef("dealname", Kind.STRING),
        PropertyDef("amount", Kind.NUMBER),
        PropertyDef("closedate", Kind.DATETIME),
        PropertyDef("dealstage", Kind.STAGE),
        PropertyDef("pipeline", Kind.PIPELINE),
        _enum("dealtype", "newbusiness", "existingbusiness"),
        PropertyDef("description", Kind.STRING),
        PropertyDef("hs_next_step", Kind.STRING),
        # Calculated by HubSpot from the deal stage's pipeline metadata.
        PropertyDef("hs_is_closed", Kind.BOOL, read_only=True),
        PropertyDef("hs_is_closed_won", Kind.BOOL, read_only=True),
        PropertyDef("hs_deal_stage_probability", Kind.NUMBER, read_only=True),
        # The portal's custom qualification properties (created in its property settings).
        PropertyDef("budget_confirmed", Kind.BOOL),
        PropertyDef("decision_maker", Kind.STRING),
        PropertyDef("pain_identified", Kind.STRING),  # the pain, in the rep's words
        PropertyDef("next_meeting_date", Kind.DATE),
    ),
    defaults=(
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    always=("createdate", "hs_lastmodifieddate", "hs_object_id"),
    required=("dealname", "dealstage"),
    text_search=("dealname",),
)


def _engagement(
    name: str, singular: str, type_id: str, text: tuple[str, ...], *defs: PropertyDef
) -> ObjectType:
    return ObjectType(
        name=name,
        singular=singular,
        type_id=type_id,
        properties=_props(*_SYSTEM, PropertyDef("hs_timestamp", Kind.DATETIME), *defs),
        defaults=_ENGAGEMENT_DEFAULTS,
        always=_ENGAGEMENT_DEFAULTS,
        required=("hs_timestamp",),
        text_search=text,
    )


CALLS = _engagement(
    "calls",
    "call",
    "0-48",
    ("hs_call_title", "hs_call_body"),
    PropertyDef("hs_call_title", Kind.STRING),
    PropertyDef("hs_call_body", Kind.STRING),
    PropertyDef("hs_call_duration", Kind.NUMBER),  # milliseconds
    PropertyDef("hs_call_disposition", Kind.STRING),
    _enum(
        "hs_call_status",
        "BUSY",
        "CALLING_CRM_USER",
        "CANCELED",
        "COMPLETED",
        "CONNECTING",
        "FAILED",
        "IN_PROGRESS",
        "MISSED",
        "NO_ANSWER",
        "QUEUED",
        "RINGING",
    ),
    _enum("hs_call_direction", "INBOUND", "OUTBOUND"),
)
EMAILS = _engagement(
    "emails",
    "email",
    "0-49",
    ("hs_email_subject", "hs_email_text"),
    PropertyDef("hs_email_subject", Kind.STRING),
    PropertyDef("hs_email_text", Kind.STRING),
    _enum("hs_email_direction", "EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
    _enum("hs_email_status", "BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
)
MEETINGS = _engagement(
    "meetings",
    "meeting",
    "0-47",
    ("hs_meeting_title", "hs_meeting_body"),
    PropertyDef("hs_meeting_title", Kind.STRING),
    PropertyDef("hs_meeting_body", Kind.STRING),
    PropertyDef("hs_meeting_start_time", Kind.DATETIME),
    PropertyDef("hs_meeting_end_time", Kind.DATETIME),
    PropertyDef("hs_meeting_location", Kind.STRING),
    _enum("hs_meeting_outcome", "SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
)
NOTES = _engagement(
    "notes",
    "note",
    "0-46",
    ("hs_note_body",),
    PropertyDef("hs_note_body", Kind.STRING),
)
TASKS = _engagement(
    "tasks",
    "task",
    "0-27",
    ("hs_task_subject", "hs_task_body"),
    PropertyDef("hs_task_subject", Kind.STRING),
    PropertyDef("hs_task_body", Kind.STRING),
    _enum("hs_task_status", "NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
    _enum("hs_task_priority", "NONE", "LOW", "MEDIUM", "HIGH"),
    _enum(
        "hs_task_type",
        "TODO",
        "CALL",
        "EMAIL",
        "LINKED_IN",
        "MEETING",
        "LINKED_IN_CONNECT",
        "LINKED_IN_MESSAGE",
    ),
    PropertyDef("hs_task_completion_date", Kind.DATETIME, read_only=True),
)

# Goals: one goal target per assignee and time slice (a month, a quarter); a revenue
# quota is a goal of type sales_quota. https://developers.hubspot.com/docs/api/crm/goals
GOAL_TARGETS = ObjectType(
    name="goal_targets",
    singular="goal_target",
    type_id="0-74",
    properties=_props(
        *_SYSTEM,
        PropertyDef("hs_goal_name", Kind.STRING),
        PropertyDef("hs_goal_type", Kind.STRING),
        _enum("hs_milestone", "weekly", "monthly", "quarterly", "yearly"),
        PropertyDef("hs_target_amount", Kind.NUMBER),
        PropertyDef("hs_start_datetime", Kind.DATETIME),
        PropertyDef("hs_end_datetime", Kind.DATETIME),
        PropertyDef("hs_assignee_user_id", Kind.NUMBER),
        PropertyDef("hs_created_by_user_id", Kind.NUMBER),
        PropertyDef("hs_group_correlation_uuid", Kind.STRING),
        PropertyDef("hs_goal_target_group_id", Kind.NUMBER),
    ),
    defaults=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    always=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    required=("hs_goal_name", "hs_target_amount", "hs_start_datetime", "hs_end_datetime"),
    text_search=("hs_goal_name",),
)

OBJECT_TYPES: Final = MappingProxyType(
    {t.name: t for t in (DEALS, CALLS, EMAILS, MEETINGS, NOTES, TASKS, GOAL_TARGETS)}
)
_BY_ALIAS: Final = MappingProxyType(
    {**{t.type_id: t for t in OBJECT_TYPES.values()}, **dict(OBJECT_TYPES)}
)


def object_type(name: str) -> ObjectType | None:
    """The type a path segment names: plural name ("deals") or type id ("0-3")."""
    return _BY_ALIAS.get(name)


# HubSpot-defined association type ids between deals and engagements (and notes and
# tasks), per direction.
# https://developers.hubspot.com/docs/guides/api/crm/associations/associations-v4
ASSOCIATION_TYPES: Final = MappingProxyType(
    {
        ("deals", "calls"): 205,
        ("calls", "deals"): 206,
        ("deals", "emails"): 209,
        ("emails", "deals"): 210,
        ("deals", "meetings"): 211,
        ("meetings", "deals"): 212,
        ("deals", "notes"): 213,
        ("notes", "deals"): 214,
        ("deals", "tasks"): 215,
        ("tasks", "deals"): 216,
        # Notes on a task: ids picked for the sandbox, not HubSpot's. A client must read
        # the real one from GET /crm/v4/associations/notes/tasks/labels (and expect none).
        ("notes", "tasks"): 90_001,
        ("tasks", "notes"): 90_002,
    }
)
ASSOCIATION_BY_ID: Final = MappingProxyType({v: k for k, v in ASSOCIATION_TYPES.items()})


def association_label(from_type: str, to_type: str) -> str:
    """The v3 ``type`` label of an association, e.g. ``deal_to_task``."""
    return f"{OBJECT_TYPES[from_type].singular}_to_{OBJECT_TYPES[to_type].singular}"
