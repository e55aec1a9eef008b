"""Threshold suggestions (rules.backtest_tuning): the grid, and the pick within budget."""

from __future__ import annotations

import pytest

from rules.backtest_scoring import Score
from rules.backtest_tuning import Variant, false_alarm_rate, suggest, variants
from tests.unit.rules_support import rule


def _score(flagged: int, flagged_misses: int, misses: int = 4, periods: int = 24) -> Score:
    return Score(
        rule_key="calls", rep_periods=periods, misses=misses, flagged=flagged,
        flagged_misses=flagged_misses, recall=flagged_misses / misses,
        precision=flagged_misses / flagged if flagged else None, median_lead_days=30.0,
        findings_per_manager_week=0.5, tasks_per_manager_week=0.4,
    )  # fmt: skip


def test_the_grid_scales_the_standard_and_keeps_drift_within_the_window():
    calls = rule()  # min 40 a week, window 4, drift 2 of 3
    grid = variants(calls)
    assert {(v.k, v.n) for v in grid} == {(2, 3), (2, 2), (3, 3), (2, 4), (3, 4), (4, 4)}
    assert len(grid) == 7 * 6
    stricter = next(v for v in grid if v.strictness == 1.2 and (v.k, v.n) == (2, 3))
    assert stricter.rule.document.standard.min == pytest.approx(48)
    assert stricter.rule.document.drift.k == 2
    assert stricter.rule.key == "calls"
    assert stricter.label == "standard x1.2, drift 2 of 3"
    short = variants(rule(window=2, drift={"k": 2, "n": 2}))
    assert {(v.k, v.n) for v in short} == {(2, 2)}


def test_a_band_that_would_close_is_left_out():
    band = rule(standard={"basis": "absolute", "min": 10, "max": 12})
    kept = {v.strictness for v in variants(band)}
    assert kept == {0.7, 0.8, 0.9, 1.0}  # at 1.1, 11 > 10.9


def test_the_suggestion_is_the_best_recall_within_the_false_alarm_budget():
    calls = rule()
    grid = {(v.strictness, v.k, v.n): v for v in variants(calls)}

    def scored(key: tuple[float, int, int], flagged: int, hits: int) -> tuple[Variant, Score]:
        return grid[key], _score(flagged, hits)

    candidates = [
        scored((1.0, 2, 3), 3, 1),  # current: recall 25%, 2 false alarms of 20
        scored((1.2, 2, 3), 6, 3),  # recall 75%, 3 false alarms (15%)
        scored((1.3, 2, 2), 12, 4),  # recall 100%, 8 false alarms (40%): over budget
        scored((0.8, 2, 3), 7, 3),  # recall 75%, 4 false alarms (20%): more than 1.2's
    ]
    suggestion = suggest(calls, candidates, budget=0.2)
    assert suggestion.current.variant.strictness == 1.0
    assert suggestion.current.false_alarm_rate == pytest.approx(0.1)
    assert suggestion.best is not None
    assert (suggestion.best.variant.strictness, suggestion.best.variant.n) == (1.2, 3)
    assert suggestion.tried == 4
    assert suggest(calls, candidates, budget=0.05).best is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        suggest(calls, candidates, budget=1.5)


def test_the_false_alarm_rate_is_over_the_periods_that_ended_well():
    assert false_alarm_rate(_score(flagged=6, flagged_misses=3)) == pytest.approx(3 / 20)
    assert false_alarm_rate(_score(flagged=2, flagged_misses=2, misses=4, periods=4)) is None
