"""OAuth for the connector: the token request of each login method, and its answer.

simple-salesforce's own login helpers build ``https://{domain}.salesforce.com`` URLs and
cannot reach a My Domain token endpoint on another host (nor the sandbox), so the
connector posts the OAuth form itself, with the same ``requests.Session``, and hands the
access token to ``Salesforce(instance_url=..., session_id=...)``.

Grants: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flows.htm
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from connectors.salesforce.config import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    PasswordAuth,
    SalesforceConfig,
    SessionAuth,
)
from connectors.salesforce.errors import SalesforceAuthError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts assertions valid for at most 3 minutes.
JWT_LIFETIME = timedelta(minutes=3)


@dataclass(frozen=True)
class Grant:
    """A usable session: the access token (kept secret) and the org's instance URL."""

    access_token: SecretStr
    instance_url: str


def initial_grant(config: SalesforceConfig) -> Grant | None:
    """The session configured up front (session auth), or None: log in first."""
    if isinstance(config.auth, SessionAuth) and config.instance_url:
        return Grant(config.auth.session_id, config.instance_url)
    return None


def token_form(config: SalesforceConfig, now: datetime) -> dict[str, str]:
    """The OAuth form that (re)logs in with the configured method.

    Raises SalesforceAuthError for a bare session: it cannot be renewed.
    """
    auth = config.auth
    if isinstance(auth, ClientCredentialsAuth):
        return {
            "grant_type": "client_credentials",
            "client_id": auth.client_id,
            "client_secret": auth.client_secret.get_secret_value(),
        }
    if isinstance(auth, PasswordAuth):
        return {
            "grant_type": "password",
            "client_id": auth.client_id,
            "client_secret": auth.client_secret.get_secret_value(),
            "username": auth.username,
            "password": auth.password.get_secret_value() + auth.security_token.get_secret_value(),
        }
    if isinstance(auth, JwtBearerAuth):
        return {"grant_type": JWT_GRANT, "assertion": jwt_assertion(auth, now)}
    return _refresh_form(auth)


def _refresh_form(auth: SessionAuth) -> dict[str, str]:
    if auth.refresh_token is None or auth.client_id is None:
        raise SalesforceAuthError(
            "the Salesforce session expired or is invalid, and no refresh token and client"
            " id are configured to renew it: configure them or another login method"
        )
    form = {
        "grant_type": "refresh_token",
        "client_id": auth.client_id,
        "refresh_token": auth.refresh_token.get_secret_value(),
    }
    if auth.client_secret is not None:
        form["client_secret"] = auth.client_secret.get_secret_value()
    return form


def jwt_assertion(auth: JwtBearerAuth, now: datetime) -> str:
    """An RS256-signed JWT: iss = connected app, sub = user, aud = login host.

    https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
    """
    header = _b64url(json.dumps({"alg": "RS256"}).encode())
    claims = {
        "iss": auth.client_id,
        "sub": auth.username,
        "aud": auth.audience,
        "exp": int((now + JWT_LIFETIME).timestamp()),
    }
    signing_input = f"{header}.{_b64url(json.dumps(claims).encode())}"
    signature = _private_key(auth).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _private_key(auth: JwtBearerAuth) -> rsa.RSAPrivateKey:
    if auth.private_key is not None:
        pem = auth.private_key.get_secret_value().encode()
    elif auth.private_key_path is not None:
        pem = auth.private_key_path.read_bytes()
    else:  # pragma: no cover - the config model requires one of them
        raise SalesforceAuthError("no private key configured for the JWT bearer flow")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SalesforceAuthError("the JWT private key is not an unencrypted PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SalesforceAuthError("the JWT private key must be an RSA key (RS256)")
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_grant(response: requests.Response, config: SalesforceConfig) -> Grant:
    """The session in a token response; SalesforceAuthError when the grant was refused.

    OAuth errors are ``{"error", "error_description"}``; neither echoes the credentials.
    """
    body = _json(response)
    if response.status_code != 200 or "access_token" not in body:
        error = str(body.get("error", f"HTTP {response.status_code}"))
        description = str(body.get("error_description", ""))
        raise SalesforceAuthError(f"Salesforce refused the login: {error} {description}".strip())
    instance_url = str(body.get("instance_url") or config.instance_url or "")
    if not instance_url:
        raise SalesforceAuthError("the token response named no instance_url")
    return Grant(SecretStr(str(body["access_token"])), instance_url)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
