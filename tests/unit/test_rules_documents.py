"""Rule documents: valid ones load, invalid ones are refused naming the field and the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from rules.documents import RuleDocument, describe_errors, load_rule
from rules.metrics import SubjectKind
from rules.standards import Basis
from tests.unit.rules_support import BASE_DOCUMENT, DEAL_DOCUMENT, document, merged


def errors_of(base: dict[str, Any] | None = None, **changes: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        document(base, **changes)
    return describe_errors(caught.value)


def test_a_minimal_document_loads_with_defaults():
    loaded = document()
    assert loaded.subject_kind is SubjectKind.REP
    assert loaded.standard.basis is Basis.ABSOLUTE
    assert loaded.drift.k == 2
    assert loaded.enabled
    assert loaded.alert


def test_the_subject_is_derived_from_the_metric():
    assert document(DEAL_DOCUMENT).subject_kind is SubjectKind.DEAL


def test_a_stated_subject_must_match_the_metric():
    assert errors_of(subject="deal") == [
        "subject: activity_count describes a rep, not a deal",
    ]


def test_unknown_keys_are_refused_by_name():
    assert errors_of(thresold=3) == ["thresold: Extra inputs are not permitted"]


def test_a_key_must_be_a_slug():
    assert errors_of(key="Calls Per Day")[0].startswith("key: String should match pattern")


def test_min_above_max_is_refused():
    assert errors_of(standard={"min": 10, "max": 5}) == ["standard: min (10.0) is above max (5.0)"]


def test_a_standard_needs_a_bound():
    assert errors_of(standard={"min": None}) == ["standard: a standard needs min, max or both"]


def test_stage_median_only_applies_to_days_in_stage():
    assert errors_of(standard={"basis": "stage_median", "min": None, "max": 1.5}) == [
        "standard: basis stage_median needs metric days_in_stage, not activity_count"
    ]


def test_stage_median_is_accepted_for_days_in_stage():
    loaded = document(
        DEAL_DOCUMENT,
        metric={"metric": "days_in_stage"},
        standard={"basis": "stage_median", "max": 1.5},
    )
    assert loaded.standard.basis is Basis.STAGE_MEDIAN


def test_inverse_win_rate_only_applies_to_coverage():
    assert errors_of(standard={"basis": "inverse_win_rate", "min": 1}) == [
        "standard: basis inverse_win_rate needs metric pipeline_coverage, not activity_count"
    ]


def test_team_median_compares_reps_not_deals():
    assert errors_of(DEAL_DOCUMENT, standard={"basis": "team_median", "max": 1.5}) == [
        "standard: basis team_median compares reps; days_since_activity describes deals"
    ]


def test_relative_multipliers_must_be_positive():
    assert errors_of(standard={"basis": "team_median", "min": 0}) == [
        "standard: min is a multiplier with basis team_median: use > 0"
    ]


def test_an_override_standard_is_checked_against_the_metric_too():
    overrides = {"roles": {"SDR": {"standard": {"basis": "stage_median", "max": 2}}}}
    assert errors_of(overrides=overrides) == [
        "overrides: roles.SDR.standard: basis stage_median needs metric days_in_stage, "
        "not activity_count"
    ]


def test_an_override_either_disables_or_replaces_the_standard():
    assert errors_of(overrides={"reps": {"r1": {}}}) == [
        "overrides.reps.r1: an override either sets disabled: true or gives a standard"
    ]


def test_a_user_assignee_needs_the_user():
    assert errors_of(coaching={"assignee": "user"}) == [
        "coaching: assignee 'user' needs user_crm_id"
    ]


def test_a_named_user_is_only_for_the_user_assignee():
    assert errors_of(coaching={"user_crm_id": "005X"}) == [
        "coaching: user_crm_id only goes with assignee 'user', not 'manager'"
    ]


def test_templates_may_only_use_known_placeholders():
    (message,) = errors_of(coaching={"subject_template": "Hi {rep_nmae}"})
    assert message.startswith("coaching: subject_template: unknown placeholder(s) {rep_nmae};")
    assert "rep_name" in message


def test_deal_placeholders_are_refused_in_rep_rules_and_accepted_in_deal_rules():
    (message,) = errors_of(coaching={"body_template": "About {deal_name}"})
    assert "unknown placeholder(s) {deal_name}" in message
    assert document(DEAL_DOCUMENT, coaching={"body_template": "About {deal_name}"})


@pytest.mark.parametrize(
    "template", ["{rep_name.__class__}", "{rep_name!r}", "{rep_name:>40}", "{0}", "{}", "{oops"]
)
def test_templates_cannot_reach_into_objects_or_format(template: str):
    (message,) = errors_of(coaching={"subject_template": template})
    assert message.startswith("coaching.subject_template: ")


def test_drift_must_fit_inside_the_window():
    assert errors_of(window=2) == ["drift: n (3) looks at more periods than the window (2)"]


def test_a_trend_needs_enough_periods():
    assert errors_of(window=3, drift={"trend_horizon": 2}) == [
        "drift: a trend needs a window of at least 4 periods, not 3"
    ]


def test_k_of_n_needs_k_at_most_n():
    assert errors_of(drift={"k": 4, "n": 3}) == ["drift: k (4) must not exceed n (3)"]


def test_a_single_bad_period_can_never_be_drift():
    assert errors_of(drift={"k": 1})[0].startswith("drift.k: Input should be greater than")


def test_severity_thresholds_are_ordered():
    assert errors_of(drift={"severity": {"medium": 0.8, "high": 0.5}}) == [
        "drift.severity: medium (0.8) must not exceed high (0.5)"
    ]


def test_per_business_day_needs_a_rate_metric():
    coverage = {**BASE_DOCUMENT, "metric": {"metric": "pipeline_coverage"}}
    assert errors_of(coverage, period={"unit": "week", "per_business_day": True}) == [
        "period: per_business_day needs a rate metric; pipeline_coverage is a snapshot"
    ]


def test_a_metric_cannot_be_reshaped_by_the_document():
    assert errors_of(metric={"metric": "activity_count", "shape": "snapshot"}) == [
        "metric: shape of activity_count is always rate"
    ]


def test_an_unknown_metric_is_named():
    (message,) = errors_of(metric={"metric": "vibes"})
    assert message.startswith("metric: Input tag 'vibes' found using 'metric' does not match")


def test_min_quota_elapsed_is_only_for_quota_pace():
    assert errors_of(min_quota_elapsed=0.5) == [
        "min_quota_elapsed: only quota_pace has a quota period; not activity_count"
    ]


def test_not_a_number_is_refused():
    assert errors_of(standard={"min": float("nan")}) == [
        "standard.min: Input should be a finite number"
    ]


def test_per_rep_cadences_are_bounded():
    assert errors_of(coaching={"cadence_days_by_rep": {"r1": 0}}) == [
        "coaching.cadence_days_by_rep.r1: Input should be greater than or equal to 1"
    ]


def test_the_json_schema_describes_every_metric_for_a_form():
    schema = RuleDocument.model_json_schema()
    mapping = schema["properties"]["metric"]["discriminator"]["mapping"]
    assert {"activity_count", "days_in_stage", "quota_pace"} <= set(mapping)
    # the shortest rule: the rest has defaults (name, level and drives derived)
    assert set(schema["required"]) == {"key", "metric", "period", "standard"}
    json.dumps(schema)


def test_a_loaded_document_round_trips_through_json():
    loaded = document(DEAL_DOCUMENT)
    assert load_rule(json.loads(loaded.model_dump_json())) == loaded


def test_errors_from_several_fields_are_all_reported():
    bad = merged(BASE_DOCUMENT, {"window": 0, "level": "vibe"})
    with pytest.raises(ValidationError) as caught:
        load_rule(bad)
    fields = [line.split(":")[0] for line in describe_errors(caught.value)]
    assert fields == ["level", "window"]
