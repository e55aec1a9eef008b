"""The fake connector behaves like an incremental CRM feed, so pipeline tests can trust it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Connector, SyncStopped
from connectors.fake import DEFAULT_STREAMS, FakeConnector, FakeTransportError, SimulatedCrash
from connectors.records import Checkpoint, Deletion, Entity, Rep, TaskIntent

T0 = datetime(2026, 1, 5, tzinfo=UTC)
REPS = DEFAULT_STREAMS[0]


def _reps(n: int, name: str = "Rep") -> list[Rep]:
    return [Rep(f"u{i}", f"{name} {i}", modified_at=T0 + timedelta(minutes=i)) for i in range(n)]


def _read(fake: FakeConnector, cursor: dict[str, Any] | None = None) -> list[Any]:
    return list(fake.read(REPS, cursor))


def _ids(items: list[Any]) -> list[str]:
    return [item.crm_id for item in items if not isinstance(item, Checkpoint)]


def test_it_satisfies_the_connector_protocol():
    connector: Connector = FakeConnector()
    assert [stream.name for stream in connector.streams()] == [s.name for s in DEFAULT_STREAMS]


def test_a_checkpoint_follows_every_page_and_the_last_partial_page():
    fake = FakeConnector(page_size=3)
    fake.put(*_reps(7))
    items = _read(fake)
    kinds = ["C" if isinstance(item, Checkpoint) else "r" for item in items]
    assert "".join(kinds) == "rrrCrrrCrC"
    assert items[-1] == Checkpoint({"seq": 7})
    assert fake.usage().calls == 3


def test_a_cursor_resumes_after_what_it_covers_and_sees_later_edits():
    fake = FakeConnector(page_size=3)
    fake.put(*_reps(5))
    cursor = dict(next(item for item in _read(fake) if isinstance(item, Checkpoint)).cursor)
    assert _ids(_read(fake, cursor)) == ["u3", "u4"]
    fake.put(Rep("u0", "Renamed", modified_at=T0 + timedelta(hours=1)))
    fake.put(Deletion(Entity.REP, "u1", T0 + timedelta(hours=2)))
    assert _ids(_read(fake, cursor)) == ["u3", "u4", "u0", "u1"]
    assert fake.latest("reps")["u1"] == Deletion(Entity.REP, "u1", T0 + timedelta(hours=2))


def test_lookback_and_replayed_versions_repeat_records():
    fake = FakeConnector(page_size=10, lookback=2)
    fake.put(*_reps(4))
    assert _ids(_read(fake, {"seq": 4})) == ["u2", "u3"]
    fake.put(*_reps(2, "Renamed"))
    assert _ids(_read(fake)) == ["u2", "u3", "u0", "u1"]  # newest version only
    fake.replay_versions = True
    assert _ids(_read(fake)) == ["u0", "u1", "u2", "u3", "u0", "u1"]


def test_generated_streams_are_made_lazily():
    fake = FakeConnector(page_size=2)
    made: list[int] = []

    def make(i: int) -> Rep:
        made.append(i)
        return Rep(f"u{i}", "Generated")

    fake.generate("reps", 1_000_000, make)
    items = fake.read(REPS, {"seq": 10})
    assert [next(items), next(items), next(items)][-1] == Checkpoint({"seq": 12})
    assert made == [10, 11]


@pytest.mark.parametrize(
    ("past_checkpoint", "expected"),
    [(False, "rrCrr"), (True, "rrCrrC")],
)
def test_a_fault_fires_once_before_or_after_the_checkpoint(past_checkpoint: bool, expected: str):
    fake = FakeConnector(page_size=2)
    fake.put(*_reps(6))
    fake.fail_after(4, SimulatedCrash(), past_checkpoint=past_checkpoint)
    seen: list[str] = []

    def consume() -> None:
        for item in fake.read(REPS, None):
            seen.append("C" if isinstance(item, Checkpoint) else "r")

    with pytest.raises(SimulatedCrash) as raised:
        consume()
    assert "".join(seen) == expected
    assert isinstance(raised.value.__cause__, FakeTransportError)
    assert fake.secret in str(raised.value.__cause__)
    assert len(_ids(_read(fake))) == 6  # one shot: the next read is clean


def test_a_fault_can_target_one_stream_and_stop_the_run():
    fake = FakeConnector()
    fake.put(*_reps(3))
    fake.fail_after(0, SyncStopped("budget"), stream="activities")
    assert len(_ids(_read(fake))) == 3
    with pytest.raises(SyncStopped, match="budget"):
        list(fake.read(DEFAULT_STREAMS[3], None))


def test_calls_are_counted_and_tasks_are_never_duplicated():
    fake = FakeConnector()
    intent = TaskIntent("k1", "u1", "Coach", "body", T0.date())
    first = fake.write_tasks([intent])[0]
    again = fake.write_tasks([intent])[0]
    assert first.ok
    assert not first.already_existed
    assert (again.crm_id, again.already_existed) == (first.crm_id, True)
    fake.close()
    assert fake.closed
    assert fake.calls["write_tasks"] == 2
    assert fake.usage().by_endpoint == {"tasks": 2}
