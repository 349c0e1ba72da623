"""Gap tracking and gap search (MT_FLAGS_ALLOC_RANGE trees) from lib/maple_tree.c.

An arange node keeps, per child, the size of the largest NULL range below it, and in its
metadata the offset of the largest of those.  Writes keep the numbers up to date
(:func:`mas_update_gap`); :func:`mas_empty_area` and :func:`mas_empty_area_rev` descend
only into children whose gap is large enough.  All bounds here are inclusive.
"""

from __future__ import annotations

import errno

from maplevm.tree.constants import MAPLE_NODE_SLOTS, MT_FLAGS_ALLOC_RANGE, ULONG_MAX
from maplevm.tree.node import MapleNode, ma_data_end, ma_max_gap
from maplevm.tree.state import MaStateFields
from maplevm.tree.walk import (
    ACTIVE,
    ERROR,
    NONE,
    ROOT,
    START,
    mas_ascend,
    mas_data_end,
    mas_safe_min,
    mas_safe_pivot,
    mas_start,
)


def mas_set_err(mas: MaStateFields, err: int) -> None:
    """Mirror of ``mas_set_err()``: put the state in ``ma_error`` with ``err`` (negative)."""
    mas.node = None
    mas.error = err
    mas.status = ERROR


def mas_leaf_max_gap(mas: MaStateFields) -> int:
    """Mirror of ``mas_leaf_max_gap()``: the largest NULL range in the leaf ``mas.node``."""
    node = mas.node
    assert node is not None
    return ma_leaf_max_gap(node, mas.min, mas.max)


def ma_leaf_max_gap(node: MapleNode, node_min: int, node_max: int) -> int:
    """``mas_leaf_max_gap()`` for a leaf spanning ``[node_min, node_max]`` (no maple state:
    the write fast paths know the range of the leaves they make)."""
    slots = node.slot
    pivots = node.pivot
    max_gap = 0
    if slots[0] is None:
        max_gap = pivots[0] - node_min + 1
        i = 2
    else:
        i = 1
    max_piv = ma_data_end(node, node.type, pivots, node_max) - 1
    # The implied last range can only be a gap in the right-most node.
    if node_max == ULONG_MAX and slots[max_piv + 1] is None:
        gap = ULONG_MAX - pivots[max_piv]
        if gap > max_gap:
            max_gap = gap
        if max_gap > pivots[max_piv] - node_min:
            return max_gap
    while i <= max_piv:
        if slots[i] is not None:
            i += 1
            continue
        gap = pivots[i] - pivots[i - 1]
        if gap > max_gap:
            max_gap = gap
        i += 2  # two NULL ranges are never adjacent
    return max_gap


def mas_max_gap(mas: MaStateFields) -> int:
    """Mirror of ``mas_max_gap()``: the largest gap in ``mas.node`` (leaf or arange)."""
    node = mas.node
    assert node is not None
    if node.type < 2:
        return ma_leaf_max_gap(node, mas.min, mas.max)
    gaps = node.gap
    assert gaps is not None
    return gaps[node.meta_gap]


def mas_parent_gap(mas: MaStateFields, offset: int, new: int) -> None:
    """Mirror of ``mas_parent_gap()``: set a parent's gap and propagate upwards as needed."""
    node = mas.node
    assert node is not None
    ma_parent_gap(node, offset, new)


def ma_parent_gap(node: MapleNode, offset: int, new: int) -> None:
    """``mas_parent_gap()`` for ``node`` (the only part of the state it reads)."""
    pnode = node.parent
    assert pnode is not None
    while True:
        pgaps = pnode.gap
        assert pgaps is not None
        meta_offset = pnode.meta_gap
        meta_gap = pgaps[meta_offset]
        pgaps[offset] = new
        if meta_gap == new:
            return
        if offset != meta_offset:
            if meta_gap > new:
                return
            pnode.meta_gap = offset
        elif new < meta_gap:
            new, meta_offset = ma_max_gap(pnode, pgaps)
            pnode.meta_gap = meta_offset
        if pnode.is_root:
            return
        offset = pnode.parent_slot
        parent = pnode.parent
        assert parent is not None
        pnode = parent


def mas_update_gap(mas: MaStateFields) -> None:
    """Mirror of ``mas_update_gap()``: refresh the parent's record of this node's gap."""
    if not mas.tree.ma_flags & MT_FLAGS_ALLOC_RANGE:
        return
    node = mas.node
    assert node is not None
    if node.is_root:
        return
    max_gap = mas_max_gap(mas)
    pslot = node.parent_slot
    parent = node.parent
    assert parent is not None and parent.gap is not None
    if parent.gap[pslot] != max_gap:
        mas_parent_gap(mas, pslot, max_gap)


def mas_rev_awalk(mas: MaStateFields, size: int) -> tuple[bool, int, int]:
    """Mirror of ``mas_rev_awalk()``: find the highest gap of ``size`` in this node.

    Returns ``(in_leaf, gap_min, gap_max)``: True with the gap's bounds when found in a
    leaf; False after descending into a child, or when the caller must ascend, or on
    -EBUSY (the state is then ``ma_error``).
    """
    if mas.status == ERROR:
        return True, 0, 0
    node = mas.node
    assert node is not None
    node_type = node.type
    pivots = node.pivot
    slots = node.slot
    gaps = node.gap
    offset = mas.offset
    lo = mas_safe_min(mas, pivots, offset)
    # Skip out of bounds.
    while mas.last < lo:
        offset -= 1
        lo = mas_safe_min(mas, pivots, offset)
    hi = mas_safe_pivot(mas, pivots, offset, node_type)
    gap = 0
    while mas.index <= hi:
        gap = 0
        if gaps is not None:
            gap = gaps[offset]
        elif slots[offset] is None:
            gap = hi - lo + 1
        if gap:
            if size <= gap and size <= mas.last - lo + 1:
                break
            if gaps is None:
                # Skip the next slot, it cannot be a gap.
                if offset < 2:
                    return _rev_ascend(mas)
                offset -= 2
                hi = pivots[offset]
                lo = mas_safe_min(mas, pivots, offset)
                continue
        if not offset:
            return _rev_ascend(mas)
        offset -= 1
        hi = lo - 1
        lo = mas_safe_min(mas, pivots, offset)

    if mas.index > hi or size - 1 > hi - mas.index:
        mas_set_err(mas, -errno.EBUSY)
        return False, 0, 0

    if node_type < 2:
        mas.offset = offset
        return True, lo, lo + gap - 1

    # Descend.
    mas.node = slots[offset]
    mas.min = lo
    mas.max = hi
    mas.offset = mas_data_end(mas)
    return False, 0, 0


def _rev_ascend(mas: MaStateFields) -> tuple[bool, int, int]:
    node = mas.node
    assert node is not None
    if not node.is_root:
        return False, 0, 0
    mas_set_err(mas, -errno.EBUSY)
    return False, 0, 0


def mas_anode_descend(mas: MaStateFields, size: int) -> bool:
    """Mirror of ``mas_anode_descend()``: find the lowest fitting gap in this node.

    Returns True when found in a leaf (``mas.offset`` is the slot) or on -EBUSY.
    """
    node = mas.node
    assert node is not None
    node_type = node.type
    pivots = node.pivot
    slots = node.slot
    gaps = node.gap
    offset = mas.offset
    data_end = ma_data_end(node, node_type, pivots, mas.max)
    # A node searched to its end without a fit is entered again by mas_awalk() with
    # offset data_end + 1 before it skips the node; the kernel then reads one pivot past
    # the array (a value the loop below never uses), which the model must not do.
    lo = mas_safe_min(mas, pivots, offset) if offset <= len(pivots) else 0
    found = False
    gap = 0
    while offset <= data_end:
        pivot = mas_safe_pivot(mas, pivots, offset, node_type)
        skip = False
        if mas.index > pivot:  # not within lower bounds
            skip = True
        elif gaps is not None:
            gap = gaps[offset]
        elif slots[offset] is None:
            gap = min(pivot, mas.last) - max(mas.index, lo) + 1
        else:
            skip = True
        if not skip and gap >= size:
            if node_type < 2:
                found = True
                break
            mas.node = slots[offset]
            mas.min = lo
            mas.max = pivot
            offset = 0
            break
        lo = pivot + 1
        if mas.last <= pivot:
            mas_set_err(mas, -errno.EBUSY)
            return True
        offset += 1
    mas.offset = offset
    return found


def mas_rewind_node(mas: MaStateFields) -> bool:
    """Mirror of ``mas_rewind_node()``: step to the previous slot, ascending as needed."""
    while True:
        node = mas.node
        assert node is not None
        if node.is_root:
            slot = mas.offset
            if not slot:
                return False
        else:
            mas_ascend(mas)
            slot = mas.offset
        if slot:
            break
    mas.offset = slot - 1
    return True


def mas_skip_node(mas: MaStateFields) -> bool:
    """Mirror of ``mas_skip_node()``: step past this node, ascending as needed."""
    if mas.status == ERROR:
        return False
    while True:
        node = mas.node
        assert node is not None
        if node.is_root:
            if mas.offset >= mas_data_end(mas):
                mas_set_err(mas, -errno.EBUSY)
                return False
        else:
            mas_ascend(mas)
        if mas.offset < mas_data_end(mas):
            break
    mas.offset += 1
    return True


def mas_awalk(mas: MaStateFields, size: int) -> None:
    """Mirror of ``mas_awalk()``: search low to high for a gap of ``size``."""
    last: MapleNode | None = None
    while mas.status != ERROR and not mas_anode_descend(mas, size):
        if last is mas.node:
            mas_skip_node(mas)
        else:
            last = mas.node


def mas_sparse_area(mas: MaStateFields, lo: int, hi: int, size: int, fwd: bool) -> int:
    """Mirror of ``mas_sparse_area()``: the answer for an empty or single-entry tree."""
    if mas.status != NONE and lo == 0:
        lo += 1
        # The minimum moved: check the size still fits.
        if lo > hi or hi - lo + 1 < size:
            return -errno.EBUSY
    if fwd:
        mas.index = lo
        mas.last = lo + size - 1
    else:
        mas.last = hi
        mas.index = hi - size + 1
    return 0


def mas_empty_area(mas: MaStateFields, lo: int, hi: int, size: int) -> int:
    """Mirror of ``mas_empty_area()``: the lowest gap of ``size`` inside ``[lo, hi]``.

    Returns 0 with ``index`` = the lowest usable start and ``last = index + size - 1``,
    -EINVAL (``lo > hi``, ``size == 0`` or the window is smaller than ``size``) or -EBUSY.
    """
    if lo > hi:
        return -errno.EINVAL
    if size == 0 or hi - lo < size - 1:
        return -errno.EINVAL
    if mas.status == START:
        mas_start(mas)
    elif mas.offset >= 2:
        mas.offset -= 2
    elif not mas_skip_node(mas):
        return -errno.EBUSY

    if mas.status == NONE or mas.status == ROOT:
        return mas_sparse_area(mas, lo, hi, size, True)

    # The start of the window can only be within these values.
    mas.index = lo
    mas.last = hi
    mas_awalk(mas, size)
    if mas.status == ERROR:
        return mas.error

    node = mas.node
    assert node is not None
    offset = mas.offset
    lo = mas_safe_min(mas, node.pivot, offset)
    if mas.index < lo:
        mas.index = lo
    mas.last = mas.index + size - 1
    mas.end = ma_data_end(node, node.type, node.pivot, mas.max)
    return 0


def mas_empty_area_rev(mas: MaStateFields, lo: int, hi: int, size: int) -> int:
    """Mirror of ``mas_empty_area_rev()``: the highest gap of ``size`` inside ``[lo, hi]``.

    Returns 0 with ``last`` = min(end of the highest fitting gap, ``hi``) and
    ``index = last - size + 1``, -EINVAL or -EBUSY (as :func:`mas_empty_area`).
    """
    last = mas.node
    if lo > hi:
        return -errno.EINVAL
    if size == 0 or hi - lo < size - 1:
        return -errno.EINVAL
    if mas.status == START:
        mas_start(mas)
    elif mas.offset < 2 and not mas_rewind_node(mas):
        return -errno.EBUSY

    if mas.status == NONE or mas.status == ROOT:
        return mas_sparse_area(mas, lo, hi, size, False)
    if mas.offset >= 2:
        mas.offset -= 2
    else:
        mas.offset = mas_data_end(mas)

    # The start of the window can only be within these values.
    mas.index = lo
    mas.last = hi
    while True:
        found, _gap_min, gap_max = mas_rev_awalk(mas, size)
        if found:
            break
        if mas.status == ERROR:
            break
        if last is mas.node:
            if not mas_rewind_node(mas):
                return -errno.EBUSY
        else:
            last = mas.node

    if mas.status == ERROR:
        return mas.error
    if mas.offset == MAPLE_NODE_SLOTS:
        return -errno.EBUSY
    # Trim the upper limit to the max.
    if gap_max < mas.last:
        mas.last = gap_max
    mas.index = mas.last - size + 1
    mas.end = mas_data_end(mas)
    return 0


__all__ = [
    "ACTIVE",
    "mas_awalk",
    "mas_empty_area",
    "mas_empty_area_rev",
    "mas_leaf_max_gap",
    "mas_max_gap",
    "mas_parent_gap",
    "mas_rev_awalk",
    "mas_set_err",
    "mas_update_gap",
]
