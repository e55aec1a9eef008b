"""The evaluation benchmark still runs end to end on a tiny org, so it cannot rot.

Only that it runs and reports is checked: a benchmark prints times, it never asserts them.
"""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from bench.evaluate import main
from bench.org_records import BenchOrg, OrgShape

BLOCK = 10_000  # an uneven step boundary below: 3,333 and then 13,333 activities

TINY = ["--reps", "12", "--managers", "3", "--deal-scale", "0.5", "--runs", "1"]


def test_the_benchmark_prints_a_summary_of_every_step_on_a_tiny_org(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exit_code = main(["--quick", "--backend", "sqlite", *TINY, "--activities", "2000,4000"])

    printed = capsys.readouterr().out
    assert exit_code == 0
    summary = printed.split("=== summary", 1)[1]
    steps = [line for line in summary.splitlines() if line.startswith("sqlite ")]
    assert [line.split()[1] for line in steps] == ["2,000", "4,000"]
    opened = [int(n.replace(",", "")) for n in re.findall(r"would open ([\d,]+) findings", printed)]
    assert len(opened) == 2
    assert all(n > 0 for n in opened)  # the generated org drifts: the pack finds something
    assert "same-aggregates statement" in printed
    assert "floor statement" in printed
    kept = [
        int(n.replace(",", ""))
        for n in re.findall(
            r"findings already open, kept\): best [\d.]+s of \[[^]]*\]; would open ([\d,]+)",
            printed,
        )
    ]
    assert kept == [0, 0]  # the steady state opens nothing: its findings are already open
    assert "rules core, evidence, ORM (the rest, not overlapped by reads)" in printed
    paired = re.findall(r"[;,] ([\d.]+) \(median of the rounds' own ratios\)", printed)
    assert len(paired) == 4  # first evaluation and steady state, per step
    assert all(float(value) > 0 for value in paired)
    assert len(re.findall(r"with the reads in turn \(no read-ahead\): best [\d.]+s", printed)) == 2


def test_activities_grown_in_steps_are_the_ones_generated_at_once() -> None:
    def stream(*bounds: int) -> list[tuple[str, str | None, str]]:
        org = BenchOrg(OrgShape(reps=8, managers=2, months=6, deal_scale=0.6))
        for _ in org.deals():
            pass
        return [
            (a.crm_id, a.rep_crm_id, a.occurred_at.isoformat())
            for start, stop in pairwise(bounds)
            for a in org.activities(start, stop)
        ]

    uneven = BLOCK // 3
    assert stream(0, uneven, BLOCK + uneven) == stream(0, BLOCK + uneven)
