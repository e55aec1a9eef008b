"""``driftcoach sandbox`` as an operator runs it: start, connect with the real clients, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce.api import Salesforce

DRIFTCOACH = Path(sys.executable).with_name("driftcoach")


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [
            str(DRIFTCOACH),
            "sandbox",
            "--json",
            "--reps",
            "4",
            "--managers",
            "2",
            "--months",
            "3",
            "--as-of",
            "2026-11-20",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DRIFTCOACH_")},
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # the JSON document ends with a lone closing brace
        lines.append(line)
        if line.rstrip() == "}":
            break
    return process, json.loads("".join(lines))


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=20)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return code


def test_sandbox_prints_working_credentials_for_both_crms_and_stops_cleanly():
    process, details = _start()
    try:
        sf_details, hs_details = details["salesforce"], details["hubspot"]
        session = requests.Session()
        session.verify = details["ca_bundle"]
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        grant = session.post(
            sf_details["token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": sf_details["client_id"],
                "client_secret": sf_details["client_secret"],
            },
        ).json()
        sf = Salesforce(
            instance_url=grant["instance_url"], session_id=grant["access_token"], session=session
        )
        assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] > 0
        hubspot = HubSpot(access_token=hs_details["access_token"], host=hs_details["base_url"])
        owners = hubspot.crm.owners.owners_api.get_page(limit=100).results
        assert owners
    finally:
        code = _stop(process)
    assert code == 0
    assert not Path(details["ca_bundle"]).exists()  # the temporary CA is cleaned up


def test_faults_can_be_set_at_start():
    process, details = _start("--hubspot-faults", '{"error_rate": 1.0, "error_status": 502}')
    try:
        response = requests.get(
            f"{details['hubspot']['base_url']}/crm/v3/owners",
            headers={"Authorization": f"Bearer {details['hubspot']['access_token']}"},
            timeout=10,
        )
        assert response.status_code == 502
    finally:
        assert _stop(process) == 0


def test_invalid_faults_are_refused_with_a_clear_error():
    result = subprocess.run(
        [str(DRIFTCOACH), "sandbox", "--salesforce-faults", '{"error_rate": 3}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "error_rate" in result.stderr


def _without_the_sandbox_extra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in an interpreter where the extra's dependency cannot be imported
    (``None`` in ``sys.modules`` makes ``import trustme`` fail, as when not installed)."""
    script = (
        "import sys; sys.modules['trustme'] = None\n"
        "from service.cli.main import main; sys.argv = ['driftcoach', *sys.argv[1:]]; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("DRIFTCOACH_")},
    )


@pytest.mark.parametrize("command", [["sandbox"], ["demo", "--path", "unused.db"]])
def test_without_the_sandbox_extra_the_commands_say_how_to_install_it(
    command: list[str], tmp_path: Path
):
    result = _without_the_sandbox_extra(*command, cwd=tmp_path)
    assert result.returncode == 1
    assert "pip install 'driftcoach[sandbox]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "unused.db").exists()


def test_without_the_sandbox_extra_the_service_commands_still_run(tmp_path: Path):
    result = _without_the_sandbox_extra(
        "--database-url", f"sqlite:///{tmp_path / 'store.db'}", "db", "upgrade", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "is at" in result.stdout
