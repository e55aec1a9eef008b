"""HubSpot goals as quotas: a revenue goal target per owner and period is a quota. Pure.

HubSpot keeps quotas as goals (https://developers.hubspot.com/docs/api/crm/goals): each
goal target is one time slice (a month, a quarter) of one assignee's goal, with
``hs_target_amount`` between ``hs_start_datetime`` and ``hs_end_datetime``. Only sales
quota goals (``hs_goal_type`` ``sales_quota``) are quotas; goals for calls made or deals
created are not. A team goal has no owner and no one rep to hold to it: it is skipped.
The end is the period's last instant (the goal editor writes 23:59:59.999 of its last
day; an end at midnight closes the day before).
"""

from __future__ import annotations

from datetime import timedelta

from connectors.hubspot.values import Obj, modified_at, parse_datetime, props_of, text, to_decimal
from connectors.records import Quota

QUOTA_GOAL_TYPES = frozenset({"sales_quota"})
GOAL_PROPERTIES = (
    "hs_goal_name", "hs_goal_type", "hs_target_amount", "hs_start_datetime", "hs_end_datetime",
    "hubspot_owner_id", "hs_lastmodifieddate",
)  # fmt: skip
_LAST_INSTANT = timedelta(milliseconds=1)


def map_goal(obj: Obj, *, archived: bool) -> Quota | None:
    """The quota a goal target sets, or None when it sets none (another kind of goal,
    a team's); a quota goal without its period or amount cannot be read."""
    props = props_of(obj)
    if props.get("hs_goal_type") not in QUOTA_GOAL_TYPES:
        return None
    owner = text(props.get("hubspot_owner_id"))
    if owner is None:
        return None
    start = parse_datetime(props.get("hs_start_datetime"))
    end = parse_datetime(props.get("hs_end_datetime"))
    amount = to_decimal(props.get("hs_target_amount"))
    if start is None or end is None or amount is None:
        raise ValueError(f"sales quota goal {obj.get('id')} lacks its period or its amount")
    if end <= start:
        raise ValueError(f"sales quota goal {obj.get('id')} ends before it starts")
    return Quota(
        crm_id=str(obj["id"]),
        rep_crm_id=owner,
        period_start=start.date(),
        period_end=(end - _LAST_INSTANT).date(),
        amount=amount,
        modified_at=modified_at(obj),
        deleted=archived,
    )
