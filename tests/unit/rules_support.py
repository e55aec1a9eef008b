"""Builders shared by the rules unit tests: valid documents to vary, reps, a fixed clock."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from rules.documents import RuleDocument, VersionedRule, load_rule
from rules.metrics import RepProfile

#: A Wednesday, mid-morning: the current week is partial, the last complete week is W18.
AS_OF = datetime(2024, 5, 8, 10, 30, tzinfo=UTC)

BASE_DOCUMENT: dict[str, Any] = {
    "key": "calls",
    "name": "Calls per week",
    "level": "activity",
    "drives": "Pipeline created",
    "metric": {"metric": "activity_count", "kinds": ["call"]},
    "period": {"unit": "week"},
    "window": 4,
    "standard": {"basis": "absolute", "min": 40},
    "drift": {"k": 2, "n": 3, "resolve_after": 2},
    "coaching": {"what_good_looks_like": "A call block every morning."},
}

DEAL_DOCUMENT: dict[str, Any] = {
    **BASE_DOCUMENT,
    "key": "stale-deals",
    "name": "Days since activity",
    "metric": {"metric": "days_since_activity"},
    "period": {"unit": "day"},
    "window": 3,
    "standard": {"basis": "absolute", "max": 7},
    "drift": {"k": 2, "n": 2, "resolve_after": 1, "severity": {"medium": 0.5, "high": 1.0}},
    "coaching": {
        "assignee": "rep",
        "what_good_looks_like": "A dated next step on every deal.",
        "subject_template": "Re-engage {deal_name}",
    },
}


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, nested dicts merged key by key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def document(base: dict[str, Any] | None = None, **changes: Any) -> RuleDocument:
    return load_rule(merged(base or BASE_DOCUMENT, changes))


def rule(base: dict[str, Any] | None = None, version: int = 1, **changes: Any) -> VersionedRule:
    return VersionedRule(document(base, **changes), version)


def rep(crm_id: str, **fields: Any) -> RepProfile:
    defaults: dict[str, Any] = {"name": f"Rep {crm_id.upper()}", "manager_crm_id": "m1"}
    return RepProfile(crm_id=crm_id, **{**defaults, **fields})


def manager(crm_id: str = "m1", name: str = "Mia Manager") -> RepProfile:
    return RepProfile(crm_id=crm_id, name=name, role="Sales Manager")
