"""The coaching report's arithmetic: completion, median days, recovery within the rule's
window, and only manager-completed tasks counting towards recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.store.coaching_report import TaskOutcome, coaching_lines, recovery_windows

T0 = datetime(2026, 10, 5, 9, tzinfo=UTC)


def _task(
    manager: str = "m1",
    rule: str = "calls",
    completion: str | None = None,
    done_after: int | None = None,
    resolved_after: int | None = None,
) -> TaskOutcome:
    completed = None if done_after is None else T0 + timedelta(days=done_after)
    resolved = None if resolved_after is None else T0 + timedelta(days=resolved_after)
    return TaskOutcome(manager, rule, T0, completion, completed, resolved)


def test_the_window_is_resolve_after_plus_the_period_under_way():
    windows = recovery_windows(
        [("calls", {"period": {"unit": "week"}, "drift": {"resolve_after": 2}})]
    )
    assert windows == {"calls": timedelta(weeks=3)}


def test_a_line_counts_completions_median_days_and_recoveries():
    window = {"calls": timedelta(weeks=3)}
    tasks = [
        _task(completion="manager", done_after=2, resolved_after=10),  # recovered
        _task(completion="manager", done_after=4, resolved_after=40),  # too late
        _task(completion="manager", done_after=6),  # never resolved
        _task(completion="driftcoach", done_after=1, resolved_after=1),  # not coaching
        _task(),  # still open
        _task(manager="m2", completion="deleted", done_after=3),
    ]
    first, second = coaching_lines(tasks, window)
    assert (first.manager, first.created, first.completed) == ("m1", 5, 3)
    assert first.median_days_to_complete == 4.0
    assert (first.recovered, first.recovered_share) == (1, 1 / 3)
    assert (second.manager, second.completed, second.recovered_share) == ("m2", 0, None)
