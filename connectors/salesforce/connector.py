"""The Salesforce connector: streams of canonical records with checkpoints, and tasks back.

One instance per sync run: its API budget (``budget_share`` of the daily allocation) and
its caches (OpportunityStage metadata, the org's object list) last as long as it does.
Every read goes page by page (2,000 rows at most in memory) and yields a checkpoint after
each page, so a run stopped by the budget, a refusal or a crash resumes where its last
committed page ended.

Hard deletes: a stream whose object can be deleted asks Get Deleted for the window since
the last run (``deleted_until``, minus the lookback) and yields a Deletion per id before
it reads the changed rows. Salesforce keeps the delete log for a limited time (30 days at
most, ``deleted_window_days``): after a longer pause the window is clamped and deletions
older than that are missed (logged as a warning); only a full re-sync can tell then.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.base import ApiUsage, Stream
from connectors.records import (
    MAPPING_ERRORS,
    Checkpoint,
    CrmAlert,
    CrmAlertResult,
    Deletion,
    Entity,
    Item,
    Record,
    TaskChange,
    TaskChangeResult,
    TaskIntent,
    TaskResult,
    rejection,
)
from connectors.salesforce import mapping
from connectors.salesforce.alerts import AlertSender
from connectors.salesforce.client import Row, SalesforceClient, error_code
from connectors.salesforce.config import SalesforceConfig
from connectors.salesforce.errors import QueryCursorLostError
from connectors.salesforce.streams import (
    IDS_PER_QUERY,
    SPECS,
    SPECS_BY_NAME,
    StreamCursor,
    StreamSpec,
    build_soql,
    build_soql_by_ids,
)
from connectors.salesforce.task_changes import TaskChanger
from connectors.salesforce.writeback import TaskWriter

log = logging.getLogger(__name__)

Mapper = Callable[[Row], Record | None]
Output = Item | Checkpoint
#: Lost query cursors survived per read before giving up.
MAX_RESTARTS = 3
#: Stay this far inside Get Deleted's window: the server's clock decides where it starts.
DELETED_WINDOW_MARGIN = timedelta(hours=1)
#: Get Deleted ignores seconds: its windows are whole minutes (start must precede end).
GET_DELETED_GRAIN = timedelta(minutes=1)
STAGES_SOQL = (
    "SELECT ApiName, MasterLabel, IsClosed, IsWon, DefaultProbability FROM OpportunityStage"
)


class SalesforceConnector:
    """Implements :class:`connectors.base.Connector` for one Salesforce org."""

    crm = "salesforce"

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self.client = SalesforceClient(config, clock=self._clock, sleep=sleep, jitter=jitter)
        self._changer = TaskChanger(self.client)
        self._alerts = AlertSender(self.client)
        self._writer = TaskWriter(self.client)
        self._stages: dict[str, mapping.StageInfo] | None = None
        self._objects: frozenset[str] | None = None
        self._qualification = dict(config.qualification_fields)
        self._qualification_checked = False

    def streams(self) -> Sequence[Stream]:
        return [spec.stream for spec in SPECS]

    def read(self, stream: Stream, cursor: Mapping[str, Any] | None) -> Iterator[Output]:
        return self._read(_spec(stream), StreamCursor.load(cursor))

    def reread(self, stream: Stream, crm_ids: Sequence[str]) -> Iterator[Item]:
        spec = _spec(stream)
        if spec.optional and spec.sobject not in self._org_objects():
            return
        mapper = self._mapper(spec)
        extra = self._qualification.values() if spec.sobject == "Opportunity" else ()
        for start in range(0, len(crm_ids), IDS_PER_QUERY):
            soql = build_soql_by_ids(spec, crm_ids[start : start + IDS_PER_QUERY], extra)
            for rows in self.client.query_pages(soql, include_deleted=spec.query_all):
                yield from _mapped(rows, mapper, spec.stream.entity)

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        return self._writer.write(intents, verify_existing=verify_existing)

    def change_tasks(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]:
        return self._changer.change(changes)

    def send_alerts(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]:
        return self._alerts.send(alerts)

    def usage(self) -> ApiUsage:
        return self.client.usage.snapshot()

    def close(self) -> None:
        self.client.close()

    # ---------------------------------------------------------------- reading

    def _read(self, spec: StreamSpec, state: StreamCursor) -> Iterator[Output]:
        now = self._clock()
        if spec.optional and spec.sobject not in self._org_objects():
            log.info("%s does not exist in this org: %s is empty", spec.sobject, spec.stream.name)
            yield Checkpoint(state.dump())
            return
        if spec.get_deleted and state.deleted_until is not None:
            state = yield from self._deletions(spec, state, state.deleted_until, now)
        elif spec.get_deleted:
            # First sync: rows deleted before now arrive through queryAll or never existed.
            state = replace(state, deleted_until=now)
        lower = state.lower_bound(timedelta(seconds=self.config.lookback_seconds))
        if lower is None and spec.bounded:
            lower = now - timedelta(days=self.config.history_days)
        yield from self._pages(spec, state, lower)

    def _pages(
        self, spec: StreamSpec, state: StreamCursor, lower: datetime | None
    ) -> Iterator[Output]:
        """Rows page by page, a checkpoint after each; a lost cursor restarts the query
        from the last page's SystemModstamp (``>=``: rows sharing it are read again)."""
        mapper, restarts = self._mapper(spec), 0
        while True:
            try:
                for rows in self.client.query_pages(
                    self._soql(spec, lower), include_deleted=spec.query_all
                ):
                    yield from _mapped(rows, mapper, spec.stream.entity)
                    if rows:
                        last = mapping.parse_datetime(rows[-1]["SystemModstamp"])
                        state = replace(state, system_modstamp=last)
                        lower = last
                    yield Checkpoint(state.dump())
                return
            except QueryCursorLostError:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise
                log.warning("query cursor lost while reading %s: restarting", spec.stream.name)
            except SalesforceMalformedRequest as exc:
                if not self._drop_missing_fields(spec, exc):
                    raise

    def _soql(self, spec: StreamSpec, lower: datetime | None) -> str:
        extra = self._qualification.values() if spec.sobject == "Opportunity" else ()
        return build_soql(spec, lower, extra)

    def _deletions(
        self, spec: StreamSpec, state: StreamCursor, since: datetime, now: datetime
    ) -> Generator[Output, None, StreamCursor]:
        """Get Deleted since the last run; the next window starts at latestDateCovered."""
        start = since - timedelta(seconds=self.config.lookback_seconds)
        earliest = now - timedelta(days=self.config.deleted_window_days) + DELETED_WINDOW_MARGIN
        if start < earliest:
            log.warning("%s: deletions before %s can no longer be read", spec.sobject, earliest)
            start = earliest
        if now - start < GET_DELETED_GRAIN:
            return state  # nothing to ask yet: the next run covers this window

        def deleted(sf: Salesforce) -> Any:
            return cast(SFType, getattr(sf, spec.sobject)).deleted(start, now)

        answer = cast(dict[str, Any], self.client.call("get deleted", deleted))
        for item in answer.get("deletedRecords", []):
            deleted_at = mapping.parse_datetime(item.get("deletedDate")) or now
            yield Deletion(spec.stream.entity, str(item["id"]), deleted_at)
        _warn_if_log_purged(spec, answer, start)
        covered = mapping.parse_datetime(answer.get("latestDateCovered")) or now
        state = replace(state, deleted_until=min(covered, now))
        yield Checkpoint(state.dump())
        return state

    # ---------------------------------------------------------------- metadata

    def _mapper(self, spec: StreamSpec) -> Mapper:
        name = spec.stream.name
        if name == "opportunities":
            return partial(self._map_opportunity, self._stage_map())
        if name == "opportunity_history":
            return partial(mapping.map_history, stages=self._stage_map())
        mappers: dict[str, Mapper] = {
            "users": mapping.map_user,
            "tasks": mapping.map_task,
            "events": mapping.map_event,
            "quotas": mapping.map_quota,
        }
        return mappers[name]

    def _map_opportunity(self, stages: dict[str, mapping.StageInfo], row: Row) -> Record:
        return mapping.map_opportunity(row, stages, self._qualification)

    def _stage_map(self) -> dict[str, mapping.StageInfo]:
        """OpportunityStage metadata, once per run; without access, the rows' own flags."""
        if self._stages is None:
            try:
                rows = [r for page in self.client.query_pages(STAGES_SOQL, include_deleted=False)
                        for r in page]  # fmt: skip
            except SalesforceMalformedRequest as exc:
                log.warning("OpportunityStage unreadable (%s): using IsClosed/IsWon", exc.status)
                rows = []
            self._stages = mapping.stage_map(rows)
        return self._stages

    def _org_objects(self) -> frozenset[str]:
        if self._objects is None:
            described = self.client.call("describe global", lambda sf: sf.describe())
            sobjects = cast(dict[str, Any], described or {}).get("sobjects", [])
            self._objects = frozenset(str(entry["name"]) for entry in sobjects)
        return self._objects

    def _drop_missing_fields(self, spec: StreamSpec, exc: SalesforceMalformedRequest) -> bool:
        """A configured qualification field the org lacks: describe once, drop it, retry."""
        if spec.sobject != "Opportunity" or error_code(exc) != "INVALID_FIELD":
            return False
        if self._qualification_checked:
            return False
        self._qualification_checked = True
        described = self.client.call("describe", lambda sf: cast(SFType, sf.Opportunity).describe())
        existing = {str(f["name"]).lower() for f in cast(dict[str, Any], described)["fields"]}
        missing = [f for f in self._qualification.values() if f.lower() not in existing]
        log.warning("Opportunity lacks the qualification fields %s: ignoring them", missing)
        self._qualification = {
            name: field for name, field in self._qualification.items() if field not in missing
        }
        return bool(missing)


def _spec(stream: Stream) -> StreamSpec:
    spec = SPECS_BY_NAME.get(stream.name)
    if spec is None:
        raise ValueError(f"unknown Salesforce stream: {stream.name}")
    return spec


def _mapped(rows: list[Row], mapper: Mapper, entity: Entity) -> Iterator[Item]:
    """Each row translated, or rejected alone when it cannot be."""
    for row in rows:
        try:
            record = mapper(row)
        except MAPPING_ERRORS as exc:
            yield rejection(entity, row.get("Id"), exc)
            continue
        if record is not None:
            yield record


def _warn_if_log_purged(spec: StreamSpec, answer: Mapping[str, Any], start: datetime) -> None:
    """earliestDateAvailable after the window's start: Salesforce already dropped part of
    the delete log (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/
    sforce_api_calls_getdeleted_getdeletedresult.htm)."""
    earliest = mapping.parse_datetime(answer.get("earliestDateAvailable"))
    if earliest is not None and earliest > start:
        log.warning("%s: the delete log starts at %s; older deletions are lost", spec.sobject,
                    earliest)  # fmt: skip
