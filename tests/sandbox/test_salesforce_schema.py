"""The fake Salesforce's sObject catalogue: names, flags, describe bodies and JSON values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sandbox.salesforce.schema import (
    CATALOG,
    STAGE_NAMES,
    find_object,
    from_json_value,
    object_for_id,
    to_json_value,
)

SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "CreatedById", "SystemModstamp")


def _field(sobject: str, name: str):
    spec = CATALOG[sobject].field(name)
    assert spec is not None
    return spec


def test_objects_carry_their_real_key_prefixes():
    prefixes = {name: spec.key_prefix for name, spec in CATALOG.items()}
    assert prefixes == {
        "User": "005",
        "UserRole": "00E",
        "Account": "001",
        "Contact": "003",
        "Opportunity": "006",
        "OpportunityHistory": "008",
        "Task": "00T",
        "Event": "00U",
        "ForecastingQuota": "0J9",
        "OpportunityStage": "01J",
    }


def test_object_and_field_lookups_ignore_case():
    opportunity = find_object("opportunity")
    assert opportunity is not None
    assert opportunity.name == "Opportunity"
    assert find_object("Lead") is None
    assert opportunity.field("stagename") == opportunity.field("StageName")
    assert opportunity.field("budget_confirmed__C") is not None


def test_relationship_lookup_finds_the_reference_field():
    task = CATALOG["Task"]
    owner = task.relationship("owner")
    assert owner is not None
    assert owner.name == "OwnerId"
    assert owner.reference_to == "User"
    assert task.relationship("OwnerId") is None


def test_every_object_has_the_system_fields_written_only_by_the_server():
    for spec in CATALOG.values():
        for name in SYSTEM_FIELDS:
            field = spec.field(name)
            assert field is not None, (spec.name, name)
            assert not field.createable
            assert not field.updateable


def test_history_rows_have_no_last_modified_fields_as_in_salesforce():
    history = CATALOG["OpportunityHistory"]
    assert history.field("LastModifiedDate") is None
    assert CATALOG["Opportunity"].field("LastModifiedDate") is not None


def test_opportunity_stage_is_a_picklist_of_the_standard_stages():
    stage = _field("Opportunity", "StageName")
    assert stage.type == "picklist"
    assert stage.picklist_values == STAGE_NAMES
    assert stage.picklist_values[0] == "Prospecting"
    assert "Closed Lost" in stage.picklist_values


def test_derived_opportunity_fields_are_not_createable():
    for name in ("IsClosed", "IsWon", "ExpectedRevenue"):
        assert not _field("Opportunity", name).createable


def test_custom_qualification_fields_have_their_types():
    types = {
        name: _field("Opportunity", name).type
        for name in (
            "Budget_Confirmed__c",
            "Decision_Maker__c",
            "Pain_Identified__c",
            "Next_Meeting_Date__c",
        )
    }
    assert types == {
        "Budget_Confirmed__c": "boolean",
        "Decision_Maker__c": "string",
        "Pain_Identified__c": "textarea",
        "Next_Meeting_Date__c": "date",
    }


def test_object_for_id_reads_the_key_prefix():
    spec = object_for_id("00T8W0000000001AAA")
    assert spec is not None
    assert spec.name == "Task"
    assert object_for_id("zzz000000000000") is None


def test_describe_has_salesforces_main_keys():
    body = CATALOG["Opportunity"].describe("59.0")
    assert body["name"] == "Opportunity"
    assert body["keyPrefix"] == "006"
    assert body["labelPlural"] == "Opportunities"
    assert body["createable"]
    assert body["queryable"]
    assert body["deletable"]
    assert body["urls"]["describe"] == "/services/data/v59.0/sobjects/Opportunity/describe"
    names = [field["name"] for field in body["fields"]]
    assert names[0] == "Id"
    assert "StageName" in names


def test_describe_fields_carry_reference_and_picklist_details():
    fields = {field["name"]: field for field in CATALOG["Opportunity"].describe("59.0")["fields"]}
    owner = fields["OwnerId"]
    assert owner["type"] == "reference"
    assert owner["referenceTo"] == ["User"]
    assert owner["relationshipName"] == "Owner"
    assert owner["soapType"] == "tns:ID"
    stage = fields["StageName"]
    assert stage["picklistValues"][0] == {
        "active": True,
        "defaultValue": False,
        "label": "Prospecting",
        "validFor": None,
        "value": "Prospecting",
    }
    assert fields["Amount"]["type"] == "currency"
    assert fields["Amount"]["scale"] == 2
    assert fields["Budget_Confirmed__c"]["custom"]
    assert not fields["Amount"]["custom"]


def test_long_text_areas_are_neither_filterable_nor_sortable():
    fields = {field["name"]: field for field in CATALOG["Task"].describe("59.0")["fields"]}
    assert not fields["Description"]["filterable"]
    assert not fields["Description"]["sortable"]
    assert fields["Subject"]["filterable"]


def test_a_read_only_object_describes_every_field_read_only():
    body = CATALOG["OpportunityHistory"].describe("59.0")
    assert not body["createable"]
    assert not body["updateable"]
    assert not any(field["createable"] or field["updateable"] for field in body["fields"])


def test_describe_global_entry_points_at_the_object_resources():
    entry = CATALOG["Task"].describe_global_entry("60.0")
    assert entry["name"] == "Task"
    assert entry["keyPrefix"] == "00T"
    assert entry["urls"] == {
        "sobject": "/services/data/v60.0/sobjects/Task",
        "describe": "/services/data/v60.0/sobjects/Task/describe",
        "rowTemplate": "/services/data/v60.0/sobjects/Task/{ID}",
    }


def test_datetimes_go_out_in_utc_with_milliseconds():
    stamp = _field("Task", "SystemModstamp")
    moment = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    assert to_json_value(stamp, moment) == "2026-01-05T09:00:00.123+0000"
    berlin = datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1)))
    assert to_json_value(stamp, berlin) == "2026-01-05T09:00:00.000+0000"


def test_dates_numbers_booleans_and_nulls_go_out_as_json():
    assert to_json_value(_field("Opportunity", "CloseDate"), date(2026, 1, 5)) == "2026-01-05"
    assert to_json_value(_field("Opportunity", "Amount"), 1500.5) == 1500.5
    assert to_json_value(_field("Opportunity", "IsWon"), True) is True
    assert to_json_value(_field("Opportunity", "CloseDate"), None) is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05T09:00:00.000+0000",
        "2026-01-05T09:00:00Z",
        "2026-01-05T09:00:00.000Z",
        "2026-01-05T09:00:00+00:00",
        "2026-01-05T10:00:00+01:00",
        "2026-01-05T01:00:00.000-0800",
    ],
)
def test_body_datetimes_are_accepted_in_every_salesforce_form(text: str):
    parsed = from_json_value(_field("Event", "StartDateTime"), text)
    assert parsed == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_body_datetimes_keep_milliseconds_only():
    parsed = from_json_value(_field("Event", "StartDateTime"), "2026-01-05T09:00:00.123456Z")
    assert parsed.microsecond == 123000


@pytest.mark.parametrize(
    ("sobject", "name", "value"),
    [
        ("Event", "StartDateTime", "2026-01-05"),
        ("Event", "StartDateTime", "yesterday"),
        ("Opportunity", "CloseDate", "2026-02-30"),
        ("Opportunity", "CloseDate", 20260105),
        ("Opportunity", "Amount", "1000"),
        ("Opportunity", "Amount", True),
        ("Task", "CallDurationInSeconds", 1.5),
        ("Opportunity", "IsPrivate", "true"),
        ("Opportunity", "OwnerId", "not-an-id"),
        ("Opportunity", "Name", 42),
    ],
)
def test_bad_body_values_raise_value_errors_naming_the_field(sobject: str, name: str, value):
    field = _field(sobject, name)
    with pytest.raises(ValueError, match=field.label):
        from_json_value(field, value)


def test_body_values_are_converted_to_python_values():
    assert from_json_value(_field("Opportunity", "CloseDate"), "2026-01-05") == date(2026, 1, 5)
    assert from_json_value(_field("Opportunity", "Amount"), 1000) == 1000.0
    assert from_json_value(_field("Task", "CallDurationInSeconds"), 60.0) == 60
    assert from_json_value(_field("Opportunity", "OwnerId"), "005000000000001") == "005000000000001"


def test_a_null_checkbox_is_stored_as_false():
    assert from_json_value(_field("Opportunity", "Budget_Confirmed__c"), None) is False
    assert from_json_value(_field("Opportunity", "Amount"), None) is None


def test_text_longer_than_the_field_is_refused():
    with pytest.raises(ValueError, match="max length=8"):
        from_json_value(_field("User", "Alias"), "much-too-long")


def test_emails_must_look_like_addresses():
    assert from_json_value(_field("User", "Email"), "ada@example.com") == "ada@example.com"
    with pytest.raises(ValueError, match="invalid email"):
        from_json_value(_field("User", "Email"), "ada-at-example")
