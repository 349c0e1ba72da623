"""The peers the maple tree is measured against: range maps a Python programmer would write.

Both keep non-overlapping inclusive ranges ``[first, last] -> entry`` with the maple tree's
store semantics (a store overwrites whatever it covers and trims what it cuts; storing
None erases), so every workload does the same work on every structure.

* :class:`SortedDictRangeMap` -- ``sortedcontainers.SortedDict`` keyed by range start,
  values ``(last, entry)``: the well-written peer.
* :class:`BisectRangeMap` -- three parallel sorted lists and :mod:`bisect`: the simplest
  thing that works.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedDict

ULONG_MAX = (1 << 64) - 1


class SortedDictRangeMap:
    """A range map on a SortedDict (start -> (last, entry))."""

    __slots__ = ("sd",)

    def __init__(self) -> None:
        self.sd: Any = SortedDict()

    def __len__(self) -> int:
        return len(self.sd)

    def copy(self) -> SortedDictRangeMap:
        new = SortedDictRangeMap()
        new.sd = self.sd.copy()
        return new

    def store(self, first: int, last: int, entry: Any) -> None:
        sd = self.sd
        i = sd.bisect_right(first) - 1
        if i >= 0:
            start, (end, e) = sd.peekitem(i)
            if end >= first:  # the range before overlaps: keep its head and tail
                if start < first:
                    sd[start] = (first - 1, e)
                else:
                    del sd[start]
                if end > last:
                    sd[last + 1] = (end, e)
        # Ranges starting inside [first, last] go, keeping any tail beyond last.
        for start in list(sd.irange(first, last)):
            end, e = sd.pop(start)
            if end > last:
                sd[last + 1] = (end, e)
        if entry is not None:
            sd[first] = (last, entry)

    def load(self, index: int) -> Any:
        sd = self.sd
        i = sd.bisect_right(index) - 1
        if i < 0:
            return None
        end, entry = sd.peekitem(i)[1]
        return entry if end >= index else None

    def erase(self, index: int) -> Any:
        sd = self.sd
        i = sd.bisect_right(index) - 1
        if i < 0:
            return None
        start, (end, entry) = sd.peekitem(i)
        if end < index:
            return None
        del sd[start]
        return entry

    def next(self, index: int) -> Any:
        """The first range starting after ``index`` (mt_next from inside or a gap)."""
        sd = self.sd
        for start in sd.irange(index, inclusive=(False, True)):
            return sd[start][1]
        return None

    def items(self) -> Iterator[tuple[int, int, Any]]:
        # The keys and a C-level map of the dict lookups: about 1.4x the rate of
        # ``for start, (end, entry) in sd.items()`` (an items view looks each key up in
        # Python code).
        sd = self.sd
        for start, (end, entry) in zip(sd, map(sd.__getitem__, sd), strict=True):
            yield start, end, entry

    def highest_gap(self, lo: int, hi: int, size: int) -> int | None:
        """End of the highest NULL range with ``size`` room inside [lo, hi] (a scan down),
        as ``mas_empty_area_rev`` reports it in ``last``."""
        sd = self.sd
        top = hi
        for start in sd.irange(maximum=hi, reverse=True):
            end = sd[start][0]
            if end < top and top - max(end + 1, lo) + 1 >= size:
                return top
            top = start - 1
            if top < lo:
                return None
        return top if top - lo + 1 >= size else None


class BisectRangeMap:
    """A range map on two plain sorted lists: the starts, and beside each its
    ``(last, entry)``; found with ``bisect``, changed with slice assignment."""

    __slots__ = ("spans", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.spans: list[tuple[int, Any]] = []

    def __len__(self) -> int:
        return len(self.starts)

    def copy(self) -> BisectRangeMap:
        new = BisectRangeMap()
        new.starts, new.spans = list(self.starts), list(self.spans)
        return new

    def store(self, first: int, last: int, entry: Any) -> None:
        starts, spans = self.starts, self.spans
        lo = bisect_right(starts, first) - 1  # the range starting at or before first
        if lo < 0 or spans[lo][0] < first:
            lo += 1  # it ends before first: not touched
        hi = bisect_right(starts, last)  # the ranges from lo to hi overlap
        new_s: list[int] = []
        new_v: list[tuple[int, Any]] = []
        if lo < hi and starts[lo] < first:  # keep the head of the first one
            new_s.append(starts[lo])
            new_v.append((first - 1, spans[lo][1]))
        if entry is not None:
            new_s.append(first)
            new_v.append((last, entry))
        if lo < hi and spans[hi - 1][0] > last:  # and the tail of the last one
            new_s.append(last + 1)
            new_v.append(spans[hi - 1])
        starts[lo:hi] = new_s
        spans[lo:hi] = new_v

    def load(self, index: int) -> Any:
        i = bisect_right(self.starts, index) - 1
        if i >= 0:
            last, entry = self.spans[i]
            if last >= index:
                return entry
        return None

    def erase(self, index: int) -> Any:
        i = bisect_right(self.starts, index) - 1
        if i < 0:
            return None
        last, entry = self.spans[i]
        if last < index:
            return None
        del self.starts[i], self.spans[i]
        return entry

    def next(self, index: int) -> Any:
        i = bisect_right(self.starts, index)
        return self.spans[i][1] if i < len(self.spans) else None

    def items(self) -> Iterator[tuple[int, int, Any]]:
        for start, (last, entry) in zip(self.starts, self.spans, strict=True):
            yield start, last, entry

    def highest_gap(self, lo: int, hi: int, size: int) -> int | None:
        starts, spans = self.starts, self.spans
        top = hi
        i = bisect_right(starts, hi) - 1
        while i >= 0:
            end = spans[i][0]
            if end < top and top - max(end + 1, lo) + 1 >= size:
                return top
            top = starts[i] - 1
            if top < lo:
                return None
            i -= 1
        return top if top - lo + 1 >= size else None
