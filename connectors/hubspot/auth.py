"""Access tokens: a private app's fixed token, or OAuth tokens renewed ahead of expiry.

HubSpot's OAuth access tokens live ``expires_in`` seconds (30 minutes); refresh tokens
do not expire until the app is uninstalled
(https://developers.hubspot.com/docs/guides/apps/authentication/working-with-oauth).
HubSpot advises refreshing on ``expires_in`` rather than on a 401, so the token is
renewed ``refresh_margin_seconds`` before it runs out; a 401 saying the token expired
(clock skew, a revoked token) gets one renewal more, never a loop.

Pure: the HTTP call belongs to the client, which passes the token endpoint's answer in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from connectors.hubspot.config import AuthConfig, OAuthAuth
from connectors.hubspot.errors import HubSpotAuthError


@dataclass(frozen=True)
class Grant:
    access_token: SecretStr
    renew_at: datetime | None  # None: never (private apps)


class TokenSource:
    """The token to send now, and whether it must be renewed first."""

    def __init__(self, auth: AuthConfig) -> None:
        self.auth = auth
        self._grant: Grant | None = None
        if not isinstance(auth, OAuthAuth):
            self._grant = Grant(auth.access_token, None)

    @property
    def renewable(self) -> bool:
        return isinstance(self.auth, OAuthAuth)

    def current(self, now: datetime) -> SecretStr | None:
        """The token, or None when it must be (re)fetched first."""
        grant = self._grant
        if grant is None:
            return None
        if grant.renew_at is not None and now >= grant.renew_at:
            return None
        return grant.access_token

    def forget(self) -> None:
        """The server refused the token: fetch a new one before the next call."""
        if self.renewable:
            self._grant = None

    def refresh_form(self) -> dict[str, str]:
        """The token endpoint's arguments for the refresh-token grant."""
        auth = self.auth
        if not isinstance(auth, OAuthAuth):
            raise HubSpotAuthError("a private app token cannot be renewed: replace it")
        return {
            "grant_type": "refresh_token",
            "client_id": auth.client_id,
            "client_secret": auth.client_secret.get_secret_value(),
            "refresh_token": auth.refresh_token.get_secret_value(),
        }

    def accept(self, answer: Mapping[str, Any], now: datetime) -> SecretStr:
        """Keep the token of a token endpoint answer; HubSpotAuthError if it has none."""
        token = answer.get("access_token")
        if not token:
            raise HubSpotAuthError("the token endpoint answered without an access token")
        self._grant = Grant(SecretStr(str(token)), self._renew_at(answer.get("expires_in"), now))
        return self._grant.access_token

    def _renew_at(self, expires_in: Any, now: datetime) -> datetime | None:
        """The margin before expiry, but never more than half the token's life (a short-lived
        token must still be used before it is renewed)."""
        if expires_in is None:
            return None
        lifetime = max(0, int(expires_in))
        auth = self.auth
        margin = auth.refresh_margin_seconds if isinstance(auth, OAuthAuth) else 0
        return now + timedelta(seconds=lifetime - min(margin, lifetime / 2))
