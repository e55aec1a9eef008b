"""The shapes of the catalogue: field and object specs and their describe() bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

FieldType = Literal[
    "id", "reference", "string", "textarea", "picklist", "boolean", "int",
    "double", "currency", "percent", "date", "datetime", "email", "phone", "url",
]  # fmt: skip

TEXT_TYPES = frozenset({"string", "textarea", "picklist", "email", "phone", "url"})
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    reference_to: str | None = None
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    length: int | None = None
    polymorphic: bool = False  # WhatId/WhoId: the target depends on the id's key prefix

    @property
    def filterable(self) -> bool:
        """Long text areas (over 255 characters) can be neither filtered nor sorted in SOQL."""
        return not (self.type == "textarea" and (self.length or 0) > 255)


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    _by_name: Mapping[str, FieldSpec] = dataclass_field(init=False, repr=False, compare=False)
    _by_relationship: Mapping[str, FieldSpec] = dataclass_field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_name = {spec.name.lower(): spec for spec in self.fields}
        by_rel = {s.relationship_name.lower(): s for s in self.fields if s.relationship_name}
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_relationship", by_rel)

    def field(self, name: str) -> FieldSpec | None:
        """API names are case-insensitive everywhere in Salesforce."""
        return self._by_name.get(name.lower())

    def relationship(self, name: str) -> FieldSpec | None:
        """The reference field behind a relationship name (``Owner`` -> ``OwnerId``)."""
        return self._by_relationship.get(name.lower())

    def describe(self, api_version: str) -> dict[str, Any]:
        """The body of ``GET /sobjects/{name}/describe``."""
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            **self.describe_global_entry(api_version),
            "actionOverrides": [],
            "childRelationships": [],
            "compactLayoutable": True,
            "fields": [_describe_field(spec, self) for spec in self.fields],
            "namedLayoutInfos": [],
            "recordTypeInfos": [],
            "supportedScopes": [{"label": "All " + self.label_plural, "name": "everything"}],
            "urls": {
                "sobject": base,
                "describe": base + "/describe",
                "rowTemplate": base + "/{ID}",
            },
        }

    def describe_global_entry(self, api_version: str) -> dict[str, Any]:
        """One entry of the ``sobjects`` list of ``GET /sobjects`` (describe global)."""
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            "activateable": False, "createable": self.createable, "custom": False,
            "customSetting": False, "deepCloneable": False, "deletable": self.deletable,
            "deprecatedAndHidden": False, "feedEnabled": False, "hasSubtypes": False,
            "isInterface": False, "isSubtype": False, "keyPrefix": self.key_prefix,
            "label": self.label, "labelPlural": self.label_plural, "layoutable": True,
            "mergeable": False, "mruEnabled": True, "name": self.name, "queryable": True,
            "replicateable": True, "retrieveable": True, "searchable": True,
            "triggerable": True, "undeletable": self.deletable, "updateable": self.updateable,
            "urls": _urls(base),
        }  # fmt: skip


def _urls(base: str) -> dict[str, str]:
    return {"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"}


_SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
               "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
               "date": "xsd:date", "datetime": "xsd:dateTime"}  # fmt: skip
_PRECISION = {"currency": (18, 2), "percent": (3, 0), "double": (18, 0)}
_DEFAULT_LENGTH = {"id": 18, "reference": 18, "email": 80, "phone": 40, "textarea": 32000}


def _describe_field(spec: FieldSpec, owner: ObjectSpec) -> dict[str, Any]:
    textual = spec.type in TEXT_TYPES or spec.type in ID_TYPES
    length = (spec.length or _DEFAULT_LENGTH.get(spec.type, 255)) if textual else 0
    precision, scale = _PRECISION.get(spec.type, (0, 0))
    picklist = [
        {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
        for v in spec.picklist_values
    ]
    return {
        "aggregatable": spec.filterable, "autoNumber": False, "calculated": False,
        "byteLength": length if spec.type in ID_TYPES else length * 3,
        "caseSensitive": False, "controllerName": None,
        # A read-only object (OpportunityHistory) reports every field read-only.
        "createable": spec.createable and owner.createable, "custom": spec.name.endswith("__c"),
        "defaultValue": False if spec.type == "boolean" else None,
        "defaultedOnCreate": spec.type in ("boolean", "id") or not spec.createable,
        "dependentPicklist": False, "deprecatedAndHidden": False,
        "digits": 9 if spec.type == "int" else 0, "externalId": False,
        "filterable": spec.filterable, "groupable": spec.filterable, "htmlFormatted": False,
        "idLookup": spec.type == "id" or spec.name == "Username", "inlineHelpText": None,
        "label": spec.label, "length": length, "name": spec.name,
        "nameField": spec.name == "Name", "namePointing": spec.polymorphic,
        "nillable": spec.nillable, "picklistValues": picklist,
        "polymorphicForeignKey": spec.polymorphic, "precision": precision, "scale": scale,
        "referenceTo": [spec.reference_to] if spec.reference_to else [],
        "relationshipName": spec.relationship_name, "relationshipOrder": None,
        "restrictedPicklist": False, "soapType": _SOAP_TYPES.get(spec.type, "xsd:string"),
        "sortable": spec.filterable, "type": spec.type, "unique": spec.name == "Username",
        "updateable": spec.updateable and owner.updateable,
    }  # fmt: skip
