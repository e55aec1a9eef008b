"""Access tokens: private-app tokens and the OAuth 2.0 token endpoint.

Private-app tokens (``pat-na1-...``) never expire. OAuth access tokens live
``expires_in`` (1800) seconds of the sandbox clock; refresh tokens do not rotate.
https://developers.hubspot.com/docs/guides/apps/authentication/working-with-oauth

The fault injector's ``token_ttl_calls`` makes any token stop working after that many
authenticated calls, to rehearse a token dying mid-sync.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.hubspot.errors import HubSpotError, new_correlation_id
from sandbox.hubspot.values import iso

ACCESS_TOKEN_SECONDS = 1800

# https://github.com/HubSpot/hubspot-api-nodejs/issues/432 (the body for an unknown token).
_NOT_FOUND = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
    "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_AUTH_FAILURE = {"X-HubSpot-Auth-Failure": "401 Unauthorized"}


@dataclass
class AccessToken:
    kind: Literal["private_app", "oauth"]
    app_id: int
    expires_ms: int | None = None
    calls: int = 0


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    secret: str
    app_id: int


class OAuthError(Exception):
    """A refused token request: HubSpot answers 400 with its own ``status`` codes."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.body = {"status": status, "message": message, "correlationId": new_correlation_id()}


class Credentials:
    """Every token and OAuth client of the portal; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {}
        self._clients: dict[str, OAuthClient] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> client id
        self._codes: dict[str, str] = {}  # authorization code -> client id
        self._next_app = 3_100_001
        self._ttl_epoch: object = None

    def _new_app(self) -> int:
        self._next_app += 1
        return self._next_app - 1

    def issue_private_app_token(self) -> str:
        with self._lock:
            token = f"pat-na1-{uuid.uuid4()}"
            self._tokens[token] = AccessToken("private_app", self._new_app())
            return token

    def register_oauth_client(self) -> tuple[str, str, str]:
        """A public app installed in the portal: (client_id, client_secret, refresh token)."""
        with self._lock:
            client = OAuthClient(str(uuid.uuid4()), str(uuid.uuid4()), self._new_app())
            self._clients[client.client_id] = client
            refresh = f"na1-{uuid.uuid4()}"
            self._refresh[refresh] = client.client_id
            return client.client_id, client.secret, refresh

    def issue_authorization_code(self, client_id: str) -> str:
        """What the install redirect would carry, for the ``authorization_code`` grant."""
        with self._lock:
            if client_id not in self._clients:
                raise KeyError(client_id)
            code = str(uuid.uuid4())
            self._codes[code] = client_id
            return code

    def exchange(self, form: Mapping[str, str], now_ms: int) -> dict[str, Any]:
        """``POST /oauth/v1/token``: a new access token (and the refresh token)."""
        with self._lock:
            client = self._clients.get(form.get("client_id", ""))
            if client is None:
                raise OAuthError("BAD_CLIENT_ID", "missing or unknown client id")
            if form.get("client_secret") != client.secret:
                raise OAuthError("BAD_CLIENT_SECRET", "missing or invalid client secret")
            refresh = self._grant(form, client)
            token = "CO" + secrets.token_urlsafe(48)
            expires = now_ms + ACCESS_TOKEN_SECONDS * 1000
            self._tokens[token] = AccessToken("oauth", client.app_id, expires)
            return {
                "token_type": "bearer",
                "refresh_token": refresh,
                "access_token": token,
                "expires_in": ACCESS_TOKEN_SECONDS,
            }

    def _grant(self, form: Mapping[str, str], client: OAuthClient) -> str:
        grant = form.get("grant_type")
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if self._refresh.get(refresh) != client.client_id:
                raise OAuthError("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            return refresh
        if grant == "authorization_code":
            if self._codes.pop(form.get("code", ""), None) != client.client_id:
                raise OAuthError("BAD_AUTH_CODE", "missing or unknown auth code")
            refresh = f"na1-{uuid.uuid4()}"
            self._refresh[refresh] = client.client_id
            return refresh
        raise OAuthError("BAD_GRANT_TYPE", f"unsupported grant_type: {grant}")

    def authenticate(
        self, authorization: str | None, now_ms: int, ttl_calls: int | None, epoch: object
    ) -> AccessToken:
        """The token behind an ``Authorization: Bearer`` header, or a 401.

        ``epoch`` identifies the fault configuration: a new one restarts call counting.
        """
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            if epoch is not self._ttl_epoch:
                self._ttl_epoch = epoch
                for known in self._tokens.values():
                    known.calls = 0
            found = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if found is None:
                raise HubSpotError(401, _NOT_FOUND, "INVALID_AUTHENTICATION", headers=_AUTH_FAILURE)
            if found.expires_ms is not None and now_ms >= found.expires_ms:
                raise _expired(now_ms - found.expires_ms, found.expires_ms)
            found.calls += 1
            if ttl_calls is not None and found.calls > ttl_calls:
                if found.kind == "oauth":
                    raise _expired(0, now_ms)
                raise HubSpotError(401, _NOT_FOUND, "INVALID_AUTHENTICATION", headers=_AUTH_FAILURE)
            return found


def _expired(ago_ms: int, expired_ms: int) -> HubSpotError:
    """The body HubSpot sends for an expired OAuth token (seen in client issue reports)."""
    seconds = ago_ms // 1000
    amount, unit = seconds, "second"
    for size, name in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            amount, unit = seconds // size, name
            break
    return HubSpotError(
        401,
        f"The OAuth token used to make this call expired {amount} {unit}(s) ago.",
        "EXPIRED_AUTHENTICATION",
        extra={"context": {"expire time": [iso(expired_ms)]}},
        headers=_AUTH_FAILURE,
    )
