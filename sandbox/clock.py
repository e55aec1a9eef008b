"""The sandbox's clock: real time plus an offset that tests and the admin API can move.

Record timestamps (SystemModstamp, hs_lastmodifieddate), token expiry and rate-limit
windows all read this clock, so advancing it lets a test cross a day boundary or an
expiry without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Thread-safe: request handlers run on many threads."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._offset += delta
        return self.now()

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = timedelta(0)

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware); time keeps running from there."""
        if moment.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        with self._lock:
            self._offset = moment - datetime.now(UTC)
