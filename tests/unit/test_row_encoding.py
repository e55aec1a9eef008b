"""Generated row encoders produce exactly the rows :func:`to_row` defines, in any order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.records import (
    Activity,
    ActivityKind,
    Opportunity,
    OpportunityChange,
    Quota,
    Rep,
    StageCategory,
)
from service.store.row_encoding import CanonicalRecord, layout_of, make_encoder, to_row
from service.store.upserts import TABLES

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
EARLIER = datetime(2026, 11, 1, 8, tzinfo=UTC)

RECORDS: list[CanonicalRecord] = [
    Rep(crm_id="r", name="Ada", manager_crm_id="m", started_on=date(2025, 2, 3)),
    Opportunity(
        crm_id="o",
        name="Deal",
        stage="Won",
        stage_category=StageCategory.WON,
        amount=Decimal("10.50"),
        qualification={"budget": "yes"},
        modified_at=EARLIER,
    ),
    OpportunityChange(crm_id="c", opportunity_crm_id="o", changed_at=EARLIER, stage="Won"),
    Activity(crm_id="a", kind=ActivityKind.CALL, occurred_at=EARLIER, duration_seconds=60),
    Activity(crm_id="d", kind=ActivityKind.NOTE, occurred_at=EARLIER, deleted=True),
    Activity(
        crm_id="e", kind=ActivityKind.TASK, occurred_at=EARLIER, modified_at=EARLIER, deleted=True
    ),
    Quota(
        crm_id="q",
        rep_crm_id="r",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 12, 31),
        amount=Decimal(100_000),
    ),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: f"{type(record).__name__}")
def test_an_encoder_yields_the_row_to_row_defines_in_the_order_asked(record: CanonicalRecord):
    layout = layout_of(type(record), TABLES[record.entity])
    expected = to_row(record, layout, 7, NOW)
    assert set(expected) == set(layout.columns)
    order = list(reversed(layout.columns))
    (row,) = make_encoder(layout, order)([record], 7, NOW)
    assert dict(zip(order, row, strict=True)) == expected


def test_converters_apply_to_their_columns_only_and_the_stamp_once_per_batch():
    record = RECORDS[5]
    layout = layout_of(type(record), TABLES[record.entity])
    calls: list[object] = []

    def mark(value: object) -> object:
        calls.append(value)
        return ("converted", value)

    converters = {"occurred_at": mark, "deleted_at": mark, "synced_at": mark}
    encode = make_encoder(layout, layout.columns, converters)
    rows = encode([record, record], 7, NOW)
    encoded = dict(zip(layout.columns, rows[1], strict=True))
    assert encoded["occurred_at"] == ("converted", EARLIER)
    assert encoded["deleted_at"] == ("converted", EARLIER)  # its own time: it has one
    assert encoded["synced_at"] == ("converted", NOW)
    assert encoded["kind"] == ActivityKind.TASK
    assert calls.count(NOW) == 1  # the stamp: once, whatever the batch's size


def test_an_encoder_refuses_columns_that_are_not_the_layouts():
    record = RECORDS[3]
    layout = layout_of(type(record), TABLES[record.entity])
    with pytest.raises(ValueError, match="not the layout"):
        make_encoder(layout, [*layout.columns, "surprise"])
    with pytest.raises(ValueError, match="not the layout"):
        make_encoder(layout, layout.columns[1:])
