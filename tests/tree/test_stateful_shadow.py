"""Hypothesis drives the maple tree and a plain shadow model side by side.

The shadow is the simplest correct range map: a sorted list of ``(first, last, entry)``
for the non-NULL ranges.  After every step the tree must pass ``validate()`` (the kernel's
mt_validate checks plus equal leaf depth) and agree with the shadow on every range, on
loads, on neighbour searches, and on gap searches (in MT_FLAGS_ALLOC_RANGE trees).

Three machines: small trees with indices drawn from a narrow space (many collisions,
spanning stores, rebalances), VMA-like trees (page-aligned ranges in a wide space), and
runs that start from a large prebuilt tree (10,000 entries by default; 100,000 in the slow
campaign) so that writes reach deep trees.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from maplevm.kapi import mt_for_each, mt_next
from maplevm.tree import (
    MM_MT_FLAGS,
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    EntryExists,
    MapleTree,
    NoSpace,
    xa_mk_value,
)

Range = tuple[int, int, Any]


class Shadow:
    """Non-overlapping, sorted ``(first, last, entry)`` ranges; NULL is absence."""

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.ranges: list[Range] = []

    def store(self, first: int, last: int, entry: Any) -> None:
        # Only the ranges meeting [first, last] change: at most one before it is trimmed,
        # at most one after it is trimmed, everything between goes.
        lo = max(0, bisect_right(self.firsts, first) - 1)
        hi = bisect_right(self.firsts, last)
        middle: list[Range] = []
        for a, b, e in self.ranges[lo:hi]:
            if b < first or a > last:
                middle.append((a, b, e))
                continue
            if a < first:
                middle.append((a, first - 1, e))
            if b > last:
                middle.append((last + 1, b, e))
        if entry is not None:
            middle.append((first, last, entry))
        middle.sort(key=lambda r: r[0])
        self.ranges[lo:hi] = middle
        self.firsts[lo:hi] = [r[0] for r in middle]

    @classmethod
    def of(cls, ranges: list[Range]) -> Shadow:
        shadow = cls()
        shadow.ranges = list(ranges)
        shadow.firsts = [r[0] for r in ranges]
        return shadow

    def find(self, index: int) -> Range | None:
        i = bisect_right(self.firsts, index) - 1
        if i >= 0 and self.ranges[i][1] >= index:
            return self.ranges[i]
        return None

    def erase(self, index: int) -> Any:
        hit = self.find(index)
        if hit is None:
            return None
        self.store(hit[0], hit[1], None)
        return hit[2]

    def occupied(self, first: int, last: int) -> bool:
        i = bisect_right(self.firsts, last) - 1
        return i >= 0 and self.ranges[i][1] >= first

    def gaps(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """NULL ranges intersected with ``[lo, hi]``, in order."""
        out = []
        cursor = lo
        start = max(0, bisect_left(self.firsts, lo) - 1)
        for a, b, _e in self.ranges[start:]:
            if b < cursor:
                continue
            if a > hi:
                break
            if a > cursor:
                out.append((cursor, a - 1))
            cursor = b + 1
            if cursor > hi or b == ULONG_MAX:
                return out
        if cursor <= hi:
            out.append((cursor, hi))
        return out

    def lowest_fit(self, lo: int, hi: int, size: int) -> int | None:
        for a, b in self.gaps(lo, hi):
            if b - a + 1 >= size:
                return a
        return None

    def highest_fit_end(self, lo: int, hi: int, size: int) -> int | None:
        for a, b in reversed(self.gaps(lo, hi)):
            if b - a + 1 >= size:
                return b
        return None


class TreeMachine(RuleBasedStateMachine):
    """Shared rules; subclasses pick the index space and the starting tree."""

    SPACE: ClassVar[int] = 200
    SIZES: ClassVar[tuple[int, ...]] = (1, 2, 3, 7, 20, 60)
    PREBUILT: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.mt = MapleTree(0)
        self.shadow = Shadow()
        self.serial = 0

    @initialize(flags=st.sampled_from([0, MT_FLAGS_ALLOC_RANGE, MM_MT_FLAGS]))
    def start(self, flags: int) -> None:
        self.mt = _prebuilt(self.PREBUILT, flags) if self.PREBUILT else MapleTree(flags)
        self.shadow = Shadow.of(list(self.mt.items()))

    def _entry(self) -> Any:
        self.serial += 1
        return xa_mk_value(self.serial)

    def _range(self, data: st.DataObject) -> tuple[int, int]:
        first = data.draw(st.integers(0, self.SPACE - 1), label="first")
        size = data.draw(st.sampled_from(self.SIZES), label="size")
        return first, min(ULONG_MAX, first + size - 1)

    @rule(data=st.data())
    def store(self, data: st.DataObject) -> None:
        first, last = self._range(data)
        entry = self._entry()
        self.mt.store_range(first, last, entry)
        self.shadow.store(first, last, entry)

    @rule(data=st.data())
    def store_null(self, data: st.DataObject) -> None:
        first, last = self._range(data)
        self.mt.store_range(first, last, None)
        self.shadow.store(first, last, None)

    @rule(data=st.data())
    def store_to_the_end(self, data: st.DataObject) -> None:
        first = data.draw(st.integers(0, self.SPACE), label="first")
        entry = data.draw(st.sampled_from([None, "tail"]), label="entry")
        self.mt.store_range(first, ULONG_MAX, entry)
        self.shadow.store(first, ULONG_MAX, entry)

    @rule(data=st.data())
    def erase(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, self.SPACE), label="index")
        assert self.mt.erase(index) == self.shadow.erase(index)

    @rule(data=st.data())
    def insert(self, data: st.DataObject) -> None:
        first, last = self._range(data)
        entry = self._entry()
        if self.shadow.occupied(first, last):
            before = list(self.mt.ranges())
            with pytest.raises(EntryExists):
                self.mt.insert_range(first, last, entry)
            assert list(self.mt.ranges()) == before  # a failed insert changes nothing
        else:
            self.mt.insert_range(first, last, entry)
            self.shadow.store(first, last, entry)

    @rule(data=st.data())
    def load(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, self.SPACE), label="index")
        hit = self.shadow.find(index)
        assert self.mt.load(index) == (hit[2] if hit else None)

    @rule(data=st.data())
    def walk_next_prev(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, self.SPACE), label="index")
        mas = self.mt.state(index)
        entry = mas.walk()
        hit = self.shadow.find(index)
        assert entry == (hit[2] if hit else None)
        if hit:
            assert (mas.index, mas.last) == hit[:2]
        i = bisect_right(self.shadow.firsts, index)
        nxt = self.shadow.ranges[i] if i < len(self.shadow.ranges) else None
        got = mas.next(ULONG_MAX)
        assert got == (nxt[2] if nxt else None)
        if nxt:
            assert (mas.index, mas.last) == nxt[:2]
        mas = self.mt.state(index)
        mas.walk()
        j = bisect_right(self.shadow.firsts, index) - 1
        if hit:
            j -= 1
        prv = self.shadow.ranges[j] if j >= 0 else None
        assert mas.prev(0) == (prv[2] if prv else None)

    @rule(data=st.data())
    def tree_next(self, data: st.DataObject) -> None:
        """MapleTree.next (a fast path) against mt_next and the shadow."""
        index = data.draw(st.integers(0, self.SPACE), label="index")
        hi = data.draw(st.sampled_from([ULONG_MAX, index + 3, index + self.SPACE // 4]))
        i = bisect_right(self.shadow.firsts, index)
        nxt = self.shadow.ranges[i] if i < len(self.shadow.ranges) else None
        want = nxt[2] if nxt and nxt[0] <= hi else None
        assert self.mt.next(index, hi) == want == mt_next(self.mt, index, hi)

    @rule(data=st.data())
    def find(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, self.SPACE), label="index")
        entry, nxt = self.mt.find(index)
        i = bisect_right(self.shadow.firsts, index) - 1
        cands = self.shadow.ranges[max(i, 0) :]
        expect = next((r for r in cands if r[1] >= index), None)
        assert entry == (expect[2] if expect else None)
        if expect:
            assert nxt == (expect[1] + 1) & ULONG_MAX

    @precondition(lambda self: self.mt.alloc_range_tree)
    @rule(data=st.data())
    def empty_area(self, data: st.DataObject) -> None:
        lo = data.draw(st.integers(0, self.SPACE), label="lo")
        hi = lo + data.draw(st.integers(0, self.SPACE), label="span")
        size = data.draw(st.integers(1, 40), label="size")
        mas = self.mt.state()
        want = self.shadow.lowest_fit(lo, hi, size) if hi - lo + 1 >= size else None
        if want is None:
            with pytest.raises(OSError):
                mas.empty_area(lo, hi, size)
        else:
            mas.empty_area(lo, hi, size)
            assert (mas.index, mas.last) == (want, want + size - 1)

    @precondition(lambda self: self.mt.alloc_range_tree)
    @rule(data=st.data())
    def empty_area_rev(self, data: st.DataObject) -> None:
        lo = data.draw(st.integers(0, self.SPACE), label="lo")
        hi = lo + data.draw(st.integers(0, self.SPACE), label="span")
        size = data.draw(st.integers(1, 40), label="size")
        mas = self.mt.state()
        want = self.shadow.highest_fit_end(lo, hi, size) if hi - lo + 1 >= size else None
        if want is None:
            with pytest.raises(OSError):
                mas.empty_area_rev(lo, hi, size)
        else:
            mas.empty_area_rev(lo, hi, size)
            assert (mas.index, mas.last) == (want - size + 1, want)

    @precondition(lambda self: self.mt.alloc_range_tree)
    @rule(data=st.data(), rev=st.booleans())
    def alloc(self, data: st.DataObject, rev: bool) -> None:
        lo = data.draw(st.integers(0, self.SPACE), label="lo")
        hi = lo + data.draw(st.integers(0, self.SPACE), label="span")
        size = data.draw(st.integers(1, 40), label="size")
        entry = self._entry()
        if hi - lo + 1 < size:
            return
        if rev:
            end = self.shadow.highest_fit_end(lo, hi, size)
            want = None if end is None else end - size + 1
        else:
            want = self.shadow.lowest_fit(lo, hi, size)
        if want is None:
            with pytest.raises(NoSpace):
                (self.mt.alloc_rrange if rev else self.mt.alloc_range)(entry, size, lo, hi)
            return
        got = (self.mt.alloc_rrange if rev else self.mt.alloc_range)(entry, size, lo, hi)
        assert got == want
        self.shadow.store(got, got + size - 1, entry)

    @rule(data=st.data())
    def items_window(self, data: st.DataObject) -> None:
        """items(first, last) against mt_for_each over the same window."""
        first = data.draw(st.integers(0, self.SPACE), label="first")
        last = first + data.draw(st.integers(0, self.SPACE), label="span")
        got = [e for _f, _l, e in self.mt.items(first, last)]
        assert got == list(mt_for_each(self.mt, first, last))

    @invariant()
    def agrees_and_validates(self) -> None:
        self.mt.validate()
        assert list(self.mt.items()) == self.shadow.ranges


def _prebuilt(count: int, flags: int) -> MapleTree:
    """A tree of ``count`` ranges, copied from a cached original with mtree_dup."""
    key = (count, flags)
    if key not in _PREBUILT:
        mt = MapleTree(flags)
        for i in range(count):
            mt.store_range(i * 10, i * 10 + 5, xa_mk_value(10_000_000 + i))
        _PREBUILT[key] = mt
    return _PREBUILT[key].dup()


_PREBUILT: dict[tuple[int, int], MapleTree] = {}


class NarrowSpace(TreeMachine):
    SPACE = 120


class VmaLikeSpace(TreeMachine):
    SPACE = 1 << 40
    SIZES = (0x1000, 0x3000, 0x20_0000, 0x4000_0000)


class LargeTree(TreeMachine):
    SPACE = 100_000
    SIZES = (1, 5, 30, 400, 5000)
    PREBUILT = 10_000


class HugeTree(LargeTree):
    SPACE = 1_000_000
    PREBUILT = 100_000


def _settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


TestNarrowSpace = NarrowSpace.TestCase
TestNarrowSpace.settings = _settings(300, 60)
TestVmaLikeSpace = VmaLikeSpace.TestCase
TestVmaLikeSpace.settings = _settings(150, 60)
TestLargeTree = LargeTree.TestCase
TestLargeTree.settings = _settings(25, 30)
TestHugeTree = HugeTree.TestCase
TestHugeTree.settings = _settings(2, 12)


class NarrowSpaceCampaign(NarrowSpace):
    pass


class HugeTreeCampaign(HugeTree):
    """100,000 entries, more and longer runs."""


TestNarrowSpaceCampaign = pytest.mark.slow(NarrowSpaceCampaign.TestCase)
TestNarrowSpaceCampaign.settings = _settings(3000, 100)
TestHugeTreeCampaign = pytest.mark.slow(HugeTreeCampaign.TestCase)
TestHugeTreeCampaign.settings = _settings(20, 30)
