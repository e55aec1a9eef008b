"""Quotas as the API shows and takes them, and the CSV upload read row by row.

A CSV file is checked whole before anything is applied: every problem is reported with
its line (the header is line 1) and column as ``lines.<line>.<column>``, so a sales-ops
analyst can fix the file in one pass; a file with any problem changes nothing.
"""

from __future__ import annotations

import _csv
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from service.api.problems import FieldProblem
from service.store.quotas import QuotaInput
from service.store.tables import Quota

#: Rows one upload may hold (the body is capped at 64 KiB besides).
MAX_ROWS = 10_000
#: Problems listed in one answer; the detail says how many there were.
MAX_LISTED = 200
REQUIRED = ("rep_crm_id", "period_start", "period_end", "amount")
OPTIONAL = ("currency",)
MAX_AMOUNT_DIGITS, AMOUNT_PLACES = 18, 2  # the store's Numeric(18, 2)

_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
CrmIdText = Annotated[
    str, Field(min_length=1, max_length=64, pattern=_NO_CONTROL, description="A CRM user id")
]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")

CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A CSV file: a header naming rep_crm_id, period_start, period_end, "
        "amount and optionally currency (any order), then one quota per line. Dates are "
        "YYYY-MM-DD, period_end inclusive; amounts have at most 2 decimals.",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "rep_crm_id,period_start,period_end,amount,currency\n"
                "005A1,2026-01-01,2026-03-31,120000,USD\n",
            }
        },
    }
}


class QuotaIn(BaseModel):
    """One rep's quota for one period, as sales ops set it."""

    model_config = ConfigDict(extra="forbid")

    connection_id: int = Field(ge=1, le=2**53)
    rep_crm_id: CrmIdText
    period_start: date
    period_end: date = Field(description="Inclusive")
    amount: Decimal = Field(ge=0, max_digits=MAX_AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217")

    @field_validator("currency")
    @classmethod
    def _upper(cls, currency: str | None) -> str | None:
        return None if currency is None else currency.upper()

    @field_validator("period_end")
    @classmethod
    def _after_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if start is not None and end < start:
            raise ValueError("the period ends before it starts")
        return end

    def as_input(self) -> QuotaInput:
        return QuotaInput(self.rep_crm_id, self.period_start, self.period_end,
                          self.amount, self.currency)  # fmt: skip


class QuotaView(BaseModel):
    """A quota as stored: ``source`` says whether the CRM or sales ops set it."""

    id: int
    connection_id: int
    rep_crm_id: str
    period_start: date
    period_end: date
    amount: Decimal
    currency: str | None
    source: str
    crm_id: str | None
    updated_at: datetime

    @classmethod
    def of(cls, row: Quota) -> QuotaView:
        return cls(id=row.id, connection_id=row.connection_id, rep_crm_id=row.rep_crm_id,
                   period_start=row.period_start, period_end=row.period_end,
                   amount=row.amount, currency=row.currency, source=row.source.value,
                   crm_id=row.crm_id, updated_at=row.updated_at)  # fmt: skip


class Upload(BaseModel):
    """What an upload did: rows read, quotas created, changed and left as they were."""

    connection_id: int
    rows: int
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    quota: QuotaInput


def read_csv(text: str) -> tuple[list[CsvRow], list[FieldProblem]]:
    """The file's quotas, or the problems found in it (all of them, line by line)."""
    lines = csv.reader(io.StringIO(text, newline=""))
    reader = _Reader(lines)
    try:
        return reader.read()
    except csv.Error as exc:
        return [], [_problem(lines.line_num, None, f"not readable as CSV ({exc})")]


class _Reader:
    def __init__(self, lines: _csv.Reader) -> None:
        self.lines = lines
        self.problems: list[FieldProblem] = []
        self.seen: dict[tuple[str, date, date], int] = {}

    def read(self) -> tuple[list[CsvRow], list[FieldProblem]]:
        header = self._header(next(self.lines, None))
        if header is None:
            return [], self.problems
        rows, count = [], 0
        for fields in self.lines:
            line = self.lines.line_num
            if not any(value.strip() for value in fields):
                continue
            count += 1
            if count > MAX_ROWS:
                self.problems.append(_problem(line, None, f"more than {MAX_ROWS} rows"))
                break
            row = self._row(line, header, fields)
            if row is not None:
                rows.append(row)
        if count == 0 and not self.problems:
            self.problems.append(_problem(2, REQUIRED[0], "the file holds no quota rows"))
        return rows, self.problems

    def _header(self, fields: list[str] | None) -> list[str] | None:
        names = [name.strip().lower() for name in fields or []]
        if not any(names):
            self.problems.append(_problem(1, None, "the file is empty: it needs a header line "
                                          f"naming {', '.join(REQUIRED)}"))  # fmt: skip
            return None
        known = (*REQUIRED, *OPTIONAL)
        for index, name in enumerate(names):
            if name not in known:
                message = f"unknown column; use {', '.join(known)}"  # its name is not echoed
                self.problems.append(_problem(1, f"column_{index + 1}", message))
            elif names.index(name) != index:
                self.problems.append(_problem(1, name, "this column is named twice"))
        for name in REQUIRED:
            if name not in names:
                self.problems.append(_problem(1, name, "the header lacks this column"))
        return None if self.problems else names

    def _row(self, line: int, header: Sequence[str], fields: list[str]) -> CsvRow | None:
        before = len(self.problems)
        for extra in range(len(header), len(fields)):
            self.problems.append(_problem(line, f"column_{extra + 1}", "a value past the header"))
        values = dict(zip(header, (value.strip() for value in fields), strict=False))
        parsed = {name: self._value(line, name, values.get(name, "")) for name in header}
        if len(self.problems) > before:
            return None
        start, end = parsed["period_start"], parsed["period_end"]
        if end < start:
            self.problems.append(_problem(line, "period_end", "the period ends before it starts"))
            return None
        quota = QuotaInput(parsed["rep_crm_id"], start, end, parsed["amount"],
                           parsed.get("currency"))  # fmt: skip
        first = self.seen.setdefault(quota.period, line)
        if first != line:
            message = f"repeats line {first}: same rep and period"
            self.problems.append(_problem(line, "rep_crm_id", message))
            return None
        return CsvRow(line, quota)

    def _value(self, line: int, column: str, text: str) -> Any:
        try:
            return _PARSERS[column](text)
        except ValueError as exc:
            self.problems.append(_problem(line, column, str(exc)))
            return None


def _rep(text: str) -> str:
    if not text:
        raise ValueError("missing: a CRM user id")
    if len(text) > 64 or not re.match(_NO_CONTROL, text):
        raise ValueError("not a CRM user id (1 to 64 characters, no control characters)")
    return text


def _date(text: str) -> date:
    if not _DATE.match(text):
        raise ValueError("not a date: use YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("not a calendar date") from None


def _amount(text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number (e.g. 120000 or 120000.50)") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a number of 0 or more")
    digits = amount.normalize().as_tuple()
    places = -int(digits.exponent) if isinstance(digits.exponent, int) else 0
    if places > AMOUNT_PLACES:
        raise ValueError(f"at most {AMOUNT_PLACES} decimals")
    if amount >= Decimal(10) ** (MAX_AMOUNT_DIGITS - AMOUNT_PLACES):
        raise ValueError("too large")
    return amount


def _currency(text: str) -> str | None:
    if not text:
        return None
    if not _CURRENCY.match(text):
        raise ValueError("not a currency code (three letters, e.g. USD)")
    return text.upper()


_PARSERS: dict[str, Any] = {
    "rep_crm_id": _rep,
    "period_start": _date,
    "period_end": _date,
    "amount": _amount,
    "currency": _currency,
}


def _problem(line: int, column: str | None, message: str) -> FieldProblem:
    field = f"lines.{line}" if column is None else f"lines.{line}.{column}"
    return FieldProblem(field=field, message=message)
