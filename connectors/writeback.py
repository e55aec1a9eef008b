"""What every CRM's task write-back shares: the marker in the body and the batch ledger.

Both CRMs lack an idempotency key for creates, so each task carries its intent's marker
at the end of its body (cut the body, never the marker), and a write keeps a ledger of
results so far, where a create sent with an unknown outcome is remembered until a search
for its marker settles it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from connectors.records import TaskIntent, TaskResult, task_marker

T = TypeVar("T")

#: Prefix of a result whose create may or may not have happened: retry with verification.
UNKNOWN_OUTCOME = "outcome unknown"


def marked_body(intent: TaskIntent, limit: int) -> str:
    """The body, then the marker, within ``limit`` characters; the body is cut if needed."""
    return marked_body_text(intent.body, intent.key, limit)


def marked_body_text(body: str, key: str, limit: int) -> str:
    """``body``, then ``key``'s marker, within ``limit``; the body is cut if needed."""
    suffix = "\n\n" + task_marker(key)
    room = limit - len(suffix)
    text = body if len(body) <= room else body[: room - 1] + "…"
    return text + suffix


class WriteBatch:
    """What one write has learnt so far, kept when a later step fails.

    A task whose create was sent with an unknown outcome and never found afterwards is
    reported "outcome unknown": whoever retries it must pass ``verify_existing=True``.
    """

    def __init__(self, intents: list[TaskIntent]) -> None:
        self.intents = intents
        self.results: dict[str, TaskResult] = {}
        self.uncertain: set[str] = set()

    def pending(self, intents: Sequence[TaskIntent]) -> list[TaskIntent]:
        return [intent for intent in intents if intent.key not in self.results]

    def fail_pending(
        self, intents: Sequence[TaskIntent], reason: str, *, stopped: bool = False
    ) -> None:
        """Every intent without a result fails retryably; ``stopped``: the run stopped
        before sending them (those whose create went out with an unknown outcome excepted)."""
        for intent in self.pending(intents):
            unknown = intent.key in self.uncertain
            error = f"{UNKNOWN_OUTCOME}: {reason}" if unknown else reason
            self.results[intent.key] = TaskResult(
                intent.key, error=error, retryable=True, not_sent=stopped and not unknown
            )


def noted_body(note: str, current: str, key: str, limit: int) -> str:
    """The note, then the task's body as it stands in the CRM (the manager's own edits
    kept), within ``limit``; the marker stays, so the task can still be found by it."""
    marker = task_marker(key)
    text = f"{note}\n\n{current}" if current else note
    if marker not in current:
        text += "\n\n" + marker
    if len(text) <= limit:
        return text
    tail = "…\n\n" + marker
    return text[: limit - len(tail)] + tail


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``: the CRMs' batch limits."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
