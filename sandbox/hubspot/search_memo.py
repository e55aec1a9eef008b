"""The fake search index's memo of a window's matches, so that paging it is not a rescan.

A sync pages through a search window (fixed ``hs_lastmodifieddate`` and ``hs_createdate``
bounds) by "id greater than the last one", 200 at a time. Answered by a scan, every page
re-reads every object above the last id to count ``total``: O(n) a page, O(n^2 / 200) a
window, which made the fake, not the sync, the slowest part of a large first sync. HubSpot
answers from an index; the sandbox keeps, per object type, the ids that match a window's
time bounds, in id order, from one scan, and answers each page with two bisections.

It answers exactly what a scan answers (``tests/unit/test_hubspot_sandbox_search_ranges``):

* a memo is dropped as soon as any object changes: :func:`model.revision` moves on every
  attribute written to any :class:`~sandbox.hubspot.model.CrmObject` and on
  every object added;
* it serves only from the moment it was made until the first lagging index view it saw
  catches up (``fresh_from_ms``): from then on that object matches by its new values.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sandbox.hubspot.model import CrmObject, revision
from sandbox.hubspot.search_ranges import SystemRange

#: Time bounds a memo is for: (updated low, updated high, created low, created high).
Bounds = tuple[float, float, float, float]
#: How many windows a type remembers (a sync reads one at a time; the benchmark's driver
#: counts with others in between).
MEMO_SIZE = 4


@dataclass(frozen=True)
class _Matches:
    revision: int
    since_ms: int  # the clock when it was made
    until_ms: float  # when the first lagging view it saw catches up
    ids: list[int]

    def valid(self, now_ms: int) -> bool:
        return self.revision == revision() and self.since_ms <= now_ms < self.until_ms


class RangeMemo:
    """Pages of one object type's system-range searches. Callers hold the state's lock."""

    def __init__(self) -> None:
        self._memos: dict[Bounds, _Matches] = {}

    def page(
        self,
        ids: Sequence[int],
        objects: Mapping[int, CrmObject],
        bounds: SystemRange,
        now_ms: int,
        *,
        after: int,
        limit: int,
    ) -> tuple[int, list[int]]:
        """(total, the page's ids): what a scan of ``ids`` (in id order) would answer."""
        matches = self._matches(ids, objects, bounds, now_ms)
        id_low, id_high = bounds.id
        start = bisect.bisect_left(matches, id_low)
        end = max(start, bisect.bisect_right(matches, id_high))  # an empty id range: none
        first = start + after
        return end - start, matches[first : min(end, first + limit)]

    def _matches(
        self, ids: Sequence[int], objects: Mapping[int, CrmObject], bounds: SystemRange, now: int
    ) -> list[int]:
        key: Bounds = (*bounds.updated, *bounds.created)
        memo = self._memos.get(key)
        if memo is None or not memo.valid(now):
            memo = _scan(ids, objects, key, now)
            self._memos.pop(key, None)
            while len(self._memos) >= MEMO_SIZE:
                del self._memos[next(iter(self._memos))]
            self._memos[key] = memo
        return memo.ids


def _scan(ids: Sequence[int], objects: Mapping[int, CrmObject], key: Bounds, now: int) -> _Matches:
    """Every searchable object whose indexed modification and creation times are within
    the bounds, as the index shows them at ``now``."""
    updated_low, updated_high, created_low, created_high = key
    made_at, until = revision(), math.inf
    matches: list[int] = []
    for object_id in ids:
        obj = objects[object_id]
        view = obj.indexed
        if view is not None and now < view.fresh_from_ms:
            until = min(until, view.fresh_from_ms)
            if view.archived or view.props is None:
                continue
            updated = view.updated_ms
        elif obj.archived_ms is not None:
            continue
        else:
            updated = obj.updated_ms
        if updated_low <= updated <= updated_high and created_low <= obj.created_ms <= (
            created_high
        ):
            matches.append(object_id)
    return _Matches(made_at, now, until, matches)
