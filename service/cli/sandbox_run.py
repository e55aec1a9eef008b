"""``driftcoach sandbox``: run the fake CRMs in the foreground until interrupted."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from types import FrameType

from sandbox.org import SalesOrg
from sandbox.runner import Sandbox, SandboxInfo, SandboxOptions, describe


def org_summary(info: SandboxInfo) -> str:
    """A short human summary of the seeded org and where it was placed."""
    org = info.org
    truth = {t.user_id: t for t in org.truth}
    drifting = [user for user in org.users if truth.get(user.id) and truth[user.id].drifts]
    reps = sum(1 for user in org.users if user.role == "Account Executive")
    lines = [
        f"seeded org: {len(org.teams)} teams, {reps} reps, {len(org.deals)} deals,"
        f" {len(org.activities)} activities,"
        f" {len(org.quotas)} quotas (seed {org.spec.seed}, history to {org.spec.as_of})",
        f"placed by team: {_reps_in(info.salesforce_ids, org)} reps in Salesforce,"
        f" {_reps_in(info.hubspot_ids, org)} in HubSpot",
        "drifting reps (ground truth):",
    ]
    for user in drifting:
        rep = truth[user.id]
        lines.append(
            f"  - {user.name}: from {rep.drift_start} on {', '.join(rep.drifting_indicators)};"
            f" final attainment {rep.final_attainment:.0%}"
        )
    return "\n".join(lines)


def _reps_in(ids: dict[str, str], org: SalesOrg) -> int:
    return sum(1 for user in org.users if user.role == "Account Executive" and user.id in ids)


def run_until_stopped(
    options: SandboxOptions, echo: Callable[[str], None], *, as_json: bool = False
) -> None:
    """Start the sandbox, print how to reach it, and block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    sandbox = Sandbox(options)
    try:
        info = sandbox.start()
        if as_json:
            echo(json.dumps(describe(info), indent=2))
        else:
            echo(_human(info))
        stop.wait()
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _human(info: SandboxInfo) -> str:
    details = describe(info)
    sf, hs = details["salesforce"], details["hubspot"]
    return "\n".join(
        [
            f"sandbox ready in {info.startup_seconds:.1f}s",
            "",
            f"Salesforce  {sf['instance_url']}  (token URL {sf['token_url']})",
            f"  client_id={sf['client_id']}",
            f"  client_secret={sf['client_secret']}",
            f"  username={sf['username']} password={sf['password']}"
            f" security_token={sf['security_token']}",
            f"  refresh_token={sf['refresh_token']}",
            f"HubSpot     {hs['base_url']}",
            f"  access_token={hs['access_token']}",
            f"  client_id={hs['client_id']} client_secret={hs['client_secret']}"
            f" refresh_token={hs['refresh_token']}",
            f"CA bundle   {details['ca_bundle']}",
            "",
            org_summary(info),
            "",
            "admin: GET /__sandbox/meter, PUT /__sandbox/faults, POST /__sandbox/clock,"
            " POST /__sandbox/reset, POST /__sandbox/import (Salesforce). Ctrl-C stops.",
        ]
    )
