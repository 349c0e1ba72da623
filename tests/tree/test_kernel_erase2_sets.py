"""Port of ``check_erase2_sets()`` from tools/testing/radix-tree/maple.c (Linux 7.0-rc6).

The kernel harness replays 43 sequences of stores, NULL stores and erases recorded from
virtual machines whose VMA trees once broke (``set`` .. ``set43``, in
tests/fixtures/kernel_tables/erase2_sets.json) through ``check_erase2_testset()``, which
validates the tree and counts its entries twice after every step (see
:func:`tests.tree.helpers.check_erase2_testset`).  Some sets are followed by a gap search
or a lookup whose result the kernel asserts; those follow-ups are below, keyed by set.

The C function keeps one maple state for the follow-ups and resets it before each use;
every follow-up here starts from a fresh state, which is equivalent: the fields a reset
leaves behind (``index``/``last``) are overwritten by the gap searches and walks that
follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from maplevm.kapi import (
    MA_STATE,
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    mas_empty_area_rev,
    mas_find,
    mas_for_each,
    mas_prev,
    mt_find,
    mt_init_flags,
    mt_validate,
    mtree_erase,
    mtree_load,
    xa_is_zero,
    xa_mk_value,
)
from maplevm.tree.mapletree import MapleTree, MaState

from .helpers import check_erase2_testset, check_load, load_table

# The sets the harness replays into a tree without MT_FLAGS_ALLOC_RANGE.
PLAIN_TREE_SETS = {"set", "set3", "set4"}


def _set2(mt: MapleTree, mas: MaState) -> None:
    entry, _ = mt_find(mt, 140735933894656, 140735933906943)
    assert entry is None


def _set4(mt: MapleTree, mas: MaState) -> None:
    for entry in mas_for_each(mas, ULONG_MAX):
        if xa_is_zero(entry):
            continue


def _rev_gap(lo: int, hi: int, size: int, last: int) -> Callable[[MapleTree, MaState], None]:
    def check(mt: MapleTree, mas: MaState) -> None:
        mas_empty_area_rev(mas, lo, hi, size)
        assert mas.last == last, f"gap ends at {mas.last}, expected {last}"

    return check


def _set12(mt: MapleTree, mas: MaState) -> None:
    count = 0
    for entry in mas_for_each(mas, ULONG_MAX):
        if xa_is_zero(entry):
            continue
        assert count <= 12
        count += 1


def _set13(mt: MapleTree, mas: MaState) -> None:
    mtree_erase(mt, 140373516443648)
    mas_empty_area_rev(mas, 0, 140373518663680, 4096)


def _set19(mt: MapleTree, mas: MaState) -> None:
    # Two bugs in prev: an endless loop on reaching the root without a find, and the
    # wrong slot used on the first ascent.
    mas.index = 140656779083776
    assert mas_find(mas, ULONG_MAX) == xa_mk_value(140656779083776)
    assert mas_prev(mas, 0) == xa_mk_value(140656766251008)


def _set20(mt: MapleTree, mas: MaState) -> None:
    check_load(mt, 94849009414144, None)


def _set22(mt: MapleTree, mas: MaState) -> None:
    mt_validate(mt)
    ptr = mtree_load(mt, 140551363362816)
    assert ptr != mtree_load(mt, 140551363420159)


def _no_entry_at(index: int) -> Callable[[MapleTree, MaState], None]:
    def check(mt: MapleTree, mas: MaState) -> None:
        assert mtree_load(mt, index) is None

    return check


def _set28(mt: MapleTree, mas: MaState) -> None:
    mas_empty_area_rev(mas, 4096, 139918413357056, 2097152)
    # The gap of the size searched for, then aligned (offset 0).
    mas.index = (mas.last + 1 - 2097152 - 0) & (~2093056 & ULONG_MAX)
    assert mas.index == 139918401601536


FOLLOW_UPS: dict[str, Callable[[MapleTree, MaState], None]] = {
    "set2": _set2,
    "set4": _set4,
    "set11": _rev_gap(12288, 140014592737280, 0x2000, 140014592573439),
    "set12": _set12,
    "set13": _set13,
    # a bug updating the limit at slot 0
    "set16": _rev_gap(4096, 139921865637888, 0x6000, 139921865547775),
    # walking backwards without counting NULLs at the end could miss a gap
    "set17": _rev_gap(4096, 139953197334528, 0x1000, 139953197322239),
    # walking backwards took the max from the parent instead of the node
    "set18": _rev_gap(4096, 140222972858368, 2215936, 140222968475647),
    "set19": _set19,
    # a slot overwritten while adding, which zeroed a gap
    "set20": _set20,
    "set22": _set22,
    # split on NULL followed by delete: gap issues
    "set26": _rev_gap(4096, 140109042671616, 409600, 140109040959487),
    "set27": _no_entry_at(140415537422336),
    "set28": _set28,
    # moving a gap failed on an entirely empty node
    "set33": _rev_gap(4096, 140583656296448, 134217728, 140583003750399),
    "set37": _no_entry_at(94637033459712),
    "set38": _no_entry_at(94637033459712),
    "set42": _rev_gap(4096, 4052029440, 28672, 4041211903),
}


def _sets() -> list[tuple[str, list[list[Any]]]]:
    sets: dict[str, list[list[Any]]] = load_table("erase2_sets")["sets"]
    return list(sets.items())


def _run_set(name: str, ops: list[list[Any]], check_every: int) -> None:
    flags = 0 if name in PLAIN_TREE_SETS else MT_FLAGS_ALLOC_RANGE
    mt = mt_init_flags(flags)
    check_erase2_testset(mt, ops, MA_STATE(mt, 0, 0), check_every)
    follow_up = FOLLOW_UPS.get(name)
    if follow_up is not None:
        follow_up(mt, MA_STATE(mt, 0, 0))
    mt_validate(mt)


# Sets this long take most of the time: with every step checked (the whole tree
# validated and its entries counted twice) they need about a minute together.
LONG_SET = 2000


@pytest.mark.parametrize(("name", "ops"), _sets(), ids=[name for name, _ in _sets()])
def test_check_erase2_sets(name: str, ops: list[list[Any]]) -> None:
    """check_erase2_sets (tools/testing/radix-tree/maple.c): one recorded set through
    check_erase2_testset(), then the set's follow-up check, then mt_validate().

    Every operation of every set is replayed.  The per-step checks run at every step for
    sets under LONG_SET operations and at every 8th step (and the last) for the five
    longer ones; test_check_erase2_sets_every_step checks those at every step.
    """
    _run_set(name, ops, 1 if len(ops) < LONG_SET else 8)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "ops"),
    [(n, o) for n, o in _sets() if len(o) >= LONG_SET],
    ids=[n for n, o in _sets() if len(o) >= LONG_SET],
)
def test_check_erase2_sets_every_step(name: str, ops: list[list[Any]]) -> None:
    """check_erase2_sets (tools/testing/radix-tree/maple.c): the long sets with the
    harness's checks after every single step, as the kernel runs them."""
    _run_set(name, ops, 1)
