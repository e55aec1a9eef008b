"""The backtest benchmark still runs end to end on a tiny org, so it cannot rot.

Only that it runs and reports is checked: a benchmark prints figures, it never asserts them.
"""

from __future__ import annotations

import re

import pytest

from bench.backtest import main


def test_the_benchmark_prints_scores_and_times_for_each_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--sizes", "8x9", "--seeds", "7,11", "--weeks", "6", "--runs", "1"]
    exit_code = main([*args, "--deal-scale", "0.5"])

    printed = capsys.readouterr().out
    assert exit_code == 0
    headers = re.findall(r"=== sqlite, 8 reps x 9 months, seed (\d+): (\d+) weekly", printed)
    assert headers == [("7", "6"), ("11", "6")]
    assert printed.count("\npack ") == 2
    assert len(re.findall(r"replay / live \d+\.\d\dx", printed)) == 2
