"""The HubSpot connector against the fake HubSpot, over HTTP, with the real client.

The connectors run on the sandbox's clock (see ``hubspot_sandbox``): pacing waits and
backoffs advance it instead of sleeping, and the sandbox's limiter judges every call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from connectors.base import Connector, Stream, SyncStopped
from connectors.hubspot import (
    HubSpotAuthError,
    HubSpotConfig,
    HubSpotConnector,
    OAuthAuth,
    PacingPolicy,
    PrivateAppAuth,
    RetryPolicy,
)
from connectors.records import (
    Activity,
    Checkpoint,
    Deletion,
    Entity,
    Opportunity,
    OpportunityChange,
    Quota,
    Record,
    Rejected,
    Rep,
    TaskIntent,
    TaskPriority,
    task_marker,
)
from connectors.writeback import UNKNOWN_OUTCOME
from sandbox.faults import FaultConfig
from sandbox.http import RunningServer
from sandbox.hubspot import HubSpotLimits, build_hubspot_server
from sandbox.hubspot import writes as portal_writes
from sandbox.hubspot.properties import GOAL_TARGETS
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox
from sandbox.tls import make_tls
from tests.integration.hubspot_sandbox import (
    ENGAGEMENTS,
    FAST_RETRY,
    Portal,
    connector,
    on_clock,
    reset,
    running_hubspot,
    sandbox_portal,
    serve_portal,
    synthetic_state,
)

ORG = OrgSpec(
    seed=11, managers=1, reps=3, months=3, deal_scale=0.5,
    as_of=date.today() - timedelta(days=2),  # noqa: DTZ011 - the org's local "today"
)  # fmt: skip
SETTLED = timedelta(minutes=3)


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with running_hubspot(ORG) as running:
        yield running


@pytest.fixture
def portal(sandbox: Sandbox) -> Any:
    served = sandbox_portal(sandbox)
    yield served
    reset(served.url)


def _stream(hubspot: Connector, name: str) -> Stream:
    return next(s for s in hubspot.streams() if s.name == name)


def _read(
    hubspot: Connector, name: str, cursor: Mapping[str, Any] | None = None
) -> tuple[list[Record], list[Checkpoint]]:
    records: list[Record] = []
    checkpoints: list[Checkpoint] = []
    for item in hubspot.read(_stream(hubspot, name), cursor):
        (checkpoints if isinstance(item, Checkpoint) else records).append(item)  # type: ignore[arg-type]
    return records, checkpoints


def _ids(records: Iterable[Record], kind: type = object) -> set[str]:
    return {r.crm_id for r in records if isinstance(r, kind) and not isinstance(r, Deletion)}


def _live(portal: Portal, object_type: str) -> set[str]:
    objects = portal.state.objects[object_type].values()
    return {str(o.id) for o in objects if o.archived_ms is None}


def _oauth(sandbox: Sandbox) -> OAuthAuth:
    assert sandbox.info is not None
    creds = sandbox.info.hubspot
    return OAuthAuth(
        client_id=creds.client_id,
        client_secret=SecretStr(creds.client_secret),
        refresh_token=SecretStr(creds.refresh_token),
    )


# ----------------------------------------------------------------------------- auth


@pytest.mark.parametrize("method", ["private_app", "oauth"])
def test_both_auth_methods_read_every_stream_whole(sandbox: Sandbox, portal: Portal, method: str):
    auth = _oauth(sandbox) if method == "oauth" else None
    hubspot = connector(portal, auth=auth)
    assert _ids(_read(hubspot, "owners")[0]) == set(portal.state.owners)
    deals, _ = _read(hubspot, "deals")
    assert _ids(deals, Opportunity) == _live(portal, "deals")
    for object_type in ENGAGEMENTS:
        assert _ids(_read(hubspot, object_type)[0]) == _live(portal, object_type)


def test_oauth_tokens_are_renewed_ahead_of_expiry_not_after_a_401(sandbox: Sandbox, portal: Portal):
    hubspot = connector(portal, auth=_oauth(sandbox))
    _read(hubspot, "owners")
    portal.clock.advance(timedelta(minutes=26))  # 30-minute tokens, renewed 5 minutes early
    _read(hubspot, "owners")
    assert portal.calls("POST /oauth/v1/token") == 2
    assert "401" not in portal.statuses()


def test_an_oauth_token_that_dies_early_is_renewed_and_the_read_completes(
    sandbox: Sandbox, portal: Portal
):
    portal.faults.configure(FaultConfig(token_ttl_calls=2))
    hubspot = connector(portal, auth=_oauth(sandbox))
    assert _ids(_read(hubspot, "calls")[0]) == _live(portal, "calls")
    assert portal.statuses().get("401", 0) > 0
    assert portal.calls("POST /oauth/v1/token") > 2


def test_a_refused_private_app_token_fails_clearly_without_the_token(portal: Portal):
    portal.faults.configure(FaultConfig(token_ttl_calls=1))
    hubspot = connector(portal)
    with pytest.raises(HubSpotAuthError) as refused:
        _read(hubspot, "calls")
    assert "401" in str(refused.value)
    assert portal.token not in str(refused.value)


# ----------------------------------------------------------------------------- reading


def test_records_carry_what_the_portal_holds(portal: Portal):
    hubspot = connector(portal)
    state = portal.state
    reps = {r.crm_id: r for r in _read(hubspot, "owners")[0] if isinstance(r, Rep)}
    for owner_id, owner in state.owners.items():
        assert (reps[owner_id].email, reps[owner_id].is_active) == (owner.email, not owner.archived)
    records = _read(hubspot, "deals")[0]
    deals = {r.crm_id: r for r in records if isinstance(r, Opportunity)}
    for deal_id, deal in deals.items():
        props = state.objects["deals"][int(deal_id)].props
        stage = state.stages[("default", str(props["dealstage"]))]
        assert deal.probability == Decimal(str(stage.probability)) * 100
        assert (deal.closed_at is not None) == stage.is_closed
        assert deal.qualification["budget_confirmed"] == (props["budget_confirmed"] == "true")
    changes = [r for r in records if isinstance(r, OpportunityChange)]
    assert {c.opportunity_crm_id for c in changes} == set(deals)
    calls = [r for r in _read(hubspot, "calls")[0] if isinstance(r, Activity)]
    outcomes = {c.outcome for c in calls if c.outcome}
    assert outcomes
    assert outcomes <= {"Connected", "Left voicemail", "Left live message", "No answer", "Busy",
                        "Wrong number"}  # fmt: skip
    first = state.objects["calls"][int(calls[0].crm_id)].props
    assert calls[0].duration_seconds == int(str(first["hs_call_duration"])) // 1000
    meetings = [r for r in _read(hubspot, "meetings")[0] if isinstance(r, Activity)]
    assert all(m.duration_seconds and m.duration_seconds > 0 for m in meetings)


def _by_key(items: Iterable[Any]) -> dict[tuple[str, str], Any]:
    return {(str(r.entity), r.crm_id): r for r in items if not isinstance(r, Checkpoint | Deletion)}


def test_a_re_read_by_id_yields_what_a_full_read_yields_for_those_ids(portal: Portal):
    """How quarantined records are tried again: owners filtered from the listing, deals
    by batch read with their history (three reads of 50), engagements by batch read
    with their deals; an id the portal never had, or not a HubSpot id, is left out."""
    hubspot = connector(portal)
    for stream in hubspot.streams():
        full = _by_key(hubspot.read(stream, None))
        wanted = sorted({crm_id for entity, crm_id in full if entity == stream.entity})[:120]
        assert len(wanted) >= 5, stream.name
        again = _by_key(hubspot.reread(stream, [*wanted, "999999999999", "not-an-id"]))
        expected = {key: record for key, record in full.items() if _parent(record) in wanted}
        assert again == expected, stream.name


def _parent(record: Any) -> str:
    return record.opportunity_crm_id if isinstance(record, OpportunityChange) else record.crm_id


def test_a_deal_the_mapping_cannot_read_is_rejected_alone_and_the_read_goes_on(portal: Portal):
    """A close date in year 10000 (HubSpot keeps any epoch milliseconds; Python's dates
    end at 9999) failed the whole deals stream on every run."""
    state = portal.state
    with state.lock:
        deal = next(o for o in state.objects["deals"].values() if o.archived_ms is None)
        portal_writes.update(state, deal, {"closedate": "253402300800000"}, "test")
    hubspot = connector(portal)
    items = list(hubspot.read(_stream(hubspot, "deals"), None))
    rejected = [item for item in items if isinstance(item, Rejected)]
    assert [(r.entity, r.crm_id) for r in rejected] == [(Entity.OPPORTUNITY, str(deal.id))]
    assert "year 10000" in rejected[0].reason
    deals = {item.crm_id for item in items if isinstance(item, Opportunity)}
    assert deals == _live(portal, "deals") - {str(deal.id)}


def test_revenue_goals_are_read_as_the_orgs_quotas_and_other_goals_are_not(
    sandbox: Sandbox, portal: Portal
):
    """HubSpot keeps quotas as goals: one sales_quota goal target per owner and quarter,
    ending at the last millisecond of its last day."""
    assert sandbox.info is not None
    org, ids = sandbox.info.org, sandbox.info.hubspot_ids
    state = portal.state
    with state.lock:
        portal_writes.create(state, GOAL_TARGETS, {
            "hs_goal_name": "Calls made", "hs_goal_type": "calls_made",
            "hs_target_amount": "100", "hs_start_datetime": "2026-01-01T00:00:00Z",
            "hs_end_datetime": "2026-01-31T23:59:59.999Z",
            "hubspot_owner_id": next(iter(state.owners)),
        }, [], "test")  # fmt: skip
    records, checkpoints = _read(connector(portal), "goals")

    quotas = {(q.rep_crm_id, q.period_start, q.period_end, q.amount)
              for q in records if isinstance(q, Quota)}  # fmt: skip
    expected = {
        (ids[quota.user_id], quota.period_start, quota.period_end, quota.amount)
        for quota in org.quotas
        if quota.user_id in ids
    }
    assert quotas == expected
    assert len(records) == len(expected)  # the calls goal is not a quota
    assert len(checkpoints) == 1


def test_a_full_read_costs_at_most_a_tenth_more_calls_than_the_minimum(portal: Portal):
    hubspot = connector(portal)
    for stream in hubspot.streams():
        _read(hubspot, stream.name)
    state = portal.state
    minimum = 2 + 1  # owners (active, archived), pipelines
    minimum += max(1, math.ceil(len(_live(portal, "deals")) / 50))  # listed with history
    for object_type in ENGAGEMENTS:
        count = state.count(object_type)
        minimum += max(1, math.ceil(count / 200)) + math.ceil(count / 1000)  # + associations
    used = portal.meter.snapshot()["total"]
    assert used <= 1.1 * minimum
    assert hubspot.usage().calls == used


def test_an_incremental_read_yields_what_changed_and_deletions_for_archived_objects(
    portal: Portal,
):
    hubspot = connector(portal)
    cursors = {name: _read(hubspot, name)[1][-1].cursor for name in ("calls", "deals")}
    state = portal.state
    portal.clock.advance(SETTLED)
    with state.lock:
        calls = sorted(state.objects["calls"].values(), key=lambda o: o.id)
        portal_writes.update(state, calls[0], {"hs_call_title": "Edited"}, "test")
        portal_writes.archive(state, calls[1])
        deal = next(
            o for o in state.objects["deals"].values() if o.props["dealstage"] != "closedwon"
        )
        portal_writes.update(state, deal, {"dealstage": "closedwon"}, "test")
    portal.clock.advance(SETTLED)

    fresh = connector(portal)
    records, checkpoints = _read(fresh, "calls", cursors["calls"])
    assert _ids(records) == {str(calls[0].id)}
    assert [(d.crm_id, d.target.value) for d in records if isinstance(d, Deletion)] == [
        (str(calls[1].id), "activity")
    ]
    changed = _read(fresh, "deals", cursors["deals"])[0]
    won = [r for r in changed if isinstance(r, Opportunity)]
    assert [(r.crm_id, r.stage_category.value) for r in won] == [(str(deal.id), "won")]
    newest = max(
        (r for r in changed if isinstance(r, OpportunityChange)), key=lambda c: c.changed_at
    )
    assert (newest.stage, newest.stage_category) == ("closedwon", "won")
    # Nothing changed since: once the lookback has passed, nothing is read again.
    portal.clock.advance(timedelta(minutes=10))
    _, moved = _read(fresh, "calls", checkpoints[-1].cursor)
    portal.clock.advance(timedelta(minutes=10))
    assert _read(fresh, "calls", moved[-1].cursor)[0] == []


def test_a_change_the_search_index_has_not_seen_yet_is_read_by_a_later_sync() -> None:
    limits = HubSpotLimits(search_index_lag_seconds=30)
    with serve_portal(synthetic_state(engagements={"calls": 50}), limits) as portal:
        lost = _change_then_sync_twice(portal, index_lag_seconds=0, lookback_seconds=0)
        kept = _change_then_sync_twice(portal, index_lag_seconds=60, lookback_seconds=0)
    assert (lost, kept) == (False, True)


def _change_then_sync_twice(portal: Portal, **options: Any) -> bool:
    """Edit a call, sync 10 s later (the index still shows the old version), then again
    much later: was the edit ever read?"""
    hubspot = connector(portal, **options)
    cursor = _read(hubspot, "calls")[1][-1].cursor
    portal.clock.advance(timedelta(minutes=2))
    state = portal.state
    with state.lock:
        call = next(iter(state.objects["calls"].values()))
        title = f"Edited {state.now_ms()}"
        portal_writes.update(state, call, {"hs_call_title": title}, "test")
    portal.clock.advance(timedelta(seconds=10))
    seen = []
    for _ in range(2):
        records, checkpoints = _read(hubspot, "calls", cursor)
        seen += [r for r in records if isinstance(r, Activity) and r.subject == title]
        cursor = checkpoints[-1].cursor
        portal.clock.advance(timedelta(minutes=3))
    return bool(seen)


def test_a_read_stopped_by_its_budget_resumes_mid_window_from_its_last_checkpoint():
    state = synthetic_state(deals=20, engagements={"calls": 12_000})
    with serve_portal(state, HubSpotLimits(daily_budget=1_000)) as portal:
        # 40 calls: past the first checkpoint (5,000 records, 30 calls), short of the end.
        hubspot = connector(portal, budget_share=0.04)
        committed, cursor, stop = _read_until_stopped(hubspot, "calls")
        assert isinstance(stop, SyncStopped)
        assert cursor is not None
        assert cursor["after_id"]  # stopped inside the window, after its first checkpoint
        assert 5_000 <= len(committed) < 12_000
        rest = _read(connector(portal), "calls", cursor)[0]
        assert _ids(committed) | _ids(rest) == _live(portal, "calls")


def _read_until_stopped(
    hubspot: Connector, name: str
) -> tuple[list[Record], Mapping[str, Any] | None, SyncStopped | None]:
    """Records up to the last checkpoint (what a pipeline commits), its cursor, the stop."""
    committed: list[Record] = []
    pending: list[Record] = []
    cursor: Mapping[str, Any] | None = None
    try:
        for item in hubspot.read(_stream(hubspot, name), None):
            if isinstance(item, Checkpoint):
                committed, pending, cursor = committed + pending, [], item.cursor
            else:
                assert not isinstance(item, Rejected), item
                pending.append(item)
    except SyncStopped as stop:
        return committed, cursor, stop
    return committed + pending, cursor, None


def test_hubspots_daily_limit_stops_the_run_cleanly(portal: Portal):
    portal.faults.configure(FaultConfig(daily_budget=3))
    with pytest.raises(SyncStopped, match="daily"):
        _read(connector(portal), "calls")


# ----------------------------------------------------------------------------- rate limits


def test_pacing_keeps_a_small_budget_free_of_429s():
    limits = HubSpotLimits(ten_second_budget=8, searches_per_second=2)
    state = synthetic_state(deals=120, engagements={"calls": 2_500, "emails": 500})
    with serve_portal(state, limits) as portal:
        # Told 100 per 10 s, the connector learns 8 from the first answer's headers; the
        # search limit is in no header: it is configured.
        hubspot = connector(portal, pacing=PacingPolicy(searches_per_second=2))
        for stream in hubspot.streams():
            _read(hubspot, stream.name)
        assert "429" not in portal.statuses()
        assert hubspot.usage().rate_limit_waits > 0


def test_a_search_limit_lower_than_configured_is_learnt_from_its_first_429s():
    limits = HubSpotLimits(searches_per_second=2)
    with serve_portal(synthetic_state(engagements={"calls": 6_000}), limits) as portal:
        hubspot = connector(portal)  # configured for 5 searches a second
        assert _ids(_read(hubspot, "calls")[0]) == _live(portal, "calls")
        assert 0 < portal.statuses()["429"] <= 4  # one per step from 5 down to 2 at most


@pytest.mark.parametrize("retry_after", [True, False])
def test_429_bursts_are_waited_out_and_the_read_completes(retry_after: bool):
    limits = HubSpotLimits(send_retry_after=retry_after)
    with serve_portal(synthetic_state(engagements={"calls": 2_000}), limits) as portal:
        portal.faults.configure(FaultConfig(burst_every=4, burst_length=2))
        slept: list[float] = []
        timing = on_clock(portal.clock)
        clock_sleep = timing["sleep"]

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock_sleep(seconds)

        timing["sleep"] = sleep
        config = HubSpotConfig(
            auth=PrivateAppAuth(access_token=SecretStr(portal.token)),
            base_url=portal.url,
            retry=FAST_RETRY,
        )
        hubspot = HubSpotConnector(config, **timing)
        assert _ids(_read(hubspot, "calls")[0]) == _live(portal, "calls")
        assert portal.statuses()["429"] > 0
        # The sandbox sends "Retry-After: 1"; without it, short jittered backoffs.
        assert (1.0 in slept) == retry_after


# ----------------------------------------------------------------------------- write-back

TASKS_CREATE = "POST /crm/v3/objects/tasks/batch/create"
TASKS_SEARCH = "POST /crm/v3/objects/tasks/search"


def _intents(portal: Portal, count: int, prefix: str = "k") -> list[TaskIntent]:
    owners = sorted(o.id for o in portal.state.owners.values() if not o.archived)
    deals = sorted(_live(portal, "deals"))
    priorities = list(TaskPriority)
    return [
        TaskIntent(
            key=f"{prefix}-{i}",
            assignee_crm_id=owners[i % len(owners)],
            subject=f"Coach rep {i}: call volume",
            body=f"Calls fell {i}% below the standard.",
            due_date=date(2026, 12, 1),
            priority=priorities[i % 3],
            opportunity_crm_id=deals[i % len(deals)] if i % 2 else None,
        )
        for i in range(count)
    ]


def _tasks_by_marker(portal: Portal, intents: Iterable[TaskIntent]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {intent.key: [] for intent in intents}
    for task in portal.state.objects["tasks"].values():
        body = str(task.props.get("hs_task_body") or "")
        for key, tasks in found.items():
            if task_marker(key) in body:
                tasks.append(task)
    return found


def _healing(portal: Portal, **options: Any) -> HubSpotConnector:
    """A connector whose first sleep (the writer settling after an unknown outcome) also
    switches the sandbox's faults off: the fault hit the first attempt only."""
    timing = on_clock(portal.clock)
    clock_sleep = timing["sleep"]

    def sleep(seconds: float) -> None:
        portal.faults.configure(FaultConfig())
        clock_sleep(seconds)

    timing["sleep"] = sleep
    config = HubSpotConfig(
        auth=PrivateAppAuth(access_token=SecretStr(portal.token)),
        base_url=portal.url,
        retry=options.pop("retry", FAST_RETRY),
        **options,
    )
    return HubSpotConnector(config, **timing)


def test_writing_250_tasks_takes_three_batch_calls(portal: Portal):
    intents = _intents(portal, 250)
    results = connector(portal).write_tasks(intents)
    assert all(r.ok and not r.already_existed for r in results)
    assert portal.calls(TASKS_CREATE) == 3
    tasks = _tasks_by_marker(portal, intents)
    assert all(len(found) == 1 for found in tasks.values())
    for intent, result in zip(intents, results, strict=True):
        task = tasks[intent.key][0]
        assert result.crm_id == str(task.id)
        props = task.props
        assert props["hubspot_owner_id"] == intent.assignee_crm_id
        assert props["hs_task_subject"] == intent.subject
        assert props["hs_task_body"].startswith(intent.body)
        assert props["hs_task_priority"] == intent.priority.value.upper()
        assert (props["hs_task_status"], props["hs_task_type"]) == ("NOT_STARTED", "TODO")
        assert props["hs_timestamp"] == "2026-12-01T12:00:00.000Z"
        deals = [str(i) for i in (task.assoc or {}).get("deals", {})]
        assert deals == ([intent.opportunity_crm_id] if intent.opportunity_crm_id else [])


@pytest.mark.parametrize(
    ("fault", "created_before_the_retry"),
    [
        (FaultConfig(latency_ms=1_500), True),  # answered after the client's read timeout
        (FaultConfig(drop_rate=1.0), True),  # the answer cut mid-body
        (FaultConfig(error_rate=1.0), False),  # a 503 before anything was created
    ],
    ids=["timeout", "dropped", "503"],
)
def test_a_create_with_an_unknown_outcome_is_looked_up_not_repeated(
    portal: Portal, fault: FaultConfig, created_before_the_retry: bool
):
    intents = _intents(portal, 30)
    retry = FAST_RETRY.model_copy(update={"read_timeout_seconds": 0.3})
    hubspot = _healing(portal, retry=retry)
    portal.faults.configure(fault)
    results = hubspot.write_tasks(intents)
    assert all(r.ok for r in results)
    assert all(r.already_existed == created_before_the_retry for r in results)
    assert all(len(found) == 1 for found in _tasks_by_marker(portal, intents).values())
    assert portal.calls(TASKS_SEARCH) >= 1  # it looked before it wrote again


def test_429s_on_create_are_simply_retried(portal: Portal):
    intents = _intents(portal, 120)
    portal.faults.configure(FaultConfig(burst_every=2, burst_length=1))
    results = connector(portal).write_tasks(intents)
    assert all(r.ok and not r.already_existed for r in results)
    assert portal.statuses()["429"] > 0
    assert portal.calls(TASKS_SEARCH) == 0  # a 429 never created anything: no need to look
    assert all(len(found) == 1 for found in _tasks_by_marker(portal, intents).values())


def test_a_task_for_a_deal_that_does_not_exist_is_refused_and_the_others_are_created(
    portal: Portal,
):
    intents = _intents(portal, 5)
    intents[1] = replace(intents[1], opportunity_crm_id="999999999")
    results = connector(portal).write_tasks(intents)
    assert [r.ok for r in results] == [True, False, True, True, True]
    assert results[1].error is not None
    assert not results[1].retryable
    assert portal.calls(TASKS_CREATE) == 1  # one 207 answer


def test_a_task_hubspot_refuses_outright_does_not_block_the_batch(portal: Portal):
    intents = _intents(portal, 5)
    intents[3] = replace(intents[3], assignee_crm_id="12345")  # no such owner: a 400
    results = connector(portal).write_tasks(intents)
    assert [r.ok for r in results] == [True, True, True, False, True]
    assert "VALIDATION_ERROR" in (results[3].error or "")
    assert all(len(found) == (key != "k-3") for key, found in
               _tasks_by_marker(portal, intents).items())  # fmt: skip


def test_a_run_stopped_while_creating_one_by_one_keeps_what_it_created(portal: Portal):
    """A refused batch is sent again task by task; the daily limit stops that part way.
    The tasks created before the stop are reported created, never "not sent" (their
    retry would create them again without looking)."""
    intents = _intents(portal, 5)
    intents[3] = replace(intents[3], assignee_crm_id="12345")  # the whole batch: a 400
    portal.faults.configure(FaultConfig(daily_budget=3))  # the batch, then two tasks
    results = connector(portal).write_tasks(intents)
    assert [r.ok for r in results[:2]] == [True, True]
    assert all(r.not_sent and not r.ok for r in results[2:])
    assert all(len(found) == (key in ("k-0", "k-1")) for key, found in
               _tasks_by_marker(portal, intents).items())  # fmt: skip


def test_a_create_that_stays_unknown_is_reported_so_and_its_retry_makes_no_duplicate(
    portal: Portal,
):
    intents = _intents(portal, 10)
    portal.faults.configure(FaultConfig(drop_rate=1.0))
    results = connector(portal).write_tasks(intents)
    assert all(not r.ok and r.retryable for r in results)
    assert all((r.error or "").startswith(UNKNOWN_OUTCOME) for r in results)
    portal.faults.configure(FaultConfig())
    again = connector(portal).write_tasks(intents, verify_existing=True)
    assert all(r.ok for r in again)
    assert all(len(found) == 1 for found in _tasks_by_marker(portal, intents).values())


def test_verify_existing_adopts_what_an_interrupted_run_created(portal: Portal):
    intents = _intents(portal, 40)
    connector(portal).write_tasks(intents[:25])
    creates = portal.calls(TASKS_CREATE)
    results = connector(portal).write_tasks(intents, verify_existing=True)
    assert [r.already_existed for r in results] == [True] * 25 + [False] * 15
    assert portal.calls(TASKS_CREATE) == creates + 1
    assert all(len(found) == 1 for found in _tasks_by_marker(portal, intents).values())


def test_an_intent_given_twice_makes_one_task(portal: Portal):
    intent = _intents(portal, 1)[0]
    results = connector(portal).write_tasks([intent, intent])
    assert results[0] == results[1]
    assert len(_tasks_by_marker(portal, [intent])[intent.key]) == 1


def test_a_create_that_never_reached_hubspot_is_retried_and_reported_as_not_made():
    config = HubSpotConfig(
        auth=PrivateAppAuth(access_token=SecretStr("pat-na1-unused")),
        base_url="http://127.0.0.1:1",  # nothing listens: every connection is refused
        retry=FAST_RETRY,
    )
    hubspot = HubSpotConnector(config, sleep=lambda _: None)
    intent = TaskIntent("k-1", "101", "Coach", "Body", date(2026, 12, 1))
    [result] = hubspot.write_tasks([intent])
    assert not result.ok
    assert result.retryable
    assert "attempts" in (result.error or "")
    assert not (result.error or "").startswith(UNKNOWN_OUTCOME)  # certainly not created
    assert hubspot.usage().by_endpoint[TASKS_CREATE] == FAST_RETRY.attempts


def test_a_ca_bundle_that_does_not_match_fails_the_read_at_once_without_retries(
    tmp_path: Path,
):
    state = synthetic_state(deals=3)
    tls = make_tls(tmp_path / "server")
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    server = build_hubspot_server(state, tls=tls.server_context)
    running = RunningServer(server)
    try:
        config = HubSpotConfig(
            auth=PrivateAppAuth(access_token=SecretStr(state.issue_private_app_token())),
            base_url=running.url,
            ca_bundle=other_ca,
            retry=RetryPolicy(attempts=8, base_delay_seconds=0.5, max_delay_seconds=2.0),
        )
        hubspot = HubSpotConnector(config)
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            list(hubspot.read(hubspot.streams()[0], None))
        assert hubspot.usage().retries == 0  # eight tries with backoff took many seconds
        hubspot.close()
    finally:
        running.stop()
