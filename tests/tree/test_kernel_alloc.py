"""Ports of the gap-search and allocation tests of lib/test_maple_tree.c (Linux 7.0-rc6):
``check_alloc_range``, ``check_alloc_rev_range``, ``check_empty_area_window``,
``check_empty_area_fill`` and ``alloc_cyclic_testing``.

The process-map tables (``range[]``, ``holes[]``, ``req_range[]``) are in
tests/fixtures/kernel_tables/alloc_ranges.json, in the kernel's byte addresses; the tests
shift them to page numbers as the C code does.
"""

from __future__ import annotations

from typing import Any

from maplevm.kapi import (
    MA_STATE,
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    XA_ZERO_ENTRY,
    mas_empty_area,
    mas_empty_area_rev,
    mas_reset,
    mas_set,
    mas_store_gfp,
    mt_init_flags,
    mt_validate,
    mtree_alloc_cyclic,
    mtree_erase,
    mtree_load,
    mtree_store_range,
    xa_mk_value,
)
from maplevm.tree.write import mas_alloc_cyclic

from .helpers import (
    EBUSY,
    EINVAL,
    Ptr,
    check_insert_range,
    check_mtree_alloc_range,
    check_mtree_alloc_rrange,
    kptr,
    load_table,
)

MTREE_ALLOC_MAX = 0x2000000000000


def _table(fn: str) -> dict[str, Any]:
    table: dict[str, Any] = load_table("alloc_ranges")[fn]
    return table


def _fill_process_map(mt: Any, ranges: list[list[int]]) -> None:
    """Both tests first reserve everything from MTREE_ALLOC_MAX up, then insert the
    recorded mappings as page ranges, validating after each."""
    assert mtree_store_range(mt, MTREE_ALLOC_MAX, ULONG_MAX, XA_ZERO_ENTRY) == 0
    for start, end in ranges:
        check_insert_range(mt, start >> 12, (end >> 12) - 1, xa_mk_value(start >> 12), 0)
        mt_validate(mt)


def test_check_alloc_rev_range() -> None:
    """check_alloc_rev_range (lib/test_maple_tree.c): highest-fit gap search and
    mtree_alloc_rrange() over a recorded process map."""
    table = _table("check_alloc_rev_range")
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    _fill_process_map(mt, table["range"])

    # Each hole is found searching downwards from its end, with the previous hole's end
    # as the lower bound.
    lo = 0
    for _start, end, size in table["holes"]:
        assert mas_empty_area_rev(mas, lo, end >> 12, size >> 12) == 0
        assert mas.last + 1 == end >> 12
        assert mas.index == (end >> 12) - (size >> 12)
        lo = end >> 12
        mas_reset(mas)

    for req in table["req_range"]:
        check_mtree_alloc_rrange(
            mt,
            req["min"] >> 12,
            req["max"] >> 12,
            req["size"] >> 12,
            req["expected"] >> 12,
            req["ret"],
            xa_mk_value(req["min"] >> 12),
        )
        mt_validate(mt)

    # Free two single pages, leaving a deleted range, and allocate the lower one back.
    mtree_erase(mt, 34148798727)
    mtree_erase(mt, 34148798725)
    check_mtree_alloc_rrange(mt, 0, 34359052173, 210253414, 34148798725, 0, Ptr(mt.addr))


def test_check_alloc_range() -> None:
    """check_alloc_range (lib/test_maple_tree.c): lowest-fit gap search and
    mtree_alloc_range() over a recorded process map."""
    table = _table("check_alloc_range")
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    _fill_process_map(mt, table["range"])

    lo = 0x565234AF2000
    for start, end, size in table["holes"]:
        assert mas_empty_area(mas, lo >> 12, end >> 12, size >> 12) == 0
        assert mas.index == start >> 12
        lo = end
        mas_reset(mas)

    for req in table["req_range"]:
        check_mtree_alloc_range(
            mt,
            req["min"] >> 12,
            req["max"] >> 12,
            req["size"] >> 12,
            req["expected"] >> 12,
            req["ret"],
            xa_mk_value(req["min"] >> 12),
        )
        mt_validate(mt)


def test_check_empty_area_window() -> None:
    """check_empty_area_window (lib/test_maple_tree.c): windows whose bounds cut through
    gaps, for both search directions."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    for i in range(1, 21):
        assert mtree_store_range(mt, i * 10, i * 10 + 9, xa_mk_value(i)) == 0
    # A second hole, besides the one at 0.
    assert mtree_store_range(mt, 160, 169, None) == 0

    # Lower bounds that leave too little of the gap at 0..9.
    assert mas_empty_area_rev(mas, 5, 90, 10) == -EBUSY
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 6, 90, 5) == -EBUSY

    # A lower bound that still fits.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 5, 90, 5) == 0
    assert (mas.index, mas.last) == (5, 9)

    # One gap too small (the top of the window), one that fits.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 5, 217, 9) == 0
    assert (mas.index, mas.last) == (161, 169)

    # A gap above the minimum that fits.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 100, 218, 3) == 0
    assert (mas.index, mas.last) == (216, 218)

    # A size no gap can hold.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 100, 218, 16) == -EBUSY

    # The gap is big enough, but not above the window's lower end.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 167, 200, 4) == -EBUSY

    # The gap is big enough, but not below the window's upper end.
    mas_reset(mas)
    assert mas_empty_area_rev(mas, 100, 162, 4) == -EBUSY

    # Forward searches.
    mas_reset(mas)
    assert mas_empty_area(mas, 0, 100, 9) == 0
    assert (mas.index, mas.last) == (0, 8)

    mas_reset(mas)
    assert mas_empty_area(mas, 0, 100, 4) == 0
    assert (mas.index, mas.last) == (0, 3)

    mas_reset(mas)
    assert mas_empty_area(mas, 0, 100, 11) == -EBUSY

    mas_reset(mas)
    assert mas_empty_area(mas, 5, 100, 6) == -EBUSY

    # A window smaller than the size is invalid.
    mas_reset(mas)
    assert mas_empty_area(mas, 0, 8, 10) == -EINVAL

    # (The kernel test ignores this call's result.)
    mas_reset(mas)
    mas_empty_area(mas, 100, 165, 3)

    mas_reset(mas)
    assert mas_empty_area(mas, 100, 163, 6) == -EBUSY


def test_check_empty_area_fill() -> None:
    """check_empty_area_fill (lib/test_maple_tree.c): fill [0, 0x25D78000] exactly with
    5000 allocations of each size 2^12..2^16, then search across deep nodes."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    hi = 0x25D78000
    for shift in range(12, 17):
        size = 1 << shift
        for _ in range(5000):
            mas_set(mas, 0)
            assert mas_empty_area(mas, 0, hi, size) == 0
            assert mas.last == mas.index + size - 1
            assert mas_store_gfp(mas, Ptr(size)) == 0
            mas_reset(mas)

    # No space left.
    assert mas_empty_area(mas, 0, hi, 0x1000) == -EBUSY

    # Fill a depth 3 node to the maximum.
    for i in range(629440511, 629440801, 6):
        assert mtree_store_range(mt, i, i + 5, kptr(i)) == 0
    # Make space in the second-last depth 4 node, and in the last one.
    mtree_erase(mt, 631668735)
    mtree_erase(mt, 629506047)
    mas_reset(mas)
    # Search from just after the gap in the second-last depth 4 node: the kernel reads
    # one pivot past a node's array here (see mas_anode_descend in the model).
    assert mas_empty_area(mas, 629506048, 690000000, 0x5000) == 0


def test_alloc_cyclic_testing() -> None:
    """alloc_cyclic_testing (lib/test_maple_tree.c): mas_alloc_cyclic() and
    mtree_alloc_cyclic(), wrapping after exhaustion, and the wrap at ULONG_MAX."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    entry = Ptr(mt.addr)
    mas = MA_STATE(mt, 0, 0)
    nxt = 0
    for i in range(100):
        _ret, location, nxt = mas_alloc_cyclic(mas, entry, 2, ULONG_MAX, nxt)
        assert i == location - 2
        assert mas.index == location
        assert mas.last == location
        assert i == nxt - 3
    mt.destroy()

    nxt = 0
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    entry = Ptr(mt.addr)
    for i in range(100):
        _ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, ULONG_MAX, nxt)
        assert i == location - 2
        assert i == nxt - 3
        assert mtree_load(mt, location) == entry
    mt.destroy()

    # Exhausting the area forces the search to wrap, which needs a reset of the state.
    nxt = 0
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    entry = Ptr(mt.addr)
    for i in range(1023):
        _ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, 1024, nxt)
        assert i == location - 2
        assert i == nxt - 3
        assert mtree_load(mt, location) == entry
    mtree_erase(mt, 123)
    assert mtree_load(mt, 123) is None
    _ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, 1024, nxt)
    assert (location, nxt) == (123, 124)
    assert mtree_load(mt, location) == entry
    mtree_erase(mt, 100)
    _ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, 1024, nxt)
    assert (location, nxt) == (100, 101)
    assert mtree_load(mt, location) == entry
    mt.destroy()

    # Overflow: the allocation at ULONG_MAX wraps next to 0, the following one reports 1.
    nxt = ULONG_MAX - 1
    ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, ULONG_MAX, nxt)
    assert ret == 0
    ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, ULONG_MAX, nxt)
    assert ret == 0
    ret, location, nxt = mtree_alloc_cyclic(mt, entry, 2, ULONG_MAX, nxt)
    assert ret == 1
