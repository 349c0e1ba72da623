"""Ports of the store, split and rebalance tests of lib/test_maple_tree.c (Linux 7.0-rc6):
``check_seq``, ``check_rev_seq``, ``check_lower_bound_split``, ``check_upper_bound_split``,
``check_mid_split``, ``check_ranges``, ``check_gap_combining``, ``check_node_overwrite``,
``check_deficient_node``, ``check_spanning_relatives``, ``check_bnode_min_spanning`` and
``check_fuzzer``.

Tree heights asserted by the kernel tests are geometry checks and are kept.  Where a
kernel test only checks that a sequence does not crash (``check_fuzzer``,
``check_spanning_relatives``, ``check_bnode_min_spanning``), the port also validates the
tree after each step and compares every load with a plain interval map, so that a wrong
result cannot pass silently.
"""

from __future__ import annotations

from typing import Any

import pytest

from maplevm.kapi import (
    MA_STATE,
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    mas_empty_area_rev,
    mas_find,
    mas_next,
    mas_reset,
    mas_set,
    mas_set_range,
    mas_store,
    mas_store_gfp,
    mt_height,
    mt_init_flags,
    mt_validate,
    mtree_empty,
    mtree_erase,
    mtree_insert,
    mtree_insert_range,
    mtree_load,
    mtree_store,
    mtree_store_range,
    xa_mk_value,
)
from maplevm.tree.mapletree import MapleTree

from .helpers import (
    EEXIST,
    EINVAL,
    Ptr,
    check_insert,
    check_insert_range,
    check_lb_not_empty,
    check_load,
    check_rev_seq,
    check_seq,
    check_store_range,
    kptr,
    load_table,
    mt_reinit,
)


class IntervalMap:
    """A plain reference for the normal API: ranges with entries, never merged (the tree
    keeps separately stored ranges apart too)."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int, Any]] = []

    def load(self, index: int) -> Any:
        for lo, hi, entry in self.ranges:
            if lo <= index <= hi:
                return entry
        return None

    def store_range(self, first: int, last: int, entry: Any) -> int:
        if first > last:
            return -EINVAL
        kept: list[tuple[int, int, Any]] = []
        for lo, hi, e in self.ranges:
            if hi < first or lo > last:
                kept.append((lo, hi, e))
                continue
            if lo < first:
                kept.append((lo, first - 1, e))
            if hi > last:
                kept.append((last + 1, hi, e))
        if entry is not None:
            kept.append((first, last, entry))
        self.ranges = sorted(kept, key=lambda r: r[0])
        return 0

    def insert_range(self, first: int, last: int, entry: Any) -> int:
        if first > last:
            return -EINVAL
        if any(not (hi < first or lo > last) for lo, hi, _ in self.ranges):
            return -EEXIST
        return self.store_range(first, last, entry)

    def erase(self, index: int) -> Any:
        for lo, hi, e in self.ranges:
            if lo <= index <= hi:
                self.store_range(lo, hi, None)
                return e
        return None

    def probes(self) -> set[int]:
        """Indices where a load can tell two different maps apart."""
        pts = {0, ULONG_MAX}
        for lo, hi, _ in self.ranges:
            pts.update((lo, hi, max(lo - 1, 0), min(hi + 1, ULONG_MAX)))
        return pts


def check_against(mt: MapleTree, ref: IntervalMap) -> None:
    mt_validate(mt)
    for index in ref.probes():
        assert mtree_load(mt, index) == ref.load(index), f"load {index:#x}"


# -- check_seq / check_rev_seq and the bound splits ----------------------------------------


def test_check_seq() -> None:
    """check_seq (lib/test_maple_tree.c), as maple_tree_seed() runs it: 0..16 and 0..1000
    inserted in order into a plain tree, every earlier index re-read after each insert."""
    mt = mt_init_flags(0)
    check_seq(mt, 16)
    mt_reinit(mt, 0)
    check_seq(mt, 1000)
    mt_validate(mt)


def test_check_rev_seq() -> None:
    """check_rev_seq (lib/test_maple_tree.c): 1000..1 inserted in reverse into an
    allocation tree, toggling RCU mode between inserts."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    check_rev_seq(mt, 1000)
    mt_validate(mt)


def test_check_lower_bound_split() -> None:
    """check_lower_bound_split (lib/test_maple_tree.c): huge indices halved down to 4096,
    each insert splitting at the low end."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    assert mtree_empty(mt)
    check_lb_not_empty(mt)


def test_check_upper_bound_split() -> None:
    """check_upper_bound_split (lib/test_maple_tree.c): indices doubling from 4096 up to
    4e9.  (The kernel's load loop runs from i while j >= huge, so it never executes.)"""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    assert mtree_empty(mt)
    huge = 4000 * 1000 * 1000
    i = 4096
    while i < huge:
        check_insert(mt, i, kptr(i))
        i *= 2
    mt_validate(mt)


def test_check_mid_split() -> None:
    """check_mid_split (lib/test_maple_tree.c): entries at 0 and 8e9, then the
    lower-bound sequence between them."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    huge = 8000 * 1000 * 1000
    check_insert(mt, huge, kptr(huge))
    check_insert(mt, 0, xa_mk_value(0))
    check_lb_not_empty(mt)


# -- check_ranges --------------------------------------------------------------------------


def _check_ranges_first_part(mt: MapleTree) -> None:
    r = (10, 15, 20, 25, 17, 22, 9, 1000, 100, 200, 45, 168, 118, 128)
    assert mtree_empty(mt)
    check_insert_range(mt, r[0], r[1], xa_mk_value(r[0]), 0)
    check_insert_range(mt, r[2], r[3], xa_mk_value(r[2]), 0)
    check_insert_range(mt, r[4], r[5], xa_mk_value(r[4]), -EEXIST)
    assert mt_height(mt)
    # Store.
    check_store_range(mt, r[4], r[5], xa_mk_value(r[4]), 0)
    check_store_range(mt, r[6], r[7], xa_mk_value(r[6]), 0)
    check_store_range(mt, r[8], r[9], xa_mk_value(r[8]), 0)
    assert mt_height(mt)
    mt.destroy()
    assert not mt_height(mt)

    check_seq(mt, 50)
    check_store_range(mt, 5, 47, xa_mk_value(47), 0)
    assert mt_height(mt)
    mt.destroy()

    # A tree of 0-100, then 45-168 stored over it.
    check_seq(mt, 100)
    check_store_range(mt, r[10], r[11], xa_mk_value(r[10]), 0)
    assert mt_height(mt)
    mt.destroy()

    # A tree of 0-200, then 45-168.
    check_seq(mt, 200)
    check_store_range(mt, r[10], r[11], xa_mk_value(r[10]), 0)
    assert mt_height(mt)
    mt.destroy()

    check_seq(mt, 30)
    check_store_range(mt, 6, 18, xa_mk_value(6), 0)
    assert mt_height(mt)
    mt.destroy()

    # Overwrite across multiple levels: 0-400, then 118-128, then erases beside it.
    check_seq(mt, 400)
    check_store_range(mt, r[12], r[13], xa_mk_value(r[12]), 0)
    for index in (140, 141, 142, 143, 130, 131, 132, 133, 134, 135):
        mtree_erase(mt, index)
    check_load(mt, r[12], xa_mk_value(r[12]))
    check_load(mt, r[13], xa_mk_value(r[12]))
    check_load(mt, r[13] - 1, xa_mk_value(r[12]))
    check_load(mt, r[13] + 1, xa_mk_value(r[13] + 1))
    check_load(mt, 135, None)
    check_load(mt, 140, None)
    assert mt_height(mt)
    mt.destroy()

    # Overwrite multiple levels at the end of the tree (slot 7).
    check_seq(mt, 400)
    check_store_range(mt, 353, 361, xa_mk_value(353), 0)
    check_store_range(mt, 347, 352, xa_mk_value(347), 0)
    check_load(mt, 346, xa_mk_value(346))
    for i in range(347, 353):
        check_load(mt, i, xa_mk_value(347))
    for i in range(353, 362):
        check_load(mt, i, xa_mk_value(353))
    check_load(mt, 362, xa_mk_value(362))
    assert mt_height(mt)
    mt.destroy()

    check_seq(mt, 400)
    check_store_range(mt, 352, 364, None, 0)
    check_store_range(mt, 351, 363, xa_mk_value(352), 0)
    check_load(mt, 350, xa_mk_value(350))
    check_load(mt, 351, xa_mk_value(352))
    for i in range(352, 364):
        check_load(mt, i, xa_mk_value(352))
    check_load(mt, 364, None)
    check_load(mt, 365, xa_mk_value(365))
    assert mt_height(mt)
    mt.destroy()

    check_seq(mt, 400)
    check_store_range(mt, 352, 364, None, 0)
    check_store_range(mt, 351, 364, xa_mk_value(352), 0)
    check_load(mt, 350, xa_mk_value(350))
    check_load(mt, 351, xa_mk_value(352))
    for i in range(352, 365):
        check_load(mt, i, xa_mk_value(352))
    check_load(mt, 365, xa_mk_value(365))
    assert mt_height(mt)
    mt.destroy()

    check_seq(mt, 400)
    check_store_range(mt, 362, 367, xa_mk_value(362), 0)
    check_store_range(mt, 353, 361, xa_mk_value(353), 0)
    mt_validate(mt)
    assert mt_height(mt)
    mt.destroy()


def _check_ranges_overwrites(mt: MapleTree) -> None:
    # Ranges overwriting the end of one node into the first entry of the next, split
    # ranges, overwrites of the start, the end and all of a range, and writes combining
    # parents (up to part of the root).
    for i in range(501):
        check_store_range(mt, i * 5, (i + 1) * 5, xa_mk_value(i * 5), 0)
    check_store_range(mt, 2400, 2400, xa_mk_value(2400), 0)
    check_store_range(mt, 2411, 2411, xa_mk_value(2411), 0)
    check_store_range(mt, 2412, 2412, xa_mk_value(2412), 0)
    check_store_range(mt, 2396, 2400, xa_mk_value(4052020), 0)
    check_store_range(mt, 2402, 2402, xa_mk_value(2402), 0)
    mt.destroy()

    for i in range(501):
        check_store_range(mt, i * 5, (i + 1) * 5, xa_mk_value(i * 5), 0)
    check_store_range(mt, 2422, 2422, xa_mk_value(2422), 0)
    check_store_range(mt, 2424, 2424, xa_mk_value(2424), 0)
    check_store_range(mt, 2425, 2425, xa_mk_value(2), 0)
    check_store_range(mt, 2460, 2470, None, 0)
    check_store_range(mt, 2435, 2460, xa_mk_value(2435), 0)
    check_store_range(mt, 2461, 2470, xa_mk_value(2461), 0)
    assert mt_height(mt)
    mt.destroy()


def _check_ranges_in_place(mt: MapleTree) -> None:
    # In-place modifications of an allocation tree.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    # Append to the start of the last range.
    val = val2 = 0
    for i in range(501):
        val = i * 5 + 1
        val2 = val + 4
        check_store_range(mt, val, val2, xa_mk_value(val), 0)
    # Append to the last range without touching any boundaries.
    for _ in range(10):
        val = val2 + 5
        val2 = val + 4
        check_store_range(mt, val, val2, xa_mk_value(val), 0)
    # Append to the end of the last range.
    val = val2
    for _ in range(10):
        val += 5
        assert mtree_store_range(mt, val, ULONG_MAX, xa_mk_value(val)) == 0
    # Overwrite a range and part of the next one.
    for i in range(10, 30, 2):
        val = i * 5 + 1
        val2 = val + 5
        check_store_range(mt, val, val2, xa_mk_value(val), 0)
    # Overwrite part of a range and all of the next one.
    for i in range(50, 70, 2):
        val2 = i * 5
        val = val2 - 5
        check_store_range(mt, val, val2, xa_mk_value(val), 0)
    # Grow a range, partly overwriting the ranges on both sides ...
    for i in range(100, 130, 3):
        val = i * 5 - 5
        val2 = i * 5 + 1
        check_store_range(mt, val, val2, xa_mk_value(val), 0)
    # ... and the same in RCU mode.
    mt.set_in_rcu(True)
    for i in range(150, 180, 3):
        val = i * 5 - 5
        val2 = i * 5 + 1
        check_store_range(mt, val, val2, xa_mk_value(val), 0)
    assert mt_height(mt)
    mt_validate(mt)
    mt.destroy()


def _check_ranges_gaps_and_heights(mt: MapleTree) -> None:
    # Rebalancing with gaps.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for i in range(51):
        check_store_range(mt, i * 10, (i + 1) * 10, xa_mk_value(i * 10), 0)
    check_store_range(mt, 161, 161, xa_mk_value(161), 0)
    check_store_range(mt, 162, 162, xa_mk_value(162), 0)
    check_store_range(mt, 163, 163, xa_mk_value(163), 0)
    check_store_range(mt, 240, 249, None, 0)
    for index in (200, 210, 220, 230):
        mtree_erase(mt, index)
    assert mt_height(mt)
    mt.destroy()

    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for i in range(501):
        check_store_range(mt, i * 10, (i + 1) * 10, xa_mk_value(i * 10), 0)
    check_store_range(mt, 4600, 4959, xa_mk_value(1), 0)
    mt_validate(mt)
    assert mt_height(mt)
    mt.destroy()

    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for i in range(501):
        check_store_range(mt, i * 10, (i + 1) * 10, xa_mk_value(i * 10), 0)
    check_store_range(mt, 4811, 4811, xa_mk_value(4811), 0)
    check_store_range(mt, 4812, 4812, xa_mk_value(4812), 0)
    check_store_range(mt, 4861, 4861, xa_mk_value(4861), 0)
    check_store_range(mt, 4862, 4862, xa_mk_value(4862), 0)
    check_store_range(mt, 4842, 4849, None, 0)
    mt_validate(mt)
    assert mt_height(mt)
    mt.destroy()

    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for i in range(1301):
        check_store_range(mt, i * 10, (i + 1) * 10, xa_mk_value(i * 10), 0)
        assert mt_height(mt) < 4
    # A three-way split all the way up the tree.
    for i in range(5, 215, 10):
        check_store_range(mt, 11450 + i, 11450 + i + 1, None, 0)
    for i in range(5, 65, 10):
        check_store_range(mt, 11770 + i, 11770 + i + 1, None, 0)
    assert mt_height(mt) < 4
    for i in range(5, 45, 10):
        check_store_range(mt, 11700 + i, 11700 + i + 1, None, 0)
    assert mt_height(mt) >= 4
    mt.destroy()

    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for i in range(1201):
        check_store_range(mt, i * 10, (i + 1) * 10, xa_mk_value(i * 10), 0)
        assert mt_height(mt) < 4
    # Fill parents and leaves before the split.
    for i in range(5, 455, 10):
        check_store_range(mt, 7800 + i, 7800 + i + 1, None, 0)
    for i in range(1, 16):
        check_store_range(mt, 8185 + i, 8185 + i + 1, xa_mk_value(8185 + i), 0)
    assert mt_height(mt) < 4
    # A triple split across multiple levels.
    check_store_range(mt, 8184, 8184, xa_mk_value(8184), 0)
    assert mt_height(mt) == 4


def test_check_ranges() -> None:
    """check_ranges (lib/test_maple_tree.c): inserts and stores over sequences, across
    levels, in place, in RCU mode, with gaps, and the tree heights the kernel asserts
    (below 4, then exactly 4 after three-way splits)."""
    mt = mt_init_flags(0)
    _check_ranges_first_part(mt)
    _check_ranges_overwrites(mt)
    _check_ranges_in_place(mt)
    _check_ranges_gaps_and_heights(mt)


# -- check_gap_combining ----------------------------------------------------------------


def test_check_gap_combining() -> None:
    """check_gap_combining (lib/test_maple_tree.c): gaps made by erases and NULL stores
    that straddle leaves, found with mas_empty_area_rev(); multi-level gaps in a 2000
    entry tree; rebalancing over two levels in a 400 entry tree."""
    seq100 = (74, 75, 76, 50, 100, 2, 44, 45, 46, 43, 20, 50, 3, 80, 81, 82, 76, 2, 79, 85, 4)
    seq2000 = (1152, 1151, 1100, 1200, 2)
    seq400 = (286, 318, 256, 260, 266, 270, 275, 280, 290, 398, 286, 310)

    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    index = seq100[0]
    mas_set(mas, index)
    assert mtree_empty(mt)
    check_seq(mt, 100)  # 100 singletons

    mtree_erase(mt, seq100[2])
    check_load(mt, seq100[2], None)
    mtree_erase(mt, seq100[1])
    check_load(mt, seq100[1], None)

    assert mas_find(mas, ULONG_MAX) == xa_mk_value(index)
    mn1 = mas.node
    mas_next(mas, ULONG_MAX)
    assert mas_next(mas, ULONG_MAX) == xa_mk_value(index + 4)
    mn2 = mas.node
    assert mn1 is not mn2, "the test needs the gap to straddle two leaves"

    # A gap of 2 at index + 1, between seq100[3] and seq100[4].
    mas_reset(mas)
    assert mas_empty_area_rev(mas, seq100[3], seq100[4], seq100[5]) == 0
    assert mas.index == index + 1

    mtree_erase(mt, seq100[6])
    check_load(mt, seq100[6], None)
    mtree_erase(mt, seq100[7])
    check_load(mt, seq100[7], None)
    mtree_erase(mt, seq100[8])
    index = seq100[9]

    mas.index = index
    mas.last = index
    mas_reset(mas)
    assert mas_find(mas, ULONG_MAX) == xa_mk_value(index)
    mn1 = mas.node
    assert mas_next(mas, ULONG_MAX) == xa_mk_value(index + 4)
    mas_next(mas, ULONG_MAX)  # to the next entry
    mn2 = mas.node
    assert mn1 is not mn2, "the next entry should be in the next leaf"

    # A gap of 3 at seq100[6], found searching 20-50 for size 3.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, seq100[10], seq100[11], seq100[12]) == 0
    assert mas.index == seq100[6]

    assert mtree_store(mt, seq100[13], None) == 0
    check_load(mt, seq100[13], None)
    check_load(mt, seq100[14], xa_mk_value(seq100[14]))
    assert mtree_store(mt, seq100[14], None) == 0
    check_load(mt, seq100[13], None)
    check_load(mt, seq100[14], None)

    mas_reset(mas)
    assert mas_empty_area_rev(mas, seq100[16], seq100[15], seq100[17]) == 0
    assert mas.index == seq100[13]
    mt_validate(mt)

    # (Formerly a retry entry at the start of a gap.)
    mtree_store_range(mt, seq100[18], seq100[14], None)
    mtree_erase(mt, seq100[15])
    mas_reset(mas)
    assert mas_empty_area_rev(mas, seq100[16], seq100[19], seq100[20]) == 0
    assert mas.index == seq100[18]
    mt_validate(mt)
    mt.destroy()

    # Multi-level gaps.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    check_seq(mt, 2000)
    mtree_erase(mt, seq2000[0])
    mtree_erase(mt, seq2000[1])
    mas_reset(mas)
    assert mas_empty_area_rev(mas, seq2000[2], seq2000[3], seq2000[4]) == 0
    assert mas.index == seq2000[1]
    mt_validate(mt)
    mt.destroy()

    # Rebalancing over two levels.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    check_seq(mt, 400)
    mtree_store_range(mt, seq400[0], seq400[1], None)
    mt_validate(mt)
    mt.destroy()

    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    check_seq(mt, 400)
    for k in (2, 3, 4, 5, 0, 6, 7, 8):
        mtree_store_range(mt, seq400[k], seq400[9], xa_mk_value(seq400[k]))
    mtree_store_range(mt, seq400[10], seq400[11], xa_mk_value(seq400[10]))
    mt_validate(mt)


# -- node overwrite, deficient node, spanning ---------------------------------------------


def test_check_node_overwrite() -> None:
    """check_node_overwrite (lib/test_maple_tree.c): a NULL store over 480 entries of a
    4000 entry allocation tree."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    for i in range(4000):
        mtree_store_range(mt, i * 100, i * 100 + 50, xa_mk_value(i * 100))
    mtree_store_range(mt, 319951, 367950, None)
    mt_validate(mt)


def test_check_deficient_node() -> None:
    """check_deficient_node (lib/test_maple_tree.c): singletons 0-9, 20-38, then 10-11
    filling the gap, which must leave no node below its minimum."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    for rng in (range(10), range(20, 39), range(10, 12)):
        for count in rng:
            mas_set(mas, count)
            assert mas_store_gfp(mas, xa_mk_value(count)) == 0
    mt_validate(mt)


def test_check_spanning_relatives() -> None:
    """check_spanning_relatives (lib/test_maple_tree.c): a spanning NULL store that needs
    the right sibling or cousin rebalanced."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    ref = IntervalMap()
    for i in range(1001):
        mtree_store_range(mt, i * 10, i * 10 + 5, xa_mk_value(i))
        ref.store_range(i * 10, i * 10 + 5, xa_mk_value(i))
    assert mtree_store_range(mt, 9365, 9955, None) == 0
    ref.store_range(9365, 9955, None)
    check_against(mt, ref)


def test_check_bnode_min_spanning() -> None:
    """check_bnode_min_spanning (lib/test_maple_tree.c): ranges stored from 500 down to 0,
    then a NULL store over 240-509 leaving a big node at its minimum."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    entry = Ptr(0xFFFFFFFF_81C00000)  # stands for check_bnode_min_spanning
    ref = IntervalMap()
    for i in range(50, -1, -1):
        mas_set_range(mas, i * 10, i * 10 + 9)
        mas_store(mas, entry)
        ref.store_range(i * 10, i * 10 + 9, entry)
    mas_set_range(mas, 240, 509)
    mas_store(mas, None)
    ref.store_range(240, 509, None)
    check_against(mt, ref)


# -- check_fuzzer -------------------------------------------------------------------------


def _fuzzer_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = load_table("fuzzer_sequences")["cases"]
    return cases


@pytest.mark.parametrize("case", _fuzzer_cases(), ids=lambda c: f"case{c['case']}")
def test_check_fuzzer(case: dict[str, Any]) -> None:
    """check_fuzzer (lib/test_maple_tree.c): the recorded sequences that once broke the
    tree (spanning rebalances of the root, node overflow on copy, metadata of a
    shrinking node, a wrong max after a rebalance ...), replayed on a plain tree with
    validation and a reference map after every operation."""
    mt = mt_init_flags(0)
    ref = IntervalMap()
    for step, (name, *args) in enumerate(case["ops"]):
        where = f"case {case['case']} step {step}: {name}{tuple(args)}"
        if name == "insert":
            index, ptr = args
            assert mtree_insert(mt, index, kptr(ptr)) == ref.insert_range(
                index, index, kptr(ptr)
            ), where
        elif name == "insert_range":
            first, last, ptr = args
            assert mtree_insert_range(mt, first, last, kptr(ptr)) == ref.insert_range(
                first, last, kptr(ptr)
            ), where
        elif name == "store":
            index, ptr = args
            assert mtree_store(mt, index, kptr(ptr)) == ref.store_range(index, index, kptr(ptr)), (
                where
            )
        elif name == "store_range":
            first, last, ptr = args
            assert mtree_store_range(mt, first, last, kptr(ptr)) == ref.store_range(
                first, last, kptr(ptr)
            ), where
        elif name == "erase":
            (index,) = args
            assert mtree_erase(mt, index) == ref.erase(index), where
        elif name == "load":
            (index,) = args
            assert mtree_load(mt, index) == ref.load(index), where
        else:
            raise AssertionError(f"unknown fuzzer op {name}")
        check_against(mt, ref)
