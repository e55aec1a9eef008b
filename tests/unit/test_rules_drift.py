"""Drift: sustained breaches and trends open findings, single bad periods never do."""

from __future__ import annotations

import pytest

from rules.drift import Bounds, breach, judge, relative_gap, severity_of, trend_projection
from rules.policies import DriftPolicy, Severity, SeverityThresholds

AT_LEAST_10 = Bounds(10.0, None)
AT_MOST_7 = Bounds(None, 7.0)


def verdict(values: list[float | None], policy: DriftPolicy | None = None, bounds=AT_LEAST_10):
    return judge(values, [bounds] * len(values), policy or DriftPolicy())


def test_a_value_inside_the_standard_is_no_breach():
    assert breach(10.0, AT_LEAST_10, 0.0) is None
    assert breach(7.0, AT_MOST_7, 0.0) is None


def test_a_breach_names_its_side_and_relative_gap():
    below = breach(8.0, AT_LEAST_10, 0.0)
    assert below is not None
    assert below.side == "below"
    assert below.gap == pytest.approx(0.2)
    found = breach(14.0, AT_MOST_7, 0.0)
    assert found is not None
    assert (found.side, found.gap) == ("above", 0.5)


def test_tolerance_absorbs_small_misses():
    assert breach(9.5, AT_LEAST_10, 0.1) is None
    assert breach(8.5, AT_LEAST_10, 0.1) is not None


def test_unknown_values_and_unknown_standards_are_never_breaches():
    assert breach(None, AT_LEAST_10, 0.0) is None
    assert breach(1.0, None, 0.0) is None


def test_gaps_on_either_side_run_from_0_to_1_and_compare():
    assert relative_gap(3.0, 0.0) == 1.0  # anything above a maximum of 0 is all beyond it
    assert relative_gap(0.0, 10.0) == 1.0  # nothing against a minimum is all missing
    assert relative_gap(0.0, 0.0) == 0.0
    # half the standard missing ranks with twice the standard reached on a maximum
    assert relative_gap(5.0, 10.0) == relative_gap(14.0, 7.0) == 0.5
    # however far past a maximum, the gap stays below a total miss of a minimum
    assert relative_gap(7_000.0, 7.0) < relative_gap(0.0, 10.0)


def test_k_of_the_last_n_periods_is_drift():
    result = verdict([12, 12, 8, 12, 7])
    assert result.drifting
    assert result.reason == "sustained"


def test_one_bad_period_never_opens_a_finding():
    assert not verdict([12, 12, 12, 1]).drifting
    assert not verdict([12, 12, 12, 12, 12, 1], DriftPolicy(trend_horizon=3)).drifting


def test_a_rep_already_back_inside_is_not_opened_on():
    assert not verdict([12, 8, 7, 12]).drifting
    assert verdict([12, 8, 7, 12], DriftPolicy(latest_must_breach=False)).drifting


def test_the_latest_measured_period_counts_when_the_newest_is_unmeasured():
    assert verdict([12, 8, 7, None]).drifting


def test_breaches_older_than_n_periods_do_not_count():
    assert not verdict([5, 5, 12, 12, 8]).drifting


def test_severity_comes_from_the_latest_breach_gap():
    policy = DriftPolicy(severity=SeverityThresholds(medium=0.25, high=0.5))
    assert verdict([12, 9, 9], policy).severity is Severity.LOW
    assert verdict([12, 9, 7], policy).severity is Severity.MEDIUM
    assert verdict([12, 9, 4], policy).severity is Severity.HIGH
    assert verdict([12, 9, 4], policy).gap == pytest.approx(0.6)


def test_severity_thresholds_are_inclusive():
    thresholds = SeverityThresholds(medium=0.5, high=1.0)
    assert severity_of(0.49, thresholds) is Severity.LOW
    assert severity_of(0.5, thresholds) is Severity.MEDIUM
    assert severity_of(1.0, thresholds) is Severity.HIGH


def test_a_steady_decline_still_inside_is_drift_by_trend():
    policy = DriftPolicy(trend_horizon=2)
    result = verdict([18, 16, 14, 12], policy)
    assert result.drifting
    assert result.reason == "trend"
    assert result.severity is Severity.LOW
    assert result.projected == pytest.approx(8.0)


def test_a_trend_that_stays_inside_within_the_horizon_is_not_drift():
    assert not verdict([18, 16, 14, 12], DriftPolicy(trend_horizon=1)).drifting


def test_a_rising_series_is_no_drift_against_a_minimum():
    assert not verdict([12, 13, 14, 15], DriftPolicy(trend_horizon=5)).drifting


def test_one_outlier_does_not_tilt_the_trend():
    slope, _projected = trend_projection([12, 12, 12, 12, 12, 0], 2) or (None, None)
    assert slope == 0


def test_a_trend_needs_four_measured_periods():
    assert trend_projection([18, None, 14, 12], 2) is None
    assert not verdict([18, None, 14, 12], DriftPolicy(trend_horizon=4)).drifting


def test_a_rising_maximum_trend_is_drift_for_a_max_standard():
    result = verdict([3, 4, 5, 6], DriftPolicy(trend_horizon=2), AT_MOST_7)
    assert result.reason == "trend"


def test_hysteresis_keeps_a_finding_until_enough_periods_are_back_inside():
    policy = DriftPolicy(k=2, n=2, resolve_after=2)
    once_inside = verdict([8, 8, 8, 12], policy)
    twice_inside = verdict([8, 8, 12, 12], policy)
    assert not once_inside.drifting
    assert not once_inside.may_resolve(policy)
    assert twice_inside.may_resolve(policy)


def test_unmeasured_periods_count_as_quiet():
    assert verdict([8, 8, None, None]).quiet_periods == 2


def test_a_drifting_subject_never_resolves():
    policy = DriftPolicy(resolve_after=1, trend_horizon=2)
    result = verdict([18, 16, 14, 12], policy)
    assert result.quiet_periods == 4
    assert not result.may_resolve(policy)


def test_each_period_is_judged_against_its_own_standard():
    bounds = [Bounds(10, None), Bounds(10, None), Bounds(5, None)]
    result = judge([8, 8, 6], bounds, DriftPolicy(k=2, n=2))
    assert [found is not None for found in result.breaches] == [True, True, False]
    assert not result.drifting
