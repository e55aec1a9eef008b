"""Task text templates: named placeholders, checked when a rule is loaded.

A coaching task's subject and body come from the rule document, written by sales ops, and
land in a CRM in front of a manager. A typo in a placeholder should therefore fail when the
rule is applied, not silently produce "{rep_nmae}" in a task a month later. Only plain
``{name}`` placeholders from a fixed vocabulary are allowed: no attribute access, indexing,
conversions or format specs, so a template can never reach into Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

#: Placeholders every rule may use; the values are pre-formatted strings.
REP_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "rep_name",
        "rep_first_name",
        "manager_name",
        "rule_name",
        "drives",
        "observed",
        "standard",
        "gap_percent",
        "severity",
        "period",
        "window",
    }
)

#: Placeholders only rules about deals may use.
DEAL_PLACEHOLDERS: frozenset[str] = frozenset(
    {"deal_name", "deal_stage", "deal_amount", "deal_close_date"}
)

#: Placeholders of a deal rule rolled up per rep (its tasks are about the rep's deals).
ROLLUP_PLACEHOLDERS: frozenset[str] = frozenset({"deal_count", "deals"})

_FORMATTER = Formatter()


def placeholders(template: str) -> tuple[str, ...]:
    """The placeholder names in ``template``, in order.

    Raises ``ValueError`` (which pydantic reports against the field) for unbalanced braces,
    positional fields, attribute or index access, conversions and format specs.
    """
    names: list[str] = []
    for _literal, name, spec, conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} must be a plain name such as {{rep_name}}")
        if conversion or spec:
            raise ValueError(f"placeholder {{{name}}} may not carry a conversion or format spec")
        names.append(name)
    return tuple(names)


def check_placeholders(template: str, allowed: frozenset[str]) -> None:
    """Refuse placeholders outside ``allowed``, naming the unknown ones and the choices."""
    unknown = sorted(set(placeholders(template)) - allowed)
    if unknown:
        listed = ", ".join(f"{{{name}}}" for name in unknown)
        choices = ", ".join(sorted(allowed))
        raise ValueError(f"unknown placeholder(s) {listed}; use one of: {choices}")


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a template checked by :func:`check_placeholders`; a missing value renders empty."""
    pieces: list[str] = []
    for literal, name, _spec, _conversion in _FORMATTER.parse(template):
        pieces.append(literal)
        if name is not None:
            pieces.append(values.get(name, ""))
    return "".join(pieces)
