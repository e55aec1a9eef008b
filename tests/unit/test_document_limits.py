"""Rule documents are read in bounded time and memory, refused in one line otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.evaluation.documents import (
    MAX_BYTES,
    DocumentError,
    parse_document,
    read_document_file,
)
from service.evaluation.packs import PackError, default_pack_dir, load_pack

ALIAS_BOMB = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def _refused(text: str | bytes) -> str:
    with pytest.raises(DocumentError) as refused:
        parse_document(text)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_ten_thousand_levels_of_nesting_are_refused_before_the_recursion_limit():
    assert "nested deeper than 32 levels" in _refused("[" * 10_000 + "]" * 10_000)
    deep_block = "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v\n"
    assert "nested deeper than 32 levels" in _refused(deep_block)


def test_a_ten_megabyte_document_is_refused_by_its_size():
    assert "larger than 256 KiB" in _refused("name: " + "x" * (10 * 1024 * 1024))


def test_aliases_are_refused_so_an_alias_bomb_never_expands():
    assert "line 2, column" in _refused(ALIAS_BOMB)
    assert "aliases are not allowed" in _refused(ALIAS_BOMB)


def test_a_key_given_twice_is_refused_with_its_line():
    assert _refused("key: a\nname: b\nkey: c\n") == "line 3, column 1: key 'key' given twice"


def test_a_document_within_the_limits_reads_as_safe_load_would():
    assert parse_document("key: a\nlist: [1, 2]\nnested: {x: {y: 1}}\n") == {
        "key": "a",
        "list": [1, 2],
        "nested": {"x": {"y": 1}},
    }
    assert parse_document(b'{"key": "a"}') == {"key": "a"}  # JSON is YAML
    assert "not valid YAML" in _refused("key: [\n")
    assert "not UTF-8" in _refused(b"key: \xff\n")


def test_only_regular_files_are_read_and_a_fifo_never_blocks(tmp_path: Path):
    fifo = tmp_path / "blocked.yaml"
    os.mkfifo(fifo)
    device = tmp_path / "zero.yaml"
    device.symlink_to("/dev/zero")
    for path in (fifo, device):
        with pytest.raises(DocumentError, match="not a regular file"):
            read_document_file(path)
    big = tmp_path / "big.yaml"
    big.write_text("x" * (MAX_BYTES + 1))
    with pytest.raises(DocumentError, match="larger than 256 KiB"):
        read_document_file(big)


def test_a_pack_names_the_file_and_the_problem_and_applies_nothing(tmp_path: Path):
    for source in default_pack_dir().iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    (tmp_path / "bomb.yaml").write_text(ALIAS_BOMB)
    os.mkfifo(tmp_path / "fifo.yaml")
    with pytest.raises(PackError) as refused:
        load_pack(tmp_path)  # the FIFO has no writer: reading it would block for good
    assert refused.value.problems == [
        "bomb.yaml: line 2, column 8: aliases are not allowed",
        "fifo.yaml: not a regular file",
    ]
