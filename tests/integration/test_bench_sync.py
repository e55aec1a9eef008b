"""The sync benchmarks still run end to end on a tiny org, so they cannot rot.

Only that they run, sync everything the sandbox holds and report is checked: a benchmark
prints times, it never asserts them.
"""

from __future__ import annotations

import re

import pytest

from bench import sync_hubspot, sync_salesforce

TINY = ["--backend", "sqlite", "--reps", "4", "--managers", "1", "--months", "3"]


def _summary(printed: str) -> dict[str, list[str]]:
    """The summary table's rows by figure: measured, baseline, ratio."""
    table = printed.split("=== summary", 1)[1]
    rows = {}
    for line in table.splitlines():
        if line.startswith("sqlite "):
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[1]] = cells[2:]
    return rows


def test_the_salesforce_benchmark_syncs_the_sandbox_and_compares_reads_in_turn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [*TINY, "--deal-scale", "0.2", "--latency-ms", "5", "--in-turn"]
    assert sync_salesforce.main(args) == 0
    rows = _summary(capsys.readouterr().out)
    measured, minimum, api_ratio = rows["(a) full sync API calls"]
    assert int(measured) == int(minimum) > 0
    assert api_ratio == "1.00"
    turn, ahead, turn_ratio = rows["first sync s: reads in turn / read ahead"]
    assert min(float(turn), float(ahead), float(turn_ratio)) > 0


def test_the_hubspot_benchmark_syncs_the_sandbox_at_its_limits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sync_hubspot.main([*TINY, "--deal-scale", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "=== summary" in printed
    assert "first sync s: reads in turn" not in printed  # only when asked for
    assert any("API calls" in figure for figure in _summary(printed))
