"""What the alert senders put on the wire: text cut to the CRMs' limits, the marker kept,
the right target and association type."""

from __future__ import annotations

import pytest

from connectors.hubspot.alerts import NOTE_TO_DEAL, AssociationType, note_body, note_input
from connectors.records import CrmAlert, task_marker
from connectors.salesforce.alerts import BODY_LIMIT, TITLE_LIMIT, clip, notification_input

ON_TASK = AssociationType("HUBSPOT_DEFINED", 4242)


def _alert(
    title: str = "Call volume fell", body: str = "40% below usual", **extra: str
) -> CrmAlert:
    values = {"key": "alert-1", "recipient_crm_id": "005X", "task_crm_id": "00TX"} | extra
    return CrmAlert(title=title, body=body, **values)


def test_text_within_the_limit_is_left_as_it_is():
    assert clip("short", 10) == "short"
    assert clip("x" * 10, 10) == "x" * 10


def test_text_over_the_limit_is_cut_with_an_ellipsis_to_the_limit():
    clipped = clip("x" * 11, 10)
    assert clipped == "x" * 9 + "…"
    assert len(clipped) == 10


def test_a_notification_cuts_title_and_body_to_salesforces_limits():
    payload = notification_input("0MLX", _alert(title="t" * 400, body="b" * 2000))
    assert len(payload["title"]) == TITLE_LIMIT == 250
    assert len(payload["body"]) == BODY_LIMIT == 750
    assert payload["recipientIds"] == ["005X"]
    assert payload["customNotifTypeId"] == "0MLX"


def test_a_notification_targets_the_deal_when_there_is_one_else_the_task():
    assert notification_input("0MLX", _alert())["targetId"] == "00TX"
    assert notification_input("0MLX", _alert(deal_crm_id="006X"))["targetId"] == "006X"


def test_a_note_reads_title_blank_line_body_then_the_marker():
    assert note_body(_alert()) == "Call volume fell\n\n40% below usual\n\n" + task_marker("alert-1")


def test_a_long_note_is_cut_before_the_marker_which_survives():
    text = note_body(_alert(body="b" * 500), limit=200)
    assert len(text) == 200
    assert text.endswith("…\n\n" + task_marker("alert-1"))


def test_a_deal_alert_becomes_a_note_on_the_deal_owned_by_the_recipient():
    note = note_input(_alert(deal_crm_id="77"), "1700000000000", None)
    assert note["properties"]["hubspot_owner_id"] == "005X"
    assert note["properties"]["hs_timestamp"] == "1700000000000"
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}
    assert note["associations"] == [{"to": {"id": "77"}, "types": [spec]}]


def test_an_alert_without_a_deal_goes_on_the_task_with_the_type_read_from_the_portal():
    note = note_input(_alert(), "1", ON_TASK)
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4242}
    assert note["associations"] == [{"to": {"id": "00TX"}, "types": [spec]}]


def test_an_alert_without_a_deal_cannot_be_built_without_the_task_type():
    with pytest.raises(ValueError, match="note-to-task"):
        note_input(_alert(), "1", None)
