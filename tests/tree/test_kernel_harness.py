"""Ports of the userspace-harness tests of tools/testing/radix-tree/maple.c (Linux 7.0-rc6)
other than ``check_erase2_sets`` (see test_kernel_erase2_sets.py): ``check_prealloc``,
``check_spanning_write``, ``check_null_expand``, ``check_vma_modification``,
``test_spanning_store_regression``, ``check_collapsing_rebalance``,
``check_spanning_store_height``, ``check_dfs_preorder``, ``check_mtree_dup``,
``check_erase_testset``, ``check_nomem`` and ``check_locky``.

How allocation is mapped.  The harness counts the nodes a maple state holds with
``mas_allocated()`` (the single ``alloc`` node plus the sheaf, which its slab shim fills
to exactly the number requested); the model keeps that count in ``nodes_avail`` (see
``helpers.mas_allocated``).  The harness makes allocations fail with
``mt_set_non_kernel(n)`` and a non-blocking gfp; the model has
``MapleTree.inject_alloc_failures(n)``, which fails the next ``n`` allocation requests.
Each use says which C sequence it stands for.

Left out, because the model cannot represent them: the RCU reader threads
(``check_rcu_simulated``, ``check_rcu_threaded``, ``run_check_rcu*``, ``rcu_stress``), the
writer racing into a dropped lock (``check_nomem_writer_race``), the slab bulk-allocation
test (``test_kmem_cache_bulk``) and, in ``check_mtree_dup``, duplication failing at the
n-th node (the model can only fail ``mtree_dup`` at its first allocation).
"""

from __future__ import annotations

from typing import Any

from maplevm.kapi import (
    MA_STATE,
    MM_MT_FLAGS,
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    StoreType,
    ma_start,
    mas_destroy,
    mas_erase,
    mas_is_err,
    mas_preallocate,
    mas_prev,
    mas_prev_range,
    mas_reset,
    mas_set,
    mas_set_range,
    mas_store,
    mas_store_gfp,
    mas_store_prealloc,
    mas_walk,
    mt_dump,
    mt_dump_hex,
    mt_height,
    mt_init_flags,
    mt_validate,
    mtree_dup,
    mtree_empty,
    mtree_erase,
    mtree_insert,
    mtree_load,
    mtree_store_range,
    xa_err,
    xa_mk_value,
)
from maplevm.tree.constants import maple_leaf_64
from maplevm.tree.mapletree import MapleTree
from maplevm.tree.node import MapleNode
from maplevm.tree.walk import __mas_set_range, mas_ascend, mas_data_end, mas_descend, mas_start
from maplevm.tree.write import (
    MaWrState,
    mas_next_sibling,
    mas_nomem,
    mas_pop_node,
    mas_wr_preallocate,
)

from .helpers import (
    EINVAL,
    ENOMEM,
    Ptr,
    build_full_tree,
    check_load,
    check_rev_seq,
    check_seq,
    compare_tree,
    get_last_index,
    get_vacant_height,
    mas_allocated,
    mas_dfs_preorder,
    mt_reinit,
    mt_slot_count,
)

# -- preallocation ----------------------------------------------------------------------


def test_check_prealloc() -> None:
    """check_prealloc (tools/testing/radix-tree/maple.c): the exact number of nodes
    mas_preallocate() reserves for spanning stores, splits, slot and node stores, compared
    with the harness's own computation of the tree height and the lowest vacant level."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    ptr = Ptr(0xFFFFFFFF_81E00000)  # stands for check_prealloc
    mas = MA_STATE(mt, 10, 20)
    wr_mas = MaWrState(mas, ptr)  # one write state for the whole test, as in C

    i_ptr = Ptr(0xFFFFC900_00003F00)  # &i
    for i in range(101):
        mtree_store_range(mt, i * 10, i * 10 + 5, i_ptr)

    def expect_spanning_count() -> int:
        allocated = mas_allocated(mas)
        height = mt_height(mt)
        vacant_height = get_vacant_height(wr_mas, ptr)
        assert allocated == 1 + (height - vacant_height) * 3, (
            allocated,
            height,
            vacant_height,
        )
        return allocated

    # Spanning store.
    mas_set_range(mas, 470, 500)
    mas_wr_preallocate(wr_mas, ptr)
    assert mas.store_type == StoreType.wr_spanning_store
    assert not mas_is_err(mas)
    assert mas_allocated(mas) != 0
    expect_spanning_count()
    mas_destroy(mas)
    assert mas_allocated(mas) == 0

    mas_wr_preallocate(wr_mas, ptr)
    assert mas_preallocate(mas, ptr) == 0
    assert mas_allocated(mas) != 0
    expect_spanning_count()
    assert mas_preallocate(mas, ptr) == 0
    mas_destroy(mas)
    assert mas_allocated(mas) == 0

    assert mas_preallocate(mas, ptr) == 0
    allocated = expect_spanning_count()
    mas_pop_node(mas, maple_leaf_64)
    assert mas_allocated(mas) == allocated - 1
    assert mas_preallocate(mas, ptr) == 0
    mas_destroy(mas)
    assert mas_allocated(mas) == 0

    assert mas_preallocate(mas, ptr) == 0
    allocated = expect_spanning_count()
    mas_pop_node(mas, maple_leaf_64)
    assert mas_allocated(mas) == allocated - 1
    assert mas_preallocate(mas, ptr) == 0
    mas_destroy(mas)
    assert mas_allocated(mas) == 0

    assert mas_preallocate(mas, ptr) == 0
    expect_spanning_count()
    mas_store_prealloc(mas, ptr)
    assert mas_allocated(mas) == 0

    # A slot store needs no allocation.
    mas_set_range(mas, 6, 9)
    assert mas_preallocate(mas, ptr) == 0
    assert mas_allocated(mas) == 0
    mas_store_prealloc(mas, ptr)
    assert mas_allocated(mas) == 0

    mas_set_range(mas, 6, 10)
    assert mas_preallocate(mas, ptr) == 0
    assert mas_allocated(mas) == 0
    mas_store_prealloc(mas, ptr)
    assert mas_allocated(mas) == 0

    # Split.
    mas_set_range(mas, 54, 54)
    assert mas_preallocate(mas, ptr) == 0
    allocated = mas_allocated(mas)
    height = mt_height(mt)
    vacant_height = get_vacant_height(wr_mas, ptr)
    assert allocated == 1 + (height - vacant_height) * 2, (allocated, height, vacant_height)
    mas_store_prealloc(mas, ptr)
    assert mas_allocated(mas) == 0

    # Spanning store with allocation failing (mt_set_non_kernel(1) with GFP_NOWAIT, more
    # than one node needed): the preallocation fails and holds nothing.
    mt.inject_alloc_failures(1)
    mas_set_range(mas, 1, 100)
    assert mas_preallocate(mas, ptr) != 0
    assert mas_allocated(mas) == 0
    mas_destroy(mas)

    # The same spanning store with memory.  The root has only two entries, on the verge
    # of being insufficient, so the vacant height cannot bound the count: the worst case
    # for the full height is reserved.
    assert mas_preallocate(mas, ptr) == 0
    allocated = mas_allocated(mas)
    height = mt_height(mt)
    get_vacant_height(wr_mas, ptr)
    assert allocated != 0
    assert allocated == height * 3 + 1, (allocated, height)
    mas_store_prealloc(mas, ptr)
    assert mas_allocated(mas) == 0

    mas_set_range(mas, 0, 200)
    mt.inject_alloc_failures(1)
    assert mas_preallocate(mas, ptr) != 0
    assert mas_allocated(mas) == 0

    # Chained preallocations in RCU mode: a slot store needs nothing, widening it to a
    # node store needs one node.
    mt.set_in_rcu(True)
    mas_set_range(mas, 800, 805)
    assert mas_preallocate(mas, ptr) == 0
    assert mas_allocated(mas) == 0
    mas.last = 809
    assert mas_preallocate(mas, ptr) == 0
    assert mas_allocated(mas) == 1
    mas_store_prealloc(mas, ptr)
    mt_validate(mt)


# -- spanning writes ------------------------------------------------------------------------


def _fill(mt: MapleTree, lo: int, hi: int, entry: Any) -> None:
    for i in range(lo, hi + 1):
        mtree_store_range(mt, i * 10, i * 10 + 5, entry)


def test_check_spanning_write() -> None:
    """check_spanning_write (tools/testing/radix-tree/maple.c): NULL stores spanning
    nodes and levels that need right/left sibling and cousin rebalances (up to the root),
    one ending at a full node, and one through levels without siblings."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 1200, 2380)
    i_ptr = Ptr(0xFFFFC900_00003F00)  # &i
    hi = 5000

    _fill(mt, 0, hi, i_ptr)
    assert mas_store_gfp(mas, None) == 0
    mas_set(mas, 1205)
    assert mas_walk(mas) is None
    mt.destroy()

    _fill(mt, 1, hi, i_ptr)
    mas_set_range(mas, 9, 50006)  # expands to 0 - ULONG_MAX
    assert mas_store_gfp(mas, None) == 0
    mas_set(mas, 1205)
    assert mas_walk(mas) is None
    mt_validate(mt)
    mt.destroy()

    cases = (
        # (flags, store range, index that must read NULL)
        (MT_FLAGS_ALLOC_RANGE, (0, 12900), 1205),  # right cousin rebalance, > 2 levels
        (0, (0, 300), 15),  # a tree without gaps
        (MT_FLAGS_ALLOC_RANGE, (0, 12865), 15),  # right sibling rebalance
        (MT_FLAGS_ALLOC_RANGE, (90, 13665), 95),  # left sibling rebalance
        (MT_FLAGS_ALLOC_RANGE, (46805, 49995), 46815),  # left cousin rebalance
        (MT_FLAGS_ALLOC_RANGE, (32395, 49995), 46815),  # left cousin, up to the root
        (MT_FLAGS_ALLOC_RANGE, (38875, 43190), 38900),  # right cousin, up to the root
    )
    for flags, (first, last), probe in cases:
        mt_reinit(mt, flags)
        _fill(mt, 0, hi, i_ptr)
        mas_set_range(mas, first, last)
        assert mas_store_gfp(mas, None) == 0
        mas_set(mas, probe)
        assert mas_walk(mas) is None
        mt_validate(mt)
        mt.destroy()

    # A spanning store ending at a full node (depth 2).
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    _fill(mt, 0, hi, i_ptr)
    fn_ptr = Ptr(0xFFFFFFFF_81F00000)  # stands for check_spanning_write
    for index in (47606, 47607, 47608, 47609):
        mas_set(mas, index)
        assert mas_store_gfp(mas, fn_ptr) == 0
    # The parent must be full.
    mas_ascend(mas)
    assert mas_data_end(mas) == mt_slot_count(mas.node) - 1
    mas_set_range(mas, 11516, 48940)
    assert mas_store_gfp(mas, None) == 0
    mt_validate(mt)
    mt.destroy()

    # A spanning write through many levels without siblings.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    _fill(mt, 0, hi, i_ptr)
    mas_set_range(mas, 43200, 49999)
    assert mas_store_gfp(mas, None) == 0
    mas_set(mas, 43200)
    assert mas_walk(mas) is None
    mt_validate(mt)
    mt.destroy()

    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    _fill(mt, 0, 100, i_ptr)
    mas_set_range(mas, 76, 875)
    assert mas_store_gfp(mas, None) == 0
    mt_validate(mt)


def test_check_null_expand() -> None:
    """check_null_expand (tools/testing/radix-tree/maple.c): NULL stores next to NULLs
    absorb them; the leaf's data end shows how many slots were merged."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 959, 959)
    _fill(mt, 0, 100, Ptr(0xFFFFC900_00003F00))

    # Expanding a NULL at the start.
    mas_walk(mas)
    data_end = mas_data_end(mas)
    mas_set_range(mas, 959, 963)
    assert mas_store_gfp(mas, None) == 0
    assert mtree_load(mt, 963) is None
    assert data_end == mas_data_end(mas)

    # At the end.
    mas_set(mas, 880)
    mas_walk(mas)
    data_end = mas_data_end(mas)
    mas_set_range(mas, 884, 887)
    assert mas_store_gfp(mas, None) == 0
    assert mtree_load(mt, 884) is None
    assert mtree_load(mt, 889) is None
    assert data_end == mas_data_end(mas)

    # At the start and the end.
    mas_set(mas, 890)
    mas_walk(mas)
    data_end = mas_data_end(mas)
    mas_set_range(mas, 900, 905)
    assert mas_store_gfp(mas, None) == 0
    for index in (899, 900, 905, 906):
        assert mtree_load(mt, index) is None
    assert data_end - 2 == mas_data_end(mas)

    # Across several slots.
    mas_set(mas, 800)
    mas_walk(mas)
    data_end = mas_data_end(mas)
    mas_set_range(mas, 810, 825)
    assert mas_store_gfp(mas, None) == 0
    for index in (809, 810, 825, 826):
        assert mtree_load(mt, index) is None
    assert data_end - 4 == mas_data_end(mas)
    mt_validate(mt)


def test_check_vma_modification() -> None:
    """check_vma_modification (tools/testing/radix-tree/maple.c): a VMA expanded down over
    the range before it with __mas_set_range() after mas_prev_range(), then shrunk, using
    preallocated stores on an mm-style tree.  (The kernel only dumps the tree; the port
    checks that no __mas_set_range() misuse is flagged and what the tree holds.)"""
    mt = mt_init_flags(MM_MT_FLAGS)
    mas = MA_STATE(mt, 0, 0)
    # The VMA with its old start and end.
    __mas_set_range(mas, 0x7FFFFFFFE000, 0x7FFFFFFFF000 - 1)
    assert mas_preallocate(mas, xa_mk_value(1)) == 0
    mas_store_prealloc(mas, xa_mk_value(1))

    # The next write starts inside the previous range [0, 0x7fffffffe000).
    mas_prev_range(mas, 0)
    # Expand to [0x7ffde4ca1000, 0x7ffffffff000).
    __mas_set_range(mas, 0x7FFDE4CA1000, 0x7FFFFFFFF000 - 1)
    assert mas_preallocate(mas, xa_mk_value(1)) == 0
    mas_store_prealloc(mas, xa_mk_value(1))

    # Shrink to [0x7ffde4ca1000, 0x7ffde4ca2000).
    __mas_set_range(mas, 0x7FFDE4CA2000, 0x7FFFFFFFF000 - 1)
    assert mas_preallocate(mas, None) == 0
    mas_store_prealloc(mas, None)
    assert mt_dump(mt, mt_dump_hex)
    mas_destroy(mas)

    mt_validate(mt)
    assert list(mt.items()) == [(0x7FFDE4CA1000, 0x7FFDE4CA1FFF, xa_mk_value(1))]


def test_spanning_store_regression() -> None:
    """test_spanning_store_regression (tools/testing/radix-tree/maple.c): a spanning store
    that consumes the whole right leaf under a parent, with the state positioned so that
    only that parent's subtree is considered; the tree must validate afterwards."""
    mt, ret = build_full_tree(0, 3)
    assert ret == 0
    mas = MA_STATE(mt, 0, 0)

    # Descend to depth 2, then along the leaves under the first depth-1 node: the store
    # covers [start of the last slot of one leaf, end of the next leaf].
    mas_reset(mas)
    mas_start(mas)
    mas_descend(mas)
    mas_descend(mas)
    first = last = 0
    while True:
        tmp = get_last_index(mas)
        if not mas_next_sibling(mas):
            break
        first = tmp
        last = mas.max
    assert (first, last) != (0, 0)

    mas_set_range(mas, first, last)
    assert mas_store_gfp(mas, xa_mk_value(0xDEAD)) == 0
    mt_validate(mt)


def test_check_collapsing_rebalance() -> None:
    """check_collapsing_rebalance (tools/testing/radix-tree/maple.c): a height 6 tree
    (110716 overlapping ranges) emptied from the right, each erase's rebalance
    collapsing the parent into insufficiency."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, ULONG_MAX, ULONG_MAX)
    i = 0
    while mt_height(mt) < 6:
        mtree_store_range(mt, i, i + 10, xa_mk_value(i))
        i += 9
    # Delete every entry, one at a time, from the right.
    while True:
        mas_erase(mas)
        if mas_prev(mas, 0) is None:
            break
    mt_validate(mt)
    assert not list(mt.items())


def test_check_spanning_store_height() -> None:
    """check_spanning_store_height (tools/testing/radix-tree/maple.c): singletons until
    the tree has height 3, then a store over 90-140 that must bring it down to 2."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    index = 0
    while mt_height(mt) != 3:
        assert mas_store_gfp(mas, xa_mk_value(index)) == 0
        index += 1
        mas_set(mas, index)
    mas_set_range(mas, 90, 140)
    assert mas_store_gfp(mas, xa_mk_value(index)) == 0
    assert mt_height(mt) == 2
    mt_validate(mt)


# -- node counts and duplication ------------------------------------------------------------


def _count_dfs(mt: MapleTree) -> int:
    mas = MA_STATE(mt, 0, 0)
    count = 0
    while True:
        count += 1
        mas_dfs_preorder(mas)
        if mas.status == 3:  # ma_none
            return count


def test_check_dfs_preorder() -> None:
    """check_dfs_preorder (tools/testing/radix-tree/maple.c): the number of nodes (plus
    one) a depth-first walk visits after 0..1000 inserted in order into a plain tree (74)
    and into an allocation tree (77), and after 1000..1 in reverse (77)."""
    mt = mt_init_flags(0)
    check_seq(mt, 1000)
    assert _count_dfs(mt) == 74
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    check_seq(mt, 1000)
    assert _count_dfs(mt) == 77
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    check_rev_seq(mt, 1000)
    assert _count_dfs(mt) == 77


def _dup_and_compare(mt: MapleTree, new: MapleTree) -> None:
    assert mtree_dup(mt, new) == 0
    mt_validate(new)
    diff = compare_tree(mt, new)
    assert diff is None, diff


def test_check_mtree_dup() -> None:
    """check_mtree_dup (tools/testing/radix-tree/maple.c): duplicating a root entry, trees
    of mismatched flags or a non-empty target (-EINVAL), full trees of height 1 to 3,
    trees of 0..999 ranges (node by node identical), and failure at the first node."""
    mt = mt_init_flags(0)
    new = mt_init_flags(0)
    # A value at [0, 0].
    mtree_store_range(mt, 0, 0, xa_mk_value(0))
    _dup_and_compare(mt, new)
    mt.destroy()
    new.destroy()

    # Different attributes.
    mt_reinit(mt, 0)
    mt_reinit(new, MT_FLAGS_ALLOC_RANGE)
    assert mtree_dup(mt, new) == -EINVAL
    mt.destroy()
    new.destroy()

    # The new tree is not empty.
    mt_reinit(mt, 0)
    mt_reinit(new, 0)
    mtree_store_range(new, 5, 5, xa_mk_value(5))
    assert mtree_dup(mt, new) == -EINVAL
    mt.destroy()
    new.destroy()

    # Full trees.
    for flags in (0, MT_FLAGS_ALLOC_RANGE):
        for height in (1, 2, 3):
            full, ret = build_full_tree(flags, height)
            assert ret == 0
            mt_reinit(new, flags)
            _dup_and_compare(full, new)
            new.destroy()

    # Ordinary trees.
    j = 0
    for i in range(0, 1000, 3):
        flags = 0 if i & 1 else MT_FLAGS_ALLOC_RANGE
        mt_reinit(mt, flags)
        mt_reinit(new, flags)
        for j in range(i):
            mtree_store_range(mt, j * 10, j * 10 + 5, xa_mk_value(j))
        _dup_and_compare(mt, new)
        mt.destroy()
        new.destroy()

    # Allocation failing at the first node (mt_set_non_kernel(0) with GFP_NOWAIT).  The
    # C loop filling the tree reuses the stale j (999) of the loop above, so it stores
    # the same single range ten times.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for _ in range(0, 30, 3):
        mtree_store_range(mt, j * 10, j * 10 + 5, xa_mk_value(j))
    mt_reinit(new, MT_FLAGS_ALLOC_RANGE)
    new.inject_alloc_failures(1)
    assert mtree_dup(mt, new) == -ENOMEM
    assert mtree_empty(new)


# -- erase in RCU mode, no memory, locking ----------------------------------------------------


def test_check_erase_testset() -> None:
    """check_erase_testset (tools/testing/radix-tree/maple.c): inserts and erases in RCU
    mode with loads of everything after each change: a root that is replaced rather than
    modified, an insert that must not split, coalescing after erases, and a tree shrinking
    back from 60 entries."""
    sets = (
        5015, 5014, 5017, 25, 1000, 1001, 1002, 1003, 1005, 0,
        6003, 6002, 6008, 6012, 6015, 7003, 7002, 7008, 7012, 7015,
        8003, 8002, 8008, 8012, 8015, 9003, 9002, 9008, 9012, 9015,
        10003, 10002, 10008, 10012, 10015, 11003, 11002, 11008, 11012, 11015,
        12003, 12002, 12008, 12012, 12015, 13003, 13002, 13008, 13012, 13015,
        14003, 14002, 14008, 14012, 14015, 15003, 15002, 15008, 15012, 15015,
    )  # fmt: skip
    mt = mt_init_flags(0)
    ptr = Ptr(0xFFFFFFFF_81D00000)  # stands for check_erase_testset
    entry = (ptr, Ptr(mt.addr))

    def e_load(i: int) -> None:
        check_load(mt, sets[i], entry[i % 2])

    def e_insert(i: int) -> None:
        assert mtree_insert(mt, sets[i], entry[i % 2]) == 0

    def e_erase(i: int) -> None:
        assert mtree_erase(mt, sets[i]) == entry[i % 2]

    def loads_except(lo: int, hi: int) -> None:
        for i in range(25):
            if lo <= i <= hi:
                check_load(mt, sets[i], None)
            else:
                e_load(i)

    mt.set_in_rcu(True)
    for i in range(4):
        e_insert(i)
    for i in range(4):
        e_load(i)

    e_erase(1)
    e_load(0)
    check_load(mt, sets[1], None)
    for i in range(2, 4):
        e_load(i)

    e_erase(2)
    e_load(0)
    check_load(mt, sets[1], None)
    check_load(mt, sets[2], None)

    e_insert(1)
    e_insert(2)
    for i in range(4):
        e_load(i)

    # Erase and load without an allocation.
    e_load(3)
    e_erase(1)
    e_load(0)
    check_load(mt, sets[1], None)
    for i in range(2, 4):
        e_load(i)

    # Insert into the newly erased slot.
    root_node = mt.ma_root
    e_insert(1)
    e_load(0)
    check_load(mt, 5016, None)
    e_load(1)
    check_load(mt, 5013, None)
    e_load(2)
    check_load(mt, 5018, None)
    e_load(3)

    e_erase(2)  # 5017, to check appending
    e_load(0)
    check_load(mt, 5016, None)
    e_load(1)
    check_load(mt, 5013, None)
    check_load(mt, sets[2], None)
    check_load(mt, 5018, None)
    e_load(3)

    root_node = mt.ma_root
    e_insert(2)
    e_load(0)
    check_load(mt, 5016, None)
    e_load(1)
    check_load(mt, 5013, None)
    e_load(2)
    check_load(mt, 5018, None)
    e_load(3)

    e_erase(2)  # 5017, to check appending
    e_load(0)
    check_load(mt, 5016, None)
    check_load(mt, sets[2], None)
    e_erase(0)  # 5015, to check appending
    check_load(mt, sets[0], None)
    check_load(mt, 5016, None)
    e_insert(4)  # 1000: must not split
    check_load(mt, sets[0], None)
    check_load(mt, 5016, None)
    e_load(1)
    check_load(mt, 5013, None)
    check_load(mt, sets[2], None)
    check_load(mt, 5018, None)
    e_load(4)
    check_load(mt, 999, None)
    check_load(mt, 1001, None)
    e_load(4)
    # In RCU mode the root is replaced, not modified in place.
    if mt.in_rcu:
        assert root_node is not mt.ma_root
    else:
        assert root_node is mt.ma_root
    # Not split: the root is a leaf.
    assert isinstance(mt.ma_root, MapleNode) and mt.ma_root.type < 2

    # Coalescing.
    e_insert(0)
    e_insert(2)
    for i in range(5, 25):
        e_insert(i)
        for j in range(i, -1, -1):
            e_load(j)

    e_erase(14)  # 6015
    loads_except(14, 14)
    e_erase(16)  # 7002
    for i in range(25):
        if i in (14, 16):
            check_load(mt, sets[i], None)
        else:
            e_load(i)
    e_erase(13)  # 6012
    for i in range(25):
        if i in (13, 14, 16):
            check_load(mt, sets[i], None)
        else:
            e_load(i)
    e_erase(15)  # 7003
    loads_except(13, 16)
    e_erase(17)  # 7008: should coalesce
    loads_except(13, 17)
    e_erase(18)  # 7012
    loads_except(13, 18)
    e_erase(19)  # 7015
    loads_except(13, 19)
    e_erase(20)  # 8003
    loads_except(13, 20)
    e_erase(21)  # 8002
    loads_except(13, 21)
    e_erase(22)  # 8008
    loads_except(13, 22)
    for i in range(23, 25):
        e_erase(i)
    loads_except(13, 25)

    # The tree shrinking.
    n = len(sets)
    for i in range(13, n):
        e_insert(i)
    for i in range(18, n):
        e_erase(i)
        for j in range(n):
            if j < 18 or j > i:
                e_load(j)
            else:
                check_load(mt, sets[j], None)
    for i in range(18):
        e_erase(i)
        for j in range(n):
            if 18 > j > i:
                e_load(j)
            else:
                check_load(mt, sets[j], None)
    e_insert(8)
    e_insert(9)
    e_erase(8)
    mt_validate(mt)


def test_check_nomem() -> None:
    """check_nomem (tools/testing/radix-tree/maple.c): an insert that needs a node fails
    with -ENOMEM when allocation fails; one at 0 needs none; a failed mas_store() is
    recovered with mas_nomem(), which returns the state to ma_start."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    ms = MA_STATE(mt, 1, 1)
    ms_ptr = Ptr(0xFFFFC900_00004000)  # &ms
    assert mtree_empty(mt)

    # GFP_ATOMIC with mt_set_non_kernel(0): the preallocation and the retry in
    # mas_nomem() both fail.
    mt.inject_alloc_failures(2)
    assert mtree_insert(mt, 1, ms_ptr) == -ENOMEM
    # Storing at 0 needs no node.
    assert mtree_insert(mt, 0, ms_ptr) == 0

    # Two writers racing: the first fails to allocate for an insert at 1 ...
    mt.inject_alloc_failures(1)
    mas_store(ms, ms_ptr)
    assert mas_is_err(ms) and xa_err(ms) == -ENOMEM
    assert mas_nomem(ms)  # the node is allocated here
    assert ms.status == ma_start
    # ... the second inserts at 2 meanwhile ...
    assert mtree_insert(mt, 2, Ptr(mt.addr)) == 0
    # ... and the first retries.
    mas_store(ms, ms_ptr)
    mas_nomem(ms)
    mas_destroy(ms)
    check_load(mt, 0, ms_ptr)
    check_load(mt, 1, ms_ptr)
    check_load(mt, 2, Ptr(mt.addr))
    mt_validate(mt)


def test_check_locky() -> None:
    """check_locky (tools/testing/radix-tree/maple.c): mas_store() in RCU mode over a
    single entry and then a range around it.  (The kernel test exercises lockdep; the
    port checks the result.)"""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    ms = MA_STATE(mt, 2, 2)
    ms_ptr, reader_ptr = Ptr(0xFFFFC900_00004000), Ptr(0xFFFFC900_00004080)
    mt.set_in_rcu(True)
    mas_store(ms, ms_ptr)
    mas_set_range(ms, 1, 3)
    mas_store(ms, reader_ptr)
    mt.set_in_rcu(False)
    for index in (1, 2, 3):
        check_load(mt, index, reader_ptr)
    check_load(mt, 0, None)
    check_load(mt, 4, None)
    mt_validate(mt)
