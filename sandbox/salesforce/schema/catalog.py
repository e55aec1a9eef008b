"""The objects of the fake org, with Salesforce's real API names, types and flags.

Only the fields a sync of opportunities, their history, users, quotas and activities
needs are modelled; anything else is rejected exactly as an unknown name is in a real org.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sandbox.salesforce.schema.specs import FieldSpec, FieldType, ObjectSpec
from sandbox.salesforce.stages import STANDARD_STAGES


def _label(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.removesuffix("__c").replace("_", " "))
    return re.sub(r"\bId\b", "ID", words)


def _f(name: str, type_: FieldType, label: str | None = None, **flags: Any) -> FieldSpec:
    return FieldSpec(name, type_, label or _label(name), **flags)


def _ro(name: str, type_: FieldType, label: str | None = None, **flags: Any) -> FieldSpec:
    return _f(name, type_, label, createable=False, updateable=False, **flags)


def _text(name: str, length: int = 255, type_: FieldType = "string", **flags: Any) -> FieldSpec:
    return _f(name, type_, length=length, **flags)


def _pick(name: str, *values: str, **flags: Any) -> FieldSpec:
    return _f(name, "picklist", picklist_values=values, length=255, **flags)


def _ref(name: str, target: str, relationship: str | None, **flags: Any) -> FieldSpec:
    return _f(name, "reference", reference_to=target, relationship_name=relationship,
              length=18, **flags)  # fmt: skip


def _system(label: str, *, modifiable: bool = True) -> tuple[FieldSpec, ...]:
    """Fields every object has; written by the server only. History rows are never modified,
    so (as in Salesforce) OpportunityHistory has no LastModified* fields."""
    locked: dict[str, Any] = {"createable": False, "updateable": False, "nillable": False}
    modified = (_f("LastModifiedDate", "datetime", **locked),
                _ref("LastModifiedById", "User", "LastModifiedBy", **locked))  # fmt: skip
    return (
        _f("Id", "id", f"{label} ID", length=18, **locked),
        _f("IsDeleted", "boolean", "Deleted", **locked),
        _f("CreatedDate", "datetime", **locked),
        _ref("CreatedById", "User", "CreatedBy", **locked),
        *(modified if modifiable else ()),
        _f("SystemModstamp", "datetime", **locked),
    )


STAGE_NAMES = tuple(stage.name for stage in STANDARD_STAGES)
_REQUIRED: dict[str, Any] = {"nillable": False}
_ACTIVITY_TYPES = ("Call", "Email", "Meeting", "Other")
_OWNER = _ref("OwnerId", "User", "Owner", label="Owner ID", nillable=False)
_WHAT = _ref("WhatId", "Opportunity", "What", label="Related To ID", polymorphic=True)
_WHO = _ref("WhoId", "Contact", "Who", label="Name ID", polymorphic=True)
_LONG = 32000  # a long text area: not filterable or sortable

_USER = (
    *_system("User"),
    _text("Username", 80, **_REQUIRED),
    _text("FirstName", 40),
    _text("LastName", 80, **_REQUIRED),
    _ro("Name", "string", "Full Name", length=121),
    _text("Alias", 8, **_REQUIRED),
    _text("Email", 128, "email", **_REQUIRED),
    _f("IsActive", "boolean", "Active", nillable=False),
    _ref("ManagerId", "User", "Manager"),
    _ref("UserRoleId", "UserRole", "UserRole", label="Role ID"),
    _ref("ProfileId", "Profile", "Profile"),
    _text("Title", 80),
    _text("Department", 80),
    _pick(
        "TimeZoneSidKey",
        "America/Los_Angeles",
        "America/New_York",
        "Europe/London",
        "Europe/Berlin",
        "Asia/Tokyo",
        "GMT",
        label="Time Zone",
    ),
    _pick("LocaleSidKey", "en_US", "en_GB", "de_DE", label="Locale"),
    _pick("LanguageLocaleKey", "en_US", "de", label="Language"),
    _pick("EmailEncodingKey", "UTF-8", "ISO-8859-1", label="Email Encoding"),
    _pick("UserType", "Standard", createable=False, updateable=False),
    _ro("LastLoginDate", "datetime"),
)
_USER_ROLE = (
    *_system("Role"),
    _text("Name", 80, **_REQUIRED),
    _ref("ParentRoleId", "UserRole", None, label="Parent Role ID"),
    _text("DeveloperName", 80),
    _text("RollupDescription", 80),
    _ref("ForecastUserId", "User", "ForecastUser", label="Forecast Manager ID"),
    _pick("OpportunityAccessForAccountOwner", "None", "Read", "Edit"),
)
_ACCOUNT = (
    *_system("Account"),
    _text("Name", 255, **_REQUIRED),
    _OWNER,
    _pick("Type", "Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"),
    _pick("Industry", "Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Other"),
    _text("Website", 255, "url"),
    _text("Phone", 40, "phone"),
    _ro("LastActivityDate", "date"),
)
_CONTACT = (
    *_system("Contact"),
    _text("FirstName", 40),
    _text("LastName", 80, **_REQUIRED),
    _ro("Name", "string", "Full Name", length=121),
    _text("Email", 80, "email"),
    _text("Phone", 40, "phone"),
    _text("Title", 128),
    _ref("AccountId", "Account", "Account"),
    _OWNER,
    _ro("LastActivityDate", "date"),
)
_OPPORTUNITY = (
    *_system("Opportunity"),
    _text("Name", 120, label="Opportunity Name", **_REQUIRED),
    _ref("AccountId", "Account", "Account"),
    _OWNER,
    _f("Amount", "currency"),
    _f("CloseDate", "date", **_REQUIRED),
    _pick("StageName", *STAGE_NAMES, label="Stage", **_REQUIRED),
    _f("Probability", "percent", "Probability (%)"),
    _ro("ExpectedRevenue", "currency", "Expected Amount"),
    _pick(
        "ForecastCategoryName",
        "Omitted",
        "Pipeline",
        "Best Case",
        "Commit",
        "Closed",
        label="Forecast Category",
    ),
    _pick(
        "ForecastCategory",
        "Omitted",
        "Pipeline",
        "BestCase",
        "Forecast",
        "Closed",
        createable=False,
        updateable=False,
    ),
    _ro("IsClosed", "boolean", "Closed", nillable=False),
    _ro("IsWon", "boolean", "Won", nillable=False),
    _f("IsPrivate", "boolean", "Private", nillable=False),
    _text("NextStep", 255),
    _pick("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
    _pick(
        "Type",
        "Existing Customer - Upgrade",
        "Existing Customer - Replacement",
        "Existing Customer - Downgrade",
        "New Customer",
        label="Opportunity Type",
    ),
    _text("Description", _LONG, "textarea"),
    _ro("FiscalYear", "int"),
    _ro("FiscalQuarter", "int"),
    _ro("Fiscal", "string", "Fiscal Period", length=6),
    _ro("LastActivityDate", "date"),
    _ro("HasOpenActivity", "boolean", nillable=False),
    _ro("HasOverdueTask", "boolean", nillable=False),
    _f("Budget_Confirmed__c", "boolean", nillable=False),
    _text("Decision_Maker__c", 255),
    _text("Pain_Identified__c", 255, "textarea"),
    _f("Next_Meeting_Date__c", "date"),
)
# Rows are written by the server when an opportunity's stage, amount, probability or close
# date changes. The object is read-only to the API (describe reports every field read-only);
# the field flags only let the server's own import path fill the tracked values.
_OPPORTUNITY_HISTORY = (
    *_system("Opportunity History", modifiable=False),
    _ref(
        "OpportunityId",
        "Opportunity",
        "Opportunity",
        nillable=False,
        createable=False,
        updateable=False,
    ),
    _pick("StageName", *STAGE_NAMES, label="Stage Name", **_REQUIRED),
    _f("Amount", "currency"),
    _f("Probability", "percent"),
    _f("CloseDate", "date"),
    _ro("ExpectedRevenue", "currency"),
    _pick(
        "ForecastCategory",
        "Omitted",
        "Pipeline",
        "BestCase",
        "MostLikely",
        "Forecast",
        "Closed",
        label="To ForecastCategory",
    ),
    _ro("PrevAmount", "currency"),
    _ro("PrevCloseDate", "date"),
)
_TASK = (
    *_system("Activity"),
    _text("Subject", 255),
    _text("Description", _LONG, "textarea", label="Comments"),
    _pick(
        "Status",
        "Not Started",
        "In Progress",
        "Completed",
        "Waiting on someone else",
        "Deferred",
        **_REQUIRED,
    ),
    _pick("Priority", "High", "Normal", "Low", **_REQUIRED),
    _f("ActivityDate", "date", "Due Date Only"),
    _OWNER,
    _WHAT,
    _WHO,
    _ro("AccountId", "reference", reference_to="Account", relationship_name="Account"),
    _pick(
        "TaskSubtype", "Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn", updateable=False
    ),
    _pick("Type", *_ACTIVITY_TYPES),
    _f("CallDurationInSeconds", "int", "Call Duration"),
    _text("CallDisposition", 255, label="Call Result"),
    _pick("CallType", "Internal", "Inbound", "Outbound"),
    _ro("IsClosed", "boolean", "Closed", nillable=False),
    _ro("CompletedDateTime", "datetime", "Completed Date/Time"),
)
_EVENT = (
    *_system("Activity"),
    _text("Subject", 255),
    _text("Description", _LONG, "textarea"),
    _f("StartDateTime", "datetime"),
    _f("EndDateTime", "datetime"),
    _f("DurationInMinutes", "int", "Duration"),
    _f("ActivityDate", "date", "Due Date Only"),
    _f("ActivityDateTime", "datetime", "Due Date Time"),
    _f("IsAllDayEvent", "boolean", "All-Day Event", nillable=False),
    _text("Location", 255),
    _OWNER,
    _WHAT,
    _WHO,
    _ro("AccountId", "reference", reference_to="Account", relationship_name="Account"),
    _pick("Type", *_ACTIVITY_TYPES),
    _pick("EventSubtype", "Event", updateable=False),
)
# PeriodId and ForecastingTypeId reference the Period and ForecastingType setup objects in
# a real org; those are not modelled, so their ids are plain strings here.
_FORECASTING_QUOTA = (
    *_system("Forecasting Quota"),
    _ref("QuotaOwnerId", "User", "QuotaOwner", label="Quota Owner ID", nillable=False),
    _f("QuotaAmount", "currency"),
    _f("QuotaQuantity", "double"),
    _f("StartDate", "date", **_REQUIRED),
    _ro("PeriodId", "string", "Period ID", length=18),
    _text("ForecastingTypeId", 18, label="Forecasting Type ID", updateable=False),
    _ro("IsAmount", "boolean", nillable=False),
    _ro("IsQuantity", "boolean", nillable=False),
    _pick("ProductFamily", "None", updateable=False),
)

# Setup object holding each stage's metadata; a sync maps stages to open/won/lost from it.
_OPPORTUNITY_STAGE = (
    *_system("Opportunity Stage"),
    _ro("MasterLabel", "string", "Master Label", length=255),
    _ro("ApiName", "string", "Api Name", length=255),
    _ro("IsActive", "boolean", "Active", nillable=False),
    _ro("SortOrder", "int", "Sort Order"),
    _ro("IsClosed", "boolean", "Closed", nillable=False),
    _ro("IsWon", "boolean", "Won", nillable=False),
    _ro("ForecastCategory", "picklist", "Forecast Type"),
    _ro("ForecastCategoryName", "picklist", "Forecast Category"),
    _ro("DefaultProbability", "percent", "Probability (%)"),
    _ro("Description", "string", length=255),
)

# The setup object behind custom notifications (API 46.0+): the notification action takes
# a type's Id, which clients look up by DeveloperName. Real ids start with 0ML (the
# api_action guide's example is 0MLR0000000008eOAA).
_CUSTOM_NOTIFICATION_TYPE = (
    *_system("Custom Notification Type"),
    _ro("DeveloperName", "string", "API Name", length=80),
    _ro("MasterLabel", "string", "Master Label", length=80),
    _ro("CustomNotifTypeName", "string", "Custom Notification Type Name", length=80),
    _ro("Description", "string", length=255),
    _ro("Desktop", "boolean", nillable=False),
    _ro("Mobile", "boolean", nillable=False),
)

_OBJECTS = (
    ObjectSpec("User", "User", "Users", "005", _USER),
    ObjectSpec("UserRole", "Role", "Roles", "00E", _USER_ROLE),
    ObjectSpec("Account", "Account", "Accounts", "001", _ACCOUNT),
    ObjectSpec("Contact", "Contact", "Contacts", "003", _CONTACT),
    ObjectSpec("Opportunity", "Opportunity", "Opportunities", "006", _OPPORTUNITY),
    ObjectSpec("OpportunityHistory", "Opportunity History", "Opportunity History", "008",
               _OPPORTUNITY_HISTORY, createable=False, updateable=False, deletable=False),
    ObjectSpec("Task", "Task", "Tasks", "00T", _TASK),
    ObjectSpec("Event", "Event", "Events", "00U", _EVENT),
    ObjectSpec("ForecastingQuota", "Forecasting Quota", "Forecasting Quotas", "0J9",
               _FORECASTING_QUOTA),
    ObjectSpec("OpportunityStage", "Opportunity Stage", "Opportunity Stages", "01J",
               _OPPORTUNITY_STAGE, createable=False, updateable=False, deletable=False),
)  # fmt: skip

# Setup metadata that SOQL and the id lookups know but a sync never replicates: kept out
# of CATALOG, the objects a sync reads and describe global lists.
_SETUP_OBJECTS = (
    ObjectSpec("CustomNotificationType", "Custom Notification Type",
               "Custom Notification Types", "0ML", _CUSTOM_NOTIFICATION_TYPE,
               createable=False, updateable=False, deletable=False),
)  # fmt: skip

CATALOG: Mapping[str, ObjectSpec] = MappingProxyType({spec.name: spec for spec in _OBJECTS})
#: Every object the org stores: CATALOG and the setup objects.
ALL_OBJECTS: Mapping[str, ObjectSpec] = MappingProxyType(
    {spec.name: spec for spec in (*_OBJECTS, *_SETUP_OBJECTS)}
)
_BY_LOWER_NAME = {name.lower(): spec for name, spec in ALL_OBJECTS.items()}
_BY_PREFIX = {spec.key_prefix: spec for spec in ALL_OBJECTS.values()}


def find_object(name: str) -> ObjectSpec | None:
    """sObject names are case-insensitive in every API."""
    return _BY_LOWER_NAME.get(name.lower())


def object_for_id(record_id: str) -> ObjectSpec | None:
    """The object an id belongs to, from its 3-character key prefix."""
    return _BY_PREFIX.get(record_id[:3])
