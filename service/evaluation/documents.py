"""Reading rule documents someone wrote, in bounded time and memory.

A rule document is a small mapping (a few hundred bytes to a few kilobytes). Whatever
arrives (a file of a pack now, a request body of the API later) is refused with one
line naming the problem, before it can cost much:

* larger than :data:`MAX_BYTES`, or not a regular file (a FIFO or a device would block
  or never end);
* nested deeper than :data:`MAX_DEPTH` (checked while composing, long before Python's
  recursion limit);
* YAML aliases (``*name``): a few of them expand into billions of nodes, and a rule
  document has no use for them;
* a key given twice in one mapping (YAML would keep the last one without a word).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32


class DocumentError(ValueError):
    """The document cannot be read; the message names the problem in one line."""


def read_document_file(path: Path) -> Any:
    """The parsed content of the file at ``path`` (YAML or JSON), within the limits."""
    try:
        status = path.stat()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(status.st_mode):
        raise DocumentError("not a regular file")
    if status.st_size > MAX_BYTES:
        raise DocumentError(f"larger than {MAX_BYTES // 1024} KiB ({status.st_size:,} bytes)")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    return parse_document(data)


def parse_document(data: bytes | str) -> Any:
    """The parsed content of one YAML (or JSON) document, within the limits."""
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > MAX_BYTES:
        raise DocumentError(f"larger than {MAX_BYTES // 1024} KiB ({size:,} bytes)")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    loader = _BoundedLoader(data)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise DocumentError(f"not valid YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()


class _BoundedLoader(yaml.SafeLoader):
    """``safe_load`` with the limits above checked as the document is composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise DocumentError(f"{_where(event.start_mark)}: aliases are not allowed")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise DocumentError(f"{_where(mark)}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise DocumentError(
                    f"{_where(key_node.start_mark)}: a key must be a plain value"
                ) from None
            if duplicate:
                raise DocumentError(f"{_where(key_node.start_mark)}: key {key!r} given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _one_line(error: yaml.YAMLError) -> str:
    return " ".join(str(error).split())
