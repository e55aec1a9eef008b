"""Fault decisions are reproducible and match their configuration."""

from __future__ import annotations

from sandbox.faults import FaultConfig, FaultInjector, FaultKind
from sandbox.meter import Meter


def _kinds(injector: FaultInjector, n: int) -> list[FaultKind | None]:
    return [injector.decide().kind for _ in range(n)]


def test_no_faults_by_default():
    assert set(_kinds(FaultInjector(), 500)) == {None}


def test_bursts_refuse_the_last_requests_of_each_window():
    injector = FaultInjector(FaultConfig(burst_every=10, burst_length=3))
    kinds = _kinds(injector, 30)
    throttled = [i + 1 for i, kind in enumerate(kinds) if kind is FaultKind.THROTTLE]
    assert throttled == [8, 9, 10, 18, 19, 20, 28, 29, 30]


def test_error_share_is_close_to_the_configured_rate_and_reproducible():
    config = FaultConfig(error_rate=0.2, error_status=502, seed=3)
    first = _kinds(FaultInjector(config), 5_000)
    second = _kinds(FaultInjector(config), 5_000)
    assert first == second
    share = first.count(FaultKind.ERROR) / len(first)
    assert 0.17 < share < 0.23


def test_latency_is_reported_with_jitter_in_range():
    injector = FaultInjector(FaultConfig(latency_ms=100, latency_jitter_ms=50))
    delays = [injector.decide().delay_seconds for _ in range(200)]
    assert all(0.1 <= delay <= 0.15 for delay in delays)


def test_reconfiguring_restarts_the_sequence():
    injector = FaultInjector(FaultConfig(drop_rate=0.5, seed=9))
    first = _kinds(injector, 50)
    injector.configure(FaultConfig(drop_rate=0.5, seed=9))
    assert _kinds(injector, 50) == first


def test_meter_counts_per_endpoint_and_status():
    meter = Meter()
    meter.record("GET query", 200)
    meter.record("GET query", 200)
    meter.record("POST composite", 400)
    assert meter.calls() == 3
    assert meter.calls("GET query") == 2
    assert meter.snapshot()["by_status"] == {"200": 2, "400": 1}
    meter.reset()
    assert meter.calls() == 0
