"""A thin, careful wrapper around simple-salesforce: login, retries, usage and budget.

simple-salesforce does one HTTP request per call and nothing more: no retry on 5xx,
timeouts or dropped connections, no renewal of a session it did not log in itself, no
budget. Every call of the connector goes through :meth:`SalesforceClient.call`, which

* logs in lazily and logs in again on 401 ``INVALID_SESSION_ID``, whatever the method;
* retries 5xx answers, timeouts and connection errors (responses cut mid-body included)
  with bounded exponential backoff and full jitter, then re-raises;
* never blindly resends a write whose outcome is unknown: it raises UncertainWriteError;
* turns 403 ``REQUEST_LIMIT_EXCEEDED`` and the budget rule (see ``usage``) into
  ApiLimitReached, a SyncStopped.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connectors.salesforce.auth import Grant, initial_grant, parse_grant, token_form
from connectors.salesforce.config import SalesforceConfig
from connectors.salesforce.errors import (
    ApiLimitReached,
    QueryCursorLostError,
    SalesforceAuthError,
    UncertainWriteError,
)
from connectors.salesforce.usage import LOGIN_ENDPOINT, UsageTracker
from connectors.tls import certificate_refused

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = dict[str, Any]

#: Failures of the transport: worth another try for a read, uncertain for a write.
TRANSIENT: tuple[type[Exception], ...] = (
    requests.ConnectionError,  # refused, reset, cut mid-body (urllib3 ProtocolError)
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # body shorter than Content-Length
    requests.exceptions.ContentDecodingError,
    requests.exceptions.InvalidJSONError,  # a truncated JSON body
)
#: A fresh session rejected again right away means the login itself is not accepted.
MAX_RENEWALS = 2


def error_code(exc: SalesforceError) -> str | None:
    """The ``errorCode`` of Salesforce's JSON error list (``[{message, errorCode}]``)."""
    content: Any = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        code = content[0].get("errorCode")
        return str(code) if code is not None else None
    return None


class _HttpSession(requests.Session):
    """A requests session with default timeouts and the configured CA bundle.

    requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify`` (psf/requests#3829),
    so with a custom bundle the environment is not trusted at all.
    """

    def __init__(self, config: SalesforceConfig) -> None:
        super().__init__()
        retry = config.retry
        self._timeout = (retry.connect_timeout_seconds, retry.read_timeout_seconds)
        if config.ca_bundle is not None:
            self.verify = str(config.ca_bundle)
            self.trust_env = False

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class SalesforceClient:
    def __init__(
        self,
        config: SalesforceConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.usage = UsageTracker(config.budget_share)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep, self._jitter = sleep, jitter
        self._http = _HttpSession(config)
        self._http.hooks["response"].append(self._on_response)
        self._grant: Grant | None = initial_grant(config)
        self._sf: Salesforce | None = None

    # ---------------------------------------------------------------- calls

    def call(
        self,
        endpoint: str,
        action: Callable[[Salesforce], T],
        *,
        budgeted: bool = True,
        idempotent: bool = True,
    ) -> T:
        """Run ``action`` against a live session, with renewal, retries and the budget."""
        failures = renewals = 0
        while True:
            sf = self._salesforce()
            self.usage.before_call(endpoint, budgeted=budgeted)
            try:
                return action(sf)
            except SalesforceExpiredSession:
                renewals += 1
                if renewals > MAX_RENEWALS:
                    raise SalesforceAuthError("Salesforce rejects every new session") from None
                self._renew()
            except SalesforceRefusedRequest as exc:
                if error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                    raise ApiLimitReached(
                        "Salesforce refused the call: REQUEST_LIMIT_EXCEEDED"
                    ) from None
                raise
            except SalesforceError as exc:
                if exc.status < 500:
                    raise
                failures = self._after_failure(exc, failures, idempotent)
            except TRANSIENT as exc:
                if certificate_refused(exc):
                    raise
                failures = self._after_failure(exc, failures, idempotent)

    def query_pages(
        self, soql: str, *, include_deleted: bool, budgeted: bool = True
    ) -> Iterator[list[Row]]:
        """One list of rows per ``query``/``queryMore`` batch, fetched as consumed.

        simple-salesforce's ``query_all_iter`` is lazy too, but it retries nothing; a page
        at a time also lets the caller checkpoint after each one.
        """
        headers = self._query_headers()
        endpoint = "queryAll" if include_deleted else "query"

        def first(sf: Salesforce) -> Row:
            return cast(Row, sf.query(soql, include_deleted=include_deleted, headers=headers))

        result = self.call(endpoint, first, budgeted=budgeted)
        while True:
            yield list(result.get("records", []))
            if result.get("done", True):
                return
            result = self._more(str(result["nextRecordsUrl"]), endpoint, headers, budgeted)

    def _more(self, next_url: str, endpoint: str, headers: dict[str, str], budgeted: bool) -> Row:
        def more(sf: Salesforce) -> Row:
            return cast(Row, sf.query_more(next_url, identifier_is_url=True, headers=headers))

        try:
            return self.call(f"{endpoint} more", more, budgeted=budgeted)
        except SalesforceMalformedRequest as exc:
            if error_code(exc) == "INVALID_QUERY_LOCATOR":
                raise QueryCursorLostError("the query cursor expired or was freed") from None
            raise

    def _query_headers(self) -> dict[str, str]:
        # A request, not a guarantee: Salesforce may send smaller batches.
        size = self.config.page_size
        return {} if size == 2000 else {"Sforce-Query-Options": f"batchSize={size}"}

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- failures

    def _after_failure(self, exc: Exception, failures: int, idempotent: bool) -> int:
        """Back off for another try, or re-raise: bounded, and never for uncertain writes."""
        if not idempotent and not _never_sent(exc):
            raise UncertainWriteError(
                f"the outcome of a write is unknown ({type(exc).__name__})"
            ) from exc
        failures += 1
        if failures >= self.config.retry.attempts:
            raise exc
        self.usage.retried()
        # The error's type only: a message may quote the request.
        log.debug("a call failed (%s): try %d of %d", type(exc).__name__, failures + 1,
                  self.config.retry.attempts)  # fmt: skip
        self.backoff(failures)
        return failures

    def backoff(self, failures: int) -> None:
        """Sleep before try ``failures + 1``: full jitter under a doubling, capped ceiling."""
        retry = self.config.retry
        ceiling = min(retry.max_delay_seconds, retry.base_delay_seconds * 2 ** (failures - 1))
        self._sleep(self._jitter() * ceiling)

    # ---------------------------------------------------------------- sessions

    def _salesforce(self) -> Salesforce:
        if self._sf is None:
            if self._grant is None:
                self._grant = self._login()
            self._sf = Salesforce(
                instance_url=self._grant.instance_url,
                session_id=self._grant.access_token.get_secret_value(),
                session=self._http,
                version=self.config.api_version,
                parse_float=Decimal,  # money stays exact
                # None: the C decoder builds plain dicts itself (dict() over pairs is
                # a third slower; simple-salesforce's default is OrderedDict).
                object_pairs_hook=None,
            )
        return self._sf

    def _renew(self) -> None:
        self._sf, self._grant = None, None
        self._grant = self._login()

    def _login(self) -> Grant:
        """Post the OAuth form, retrying transport failures and 5xx like any read."""
        failures = 0
        while True:
            form = token_form(self.config, self._clock())
            self.usage.before_call(LOGIN_ENDPOINT, budgeted=False)
            try:
                response = self._http.post(self.config.oauth_token_url, data=form)
            except TRANSIENT as exc:
                if certificate_refused(exc):
                    raise
                failures = self._after_failure(exc, failures, idempotent=True)
                continue
            if response.status_code < 500:
                return parse_grant(response, self.config)
            failures = self._after_failure(
                SalesforceAuthError(f"the token endpoint answered {response.status_code}"),
                failures,
                idempotent=True,
            )

    def _on_response(self, response: requests.Response, *_: Any, **__: Any) -> None:
        limit_info = response.headers.get("Sforce-Limit-Info")
        if limit_info:
            self.usage.observe(limit_info)


def _never_sent(exc: Exception) -> bool:
    """True when the request cannot have reached Salesforce (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if isinstance(exc, requests.ConnectionError) and exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)
