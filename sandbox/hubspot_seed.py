"""Load a generated sales org into the fake HubSpot portal, as its own objects would look.

Mapping: teams become HubSpot teams and users become owners (HubSpot has no manager
field: managers are the owners of the teams); deals sit in the default sales pipeline
with their dealstage, amount and closedate history; calls, emails, meetings, notes and
tasks become engagements associated with their deal; quotas become revenue goal targets
(``goal_targets`` of type ``sales_quota``, one per owner and quarter, ending at the last
millisecond of the quarter's last day, as HubSpot's goal editor writes them).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sandbox.hubspot import HubSpotState
from sandbox.hubspot.values import iso, to_ms
from sandbox.org import Activity, Deal, Quota, SalesOrg

DEAL_STAGES = {
    "qualify": "appointmentscheduled",
    "discover": "qualifiedtobuy",
    "solution": "presentationscheduled",
    "proposal": "decisionmakerboughtin",
    "negotiate": "contractsent",
    "won": "closedwon",
    "lost": "closedlost",
}
# HubSpot's default call outcomes are identified by fixed GUIDs.
CALL_DISPOSITIONS = {
    "Connected": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
    "Left voicemail": "b2cf5968-551e-4856-9783-52b3da59a7d0",
    "Left live message": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
    "No answer": "73a0d17f-1163-4015-bdd5-ec830791da20",
    "Busy": "9d9162e7-6cf3-4944-bf63-4dff82258764",
    "Wrong number": "17b47fee-58de-441e-a44c-c6300d46f273",
}
MEETING_OUTCOMES = {"Held": "COMPLETED", "No show": "NO_SHOW"}


def load_org(
    state: HubSpotState, org: SalesOrg, *, owners: Collection[str] | None = None
) -> dict[str, str]:
    """Load ``org`` (only what ``owners`` own, if given); returns neutral id -> HubSpot id.

    Times later than the sandbox's "now" (a rep's afternoon when the org ends today) are
    clamped to now: a CRM never stamps a record in the future.
    """
    now = state.clock.now()
    ids: dict[str, str] = {}
    teams = {team.id: state.add_team(team.name) for team in org.teams}
    for user in org.users:
        if owners is not None and user.id not in owners and user.role != "VP Sales":
            continue
        team = teams.get(user.team_id or "")
        ids[user.id] = state.add_owner(
            email=user.email,
            first_name=user.first_name,
            last_name=user.last_name,
            team_ids=[team] if team else [],
            primary_team_id=team,
            archived=not user.is_active,
            created_at=_midnight(user.start_date),
        )
    for deal in org.deals:
        if deal.owner_id in ids:
            ids[deal.id] = _load_deal(state, deal, ids, now)
    for activity in org.activities:
        if activity.owner_id in ids:
            _load_activity(state, activity, ids, now)
    for quota in org.quotas:
        if quota.user_id in ids:
            _load_goal(state, quota, ids[quota.user_id], now)
    return ids


#: Every quota belongs to one goal family: the portal's revenue goal.
REVENUE_GOAL = "Quarterly revenue quota"
_GOAL_FAMILY = "2f0a6c3e-5a7b-4d8e-9c1f-7b3e2d1a0c9f"


def _load_goal(state: HubSpotState, quota: Quota, owner_id: str, now: datetime) -> str:
    start = _midnight(quota.period_start)
    last_millisecond = _midnight(quota.period_end) + timedelta(days=1, milliseconds=-1)
    properties = {
        "hs_goal_name": REVENUE_GOAL,
        "hs_goal_type": "sales_quota",
        "hs_milestone": "quarterly",
        "hs_target_amount": _money(quota.amount),
        "hs_start_datetime": _timestamp(start),
        "hs_end_datetime": _timestamp(last_millisecond),
        "hubspot_owner_id": owner_id,
        "hs_group_correlation_uuid": _GOAL_FAMILY,
        "hs_goal_target_group_id": owner_id,
    }
    created = min(start - timedelta(days=14), now)
    return state.import_object("goal_targets", properties, created_at=created, updated_at=created)


def _load_deal(state: HubSpotState, deal: Deal, ids: dict[str, str], now: datetime) -> str:
    qualification = deal.qualification
    properties = {
        "dealname": deal.name,
        "amount": _money(deal.amount),
        "closedate": _timestamp(_midnight(deal.close_date)),
        "dealstage": DEAL_STAGES[deal.stage_key],
        "pipeline": "default",
        "hubspot_owner_id": ids[deal.owner_id],
        "hs_next_step": deal.next_step,
        "budget_confirmed": "true" if qualification.get("budget_confirmed") else "false",
        "decision_maker": _text(qualification.get("decision_maker")),
        "pain_identified": _text(qualification.get("pain_identified")),
        "next_meeting_date": _date(qualification.get("next_meeting_date")),
    }
    history: dict[str, list[tuple[str | None, datetime]]] = {
        "dealstage": [],
        "amount": [],
        "closedate": [],
    }
    for change in deal.history:
        at = min(change.at, now)
        if change.stage_key is not None:
            history["dealstage"].append((DEAL_STAGES[change.stage_key], at))
        if change.amount is not None:
            history["amount"].append((_money(change.amount), at))
        if change.close_date is not None:
            history["closedate"].append((_timestamp(_midnight(change.close_date)), at))
    updated = min(deal.history[-1].at if deal.history else deal.created_at, now)
    created = min(deal.created_at, now)
    return state.import_object(
        "deals", properties, created_at=created, updated_at=updated, history=history
    )


def _load_activity(
    state: HubSpotState, activity: Activity, ids: dict[str, str], now: datetime
) -> None:
    kind = activity.kind
    properties: dict[str, str | None] = {
        "hs_timestamp": _timestamp(activity.occurred_at),
        "hubspot_owner_id": ids[activity.owner_id],
    }
    properties.update(_engagement_properties(activity))
    associations = {"deals": [ids[activity.deal_id]]} if activity.deal_id in ids else None
    object_type = {"call": "calls", "email": "emails", "meeting": "meetings"}.get(kind, f"{kind}s")
    state.import_object(
        object_type,
        properties,
        created_at=min(activity.occurred_at, now),
        associations=associations,
    )


def _engagement_properties(activity: Activity) -> dict[str, str | None]:
    if activity.kind == "call":
        return {
            "hs_call_title": activity.subject,
            "hs_call_duration": str((activity.duration_seconds or 0) * 1000),
            "hs_call_disposition": CALL_DISPOSITIONS.get(activity.outcome or ""),
            "hs_call_status": "COMPLETED",
            "hs_call_direction": "OUTBOUND",
        }
    if activity.kind == "email":
        return {"hs_email_subject": activity.subject, "hs_email_direction": "EMAIL"}
    if activity.kind == "meeting":
        end = activity.occurred_at.timestamp() + (activity.duration_seconds or 1800)
        return {
            "hs_meeting_title": activity.subject,
            "hs_meeting_start_time": _timestamp(activity.occurred_at),
            "hs_meeting_end_time": _timestamp(datetime.fromtimestamp(end, UTC)),
            "hs_meeting_outcome": MEETING_OUTCOMES.get(activity.outcome or "", "COMPLETED"),
        }
    if activity.kind == "note":
        return {"hs_note_body": activity.subject}
    done = activity.status == "completed"
    return {
        "hs_task_subject": activity.subject,
        "hs_task_status": "COMPLETED" if done else "NOT_STARTED",
        "hs_task_priority": "MEDIUM",
        "hs_task_type": "TODO",
    }


def _timestamp(moment: datetime) -> str:
    return iso(to_ms(moment))


def _midnight(day: date) -> datetime:
    """HubSpot date properties hold UTC midnight."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def _money(amount: Decimal) -> str:
    return format(amount, "f")


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _date(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else None
