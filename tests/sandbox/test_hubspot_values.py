"""The fake HubSpot's timestamp rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sandbox.hubspot.values import iso, to_ms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.integers(-(10**12), 5 * 10**12))
def test_iso_writes_epoch_millis_as_hubspot_does(ms: int):
    moment = EPOCH + timedelta(milliseconds=ms)
    assert iso(ms) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def test_iso_at_day_boundaries():
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(-1) == "1969-12-31T23:59:59.999Z"
    assert iso(86_399_999) == "1970-01-01T23:59:59.999Z"
    assert iso(951_782_400_000) == "2000-02-29T00:00:00.000Z"


@given(st.integers(-(10**12), 5 * 10**12), st.integers(0, 999))
def test_epoch_millis_are_exact_not_floored_through_a_float(ms: int, micros: int):
    """``int(timestamp() * 1000)`` read some instants back a millisecond early."""
    moment = EPOCH + timedelta(milliseconds=ms, microseconds=micros)
    assert to_ms(moment) == ms


def test_a_millisecond_that_floats_cannot_hold_reads_back_exactly():
    assert to_ms(EPOCH + timedelta(milliseconds=66_250_889)) == 66_250_889
