"""OAuth and API usage for the fake Salesforce org.

Access tokens are opaque strings bound to a user. They die when the session times out
(sandbox clock), when the ``token_ttl_calls`` fault says so, or when revoked; Salesforce
then answers 401 ``INVALID_SESSION_ID`` and a client must log in again or refresh.

API usage is counted over a rolling 24 hours as Salesforce does; past the allocation
every call is refused with 403 ``REQUEST_LIMIT_EXCEEDED``.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.clock import SandboxClock

DAY = timedelta(days=1)


@dataclass
class Session:
    user_id: str
    issued_at: datetime
    last_used: datetime
    calls: int = 0


@dataclass(frozen=True)
class ConnectedApp:
    client_id: str
    client_secret: str
    run_as_user_id: str  # whom the client-credentials flow acts as


@dataclass
class Login:
    username: str
    password: str
    security_token: str
    user_id: str


@dataclass
class AuthState:
    """Credentials, sessions and the API usage counter. Guarded by one lock."""

    clock: SandboxClock
    session_timeout: timedelta = timedelta(hours=2)
    daily_allocation: int = 100_000
    apps: dict[str, ConnectedApp] = field(default_factory=dict)
    logins: dict[str, Login] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    _usage: deque[datetime] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- credentials

    def add_connected_app(self, run_as_user_id: str) -> ConnectedApp:
        app = ConnectedApp(
            client_id="3MVG9" + secrets.token_urlsafe(24).replace("-", "x"),
            client_secret=secrets.token_hex(32),
            run_as_user_id=run_as_user_id,
        )
        self.apps[app.client_id] = app
        return app

    def add_login(self, username: str, password: str, user_id: str) -> Login:
        login = Login(username, password, secrets.token_urlsafe(18), user_id)
        self.logins[username.lower()] = login
        return login

    def issue(self, user_id: str, *, with_refresh: bool) -> tuple[str, str | None]:
        token = f"00D8W0000000001!{secrets.token_urlsafe(72)}"
        now = self.clock.now()
        refresh = secrets.token_urlsafe(48) if with_refresh else None
        with self._lock:
            self.sessions[token] = Session(user_id, now, now)
            if refresh:
                self.refresh_tokens[refresh] = user_id
        return token, refresh

    def revoke(self, token: str) -> None:
        with self._lock:
            self.sessions.pop(token, None)
            self.refresh_tokens.pop(token, None)

    # ---------------------------------------------------------------- per request

    def authenticate(self, token: str | None, ttl_calls: int | None) -> Session | None:
        """The live session behind ``token``, counting the call; None if it is dead."""
        if not token:
            return None
        now = self.clock.now()
        with self._lock:
            session = self.sessions.get(token)
            if session is None:
                return None
            expired = now - session.last_used > self.session_timeout
            if expired or (ttl_calls is not None and session.calls >= ttl_calls):
                del self.sessions[token]
                return None
            session.calls += 1
            session.last_used = now
            return session

    def allocation(self, override: int | None) -> int:
        return self.daily_allocation if override is None else override

    def count_call(self, override: int | None) -> bool:
        """Count one API call; False (and not counted) when the allocation is used up."""
        now = self.clock.now()
        with self._lock:
            self._trim(now)
            if len(self._usage) >= self.allocation(override):
                return False
            self._usage.append(now)
            return True

    def usage(self) -> int:
        with self._lock:
            self._trim(self.clock.now())
            return len(self._usage)

    def reset_usage(self) -> None:
        with self._lock:
            self._usage.clear()

    def _trim(self, now: datetime) -> None:
        while self._usage and now - self._usage[0] >= DAY:
            self._usage.popleft()
