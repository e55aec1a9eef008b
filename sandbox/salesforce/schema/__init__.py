"""The sObject catalogue of the fake org, and how its values travel as JSON.

Names, types and flags follow Salesforce's Object Reference, so a client written against
the sandbox (describe, SOQL, create and update bodies) works unchanged against a real org.
"""

from sandbox.salesforce.schema.catalog import (
    ALL_OBJECTS,
    CATALOG,
    STAGE_NAMES,
    find_object,
    object_for_id,
)
from sandbox.salesforce.schema.specs import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldSpec,
    FieldType,
    ObjectSpec,
)
from sandbox.salesforce.schema.values import (
    format_datetime,
    from_json_value,
    json_converter,
    parse_offset,
    to_json_value,
)

__all__ = [
    "ALL_OBJECTS",
    "CATALOG",
    "ID_TYPES",
    "NUMBER_TYPES",
    "STAGE_NAMES",
    "TEXT_TYPES",
    "FieldSpec",
    "FieldType",
    "ObjectSpec",
    "find_object",
    "format_datetime",
    "from_json_value",
    "json_converter",
    "object_for_id",
    "parse_offset",
    "to_json_value",
]
