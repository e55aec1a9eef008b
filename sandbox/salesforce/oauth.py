"""``POST /services/oauth2/token``: the OAuth 2.0 grants a server-to-server client uses.

Supported: client credentials, username-password, refresh token and JWT bearer. The JWT's
signature is not verified (the sandbox has no certificate upload); its claims are:
``iss`` must be a connected app's client id, ``sub`` a known username, ``exp`` future.
Errors use OAuth's shape (``{"error", "error_description"}``), not the REST API's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from sandbox.http import Request, Response
from sandbox.salesforce.state import ORG_ID, SalesforceState

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def token_endpoint(state: SalesforceState, request: Request) -> Response:
    form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
    grant = form.get("grant_type", "")
    handlers = {
        "client_credentials": _client_credentials,
        "password": _password,
        "refresh_token": _refresh,
        JWT_GRANT: _jwt_bearer,
    }
    handler = handlers.get(grant)
    if handler is None:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    _fill_basic_auth(request, form)
    return handler(state, form)


def _fill_basic_auth(request: Request, form: dict[str, str]) -> None:
    header = request.header("authorization") or ""
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return
        form.setdefault("client_id", client_id)
        form.setdefault("client_secret", secret)


def _client_credentials(state: SalesforceState, form: dict[str, str]) -> Response:
    app = state.auth.apps.get(form.get("client_id", ""))
    if app is None:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(app.client_secret, form.get("client_secret", "")):
        return _oauth_error("invalid_client", "invalid client credentials")
    return _grant(state, app.run_as_user_id, with_refresh=False)


def _password(state: SalesforceState, form: dict[str, str]) -> Response:
    app = state.auth.apps.get(form.get("client_id", ""))
    if app is None:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(app.client_secret, form.get("client_secret", "")):
        return _oauth_error("invalid_client", "invalid client credentials")
    login = state.auth.logins.get(form.get("username", "").lower())
    # The security token is appended to the password, as Salesforce expects from
    # clients outside the org's trusted IP ranges.
    if login is None or form.get("password") != login.password + login.security_token:
        return _oauth_error("invalid_grant", "authentication failure")
    return _grant(state, login.user_id, with_refresh=False)


def _refresh(state: SalesforceState, form: dict[str, str]) -> Response:
    if form.get("client_id", "") not in state.auth.apps:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    user_id = state.auth.refresh_tokens.get(form.get("refresh_token", ""))
    if user_id is None:
        return _oauth_error("invalid_grant", "expired access/refresh token")
    return _grant(state, user_id, with_refresh=False)


def _jwt_bearer(state: SalesforceState, form: dict[str, str]) -> Response:
    claims = _jwt_claims(form.get("assertion", ""))
    if claims is None:
        return _oauth_error("invalid_grant", "invalid assertion")
    if str(claims.get("iss", "")) not in state.auth.apps:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    login = state.auth.logins.get(str(claims.get("sub", "")).lower())
    expires = claims.get("exp")
    now = state.clock.now().timestamp()
    if login is None:
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    if not isinstance(expires, int | float) or expires < now:
        return _oauth_error("invalid_grant", "expired authorization code")
    return _grant(state, login.user_id, with_refresh=False)


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _grant(state: SalesforceState, user_id: str, *, with_refresh: bool) -> Response:
    token, refresh = state.auth.issue(user_id, with_refresh=with_refresh)
    issued_at = str(int(state.clock.now().timestamp() * 1000))
    signature = base64.b64encode(
        hmac.new(b"sandbox", (state.instance_url + issued_at).encode(), hashlib.sha256).digest()
    ).decode()
    body: dict[str, Any] = {
        "access_token": token,
        "instance_url": state.instance_url,
        "id": f"{state.instance_url}/id/{ORG_ID}/{user_id}",
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
    }
    if refresh:
        body["refresh_token"] = refresh
    return Response.json(200, body)


def _oauth_error(error: str, description: str) -> Response:
    return Response.json(400, {"error": error, "error_description": description})
