"""What the SIGKILL campaign of ``driftcoach deliver`` is made of: the sandbox CRMs as
it sees them, the outbox it fills, the processes it starts and kills, and the check of
the outcome (``test_deliver_sigkill.py`` runs the campaigns)."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from sandbox.faults import FaultConfig, FaultInjector, FaultKind
from sandbox.meter import Meter
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox
from service.settings import Settings
from service.store import Store, make_engine, migrate
from service.store.connections import add_connection
from service.store.tables import CrmKind, CrmWrite, OutboxState, WebhookEvent

DRIFTCOACH = Path(sys.executable).with_name("driftcoach")
ROUNDS = int(os.environ.get("DRIFTCOACH_SIGKILL_ROUNDS", "3"))
SEED = int(os.environ.get("DRIFTCOACH_SIGKILL_SEED", "20261208"))
TASKS = 1000
#: Tasks a run claims at a time: one create call each. Smaller in a longer campaign, so
#: that its kills still find create calls to land on.
BATCH = max(10, min(50, TASKS // (2 * ROUNDS)))
ORG = OrgSpec(seed=11, managers=2, reps=6, months=3, deal_scale=0.5)
#: Quick retries: the sandbox is on this machine, and the test waits for every one.
RETRY = {"attempts": 10, "base_delay_seconds": 0.02, "max_delay_seconds": 0.3}
MARKER = re.compile(r"\[driftcoach:([^\]]+)\]")
COUNTS = re.compile(r"tasks (\d+) created, (\d+) found already written")
LATENCY_MS, IN_FLIGHT_LATENCY_MS = 150, 500
#: Seconds a run's claim holds unless renewed (a live run renews it every third). Short,
#: so that the runs after a kill need not wait long; two workers at once get a little
#: more, so a renewal delayed by the other's writes (SQLite: one writer) cannot lapse.
LEASE_SECONDS, PAIR_LEASE_SECONDS = 2, 6
#: Every how many requests a burst of two throttled answers comes. Salesforce's REST API
#: sends no 429: the sandbox throttles as Salesforce does, 403 REQUEST_LIMIT_EXCEEDED, which
#: stops the run (the next one goes on). HubSpot's 429 says none of the ten-second window
#: is left, so the client waits for the window to roll: ten seconds a burst.
THROTTLE_EVERY = {"salesforce": 9, "hubspot": 20}
PATIENCE = 300.0  # seconds: a safety net against a hang, never a performance check


@dataclass
class Crm:
    """One sandbox CRM as the campaign sees it."""

    name: str
    options: dict[str, Any]  # the connection row's non-secret options
    secrets: dict[str, str]  # the settings a ``driftcoach`` process reads them from
    owners: list[str]
    deals: list[str]
    bodies: Callable[[], list[tuple[str, str]]]  # (CRM id, body) of every task, deleted too
    create_route: str
    meter: Meter
    faults: FaultInjector

    def creates(self) -> int:
        """Create calls the CRM has carried out (their answers may still be on the way)."""
        return self.meter.calls(self.create_route)


@dataclass
class Tally:
    crm: str
    seed: int
    kills: int = 0
    in_flight: int = 0  # kills that left tasks in the CRM the outbox had not recorded
    unrecorded: int = 0  # such tasks, summed over the kills
    runs: int = 0  # runs that were not killed
    created: int = 0  # by those runs
    adopted: int = 0  # by those runs: found by marker, written by a killed run
    checked: int = 0
    duplicates: int = 0
    losses: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = "".join(f", {key} {value}" for key, value in self.extra.items())
        return (
            f"{self.crm} (seed {self.seed}): {self.kills} kills ({self.in_flight} with a "
            f"create in flight, {self.unrecorded} tasks unrecorded), {self.runs} completed "
            f"runs ({self.created} created, {self.adopted} adopted), {self.checked} tasks "
            f"checked, {self.duplicates} duplicates, {self.losses} losses{extra}"
        )


# ---------------------------------------------------------------- the sandbox CRMs


def salesforce_crm(sandbox: Sandbox) -> Crm:
    info, records = sandbox.info, sandbox.salesforce_state.records
    assert info is not None
    users = records.rows("User", include_deleted=False)

    def bodies() -> list[tuple[str, str]]:
        rows = records.rows("Task", include_deleted=True)
        return [(str(row["Id"]), str(row.get("Description") or "")) for row in rows]

    options = {"auth_method": "client_credentials", "login_url": info.salesforce_url,
               "client_id": info.salesforce.client_id, "ca_bundle": str(info.ca_bundle),
               "retry": RETRY}  # fmt: skip
    return Crm(
        "salesforce", options,
        {"DRIFTCOACH_SALESFORCE__CLIENT_SECRET": info.salesforce.client_secret},
        sorted(str(r["Id"]) for r in users if r["IsActive"]),
        sorted(str(r["Id"]) for r in records.rows("Opportunity", include_deleted=False)),
        bodies, "POST composite sobjects create", sandbox.salesforce_meter,
        sandbox.salesforce_faults,
    )  # fmt: skip


def hubspot_crm(sandbox: Sandbox) -> Crm:
    info, state = sandbox.info, sandbox.hubspot_state
    assert info is not None

    def bodies() -> list[tuple[str, str]]:
        with state.lock:  # archived tasks included
            tasks = list(state.objects["tasks"].values())
        return [(str(task.id), str(task.props.get("hs_task_body") or "")) for task in tasks]

    # The sandbox's search index has no lag: no need to wait for it before a search.
    options = {"base_url": info.hubspot_url, "ca_bundle": str(info.ca_bundle),
               "index_lag_seconds": 0, "retry": {**RETRY, "rate_limit_attempts": 30}}  # fmt: skip
    live = [d for d in state.objects["deals"].values() if d.archived_ms is None]
    return Crm(
        "hubspot", options, {"DRIFTCOACH_HUBSPOT__ACCESS_TOKEN": info.hubspot.access_token},
        sorted(o.id for o in state.owners.values() if not o.archived),
        sorted(str(d.id) for d in live), bodies, "POST /crm/v3/objects/tasks/batch/create",
        sandbox.hubspot_meter, sandbox.hubspot_faults,
    )  # fmt: skip


# ---------------------------------------------------------------- the outbox


def open_store(url: str) -> Store:
    settings = Settings(database_url=url, _env_file=None)
    migrate.upgrade(settings)
    return Store(make_engine(settings))


def queue_tasks(store: Store, crm: Crm, prefix: str) -> list[str]:
    """``TASKS`` tasks over every owner, every second one about a deal; their keys."""
    now = datetime.now(UTC)
    keys = [f"{prefix}-{n:04d}" for n in range(TASKS)]
    with store.unit_of_work() as session:
        kind = CrmKind(crm.name)
        connection_id = add_connection(session, f"sandbox-{crm.name}", kind, crm.options).id
        for n, key in enumerate(keys):
            owner = crm.owners[n % len(crm.owners)]
            deal = crm.deals[n % len(crm.deals)] if n % 2 else None
            payload = {"key": key, "assignee_crm_id": owner, "rep_crm_id": owner,
                       "subject": f"Coach on call volume ({n})",
                       "body": "Calls fell 40% below the rep's own level.",
                       "due_date": date(2026, 12, 31).isoformat(),
                       "priority": ["low", "medium", "high"][n % 3],
                       "opportunity_crm_id": deal}  # fmt: skip
            session.add(
                CrmWrite(connection_id=connection_id, idempotency_key=key, rule_key="calls",
                         rep_crm_id=owner, opportunity_crm_id=deal, assignee_crm_id=owner,
                         budget_owner_crm_id=owner, payload=payload, created_at=now,
                         available_at=now)
            )  # fmt: skip
    return keys


def outbox_rows(store: Store) -> list[CrmWrite]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(CrmWrite).order_by(CrmWrite.id)))


def _wait(condition: Callable[[], bool], what: str, *, every: float = 0.005) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(every)


def leases_expired(store: Store) -> None:
    """Wait until no pending row is held: a run may take the killed runs' rows over."""
    with store.unit_of_work() as session:
        latest = session.scalar(
            select(func.max(CrmWrite.lease_until)).where(CrmWrite.state == OutboxState.PENDING)
        )
    if latest is not None:
        _wait(lambda: datetime.now(UTC) > latest, "the leases to expire", every=0.05)


def retries_due(store: Store) -> int:
    """The rows a run scheduled for a retry become due now: the backoff (minutes at
    least) elapses, as between two cron runs."""
    now = datetime.now(UTC)
    with store.unit_of_work() as session:
        pending = (CrmWrite.state == OutboxState.PENDING) & (CrmWrite.available_at > now)
        result = session.execute(update(CrmWrite).where(pending).values(available_at=now))
        return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- the processes


@dataclass
class Campaign:
    """Runs of ``driftcoach deliver`` on one store and CRM, and what they did."""

    crm: Crm
    store: Store
    database_url: str
    workdir: Path
    tally: Tally
    lease_seconds: int = LEASE_SECONDS
    log_level: str = "WARNING"
    logs: dict[subprocess.Popen[str], Path] = field(default_factory=dict)
    runs_seen: set[str] = field(default_factory=set)  # claimed_by of the rows seen held

    def start(self) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTCOACH_")}
        env.update(self.crm.secrets, DRIFTCOACH_DATABASE_URL=self.database_url,
                   DRIFTCOACH_LOG_LEVEL=self.log_level)  # fmt: skip
        log = self.workdir / f"run-{len(self.logs) + 1:03d}.log"
        with log.open("w") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [str(DRIFTCOACH), "deliver", "--batch-size", str(BATCH),
                 "--lease-seconds", str(self.lease_seconds)],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=self.workdir,
            )  # fmt: skip
        self.logs[process] = log
        return process

    def finish(self, process: subprocess.Popen[str]) -> None:
        """Wait for a run to end by itself; it must succeed. Its counts go to the tally."""
        _wait(lambda: process.poll() is not None, "a run to end", every=0.02)
        output = self.logs[process].read_text()
        assert process.returncode == 0, output
        leaked = [name for name, secret in self.crm.secrets.items() if secret in output]
        assert not leaked, f"{leaked} in the output of a run"  # at any log level
        self.tally.runs += 1
        for created, adopted in COUNTS.findall(output):
            self.tally.created += int(created)
            self.tally.adopted += int(adopted)

    def kill_point(self, rng: random.Random, kills_left: int) -> int:
        """How many more create calls before the next kill: spread the kills left over
        the calls left."""
        in_crm = {key for _, body in self.crm.bodies() for key in MARKER.findall(body)}
        calls_left = -(-(TASKS - len(in_crm)) // BATCH)
        return rng.randint(1, max(1, calls_left // kills_left))

    def kill(self, process: subprocess.Popen[str], creates: int, pause: float) -> bool:
        """SIGKILL ``process`` once ``creates`` more create calls were carried out, and
        ``pause`` seconds on; False when it ended first (it is then finished)."""
        target = self.crm.creates() + creates
        _wait(lambda: self.crm.creates() >= target or process.poll() is not None, "creates")
        if process.poll() is not None:
            self.finish(process)
            return False
        time.sleep(pause)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=PATIENCE) == -signal.SIGKILL
        unrecorded = self._unrecorded()
        self.tally.kills += 1
        self.tally.in_flight += unrecorded > 0
        self.tally.unrecorded += unrecorded
        return True

    def _unrecorded(self) -> int:
        """Rows held by a run first seen now (the one just killed; in a pair, the other
        one's too) whose task the CRM holds already: created, the outbox not told."""
        in_crm = {key for _, body in self.crm.bodies() for key in MARKER.findall(body)}
        rows = outbox_rows(self.store)
        held = [r for r in rows if r.state is OutboxState.PENDING and r.claimed_by]
        new = [row for row in held if row.claimed_by not in self.runs_seen]
        self.runs_seen.update(str(row.claimed_by) for row in held)
        return sum(row.idempotency_key in in_crm for row in new)

    def stop(self) -> None:
        """Kill what still runs (a failed test's processes), reaping every one."""
        for process in self.logs:
            if process.poll() is None:
                process.kill()
                process.wait()

    def drain(self, runs: int = 2) -> None:
        """Once no lease is held, ``runs`` runs to the end, one after the other."""
        leases_expired(self.store)
        for _ in range(runs):
            self.finish(self.start())


# ---------------------------------------------------------------- the outcome


def assert_each_task_once(store: Store, crm: Crm, keys: list[str], tally: Tally) -> None:
    """Every key's marker on exactly one CRM task (deleted ones included), and its row
    done with that task's id, each id distinct; the tally printed."""
    tasks: dict[str, list[str]] = {key: [] for key in keys}
    for crm_id, body in crm.bodies():
        for key in MARKER.findall(body):
            tasks.setdefault(key, []).append(crm_id)
    tally.checked = len(keys)
    tally.duplicates = sum(max(0, len(tasks[key]) - 1) for key in keys)
    tally.losses = sum(not tasks[key] for key in keys)
    print(f"\n{tally}")
    assert (tally.duplicates, tally.losses) == (0, 0)
    rows = outbox_rows(store)
    assert Counter(row.state for row in rows) == {OutboxState.DONE: TASKS}
    assert len({row.crm_record_id for row in rows}) == TASKS
    assert all([row.crm_record_id] == tasks[row.idempotency_key] for row in rows)
    with store.unit_of_work() as session:
        created = select(func.count()).where(WebhookEvent.type == "task.created")
        assert session.scalar(created) == TASKS  # one event per task, too


def faults(crm: Crm, seed: int, *, error_status: int) -> FaultConfig:
    """5xx answers, bursts of throttling and dropped connections, from the first seed
    from ``seed`` on that puts a 5xx and a drop before the first burst (which may stop
    the run): whatever ``DRIFTCOACH_SIGKILL_SEED``, every kind of fault is injected."""
    while True:
        config = FaultConfig(
            error_rate=0.12, error_status=error_status, drop_rate=0.12,
            burst_every=THROTTLE_EVERY[crm.name], burst_length=2, seed=seed,
        )  # fmt: skip
        before_burst = config.burst_every - config.burst_length
        if {FaultKind.ERROR, FaultKind.DROP} <= set(decisions(config, before_burst)):
            return config
        seed += 1


def decisions(config: FaultConfig, requests: int) -> Counter[FaultKind | None]:
    """The faults the sandbox injected into ``requests`` requests: its decisions are
    seeded and taken once per request, so the same injector replays them."""
    replay = FaultInjector(config)
    return Counter(replay.decide().kind for _ in range(requests))
