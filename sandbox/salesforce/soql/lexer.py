"""Splits SOQL text into tokens, keeping each token's offset for Salesforce-style errors.

Keywords are not told apart from identifiers here: SOQL keywords are case-insensitive and
the parser decides by position whether ``Type`` or ``Order`` is a keyword or a field name.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sandbox.salesforce.soql.errors import SoqlError, malformed


class Token(NamedTuple):
    kind: str  # ident string number date datetime op ( ) , . : eof
    text: str  # as written (strings keep their quotes and escapes)
    offset: int
    value: str = ""  # strings: the decoded value

    @property
    def upper(self) -> str:
        return self.text.upper()


_TOKEN = re.compile(
    r"""
     (?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]*(?:Z|[+-][0-9:]*)?)
    |(?P<date>\d{4}-\d{2}-\d{2}(?!\w))
    |(?P<number>[+-]?(?:\d+(?:\.\d+)?|\.\d+))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),.:])
    """,
    re.VERBOSE | re.DOTALL,
)

# The escapes of SOQL's quoted strings. \% and \_ only matter to LIKE patterns, where they
# stand for a literal percent sign or underscore instead of a wildcard.
_ESCAPES = {
    "n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t", "b": "\b", "B": "\b",
    "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\", "%": "%", "_": "_",
}  # fmt: skip


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _lexing_error(text, position)
        kind = match.lastgroup or ""
        lexeme = match.group()
        if kind == "string":
            tokens.append(Token(kind, lexeme, position, decode_string(text, position, lexeme)))
        elif kind == "punct":
            tokens.append(Token(lexeme, lexeme, position))
        elif kind != "ws":
            tokens.append(Token(kind, lexeme, position))
        position = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _lexing_error(text: str, position: int) -> SoqlError:
    if text[position] == "'":
        return malformed(text, position, "unterminated string literal: missing closing quote")
    return malformed(text, position, f"no viable alternative at character '{text[position]}'")


def decode_string(text: str, offset: int, lexeme: str) -> str:
    """The value of a quoted string; unknown escapes are errors, as in Salesforce."""
    body = lexeme[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in _ESCAPES:
                detail = (
                    f"Invalid string literal {lexeme}. "
                    f"Illegal character sequence '\\{escaped}' in string literal."
                )
                raise malformed(text, offset + index + 1, detail)
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def like_pattern(lexeme: str) -> re.Pattern[str]:
    """A LIKE string as a regular expression: ``%`` any run, ``_`` one character, both
    case-insensitive (SOQL's LIKE ignores case); escaped ``\\%``/``\\_`` are literal."""
    body = lexeme[1:-1]
    parts: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            parts.append(re.escape(_ESCAPES[body[index + 1]]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
