"""Fault injection: the ways real CRMs misbehave, on demand and reproducibly.

A :class:`FaultInjector` decides, per request, whether to answer normally or with an
injected fault. It only decides; each server renders the fault in its own CRM's wire
format (a Salesforce 503 body differs from a HubSpot one). Decisions come from a seeded
RNG and request counters, so a failing test replays the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FaultConfig(BaseModel):
    """What to inject. All off by default; change at start or via ``PUT /__sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(0.0, ge=0, le=1, description="Share of requests answered 5xx.")
    error_status: int = Field(503, ge=500, le=599)
    burst_every: int = Field(0, ge=0, description="Start a 429 burst every N requests; 0: off.")
    burst_length: int = Field(0, ge=0, description="Requests answered 429 in each burst.")
    latency_ms: int = Field(0, ge=0, description="Added to every response.")
    latency_jitter_ms: int = Field(0, ge=0)
    drop_rate: float = Field(0.0, ge=0, le=1, description="Share of responses cut mid-body.")
    token_ttl_calls: int | None = Field(
        None, ge=1, description="Access tokens stop working after this many calls."
    )
    daily_budget: int | None = Field(
        None, ge=0, description="Overrides the CRM's daily API allocation."
    )
    seed: int = 0


class FaultKind(StrEnum):
    ERROR = "error"  # a 5xx
    THROTTLE = "throttle"  # a 429 (HubSpot) or its CRM's equivalent
    DROP = "drop"  # the connection dies half-way through the response


@dataclass(frozen=True)
class FaultDecision:
    kind: FaultKind | None
    delay_seconds: float
    status: int = 0


class FaultInjector:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._requests = 0

    def decide(self) -> FaultDecision:
        """The fault (if any) for the next request, and how long to stall it."""
        with self._lock:
            config, self._requests = self._config, self._requests + 1
            delay = config.latency_ms / 1000
            if config.latency_jitter_ms:
                delay += self._rng.uniform(0, config.latency_jitter_ms) / 1000
            if self._in_burst(config):
                return FaultDecision(FaultKind.THROTTLE, delay, 429)
            if config.error_rate and self._rng.random() < config.error_rate:
                return FaultDecision(FaultKind.ERROR, delay, config.error_status)
            if config.drop_rate and self._rng.random() < config.drop_rate:
                return FaultDecision(FaultKind.DROP, delay)
            return FaultDecision(None, delay)

    def _in_burst(self, config: FaultConfig) -> bool:
        if not (config.burst_every and config.burst_length):
            return False
        # The last ``burst_length`` requests of every window of ``burst_every`` are refused.
        position = (self._requests - 1) % config.burst_every
        return position >= config.burst_every - config.burst_length
