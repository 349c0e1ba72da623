"""Shared helpers for the ports of the kernel's maple tree tests.

Two kinds of helpers live here:

* the small wrappers ``lib/test_maple_tree.c`` builds its tests from (``check_load``,
  ``check_insert_range``, ``check_seq`` ...), which turn every ``MT_BUG_ON`` into an
  ``assert``;
* the test-local tree walkers of ``tools/testing/radix-tree/maple.c`` (``mas_range_load``,
  ``get_vacant_height``, ``mas_dfs_preorder``, ``compare_tree``, ``build_full_tree`` ...),
  which reach into the tree the way the C harness does, here through the model's
  kernel-named internals.

Entries: C tests store arbitrary pointers.  :func:`kptr` turns a pointer value into the
entry the kernel would see: low bits ``01``/``11`` make a value entry, ``10`` an internal
entry, ``00`` a plain pointer (:class:`Ptr`).  That keeps the behaviours that depend on
the bits (internal entries cannot live in the root pointer) exactly as in C.
"""

from __future__ import annotations

import errno
import json
from functools import cache
from pathlib import Path
from typing import Any

from maplevm.kapi import (
    MA_STATE,
    ULONG_MAX,
    ma_active,
    ma_none,
    ma_pause,
    ma_root,
    ma_start,
    mas_for_each,
    mas_next,
    mas_reset,
    mas_set,
    mas_store_gfp,
    mt_for_each,
    mt_height,
    mt_init_flags,
    mt_validate,
    mtree_alloc_range,
    mtree_alloc_rrange,
    mtree_destroy,
    mtree_empty,
    mtree_erase,
    mtree_insert,
    mtree_insert_range,
    mtree_load,
    mtree_store_range,
    xa_is_zero,
    xa_mk_value,
)
from maplevm.tree.constants import MAPLE_NODE_SLOTS, maple_dense, mt_slots
from maplevm.tree.entry import XaInternal, XaValue
from maplevm.tree.mapletree import MapleTree, MaState
from maplevm.tree.node import MapleNode
from maplevm.tree.state import MaStateFields
from maplevm.tree.walk import (
    mas_ascend,
    mas_data_end,
    mas_descend,
    mas_safe_min,
    mas_safe_pivot,
    mas_start,
)
from maplevm.tree.write import MaWrState, mas_is_span_wr, mte_parent_slot

EBUSY = errno.EBUSY
EEXIST = errno.EEXIST
EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
LONG_MAX = (1 << 63) - 1

_TABLES = Path(__file__).resolve().parent.parent / "fixtures" / "kernel_tables"


@cache
def load_table(name: str) -> Any:
    """A JSON table of ``tests/fixtures/kernel_tables`` (extracted from the kernel sources)."""
    return json.loads((_TABLES / f"{name}.json").read_text())


# -- entries -----------------------------------------------------------------------------


class Ptr:
    """A plain kernel pointer (low bits ``00``) with a recognisable address."""

    __slots__ = ("addr",)

    def __init__(self, addr: int) -> None:
        assert addr & 3 == 0
        self.addr = addr

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ptr) and other.addr == self.addr

    def __hash__(self) -> int:
        return hash((Ptr, self.addr))

    def __repr__(self) -> str:
        return f"Ptr({self.addr:#x})"


def kptr(addr: int) -> Any:
    """The entry a C test stores when it casts ``addr`` to ``void *``."""
    if addr & 1:
        return XaValue(addr >> 1)
    if addr & 3 == 2:
        return XaInternal(addr >> 2)
    return Ptr(addr)


def V(index: int) -> XaValue:
    """``xa_mk_value(index & LONG_MAX)``, the entry ``mtree_insert_index()`` stores."""
    return xa_mk_value(index & LONG_MAX)


# -- lib/test_maple_tree.c wrappers ----------------------------------------------------


def mt_reinit(mt: MapleTree, flags: int) -> None:
    """``mt_init_flags(mt, flags)`` on a tree that already exists.

    The C tests re-initialise the same ``struct maple_tree``, so a maple state declared
    once at the top of a test stays attached to it, keeping whatever its fields held
    (some tests depend on that, e.g. a stale ``end``).  Making a new tree here would
    detach the state, so the tree is emptied and given the new flags in place.
    """
    mtree_destroy(mt)
    mt.ma_flags = flags


def mtree_insert_index(mt: MapleTree, index: int) -> int:
    return mtree_insert(mt, index, V(index))


def mtree_erase_index(mt: MapleTree, index: int) -> None:
    assert mtree_erase(mt, index) == V(index)
    assert mtree_load(mt, index) is None


def check_load(mt: MapleTree, index: int, ptr: Any) -> None:
    ret = mtree_load(mt, index)
    assert ret == ptr, f"load {index:#x} returned {ret!r}, expected {ptr!r}"


def check_index_load(mt: MapleTree, index: int) -> None:
    check_load(mt, index, V(index))


def check_store_range(mt: MapleTree, start: int, end: int, ptr: Any, expected: int) -> None:
    ret = mtree_store_range(mt, start, end, ptr)
    assert ret == expected, f"store [{start}, {end}] returned {ret}, expected {expected}"
    if ret:
        return
    for i in range(start, end + 1):
        check_load(mt, i, ptr)


def check_insert_range(mt: MapleTree, start: int, end: int, ptr: Any, expected: int) -> None:
    ret = mtree_insert_range(mt, start, end, ptr)
    assert ret == expected, f"insert [{start}, {end}] returned {ret}, expected {expected}"
    if ret:
        return
    for i in range(start, end + 1):
        check_load(mt, i, ptr)


def check_insert(mt: MapleTree, index: int, ptr: Any) -> None:
    assert mtree_insert(mt, index, ptr) == 0


def check_dup_insert(mt: MapleTree, index: int, ptr: Any) -> None:
    assert mtree_insert(mt, index, ptr) == -EEXIST


def check_mtree_alloc_range(
    mt: MapleTree, start: int, end: int, size: int, expected: int, eret: int, ptr: Any
) -> None:
    ret, result = mtree_alloc_range(mt, ptr, size, start, end)
    assert ret == eret, f"alloc_range({start}, {end}, {size}) returned {ret}, expected {eret}"
    if ret:
        return
    assert result == expected, f"alloc_range({start}, {end}, {size}) = {result}, not {expected}"


def check_mtree_alloc_rrange(
    mt: MapleTree, start: int, end: int, size: int, expected: int, eret: int, ptr: Any
) -> None:
    ret, result = mtree_alloc_rrange(mt, ptr, size, start, end)
    assert ret == eret, f"alloc_rrange({start}, {end}, {size}) returned {ret}, expected {eret}"
    if ret:
        return
    assert result == expected, f"alloc_rrange({start}, {end}, {size}) = {result}, not {expected}"


def _check_index_loads(mt: MapleTree, lo: int, hi: int) -> None:
    """``check_index_load()`` for every index in ``[lo, hi]`` (the O(n^2) inner loops)."""
    for j in range(lo, hi + 1):
        got = mtree_load(mt, j)
        if got != V(j):
            raise AssertionError(f"load {j} returned {got!r}, expected {V(j)!r}")


def check_seq(mt: MapleTree, hi: int) -> None:
    """``check_seq(mt, max, verbose)``: insert 0..max in order, re-reading all so far."""
    assert mtree_empty(mt)
    for i in range(hi + 1):
        assert mtree_insert_index(mt, i) == 0
        _check_index_loads(mt, 0, i)
        if i:
            assert mt_height(mt)
        check_load(mt, i + 1, None)


def check_rev_seq(mt: MapleTree, hi: int) -> None:
    """``check_rev_seq(mt, max, verbose)``: insert max..1 in reverse, re-reading each time.

    The RCU flag is toggled after every insert, as the kernel test does.
    """
    assert mtree_empty(mt)
    i = hi
    while i:
        assert mtree_insert_index(mt, i) == 0
        _check_index_loads(mt, i, hi)
        check_load(mt, i - 1, None)
        mt.set_in_rcu(True)
        assert mt_height(mt)
        mt.set_in_rcu(False)
        assert mt_height(mt)
        i -= 1
    check_load(mt, hi + 1, None)


def check_lb_not_empty(mt: MapleTree) -> None:
    huge = 4000 * 1000 * 1000
    i = huge
    while i > 4096:
        check_insert(mt, i, kptr(i))
        j = huge
        while j >= i:
            check_load(mt, j - 1, None)
            check_load(mt, j, kptr(j))
            check_load(mt, j + 1, None)
            j //= 2
        i //= 2
    mt.destroy()


# -- tools/testing/radix-tree/maple.c: its own tree walk ---------------------------------


def mas_node_walk(mas: MaStateFields, node: MapleNode, node_type: int) -> tuple[int, int] | None:
    """The harness's ``mas_node_walk()``: find ``mas.index`` in ``node``.

    Sets ``mas.offset``; in a leaf returns ``(range_min, range_max)`` of the slot, in an
    internal node sets ``mas.min``/``mas.max`` to the child's range and returns None.
    """
    assert node_type != maple_dense, "the model never builds dense nodes"
    pivots = node.pivot
    hi = pivots[0]
    if node.dead:
        return None
    offset = 0
    prev = mas.min
    index = mas.index
    if index > hi:
        count = len(pivots)
        found = False
        offset += 1
        while offset < count:
            prev = hi
            hi = pivots[offset]
            if index <= hi:
                found = True
                break
            if not hi:
                break
            offset += 1
        else:
            prev = hi
        if not found:
            hi = mas.max
        prev += 1
    mas.offset = offset
    if node_type < 2:
        return prev, hi
    mas.max = hi
    mas.min = prev
    return None


def mas_descend_walk(mas: MaStateFields) -> tuple[bool, tuple[int, int] | None]:
    """The harness's ``mas_descend_walk()``; returns (valid, leaf range)."""
    while True:
        node = mas.node
        assert node is not None
        rng = mas_node_walk(mas, node, node.type)
        nxt = node.slot[mas.offset]
        if node.dead:
            return False, rng
        if node.type < 2:
            return True, rng
        mas.node = nxt


def mas_tree_walk(mas: MaStateFields) -> tuple[bool, tuple[int, int] | None]:
    """The harness's ``mas_tree_walk()``: (found, (range_min, range_max) or None).

    A None range stands for the C out-parameters the harness leaves unwritten.
    """
    while True:
        mas_start(mas)
        if mas.status == ma_none:
            mas.offset = MAPLE_NODE_SLOTS
            return False, None
        if mas.status == ma_root:
            if not mas.index:
                return True, (0, 0)
            mas.offset = MAPLE_NODE_SLOTS
            return False, (0, 0)
        ret, rng = mas_descend_walk(mas)
        node = mas.node
        assert node is not None
        if node.dead:
            mas.status = ma_start
            continue
        mas.end = mas_data_end(mas)
        return ret, rng


def mas_range_load(mas: MaStateFields) -> tuple[Any, tuple[int, int] | None]:
    """The harness's ``mas_range_load()``: (entry, (range_min, range_max) or None)."""
    entry: Any = None
    index = mas.index
    if mas.status in (ma_none, ma_pause):
        mas.status = ma_start
    while True:
        found, rng = mas_tree_walk(mas)
        if found and mas.status == ma_root:
            return mas.tree.ma_root, rng
        if mas.offset != MAPLE_NODE_SLOTS:
            node = mas.node
            assert node is not None
            entry = node.slot[mas.offset]
        node = mas.node
        if mas.status == ma_active and node is not None and node.dead:
            mas_set(mas, index)
            continue
        return entry, rng


def mt_slot_count(node: MapleNode | None) -> int:
    """``mt_slot_count(enode)``; a NULL enode decodes as type 0 (dense, 31 slots)."""
    return mt_slots[node.type if node is not None else maple_dense]


def mas_ce2_over_count(
    mas_start_: MaStateFields,
    mas_end: MaStateFields,
    s_entry: Any,
    s_min: int,
    e_entry: Any,
    e_max: int,
    null_entry: bool,
) -> int:
    """The harness's ``mas_ce2_over_count()``: entries a store over [start, end] replaces."""
    count = 0
    span = 0
    tmp = MaStateFields(mas_start_.tree, 0, 0)
    tmp.copy_from(mas_start_)
    entry = mas_next(tmp, mas_end.last)
    while entry is not None:
        assert not xa_is_zero(s_entry)
        count += 1
        span += 1
        entry = mas_next(tmp, mas_end.last)
    if null_entry:
        # Splitting the end range keeps one entry.
        if e_entry is not None and e_max > mas_end.last:
            count -= 1
        # The whole start range is overwritten.
        if s_entry is not None and s_min == mas_start_.index:
            count += 1
    else:
        esplit = e_max > mas_end.last
        ssplit = s_min != mas_start_.index
        if s_entry is not None and e_entry is not None:
            if ssplit:  # the start range is split, whether or not the end one is
                count -= 1
            elif esplit:
                if span:
                    count -= 1
        elif s_entry is not None and e_entry is None:
            if ssplit:
                count -= 1
        elif s_entry is None and e_entry is not None:
            if esplit:
                count -= 1
            count -= 1
        else:
            count -= 1
    return count


STORE, SNULL, ERASE = "STORE", "SNULL", "ERASE"


def check_erase2_testset(
    mt: MapleTree, ops: list[list[Any]], mas: MaStateFields, check_every: int = 1
) -> None:
    """The harness's ``check_erase2_testset()``: replay a recorded sequence of stores,
    NULL stores and erases, tracking the expected number of entries the way the C code
    does; after each step validate the tree and count its entries with ``mt_for_each``
    and with ``mas_for_each``.

    ``mas`` is the state the C function declares on the tree (``MA_STATE(mas, mt, 0, 0)``).
    The C code declares ``s_min``/``s_max``/``e_min``/``e_max`` without initialising them
    and only sets them when the walk reaches a leaf or a root entry.  Here an unwritten
    range is None; the only step that reads one is a STORE into an empty tree, where both
    branches the C code could take give the same count (one entry).

    ``check_every`` > 1 runs the per-step checks (validation and the two counts) only on
    every that many steps and on the last one; the bookkeeping and the operations still
    run at every step.  The kernel checks every step (``check_every=1``).
    """
    entry_count = 0
    for step, (kind, first, last) in enumerate(ops):
        mas_s = MaStateFields(mt, first, first)
        mas_e = MaStateFields(mt, last, last)
        s_entry, s_rng = mas_range_load(mas_s)
        e_entry, e_rng = mas_range_load(mas_e)
        where = f"step {step}: {kind} {first}-{last}"
        if kind == SNULL:
            assert s_rng is not None, f"{where}: SNULL on an empty tree reads unset ranges"
            s_min, s_max = s_rng
            if s_min == first and s_max == last:
                if s_entry is not None:
                    entry_count -= 1
            elif s_min != first and s_max != last:
                entry_count += 1
            elif mas_s.node is not mas_e.node or mas_s.offset != mas_e.offset:
                assert e_rng is not None
                entry_count -= mas_ce2_over_count(
                    mas_s, mas_e, s_entry, s_min, e_entry, e_rng[1], True
                )
            assert mtree_store_range(mt, first, last, None) == 0, where
        elif kind == STORE:
            value = xa_mk_value(first)
            if mas_s.offset > mt_slot_count(mas_s.node):
                entry_count += 1  # appending an entry
            elif s_rng is None or e_rng is None:
                assert entry_count == 0, f"{where}: unset ranges outside an empty tree"
                entry_count += 1
            elif s_rng[0] == e_rng[0] and s_rng[1] == e_rng[1]:
                if not entry_count:
                    entry_count += 1
                elif s_entry is not None:
                    if e_rng[1] > mas_e.last:
                        entry_count += 1
                    if s_rng[0] < mas_s.index:
                        entry_count += 1
                else:
                    entry_count += 1
            else:
                entry_count -= mas_ce2_over_count(
                    mas_s, mas_e, s_entry, s_rng[0], e_entry, e_rng[1], False
                )
            assert mtree_store_range(mt, first, last, value) == 0, where
        elif kind == ERASE:
            if s_entry is not None:
                assert mtree_erase(mt, first) == xa_mk_value(first), where
                entry_count -= 1
        else:
            raise AssertionError(f"unknown op {kind}")
        if step % check_every and step != len(ops) - 1:
            continue
        mt_validate(mt)
        if entry_count:
            assert mt_height(mt), where

        check = 0
        for _entry in mt_for_each(mt, 0, ULONG_MAX):
            check += 1
            if check > entry_count:
                break
        assert check == entry_count, f"{where}: mt_for_each saw {check}, expected {entry_count}"

        check = 0
        addr = 0
        mas_reset(mas)
        mas.index = 0
        for foo in mas_for_each(mas, ULONG_MAX):
            if xa_is_zero(foo):
                assert addr != mas.index, f"{where}: retry failed {mas.index}-{mas.last}"
                addr = mas.index
                continue
            check += 1
            if check > entry_count:
                break
        assert check == entry_count, f"{where}: mas_for_each saw {check}, expected {entry_count}"
        assert mtree_load(mas.tree, 0) is None, where


def get_vacant_height(wr_mas: MaWrState, entry: Any) -> int:
    """The harness's ``get_vacant_height()``: the height of the lowest non-leaf node with a
    free slot on the path of the write, computed with the harness's own walk (which moves
    the maple state, as in C)."""
    mas = wr_mas.mas
    vacant_height = 0
    mas_reset(mas)
    mas_start(mas)
    if not isinstance(mas.tree.ma_root, MapleNode):
        return 0
    node = mas.node
    assert node is not None
    node_type = node.type
    wr_mas.type = node_type
    while node_type >= 2:
        node = mas.node
        assert node is not None
        mas_node_walk(mas, node, node_type)
        offset = mas.offset
        mas.end = mas_data_end(mas)
        pivots = node.pivot
        wr_mas.r_max = pivots[offset] if offset < mas.end else mas.max
        # detect a spanning write
        if mas_is_span_wr(wr_mas):
            break
        if mas.end < mt_slot_count(node) - 1:
            vacant_height = mas.depth + 1
        mas_descend(mas)
        child = mas.node
        assert child is not None
        node_type = child.type
        mas.depth += 1
    return vacant_height


def mas_allocated(mas: MaStateFields) -> int:
    """The harness's ``mas_allocated()``: nodes held by the state (``alloc`` + sheaf).

    The model keeps that number in ``nodes_avail``: ``mas_alloc_nodes()`` raises it to
    ``node_request`` (the harness's sheaf is filled to exactly the request), each
    ``mas_pop_node()`` takes one and ``mas_destroy()`` returns them all.
    """
    return mas.nodes_avail


def mas_dfs_preorder(mas: MaStateFields) -> None:
    """The harness's ``mas_dfs_preorder()``: step to the next node in depth-first
    pre-order, setting ``min``/``max``; ``ma_none`` when done."""
    slot = 0
    if mas.status == ma_start:
        mas_start(mas)
        return
    node = mas.node
    assert node is not None
    if node.type < 2 and node.is_root:
        mas.status = ma_none
        return
    while True:  # walk_up
        node = mas.node
        assert node is not None
        end = mas_data_end(mas)
        if node.type < 2 or slot > end:
            if node.is_root:
                mas.status = ma_none
                return
            slot = mte_parent_slot(node) + 1
            mas_ascend(mas)
            continue
        prev = node
        child = node.slot[slot]
        mas.node = child
        if child is None or slot > end:
            if prev.is_root:
                mas.status = ma_none
                return
            mas.node = prev
            slot = mte_parent_slot(prev) + 1
            mas_ascend(mas)
            continue
        pivots = prev.pivot
        mas.max = mas_safe_pivot(mas, pivots, slot, prev.type)
        mas.min = mas_safe_min(mas, pivots, slot)
        return


def compare_node(a: MapleNode, b: MapleNode) -> str | None:
    """The harness's ``compare_node()``: everything but addresses must match.

    Compared: node type, the parent's encoding bits (root marker, or parent slot and
    parent type), pivots, gaps, metadata, leaf entries, and which child slots are used
    (with the children's types).  Returns a description of the first difference.
    """
    if a.type != b.type:
        return "node types differ"
    if a.is_root or b.is_root:
        if a.is_root != b.is_root:
            return "root markers differ"
    else:
        pa, pb = a.parent, b.parent
        assert pa is not None and pb is not None
        if a.parent_slot != b.parent_slot or pa.type != pb.type:
            return "parent encodings differ"
    if a.pivot != b.pivot:
        return "pivots differ"
    if a.gap != b.gap:
        return "gaps differ"
    if (a.meta_end, a.meta_gap) != (b.meta_end, b.meta_gap):
        return "metadata differs"
    if a.type < 2:
        if any(x is not y for x, y in zip(a.slot, b.slot, strict=True)):
            return "leaf slots differ"
        return None
    for x, y in zip(a.slot, b.slot, strict=True):
        if x is None and y is None:
            break
        if x is None or y is None:
            return "the number of slots differs"
        if x.type != y.type:
            return "child node types differ"
    return None


def compare_tree(mt_a: MapleTree, mt_b: MapleTree) -> str | None:
    """The harness's ``compare_tree()``: None if the trees have the same flags and the same
    nodes in the same depth-first order; otherwise what differs."""
    if mt_a.ma_flags != mt_b.ma_flags:
        return "tree flags differ"
    mas_a = MA_STATE(mt_a, 0, 0)
    mas_b = MA_STATE(mt_b, 0, 0)
    mas_dfs_preorder(mas_a)
    mas_dfs_preorder(mas_b)
    if mas_a.status == ma_root or mas_b.status == ma_root:
        if not (mas_a.status == ma_root and mas_b.status == ma_root):
            return "one tree is a root entry, the other is not"
        return None
    while mas_a.status != ma_none or mas_b.status != ma_none:
        if mas_a.status == ma_none or mas_b.status == ma_none:
            return "one walk ended before the other"
        if mas_a.min != mas_b.min or mas_a.max != mas_b.max:
            return f"node ranges differ: {mas_a.min}-{mas_a.max} vs {mas_b.min}-{mas_b.max}"
        assert mas_a.node is not None and mas_b.node is not None
        diff = compare_node(mas_a.node, mas_b.node)
        if diff:
            return f"nodes at {mas_a.min}-{mas_a.max}: {diff}"
        mas_dfs_preorder(mas_a)
        mas_dfs_preorder(mas_b)
    return None


def mas_subtree_max_range(mas: MaStateFields) -> None:
    """The harness's ``mas_subtree_max_range()``: leave ``mas`` on the largest range
    found up to its ``max`` (the last of equals)."""
    limit = mas.max
    newmas = MaStateFields(mas.tree, 0, 0)
    for _entry in mas_for_each(mas, limit):
        if mas.last - mas.index >= newmas.last - newmas.index:
            newmas.copy_from(mas)
    mas.copy_from(newmas)


def build_full_tree(flags: int, height: int) -> tuple[MapleTree, int]:
    """The harness's ``build_full_tree()``: a tree of the given height whose nodes are all
    full, made by halving the largest range until no node has room.  Returns the tree and
    0 (or -1 if a range became too small to halve)."""
    mt = mt_init_flags(flags)
    mas = MA_STATE(mt, 0, 0)
    ret = 0
    assert mtree_insert_range(mt, 0, ULONG_MAX, xa_mk_value(5)) == 0
    while True:
        mas_set(mas, 0)
        if mt_height(mt) < height:
            mas.max = ULONG_MAX
        else:
            while True:
                mas_dfs_preorder(mas)
                if mas.status == ma_none:
                    assert mt_height(mt) == height
                    return mt, ret
                node = mas.node
                assert node is not None
                if mas_data_end(mas) + 1 < mt_slots[node.type]:
                    mas_set(mas, mas.min)
                    break
        mas_subtree_max_range(mas)
        step = mas.last - mas.index
        if step < 1:
            assert mt_height(mt) == height
            return mt, -1
        step //= 2
        mas.last = mas.index + step
        mas_store_gfp(mas, xa_mk_value(5))


def get_last_index(mas: MaStateFields) -> int:
    """The harness's ``get_last_index()``: the start of the last slot of ``mas.node``."""
    node = mas.node
    assert node is not None
    last_index = mas_data_end(mas)
    assert last_index != 0
    return node.pivot[last_index - 1] + 1


def status_name(mas: MaState | MaStateFields) -> str:
    """For assertion messages."""
    return ("active", "start", "root", "none", "pause", "overflow", "underflow", "error")[
        mas.status
    ]
