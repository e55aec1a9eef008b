"""The store's tables, one module per kind of data; every name importable from here.

``base`` holds the declarative base, the column types and the stored vocabularies; the
others hold the tables: CRM records, rules and findings, the outboxes, and the sync and
audit bookkeeping. Importing this package registers every table on ``Base.metadata``.
"""

from service.store.tables.api_keys import ApiKey
from service.store.tables.base import (
    NAMING_CONVENTION,
    Base,
    CrmKind,
    CrmSourced,
    FindingState,
    QuotaSource,
    Severity,
    SubjectKind,
    SyncStatus,
    utcnow,
)
from service.store.tables.crm_records import (
    Activity,
    Connection,
    Opportunity,
    OpportunityChange,
    Quota,
    Rep,
)
from service.store.tables.outboxes import (
    CrmFollowUp,
    CrmWrite,
    FollowUpKind,
    OutboxState,
    TaskCompletion,
    WebhookEvent,
)
from service.store.tables.rules_and_findings import Finding, FindingTransition, Rule, RuleVersion
from service.store.tables.sync_and_audit import AuditEntry, QuarantinedRecord, SyncState
from service.store.tables.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

__all__ = [
    "NAMING_CONVENTION",
    "Activity",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Connection",
    "CrmFollowUp",
    "CrmKind",
    "CrmSourced",
    "CrmWrite",
    "DeliveryState",
    "Finding",
    "FindingState",
    "FindingTransition",
    "FollowUpKind",
    "Opportunity",
    "OpportunityChange",
    "OutboxState",
    "QuarantinedRecord",
    "Quota",
    "QuotaSource",
    "Rep",
    "Rule",
    "RuleVersion",
    "Severity",
    "SubjectKind",
    "SyncState",
    "SyncStatus",
    "TaskCompletion",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "utcnow",
]
