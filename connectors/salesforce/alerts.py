"""Alerts as Salesforce custom notifications: the assignee's bell and mobile app.

One ``POST actions/standard/customNotificationAction`` carries many inputs
(https://developer.salesforce.com/docs/atlas.en-us.api_action.meta/api_action/
actions_obj_custom_notification.htm, API 46.0+). Each input names the notification type
by Id, looked up once by ``DeveloperName`` (``config.notification_type``); the answer is
200 with one result per input, in order, failures included, so every one is read.

Documented limits: a title of 250 characters and a body of 750 (longer ones are cut
here); 10,000 notification actions per org per clock hour, past which Salesforce drops
them. How the REST action reports that refusal is not documented: the sandbox answers
``LIMIT_EXCEEDED`` per input, which is treated as "try again later", like the org's API
limit. How many inputs one request may carry is not documented for this action either:
200, as for sObject Collections, is assumed.

A notification has no idempotency key and cannot be looked up afterwards, so one whose
outcome is unknown (timeout, connection dropped after sending, 5xx) is never resent: a
lost bell costs less than two, and the task itself is in the CRM either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.base import SyncStopped
from connectors.records import CrmAlert, CrmAlertResult
from connectors.salesforce.client import SalesforceClient, error_code
from connectors.salesforce.errors import SalesforceConnectorError, UncertainWriteError
from connectors.salesforce.streams import soql_string
from connectors.writeback import UNKNOWN_OUTCOME, chunks

ACTION = "actions/standard/customNotificationAction"
INPUTS_PER_CALL = 200  # assumed, see the module doc
TITLE_LIMIT, BODY_LIMIT = 250, 750
#: Refusals meaning "not now": the hourly notification limit (the sandbox's code for it)
#: and the org's daily API limit.
RETRY_LATER = frozenset({"LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED"})


class MissingNotificationTypeError(SalesforceConnectorError):
    """The org has no CustomNotificationType with the configured DeveloperName."""


class AlertSender:
    """Sends alerts through one :class:`SalesforceClient`; the type Id is kept once found.

    A sent result has no ``crm_id``: the action returns no id for a notification.
    """

    def __init__(self, client: SalesforceClient) -> None:
        self.client, self.config = client, client.config
        self._type_id: str | None = None

    def send(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]:
        """One result per alert, in order (an alert repeated in ``alerts`` is sent once)."""
        unique = list({alert.key: alert for alert in alerts}.values())
        try:
            type_id = self.notification_type_id()
        except MissingNotificationTypeError as exc:
            results = _all(unique, str(exc), retryable=False)
        except SyncStopped as stop:
            results = _all(unique, stop.reason, retryable=True)
        except SalesforceError as exc:  # the lookup refused: nothing was sent
            results = _all(unique, _describe(exc), retryable=_later(exc))
        except (SalesforceConnectorError, requests.RequestException) as exc:
            results = _all(unique, _describe(exc), retryable=True)  # nothing was sent
        else:
            results = self._send_all(type_id, unique)
        return [results[alert.key] for alert in alerts]

    def _send_all(self, type_id: str, alerts: list[CrmAlert]) -> dict[str, CrmAlertResult]:
        results: dict[str, CrmAlertResult] = {}
        for chunk in chunks(alerts, INPUTS_PER_CALL):
            try:
                results.update(self._send_chunk(type_id, chunk))
            except SyncStopped as stop:  # the org's API limit: nothing more goes out
                pending = [alert for alert in alerts if alert.key not in results]
                results.update(_all(pending, stop.reason, retryable=True))
                break
        return results

    def notification_type_id(self) -> str:
        """The Id of the CustomNotificationType named by ``config.notification_type``."""
        if self._type_id is None:
            name = self.config.notification_type
            soql = (
                "SELECT Id, DeveloperName FROM CustomNotificationType "  # noqa: S608
                f"WHERE DeveloperName = {soql_string(name)}"
            )
            pages = self.client.query_pages(soql, include_deleted=False, budgeted=False)
            rows = [row for page in pages for row in page]
            if not rows:
                raise MissingNotificationTypeError(
                    f"no CustomNotificationType named {name!r}: create it in Setup "
                    "(Notification Builder > Custom Notifications)"
                )
            self._type_id = str(rows[0]["Id"])
        return self._type_id

    def _send_chunk(self, type_id: str, chunk: list[CrmAlert]) -> dict[str, CrmAlertResult]:
        payload = {"inputs": [notification_input(type_id, alert) for alert in chunk]}

        def post(sf: Salesforce) -> Any:
            return sf.restful(ACTION, method="POST", json=payload)

        try:
            answer = self.client.call("custom notification", post, budgeted=False, idempotent=False)
        except UncertainWriteError as exc:
            return _all(chunk, f"{UNKNOWN_OUTCOME}: {exc}", retryable=False)
        except SalesforceError as exc:  # the whole request refused: nothing was sent
            return _all(chunk, _describe(exc), retryable=_later(exc))
        except (SalesforceConnectorError, requests.RequestException) as exc:
            return _all(chunk, _describe(exc), retryable=True)  # it never reached Salesforce
        return _outputs(chunk, answer)


def notification_input(type_id: str, alert: CrmAlert) -> dict[str, Any]:
    """One input of the action: the assignee, the text within its limits, the record."""
    return {
        "customNotifTypeId": type_id,
        "recipientIds": [alert.recipient_crm_id],
        "title": clip(alert.title, TITLE_LIMIT),
        "body": clip(alert.body, BODY_LIMIT),
        "targetId": alert.target_crm_id,
    }


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, an ellipsis marking a cut.

    Counted in code points; Salesforce may count UTF-16 units, so text with characters
    outside the Basic Multilingual Plane near the limit could still be refused.
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outputs(chunk: list[CrmAlert], answer: Any) -> dict[str, CrmAlertResult]:
    if not isinstance(answer, list) or len(answer) != len(chunk):
        reason = f"{UNKNOWN_OUTCOME}: the action answered with an unexpected shape"
        return _all(chunk, reason, retryable=False)
    return {alert.key: _result(alert, item) for alert, item in zip(chunk, answer, strict=True)}


def _result(alert: CrmAlert, item: Any) -> CrmAlertResult:
    if isinstance(item, dict) and item.get("isSuccess") is True:
        return CrmAlertResult(alert.key, sent=True)
    errors = item.get("errors") if isinstance(item, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    first = first if isinstance(first, dict) else {}
    code = str(first.get("statusCode") or "UNKNOWN")
    message = f"{code}: {first.get('message') or 'the notification was not sent'}"
    return CrmAlertResult(alert.key, error=message, retryable=code in RETRY_LATER)


def _all(alerts: Sequence[CrmAlert], error: str, *, retryable: bool) -> dict[str, CrmAlertResult]:
    return {a.key: CrmAlertResult(a.key, error=error, retryable=retryable) for a in alerts}


def _later(exc: SalesforceError) -> bool:
    """A refusal worth another try later: throttled, over a limit, or a server failure
    (which reaches here only for reads: an unanswered send is an UncertainWriteError)."""
    return exc.status == 429 or exc.status >= 500 or error_code(exc) in RETRY_LATER


def _describe(exc: Exception) -> str:
    if isinstance(exc, SalesforceError):
        return f"Salesforce answered {exc.status} {error_code(exc) or ''}".strip()
    return f"{type(exc).__name__}: {exc}"
