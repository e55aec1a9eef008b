"""Short rule documents: what a rule leaves out takes its documented default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rules.documents import load_rule


def test_the_shortest_rule_is_key_metric_period_and_standard_with_the_rest_defaulted():
    short = {
        "key": "calls-per-week",
        "metric": {"metric": "activity_count", "kinds": ["call"]},
        "period": {"unit": "week"},
        "standard": {"basis": "absolute", "min": 20},
    }
    document = load_rule(short).model_dump(mode="json")
    assert (document["name"], document["level"], document["drives"]) == (
        "Calls per week",
        "activity",
        "Pipeline created",
    )
    assert (document["window"], document["drift"]["k"], document["drift"]["n"]) == (4, 2, 3)
    assert document["coaching"]["cadence_days"] == 14
    assert document["alert"] is True
    # what a rule says itself wins over every default, and a deal metric is an objective
    stated = load_rule({**short, "name": "Calls", "level": "result", "drives": "Quota"})
    assert (stated.name, stated.level, stated.drives) == ("Calls", "result", "Quota")
    stale = {**short, "key": "stale", "metric": {"metric": "days_since_activity"},
             "standard": {"basis": "absolute", "max": 7}}  # fmt: skip
    assert load_rule(stale).level == "activity"


def test_a_nul_anywhere_in_a_document_is_refused_by_path():
    short = {
        "key": "calls",
        "metric": {"metric": "activity_count", "kinds": ["call"]},
        "period": {"unit": "week"},
        "standard": {"basis": "absolute", "min": 20},
        "coaching": {"what_good_looks_like": "A call block\x00"},
    }
    with pytest.raises(ValidationError, match=r"coaching\.what_good_looks_like: a NUL"):
        load_rule(short)
