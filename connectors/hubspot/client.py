"""A careful wrapper around hubspot-api-client: tokens, pacing, retries, usage and budget.

The generated clients do one urllib3 request per call and nothing more (their README's
``Retry(status_forcelist=(429,))`` recipe never retries POST, which search and batch
calls are). Every call of the connector goes through :meth:`HubSpotClient.call`, which

* sends a fresh OAuth token when the old one nears its ``expires_in`` (see ``auth``);
* waits for room in the rate-limit window of its lane first (see ``pacing``);
* on 429 waits ``Retry-After`` when HubSpot sends it, else backs off exponentially with
  jitter, and tries again: a 429 was never applied, so even a create may be resent; a
  ``DAILY`` 429 stops the run (ApiLimitReached, a SyncStopped); a ``SECONDLY`` one (the
  search limit, which no header announces) lowers the search pace by one per second;
* retries 5xx answers, timeouts and dropped connections (responses cut mid-body too)
  with bounded exponential backoff and full jitter for reads; a write is resent only when
  it certainly never reached HubSpot (the connection was refused or never made), otherwise
  it raises UncertainWriteError and the caller looks before it writes again;
* applies the daily-budget rule (see ``usage``) before every call.

Answers are read raw (``_preload_content=False``) and decoded as plain JSON: the
library's model classes cost more CPU than the whole rest of a sync, and the raw
response is also where the rate-limit headers are. The library objects themselves are
built in :mod:`connectors.hubspot.sdk`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from urllib3.exceptions import ConnectTimeoutError
from urllib3.exceptions import HTTPError as TransportError

from connectors.hubspot.auth import TokenSource
from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.errors import (
    ApiLimitReached,
    HubSpotApiError,
    HubSpotAuthError,
    HubSpotUnavailableError,
    UncertainWriteError,
)
from connectors.hubspot.pacing import Lane, Pacer, RateHeaders
from connectors.hubspot.sdk import API_EXCEPTIONS, Apis
from connectors.hubspot.usage import OAUTH_ENDPOINT, UsageTracker
from connectors.tls import certificate_refused

Json = Any
#: Failures below HTTP: worth another try for a read, uncertain for a write.
TRANSIENT: tuple[type[Exception], ...] = (TransportError, OSError, json.JSONDecodeError)
#: A fresh token refused again right away means the credentials are not accepted.
MAX_RENEWALS = 2


Send = Callable[[Apis], Any]


log = logging.getLogger(__name__)


class HubSpotClient:
    def __init__(
        self,
        config: HubSpotConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.usage = UsageTracker(config.budget_share)
        self.pacer = Pacer(config.pacing, timer, sleep)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep, self._jitter = sleep, jitter
        self._tokens = TokenSource(config.auth)
        self._apis: Apis | None = None
        self._token_apis: Apis | None = None

    def call(
        self,
        endpoint: str,
        send: Send,
        *,
        lane: Lane = Lane.STANDARD,
        idempotent: bool = True,
        budgeted: bool = True,
    ) -> Json:
        """``send`` with a live token, pacing, retries and the budget; its decoded JSON."""
        failures = throttles = renewals = 0
        while True:
            apis = self._live_apis()
            self.pacer.before(lane)
            self.usage.before_call(endpoint, budgeted=budgeted)
            try:
                return self._attempt(apis, send, lane)
            except API_EXCEPTIONS as exc:
                status = int(getattr(exc, "status", 0) or 0)
                if status == 429:
                    throttles = self._after_throttle(exc, throttles)
                elif status == 401:
                    renewals = self._after_refusal(exc, renewals)
                elif certificate_refused(exc):
                    raise _certificate_error() from exc
                elif status >= 500 or status == 0:
                    failures = self._after_failure(exc, failures, idempotent, endpoint)
                else:
                    raise _api_error(exc) from None
            except TRANSIENT as exc:
                if certificate_refused(exc):
                    raise _certificate_error() from exc
                failures = self._after_failure(exc, failures, idempotent, endpoint)
            except AttributeError as exc:
                # hubspot-api-client trips over its own error handling when TLS refuses
                # the certificate (it decodes a body that is None); the cause is kept.
                if certificate_refused(exc):
                    raise _certificate_error() from exc
                raise

    def close(self) -> None:
        self._apis = self._token_apis = None

    # ---------------------------------------------------------------- one attempt

    def _attempt(self, apis: Apis, send: Send, lane: Lane) -> Json:
        """One request: the answer decoded, the limit headers recorded either way."""
        headers: Mapping[str, str] | None = None
        try:
            response = send(apis)
            headers = response.headers
            try:
                data = response.data
            except BaseException:
                response.close()
                raise
            response.release_conn()
            return decode_json(data) if data else None
        except API_EXCEPTIONS as exc:
            headers = getattr(exc, "headers", None)
            raise
        finally:
            self._observe(lane, headers)

    def _observe(self, lane: Lane, headers: Mapping[str, str] | None) -> None:
        parsed = RateHeaders.parse(headers) if headers else None
        self.pacer.after(lane, parsed)
        if parsed is not None:
            self.usage.observe(parsed.daily, parsed.daily_remaining)

    # ---------------------------------------------------------------- failures

    def _after_throttle(self, exc: Exception, throttles: int) -> int:
        """A 429: stop on the daily limit, else wait (Retry-After or backoff) and go on."""
        body = _body(exc)
        policy = body.get("policyName")
        if policy == "DAILY":
            raise ApiLimitReached("HubSpot refused the call: the daily limit is reached")
        if policy == "SECONDLY":
            self.pacer.tighten(Lane.SEARCH)  # the search limit is in no header: learn it
        throttles += 1
        if throttles >= self.config.retry.rate_limit_attempts:
            raise _api_error(exc)
        self.usage.retried()
        retry_after = _retry_after(getattr(exc, "headers", None))
        self.pacer.wait(retry_after if retry_after is not None else self._throttle_delay(throttles))
        return throttles

    def _after_refusal(self, exc: Exception, renewals: int) -> int:
        """A 401: an OAuth token may have died early (renew it, twice at most)."""
        renewals += 1
        if not self._tokens.renewable or renewals > MAX_RENEWALS:
            category = str(_body(exc).get("category") or "INVALID_AUTHENTICATION")
            raise HubSpotAuthError(f"HubSpot refused the access token (401 {category})")
        self._tokens.forget()
        return renewals

    def _after_failure(self, exc: Exception, failures: int, idempotent: bool, endpoint: str) -> int:
        """Back off for another try, or re-raise: bounded, and never for uncertain writes."""
        if not idempotent and not never_sent(exc):
            raise UncertainWriteError(
                f"the outcome of {endpoint} is unknown ({type(exc).__name__})"
            ) from exc
        failures += 1
        if failures >= self.config.retry.attempts:
            if isinstance(exc, API_EXCEPTIONS):
                raise _api_error(exc) from None
            raise HubSpotUnavailableError(
                f"no answer to {endpoint} in {failures} attempts ({type(exc).__name__})"
            ) from exc
        self.usage.retried()
        # The error's type only: an SDK message may quote the request, headers included.
        log.debug("%s failed (%s): try %d of %d", endpoint, type(exc).__name__, failures + 1,
                  self.config.retry.attempts)  # fmt: skip
        self.backoff(failures)
        return failures

    def backoff(self, failures: int) -> None:
        """Sleep before try ``failures + 1``: full jitter under a doubling, capped ceiling."""
        self._sleep_for(self._jitter() * self._ceiling(failures))

    def _throttle_delay(self, throttles: int) -> float:
        """Equal jitter: half the ceiling for sure, so a burst of 429s thins out."""
        ceiling = self._ceiling(throttles)
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _ceiling(self, attempt: int) -> float:
        retry = self.config.retry
        return float(min(retry.max_delay_seconds, retry.base_delay_seconds * 2 ** (attempt - 1)))

    def _sleep_for(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    # ---------------------------------------------------------------- tokens

    def _live_apis(self) -> Apis:
        token = self._tokens.current(self._clock())
        if token is None:
            token = self._fetch_token()
            self._apis = None
        if self._apis is None:
            self._apis = Apis(self.config, token.get_secret_value())
        return self._apis

    def _fetch_token(self) -> Any:
        """The refresh-token grant, retried like any read (it changes nothing)."""
        form = self._tokens.refresh_form()
        if self._token_apis is None:
            self._token_apis = Apis(self.config, None)
        apis, failures = self._token_apis, 0
        while True:
            self.usage.before_call(OAUTH_ENDPOINT, budgeted=False)
            try:
                answer = self._attempt(
                    apis,
                    lambda a: a.tokens.create(
                        **form, _preload_content=False, _request_timeout=a.timeout
                    ),
                    Lane.UNPACED,
                )
            except API_EXCEPTIONS as exc:
                status = int(getattr(exc, "status", 0) or 0)
                if 0 < status < 500:
                    message = str(_body(exc).get("status") or f"HTTP {status}")
                    raise HubSpotAuthError(
                        f"HubSpot refused the token refresh: {message}"
                    ) from None
                failures = self._after_failure(exc, failures, True, OAUTH_ENDPOINT)
                continue
            except TRANSIENT as exc:
                if certificate_refused(exc):
                    raise _certificate_error() from exc
                failures = self._after_failure(exc, failures, True, OAUTH_ENDPOINT)
                continue
            return self._tokens.accept(answer if isinstance(answer, dict) else {}, self._clock())


def decode_json(data: bytes) -> Json:
    """orjson's decoder (a third of the standard one's CPU), or the standard one for what
    orjson refuses but Python reads (``NaN``, lone surrogates); a body that is not JSON
    raises ``json.JSONDecodeError`` either way (orjson's error is one). HubSpot's numbers
    are int64 ids and counts, which orjson reads exactly."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _certificate_error() -> HubSpotUnavailableError:
    return HubSpotUnavailableError(
        "TLS refused HubSpot's certificate (CERTIFICATE_VERIFY_FAILED): check ca_bundle"
    )


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached HubSpot: no connection was ever made
    (refused, unresolvable, or the connect itself timed out). urllib3's NewConnectionError
    is a ConnectTimeoutError."""
    return isinstance(exc, ConnectTimeoutError)


def _body(exc: Exception) -> dict[str, Any]:
    raw = getattr(exc, "body", None)
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """``Retry-After`` in seconds (HubSpot sends delta-seconds when it sends it at all)."""
    if not headers:
        return None
    raw = next((value for key, value in headers.items() if key.lower() == "retry-after"), None)
    try:
        return None if raw is None else max(0.0, float(raw))
    except ValueError:
        return None


def _api_error(exc: Exception) -> HubSpotApiError:
    body = _body(exc)
    status = int(getattr(exc, "status", 0) or 0)
    category = str(body.get("category") or body.get("errorType") or "ERROR")
    return HubSpotApiError(status, category, str(body.get("message") or ""))
