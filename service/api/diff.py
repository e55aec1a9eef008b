"""What changed between two versions of a document, field by field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_MISSING = object()


class Change(BaseModel):
    """One field that differs: ``path`` dotted (list items by index), ``before`` or
    ``after`` absent (null) where the field was added or removed."""

    path: str
    before: Any = None
    after: Any = None


def diff_documents(before: Any, after: Any, path: str = "") -> list[Change]:
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in sorted(set(before) | set(after)):
            here = f"{path}.{key}" if path else str(key)
            old, new = before.get(key, _MISSING), after.get(key, _MISSING)
            if old is _MISSING:
                changes.append(Change(path=here, after=new))
            elif new is _MISSING:
                changes.append(Change(path=here, before=old))
            else:
                changes.extend(diff_documents(old, new, here))
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (o, n) in enumerate(zip(before, after, strict=True))
                for c in diff_documents(o, n, f"{path}[{i}]")]  # fmt: skip
    return [] if before == after else [Change(path=path or "document", before=before, after=after)]
