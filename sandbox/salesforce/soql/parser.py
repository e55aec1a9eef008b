"""A recursive-descent parser for the SOQL subset the sandbox serves.

Grammar (keywords case-insensitive)::

    query      := SELECT (COUNT '(' ')' | path {',' path}) FROM name
                  [WHERE condition] [ORDER BY order {',' order}] [LIMIT int] [OFFSET int]
    condition  := NOT simple | simple {AND simple} | simple {OR simple}
    simple     := '(' condition ')' | path op value | path [NOT] IN '(' value {',' value} ')'
                  | path LIKE value

Salesforce insists on parentheses whenever AND, OR and NOT are mixed (``a AND b OR c`` is
"unexpected token: OR"), so there is no precedence to apply: the grammar above rejects
every ambiguous mix. Valid SOQL the sandbox does not implement (GROUP BY, subqueries,
aggregate and date functions, TYPEOF, WITH, FOR UPDATE...) fails with a message saying so.
"""

from __future__ import annotations

from sandbox.salesforce.soql.cursor import TokenCursor
from sandbox.salesforce.soql.errors import malformed, unsupported
from sandbox.salesforce.soql.lexer import Token
from sandbox.salesforce.soql.nodes import (
    And,
    Comparison,
    Condition,
    FieldRef,
    InList,
    Not,
    Or,
    OrderItem,
    Query,
    Value,
)

# Salesforce's reserved words, plus the clause keywords that must not be read as names.
RESERVED = frozenset({
    "AND", "ASC", "BY", "DESC", "EXCLUDES", "FALSE", "FIRST", "FOR", "FROM", "GROUP",
    "HAVING", "IN", "INCLUDES", "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OFFSET",
    "OR", "ORDER", "SELECT", "TRUE", "TYPEOF", "USING", "WHERE", "WITH",
})  # fmt: skip


def parse(text: str) -> Query:
    """Check the syntax of ``text``; raises SoqlError("MALFORMED_QUERY", ...)."""
    return _Parser(text).query()


class _Parser(TokenCursor):
    # ------------------------------------------------------------ clauses

    def query(self) -> Query:
        self.keyword("SELECT")
        fields, count = self.select_list()
        self.keyword("FROM")
        sobject = self.name()
        where = self.where() if self.at("WHERE") else None
        order_by = self.order_by() if self.at("ORDER") else ()
        limit = self.integer_clause("LIMIT")
        offset_at = self.peek(1).offset
        offset = self.integer_clause("OFFSET")
        if not self.at_kind("eof"):
            raise self.unexpected()
        return Query(
            self.text,
            fields,
            count,
            sobject.text,
            sobject.offset,
            where,
            order_by,
            limit,
            offset,
            offset_at,
        )

    def select_list(self) -> tuple[tuple[FieldRef, ...], bool]:
        if self.at("COUNT") and self.at_kind("(", 1) and self.at_kind(")", 2):
            self.index += 3
            if self.at_kind(","):
                raise malformed(
                    self.text,
                    self.peek().offset,
                    "COUNT() must be the only element of the SELECT list",
                )
            return (), True
        fields = [self.select_item()]
        while self.at_kind(","):
            self.advance()
            fields.append(self.select_item())
        return tuple(fields), False

    def select_item(self) -> FieldRef:
        token = self.peek()
        if token.kind == "(":
            raise unsupported(self.text, token.offset, "a subquery (parent-to-child relationship)")
        if token.kind == "ident" and self.at_kind("(", 1):
            if token.upper == "COUNT" and self.at_kind(")", 2):
                raise malformed(
                    self.text, token.offset, "COUNT() must be the only element of the SELECT list"
                )
            raise unsupported(self.text, token.offset, f"the function {token.text}()")
        return self.path()

    def name(self) -> Token:
        token = self.peek()
        if token.kind != "ident" or token.upper in RESERVED:
            raise self.unexpected()
        return self.advance()

    def path(self) -> FieldRef:
        first = self.name()
        parts = [first.text]
        while self.at_kind("."):
            self.advance()
            parts.append(self.name().text)
        return FieldRef(tuple(parts), first.offset)

    def where(self) -> Condition:
        self.advance()
        return self.condition()

    def order_by(self) -> tuple[OrderItem, ...]:
        self.advance()
        self.keyword("BY")
        items = [self.order_item()]
        while self.at_kind(","):
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        if self.at_kind("ident") and self.at_kind("(", 1):
            raise unsupported(self.text, self.peek().offset, f"ORDER BY {self.peek().text}()")
        field = self.path()
        descending = self.at("DESC")
        if self.at("ASC", "DESC"):
            self.advance()
        nulls_first = not descending
        if self.at("NULLS"):
            self.advance()
            if not self.at("FIRST", "LAST"):
                raise self.unexpected()
            nulls_first = self.advance().upper == "FIRST"
        return OrderItem(field, descending, nulls_first)

    def integer_clause(self, keyword: str) -> int | None:
        if not self.at(keyword):
            return None
        self.advance()
        token = self.peek()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.advance()
        return int(token.text)

    # ------------------------------------------------------------ conditions

    def condition(self) -> Condition:
        if self.at("NOT"):
            self.advance()
            return Not(self.simple())  # NOT x AND y: the caller sees AND and rejects it
        first = self.simple()
        if not self.at("AND", "OR"):
            return first
        operator = self.peek().upper
        operands = [first]
        while self.at(operator):
            self.advance()
            operands.append(self.simple())
        return And(tuple(operands)) if operator == "AND" else Or(tuple(operands))

    def simple(self) -> Condition:
        if not self.at_kind("("):
            return self.field_expression()
        self.advance()
        inner = self.condition()
        if not self.at_kind(")"):
            token = self.peek()
            shown = "<EOF>" if token.kind == "eof" else f"'{token.text}'"
            raise malformed(
                self.text, token.offset, f"expecting a right parentheses, found {shown}"
            )
        self.advance()
        return inner

    def field_expression(self) -> Condition:
        if self.at_kind("ident") and self.at_kind("(", 1):
            token = self.peek()
            raise unsupported(self.text, token.offset, f"the function {token.text}() in WHERE")
        field = self.path()
        token = self.peek()
        if token.kind == "op":
            self.advance()
            operator = "!=" if token.text == "<>" else token.text
            return Comparison(field, operator, self.value())
        if self.at("LIKE"):
            self.advance()
            return Comparison(field, "LIKE", self.value())
        negated = self.at("NOT") and self.peek(1).upper == "IN"
        if negated:
            self.advance()
        if self.at("IN"):
            self.advance()
            return InList(field, self.value_list(), negated)
        raise self.unexpected()

    def value_list(self) -> tuple[Value, ...]:
        if not self.at_kind("("):
            raise self.unexpected()
        self.advance()
        if self.at("SELECT"):
            raise unsupported(
                self.text, self.peek().offset, "a semi-join subquery (IN (SELECT ...))"
            )
        values = [self.value()]
        while self.at_kind(","):
            self.advance()
            values.append(self.value())
        if not self.at_kind(")"):
            raise self.unexpected()
        self.advance()
        return tuple(values)
