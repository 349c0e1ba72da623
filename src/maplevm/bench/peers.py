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

from bisect import bisect_left, bisect_right
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
        for start in self.sd.irange(index, inclusive=(False, True)):
            return self.sd[start][1]
        return None

    def items(self) -> Iterator[tuple[int, int, Any]]:
        for start, (end, entry) in self.sd.items():
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
    """A range map on three parallel sorted lists (starts, ends, entries)."""

    __slots__ = ("ends", "entries", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.entries: list[Any] = []

    def __len__(self) -> int:
        return len(self.starts)

    def copy(self) -> BisectRangeMap:
        new = BisectRangeMap()
        new.starts, new.ends, new.entries = list(self.starts), list(self.ends), list(self.entries)
        return new

    def store(self, first: int, last: int, entry: Any) -> None:
        starts, ends, entries = self.starts, self.ends, self.entries
        lo = bisect_left(ends, first)  # first range ending at or after first
        hi = bisect_right(starts, last)  # ranges from lo to hi overlap
        new_s: list[int] = []
        new_e: list[int] = []
        new_x: list[Any] = []
        if lo < hi:
            if starts[lo] < first:
                new_s.append(starts[lo])
                new_e.append(first - 1)
                new_x.append(entries[lo])
        if entry is not None:
            new_s.append(first)
            new_e.append(last)
            new_x.append(entry)
        if lo < hi and ends[hi - 1] > last:
            new_s.append(last + 1)
            new_e.append(ends[hi - 1])
            new_x.append(entries[hi - 1])
        starts[lo:hi] = new_s
        ends[lo:hi] = new_e
        entries[lo:hi] = new_x

    def load(self, index: int) -> Any:
        i = bisect_right(self.starts, index) - 1
        if i >= 0 and self.ends[i] >= index:
            return self.entries[i]
        return None

    def erase(self, index: int) -> Any:
        i = bisect_right(self.starts, index) - 1
        if i < 0 or self.ends[i] < index:
            return None
        entry = self.entries[i]
        del self.starts[i], self.ends[i], self.entries[i]
        return entry

    def next(self, index: int) -> Any:
        i = bisect_right(self.starts, index)
        return self.entries[i] if i < len(self.entries) else None

    def items(self) -> Iterator[tuple[int, int, Any]]:
        return zip(self.starts, self.ends, self.entries, strict=True)

    def highest_gap(self, lo: int, hi: int, size: int) -> int | None:
        starts, ends = self.starts, self.ends
        top = hi
        i = bisect_right(starts, hi) - 1
        while i >= 0:
            end = ends[i]
            if end < top and top - max(end + 1, lo) + 1 >= size:
                return top
            top = starts[i] - 1
            if top < lo:
                return None
            i -= 1
        return top if top - lo + 1 >= size else None
