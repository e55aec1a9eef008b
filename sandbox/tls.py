"""HTTPS for the sandbox from a certificate authority made on start.

simple-salesforce builds every URL as ``https://`` from the instance URL, so the fake
Salesforce must speak TLS. A throwaway CA (``trustme``) signs a certificate for
127.0.0.1/localhost; its bundle is written to a file that clients pass as ``verify=``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class SandboxTls:
    server_context: ssl.SSLContext
    ca_bundle: Path


def make_tls(
    directory: Path, hostnames: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> SandboxTls:
    """Create a CA and a server certificate; write the CA bundle into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="driftcoach sandbox")
    certificate = authority.issue_cert(*hostnames)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    bundle = directory / "sandbox-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return SandboxTls(server_context=context, ca_bundle=bundle)
