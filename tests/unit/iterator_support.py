"""A source for the read-ahead tests: numbers, optionally crashing part-way."""

from __future__ import annotations

from collections.abc import Iterator


class Crash(BaseException):
    """Not an Exception: read-ahead must hand over even what a sync never catches."""


def numbers(n: int, *, fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise Crash(f"at {i}")
        yield i
