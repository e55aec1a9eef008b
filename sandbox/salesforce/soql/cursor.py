"""Token-level reading for the SOQL parser: lookahead, keywords, errors and literal values.

Literal values are the leaves of the grammar (strings with escapes, numbers, dates,
dateTimes, TRUE/FALSE/NULL and relative date literals such as ``LAST_N_DAYS:30``).
"""

from __future__ import annotations

from sandbox.salesforce.soql import dates
from sandbox.salesforce.soql.errors import SoqlError, malformed, unsupported
from sandbox.salesforce.soql.lexer import Token, tokenize
from sandbox.salesforce.soql.nodes import DateLiteral, Value

UNSUPPORTED_CLAUSES = {
    "WITH": "WITH (data categories, SECURITY_ENFORCED, USER_MODE)",
    "GROUP": "GROUP BY",
    "HAVING": "HAVING",
    "FOR": "FOR VIEW / FOR REFERENCE / FOR UPDATE",
    "UPDATE": "UPDATE TRACKING / UPDATE VIEWSTAT",
    "USING": "USING SCOPE",
    "TYPEOF": "TYPEOF",
    "INCLUDES": "INCLUDES (multi-select picklists)",
    "EXCLUDES": "EXCLUDES (multi-select picklists)",
}


class TokenCursor:
    """Reads tokens for the parser; every error it raises points at the offending token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # ------------------------------------------------------------ token helpers

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def at(self, *keywords: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.upper in keywords

    def at_kind(self, kind: str, ahead: int = 0) -> bool:
        return self.peek(ahead).kind == kind

    def keyword(self, word: str) -> Token:
        if not self.at(word):
            raise self.unexpected()
        return self.advance()

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.peek()
        shown = "<EOF>" if token.kind == "eof" else f"'{token.text}'"
        self.reject_unsupported(token)
        return malformed(self.text, token.offset, f"unexpected token: {shown}")

    def reject_unsupported(self, token: Token) -> None:
        if token.kind == "ident" and token.upper in UNSUPPORTED_CLAUSES:
            raise unsupported(self.text, token.offset, UNSUPPORTED_CLAUSES[token.upper])

    # ------------------------------------------------------------ values

    def value(self) -> Value:
        token = self.peek()
        if token.kind == "string":
            self.advance()
            return Value("string", token.value, token.offset, token.text)
        if token.kind == "number":
            self.advance()
            number = float(token.text) if "." in token.text else int(token.text)
            return Value("number", number, token.offset, token.text)
        if token.kind in ("date", "datetime"):
            return self.date_value()
        if token.kind == "ident":
            return self.word_value()
        if token.kind == ":":
            raise unsupported(self.text, token.offset, "an Apex bind variable")
        raise self.unexpected()

    def date_value(self) -> Value:
        token = self.advance()
        try:
            if token.kind == "date":
                return Value("date", dates.parse_date(token.text), token.offset, token.text)
            return Value("datetime", dates.parse_datetime(token.text), token.offset, token.text)
        except ValueError:
            kind = "date" if token.kind == "date" else "dateTime"
            raise malformed(
                self.text, token.offset, f"invalid {kind} literal: {token.text}"
            ) from None

    def word_value(self) -> Value:
        token = self.advance()
        word = token.upper
        if word in ("TRUE", "FALSE"):
            return Value("boolean", word == "TRUE", token.offset, token.text)
        if word == "NULL":
            return Value("null", None, token.offset, token.text)
        if dates.is_date_literal(word):
            return Value("date_literal", DateLiteral(word), token.offset, token.text)
        if dates.takes_n(word):
            return Value(
                "date_literal", DateLiteral(word, self.literal_n()), token.offset, token.text
            )
        if "FISCAL" in word:
            raise unsupported(self.text, token.offset, f"the fiscal date literal {token.text}")
        raise self.unexpected(token)

    def literal_n(self) -> int:
        if not self.at_kind(":"):
            raise self.unexpected()
        self.advance()
        token = self.peek()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.advance()
        return int(token.text)
