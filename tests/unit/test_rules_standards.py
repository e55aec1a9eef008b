"""Standards: overrides, relative bases, ramp, and the words for how each was derived."""

from __future__ import annotations

from datetime import date

import pytest

from rules.applied_standards import (
    AppliedStandard,
    ChosenStandard,
    References,
    TeamMedians,
    apply_standard,
    choose_standard,
    own_baseline,
    ramp_factor,
)
from rules.drift import Bounds
from rules.standards import Ramp, Standard
from tests.unit.rules_support import document, rep

OVERRIDES = {
    "teams": {"west": {"standard": {"min": 30}}},
    "roles": {"SDR": {"standard": {"min": 60}}},
    "reps": {"r9": {"standard": {"min": 5}}, "r0": {"disabled": True}},
}


def chosen(**standard) -> ChosenStandard:
    return ChosenStandard(Standard(**standard), "rule standard")


def bounds_of(applied: AppliedStandard | None) -> Bounds:
    assert applied is not None
    return applied.bounds


@pytest.mark.parametrize(
    ("who", "minimum", "origin"),
    [
        (rep("r1"), 40, "rule standard"),
        (rep("r1", team="west"), 30, "override for team west"),
        (rep("r1", team="west", role="SDR"), 60, "override for role SDR"),
        (rep("r9", team="west", role="SDR"), 5, "override for rep Rep R9"),
    ],
)
def test_overrides_apply_rep_over_role_over_team_over_rule(who, minimum, origin):
    picked = choose_standard(document(overrides=OVERRIDES), who)
    assert picked is not None
    assert (picked.standard.min, picked.origin) == (minimum, origin)


def test_a_disabling_override_switches_the_rule_off_for_that_rep_only():
    loaded = document(overrides=OVERRIDES)
    assert choose_standard(loaded, rep("r0", team="west")) is None
    assert choose_standard(loaded, rep("r1", team="west")) is not None


def test_an_absolute_standard_is_its_own_numbers():
    applied = apply_standard(chosen(min=2, max=5), References(), "number")
    assert bounds_of(applied) == Bounds(2, 5)
    assert applied is not None
    assert applied.derivation == "between 2 and 5: absolute standard (rule standard)"


def test_team_median_multiplies_the_median_of_the_same_period():
    refs = References(team_median=20.0, team_label="team west")
    applied = apply_standard(chosen(basis="team_median", min=0.7), refs, "number")
    assert bounds_of(applied).minimum == pytest.approx(14.0)
    assert bounds_of(applied).maximum is None
    assert applied is not None
    assert "0.7 x median of team west (20)" in applied.derivation


def test_own_baseline_multiplies_the_reps_earlier_median():
    refs = References(own_baseline=12.0)
    applied = apply_standard(
        chosen(basis="own_baseline", min=0.5, baseline_periods=4), refs, "number"
    )
    assert bounds_of(applied) == Bounds(6.0, None)
    assert applied is not None
    assert "own median of the 4 periods before the window (12)" in applied.derivation


def test_stage_median_multiplies_the_stages_historical_stint():
    refs = References(stage_median=10.0, stage="Proposal")
    applied = apply_standard(chosen(basis="stage_median", max=1.5), refs, "days")
    assert bounds_of(applied) == Bounds(None, 15.0)
    assert applied is not None
    assert applied.derivation.startswith("at most 15.0 days: 1.5 x historical median days")


def test_inverse_win_rate_sets_coverage_to_one_over_the_win_rate():
    applied = apply_standard(
        chosen(basis="inverse_win_rate", min=1.0), References(win_rate=0.25), "number"
    )
    assert bounds_of(applied) == Bounds(4.0, None)
    assert applied is not None
    assert "1 / trailing win rate 25%" in applied.derivation


@pytest.mark.parametrize(
    ("standard", "refs"),
    [
        ({"basis": "team_median", "min": 0.7}, References()),
        ({"basis": "own_baseline", "min": 0.7}, References()),
        ({"basis": "stage_median", "max": 1.5}, References()),
        ({"basis": "inverse_win_rate", "min": 1}, References(win_rate=0.0)),
    ],
)
def test_no_standard_applies_when_the_reference_is_not_measurable(standard, refs):
    assert apply_standard(chosen(**standard), refs, "number") is None


def test_a_ramp_lowers_a_minimum_and_raises_a_maximum():
    applied = apply_standard(chosen(min=10, max=20), References(), "number", ramp_factor=0.5)
    assert bounds_of(applied) == Bounds(5.0, 40.0)
    assert applied is not None
    assert "ramp: held to 50% of the standard" in applied.derivation


def test_the_ramp_lasts_its_days_from_the_start_date():
    ramp = Ramp(days=90, factor=0.5)
    new = rep("r1", started_on=date(2024, 3, 1))
    assert ramp_factor(ramp, new, date(2024, 3, 1)) == 0.5
    assert ramp_factor(ramp, new, date(2024, 5, 29)) == 0.5
    assert ramp_factor(ramp, new, date(2024, 5, 30)) is None
    assert ramp_factor(ramp, rep("r2"), date(2024, 3, 1)) is None
    assert ramp_factor(None, new, date(2024, 3, 1)) is None


def test_own_baseline_is_the_median_of_the_last_measured_periods():
    assert own_baseline([100, 10, None, 20], 3) == 15.0
    assert own_baseline([100, 10, 0, 12, 11], 4) == 10.5  # a week of leave barely counts
    assert own_baseline([None, None], 2) is None
    assert own_baseline([], 4) is None


def test_team_median_is_per_team_with_everyone_as_fallback():
    reps = {
        crm_id: rep(crm_id, team=team)
        for crm_id, team in [
            ("a", "west"),
            ("b", "west"),
            ("c", "west"),
            ("d", "east"),
            ("e", None),
        ]
    }
    values = [("a", [10.0]), ("b", [20.0]), ("c", [30.0]), ("d", [100.0]), ("e", [1.0])]
    medians = TeamMedians(values, reps)
    assert medians.for_rep(reps["a"], 0) == (20.0, "team west")
    assert medians.for_rep(reps["d"], 0) == (20.0, "all reps")  # team of one
    assert medians.for_rep(reps["e"], 0) == (20.0, "all reps")  # no team


def test_team_median_ignores_unmeasured_reps_and_periods():
    reps = {crm_id: rep(crm_id) for crm_id in "abc"}
    medians = TeamMedians([("a", [None, 4.0]), ("b", [None, 6.0]), ("c", [None, None])], reps)
    assert medians.for_rep(reps["a"], 0) == (None, "all reps")
    assert medians.for_rep(reps["a"], 1) == (5.0, "all reps")
