"""Alerts as HubSpot notes: on the deal's timeline, or on the coaching task itself.

Notes go 100 at a time through ``POST /crm/v3/objects/notes/batch/create``, owned by the
assignee (``hubspot_owner_id``), stamped now (``hs_timestamp``, required), and associated
inline: note to deal is HubSpot-defined type 214. Whether HubSpot defines a note-to-task
type, and its id, is not documented where it could be checked, so it is read from
``GET /crm/v4/associations/notes/tasks/labels`` once per sender; a portal without one
fails those alerts for good, with a message that says so.

A note's body is the title, a blank line, the body, then ``task_marker(key)``, so a note
can be recognised later and matched to its alert in a batch answer (whose order is not
promised). A whole batch refused with a 400 (one unknown owner fails them all) is sent
again one note per call, so one bad alert cannot block the rest. A note whose create has
an unknown outcome (timeout, dropped connection, 5xx) is not resent: a lost alert costs
less than two, and the task itself is in the CRM either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hubspot.crm.associations.v4 import schema
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.associations.v4.schema.exceptions import ApiException as SchemaApiException

from connectors.base import SyncStopped
from connectors.hubspot import api
from connectors.hubspot.client import HubSpotClient, Send
from connectors.hubspot.errors import HubSpotApiError, HubSpotConnectorError, UncertainWriteError
from connectors.hubspot.sdk import Apis
from connectors.hubspot.streams import millis
from connectors.records import CrmAlert, CrmAlertResult, task_marker
from connectors.writeback import UNKNOWN_OUTCOME, chunks

NOTES, TASKS = "notes", "tasks"
NOTE_TO_DEAL = 214  # HubSpot-defined association type id, note -> deal
BODY_LIMIT = 65_000  # string properties hold 65,536 characters
LABELS = "GET /crm/v4/associations/{objectType}/{toObjectType}/labels"


@dataclass(frozen=True)
class AssociationType:
    category: str
    type_id: int

    def spec(self) -> dict[str, Any]:
        return {"associationCategory": self.category, "associationTypeId": self.type_id}


ON_DEAL = AssociationType("HUBSPOT_DEFINED", NOTE_TO_DEAL)


class AlertSender:
    """Sends alerts through one :class:`HubSpotClient`; ``clock`` stamps the notes."""

    def __init__(self, client: HubSpotClient, clock: Callable[[], datetime]) -> None:
        self.client, self._clock = client, clock
        self._on_task: AssociationType | None = None
        self._looked_up = False

    def send(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]:
        """One result per alert, in order (an alert repeated in ``alerts`` is sent once)."""
        unique = list({alert.key: alert for alert in alerts}.values())
        results = self._unattachable([alert for alert in unique if alert.deal_crm_id is None])
        pending = [alert for alert in unique if alert.key not in results]
        for chunk in chunks(pending, api.BATCH_LIMIT):
            try:
                self._create(chunk, results)
            except SyncStopped as stop:  # the daily limit: nothing more goes out
                rest = [alert for alert in pending if alert.key not in results]
                results.update(_all(rest, stop.reason, retryable=True))
                break
        return [results[alert.key] for alert in alerts]

    def note_to_task_type(self) -> AssociationType | None:
        """The portal's unlabelled HubSpot-defined note-to-task type, read once."""
        if not self._looked_up:
            answer = self.client.call(LABELS, _labels(NOTES, TASKS), budgeted=False)
            self._on_task = _default_type(answer)
            self._looked_up = True
        return self._on_task

    def _unattachable(self, on_tasks: list[CrmAlert]) -> dict[str, CrmAlertResult]:
        """Failures for alerts that cannot go on their task: no type, or no answer."""
        if not on_tasks:
            return {}
        try:
            found = self.note_to_task_type()
        except SyncStopped as stop:
            return _all(on_tasks, stop.reason, retryable=True)
        except HubSpotApiError as exc:  # refused (a missing scope), or no answer in time
            later = exc.status == 429 or exc.status >= 500
            return _all(on_tasks, f"note-to-task type unknown: {exc}", retryable=later)
        except HubSpotConnectorError as exc:
            return _all(on_tasks, f"note-to-task type unknown: {exc}", retryable=True)
        if found is None:
            reason = "this portal defines no association type from notes to tasks"
            return _all(on_tasks, reason, retryable=False)
        return {}

    def _create(self, chunk: list[CrmAlert], results: dict[str, CrmAlertResult]) -> None:
        """Create the notes, recording each outcome in ``results`` as soon as it is known
        (so a stop half-way through a one-by-one resend loses none of them)."""
        stamp = millis(self._clock())
        inputs = [note_input(alert, stamp, self._on_task) for alert in chunk]
        try:
            answer = api.batch_create(self.client, NOTES, inputs)
        except UncertainWriteError as exc:
            results.update(_all(chunk, f"{UNKNOWN_OUTCOME}: {exc}", retryable=False))
        except HubSpotApiError as exc:  # refused as a whole: nothing was created
            if exc.status != 400 or len(chunk) == 1:
                results.update(_all(chunk, str(exc), retryable=exc.status == 429))
                return
            for alert in chunk:  # one bad alert must not block the others
                self._create([alert], results)
        except HubSpotConnectorError as exc:  # it never reached HubSpot
            results.update(_all(chunk, str(exc), retryable=True))
        else:
            results.update(_outputs(chunk, answer))


def note_input(alert: CrmAlert, stamp: str, on_task: AssociationType | None) -> dict[str, Any]:
    """One input of the batch create; ``on_task`` is needed only without a deal."""
    kind = ON_DEAL if alert.deal_crm_id else on_task
    if kind is None:
        raise ValueError("an alert without a deal needs the note-to-task association type")
    return {
        "properties": {
            "hs_note_body": note_body(alert),
            "hs_timestamp": stamp,
            "hubspot_owner_id": alert.recipient_crm_id,
        },
        "associations": [{"to": {"id": alert.target_crm_id}, "types": [kind.spec()]}],
    }


def note_body(alert: CrmAlert, limit: int = BODY_LIMIT) -> str:
    """Title, blank line, body, then the marker, within ``limit``; the text is cut if needed."""
    suffix = "\n\n" + task_marker(alert.key)
    text, room = f"{alert.title}\n\n{alert.body}", limit - len(suffix)
    return (text if len(text) <= room else text[: room - 1] + "…") + suffix


def _outputs(chunk: list[CrmAlert], answer: Any) -> dict[str, CrmAlertResult]:
    """Created notes matched to alerts by marker; the others refused with the errors given."""
    body = answer if isinstance(answer, dict) else {}
    markers = {task_marker(alert.key): alert.key for alert in chunk}
    results: dict[str, CrmAlertResult] = {}
    created = body.get("results") or []
    for note in created:
        text = str((note.get("properties") or {}).get("hs_note_body") or "")
        key = next((k for marker, k in markers.items() if marker in text), None)
        if key is not None:
            results[key] = CrmAlertResult(key, sent=True, crm_id=str(note.get("id")))
    unmatched = len(created) > len(results)
    errors = "; ".join(
        f"{error.get('category', 'ERROR')}: {error.get('message', '')}".strip()
        for error in body.get("errors") or []
        if isinstance(error, dict)
    )
    for alert in chunk:
        if alert.key in results:
            continue
        if unmatched:  # a note came back without its marker: this one may exist
            reason = f"{UNKNOWN_OUTCOME}: a created note carries no marker"
            results[alert.key] = CrmAlertResult(alert.key, error=reason)
        else:
            reason = errors or "HubSpot did not create the note"
            results[alert.key] = CrmAlertResult(alert.key, error=reason)
    return results


def _labels(from_type: str, to_type: str) -> Send:
    """The labels call, through the generated schema client.

    :class:`connectors.hubspot.sdk.Apis` builds no schema client and its error tuple lacks
    the schema package's ApiException, so the client is built here from the associations
    client's own configuration (host, token, CA, no urllib3 retries), and its errors are
    re-raised as the associations package's, which HubSpotClient knows how to retry.
    """

    def send(apis: Apis) -> Any:
        source = apis.associations.api_client.configuration
        config = schema.Configuration(host=source.host)
        config.access_token, config.ssl_ca_cert = source.access_token, source.ssl_ca_cert
        config.retries = source.retries
        definitions = schema.DefinitionsApi(schema.ApiClient(configuration=config))
        try:
            return definitions.get_all(
                from_type, to_type, _preload_content=False, _request_timeout=apis.timeout
            )
        except SchemaApiException as exc:
            known = AssociationsApiException(status=exc.status, reason=exc.reason)
            known.body, known.headers = exc.body, exc.headers
            raise known from exc

    return send


def _default_type(answer: Any) -> AssociationType | None:
    """The unlabelled HubSpot-defined type among a labels answer's results, if any."""
    for result in (answer or {}).get("results") or []:
        if result.get("category") == "HUBSPOT_DEFINED" and result.get("label") is None:
            return AssociationType("HUBSPOT_DEFINED", int(result["typeId"]))
    return None


def _all(alerts: Sequence[CrmAlert], error: str, *, retryable: bool) -> dict[str, CrmAlertResult]:
    return {a.key: CrmAlertResult(a.key, error=error, retryable=retryable) for a in alerts}
