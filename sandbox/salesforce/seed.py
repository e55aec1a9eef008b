"""Load a generated sales org into the fake Salesforce org, as its own records would look.

Mapping: users become Users (with ManagerId, UserRoleId, Department = team); accounts
become Accounts; deals become Opportunities on Salesforce's standard stages with one
OpportunityHistory row per change (each row holding all four tracked values, as
Salesforce writes them); calls, emails and to-dos become Tasks (TaskSubtype Call /
Email / Task), meetings become Events; quotas become ForecastingQuota rows. Notes have no
Task equivalent (Salesforce keeps them as ContentNote files) and are left out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sandbox.org import Activity, Deal, SalesOrg, User
from sandbox.salesforce.stages import find_stage
from sandbox.salesforce.state import SalesforceState

# The neutral pipeline on Salesforce's standard sales process.
SALESFORCE_STAGES = {
    "qualify": "Qualification",
    "discover": "Needs Analysis",
    "solution": "Value Proposition",
    "proposal": "Proposal/Price Quote",
    "negotiate": "Negotiation/Review",
    "won": "Closed Won",
    "lost": "Closed Lost",
}
TASK_SUBTYPES = {"call": "Call", "email": "Email", "task": "Task"}


def load_org(
    state: SalesforceState, org: SalesOrg, *, owners: Collection[str] | None = None
) -> dict[str, str]:
    """Load ``org`` (only what ``owners`` own, if given); returns neutral id -> Salesforce id."""
    ids: dict[str, str] = {}
    users = [u for u in org.users if owners is None or u.id in owners or u.role == "VP Sales"]
    _load_users(state, users, ids)
    deals = [d for d in org.deals if d.owner_id in ids]
    _load_accounts(state, deals, ids)
    _load_deals(state, deals, ids)
    activities = [a for a in org.activities if a.owner_id in ids]
    _load_activities(state, activities, ids)
    quotas = [
        {
            "QuotaOwnerId": ids[q.user_id],
            "QuotaAmount": float(q.amount),
            "StartDate": q.period_start,
            "PeriodId": f"{q.period_start.year}Q{(q.period_start.month - 1) // 3 + 1}",
            "IsAmount": True,
            "CreatedDate": _morning(q.period_start),
        }
        for q in org.quotas
        if q.user_id in ids
    ]
    state.records.bulk_load("ForecastingQuota", quotas, user_id=state.integration_user_id)
    return ids


def _load_users(state: SalesforceState, users: list[User], ids: dict[str, str]) -> None:
    roles = {
        role: state.records.bulk_load(
            "UserRole",
            [{"Name": role, "DeveloperName": role.replace(" ", "_")}],
            user_id=state.integration_user_id,
        )[0]
        for role in sorted({u.role for u in users})
    }
    # Managers first, so every ManagerId points at a loaded user.
    for user in sorted(
        users, key=lambda u: ("VP Sales", "Sales Manager", "Account Executive").index(u.role)
    ):
        row = {
            "Username": user.email,
            "FirstName": user.first_name,
            "LastName": user.last_name,
            "Email": user.email,
            "Alias": (user.first_name[:1] + user.last_name[:4]).lower(),
            "IsActive": user.is_active,
            "Title": user.title,
            "Department": user.team_id,
            "TimeZoneSidKey": user.time_zone,
            "UserRoleId": roles[user.role],
            "ManagerId": ids.get(user.manager_id or ""),
            "CreatedDate": _morning(user.start_date),
        }
        ids[user.id] = state.records.bulk_load("User", [row], user_id=state.integration_user_id)[0]


def _load_accounts(state: SalesforceState, deals: list[Deal], ids: dict[str, str]) -> None:
    names = sorted({deal.account_name for deal in deals})
    rows = [{"Name": name} for name in names]
    for name, record_id in zip(
        names,
        state.records.bulk_load("Account", rows, user_id=state.integration_user_id),
        strict=True,
    ):
        ids[f"account:{name}"] = record_id


def _load_deals(state: SalesforceState, deals: list[Deal], ids: dict[str, str]) -> None:
    rows = [_opportunity(deal, ids) for deal in deals]
    loaded = state.records.bulk_load("Opportunity", rows, user_id=state.integration_user_id)
    history: list[dict[str, Any]] = []
    for deal, record_id in zip(deals, loaded, strict=True):
        ids[deal.id] = record_id
        history.extend(_history_rows(deal, record_id))
    state.records.bulk_load("OpportunityHistory", history, user_id=state.integration_user_id)


def _opportunity(deal: Deal, ids: dict[str, str]) -> dict[str, Any]:
    stage = SALESFORCE_STAGES[deal.stage_key]
    last_change = deal.history[-1].at if deal.history else deal.created_at
    qualification = deal.qualification
    return {
        "Name": deal.name,
        "AccountId": ids[f"account:{deal.account_name}"],
        "OwnerId": ids[deal.owner_id],
        "Amount": float(deal.amount),
        "CloseDate": deal.close_date,
        "StageName": stage,
        "Probability": _probability(stage),
        "NextStep": deal.next_step,
        "Budget_Confirmed__c": bool(qualification.get("budget_confirmed")),
        "Decision_Maker__c": qualification.get("decision_maker"),
        "Pain_Identified__c": qualification.get("pain_identified"),
        "Next_Meeting_Date__c": qualification.get("next_meeting_date"),
        "CreatedDate": deal.created_at,
        "LastModifiedDate": last_change,
    }


def _history_rows(deal: Deal, opportunity_id: str) -> Iterator[dict[str, Any]]:
    """Replay the neutral changes into Salesforce's full-snapshot history rows."""
    current: dict[str, Any] = {}
    for change in deal.history:
        if change.stage_key is not None:
            current["StageName"] = SALESFORCE_STAGES[change.stage_key]
            current["Probability"] = _probability(current["StageName"])
        if change.amount is not None:
            current["Amount"] = float(change.amount)
        if change.close_date is not None:
            current["CloseDate"] = change.close_date
        stage = find_stage(str(current.get("StageName", "")))
        yield {
            **current,
            "OpportunityId": opportunity_id,
            "ForecastCategory": stage.forecast_category if stage else None,
            "ExpectedRevenue": (current.get("Amount") or 0)
            * (current.get("Probability") or 0)
            / 100,
            "CreatedDate": change.at,
        }


def _load_activities(
    state: SalesforceState, activities: Iterable[Activity], ids: dict[str, str]
) -> None:
    tasks, events = [], []
    for activity in activities:
        if activity.kind in TASK_SUBTYPES:
            tasks.append(_task(activity, ids))
        elif activity.kind == "meeting":
            events.append(_event(activity, ids))
    state.records.bulk_load("Task", tasks, user_id=state.integration_user_id)
    state.records.bulk_load("Event", events, user_id=state.integration_user_id)


def _task(activity: Activity, ids: dict[str, str]) -> dict[str, Any]:
    return {
        "Subject": activity.subject,
        "Status": "Completed" if activity.status == "completed" else "Not Started",
        "Priority": "Normal",
        "ActivityDate": activity.occurred_at.date(),
        "OwnerId": ids[activity.owner_id],
        "WhatId": ids.get(activity.deal_id or ""),
        "TaskSubtype": TASK_SUBTYPES[activity.kind],
        "Type": TASK_SUBTYPES[activity.kind] if activity.kind != "task" else "Other",
        "CallDurationInSeconds": activity.duration_seconds if activity.kind == "call" else None,
        "CallDisposition": activity.outcome if activity.kind == "call" else None,
        "CreatedDate": activity.occurred_at,
    }


def _event(activity: Activity, ids: dict[str, str]) -> dict[str, Any]:
    minutes = (activity.duration_seconds or 1800) // 60
    return {
        "Subject": activity.subject,
        "Description": activity.outcome,
        "StartDateTime": activity.occurred_at,
        "EndDateTime": activity.occurred_at + timedelta(minutes=minutes),
        "DurationInMinutes": minutes,
        "ActivityDateTime": activity.occurred_at,
        "ActivityDate": activity.occurred_at.date(),
        "OwnerId": ids[activity.owner_id],
        "WhatId": ids.get(activity.deal_id or ""),
        "Type": "Meeting",
        "CreatedDate": activity.occurred_at,
    }


def _probability(stage_name: str) -> float | None:
    stage = find_stage(stage_name)
    return stage.probability if stage else None


def _morning(day: Any) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)
