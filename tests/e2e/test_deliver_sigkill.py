"""``driftcoach deliver`` killed with SIGKILL at random points while it writes 1,000 tasks
into a sandbox CRM over HTTPS, then run again: every task exists exactly once in the CRM.

Real processes (the installed console script), real HTTPS to the sandbox, a real
``os.kill(pid, SIGKILL)``. A kill is placed by the sandbox's meter: once the CRM has
carried out ``k`` more create calls (``k`` drawn from a seeded RNG), after a drawn pause.
The sandbox holds every answer back (``latency_ms``) after it has done the work, so a
kill without a pause lands while a create is in flight: the tasks exist in the CRM and
the outbox does not know it. A later run takes those rows over once their lease has
expired (``--lease-seconds``, short here) and must find the tasks by their marker.

``DRIFTCOACH_SIGKILL_ROUNDS`` (default 3) sets the kills per CRM on SQLite and, divided
by three, the kill rounds of the two PostgreSQL workers; ``DRIFTCOACH_SIGKILL_SEED`` the
seed. Run with ``-s`` to see each campaign's seed and tally.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from sandbox.faults import FaultConfig, FaultKind
from sandbox.runner import Sandbox, SandboxOptions
from service.store.tables import OutboxState
from tests.e2e.sigkill_support import (
    IN_FLIGHT_LATENCY_MS,
    LATENCY_MS,
    ORG,
    PAIR_LEASE_SECONDS,
    ROUNDS,
    SEED,
    Campaign,
    Crm,
    Tally,
    assert_each_task_once,
    decisions,
    faults,
    hubspot_crm,
    leases_expired,
    open_store,
    outbox_rows,
    queue_tasks,
    retries_due,
    salesforce_crm,
)
from tests.integration.salesforce_sandbox import trusted_session

# ---------------------------------------------------------------- the sandbox CRMs


def _running(options: SandboxOptions) -> Iterator[Sandbox]:
    sandbox = Sandbox(options)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def salesforce_sandbox() -> Iterator[Sandbox]:
    yield from _running(SandboxOptions(org=ORG, placement="salesforce"))


@pytest.fixture(scope="module")
def hubspot_sandbox() -> Iterator[Sandbox]:
    yield from _running(SandboxOptions(org=ORG, placement="hubspot", hubspot_tls=True))


@pytest.fixture(params=["salesforce", "hubspot"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    """Each CRM in turn, back to its seeded state (no faults, a zero meter) afterwards."""
    sandbox: Sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    info = sandbox.info
    assert info is not None
    yield salesforce_crm(sandbox) if request.param == "salesforce" else hubspot_crm(sandbox)
    url = info.salesforce_url if request.param == "salesforce" else info.hubspot_url
    trusted_session(info).post(f"{url}/__sandbox/reset").raise_for_status()


# ---------------------------------------------------------------- the campaigns


@pytest.fixture
def campaign(crm: Crm, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Campaign]:
    """A store (SQLite, or PostgreSQL for tests that ask for it) holding ``TASKS`` tasks
    for ``crm``, and the runs made on it, all reaped at the end."""
    if "postgres_schema_url" in request.fixturenames:
        url: URL = request.getfixturevalue("postgres_schema_url")
        database_url, backend = url.render_as_string(hide_password=False), "postgresql"
    else:
        database_url, backend = f"sqlite:///{tmp_path / 'store.db'}", "sqlite"
    seed = SEED ^ zlib.crc32(f"{request.node.originalname}/{crm.name}".encode())
    print(f"\n{crm.name} on {backend}: seed {seed} (DRIFTCOACH_SIGKILL_SEED={SEED})")
    store = open_store(database_url)
    running = Campaign(crm, store, database_url, tmp_path, Tally(crm.name, seed))
    try:
        yield running
    finally:
        crm.faults.configure(FaultConfig())
        running.stop()
        store.dispose()


def test_killed_at_random_points_then_run_again_each_task_is_in_the_crm_exactly_once(
    campaign: Campaign,
):
    crm, rng = campaign.crm, random.Random(campaign.tally.seed)  # noqa: S311 - kill points
    keys = queue_tasks(campaign.store, crm, f"kill-{crm.name}")
    for round_ in range(ROUNDS):
        in_flight = round_ == 0 or rng.random() < 0.3
        latency = IN_FLIGHT_LATENCY_MS if in_flight else LATENCY_MS
        crm.faults.configure(FaultConfig(latency_ms=latency))
        pause = 0.0 if in_flight else rng.uniform(0.0, 2 * LATENCY_MS / 1000)
        creates = campaign.kill_point(rng, ROUNDS - round_)
        if not campaign.kill(campaign.start(), creates, pause):
            break  # it delivered the rest before the kill point
    crm.faults.configure(FaultConfig())
    campaign.drain()

    # The first kill came while the CRM held back its answer to a create it had made.
    assert campaign.tally.in_flight >= 1
    assert_each_task_once(campaign.store, crm, keys, campaign.tally)


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_schema_url")
def test_two_workers_on_postgresql_one_killed_then_both_run_again_each_task_is_once(
    campaign: Campaign,
):
    crm, rng = campaign.crm, random.Random(campaign.tally.seed)  # noqa: S311 - kill points
    keys = queue_tasks(campaign.store, crm, f"pair-{crm.name}")
    campaign.lease_seconds = PAIR_LEASE_SECONDS
    crm.faults.configure(FaultConfig(latency_ms=LATENCY_MS))
    rounds = max(1, ROUNDS // 3)
    for round_ in range(rounds):
        pair = [campaign.start(), campaign.start()]  # started together
        victim, kills_left = rng.randrange(2), 2 * (rounds - round_)
        campaign.kill(pair[victim], campaign.kill_point(rng, kills_left), rng.uniform(0, 0.3))
        if round_ < rounds - 1:  # a longer campaign: the other one dies too, later
            creates = campaign.kill_point(rng, kills_left - 1)
            campaign.kill(pair[1 - victim], creates, rng.uniform(0, 0.3))
        else:
            campaign.finish(pair[1 - victim])
        leases_expired(campaign.store)
    for process in [campaign.start(), campaign.start()]:  # both run again, together
        campaign.finish(process)
    crm.faults.configure(FaultConfig())
    campaign.drain(runs=1)

    assert campaign.tally.kills >= 1
    assert_each_task_once(campaign.store, crm, keys, campaign.tally)


def test_server_errors_throttling_and_dropped_connections_change_nothing_in_the_outcome(
    campaign: Campaign,
):
    crm, store = campaign.crm, campaign.store
    campaign.log_level = "DEBUG"  # the retries logged, the CRM's secrets never
    keys = queue_tasks(store, crm, f"faults-{crm.name}")
    injected: Counter[FaultKind | None] = Counter()
    made_due = 0
    for run in range(40):  # cron runs, each after the retries the last one scheduled
        if all(row.state is OutboxState.DONE for row in outbox_rows(store)):
            break
        made_due += retries_due(store)
        config = faults(crm, campaign.tally.seed + run, error_status=(500, 502, 503)[run % 3])
        before = crm.meter.calls()
        crm.faults.configure(config)
        campaign.finish(campaign.start())
        injected += decisions(config, crm.meter.calls() - before)
    crm.faults.configure(FaultConfig())

    kinds = {"5xx": FaultKind.ERROR, "throttled": FaultKind.THROTTLE, "dropped": FaultKind.DROP}
    campaign.tally.extra.update({name: injected[kind] for name, kind in kinds.items()})
    campaign.tally.extra["retries made due early"] = made_due
    assert all(injected[kind] > 0 for kind in kinds.values()), injected
    assert any(" DEBUG " in log.read_text() for log in campaign.logs.values())  # it did log
    assert_each_task_once(store, crm, keys, campaign.tally)
