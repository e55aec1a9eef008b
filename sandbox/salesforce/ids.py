"""Salesforce record ids: 15 case-sensitive characters plus a 3-character checksum.

Real ids start with the object's key prefix (005 User, 006 Opportunity, 00T Task...),
then a pod identifier and a base-62 sequence. The 18-character form appends a suffix
that encodes which of the first 15 characters are upper case, so ids survive
case-insensitive systems; clients (and driftcoach) may compare either form.
"""

from __future__ import annotations

import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_PAIRS = [a + b for a in _BASE62 for b in _BASE62]  # two digits at a time: loading is hot
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_POD = "8W"  # stands where a real org's instance identifier would
# Upper-case letters to "1", everything else to "0": the suffix encodes that bit mask.
_UPPER_MASK = str.maketrans({c: "1" if c.isupper() else "0" for c in _BASE62})


def checksum_suffix(id15: str) -> str:
    """The documented 3-character suffix for a 15-character id.

    Each 5-character chunk becomes a 5-bit number (bit i set when character i is upper
    case), which indexes ``A..Z0..5``.
    """
    if len(id15) != 15:
        raise ValueError(f"expected 15 characters, got {len(id15)}")
    mask = id15.translate(_UPPER_MASK)
    return "".join(_SUFFIX_ALPHABET[int(mask[i : i + 5][::-1], 2)] for i in (0, 5, 10))


def to_18(record_id: str) -> str:
    """Normalise a 15- or 18-character id to its 18-character form."""
    if len(record_id) == 18:
        return record_id[:15] + checksum_suffix(record_id[:15])
    return record_id + checksum_suffix(record_id)


def make_id(key_prefix: str, sequence: int) -> str:
    """The ``sequence``-th id of an object with ``key_prefix``, in 18-character form."""
    if len(key_prefix) != 3:
        raise ValueError("key prefixes are 3 characters")
    pairs = []
    value = sequence
    for _ in range(5):
        value, remainder = divmod(value, 3844)
        pairs.append(_PAIRS[remainder])
    if value:
        raise ValueError("sequence too large for a 15-character id")
    id15 = key_prefix + _POD + "".join(reversed(pairs))
    return id15 + checksum_suffix(id15)


def is_valid_id(record_id: str) -> bool:
    if len(record_id) not in (15, 18) or not record_id.isalnum() or not record_id.isascii():
        return False
    return len(record_id) == 15 or to_18(record_id) == record_id
