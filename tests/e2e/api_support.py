"""The API as a client sees it, on a migrated store: an app, a client, keys by scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.keys import create_key
from service.store import Store

CALLS_RULE: dict[str, Any] = {
    "key": "calls-per-week",
    "name": "Calls per week",
    "level": "activity",
    "drives": "Pipeline created",
    "metric": {"metric": "activity_count", "kinds": ["call"]},
    "period": {"unit": "week"},
    "window": 4,
    "standard": {"basis": "absolute", "min": 20},
    "drift": {"k": 2, "n": 3, "resolve_after": 2},
    "coaching": {"what_good_looks_like": "A call block every morning.", "cadence_days": 14},
}


class Api:
    """A client and a key per scope set."""

    def __init__(self, store: Store, client: TestClient) -> None:
        self.store, self.client = store, client

    def key(self, *scopes: str, name: str = "ops") -> str:
        with self.store.unit_of_work() as session:
            return create_key(session, name, scopes, actor="test").token

    def auth(self, *scopes: str, name: str = "ops") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(*scopes, name=name)}"}


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    with TestClient(create_app(store)) as client:
        yield Api(store, client)
