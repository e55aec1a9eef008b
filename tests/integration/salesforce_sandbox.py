"""Shared plumbing for tests that run against the sandbox's Salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from sandbox.org import OrgSpec
from sandbox.runner import Sandbox, SandboxInfo, SandboxOptions


def trusted_session(info: SandboxInfo) -> requests.Session:
    """A requests session that trusts the sandbox's CA.

    requests lets REQUESTS_CA_BUNDLE (set on this machine) override ``Session.verify``
    (psf/requests#3829), so the session must opt out of the environment.
    """
    session = requests.Session()
    session.verify = str(info.ca_bundle)
    session.trust_env = False
    return session


def reset(info: SandboxInfo) -> None:
    """Back to the org as loaded: data, faults, meter and clock."""
    trusted_session(info).post(f"{info.salesforce_url}/__sandbox/reset").raise_for_status()


@contextmanager
def running_salesforce(org: OrgSpec) -> Iterator[Sandbox]:
    """A sandbox holding ``org`` in Salesforce only, for a test module."""
    sandbox = Sandbox(SandboxOptions(org=org, placement="salesforce"))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
