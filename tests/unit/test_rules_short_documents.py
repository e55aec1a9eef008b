"""Short rule documents: what a rule leaves out takes its documented default."""

from __future__ import annotations

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
