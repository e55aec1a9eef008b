"""Rule packs: a directory of YAML rule documents, validated as a whole before any is stored.

A pack is applied all or nothing: one invalid document stops the whole pack, with every
error of every file listed (file, field, reason), so ops fix a pack in one pass instead
of one error at a time. Files are read within the limits of
:mod:`service.evaluation.documents` (size, depth, no aliases, no repeated keys, regular
files only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rules.documents import RuleDocument, describe_errors
from service.evaluation.documents import DocumentError, read_document_file

PACK_SUFFIXES = (".yaml", ".yml", ".json")


class PackError(ValueError):
    """The pack cannot be applied; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class PackedRule:
    source: str
    document: RuleDocument


def default_pack_dir() -> Path:
    """The default pack shipped inside the package (``rules/packs/default``)."""
    return Path(str(resources.files("rules") / "packs" / "default"))


def load_pack(directory: Path) -> list[PackedRule]:
    """Every rule document in ``directory``, validated; raises :class:`PackError`."""
    if not directory.is_dir():
        raise PackError([f"{directory}: not a directory"])
    files = sorted(p for p in directory.iterdir() if p.suffix in PACK_SUFFIXES)
    if not files:
        raise PackError([f"{directory}: no rule documents (*.yaml, *.yml, *.json)"])
    rules: list[PackedRule] = []
    problems: list[str] = []
    for path in files:
        try:
            rules.append(PackedRule(path.name, _parse(path)))
        except _FileProblem as problem:
            problems.extend(problem.lines)
    problems.extend(_duplicate_keys(rules))
    if problems:
        raise PackError(problems)
    return rules


class _FileProblem(Exception):  # noqa: N818 - internal carrier of messages
    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines)
        self.lines = lines


def _parse(path: Path) -> RuleDocument:
    try:
        raw: Any = read_document_file(path)
    except DocumentError as exc:
        raise _FileProblem([f"{path.name}: {exc}"]) from None
    if not isinstance(raw, dict):
        raise _FileProblem([f"{path.name}: a rule document must be a mapping"])
    try:
        return RuleDocument.model_validate(raw)
    except ValidationError as exc:
        raise _FileProblem([f"{path.name}: {line}" for line in describe_errors(exc)]) from None


def _duplicate_keys(rules: Sequence[PackedRule]) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for rule in rules:
        key = rule.document.key
        if key in seen:
            problems.append(f"{rule.source}: key {key!r} is also used by {seen[key]}")
        seen.setdefault(key, rule.source)
    return problems
