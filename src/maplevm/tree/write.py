"""The write side of lib/maple_tree.c: store types, the fast paths, split, rebalance and
spanning store, with the kernel's node geometry.

Every function mirrors the kernel function of the same name.  A store walks first
(:func:`mas_wr_store_type`), which decides the ``store_type`` and, from it, how many nodes
the write may allocate (:func:`mas_prealloc_calc`); the write then runs the chosen path.
The model counts nodes the way the kernel's allocation does: a write that would take more
nodes than were requested raises :class:`MapleBug`, which is how the kernel's "a store after
``mas_preallocate()`` cannot fail" promise is checked here.

The slow paths gather the data in a "big node" (``struct maple_big_node``), split it into
one to three new nodes per level and carry on upwards; :func:`mas_topiary_replace` then
swaps the new subtree in, repairs parent links and marks the replaced nodes dead.
"""

from __future__ import annotations

import errno
from bisect import bisect_left
from typing import Any

from maplevm.tree.constants import (
    MA_STATE_PREALLOC,
    MAPLE_BIG_NODE_SLOTS,
    MAPLE_HEIGHT_MAX,
    MT_FLAGS_ALLOC_RANGE,
    MT_FLAGS_ALLOC_WRAPPED,
    MT_FLAGS_HEIGHT_MASK,
    MT_FLAGS_HEIGHT_OFFSET,
    MT_FLAGS_USE_RCU,
    ULONG_MAX,
    StoreType,
    maple_arange_64,
    maple_leaf_64,
    maple_range_64,
    mt_min_slots,
    mt_pivots,
    mt_slots,
)
from maplevm.tree.entry import XaInternal, entry_low_bits_are_internal
from maplevm.tree.errors import MapleBug
from maplevm.tree.gap import (
    ma_leaf_max_gap,
    ma_parent_gap,
    mas_empty_area,
    mas_max_gap,
    mas_set_err,
    mas_update_gap,
)
from maplevm.tree.node import (
    NULL_SLOTS,
    ZERO_PIVOTS,
    MapleNode,
    ma_data_end,
    ma_filled_node,
    ma_set_meta,
    mas_leaf_set_meta,
)
from maplevm.tree.state import MaStateFields
from maplevm.tree.walk import (
    ACTIVE,
    ERROR,
    NONE,
    OVERFLOW,
    PAUSE,
    ROOT,
    START,
    UNDERFLOW,
    __mas_set_range,
    mas_ascend,
    mas_data_end,
    mas_descend,
    mas_reset,
    mas_safe_min,
    mas_safe_pivot,
    mas_set_range,
    mas_start,
    mas_state_walk,
    mtree_range_walk,
)

# Plain ints (the StoreType values): exact-int comparisons are the interpreter's fast path.
wr_invalid = int(StoreType.wr_invalid)
wr_new_root = int(StoreType.wr_new_root)
wr_store_root = int(StoreType.wr_store_root)
wr_exact_fit = int(StoreType.wr_exact_fit)
wr_spanning_store = int(StoreType.wr_spanning_store)
wr_split_store = int(StoreType.wr_split_store)
wr_rebalance = int(StoreType.wr_rebalance)
wr_append = int(StoreType.wr_append)
wr_node_store = int(StoreType.wr_node_store)
wr_slot_store = int(StoreType.wr_slot_store)

_MASK = ULONG_MAX  # unsigned long arithmetic wraps


class MaWrState:
    """``struct ma_wr_state``: the write-side view of a maple state."""

    __slots__ = (
        "content",
        "end_piv",
        "entry",
        "mas",
        "node",
        "offset_end",
        "parent_max",
        "parent_min",
        "pivots",
        "r_max",
        "r_min",
        "slots",
        "sufficient_height",
        "type",
        "vacant_height",
    )

    def __init__(self, mas: MaStateFields, entry: Any) -> None:
        self.mas = mas
        if entry.__class__ is XaInternal:  # every write makes one: see MapleTree.zero_entries
            mas.tree.zero_entries = True
        self.content: Any = None
        self.entry = entry
        self.vacant_height = 0
        self.sufficient_height = 0
        self.node: MapleNode | None = None
        self.r_min = 0
        self.r_max = 0
        self.type = 0
        self.offset_end = 0
        self.pivots: list[int] = []
        self.end_piv = 0
        self.slots: list[Any] = []
        # Not in the kernel's struct: the range of the leaf's parent as the write walk
        # passed it (-1: not walked through), for the split fast path.
        self.parent_min = -1
        self.parent_max = -1


class MapleBigNode:
    """``struct maple_big_node``: scratch space of 2 * 16 + 2 slots for split and rebalance.

    The kernel overlays the gap array on the upper slots; the model keeps them apart (the
    kernel never uses both halves of the overlay at once).
    """

    __slots__ = ("b_end", "gap", "pivot", "slot", "type")

    def __init__(self) -> None:
        self.pivot = [0] * MAPLE_BIG_NODE_SLOTS
        self.slot: list[Any] = [None] * MAPLE_BIG_NODE_SLOTS
        self.gap = [0] * MAPLE_BIG_NODE_SLOTS
        self.b_end = 0
        self.type = 0

    def clear(self) -> None:
        """``memset(b_node, 0, sizeof(*b_node))``."""
        self.pivot[:] = _BIG_ZEROS
        self.slot[:] = _BIG_NULLS
        self.gap[:] = _BIG_ZEROS
        self.b_end = 0
        self.type = 0


_BIG_ZEROS = (0,) * MAPLE_BIG_NODE_SLOTS
_BIG_NULLS = (None,) * MAPLE_BIG_NODE_SLOTS


class MapleTopiary:
    """``struct ma_topiary``: subtrees cut from the tree, to be destroyed."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: list[MapleNode] = []


class MapleSubtreeState:
    """``struct maple_subtree_state``: the four states of a split or rebalance."""

    __slots__ = ("bn", "l", "m", "orig_l", "orig_r", "r")

    def __init__(self, bn: MapleBigNode, orig_l: MaStateFields, orig_r: MaStateFields) -> None:
        self.bn = bn
        self.orig_l = orig_l
        self.orig_r = orig_r
        self.l: MaStateFields = orig_l
        self.m: MaStateFields = orig_l
        self.r: MaStateFields = orig_r


# -- heights, node allocation, parents ------------------------------------------------


def mt_height(tree: Any) -> int:
    """Mirror of ``mt_height()``."""
    flags: int = tree.ma_flags
    return (flags & MT_FLAGS_HEIGHT_MASK) >> MT_FLAGS_HEIGHT_OFFSET


def mt_set_height(tree: Any, height: int) -> None:
    """Mirror of ``mt_set_height()``."""
    if height > MAPLE_HEIGHT_MAX:
        raise MapleBug(f"tree height {height} exceeds MAPLE_HEIGHT_MAX")
    tree.ma_flags = (tree.ma_flags & ~MT_FLAGS_HEIGHT_MASK) | (height << MT_FLAGS_HEIGHT_OFFSET)


def mt_in_rcu(tree: Any) -> bool:
    """Mirror of ``mt_in_rcu()``."""
    return bool(tree.ma_flags & MT_FLAGS_USE_RCU)


def mt_is_alloc(tree: Any) -> bool:
    """Mirror of ``mt_is_alloc()``."""
    return bool(tree.ma_flags & MT_FLAGS_ALLOC_RANGE)


def mas_alloc_nodes(mas: MaStateFields) -> None:
    """Mirror of ``mas_alloc_nodes()``: obtain ``node_request`` nodes (or fail with -ENOMEM).

    Allocation only fails through the tree's fault injection
    (:meth:`maplevm.tree.MapleTree.inject_alloc_failures`).
    """
    if not mas.node_request:
        return
    tree = mas.tree
    if tree.alloc_failures > 0:
        tree.alloc_failures -= 1
        mas_set_err(mas, -errno.ENOMEM)
        return
    if mas.nodes_avail < mas.node_request:
        # Only the shortfall is allocated; nodes already held are kept.
        tree.nodes_allocated += mas.node_request - mas.nodes_avail
        mas.nodes_avail = mas.node_request
    mas.node_request = 0


def mas_pop_node(mas: MaStateFields, node_type: int) -> MapleNode:
    """Mirror of ``mas_pop_node()`` (plus ``mt_mk_node``): take a preallocated node."""
    if mas.nodes_avail <= 0:
        raise MapleBug(
            "maple state ran out of preallocated nodes "
            f"(store_type {StoreType(mas.store_type).name}, index {mas.index:#x}, "
            f"last {mas.last:#x}): the kernel would WARN and fail here"
        )
    mas.nodes_avail -= 1
    return MapleNode(node_type)


def mas_empty_nodes(mas: MaStateFields) -> None:
    """Mirror of ``mas_empty_nodes()``: return unused nodes."""
    mas.node_request = 0
    mas.nodes_avail = 0


def mas_destroy(mas: MaStateFields) -> None:
    """Mirror of ``mas_destroy()``: drop the preallocation and its flag."""
    mas.mas_flags &= ~MA_STATE_PREALLOC
    mas_empty_nodes(mas)


def mas_nomem(mas: MaStateFields, gfp: int = 0) -> bool:
    """Mirror of ``mas_nomem()``: after -ENOMEM, allocate and ask the caller to retry."""
    if not (mas.status == ERROR and mas.error == -errno.ENOMEM):
        return False
    mas.status = START
    mas.error = 0
    mas_alloc_nodes(mas)
    if mas.status == ERROR or not mas.nodes_avail:
        return False
    mas.status = START
    return True


def mte_parent_slot(node: MapleNode) -> int:
    """Mirror of ``mte_parent_slot()``: 0 for the root."""
    if node.is_root:
        return 0
    return node.parent_slot


def mas_set_parent(child: MapleNode, parent: MapleNode, slot: int) -> None:
    """Mirror of ``mas_set_parent()``: link ``child`` under ``parent`` at ``slot``."""
    child.parent = parent
    child.parent_slot = slot
    child.is_root = False


def mas_adopt_children(mas: MaStateFields, parent: MapleNode) -> None:
    """Mirror of ``mas_adopt_children()``: point every child of ``parent`` back at it."""
    offset = ma_data_end(parent, parent.type, parent.pivot, mas.max)
    slots = parent.slot
    while offset >= 0:
        child = slots[offset]
        child.parent = parent
        child.parent_slot = offset
        child.is_root = False
        offset -= 1


def mas_put_in_tree(mas: MaStateFields, old: MapleNode, new_height: int) -> None:
    """Mirror of ``mas_put_in_tree()``: link the new ``mas.node`` in place of ``old``."""
    node = mas.node
    assert node is not None
    if node.is_root:
        node.parent = None
        node.is_root = True
        mas.tree.ma_root = node
        mt_set_height(mas.tree, new_height)
    else:
        parent = node.parent
        assert parent is not None
        parent.slot[node.parent_slot] = node
    old.set_dead()


def mas_replace_node(mas: MaStateFields, old: MapleNode, new_height: int) -> None:
    """Mirror of ``mas_replace_node()``."""
    mas_put_in_tree(mas, old, new_height)


def mas_find_child(mas: MaStateFields, child: MaStateFields) -> bool:
    """Mirror of ``mas_find_child()``: the next child whose parent link is ``mas.node``."""
    node = mas.node
    assert node is not None
    end = ma_data_end(node, node.type, node.pivot, mas.max)
    slots = node.slot
    for offset in range(mas.offset, end + 1):
        entry = slots[offset]
        if entry.parent is node:
            child.copy_from(mas)
            mas.offset = offset + 1
            child.offset = offset
            mas_descend(child)
            child.offset = 0
            return True
    return False


def mt_destroy_walk(node: MapleNode) -> None:
    """Mirror of ``mt_destroy_walk()``: mark a subtree dead (RCU frees it later)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type >= 2:
            end = ma_data_end(n, n.type, n.pivot, ULONG_MAX)
            for child in n.slot[: end + 1]:
                if isinstance(child, MapleNode) and not child.dead:
                    stack.append(child)
        n.set_dead()


def mte_destroy_walk(node: MapleNode, tree: Any) -> None:
    """Mirror of ``mte_destroy_walk()``."""
    mt_destroy_walk(node)


# -- big node helpers ------------------------------------------------------------------


def mab_shift_right(b_node: MapleBigNode, shift: int) -> None:
    """Mirror of ``mab_shift_right()``: make room at the front (b_end is left alone)."""
    size = b_node.b_end
    b_node.pivot[shift : shift + size] = b_node.pivot[0:size]
    b_node.slot[shift : shift + size] = b_node.slot[0:size]
    if b_node.type == maple_arange_64:
        b_node.gap[shift : shift + size] = b_node.gap[0:size]


def mab_middle_node(b_node: MapleBigNode, split: int, slot_count: int) -> bool:
    """Mirror of ``mab_middle_node()``: does the data need a third node?"""
    size = b_node.b_end
    if size >= 2 * slot_count:
        return True
    return b_node.slot[split] is None and size >= 2 * slot_count - 1


def mab_no_null_split(b_node: MapleBigNode, split: int, slot_count: int) -> int:
    """Mirror of ``mab_no_null_split()``: never end a node on a NULL."""
    if b_node.slot[split] is None:
        if split < slot_count - 1 and (b_node.b_end - split) > mt_min_slots[b_node.type]:
            split += 1
        else:
            split -= 1
    return split


def mab_calc_split(b_node: MapleBigNode) -> tuple[int, int]:
    """Mirror of ``mab_calc_split()``: returns ``(split, mid_split)`` (0 without a middle)."""
    b_end = b_node.b_end
    split = b_end // 2
    slot_count = mt_slots[b_node.type]
    if mab_middle_node(b_node, split, slot_count):
        split = b_end // 3
        mid_split = split * 2
    else:
        mid_split = 0
    split = mab_no_null_split(b_node, split, slot_count)
    if mid_split:
        mid_split = mab_no_null_split(b_node, mid_split, slot_count)
    return split, mid_split


def mas_mab_cp(
    mas: MaStateFields, mas_start_: int, mas_end: int, b_node: MapleBigNode, mab_start: int
) -> None:
    """Mirror of ``mas_mab_cp()``: copy slots ``[mas_start_, mas_end]`` of ``mas.node`` into
    the big node at ``mab_start``; ``b_end`` becomes the next free slot.

    The kernel copies pivot by pivot until a zero pivot or the node's max; here the stop is
    found with ``list.index`` and the pivots move as one slice.
    """
    node = mas.node
    assert node is not None
    mt = node.type
    pivots = node.pivot
    bpiv = b_node.pivot
    i = mas_start_
    j = mab_start
    complete = False
    if not i:
        bpiv[j] = pivots[0]
        i = 1
        if i > mas_end:
            complete = True
        else:
            j += 1
    if not complete:
        piv_end = min(mas_end, mt_pivots[mt])
        if i < piv_end:
            seg = pivots[i:piv_end]
            stop = len(seg)
            if 0 in seg:
                stop = seg.index(0)
            node_max = mas.max
            if node_max in seg:
                stop = min(stop, seg.index(node_max))
            if stop < len(seg):
                # Copy through the stopping pivot, which ends the data.
                bpiv[j : j + stop + 1] = seg[: stop + 1]
                j += stop
                complete = True
            else:
                bpiv[j : j + stop] = seg
                j += stop
                i += stop
        if not complete:
            bpiv[j] = mas.max if i >= mt_pivots[mt] else pivots[i]  # mas_safe_pivot()
    j += 1
    b_node.b_end = j
    j -= mab_start
    b_node.slot[mab_start : mab_start + j] = node.slot[mas_start_ : mas_start_ + j]
    if mt >= 2 and mas.tree.ma_flags & MT_FLAGS_ALLOC_RANGE:  # mt_is_alloc()
        gaps = node.gap
        assert gaps is not None
        b_node.gap[mab_start : mab_start + j] = gaps[mas_start_ : mas_start_ + j]


def mab_mas_cp(
    b_node: MapleBigNode, mab_start: int, mab_end: int, mas: MaStateFields, new_max: bool
) -> None:
    """Mirror of ``mab_mas_cp()``: copy big node slots ``[mab_start, mab_end]`` into the
    (new) node ``mas.node``, setting its metadata and, with ``new_max``, ``mas.max``.

    The kernel copies pivot by pivot until ``mab_end`` or a zero pivot (the first one is
    always copied); here the stop is found with ``list.index`` and the arrays move as slices.
    """
    node = mas.node
    assert node is not None
    mt = node.type
    slots = node.slot
    pivots = node.pivot
    npiv = mt_pivots[mt]
    if mab_end - mab_start > npiv:
        mab_end -= 1
    if not pivots[npiv - 1]:
        slots[npiv] = None
        if mt != maple_arange_64:
            node.meta_end = node.meta_gap = 0  # the metadata shares the last slot
    bpiv = b_node.pivot
    # Slots copied: up to mab_end, stopping before the first zero pivot after mab_start.
    seg = bpiv[mab_start + 1 : mab_end + 1]
    count = seg.index(0) + 1 if 0 in seg else len(seg) + 1
    i = mab_start + count
    n = count if count < npiv else npiv  # the kernel writes one past into slot[0]
    pivots[0:n] = bpiv[mab_start : mab_start + n]
    slots[0:count] = b_node.slot[mab_start:i]
    if new_max:
        mas.max = bpiv[i - 1]
    end = count - 1
    if mt >= 2 and mas.tree.ma_flags & MT_FLAGS_ALLOC_RANGE:  # mt_is_alloc()
        gaps = node.gap
        assert gaps is not None
        copied = b_node.gap[mab_start:i]
        gaps[0:count] = copied
        # ma_set_meta() with the largest gap; ties go to the highest offset.
        max_gap = max(copied)
        offset = count - 1 - copied[::-1].index(max_gap) if max_gap > 0 else 0
        ma_set_meta(node, offset, end)
    else:
        mas_leaf_set_meta(node, mt, end)


def mas_store_b_node(wr_mas: MaWrState, b_node: MapleBigNode, offset_end: int) -> None:
    """Mirror of ``mas_store_b_node()``: the node's data with the new entry, in a big node."""
    mas = wr_mas.mas
    b_node.type = wr_mas.type
    b_end = 0
    slot = mas.offset
    if slot:
        # Copy start data up to insert.
        mas_mab_cp(mas, 0, slot - 1, b_node, 0)
        b_end = b_node.b_end
        piv = b_node.pivot[b_end - 1]
    else:
        piv = (mas.min - 1) & _MASK  # may wrap to ULONG_MAX; wraps back below
    if ((piv + 1) & _MASK) < mas.index:
        # Handle range starting after old range.
        b_node.slot[b_end] = wr_mas.content
        if wr_mas.content is None:
            b_node.gap[b_end] = (mas.index - 1 - piv) & _MASK
        b_node.pivot[b_end] = mas.index - 1
        b_end += 1
    # Store the new entry.
    mas.offset = b_end
    b_node.slot[b_end] = wr_mas.entry
    b_node.pivot[b_end] = mas.last
    # Appended.
    if mas.last >= mas.max:
        b_node.b_end = b_end
        return
    # Handle new range ending before old range ends.
    piv = mas_safe_pivot(mas, wr_mas.pivots, offset_end, wr_mas.type)
    if piv > mas.last:
        if offset_end != slot:
            wr_mas.content = wr_mas.slots[offset_end]
        b_end += 1
        b_node.slot[b_end] = wr_mas.content
        if wr_mas.content is None:
            b_node.gap[b_end] = piv - mas.last + 1
        b_node.pivot[b_end] = piv
    slot = offset_end + 1
    if slot > mas.end:
        b_node.b_end = b_end
        return
    # Copy end data to the end of the node.
    b_end += 1
    mas_mab_cp(mas, slot, mas.end + 1, b_node, b_end)
    b_node.b_end -= 1


def mas_prev_sibling(mas: MaStateFields) -> bool:
    """Mirror of ``mas_prev_sibling()``: move to the previous node with the same parent."""
    node = mas.node
    assert node is not None
    p_slot = mte_parent_slot(node)
    if not p_slot:
        return False
    mas_ascend(mas)
    mas.offset = p_slot - 1
    mas_descend(mas)
    return True


def mas_next_sibling(mas: MaStateFields) -> bool:
    """Mirror of ``mas_next_sibling()``: move to the next node with the same parent."""
    node = mas.node
    assert node is not None
    if node.is_root:
        return False
    parent = mas.clone()
    mas_ascend(parent)
    parent.offset = mte_parent_slot(node) + 1
    if parent.offset > mas_data_end(parent):
        return False
    mas.copy_from(parent)
    mas_descend(mas)
    return True


def mas_node_or_none(mas: MaStateFields, enode: MapleNode | None) -> None:
    """Mirror of ``mas_node_or_none()``."""
    if enode is not None:
        mas.node = enode
        mas.status = ACTIVE
    else:
        mas.node = None
        mas.status = NONE


def mas_wr_node_walk(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_node_walk()``: find the offset for ``index`` in the node.

    The kernel scans forward from ``mas.offset`` for the first pivot >= index; the pivots
    before the data end are sorted, so a bisection finds the same slot.
    """
    mas = wr_mas.mas
    node = mas.node
    assert node is not None
    wr_mas.node = node
    pivots = node.pivot
    wr_mas.pivots = pivots
    count = ma_data_end(node, wr_mas.type, pivots, mas.max)
    mas.end = count
    offset = bisect_left(pivots, mas.index, mas.offset, count)
    wr_mas.r_max = pivots[offset] if offset < count else mas.max
    wr_mas.r_min = pivots[offset - 1] + 1 if offset else mas.min
    wr_mas.offset_end = mas.offset = offset


# -- rebalance and spanning store ------------------------------------------------------


def mast_rebalance_next(mast: MapleSubtreeState) -> None:
    """Mirror of ``mast_rebalance_next()``."""
    b_end = mast.bn.b_end
    node = mast.orig_r.node
    assert node is not None
    mas_mab_cp(mast.orig_r, 0, mt_slots[node.type], mast.bn, b_end)
    mast.orig_r.last = mast.orig_r.max


def mast_rebalance_prev(mast: MapleSubtreeState) -> None:
    """Mirror of ``mast_rebalance_prev()``."""
    end = mas_data_end(mast.orig_l) + 1
    b_end = mast.bn.b_end
    mab_shift_right(mast.bn, end)
    mas_mab_cp(mast.orig_l, 0, end - 1, mast.bn, 0)
    mast.l.min = mast.orig_l.min
    mast.orig_l.index = mast.orig_l.min
    mast.bn.b_end = end + b_end
    mast.l.offset += end


def mast_spanning_rebalance(mast: MapleSubtreeState) -> bool:
    """Mirror of ``mast_spanning_rebalance()``: pull in the nearest neighbour's data,
    favouring the right, at the lowest level that has one."""
    r_tmp = mast.orig_r.clone()
    l_tmp = mast.orig_l.clone()
    depth = 0
    while True:
        mas_ascend(mast.orig_r)
        mas_ascend(mast.orig_l)
        depth += 1
        if mast.orig_r.offset < mas_data_end(mast.orig_r):
            mast.orig_r.offset += 1
            while True:
                mas_descend(mast.orig_r)
                mast.orig_r.offset = 0
                depth -= 1
                if not depth:
                    break
            mast_rebalance_next(mast)
            mast.orig_l.copy_from(l_tmp)
            return True
        elif mast.orig_l.offset != 0:
            mast.orig_l.offset -= 1
            while True:
                mas_descend(mast.orig_l)
                mast.orig_l.offset = mas_data_end(mast.orig_l)
                depth -= 1
                if not depth:
                    break
            mast_rebalance_prev(mast)
            mast.orig_r.copy_from(r_tmp)
            return True
        node = mast.orig_r.node
        assert node is not None
        if node.is_root:
            break
    mast.orig_r.copy_from(r_tmp)
    mast.orig_l.copy_from(l_tmp)
    return False


def mast_ascend(mast: MapleSubtreeState) -> None:
    """Mirror of ``mast_ascend()``: ascend both original sides, pointing at the new data."""
    wr_mas = MaWrState(mast.orig_r, None)
    mas_ascend(mast.orig_l)
    mas_ascend(mast.orig_r)
    mast.orig_r.offset = 0
    mast.orig_r.index = mast.r.max
    # last should be larger than or equal to index
    if mast.orig_r.last < mast.orig_r.index:
        mast.orig_r.last = mast.orig_r.index
    node = mast.orig_r.node
    assert node is not None
    wr_mas.type = node.type
    mas_wr_node_walk(wr_mas)
    # Set up the left side of things.
    mast.orig_l.offset = 0
    mast.orig_l.index = mast.l.min
    wr_mas.mas = mast.orig_l
    node = mast.orig_l.node
    assert node is not None
    wr_mas.type = node.type
    mas_wr_node_walk(wr_mas)
    mast.bn.type = wr_mas.type


def mas_new_ma_node(mas: MaStateFields, b_node: MapleBigNode) -> MapleNode:
    """Mirror of ``mas_new_ma_node()``: a new node of the big node's type."""
    return mas_pop_node(mas, b_node.type)


def mas_mab_to_node(
    mas: MaStateFields, b_node: MapleBigNode
) -> tuple[int, MapleNode, MapleNode | None, MapleNode | None, int]:
    """Mirror of ``mas_mab_to_node()``: returns ``(split, left, right, middle, mid_split)``."""
    slot_count = mt_slots[b_node.type]
    left = mas_new_ma_node(mas, b_node)
    right: MapleNode | None = None
    middle: MapleNode | None = None
    mid_split = 0
    if b_node.b_end < slot_count:
        split = b_node.b_end
    else:
        split, mid_split = mab_calc_split(b_node)
        right = mas_new_ma_node(mas, b_node)
    if mid_split:
        middle = mas_new_ma_node(mas, b_node)
    return split, left, right, middle, mid_split


def mab_set_b_end(b_node: MapleBigNode, mas: MaStateFields, entry: MapleNode | None) -> None:
    """Mirror of ``mab_set_b_end()``: append ``entry`` (a new child) to the big node."""
    if entry is None:
        return
    b_node.slot[b_node.b_end] = entry
    if mas.tree.ma_flags & MT_FLAGS_ALLOC_RANGE:  # mt_is_alloc()
        b_node.gap[b_node.b_end] = mas_max_gap(mas)
    b_node.pivot[b_node.b_end] = mas.max
    b_node.b_end += 1


def mas_set_split_parent(
    mas: MaStateFields, left: MapleNode, right: MapleNode | None, slot: int, split: int
) -> int:
    """Mirror of ``mas_set_split_parent()``; returns the advanced ``slot``."""
    if mas.status == NONE:
        return slot
    node = mas.node
    assert node is not None
    if slot <= split:
        mas_set_parent(node, left, slot)
    elif right is not None:
        mas_set_parent(node, right, slot - split - 1)
    return slot + 1


def mast_set_split_parents(
    mast: MapleSubtreeState,
    left: MapleNode,
    middle: MapleNode | None,
    right: MapleNode | None,
    split: int,
    mid_split: int,
) -> None:
    """Mirror of ``mast_set_split_parents()`` (with ``mte_mid_split_check()`` inlined)."""
    if mast.l.status == NONE:
        return
    lnode: MapleNode = left
    rnode: MapleNode | None = middle if middle is not None else right
    slot = mast.l.offset
    for child_state in (mast.l, mast.m, mast.r):
        if rnode is not right and slot >= mid_split:
            assert rnode is not None
            lnode = rnode
            rnode = right
            split = mid_split
        slot = mas_set_split_parent(child_state, lnode, rnode, slot, split)


def mas_topiary_node(mas: MaStateFields, tmp_mas: MaStateFields) -> None:
    """Mirror of ``mas_topiary_node()``: mark one replaced node dead."""
    if tmp_mas.status == NONE:
        return
    node = tmp_mas.node
    assert node is not None
    node.set_dead()


def mas_topiary_replace(mas: MaStateFields, old_enode: MapleNode, new_height: int) -> None:
    """Mirror of ``mas_topiary_replace()``: swap the new subtree in, fix the parent links of
    reused children, and mark what was replaced dead.

    The kernel walks both subtrees level by level with up to three maple states per level
    (``tmp[3]``, ``tmp_next[3]``).  Only each state's node, min and max matter to the walk,
    so a level is kept here as a list of ``(node, min, max)`` (a state with status
    ``ma_none`` is simply absent), and ``mas_find_child()`` (the next child whose parent
    link is the node, at most three per level), ``mas_descend()``, ``mas_adopt_children()``
    and ``mas_topiary_node()`` are inlined.  The nodes found, the order of the scans and the
    three-per-level limit are the kernel's.
    """
    mas_put_in_tree(mas, old_enode, new_height)

    # Update the parent pointers in the tree.
    top = mas.node
    assert top is not None
    level: list[tuple[MapleNode, int, int]] = []
    if mas.status != NONE:
        level.append((top, mas.min, mas.max))
    while top.type >= 2:
        found: list[tuple[MapleNode, int, int]] = []
        for node, lo, hi in level:
            pivots = node.pivot
            slots = node.slot
            node_type = node.type
            end = ma_data_end(node, node_type, pivots, hi)
            if len(found) < 3:
                # mas_find_child() until three are found or the node runs out
                npiv = mt_pivots[node_type]
                for offset in range(end + 1):
                    child = slots[offset]
                    if child.parent is node:
                        found.append(
                            (
                                child,
                                pivots[offset - 1] + 1 if offset else lo,
                                pivots[offset] if offset < npiv else hi,
                            )
                        )
                        if len(found) == 3:
                            break
            # mas_adopt_children()
            for offset in range(end + 1):
                child = slots[offset]
                child.parent = node
                child.parent_slot = offset
                child.is_root = False
        if not found:
            raise MapleBug("mas_topiary_replace: no new child found (MAS_WARN_ON)")
        level = found
        top = found[0][0]

    # Collect the old nodes that need to be discarded.
    if old_enode.type < 2:
        return
    index = mas.index
    last = mas.last
    subtrees: list[MapleNode] = []
    level = [(old_enode, mas.min, mas.max)]
    while True:
        found = []
        for node, lo, hi in level:
            if len(found) >= 3:
                continue
            pivots = node.pivot
            slots = node.slot
            node_type = node.type
            end = ma_data_end(node, node_type, pivots, hi)
            npiv = mt_pivots[node_type]
            for offset in range(end + 1):
                child = slots[offset]
                if child.parent is node:
                    c_min = pivots[offset - 1] + 1 if offset else lo
                    c_max = pivots[offset] if offset < npiv else hi
                    if c_min >= index and c_max <= last:
                        subtrees.append(child)
                        child.set_dead()
                    else:
                        found.append((child, c_min, c_max))
                        if len(found) == 3:
                            break
        if not found:
            raise MapleBug("mas_topiary_replace: lost the old subtree (MAS_WARN_ON)")
        for node, _lo, _hi in level:
            node.set_dead()  # mas_topiary_node()
        level = found
        if level[0][0].type < 2:
            break
    for node, _lo, _hi in level:
        node.set_dead()  # mas_topiary_node()
    for dead in subtrees:
        mt_destroy_walk(dead)


def mas_wmb_replace(mas: MaStateFields, old_enode: MapleNode, new_height: int) -> None:
    """Mirror of ``mas_wmb_replace()``: replace, then fix the gaps above if not a leaf."""
    mas_topiary_replace(mas, old_enode, new_height)
    node = mas.node
    assert node is not None
    if node.type < 2:
        return
    mas_update_gap(mas)


def mast_cp_to_nodes(
    mast: MapleSubtreeState,
    left: MapleNode,
    middle: MapleNode | None,
    right: MapleNode | None,
    split: int,
    mid_split: int,
) -> None:
    """Mirror of ``mast_cp_to_nodes()``: copy the big node out to the new nodes."""
    new_lmax = True
    mas_node_or_none(mast.l, left)
    mas_node_or_none(mast.m, middle)
    mas_node_or_none(mast.r, right)
    mast.l.min = mast.orig_l.min
    if split == mast.bn.b_end:
        mast.l.max = mast.orig_r.max
        new_lmax = False
    mab_mas_cp(mast.bn, 0, split, mast.l, new_lmax)
    if middle is not None:
        mab_mas_cp(mast.bn, 1 + split, mid_split, mast.m, True)
        mast.m.min = mast.bn.pivot[split] + 1
        split = mid_split
    mast.r.max = mast.orig_r.max
    if right is not None:
        mab_mas_cp(mast.bn, 1 + split, mast.bn.b_end, mast.r, False)
        mast.r.min = mast.bn.pivot[split] + 1


def mast_combine_cp_left(mast: MapleSubtreeState) -> None:
    """Mirror of ``mast_combine_cp_left()``."""
    l_slot = mast.orig_l.offset
    if not l_slot:
        return
    mas_mab_cp(mast.orig_l, 0, l_slot - 1, mast.bn, 0)


def mast_combine_cp_right(mast: MapleSubtreeState) -> None:
    """Mirror of ``mast_combine_cp_right()``."""
    if mast.bn.pivot[mast.bn.b_end - 1] >= mast.orig_r.max:
        return
    node = mast.orig_r.node
    assert node is not None
    mas_mab_cp(mast.orig_r, mast.orig_r.offset + 1, mt_slots[node.type], mast.bn, mast.bn.b_end)
    mast.orig_r.last = mast.orig_r.max


def mast_sufficient(mast: MapleSubtreeState) -> bool:
    """Mirror of ``mast_sufficient()``."""
    node = mast.orig_l.node
    assert node is not None
    return mast.bn.b_end > mt_min_slots[node.type]


def mast_overflow(mast: MapleSubtreeState) -> bool:
    """Mirror of ``mast_overflow()``."""
    node = mast.orig_l.node
    assert node is not None
    return mast.bn.b_end > mt_slots[node.type]


def _is_root_limits(mas: MaStateFields) -> bool:
    """Mirror of ``mas_is_root_limits()``."""
    return not mas.min and mas.max == ULONG_MAX


def mas_spanning_rebalance(mas: MaStateFields, mast: MapleSubtreeState, count: int) -> None:
    """Mirror of ``mas_spanning_rebalance()``: rebuild the subtree level by level from the
    big node upwards, for ``count`` levels or until the data fits, then swap it in."""
    split = 0
    mid_split = 0
    slot = 0
    new_height = 0
    left: MapleNode | None = None
    middle: MapleNode | None = None
    right: MapleNode | None = None
    l_mas = MaStateFields(mas.tree, mas.index, mas.index)
    r_mas = MaStateFields(mas.tree, mas.index, mas.last)
    m_mas = MaStateFields(mas.tree, mas.index, mas.index)
    mast.l = l_mas
    mast.m = m_mas
    mast.r = r_mas
    l_mas.status = r_mas.status = m_mas.status = NONE

    # Check if this is not root and has sufficient data.
    if (mast.orig_l.min != 0 or mast.orig_r.max != ULONG_MAX) and (
        mast.bn.b_end <= mt_min_slots[mast.bn.type]
    ):
        mast_spanning_rebalance(mast)

    new_root = False
    while count:
        count -= 1
        mast.bn.b_end -= 1
        onode = mast.orig_l.node
        assert onode is not None
        mast.bn.type = onode.type
        split, left, right, middle, mid_split = mas_mab_to_node(mas, mast.bn)
        mast_set_split_parents(mast, left, middle, right, split, mid_split)
        mast_cp_to_nodes(mast, left, middle, right, split, mid_split)
        new_height += 1

        # Copy data from next level in the tree to mast.bn for the next iteration.
        mast.bn.clear()
        mast.bn.type = left.type

        # Root already stored in l.node.
        if _is_root_limits(mast.l):
            new_root = True
            break

        mast_ascend(mast)
        mast_combine_cp_left(mast)
        l_mas.offset = mast.bn.b_end
        mab_set_b_end(mast.bn, l_mas, left)
        mab_set_b_end(mast.bn, m_mas, middle)
        mab_set_b_end(mast.bn, r_mas, right)

        # Copy anything necessary out of the right node.
        mast_combine_cp_right(mast)
        mast.orig_l.last = mast.orig_l.max

        if mast_sufficient(mast):
            if mast_overflow(mast):
                continue
            if mast.orig_l.node is mast.orig_r.node:
                # The data in b_node should be stored in one node and in the tree.
                slot = mast.l.offset
                break
            continue

        # May be a new root stored in mast.bn.
        if _is_root_limits(mast.orig_l):
            break

        mast_spanning_rebalance(mast)

        # Rebalancing from other nodes may require another loop.
        if not count:
            count += 1

    assert left is not None
    if not new_root:
        onode = mast.orig_l.node
        assert onode is not None
        l_mas.node = mas_pop_node(mas, onode.type)
        mab_mas_cp(mast.bn, 0, mt_slots[mast.bn.type] - 1, l_mas, True)
        new_height += 1
        mas_set_parent(left, l_mas.node, slot)
        if middle is not None:
            slot += 1
            mas_set_parent(middle, l_mas.node, slot)
        if right is not None:
            slot += 1
            mas_set_parent(right, l_mas.node, slot)

    if new_root or _is_root_limits(mast.l):
        lnode = mast.l.node
        assert lnode is not None
        lnode.parent = None
        lnode.is_root = True
        while True:
            onode = mast.orig_l.node
            assert onode is not None
            if onode.is_root:
                break
            mast_ascend(mast)
    else:
        assert l_mas.node is not None and mast.orig_l.node is not None
        l_mas.node.copy_parent_from(mast.orig_l.node)

    old_enode = mast.orig_l.node
    assert old_enode is not None
    mas.depth = l_mas.depth
    mas.node = l_mas.node
    mas.min = l_mas.min
    mas.max = l_mas.max
    mas.offset = l_mas.offset
    mas_wmb_replace(mas, old_enode, new_height)
    mtree_range_walk(mas)


def mas_rebalance(mas: MaStateFields, b_node: MapleBigNode) -> None:
    """Mirror of ``mas_rebalance()``: merge an insufficient node with its right (else left)
    sibling, continuing upwards while nodes stay insufficient."""
    empty_count = mt_height(mas.tree)
    b_node.b_end += 1
    b_end = b_node.b_end
    l_mas = mas.clone()
    r_mas = mas.clone()
    mast = MapleSubtreeState(b_node, l_mas, r_mas)
    node = mas.node
    assert node is not None
    mast.bn.type = node.type

    if mas_next_sibling(r_mas):
        rnode = r_mas.node
        assert rnode is not None
        mas_mab_cp(r_mas, 0, mt_slots[rnode.type], b_node, b_end)
        r_mas.last = r_mas.index = r_mas.max
    else:
        mas_prev_sibling(l_mas)
        shift = mas_data_end(l_mas) + 1
        mab_shift_right(b_node, shift)
        mas.offset += shift
        mas_mab_cp(l_mas, 0, shift - 1, b_node, 0)
        b_node.b_end = shift + b_end
        l_mas.index = l_mas.last = l_mas.min

    mas_spanning_rebalance(mas, mast, empty_count)


# -- split -------------------------------------------------------------------------------


def mas_split_final_node(mast: MapleSubtreeState, mas: MaStateFields) -> None:
    """Mirror of ``mas_split_final_node()``: the one node above the split (maybe a new root)."""
    node = mas.node
    assert node is not None
    if node.is_root:
        mast.bn.type = maple_arange_64 if mt_is_alloc(mas.tree) else maple_range_64
    # Only a single node is used here, could be root.
    ancestor = mas_new_ma_node(mas, mast.bn)
    lnode = mast.l.node
    rnode = mast.r.node
    assert lnode is not None and rnode is not None
    mas_set_parent(lnode, ancestor, mast.l.offset)
    mas_set_parent(rnode, ancestor, mast.r.offset)
    ancestor.copy_parent_from(node)
    mast.l.node = ancestor
    mab_mas_cp(mast.bn, 0, mt_slots[mast.bn.type] - 1, mast.l, True)
    mas.offset = mast.bn.b_end - 1


def mast_fill_bnode(mast: MapleSubtreeState, mas: MaStateFields, skip: int) -> None:
    """Mirror of ``mast_fill_bnode()``: the parent's data with the two new children."""
    cp = True
    mast.bn.clear()
    node = mas.node
    assert node is not None
    if node.is_root:
        cp = False
    else:
        mas_ascend(mas)
        # The parent's own slot in the grandparent, as the kernel does.
        parent = mas.node
        assert parent is not None
        mas.offset = mte_parent_slot(parent)
    if cp and mast.l.offset:
        mas_mab_cp(mas, 0, mast.l.offset - 1, mast.bn, 0)
    split = mast.bn.b_end
    mab_set_b_end(mast.bn, mast.l, mast.l.node)
    mast.r.offset = mast.bn.b_end
    mab_set_b_end(mast.bn, mast.r, mast.r.node)
    if mast.bn.pivot[mast.bn.b_end - 1] == mas.max:
        cp = False
    pnode = mas.node
    assert pnode is not None
    if cp:
        mas_mab_cp(mas, split + skip, mt_slots[pnode.type] - 1, mast.bn, mast.bn.b_end)
    mast.bn.b_end -= 1
    mast.bn.type = pnode.type


def mast_split_data(mast: MapleSubtreeState, mas: MaStateFields, split: int) -> None:
    """Mirror of ``mast_split_data()``: copy the big node out to the left and right nodes."""
    mab_mas_cp(mast.bn, 0, split, mast.l, True)
    rnode = mast.r.node
    assert rnode is not None
    rnode.pivot[0] = mast.r.max  # mte_set_pivot(r, 0, r->max)
    mab_mas_cp(mast.bn, split + 1, mast.bn.b_end, mast.r, False)
    node = mas.node
    assert node is not None
    mast.l.offset = mte_parent_slot(node)
    mast.l.max = mast.bn.pivot[split]
    mast.r.min = mast.l.max + 1
    if node.type < 2:
        return
    lnode = mast.l.node
    assert lnode is not None
    p_slot = mast.orig_l.offset
    p_slot = mas_set_split_parent(mast.orig_l, lnode, rnode, p_slot, split)
    mas_set_split_parent(mast.orig_r, lnode, rnode, p_slot, split)


def mas_push_data(mas: MaStateFields, mast: MapleSubtreeState, left: bool) -> bool:
    """Mirror of ``mas_push_data()``: instead of splitting, share the data with a sibling
    that has room, which keeps the tree low."""
    slot_total = mast.bn.b_end
    tmp_mas = mas.clone()
    tmp_mas.depth = mast.l.depth
    if left and not mas_prev_sibling(tmp_mas):
        return False
    if not left and not mas_next_sibling(tmp_mas):
        return False
    end = mas_data_end(tmp_mas)
    slot_total += end
    node = mas.node
    assert node is not None
    space = 2 * mt_slots[node.type] - 2
    # -2 instead of -1 to ensure there isn't a triple split
    if mast.bn.type < 2:
        space -= 1
    if mas.max == ULONG_MAX:
        space -= 1
    if slot_total >= space:
        return False

    # Get the data; fill mast.bn.
    mast.bn.b_end += 1
    if left:
        mab_shift_right(mast.bn, end + 1)
        mas_mab_cp(tmp_mas, 0, end, mast.bn, 0)
        mast.bn.b_end = slot_total + 1
    else:
        mas_mab_cp(tmp_mas, 0, end, mast.bn, mast.bn.b_end)

    # Configure mast for splitting of mast.bn.
    split = mt_slots[mast.bn.type] - 2
    if left:
        # Switch mas to prev node.
        mas.copy_from(tmp_mas)
        # Start using mast.l for the left side.
        tmp_mas.node = mast.l.node
        mast.l.copy_from(tmp_mas)
    else:
        tmp_mas.node = mast.r.node
        mast.r.copy_from(tmp_mas)
        split = slot_total - split
    split = mab_no_null_split(mast.bn, split, mt_slots[mast.bn.type])
    # Update parent slot for split calculation.
    if left:
        mast.orig_l.offset += end + 1
    mast_split_data(mast, mas, split)
    mast_fill_bnode(mast, mas, 2)
    mas_split_final_node(mast, mas)
    return True


def mas_split(mas: MaStateFields, b_node: MapleBigNode) -> None:
    """Mirror of ``mas_split()``: split upwards from the leaf, pushing data into a sibling
    when one has room, until a level has space (or a new root is made)."""
    height = 0
    orig_height = mt_height(mas.tree)
    l_mas = MaStateFields(mas.tree, mas.index, mas.last)
    r_mas = MaStateFields(mas.tree, mas.index, mas.last)
    prev_l_mas = MaStateFields(mas.tree, mas.index, mas.last)
    prev_r_mas = MaStateFields(mas.tree, mas.index, mas.last)
    mast = MapleSubtreeState(b_node, prev_l_mas, prev_r_mas)
    mast.l = l_mas
    mast.r = r_mas

    while height <= orig_height:
        height += 1
        if mt_slots[b_node.type] > b_node.b_end:
            mas_split_final_node(mast, mas)
            break
        l_mas.copy_from(mas)
        r_mas.copy_from(mas)
        l_mas.node = mas_new_ma_node(mas, b_node)
        r_mas.node = mas_new_ma_node(mas, b_node)
        # Try to push left, then right.
        if mas_push_data(mas, mast, True):
            height += 1
            break
        if mas_push_data(mas, mast, False):
            height += 1
            break
        split, _mid_split = mab_calc_split(b_node)
        mast_split_data(mast, mas, split)
        # Usually correct, mab_mas_cp in the above call overwrites r.max.
        mast.r.max = mas.max
        mast_fill_bnode(mast, mas, 1)
        prev_l_mas.copy_from(mast.l)
        prev_r_mas.copy_from(mast.r)
    else:
        height += 1  # the kernel's post-increment on the failed loop test

    # Set the original node as dead.
    old = mas.node
    assert old is not None
    mas.node = l_mas.node
    mas_wmb_replace(mas, old, height)
    mtree_range_walk(mas)


def _ma_new_node(
    mas: MaStateFields, node_type: int, pivots: list[int], slots: list[Any], gaps: list[int] | None
) -> MapleNode:
    """``mas_pop_node()`` then ``mab_mas_cp()`` into the new node from flat lists (see
    :func:`maplevm.tree.node.ma_filled_node`)."""
    if mas.nodes_avail <= 0:
        mas_pop_node(mas, node_type)  # raises: more nodes than were requested
    mas.nodes_avail -= 1
    return ma_filled_node(node_type, pivots, slots, gaps)


def _leaf_gap(pivots: list[int], slots: list[Any], start: int, stop: int, before: int) -> int:
    """``ma_leaf_max_gap()`` of the leaf that entries ``[start, stop)`` of these flat lists
    will make, the range before them ending at ``before``; not for the right-most leaf
    (whose implied last range the kernel measures differently).  As the kernel does, the
    last entry is not looked at (a leaf other than the right-most one never ends on NULL)
    and the entry after a NULL is skipped."""
    max_gap = 0
    i = start
    end = stop - 1
    if slots[i] is None:
        max_gap = pivots[i] - before
        i += 2
    else:
        i += 1
    while i < end:
        if slots[i] is None:
            gap = pivots[i] - pivots[i - 1]
            if gap > max_gap:
                max_gap = gap
            i += 2
        else:
            i += 1
    return max_gap


def _leaf_pair_gaps(
    pivots: list[int], slots: list[Any], split: int, lo: int, hi: int, right: MapleNode
) -> tuple[int, int]:
    """The largest gaps of two new leaves made of ``[0, split)`` and ``[split, end)`` of
    these flat lists, spanning ``[lo, hi]``; the right one already built as ``right``
    (read when it is the right-most leaf, which :func:`_leaf_gap` does not cover)."""
    l_max = pivots[split - 1]
    left_gap = _leaf_gap(pivots, slots, 0, split, lo - 1)
    if hi == ULONG_MAX:
        return left_gap, ma_leaf_max_gap(right, l_max + 1, hi)
    return left_gap, _leaf_gap(pivots, slots, split, len(slots), l_max)


def _leaf_split_off_null(split: int, b_end: int) -> int:
    """``mab_no_null_split()`` for leaf data (``b_end`` the last index) whose entry at
    ``split`` is NULL: one further right if that leaves the right node enough, else one
    to the left, so that the left leaf does not end on NULL."""
    last_slot = mt_slots[maple_leaf_64] - 1
    if split < last_slot and b_end - split > mt_min_slots[maple_leaf_64]:
        return split + 1
    return split - 1


def mas_wr_split_fast(wr_mas: MaWrState) -> bool:
    """Short cut of ``mas_wr_bnode()`` -> ``mas_store_b_node()`` + ``mas_split()`` for a
    split store into a ``maple_leaf_64``.  Returns False, having changed nothing, when a
    node does not look as the kernel keeps it (the general path then runs).

    The big node of each level is kept as flat lists and the kernel's decisions are taken
    on them, level by level up from the leaf, before anything changes: push the data into
    the left sibling (``mas_push_data(left)``), else the right one, else split at
    ``mab_calc_split()`` (a leaf's left half never ends on NULL, ``mab_no_null_split()``)
    and go up with one more entry in the parent (``mast_fill_bnode()``), until a node
    takes the data (``mas_split_final_node()``) or the root splits under a new root.  Then
    the same nodes are allocated in the same order with the same contents, metadata and
    gaps; ``mas_topiary_replace()`` is done directly (every new node adopts its children,
    every replaced node is dead), then the gaps above are updated and the state walks back
    down to the entry, as ``mas_wmb_replace()`` and ``mtree_range_walk()`` do.
    """
    mas = wr_mas.mas
    leaf = mas.node
    assert leaf is not None
    if leaf.type != maple_leaf_64:
        return False
    node_min = mas.min
    node_max = mas.max
    end = mas.end
    pivots = wr_mas.pivots
    slots = wr_mas.slots
    if end < 15 and pivots[end] != node_max:
        return False

    # mas_store_b_node(): the leaf's data with the new entry.
    index = mas.index
    last = mas.last
    slot = mas.offset
    content = wr_mas.content
    if slot:
        bpiv = pivots[:slot]
        bslot = slots[:slot]
        piv = bpiv[-1]
    else:
        bpiv = []
        bslot = []
        piv = (node_min - 1) & _MASK
    if ((piv + 1) & _MASK) < index:
        bslot.append(content)
        bpiv.append(index - 1)
    bslot.append(wr_mas.entry)
    bpiv.append(last)
    if last < node_max:
        offset_end = wr_mas.offset_end
        piv = pivots[offset_end] if offset_end < 15 else node_max
        if piv > last:
            if offset_end != slot:
                content = slots[offset_end]
            bslot.append(content)
            bpiv.append(piv)
        slot = offset_end + 1
        if slot <= end:
            bslot += slots[slot : end + 1]
            bpiv += pivots[slot:end]
            bpiv.append(node_max)
    if len(bslot) <= 16:
        return False  # mas_split() would store it in one node

    # mas_split(): the decisions, from the counts alone (and the leaf's NULLs).
    tree = mas.tree
    alloc = bool(tree.ma_flags & MT_FLAGS_ALLOC_RANGE)
    root_type = maple_arange_64 if alloc else maple_range_64
    # Per split level: node, its range, the first parent slot it takes, the slots it
    # replaces there (1, 2 after a push, 0 for the root), the sibling pushed into (-1 left,
    # 1 right), and the split.
    plan: list[tuple[MapleNode, int, int, int, int, MapleNode | None, int, int, int, int]] = []
    x = leaf
    x_min = node_min
    x_max = node_max
    count = len(bslot)  # entries in this level's big node
    p_min = wr_mas.parent_min
    p_max = wr_mas.parent_max
    height = 1
    while True:
        x_type = x.type
        slot_count = mt_slots[x_type]
        if height > 1 and slot_count > count - 1:
            break  # mas_split_final_node() on x
        if x.is_root:
            # No sibling: split, and a new root goes above (the loop's last round).
            split = (count - 1) // 2  # mab_calc_split(): never a middle node here
            if height == 1 and bslot[split] is None:
                split = _leaf_split_off_null(split, count - 1)
            plan.append((x, x_min, x_max, 0, 0, None, 0, 0, 0, split))
            break
        parent = x.parent
        assert parent is not None
        if height > 1 or p_max < 0:
            tmp = MaStateFields(tree, 0, 0)
            tmp.node = x
            tmp.min = x_min
            tmp.max = x_max
            tmp.status = ACTIVE
            mas_ascend(tmp)
            p_min = tmp.min
            p_max = tmp.max
        p_type = parent.type
        p_pivots = parent.pivot
        p_npiv = mt_pivots[p_type]
        p_end = ma_data_end(parent, p_type, p_pivots, p_max)
        if p_end < p_npiv and p_pivots[p_end] != p_max:
            return False
        p_slot = x.parent_slot
        space = 2 * slot_count - 2  # -2 instead of -1: no triple split
        if x_type < 2:
            space -= 1
        if x_max == ULONG_MAX:
            space -= 1
        push = 0
        if p_slot:
            # mas_push_data(left) with mas_prev_sibling()
            sib = parent.slot[p_slot - 1]
            sib_max = p_pivots[p_slot - 1]
            sib_end = ma_data_end(sib, sib.type, sib.pivot, sib_max)
            if count - 1 + sib_end < space:
                push = -1
                sib_min = p_pivots[p_slot - 2] + 1 if p_slot > 1 else p_min
                split = slot_count - 2
                first = p_slot - 1
        if not push and p_slot < p_end:
            # mas_push_data(right) with mas_next_sibling()
            sib = parent.slot[p_slot + 1]
            sib_max = p_pivots[p_slot + 1] if p_slot + 1 < p_npiv else p_max
            sib_end = ma_data_end(sib, sib.type, sib.pivot, sib_max)
            if count - 1 + sib_end < space:
                push = 1
                sib_min = p_pivots[p_slot] + 1
                split = count - 1 + sib_end - (slot_count - 2)
                first = p_slot
        if push:
            if sib_end < mt_pivots[x_type] and sib.pivot[sib_end] != sib_max:
                return False
            if height == 1:
                # mab_no_null_split() on the combined data; b_end is one less after a
                # push left (mas_push_data() sets it so) than after a push right.
                if push < 0:
                    at = sib.slot[split] if split <= sib_end else bslot[split - sib_end - 1]
                    b_end = count + sib_end
                else:
                    at = bslot[split] if split < count else sib.slot[split - count]
                    b_end = count + sib_end + 1
                if at is None:
                    split = _leaf_split_off_null(split, b_end)
            plan.append((x, x_min, x_max, first, 2, sib, push, sib_min, sib_max, split))
            x = parent
            x_min = p_min
            x_max = p_max
            height += 1
            break
        split = (count - 1) // 2  # mab_calc_split()
        if height == 1 and bslot[split] is None:
            split = _leaf_split_off_null(split, count - 1)
        plan.append((x, x_min, x_max, p_slot, 1, None, 0, 0, 0, split))
        count = p_end + 2
        x = parent
        x_min = p_min
        x_max = p_max
        height += 1
    final = x if plan[-1][4] else None
    top_min = x_min  # the range of the node above the last split
    top_max = x_max
    if final is not None and final.is_root and final.type != root_type:
        return False  # mas_split_final_node() would make a root of the other type

    # The nodes, level by level: left, right; then the node above.
    gaps: list[int] | None = None
    first = replaced = 0
    l_max = r_max = lg = rg = 0
    left = right = leaf
    for x, x_min, x_max, p_first, p_replaced, sib, push, sib_min, sib_max, split in plan:
        x_type = x.type
        if x is not leaf:
            # mast_fill_bnode(): x's data with the two new children.
            bpiv, bslot, gaps = _ma_replace(
                x, x_max, first, replaced, left, right, l_max, r_max, lg, rg, alloc
            )
        l_min = x_min
        r_max = x_max
        if push:
            assert sib is not None
            sib_end = ma_data_end(sib, sib.type, sib.pivot, sib_max)
            sp = sib.pivot[:sib_end]
            sp.append(sib_max)
            ss = sib.slot[: sib_end + 1]
            sg = sib.gap[: sib_end + 1] if gaps is not None and sib.gap is not None else None
            if push < 0:
                bpiv = sp + bpiv
                bslot = ss + bslot
                if gaps is not None:
                    assert sg is not None
                    gaps = sg + gaps
                l_min = sib_min
            else:
                bpiv = bpiv + sp
                bslot = bslot + ss
                if gaps is not None:
                    assert sg is not None
                    gaps = gaps + sg
                r_max = sib_max
        split += 1
        l_max = bpiv[split - 1]
        if gaps is None:
            left = _ma_new_node(mas, x_type, bpiv[:split], bslot[:split], None)
            right = _ma_new_node(mas, x_type, bpiv[split:], bslot[split:], None)
        else:
            left = _ma_new_node(mas, x_type, bpiv[:split], bslot[:split], gaps[:split])
            right = _ma_new_node(mas, x_type, bpiv[split:], bslot[split:], gaps[split:])
        if alloc:
            if x_type < 2:
                lg, rg = _leaf_pair_gaps(bpiv, bslot, split, l_min, r_max, right)
            else:
                lgaps = left.gap
                rgaps = right.gap
                assert lgaps is not None and rgaps is not None
                lg = lgaps[left.meta_gap]
                rg = rgaps[right.meta_gap]
        first = p_first
        replaced = p_replaced
        if x is leaf:
            # The new leaf holding the index, where mtree_range_walk() will end.
            if index <= l_max:
                w_node, w_min, w_max = left, l_min, l_max
            else:
                w_node, w_min, w_max = right, l_max + 1, r_max
        if x_type >= 2:
            # mas_topiary_replace() will have them adopt their children
            for offset, child in enumerate(bslot[:split]):
                child.parent = left
                child.parent_slot = offset
                child.is_root = False
            for offset, child in enumerate(bslot[split:]):
                child.parent = right
                child.parent_slot = offset
                child.is_root = False
        x.set_dead()
        if sib is not None:
            sib.set_dead()

    # mas_split_final_node(): the node above the last split, maybe a new root.
    if final is None:
        old = plan[-1][0]
        ancestor_type = root_type
        apiv = [l_max, r_max]
        aslot: list[Any] = [left, right]
        agaps = [lg, rg] if alloc else None
        height += 1
    else:
        old = final
        ancestor_type = final.type if not final.is_root else root_type
        apiv, aslot, agaps = _ma_replace(
            final, top_max, first, replaced, left, right, l_max, r_max, lg, rg, alloc
        )
    ancestor = _ma_new_node(mas, ancestor_type, apiv, aslot, agaps)

    # mas_topiary_replace(): link it in, adopt the children, the old node is dead.
    ancestor.parent_slot = old.parent_slot
    if final is None or final.is_root:
        ancestor.is_root = True
        tree.ma_root = ancestor
        mt_set_height(tree, height)
    else:
        grand = old.parent
        assert grand is not None
        ancestor.parent = grand
        grand.slot[old.parent_slot] = ancestor
    old.set_dead()
    wr_mas.content = content
    _ma_adopt_and_descend(mas, ancestor, top_min, top_max, aslot, w_node, w_min, w_max)
    return True


def _ma_adopt_and_descend(
    mas: MaStateFields,
    top: MapleNode,
    top_min: int,
    top_max: int,
    children: list[Any],
    leaf: MapleNode,
    leaf_min: int,
    leaf_max: int,
) -> None:
    """The end of a short cut's ``mas_wmb_replace()``: the new ``top`` node (linked in
    already) adopts its ``children``, the gaps above it are updated from the state put on
    it, and ``mtree_range_walk()`` runs from the new ``leaf`` holding the index, where the
    walk from ``top`` would pass (the new nodes hold it)."""
    for offset, child in enumerate(children):
        child.parent = top
        child.parent_slot = offset
        child.is_root = False
    mas.node = top
    mas.min = top_min
    mas.max = top_max
    mas_update_gap(mas)
    mas.node = leaf
    mas.min = leaf_min
    mas.max = leaf_max
    mtree_range_walk(mas)


def _ma_replace(
    node: MapleNode,
    node_max: int,
    first: int,
    replaced: int,
    left: MapleNode,
    right: MapleNode,
    l_max: int,
    r_max: int,
    lg: int,
    rg: int,
    alloc: bool,
) -> tuple[list[int], list[Any], list[int] | None]:
    """``mast_fill_bnode()`` as flat lists: ``node``'s data with ``replaced`` slots from
    ``first`` on taken by the new ``left`` and ``right``."""
    pivots = node.pivot
    slots = node.slot
    end = ma_data_end(node, node.type, pivots, node_max)
    bpiv = pivots[:first]
    bpiv.append(l_max)
    bpiv.append(r_max)
    bslot = slots[:first]
    bslot.append(left)
    bslot.append(right)
    rest = first + replaced
    if r_max != node_max:
        bpiv += pivots[rest:end]
        bpiv.append(node_max)
        bslot += slots[rest : end + 1]
    if not alloc:
        return bpiv, bslot, None
    node_gaps = node.gap
    assert node_gaps is not None
    bgap = node_gaps[:first]
    bgap.append(lg)
    bgap.append(rg)
    if r_max != node_max:
        bgap += node_gaps[rest : end + 1]
    return bpiv, bslot, bgap


def mas_commit_b_node(wr_mas: MaWrState, b_node: MapleBigNode) -> None:
    """Mirror of ``mas_commit_b_node()``."""
    store_type = wr_mas.mas.store_type
    if store_type == wr_rebalance:
        mas_rebalance(wr_mas.mas, b_node)
        return
    if store_type != wr_split_store:
        raise MapleBug(f"mas_commit_b_node: store type {StoreType(store_type).name}")
    mas_split(wr_mas.mas, b_node)


# -- root stores --------------------------------------------------------------------------


def mas_root_expand(mas: MaStateFields, entry: Any) -> None:
    """Mirror of ``mas_root_expand()``: turn a root pointer into a leaf node."""
    contents = mas.tree.ma_root
    node = mas_pop_node(mas, maple_leaf_64)
    pivots = node.pivot
    slots = node.slot
    node.parent = None
    node.is_root = True
    mas.node = node
    mas.status = ACTIVE
    slot = 0
    if mas.index:
        if contents is not None:
            slots[slot] = contents
            if mas.index > 1:
                slot += 1
        pivots[slot] = mas.index - 1
        slot += 1
    slots[slot] = entry
    mas.offset = slot
    pivots[slot] = mas.last
    if mas.last != ULONG_MAX:
        slot += 1
        pivots[slot] = ULONG_MAX
    mt_set_height(mas.tree, 1)
    ma_set_meta(node, 0, slot)
    # Swap the new root into the tree.
    mas.tree.ma_root = node


def mas_store_root(mas: MaStateFields, entry: Any) -> None:
    """Mirror of ``mas_store_root()``: store into an empty or single-entry tree."""
    if entry is None:
        if not mas.index:
            mas.tree.ma_root = None
    elif mas.last != 0 or mas.index != 0 or entry_low_bits_are_internal(entry):
        mas_root_expand(mas, entry)
    else:
        mas.tree.ma_root = entry
        mas.status = START


def mas_new_root(mas: MaStateFields, entry: Any) -> None:
    """Mirror of ``mas_new_root()``: replace the whole tree by one entry over [0, ULONG_MAX]."""
    root = mas.tree.ma_root
    if entry is None:
        mt_set_height(mas.tree, 0)
        mas.tree.ma_root = None
        mas.status = START
    else:
        node = mas_pop_node(mas, maple_leaf_64)
        node.parent = None
        node.is_root = True
        mas.node = node
        mas.status = ACTIVE
        node.slot[0] = entry
        node.pivot[0] = mas.last
        mt_set_height(mas.tree, 1)
        mas.tree.ma_root = node
    if isinstance(root, MapleNode):
        mte_destroy_walk(root, mas.tree)


# -- the write walk -------------------------------------------------------------------------


def mas_is_span_wr(wr_mas: MaWrState) -> bool:
    """Mirror of ``mas_is_span_wr()``: does the write leave this node, or end it on NULL?"""
    hi = wr_mas.r_max
    last = wr_mas.mas.last
    if last < hi:
        return False
    if wr_mas.type < 2:
        hi = wr_mas.mas.max
        if last < hi:
            return False
    if last == hi:
        # The last entry of a leaf cannot be NULL unless it is the right-most node.
        if wr_mas.entry is not None or last == ULONG_MAX:
            return False
    return True


def mas_wr_walk_descend(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_walk_descend()``."""
    node = wr_mas.mas.node
    assert node is not None
    wr_mas.type = node.type
    mas_wr_node_walk(wr_mas)
    wr_mas.slots = node.slot


def mas_wr_walk_traverse(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_walk_traverse()``."""
    mas = wr_mas.mas
    mas.max = wr_mas.r_max
    mas.min = wr_mas.r_min
    mas.node = wr_mas.content
    mas.offset = 0
    mas.depth += 1


def mas_wr_walk(wr_mas: MaWrState) -> bool:
    """Mirror of ``mas_wr_walk()``: walk down for a write; False for a spanning write.

    Records the lowest levels with a vacant slot and with more than the minimum data,
    which bound how far up a split or rebalance can reach (and so the preallocation).
    The per-level helpers (``mas_wr_walk_descend``, ``mas_wr_node_walk``,
    ``mas_is_span_wr``, ``mas_wr_walk_traverse``) are inlined: this loop runs at every
    level of every write.  The fields the kernel sets at every level are kept in locals
    and stored once, where the walk stops (only their last values are ever read).
    """
    mas = wr_mas.mas
    index = mas.index
    last = mas.last
    entry = wr_mas.entry
    node = mas.node
    assert node is not None
    node_min = mas.min
    node_max = mas.max
    offset = mas.offset
    depth = start_depth = mas.depth
    vacant_height = wr_mas.vacant_height
    sufficient_height = wr_mas.sufficient_height
    p_min = p_max = -1  # the range of the node above (for mas_wr_split_fast())
    while True:
        # mas_wr_walk_descend() / mas_wr_node_walk()
        node_type = node.type
        pivots = node.pivot
        if node_type == maple_arange_64 or not pivots[-1]:  # ma_data_end(), inlined
            count = node.meta_end
        elif pivots[-1] == node_max:
            count = len(pivots) - 1
        else:
            count = len(pivots)
        offset = bisect_left(pivots, index, offset, count)
        r_max = pivots[offset] if offset < count else node_max
        r_min = pivots[offset - 1] + 1 if offset else node_min
        # mas_is_span_wr()
        if last >= r_max:
            hi = node_max if node_type < 2 else r_max
            if last > hi or (last == hi and entry is None and last != ULONG_MAX):
                if depth != start_depth:
                    wr_mas.content = node  # set one level up, as the kernel leaves it
                spanning = True
                break
        if node_type < 2:
            wr_mas.content = node.slot[offset]
            wr_mas.parent_min = p_min
            wr_mas.parent_max = p_max
            spanning = False
            break
        if count < _VACANT_BELOW[node_type]:
            vacant_height = depth + 1
        if node.is_root:
            # root needs more than 2 entries to be sufficient + 1
            if count > 2:
                sufficient_height = 1
        elif count > _SUFFICIENT_ABOVE[node_type]:
            sufficient_height = depth + 1
        # mas_wr_walk_traverse()
        p_min = node_min
        p_max = node_max
        node_max = r_max
        node_min = r_min
        node = node.slot[offset]
        offset = 0
        depth += 1
    mas.node = node
    mas.min = node_min
    mas.max = node_max
    mas.depth = depth
    mas.end = count
    wr_mas.offset_end = mas.offset = offset
    wr_mas.type = node_type
    wr_mas.node = node
    wr_mas.pivots = pivots
    wr_mas.slots = node.slot
    wr_mas.r_max = r_max
    wr_mas.r_min = r_min
    wr_mas.vacant_height = vacant_height
    wr_mas.sufficient_height = sufficient_height
    return not spanning


# mas_wr_walk(): a node has a vacant slot below mt_slots - 1 entries, enough data above
# mt_min_slots + 1.
_VACANT_BELOW = tuple(n - 1 for n in mt_slots)
_SUFFICIENT_ABOVE = tuple(n + 1 for n in mt_min_slots)


def mas_wr_walk_index(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_walk_index()``: walk to ``index`` ignoring spans."""
    while True:
        mas_wr_walk_descend(wr_mas)
        wr_mas.content = wr_mas.slots[wr_mas.mas.offset]
        if wr_mas.type < 2:
            return
        mas_wr_walk_traverse(wr_mas)


def mas_extend_spanning_null(l_wr_mas: MaWrState, r_wr_mas: MaWrState) -> None:
    """Mirror of ``mas_extend_spanning_null()``: grow a NULL store over adjacent NULLs."""
    r_mas = r_wr_mas.mas
    l_mas = l_wr_mas.mas
    l_slot = l_mas.offset
    if l_wr_mas.content is None:
        l_mas.index = l_wr_mas.r_min
    if l_mas.index == l_wr_mas.r_min and l_slot and l_wr_mas.slots[l_slot - 1] is None:
        if l_slot > 1:
            l_mas.index = l_wr_mas.pivots[l_slot - 2] + 1
        else:
            l_mas.index = l_mas.min
        l_mas.offset = l_slot - 1

    if r_wr_mas.content is None:
        if r_mas.last < r_wr_mas.r_max:
            r_mas.last = r_wr_mas.r_max
        r_mas.offset += 1
    elif (
        r_mas.last == r_wr_mas.r_max
        and r_mas.last < r_mas.max
        and r_wr_mas.slots[r_mas.offset + 1] is None
    ):
        # Unreachable: the right side is walked at last + 1, so r_max > last (or last is
        # ULONG_MAX, which is the node max).  The kernel's call here passes the node type
        # and the offset to mas_safe_pivot() in swapped order; reaching it means the
        # model's walk differs from the kernel's.
        raise MapleBug("mas_extend_spanning_null: right side ends exactly at the write")


def mas_wr_spanning_store(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_spanning_store()``: a write that starts in one node and ends in
    another (or ends a node on NULL): combine both sides in a big node and rebalance."""
    mas = wr_mas.mas
    if not mas.index and mas.last == ULONG_MAX:
        mas_new_root(mas, wr_mas.entry)
        return
    if wr_mas.entry is None and _mas_wr_spanning_null_fast(wr_mas):
        return
    # Node rebalancing may occur due to this store, so there may be three new entries per
    # level plus a new root.
    height = mt_height(mas.tree)

    # Set up right side: walk to the slot after the store so that it is not NULL.
    r_mas = mas.clone()
    r_wr_mas = MaWrState(r_mas, wr_mas.entry)
    if (r_mas.last + 1) & _MASK:
        r_mas.last += 1
    r_mas.index = r_mas.last
    mas_wr_walk_index(r_wr_mas)
    r_mas.last = r_mas.index = mas.last

    # Set up left side.
    l_mas = mas.clone()
    l_wr_mas = MaWrState(l_mas, wr_mas.entry)
    mas_wr_walk_index(l_wr_mas)

    if wr_mas.entry is None:
        mas_extend_spanning_null(l_wr_mas, r_wr_mas)
        mas.offset = l_mas.offset
        mas.index = l_mas.index
        mas.last = l_mas.last = r_mas.last

    # Expanding NULLs may make this cover the entire range.
    if not l_mas.index and r_mas.last == ULONG_MAX:
        mas_set_range(mas, 0, ULONG_MAX)
        mas_new_root(mas, wr_mas.entry)
        return

    b_node = MapleBigNode()
    # Copy l_mas and store the value in b_node.
    mas_store_b_node(l_wr_mas, b_node, l_mas.end)
    # Copy r_mas into b_node if there is anything to copy.
    if r_mas.max > r_mas.last:
        mas_mab_cp(r_mas, r_mas.offset, r_mas.end, b_node, b_node.b_end + 1)
    else:
        b_node.b_end += 1

    # Stop spanning searches by searching for just index.
    l_mas.index = l_mas.last = mas.index
    mast = MapleSubtreeState(b_node, l_mas, r_mas)
    # Combine l_mas and r_mas and split them up evenly again.
    mas_spanning_rebalance(mas, mast, height + 1)


def _mas_wr_spanning_null_fast(wr_mas: MaWrState) -> bool:
    """Short cut of ``mas_wr_spanning_store()`` for its commonest case: a NULL store (an
    erase) that ends a leaf which is not the last one.  Returns False, having changed
    nothing, in any other case (the general path then runs).

    The write walk stopped at the lowest node whose child ends where the store does (the
    leaf's parent, or higher when the leaf is the last of its parent); the store lies in
    the right-most leaf under that child.  The kernel then walks both sides down (that
    leaf, and the leaf at ``last + 1``, the left-most under the next child), grows the NULL
    over the NULLs beside it (``mas_extend_spanning_null()``), gathers the leaf's data
    before the store, the NULL and the next leaf's data after it in a big node, and
    ``mas_spanning_rebalance()`` makes one or two new leaves of it (``mab_calc_split()``),
    then at each level up one or two new nodes holding the left node's other children,
    the new ones and the right node's other children, until the two sides meet in the
    node where the walk stopped, which is rebuilt around the new children.  Here the same
    is done on flat lists when that is all it does: no level needs data from a neighbour
    (every big node has more than ``mt_min_slots`` entries) or a third node.  All the
    decisions are taken before anything changes; then the same nodes are allocated in the
    same order; ``mas_wmb_replace()`` is done directly (every new node adopts its
    children, the replaced nodes are dead), then the gaps above are updated and the state
    walks down to the NULL as the kernel leaves it.
    """
    mas = wr_mas.mas
    top = mas.node
    assert top is not None
    t_type = top.type
    last = mas.last
    if t_type < 2 or wr_mas.r_max != last:
        return False
    t_slot = mas.offset
    t_end = mas.end
    if t_slot >= t_end:
        return False
    t_pivots = top.pivot
    t_slots = top.slot
    t_max = mas.max
    t_npiv = mt_pivots[t_type]
    if t_end < t_npiv and t_pivots[t_end] != t_max:
        return False  # mas_mab_cp() would copy past the data end
    index = mas.index

    # Both sides, level by level down to the leaves: (node, min or max, data end).
    a = t_slots[t_slot]
    b = t_slots[t_slot + 1]
    a_min = wr_mas.r_min
    b_max = t_pivots[t_slot + 1] if t_slot + 1 < t_end else t_max
    lefts: list[tuple[MapleNode, int, int]] = []
    rights: list[tuple[MapleNode, int, int]] = []
    while True:
        n_type = a.type
        if b.type != n_type:
            return False
        a_pivots = a.pivot
        b_pivots = b.pivot
        a_end = ma_data_end(a, n_type, a_pivots, last)
        b_end = ma_data_end(b, n_type, b_pivots, b_max)
        lefts.append((a, a_min, a_end))
        rights.append((b, b_max, b_end))
        if n_type < 2:
            break
        n_npiv = mt_pivots[n_type]
        if (a_end < n_npiv and a_pivots[a_end] != last) or (
            b_end < n_npiv and b_pivots[b_end] != b_max
        ):
            return False
        if a_end:
            a_min = a_pivots[a_end - 1] + 1
            if index < a_min:
                return False  # the store covers more than the last child
        a = a.slot[a_end]
        if b_end:
            b_max = b_pivots[0]
        b = b.slot[0]
    if n_type != maple_leaf_64:
        return False
    leaf, l_min, l_end = lefts[-1]
    sib, sib_max, s_end = rights[-1]

    # The leaves: mas_wr_walk_index() on both sides, then mas_extend_spanning_null().
    l_pivots = leaf.pivot
    l_slots = leaf.slot
    offset = bisect_left(l_pivots, index, 0, l_end)
    r_min = l_pivots[offset - 1] + 1 if offset else l_min
    first = index
    if l_slots[offset] is None:
        first = r_min
    if first == r_min and offset and l_slots[offset - 1] is None:
        first = l_pivots[offset - 2] + 1 if offset > 1 else l_min
        offset -= 1
    s_pivots = sib.pivot
    s_slots = sib.slot
    new_last = last
    s_off = 0
    if s_slots[0] is None:
        s_r_max = s_pivots[0] if s_end else sib_max
        if new_last < s_r_max:
            new_last = s_r_max
        s_off = 1
    if new_last >= sib_max:
        return False  # the next leaf is all NULL: the general path copies none of it

    # mas_store_b_node() (the store ends the leaf) and mas_mab_cp() of the next leaf's rest.
    bpiv = l_pivots[:offset]
    bslot = l_slots[:offset]
    if first > r_min:
        # The store starts inside a range: its head stays.
        bpiv.append(first - 1)
        bslot.append(l_slots[offset])
    bpiv.append(new_last)
    bpiv += s_pivots[s_off:s_end]
    bpiv.append(s_pivots[s_end] if s_end < 15 else sib_max)
    bslot.append(None)
    bslot += s_slots[s_off : s_end + 1]
    count = len(bslot)
    if count <= mt_min_slots[maple_leaf_64]:
        return False  # mast_spanning_rebalance() would pull in a neighbour
    b_end = count - 1
    if b_end < 16:
        split = b_end
    else:
        # mab_calc_split(): no middle node here; never end the left node on NULL.
        split = b_end // 2
        if b_end >= 32 or (bslot[split] is None and b_end >= 31):
            return False
        if bslot[split] is None:
            split = _leaf_split_off_null(split, b_end)
    split += 1  # entries in the left leaf

    # The levels above, decided from their counts: one node, or two (mab_calc_split()
    # halves them: internal slots are never NULL); no level may be insufficient.
    made = 1 if split == count else 2
    if made == 1 and not l_min and sib_max == ULONG_MAX:
        return False  # the new leaf would be the root
    for k in range(len(lefts) - 2, -1, -1):
        n_type = lefts[k][0].type
        n = lefts[k][2] + made + rights[k][2]
        if n <= mt_min_slots[n_type]:
            return False
        made = 1 if n <= mt_slots[n_type] else 2
        if made == 1 and not lefts[k][1] and rights[k][1] == ULONG_MAX:
            return False
    if t_end - 1 + made <= mt_min_slots[t_type]:
        return False  # the node where the sides meet would need rebalancing
    a_min = lefts[0][1]
    if not a_min and t_max == ULONG_MAX and not top.is_root:
        return False

    # Now the nodes, from the leaves up, in the kernel's order (left, then right).
    tree = mas.tree
    alloc = bool(tree.ma_flags & MT_FLAGS_ALLOC_RANGE)
    if split == count:
        left = _ma_new_node(mas, maple_leaf_64, bpiv, bslot, None)
        new_nodes: list[Any] = [left]
        new_maxes = [sib_max]
        new_gaps = [ma_leaf_max_gap(left, l_min, sib_max)] if alloc else []
        w_node, w_min, w_max = left, l_min, sib_max
    else:
        left = _ma_new_node(mas, maple_leaf_64, bpiv[:split], bslot[:split], None)
        right = _ma_new_node(mas, maple_leaf_64, bpiv[split:], bslot[split:], None)
        l_max = bpiv[split - 1]
        new_nodes = [left, right]
        new_maxes = [l_max, sib_max]
        new_gaps = []
        if alloc:
            new_gaps += _leaf_pair_gaps(bpiv, bslot, split, l_min, sib_max, right)
        if first <= l_max:
            w_node, w_min, w_max = left, l_min, l_max
        else:
            w_node, w_min, w_max = right, l_max + 1, sib_max
    leaf.set_dead()
    sib.set_dead()
    for k in range(len(lefts) - 2, -1, -1):
        a, a_min, a_end = lefts[k]
        b, b_max, b_end = rights[k]
        n_type = a.type
        # mast_combine_cp_left(), the new children, mast_combine_cp_right()
        bpiv = a.pivot[:a_end] + new_maxes
        bslot = a.slot[:a_end] + new_nodes
        bgaps: list[int] | None = None
        if alloc:
            a_gaps = a.gap
            assert a_gaps is not None
            bgaps = a_gaps[:a_end] + new_gaps
        if b_end:
            b_pivots = b.pivot
            bpiv += b_pivots[1:b_end]
            bpiv.append(b_pivots[b_end] if b_end < mt_pivots[n_type] else b_max)
            bslot += b.slot[1 : b_end + 1]
            if bgaps is not None:
                b_gaps = b.gap
                assert b_gaps is not None
                bgaps += b_gaps[1 : b_end + 1]
        n = len(bslot)
        if n <= mt_slots[n_type]:
            parts = [(bpiv, bslot, bgaps)]
            new_maxes = [b_max]
        else:
            half = (n - 1) // 2 + 1  # mab_calc_split(): internal slots are never NULL
            parts = [
                (bpiv[:half], bslot[:half], bgaps[:half] if bgaps is not None else None),
                (bpiv[half:], bslot[half:], bgaps[half:] if bgaps is not None else None),
            ]
            new_maxes = [bpiv[half - 1], b_max]
        new_nodes = []
        new_gaps = []
        for p_piv, p_slot, p_gaps in parts:
            node = _ma_new_node(mas, n_type, p_piv, p_slot, p_gaps)
            new_nodes.append(node)
            if p_gaps is not None:
                new_gaps.append(max(p_gaps))  # mas_max_gap(): its largest gap
            # mas_topiary_replace() will have the new node adopt its children
            for child_slot, child in enumerate(p_slot):
                child.parent = node
                child.parent_slot = child_slot
                child.is_root = False
        a.set_dead()
        b.set_dead()

    # The node where both sides meet, rebuilt around the new children.
    apiv = t_pivots[:t_slot] + new_maxes
    aslot = t_slots[:t_slot] + new_nodes
    agaps: list[int] | None = None
    if alloc:
        t_gaps = top.gap
        assert t_gaps is not None
        agaps = t_gaps[:t_slot] + new_gaps
    if rights[0][1] != t_max:
        apiv += t_pivots[t_slot + 2 : t_end]
        apiv.append(t_pivots[t_end] if t_end < t_npiv else t_max)
        aslot += t_slots[t_slot + 2 : t_end + 1]
        if agaps is not None:
            assert t_gaps is not None
            agaps += t_gaps[t_slot + 2 : t_end + 1]
    new_top = _ma_new_node(mas, t_type, apiv, aslot, agaps)

    # mas_wmb_replace(): link it in, adopt the children; the old node is dead.
    if not a_min and t_max == ULONG_MAX:
        new_top.is_root = True  # mas_spanning_rebalance()'s root-limits case
    else:
        new_top.copy_parent_from(top)
    if top.is_root:
        tree.ma_root = new_top
        mt_set_height(tree, len(lefts) + 1)
    else:
        grand = top.parent
        assert grand is not None
        grand.slot[top.parent_slot] = new_top
    top.set_dead()
    # The state as mas_spanning_rebalance() leaves it: on the new top node, with the
    # minimum of the left node of the level below (the kernel copies that state up).
    mas.index = first
    mas.last = new_last
    mas.depth = 0
    mas.offset = t_slot
    _ma_adopt_and_descend(mas, new_top, a_min, t_max, aslot, w_node, w_min, w_max)
    return True


# -- fast paths ------------------------------------------------------------------------------


def mas_wr_node_store(wr_mas: MaWrState, new_end: int) -> None:
    """Mirror of ``mas_wr_node_store()``: rewrite the leaf with the new entry (a new node in
    RCU mode, in place otherwise)."""
    mas = wr_mas.mas
    offset_end = wr_mas.offset_end
    node_type = wr_mas.type
    node_pivots = mt_pivots[node_type]
    in_rcu = mt_in_rcu(mas.tree)
    old = mas.node
    assert old is not None

    if mas.last == wr_mas.end_piv:
        offset_end += 1  # don't copy this offset

    src_pivots = wr_mas.pivots
    src_slots = wr_mas.slots
    # Build the new arrays: the start up to the insert point, the entry, then the rest.
    off = mas.offset
    dst_pivots = src_pivots[:off]
    dst_slots = src_slots[:off]
    # Handle insert of new range starting after old range.
    if wr_mas.r_min < mas.index:
        dst_slots.append(wr_mas.content)
        dst_pivots.append(mas.index - 1)
        off += 1
        mas.offset = off
    # Store the new entry and range end.
    dst_slots.append(wr_mas.entry)
    if off < node_pivots:
        dst_pivots.append(mas.last)
    # Unless this range wrote to the end of the node or overwrote the rest of the data,
    # copy the rest of the node.
    if offset_end <= mas.end:
        copy_size = mas.end - offset_end + 1
        dst_slots += src_slots[offset_end : offset_end + copy_size]
        dst_pivots += src_pivots[offset_end : offset_end + copy_size - 1]
        if new_end < node_pivots:
            dst_pivots.append(mas.max)
    # The rest of a new node is zero/NULL.
    dst_pivots += ZERO_PIVOTS[: node_pivots - len(dst_pivots)]
    dst_slots += NULL_SLOTS[: node_pivots + 1 - len(dst_slots)]

    if in_rcu:
        newnode = mas_pop_node(mas, node_type)
        newnode.copy_parent_from(old)
        newnode.pivot = dst_pivots
        newnode.slot = dst_slots
        mas_leaf_set_meta(newnode, maple_leaf_64, new_end)
        mas.node = newnode
        mas_replace_node(mas, old, mt_height(mas.tree))
    else:
        # The kernel builds the node on the stack and copies it over the old one.
        old.pivot = dst_pivots
        old.slot = dst_slots
        old.meta_end = old.meta_gap = 0
        mas_leaf_set_meta(old, maple_leaf_64, new_end)
    mas_update_gap(mas)
    mas.end = new_end


_MIN_LEAF_END = mt_min_slots[maple_leaf_64]  # below it, a leaf store rebalances


def mas_wr_slot_store(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_slot_store()``: overwrite in place when the slot count stays."""
    mas = wr_mas.mas
    offset = mas.offset
    slots = wr_mas.slots
    gap = slots[offset] is None or slots[offset + 1] is None
    if wr_mas.offset_end - offset == 1:
        if mas.index == wr_mas.r_min:
            # Overwriting the range and a part of the next one.
            slots[offset] = wr_mas.entry
            wr_mas.pivots[offset] = mas.last
        else:
            # Overwriting a part of the range and the next one.
            slots[offset + 1] = wr_mas.entry
            wr_mas.pivots[offset] = mas.index - 1
            mas.offset += 1  # keep mas accurate
    else:
        # Expand the range, only partially overwriting the previous and next ranges.
        gap = gap or slots[offset + 2] is None
        slots[offset + 1] = wr_mas.entry
        wr_mas.pivots[offset] = mas.index - 1
        wr_mas.pivots[offset + 1] = mas.last
        mas.offset += 1  # keep mas accurate
    # Only update gap when the new entry is empty or there is an empty entry in the
    # original two ranges.
    if wr_mas.entry is None or gap:
        mas_update_gap(mas)


def mas_wr_extend_null(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_extend_null()``: a NULL store absorbs the NULLs beside it."""
    mas = wr_mas.mas
    slots = wr_mas.slots
    if slots[wr_mas.offset_end] is None:
        # If this one is null, the next and prev are not.
        mas.last = wr_mas.end_piv
    elif (
        mas.last == wr_mas.end_piv
        and mas.end != wr_mas.offset_end
        and slots[wr_mas.offset_end + 1] is None
    ):
        # Check next slot(s) if we are overwriting the end.
        wr_mas.offset_end += 1
        if wr_mas.offset_end == mas.end:
            mas.last = mas.max
        else:
            mas.last = wr_mas.pivots[wr_mas.offset_end]
        wr_mas.end_piv = mas.last

    if wr_mas.content is None:
        # If this one is null, the next and prev are not.
        mas.index = wr_mas.r_min
    elif mas.index == wr_mas.r_min and mas.offset and slots[mas.offset - 1] is None:
        # Check prev slot if we are overwriting the start.
        mas.offset -= 1
        wr_mas.r_min = mas.index = mas_safe_min(mas, wr_mas.pivots, mas.offset)
        wr_mas.r_max = wr_mas.pivots[mas.offset]


def mas_wr_end_piv(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_end_piv()``: find the slot where the write ends."""
    mas = wr_mas.mas
    pivots = wr_mas.pivots
    end = mas.end
    last = mas.last
    offset_end = wr_mas.offset_end
    while offset_end < end and last > pivots[offset_end]:
        offset_end += 1
    wr_mas.offset_end = offset_end
    wr_mas.end_piv = pivots[offset_end] if offset_end < end else mas.max


def mas_wr_new_end(wr_mas: MaWrState) -> int:
    """Mirror of ``mas_wr_new_end()``: the data end after the write."""
    mas = wr_mas.mas
    new_end = mas.end + 2
    new_end -= wr_mas.offset_end - mas.offset
    if wr_mas.r_min == mas.index:
        new_end -= 1
    if wr_mas.end_piv == mas.last:
        new_end -= 1
    return new_end


def mas_wr_append(wr_mas: MaWrState, new_end: int) -> None:
    """Mirror of ``mas_wr_append()``: add at the end of the node in place (not in RCU mode)."""
    mas = wr_mas.mas
    end = mas.end
    pivots = wr_mas.pivots
    slots = wr_mas.slots
    node = wr_mas.node
    assert node is not None
    if new_end < mt_pivots[wr_mas.type]:
        pivots[new_end] = pivots[end]
        ma_set_meta(node, 0, new_end)
    if new_end == end + 1:
        if mas.last == wr_mas.r_max:
            # Append to end of range.
            slots[new_end] = wr_mas.entry
            pivots[end] = mas.index - 1
            mas.offset = new_end
        else:
            # Append to start of range.
            slots[new_end] = wr_mas.content
            pivots[end] = mas.last
            slots[end] = wr_mas.entry
    else:
        # Append to the range without touching any boundaries.
        slots[new_end] = wr_mas.content
        pivots[end + 1] = mas.last
        slots[end + 1] = wr_mas.entry
        pivots[end] = mas.index - 1
        mas.offset = end + 1
    if wr_mas.content is None or wr_mas.entry is None:
        mas_update_gap(mas)
    mas.end = new_end


def mas_wr_bnode(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_bnode()``: the slow path (split or rebalance)."""
    b_node = MapleBigNode()
    mas_store_b_node(wr_mas, b_node, wr_mas.offset_end)
    mas_commit_b_node(wr_mas, b_node)


def mas_wr_store_entry(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_store_entry()``: run the write path chosen by the walk."""
    mas = wr_mas.mas
    st = mas.store_type
    # (The kernel computes new_end = mas_wr_new_end() first; only append and node
    # store read it, and nothing changes it before they do.)
    if st == wr_split_store:
        if not mas_wr_split_fast(wr_mas):  # mas_wr_bnode(), short cut
            mas_wr_bnode(wr_mas)
    elif st == wr_exact_fit:
        wr_mas.slots[mas.offset] = wr_mas.entry
        if (wr_mas.entry is None) != (wr_mas.content is None):
            mas_update_gap(mas)
    elif st == wr_append:
        mas_wr_append(wr_mas, mas_wr_new_end(wr_mas))
    elif st == wr_slot_store:
        mas_wr_slot_store(wr_mas)
    elif st == wr_node_store:
        mas_wr_node_store(wr_mas, mas_wr_new_end(wr_mas))
    elif st == wr_spanning_store:
        mas_wr_spanning_store(wr_mas)
    elif st == wr_rebalance:
        mas_wr_bnode(wr_mas)
    elif st == wr_new_root:
        mas_new_root(mas, wr_mas.entry)
    elif st == wr_store_root:
        mas_store_root(mas, wr_mas.entry)
    else:
        raise MapleBug("mas_wr_store_entry: wr_invalid store type")


def mas_wr_prealloc_setup(wr_mas: MaWrState) -> None:
    """Mirror of ``mas_wr_prealloc_setup()``: reuse the position when it is still valid."""
    mas = wr_mas.mas
    status = mas.status
    reset = False
    if status != ACTIVE:
        if status == START:
            wr_mas.content = mas_start(mas)
            return
        if status in (PAUSE, NONE, OVERFLOW, UNDERFLOW):
            reset = True
    if not reset:
        # A less strict mas_is_span_wr(): spanning writes within this node are allowed,
        # so that partial walks done for a preallocation are not thrown away.
        node = mas.node
        if mas.last > mas.max:
            reset = True
        elif wr_mas.entry is None and (node is None or node.type < 2) and mas.last == mas.max:
            # (A NULL node reads as a dense, hence leaf, type in the kernel's check.)
            reset = True
    if reset:
        mas_reset(mas)
    wr_mas.content = mas_start(mas)


def mas_prealloc_calc(wr_mas: MaWrState, entry: Any) -> None:
    """Mirror of ``mas_prealloc_calc()``: how many nodes this store may need."""
    mas = wr_mas.mas
    height = mt_height(mas.tree)
    ret = height * 3 + 1
    delta = height - wr_mas.vacant_height
    st = mas.store_type
    if st in (wr_exact_fit, wr_append, wr_slot_store):
        ret = 0
    elif st == wr_spanning_store:
        if wr_mas.sufficient_height < wr_mas.vacant_height:
            ret = (height - wr_mas.sufficient_height) * 3 + 1
        else:
            ret = delta * 3 + 1
    elif st == wr_split_store:
        ret = delta * 2 + 1
    elif st == wr_rebalance:
        if wr_mas.sufficient_height < wr_mas.vacant_height:
            ret = (height - wr_mas.sufficient_height) * 2 + 1
        else:
            ret = delta * 2 + 1
    elif st == wr_node_store:
        ret = 1 if mt_in_rcu(mas.tree) else 0
    elif st == wr_new_root:
        ret = 1
    elif st == wr_store_root:
        if mas.last != 0 or mas.index != 0 or entry_low_bits_are_internal(entry):
            ret = 1
        else:
            ret = 0
    mas.node_request = ret


def mas_wr_store_type(wr_mas: MaWrState) -> int:
    """Mirror of ``mas_wr_store_type()``: walk and decide how the store will be done."""
    mas = wr_mas.mas
    if mas.status == NONE or mas.status == ROOT:
        return wr_store_root
    if not mas_wr_walk(wr_mas):
        return wr_spanning_store
    return mas_wr_leaf_store_type(wr_mas)


def mas_wr_leaf_store_type(wr_mas: MaWrState) -> int:
    """The part of ``mas_wr_store_type()`` after a walk that reached the leaf."""
    mas = wr_mas.mas
    # At this point, we are at the leaf node that needs to be altered.
    mas_wr_end_piv(wr_mas)
    if wr_mas.entry is None:
        mas_wr_extend_null(wr_mas)
    if wr_mas.r_min == mas.index and wr_mas.r_max == mas.last:
        return wr_exact_fit
    if not mas.index and mas.last == ULONG_MAX:
        return wr_new_root

    new_end = mas_wr_new_end(wr_mas)
    # Potential spanning rebalance collapsing a node.
    if new_end < mt_min_slots[wr_mas.type]:
        node = mas.node
        assert node is not None
        if not node.is_root:
            return wr_rebalance
        return wr_node_store
    if new_end >= mt_slots[wr_mas.type]:
        return wr_split_store
    in_rcu = mt_in_rcu(mas.tree)
    if not in_rcu and mas.offset == mas.end:
        return wr_append
    if new_end == mas.end and (not in_rcu or wr_mas.offset_end - mas.offset == 1):
        return wr_slot_store
    return wr_node_store


def mas_wr_preallocate(wr_mas: MaWrState, entry: Any) -> None:
    """Mirror of ``mas_wr_preallocate()``."""
    mas = wr_mas.mas
    mas_wr_prealloc_setup(wr_mas)
    mas.store_type = mas_wr_store_type(wr_mas)
    mas_prealloc_calc(wr_mas, entry)
    if not mas.node_request:
        return
    mas_alloc_nodes(mas)


# -- interface --------------------------------------------------------------------------------


def mas_insert(mas: MaStateFields, entry: Any) -> Any:
    """Mirror of ``mas_insert()``: store only if the whole range is NULL (else -EEXIST)."""
    wr_mas = MaWrState(mas, entry)
    wr_mas.content = mas_start(mas)
    if wr_mas.content is not None:
        mas_set_err(mas, -errno.EEXIST)
        return wr_mas.content
    mas_wr_preallocate(wr_mas, entry)
    if mas.status == ERROR:
        return None
    # Spanning writes always overwrite something.
    if mas.store_type == wr_spanning_store:
        mas_set_err(mas, -errno.EEXIST)
        return wr_mas.content
    # At this point, we are at the leaf node that needs to be altered.
    if mas.store_type != wr_new_root and mas.store_type != wr_store_root:
        wr_mas.offset_end = mas.offset
        wr_mas.end_piv = wr_mas.r_max
        if wr_mas.content is not None or mas.last > wr_mas.r_max:
            mas_set_err(mas, -errno.EEXIST)
            return wr_mas.content
    mas_wr_store_entry(wr_mas)
    return wr_mas.content


def mas_alloc_cyclic(
    mas: MaStateFields, entry: Any, range_lo: int, range_hi: int, nxt: int
) -> tuple[int, int, int]:
    """Mirror of ``mas_alloc_cyclic()``: returns ``(ret, start, next)``.

    ``ret`` is 0, 1 if the allocation wrapped, or -EBUSY / -ENOMEM.
    """
    lo = range_lo
    range_lo = max(lo, nxt)
    ret = mas_empty_area(mas, range_lo, range_hi, 1)
    tree = mas.tree
    if tree.ma_flags & MT_FLAGS_ALLOC_WRAPPED and ret == 0:
        tree.ma_flags &= ~MT_FLAGS_ALLOC_WRAPPED
        ret = 1
    if ret < 0 and range_lo > lo:
        mas_reset(mas)
        ret = mas_empty_area(mas, lo, range_hi, 1)
        if ret == 0:
            ret = 1
    if ret < 0:
        return ret, 0, nxt
    while True:
        mas_insert(mas, entry)
        if not mas_nomem(mas):
            break
    if mas.status == ERROR:
        return mas.error, 0, nxt
    start = mas.index
    nxt = (start + 1) & _MASK
    if nxt == 0:
        tree.ma_flags |= MT_FLAGS_ALLOC_WRAPPED
    mas_destroy(mas)
    return ret, start, nxt


def mas_store(mas: MaStateFields, entry: Any) -> Any:
    """Mirror of ``mas_store()``: store ``entry`` over ``[index, last]``.

    Returns the first entry overwritten (or None).  With ``index > last`` the state is
    put in error (-EINVAL), as the kernel does under CONFIG_DEBUG_MAPLE_TREE.
    """
    wr_mas = MaWrState(mas, entry)
    if mas.index > mas.last:
        mas_set_err(mas, -errno.EINVAL)
        return None
    mas_wr_prealloc_setup(wr_mas)
    mas.store_type = mas_wr_store_type(wr_mas)
    if mas.mas_flags & MA_STATE_PREALLOC:
        mas_wr_store_entry(wr_mas)
        return wr_mas.content
    mas_prealloc_calc(wr_mas, entry)
    if mas.node_request:
        mas_alloc_nodes(mas)
        if mas.status == ERROR:
            return None
    mas_wr_store_entry(wr_mas)
    mas_destroy(mas)
    return wr_mas.content


def mas_store_gfp(mas: MaStateFields, entry: Any, gfp: int = 0) -> int:
    """Mirror of ``mas_store_gfp()``: store, allocating as needed; 0, -EINVAL or -ENOMEM."""
    index = mas.index
    last = mas.last
    wr_mas = MaWrState(mas, entry)
    tree = mas.tree
    root = tree.ma_root
    if mas.status == START and root.__class__ is MapleNode and not tree.alloc_failures:
        _mas_store_from_root(wr_mas, root)
        return 0
    ret = 0
    while True:
        mas_wr_preallocate(wr_mas, entry)
        if mas_nomem(mas, gfp):
            if entry is None:
                __mas_set_range(mas, index, last)
            continue
        break
    if mas.status == ERROR:
        ret = mas.error
    else:
        mas_wr_store_entry(wr_mas)
    mas_destroy(mas)
    return ret


def _mas_store_from_root(wr_mas: MaWrState, root: MapleNode) -> None:
    """``mas_wr_preallocate()``, the store and ``mas_destroy()`` for a state in
    ``ma_start`` on a tree of nodes whose allocations cannot fail: ``mas_start()`` puts the
    state at the root, the write walk decides the store type, the nodes it needs are
    counted, the store runs.  (``mas_store_gfp()`` and ``mas_erase()`` without the calls
    that only matter for other states or for a failed allocation.)"""
    mas = wr_mas.mas
    mas.min = 0
    mas.max = ULONG_MAX
    mas.depth = 0
    mas.status = ACTIVE
    mas.node = root
    mas.offset = 0
    if mas_wr_walk(wr_mas):
        mas.store_type = mas_wr_leaf_store_type(wr_mas)
    else:
        mas.store_type = wr_spanning_store
    mas_prealloc_calc(wr_mas, wr_mas.entry)
    if mas.node_request:
        mas_alloc_nodes(mas)
    mas_wr_store_entry(wr_mas)
    mas_destroy(mas)


def mas_store_prealloc(mas: MaStateFields, entry: Any) -> None:
    """Mirror of ``mas_store_prealloc()``: the store that follows ``mas_preallocate()``."""
    wr_mas = MaWrState(mas, entry)
    if mas.store_type == wr_store_root:
        mas_wr_prealloc_setup(wr_mas)
    else:
        mas_wr_walk_descend(wr_mas)
        if mas.store_type != wr_spanning_store:
            # set wr_mas.content to current slot
            wr_mas.content = wr_mas.slots[mas.offset]
            mas_wr_end_piv(wr_mas)
    mas_wr_store_entry(wr_mas)
    if mas.status == ERROR:
        raise MapleBug("mas_store_prealloc: the preallocated store failed")
    mas_destroy(mas)


def mas_preallocate(mas: MaStateFields, entry: Any, gfp: int = 0) -> int:
    """Mirror of ``mas_preallocate()``: walk, pick the store type and reserve its nodes.

    ``index``/``last`` must already describe the write.  Returns 0 or -ENOMEM (the state
    is then reset).
    """
    wr_mas = MaWrState(mas, entry)
    mas_wr_prealloc_setup(wr_mas)
    mas.store_type = mas_wr_store_type(wr_mas)
    mas_prealloc_calc(wr_mas, entry)
    if mas.node_request:
        mas.mas_flags &= ~MA_STATE_PREALLOC
        mas_alloc_nodes(mas)
        if mas.status == ERROR:
            ret = mas.error
            mas.node_request = 0
            mas_destroy(mas)
            mas_reset(mas)
            mas.error = 0
            return ret
    mas.mas_flags |= MA_STATE_PREALLOC
    return 0


def mas_erase(mas: MaStateFields) -> Any:
    """Mirror of ``mas_erase()``: erase the whole range containing ``index``.

    Returns the erased entry; ``index``/``last`` are set to its range.
    """
    index = mas.index
    # The kernel's condition is always true: the walk restarts from the root.
    mas.status = START
    tree = mas.tree
    root = tree.ma_root
    if root.__class__ is MapleNode and not tree.alloc_failures:
        entry = _mas_erase_walk(mas, tree, root, index)
        if entry is not _DECLINED:
            return entry
    return _mas_erase_general(mas, index)


def _mas_erase_general(mas: MaStateFields, index: int) -> Any:
    """``mas_erase()`` as the kernel writes it (the state in ``ma_start``): walk to the
    entry, then preallocate and store NULL over its range, retrying after -ENOMEM."""
    wr_mas = MaWrState(mas, None)
    while True:
        entry = mas_state_walk(mas)
        if entry is None:
            return None
        # Must reset to ensure spanning writes of last slot are detected.
        mas_reset(mas)
        mas_wr_preallocate(wr_mas, None)
        if mas_nomem(mas):
            # in case the range of entry changed when unlocked
            mas.index = mas.last = index
            continue
        break
    if mas.status != ERROR:
        mas_wr_store_entry(wr_mas)
    mas_destroy(mas)
    return entry


def mtree_erase(tree: Any, index: int) -> Any:
    """Mirror of ``mtree_erase()``: ``mas_erase()`` on a maple state of its own, which
    nobody sees afterwards, so the common erase does not fill one in."""
    root = tree.ma_root
    if root.__class__ is MapleNode and not tree.alloc_failures:
        entry = _mas_erase_walk(None, tree, root, index)
        if entry is not _DECLINED:
            return entry
    return _mas_erase_general(MaStateFields(tree, index, index), index)


_DECLINED = object()  # _mas_erase_walk(): the general path must run


def _mas_erase_walk(mas: MaStateFields | None, tree: Any, root: MapleNode, index: int) -> Any:
    """``mas_erase()`` with one walk instead of two in the common case.

    ``mas_state_walk()`` finds the entry and its range; the ``mas_wr_walk()`` that
    ``mas_wr_preallocate()`` then runs from the root over that range passes the same
    nodes and slots (the range lies in one child at every level), so it is not repeated
    when the store is a NULL merged into its leaf in place (the commonest erase: see
    below).  Otherwise the write walk runs from the root as the kernel's does and the
    store follows.  The state ends as the kernel's two walks and store leave it.
    Returns ``_DECLINED`` without changing anything if the walk meets a dead node (the
    general path then runs), else the erased entry.  Without a state (``mtree_erase()``'s,
    which nobody reads) none is made unless the general store needs one.
    """
    node = root
    lo = 0
    hi = ULONG_MAX
    depth = 0
    while True:
        # mtree_range_walk()
        node_type = node.type
        pivots = node.pivot
        if node_type == maple_arange_64 or not pivots[-1]:  # ma_data_end(), inlined
            count = node.meta_end
        elif pivots[-1] == hi:
            count = len(pivots) - 1
        else:
            count = len(pivots)
        offset = bisect_left(pivots, index, 0, count)
        r_max = pivots[offset] if offset < count else hi
        r_min = pivots[offset - 1] + 1 if offset else lo
        if node.parent is node:
            return _DECLINED
        if node_type < 2:
            break
        lo = r_min
        hi = r_max
        node = node.slot[offset]
        depth += 1
    entry = node.slot[offset]
    # mas_start() then mtree_range_walk(): the state rests on the entry's slot.
    last = r_max
    if entry is None:
        if mas is not None:
            mas.status = ACTIVE
            mas.depth = 0
            mas.index = r_min
            mas.last = r_max
            mas.node = node
            mas.min = lo
            mas.max = hi
            mas.offset = offset
            mas.end = count
        return None

    # mas_reset(), mas_wr_prealloc_setup() (mas_start() gives no content), mas_wr_walk()
    # over [r_min, r_max] with a NULL entry.
    spanning = last == hi and last != ULONG_MAX  # a NULL cannot end a leaf
    flags = tree.ma_flags
    if not spanning and hi != ULONG_MAX and not flags & MT_FLAGS_USE_RCU:
        # The write walk ends on the same slot; mas_wr_store_type() then extends the NULL
        # over the NULLs beside it (mas_wr_extend_null()).  When that leaves enough data
        # in the leaf, the store is a wr_node_store, done in place (no RCU): the leaf's
        # data before the NULL, the NULL, the data after it.
        slots = node.slot
        pivots = node.pivot
        first = r_min
        o = offset
        if o and slots[o - 1] is None:
            o -= 1
            first = pivots[o - 1] + 1 if o else lo
        n_last = last
        after = offset + 1  # the first slot kept after the NULL
        if after <= count and slots[after] is None:
            n_last = pivots[after] if after < count else hi
            after += 1
        new_end = count - (after - 1 - o)
        if after <= count and new_end != count and new_end >= _MIN_LEAF_END:
            # mas_wr_node_store(): the new node, zero/NULL filled past its end.
            new_pivots = pivots[:o]
            new_pivots.append(n_last)
            new_pivots += pivots[after:count]
            new_pivots.append(hi)
            new_pivots += ZERO_PIVOTS[: 14 - new_end]
            new_slots = slots[:o]
            new_slots.append(None)
            new_slots += slots[after : count + 1]
            new_slots += NULL_SLOTS[: 15 - new_end]
            node.pivot = new_pivots
            node.slot = new_slots
            node.meta_end = new_end  # mas_leaf_set_meta(), below 15 as the data shrank
            node.meta_gap = 0
            if mas is not None:
                mas.status = ACTIVE
                mas.node = node
                mas.min = lo
                mas.max = hi
                mas.depth = depth
                mas.offset = o
                mas.index = first
                mas.last = n_last
                mas.end = new_end
                mas.store_type = wr_node_store
                mas.mas_flags &= ~MA_STATE_PREALLOC  # mas_destroy()
                mas.node_request = mas.nodes_avail = 0
            if flags & MT_FLAGS_ALLOC_RANGE and not node.is_root:
                # mas_update_gap(): a NULL store only merges gaps, so the leaf's largest
                # gap is the larger of the one its parent records and the new NULL
                # (mas_leaf_max_gap() would find the same: the leaf is not the last one,
                # whose final gap the kernel measures one short).
                parent = node.parent
                assert parent is not None and parent.gap is not None
                new_gap = n_last - first + 1
                pslot = node.parent_slot
                if new_gap > parent.gap[pslot]:
                    ma_parent_gap(node, pslot, new_gap)
            return entry
    # mas_reset() and the store of NULL over [r_min, r_max] from the root.
    if mas is None:
        mas = MaStateFields(tree, r_min, r_max)
    else:
        mas.index = r_min
        mas.last = r_max
    _mas_store_from_root(MaWrState(mas, None), root)
    return entry
