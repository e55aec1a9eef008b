"""Custom notifications: ``POST /services/data/vXX.X/actions/standard/customNotificationAction``.

As the Actions Developer Guide describes the action (API 46.0+): the body is ``{"inputs":
[...]}``, each input names a ``customNotifTypeId``, ``recipientIds``, a ``title`` (at most
250 characters), a ``body`` (at most 750) and a ``targetId`` or ``targetPageRef``. The
answer is 200 with one result per input, in order, failures included:
``{actionName, errors, isSuccess, outputValues}``, so a client must read every one.

Salesforce documents that a notification reaches a user only "if this user is active",
and that an org executes at most 10,000 notification actions per clock hour (the rest of
that hour's are lost). It does not document how the REST action reports either; the
sandbox delivers nothing to an inactive user and refuses inputs past the hourly limit
with the error code ``LIMIT_EXCEEDED`` (its own choice), so a sender can defer them.

Only User ids are accepted as recipients (account, opportunity and group teams are not
modelled). A target must be a live record, or the dummy id Salesforce suggests for a
notification without one. The 200-inputs-per-request cap is an assumption shared with
driftcoach's sender, not a documented figure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.http import HttpError, Request, Response
from sandbox.salesforce.ids import is_valid_id, to_18
from sandbox.salesforce.record_store import RecordStore
from sandbox.salesforce.schema import format_datetime

ACTION = "customNotificationAction"
TITLE_LIMIT, BODY_LIMIT, RECIPIENT_LIMIT = 250, 750, 500
INPUT_LIMIT = 200  # unverified: the sandbox's assumption, see the module doc
HOURLY_LIMIT = 10_000
HOURLY_LIMIT_CODE = "LIMIT_EXCEEDED"
NO_TARGET = "000000000000000AAA"  # Salesforce's suggested dummy target id
SUCCESS = {"SuccessMessage": "Your custom notification is processed successfully."}


class InputError(Exception):
    """One input refused, shaped like an invocable action's ``{statusCode, message}``."""

    def __init__(self, status_code: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


@dataclass(frozen=True)
class SentNotification:
    """What a recipient's bell shows; ``recipient_ids`` holds the users it reached."""

    type_id: str
    recipient_ids: tuple[str, ...]
    title: str
    body: str
    target_id: str | None
    target_page_ref: str | None
    sender_id: str
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "customNotifTypeId": self.type_id,
            "recipientIds": list(self.recipient_ids),
            "title": self.title,
            "body": self.body,
            "targetId": self.target_id,
            "targetPageRef": self.target_page_ref,
            "senderId": self.sender_id,
            "sentAt": format_datetime(self.sent_at),
        }


class NotificationLog:
    """Notifications sent, and the org's hourly allowance (``hourly_limit``, settable)."""

    def __init__(self, records: RecordStore, hourly_limit: int = HOURLY_LIMIT) -> None:
        self.records, self.hourly_limit = records, hourly_limit
        self._sent: list[SentNotification] = []
        self._hours: dict[datetime, int] = {}
        self._lock = threading.Lock()

    def sent(self) -> list[SentNotification]:
        """Every notification sent so far, oldest first (the tests' read-back)."""
        with self._lock:
            return list(self._sent)

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()
            self._hours.clear()

    def invoke(self, request: Request, user_id: str) -> Response:
        """The action: validate and send each input, one result per input."""
        body = request.json()
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            raise HttpError(400, "Missing required field: inputs", "JSON_PARSER_ERROR")
        if len(inputs) > INPUT_LIMIT:
            message = f"Too many inputs: at most {INPUT_LIMIT} per request"
            raise HttpError(400, message, "LIMIT_EXCEEDED")
        now = self.records.clock.now()
        return Response.json(200, [self._one(item, user_id, now) for item in inputs])

    def _one(self, item: Any, user_id: str, now: datetime) -> dict[str, Any]:
        try:
            notification = self._check(item, user_id, now)
            self._record(notification)
        except InputError as error:
            errors = [{"statusCode": error.status_code, "message": error.message, "fields": []}]
            return {"actionName": ACTION, "errors": errors, "isSuccess": False,
                    "outputValues": None}  # fmt: skip
        return {"actionName": ACTION, "errors": None, "isSuccess": True, "outputValues": SUCCESS}

    def _check(self, item: Any, user_id: str, now: datetime) -> SentNotification:
        if not isinstance(item, dict):
            raise InputError("INVALID_INPUT", "each input must be an object")
        title, body = _text(item, "title", TITLE_LIMIT), _text(item, "body", BODY_LIMIT)
        target_id, page_ref = item.get("targetId"), item.get("targetPageRef")
        if not target_id and not page_ref:
            raise InputError("REQUIRED_FIELD_MISSING", "Specify either targetId or targetPageRef")
        return SentNotification(
            type_id=self._type_id(item.get("customNotifTypeId")),
            recipient_ids=self._recipients(item.get("recipientIds")),
            title=title,
            body=body,
            target_id=self._target(target_id) if target_id else None,
            target_page_ref=str(page_ref) if page_ref else None,
            sender_id=str(item.get("senderId") or user_id),
            sent_at=now,
        )

    def _type_id(self, raw: Any) -> str:
        if not raw:
            raise InputError("REQUIRED_FIELD_MISSING", "Missing required input: customNotifTypeId")
        if self._live("CustomNotificationType", str(raw)) is None:
            message = f"customNotifTypeId: no custom notification type with id {raw}"
            raise InputError("INVALID_CROSS_REFERENCE_KEY", message)
        return to_18(str(raw))

    def _recipients(self, raw: Any) -> tuple[str, ...]:
        ids = [raw] if isinstance(raw, str) else raw
        if not isinstance(ids, list) or not ids:
            raise InputError("REQUIRED_FIELD_MISSING", "Missing required input: recipientIds")
        if len(ids) > RECIPIENT_LIMIT:
            message = f"recipientIds: at most {RECIPIENT_LIMIT} values"
            raise InputError("LIMIT_EXCEEDED", message)
        active: list[str] = []
        for value in ids:
            user = self._live("User", str(value))
            if user is None:
                message = f"recipientIds: {value} is not the id of a user in this org"
                raise InputError("INVALID_CROSS_REFERENCE_KEY", message)
            if user["IsActive"]:
                active.append(str(user["Id"]))
        return tuple(active)

    def _target(self, raw: Any) -> str:
        if str(raw) == NO_TARGET:
            return NO_TARGET
        spec = self.records.object_of(str(raw))
        if spec is None or self._live(spec.name, str(raw)) is None:
            raise InputError("INVALID_CROSS_REFERENCE_KEY", f"targetId: no record with id {raw}")
        return to_18(str(raw))

    def _live(self, sobject: str, record_id: str) -> Any:
        if not is_valid_id(record_id):
            return None
        row = self.records.get(sobject, record_id)
        return None if row is None or row["IsDeleted"] else row

    def _record(self, notification: SentNotification) -> None:
        hour = notification.sent_at.replace(minute=0, second=0, microsecond=0)
        with self._lock:
            if self._hours.get(hour, 0) >= self.hourly_limit:
                message = "The org has sent its custom notifications for this hour"
                raise InputError(HOURLY_LIMIT_CODE, message)
            self._hours[hour] = self._hours.get(hour, 0) + 1
            self._sent.append(notification)


def _text(item: dict[str, Any], name: str, limit: int) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError("REQUIRED_FIELD_MISSING", f"Missing required input: {name}")
    if len(value) > limit:
        message = f"{name}: data value too large (max length={limit})"
        raise InputError("STRING_TOO_LONG", message)
    return value
