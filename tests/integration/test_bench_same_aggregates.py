"""The evaluation benchmark's baseline computes the same aggregates as the metric source.

``bench._evaluate_same`` is hand-written SQL, independent of the metric queries; the
benchmark divides the evaluation's time by its time, which only means something if it
computes what the evaluation computes. Here both run on a small synthetic org, as of its
end, and every aggregate the baseline returns is compared with the metric source's value
for the same subject and period. (Roster rules aside: the source leaves out deleted and
inactive reps in places where the baseline does not, so subjects are compared where both
have them, and the counts of compared values must be substantial.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from bench._evaluate_load import load_org, load_records, settle
from bench._evaluate_same import SameNeeds, same_needs, same_statements
from bench.org_records import BenchOrg, OrgShape
from connectors.records import Entity
from rules.documents import RuleDocument
from rules.metrics import (
    ActivityCount,
    CloseDatePushes,
    DaysInStage,
    DaysSinceActivity,
    MeetingsHeld,
    MetricSeries,
    PipelineCoverage,
    PipelineCreated,
    QualificationCompleteness,
    QuotaPace,
    SubjectKey,
    WinRate,
)
from rules.periods import Period
from service.evaluation.packs import default_pack_dir, load_pack
from service.store import Store
from service.store.sql_metric_source import SqlMetricSource

SHAPE = OrgShape(reps=10, managers=2, months=12, deal_scale=0.8)
TOLERANCE = 1e-6


def _results(
    engine: Engine, statements: dict[str, tuple[str, list[Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Each statement's rows as dicts, all on one connection, in order (the scan's own
    temporary table lives on it)."""
    results: dict[str, list[dict[str, Any]]] = {}
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for name, (sql, parameters) in statements.items():
            cursor.execute(sql, parameters)
            if cursor.description is not None:
                names = [column[0] for column in cursor.description]
                results[name] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        connection.rollback()
    finally:
        connection.close()
    return results


@pytest.fixture
def org_store(store: Store) -> tuple[Store, int]:
    org = BenchOrg(SHAPE)
    connection_id, _ = load_org(store, org, 5000)
    load_records(
        store, connection_id, Entity.ACTIVITY, org.activities(0, 6000), batch_size=5000,
        now=SHAPE.end,
    )  # fmt: skip
    settle(store)
    return store, connection_id


def _documents() -> list[RuleDocument]:
    return [packed.document for packed in load_pack(default_pack_dir())]


def _metric(documents: Sequence[RuleDocument], kind: type[Any]) -> Any:
    return next(d.metric for d in documents if isinstance(d.metric, kind))


def _source_values(
    store: Store, connection_id: int, metric: Any, periods: Sequence[Period]
) -> MetricSeries:
    with store.unit_of_work() as session:
        return SqlMetricSource(session, connection_id).measure(metric, periods)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= TOLERANCE * max(1.0, abs(float(a)))


def _instant(value: datetime | str | None) -> datetime | None:
    """A time as the DBAPI returns it (SQLite: the stored text, UTC)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _point_periods(ends: Sequence[datetime]) -> list[Period]:
    return [Period(end, end) for end in ends]


def test_the_same_aggregates_baseline_agrees_with_the_metric_source(
    org_store: tuple[Store, int],
) -> None:
    store, connection_id = org_store
    documents = _documents()
    needs = same_needs(documents, SHAPE.end)
    statements = same_statements(needs, store.engine.dialect.name, connection_id)
    got = _results(store.engine, statements)
    compared = {
        "activity": _check_activity(store, connection_id, documents, needs, got),
        "pipeline": _check_pipeline(store, connection_id, documents, needs, got),
        "snapshots": _check_snapshots(store, connection_id, documents, needs, got),
        "deals": _check_deals(store, connection_id, documents, needs, got),
    }
    assert all(count >= 20 for count in compared.values()), compared


def _check_activity(
    store: Store, connection_id: int, documents: Sequence[RuleDocument], needs: SameNeeds,
    got: dict[str, list[dict[str, Any]]],
) -> int:  # fmt: skip
    periods = needs.activity_periods
    calls = _source_values(store, connection_id, _metric(documents, ActivityCount), periods)
    held = _source_values(store, connection_id, _metric(documents, MeetingsHeld), periods)
    compared = 0
    for row in got["activity counts"]:
        series, column = (calls, "n") if row["kind"] == "call" else (held, "held")
        observed = series.get(SubjectKey(row["rep_crm_id"]))
        if observed is None:
            continue
        value = observed[row["idx"]]
        assert value is not None
        assert value.value == row[column], (row, value)
        compared += 1
    return compared


def _check_pipeline(
    store: Store, connection_id: int, documents: Sequence[RuleDocument], needs: SameNeeds,
    got: dict[str, list[dict[str, Any]]],
) -> int:  # fmt: skip
    metric = _metric(documents, PipelineCreated)
    series = _source_values(store, connection_id, metric, needs.created_periods)
    compared = 0
    for row in got["pipeline created"]:
        observed = series.get(SubjectKey(row["owner_crm_id"]))
        if observed is None:
            continue
        value = observed[row["idx"]]
        assert value is not None
        assert value.sample == row["deals"], (row, value)
        assert _close(value.parts.get("amount"), row["amount"] or 0), (row, value)
        compared += 1
    return compared


def _check_snapshots(
    store: Store, connection_id: int, documents: Sequence[RuleDocument], needs: SameNeeds,
    got: dict[str, list[dict[str, Any]]],
) -> int:  # fmt: skip
    periods = _point_periods(needs.rep_ends)
    win = WinRate(trailing_days=needs.win_rate_days, min_sample=1)
    by_metric = {
        "win": _source_values(store, connection_id, win, periods),
        "coverage": _source_values(store, connection_id, PipelineCoverage(), periods),
        "pace": _source_values(store, connection_id, QuotaPace(), periods),
        "qualification": _source_values(
            store, connection_id, _metric(documents, QualificationCompleteness), periods
        ),
    }
    compared = 0
    for row in got["rep snapshots"]:
        key, idx = SubjectKey(row["owner_crm_id"]), row["idx"]
        won = (by_metric["win"].get(key) or [None] * len(periods))[idx]
        if won is not None:
            assert won.parts["won"] == row["won"], (row, won)
            assert won.parts["lost"] == row["lost"], (row, won)
            compared += 1
        coverage = (by_metric["coverage"].get(key) or [None] * len(periods))[idx]
        if coverage is not None and row["quota"] is not None:
            assert _close(coverage.parts["open_amount"], row["open_amount"] or 0), (row, coverage)
            assert _close(coverage.parts["won_amount"], row["won_amount"] or 0), (row, coverage)
            compared += 1
        pace = (by_metric["pace"].get(key) or [None] * len(periods))[idx]
        if pace is not None and row["quota"] is not None:
            assert _close(pace.parts["weighted_open"], row["weighted_open"] or 0), (row, pace)
        qualification = (by_metric["qualification"].get(key) or [None] * len(periods))[idx]
        if qualification is not None:
            assert qualification.sample == row["in_stages"], (row, qualification)
            assert qualification.parts["complete"] == row["qualified"], (row, qualification)
            compared += 1
    return compared


def _check_deals(
    store: Store, connection_id: int, documents: Sequence[RuleDocument], needs: SameNeeds,
    got: dict[str, list[dict[str, Any]]],
) -> int:  # fmt: skip
    periods = _point_periods(needs.deal_ends)
    since = _source_values(store, connection_id, DaysSinceActivity(), periods)
    pushes = _source_values(store, connection_id, CloseDatePushes(), periods)
    in_stage = _source_values(store, connection_id, _metric(documents, DaysInStage), periods)
    medians = {
        (k, row["stage"]): row[f"median_{k}"]
        for row in got["stage medians"]
        for k in range(len(periods))
    }
    compared = 0
    for row in got["open deals"]:
        key, idx = SubjectKey(row["owner_crm_id"], row["deal"]), row["idx"]
        stage_value = (in_stage.get(key) or [None] * len(periods))[idx]
        assert stage_value is not None, row  # open at that instant for both
        assert _close(stage_value.value, row["in_stage"]), (row, stage_value)
        median = stage_value.parts.get("stage_median_days")
        assert _close(median, medians.get((idx, row["stage"]))), (row, stage_value)
        push_value = (pushes.get(key) or [None] * len(periods))[idx]
        assert push_value is not None, row
        assert push_value.value == row["pushes"], (row, push_value)
        silence = (since.get(key) or [None] * len(periods))[idx]
        assert silence is not None, row
        last = _instant(row["last_activity"]) or _instant(row["created_at"])
        assert last is not None
        days = (needs.deal_ends[idx] - last).total_seconds() / 86400
        assert _close(silence.value, days), (row, silence)
        compared += 1
    assert compared == sum(len([v for v in s if v is not None]) for s in in_stage.values())
    return compared
