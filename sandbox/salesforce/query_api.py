"""``query`` and ``queryAll`` with Salesforce's paging: batches, cursors and locators.

A query returns at most one batch (2,000 records by default; ``Sforce-Query-Options:
batchSize=N`` asks for 200 to 2,000) with ``done: false`` and a ``nextRecordsUrl`` of the
form ``/services/data/vXX.X/query/<locator>-<offset>``. Cursors hold the result rows
as they were when the query ran and expire after 15 idle minutes, like real ones.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.http import HttpError, Request, Response
from sandbox.salesforce import soql
from sandbox.salesforce.state import SalesforceState

DEFAULT_BATCH = 2_000
MIN_BATCH = 200
CURSOR_IDLE = timedelta(minutes=15)
MAX_OPEN_CURSORS = 100


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    last_used: datetime
    total_size: int


class QueryApi:
    def __init__(self, state: SalesforceState) -> None:
        self.state = state
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, request: Request, *, include_deleted: bool) -> Response:
        text = request.arg("q")
        if not text:
            raise HttpError(400, "A query string has to be specified", "MALFORMED_QUERY")
        version = request.params["version"][1:]
        try:
            bound = soql.bind(soql.parse(text))
            result = soql.execute(
                bound,
                self.state.records,
                now=self.state.clock.now(),
                include_deleted=include_deleted,
                api_version=version,
            )
        except soql.SoqlError as exc:
            raise HttpError(400, exc.message, exc.error_code) from None
        return self._page(result.records, result.total_size, 0, request, version=version)

    def more(self, request: Request) -> Response:
        locator, _, offset_text = request.params["locator"].rpartition("-")
        now = self.state.clock.now()
        with self._lock:
            self._expire(now)
            cursor = self._cursors.get(locator)
            if cursor is None or not offset_text.isdigit():
                raise HttpError(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
            cursor.last_used = now
        offset = int(offset_text)
        version = request.params["version"][1:]
        return self._page(
            cursor.records, cursor.total_size, offset, request, version=version, locator=locator
        )

    def _page(
        self,
        records: list[dict[str, Any]],
        total_size: int,
        offset: int,
        request: Request,
        *,
        version: str,
        locator: str | None = None,
    ) -> Response:
        page = records[offset : offset + _batch_size(request)]
        # Keys in the order Salesforce sends them: totalSize, done, nextRecordsUrl, records.
        body: dict[str, Any] = {"totalSize": total_size, "done": True}
        end = offset + len(page)
        if end < len(records):
            locator = locator or self._open(records, total_size)
            resource = "queryAll" if "queryAll" in request.path else "query"
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{locator}-{end}"
        elif locator is not None:
            with self._lock:
                self._cursors.pop(locator, None)
        body["records"] = page
        return Response.json(200, body)

    def _open(self, records: list[dict[str, Any]], total_size: int) -> str:
        locator = "01g8W" + secrets.token_hex(7).upper()[:13]
        with self._lock:
            self._cursors[locator] = _Cursor(records, self.state.clock.now(), total_size)
            while len(self._cursors) > MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)
        return locator

    def _expire(self, now: datetime) -> None:
        for locator in [k for k, c in self._cursors.items() if now - c.last_used > CURSOR_IDLE]:
            del self._cursors[locator]


def _batch_size(request: Request) -> int:
    """``Sforce-Query-Options: batchSize=N``: a request, clamped to 200..2,000."""
    header = request.header("sforce-query-options") or ""
    for option in header.split(","):
        name, _, value = option.strip().partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(DEFAULT_BATCH, int(value)))
    return DEFAULT_BATCH
