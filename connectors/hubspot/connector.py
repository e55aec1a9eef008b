"""The HubSpot connector: streams of canonical records with checkpoints, and tasks back.

One instance per sync run: its API budget and its caches (pipelines) last as long as it
does. Reads go a page at a time (engagements: five search pages, which one association
read serves) and yield a checkpoint once about 5,000 records have gone out since the
last (the pipeline's batch size: one commit each), so a run stopped by the budget, a
refusal or a crash resumes where its last committed page ended, a few seconds back.

* **owners** are read whole every run (two listings: active and archived owners).
* **deals**: a first sync lists every deal with its ``dealstage``/``amount``/``closedate``
  history (50 a page); later runs search for changed deals (200 a page) and read them
  with their history through batch reads of 50.
* **calls, emails, meetings, tasks, notes**: search windows from the first sync on
  (``history_days`` back at first), then their deal associations through v4 batch reads
  of up to 1,000 ids: cheaper than listing (100 a page, associations inline).
* **deletions**: HubSpot archives instead of deleting; after the first sync each
  deletable stream lists its archive and yields a Deletion per object archived since the
  last listing (minus the lookback). The first sync needs none: what is archived already
  was never stored.

A search window's calls (searches, then the history or association reads each batch
needs) run one batch ahead on a fetch thread (:mod:`connectors.read_ahead`), which owns
the client while the window lasts: HubSpot answers the next batch while this one is
mapped. See :mod:`connectors.hubspot.streams` for the search windows and the cursor.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import ApiUsage, Stream
from connectors.hubspot import api, engagements, goals, mapping
from connectors.hubspot.alerts import AlertSender
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.errors import HubSpotApiError
from connectors.hubspot.streams import SPECS, SPECS_BY_NAME, StreamCursor, StreamSpec, search_body
from connectors.hubspot.task_changes import TaskChanger
from connectors.hubspot.values import parse_datetime
from connectors.hubspot.writeback import TaskWriter
from connectors.read_ahead import ReadAhead
from connectors.records import (
    MAPPING_ERRORS,
    Checkpoint,
    CrmAlert,
    CrmAlertResult,
    Deletion,
    Entity,
    Item,
    TaskChange,
    TaskChangeResult,
    TaskIntent,
    TaskResult,
    rejection,
)

log = logging.getLogger(__name__)

Output = Item | Checkpoint
Objects = list[dict[str, Any]]
#: Records yielded between two checkpoints (each checkpoint is a commit of the store):
#: the pipeline's own batch size, so a crash re-reads at most a few seconds of pages.
CHECKPOINT_RECORDS = 5000


class HubSpotConnector:
    """Implements :class:`connectors.base.Connector` for one HubSpot portal."""

    crm = "hubspot"

    def __init__(
        self,
        config: HubSpotConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self.client = HubSpotClient(
            config, clock=self._clock, timer=timer, sleep=sleep, jitter=jitter
        )
        self._changer = TaskChanger(self.client)
        self._alerts = AlertSender(self.client, self._clock)
        self._writer = TaskWriter(self.client, self._clock)
        self._stages: dict[tuple[str, str], mapping.StageInfo] | None = None
        extra = config.qualification_properties.values()
        self._deal_properties = tuple(dict.fromkeys((*mapping.DEAL_PROPERTIES, *extra)))

    def streams(self) -> Sequence[Stream]:
        return [spec.stream for spec in SPECS]

    def read(self, stream: Stream, cursor: Mapping[str, Any] | None) -> Iterator[Output]:
        spec = _spec(stream)
        if spec.listed:
            return self._listed(spec)
        if not spec.searchable:
            return self._owners()
        return self._read(spec, StreamCursor.load(cursor))

    def reread(self, stream: Stream, crm_ids: Sequence[str]) -> Iterator[Item]:
        spec = _spec(stream)
        if not spec.searchable:  # owners, goals: read whole in a few pages, then picked
            wanted = set(crm_ids)
            every = self._listed(spec) if spec.listed else self._owners()
            yield from (
                item for item in every if not isinstance(item, Checkpoint)
                and item.crm_id in wanted
            )  # fmt: skip
            return
        ids = [i for i in dict.fromkeys(crm_ids) if i.isdigit()]  # HubSpot ids are numbers
        if spec.kind is None:
            found: Objects = [{"id": i} for i in ids]
            yield from self._map(spec, *self._details(spec, found))
            return
        for start in range(0, len(ids), api.BATCH_LIMIT):
            chunk = ids[start : start + api.BATCH_LIMIT]
            answer = api.batch_read(self.client, spec.object_type, chunk,
                                    properties=self._fields(spec))  # fmt: skip
            objects: Objects = answer.get("results") or []
            links = self._deal_links(spec.object_type, [str(obj["id"]) for obj in objects])
            yield from self._map(spec, objects, links)

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        return self._writer.write(intents, verify_existing=verify_existing)

    def change_tasks(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]:
        return self._changer.change(changes)

    def send_alerts(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]:
        return self._alerts.send(alerts)

    def usage(self) -> ApiUsage:
        pacer = self.client.pacer
        return self.client.usage.snapshot(waits=pacer.waits, waited_seconds=pacer.waited_seconds)

    def close(self) -> None:
        self.client.close()

    # ---------------------------------------------------------------- owners

    def _owners(self) -> Iterator[Output]:
        active = self._all_owners(archived=False)
        archived = self._all_owners(archived=True)
        managers = mapping.resolve_managers(
            [*active, *archived], self.config.team_managers, self.config.owner_managers
        )
        for owners, is_archived in ((active, False), (archived, True)):
            for owner in owners:
                try:
                    rep = mapping.map_owner(
                        owner, managers.get(str(owner.get("id"))), archived=is_archived
                    )
                except MAPPING_ERRORS as exc:
                    yield rejection(Entity.REP, owner.get("id"), exc)
                    continue
                if rep is not None:
                    yield rep
        yield Checkpoint({"v": 1})

    def _all_owners(self, *, archived: bool) -> Objects:
        owners: Objects = []
        after: str | None = None
        while True:
            page = api.owners_page(self.client, after=after, archived=archived)
            owners.extend(page.get("results") or [])
            after = _next_after(page)
            if after is None:
                return owners

    # ---------------------------------------------------------------- goals

    def _listed(self, spec: StreamSpec) -> Iterator[Output]:
        """Goal targets, live then archived (a quota deleted), read whole: a handful per rep."""
        for archived in (False, True):
            after: str | None = None
            while True:
                page = api.list_page(
                    self.client,
                    spec.object_type,
                    after=after,
                    properties=goals.GOAL_PROPERTIES,
                    archived=archived,
                )
                for obj in page.get("results") or []:
                    try:
                        quota = goals.map_goal(obj, archived=archived)
                    except MAPPING_ERRORS as exc:
                        yield rejection(spec.stream.entity, obj.get("id"), exc)
                        continue
                    if quota is not None:
                        yield quota
                after = _next_after(page)
                if after is None:
                    break
        yield Checkpoint({"v": 1})

    # ---------------------------------------------------------------- objects

    def _read(self, spec: StreamSpec, state: StreamCursor) -> Iterator[Output]:
        now = self._clock()
        if spec.deletable and state.deleted_until is not None:
            state = yield from self._deletions(spec, state, now)
        elif spec.deletable:
            state = replace(state, deleted_until=now)
        if spec.list_first and state.first_sync:
            state = yield from self._list_all(spec, state, now)
        yield from self._window(spec, state, now)

    def _list_all(
        self, spec: StreamSpec, state: StreamCursor, now: datetime
    ) -> Generator[Output, None, StreamCursor]:
        """A first sync's listing; ``window_until`` holds when it started, so that a resumed
        listing still hands the next window every change since its very start."""
        state = replace(state, window_until=state.window_until or now)
        unsaved = 0  # records yielded since the last checkpoint
        while True:
            page = api.list_page(
                self.client,
                spec.object_type,
                after=state.list_after,
                properties=self._deal_properties,
                history=mapping.HISTORY_PROPERTIES,
            )
            for record in self._deals(page.get("results") or []):
                unsaved += 1
                yield record
            state = replace(state, list_after=_next_after(page))
            if state.list_after is None:
                state = state.close_window()
                yield Checkpoint(state.dump())
                return state
            if unsaved >= CHECKPOINT_RECORDS:
                yield Checkpoint(state.dump())
                unsaved = 0

    def _window(self, spec: StreamSpec, state: StreamCursor, now: datetime) -> Iterator[Output]:
        """Search the open window (or a new one) to its end, a batch at a time: the searches
        and association reads run one batch ahead on a fetch thread, so HubSpot's answer
        to the next batch is on its way while this one is mapped and written."""
        config = self.config
        if state.window_until is None:
            upper = now - timedelta(seconds=config.index_lag_seconds)
            if state.modified is not None and upper <= state.modified:
                yield Checkpoint(state.dump())  # too soon: the index may not have caught up
                return
            state = state.open_window(upper)
        if spec.kind is None:
            self._stage_map()  # read here: the fetch thread owns the client from now on
        unsaved = 0  # records yielded since the last checkpoint
        batches = ReadAhead(self._fetch(spec, state, self._lower_bound(spec, state, now)))
        try:
            for state, found, links in batches:
                for record in self._map(spec, found, links):
                    unsaved += 1
                    yield record
                if unsaved >= CHECKPOINT_RECORDS:
                    yield Checkpoint(state.dump())
                    unsaved = 0
        finally:
            batches.close()
        state = state.close_window()
        yield Checkpoint(state.dump())

    def _fetch(
        self, spec: StreamSpec, state: StreamCursor, lower: datetime | None
    ) -> Iterator[tuple[StreamCursor, Objects, Mapping[str, str]]]:
        """The window's batches, each with the cursor read to its last object and (for
        engagements) each object's deal: every HubSpot call of the window, and only them."""
        assert state.window_until is not None  # noqa: S101 - the caller opened it
        pending: Objects = []
        while True:
            body = search_body(lower, state.window_until, state.after_id or 0, self._fields(spec))
            answer = api.search(self.client, spec.object_type, body)
            results: Objects = answer.get("results") or []
            more = int(answer.get("total") or 0) > len(results) or "paging" in answer
            pending.extend(results)
            if results:
                state = state.read_to(int(results[-1]["id"]))
            if not more or not results:
                break
            if self._flush_due(spec, pending):
                yield state, *self._details(spec, pending)
                pending = []
        yield state, *self._details(spec, pending)

    def _details(self, spec: StreamSpec, found: Objects) -> tuple[Objects, Mapping[str, str]]:
        """What mapping needs beyond the search: deals read again with their history
        (batch reads of 50), engagements' deals (association reads of 1,000)."""
        if not found:
            return [], {}
        if spec.kind is not None:
            return found, self._deal_links(spec.object_type, [str(obj["id"]) for obj in found])
        deals: Objects = []
        for start in range(0, len(found), api.HISTORY_LIMIT):
            ids = [str(obj["id"]) for obj in found[start : start + api.HISTORY_LIMIT]]
            answer = api.batch_read(
                self.client,
                spec.object_type,
                ids,
                properties=self._deal_properties,
                history=mapping.HISTORY_PROPERTIES,
            )
            deals.extend(answer.get("results") or [])
        return deals, {}

    def _lower_bound(self, spec: StreamSpec, state: StreamCursor, now: datetime) -> datetime | None:
        if state.modified is not None:
            return state.modified - timedelta(seconds=self.config.lookback_seconds)
        return now - timedelta(days=self.config.history_days) if spec.bounded else None

    def _flush_due(self, spec: StreamSpec, pending: Objects) -> bool:
        """Deals: every page; engagements: before the next page could overflow one
        association batch read."""
        if spec.kind is None:
            return True
        return len(pending) + api.SEARCH_LIMIT > api.ASSOCIATION_BATCH_LIMIT

    def _fields(self, spec: StreamSpec) -> tuple[str, ...]:
        if spec.kind is None:
            return ()  # deals are read again with their history; the search only finds them
        return (*engagements.ENGAGEMENT_COMMON, *engagements.ENGAGEMENT_PROPERTIES[spec.kind])

    def _map(self, spec: StreamSpec, objects: Objects, links: Mapping[str, str]) -> Iterator[Item]:
        """Each object translated, or rejected alone when it cannot be."""
        kind = spec.kind
        if kind is None:
            yield from self._deals(objects)
            return
        for obj in objects:
            try:
                yield engagements.map_engagement(kind, obj, links.get(str(obj["id"])))
            except MAPPING_ERRORS as exc:
                yield rejection(Entity.ACTIVITY, obj.get("id"), exc)

    def _deals(self, objects: Objects) -> Iterator[Item]:
        """A deal and its changes, or one rejection for all of them."""
        stages, qualification = self._stage_map(), self.config.qualification_properties
        for obj in objects:
            try:
                opportunity, changes = mapping.map_deal(obj, stages, qualification)
            except MAPPING_ERRORS as exc:
                yield rejection(Entity.OPPORTUNITY, obj.get("id"), exc)
                continue
            yield opportunity
            yield from changes

    def _deal_links(self, object_type: str, ids: list[str]) -> dict[str, str]:
        """Each engagement's deal (the lowest id of its associated deals)."""
        links: dict[str, str] = {}
        for start in range(0, len(ids), api.ASSOCIATION_BATCH_LIMIT):
            chunk = ids[start : start + api.ASSOCIATION_BATCH_LIMIT]
            answer = api.deal_associations(self.client, object_type, chunk)
            for result in answer.get("results") or []:
                targets = [int(to["toObjectId"]) for to in result.get("to") or []]
                if targets:
                    links[str(result["from"]["id"])] = str(min(targets))
        return links

    def _deletions(
        self, spec: StreamSpec, state: StreamCursor, now: datetime
    ) -> Generator[Output, None, StreamCursor]:
        """Objects archived since the last listing (minus the lookback) as Deletions."""
        assert state.deleted_until is not None  # noqa: S101 - the caller checked
        since = state.deleted_until - timedelta(seconds=self.config.lookback_seconds)
        after: str | None = None
        while True:
            page = api.list_page(
                self.client, spec.object_type, after=after, properties=(), archived=True
            )
            for obj in page.get("results") or []:
                archived_at = parse_datetime(obj.get("archivedAt")) or now
                if archived_at >= since:
                    yield Deletion(spec.stream.entity, str(obj["id"]), archived_at)
            after = _next_after(page)
            if after is None:
                break
        state = replace(state, deleted_until=now)
        yield Checkpoint(state.dump())
        return state

    def _stage_map(self) -> dict[tuple[str, str], mapping.StageInfo]:
        """Deal pipelines, once per run; without access, each deal's own closed flags."""
        if self._stages is None:
            try:
                pipelines = api.deal_pipelines(self.client).get("results") or []
            except HubSpotApiError as exc:
                log.warning("deal pipelines unreadable (%s): using hs_is_closed*", exc.status)
                pipelines = []
            self._stages = mapping.stage_map(pipelines)
        return self._stages


def _spec(stream: Stream) -> StreamSpec:
    spec = SPECS_BY_NAME.get(stream.name)
    if spec is None:
        raise ValueError(f"unknown HubSpot stream: {stream.name}")
    return spec


def _next_after(page: Mapping[str, Any]) -> str | None:
    paging = page.get("paging") or {}
    after = (paging.get("next") or {}).get("after")
    return None if after in (None, "") else str(after)
