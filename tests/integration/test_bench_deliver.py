"""The delivery benchmark still runs end to end, so it cannot rot: every task reaches
each sandbox CRM once, in the fewest calls the batch limits allow."""

from __future__ import annotations

import pytest

from bench import deliver


def test_the_delivery_benchmark_writes_every_task_once_in_the_fewest_calls(
    capsys: pytest.CaptureFixture[str],
):
    assert deliver.main(["--tasks", "450"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    found = {row[0]: row for row in rows if row and row[0] in ("salesforce", "hubspot")}
    # crm, tasks, calls, minimum, ratio, seconds, tasks/s, duplicates, missing
    assert found["salesforce"][1:5] == ["450", "3", "3", "1.00"]
    assert found["hubspot"][1:5] == ["450", "5", "5", "1.00"]
    assert [row[7:] for row in found.values()] == [["0", "0"], ["0", "0"]]
