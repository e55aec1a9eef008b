"""SOQL errors in the shape Salesforce's REST API reports them.

A failed query answers ``[{"errorCode": ..., "message": ...}]``. For errors tied to a place
in the query Salesforce's message repeats the offending line, points at it with a caret
and names the row and column (1-based) before the explanation; clients and people
recognise that layout, so the sandbox keeps it.
"""

from __future__ import annotations


class SoqlError(Exception):
    """A query Salesforce would refuse; ``error_code`` is Salesforce's (``MALFORMED_QUERY``,
    ``INVALID_FIELD``, ``INVALID_TYPE``, ``INVALID_QUERY_FILTER_OPERATOR``,
    ``NUMBER_OUTSIDE_VALID_RANGE``)."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


def located(error_code: str, text: str, offset: int, detail: str) -> SoqlError:
    """An error pointing at character ``offset`` of the query ``text``."""
    offset = max(0, min(offset, len(text)))
    row = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = offset - line_start + 1
    caret = " " * (column - 1) + "^"
    message = f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}"
    return SoqlError(error_code, message)


def malformed(text: str, offset: int, detail: str) -> SoqlError:
    return located("MALFORMED_QUERY", text, offset, detail)


def unsupported(text: str, offset: int, what: str) -> SoqlError:
    """Valid SOQL the sandbox does not implement: refuse clearly rather than answer wrongly."""
    return malformed(text, offset, f"{what} is not supported by the driftcoach Salesforce sandbox")
