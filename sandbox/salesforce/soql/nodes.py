"""The syntax tree of a parsed SOQL query (names as written; binding resolves them).

Every node keeps the offset of its first character so that binding and type errors can
point at the right place in the query, as Salesforce's messages do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

ValueKind = Literal["string", "number", "boolean", "null", "date", "datetime", "date_literal"]


@dataclass(frozen=True)
class FieldRef:
    """A field path such as ``Owner.Manager.Name``: relationship names, then a field."""

    parts: tuple[str, ...]
    offset: int

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class DateLiteral:
    """A relative range such as ``THIS_QUARTER`` or ``LAST_N_DAYS:30`` (name upper-cased)."""

    name: str
    n: int | None = None

    def __str__(self) -> str:
        return self.name if self.n is None else f"{self.name}:{self.n}"


@dataclass(frozen=True)
class Value:
    kind: ValueKind
    value: str | int | float | bool | date | datetime | DateLiteral | None
    offset: int
    lexeme: str  # as written; LIKE reads its escapes from here


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    operator: str  # = != < <= > >= LIKE  (<> is read as !=)
    value: Value


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Comparison | InList | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool
    nulls_first: bool  # Salesforce's default: first when ascending, last when descending


@dataclass(frozen=True)
class Query:
    text: str
    fields: tuple[FieldRef, ...]  # empty for SELECT COUNT()
    count: bool
    sobject: str
    sobject_offset: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    offset_at: int = 0  # where the OFFSET value is written, for the range error
