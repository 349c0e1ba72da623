"""A maple node, laid out as the kernel lays it out.

``struct maple_range_64`` (leaves and internal nodes of ordinary trees) has 15 pivots and
16 slots; ``struct maple_arange_64`` (internal nodes of ``MT_FLAGS_ALLOC_RANGE`` trees) has 9
pivots, 10 slots and 10 gaps.  Pivot ``i`` is the inclusive upper bound of slot ``i``; the
last slot's bound is the node's implied maximum, which the parent holds.  Both kinds keep a
``maple_metadata {end, gap}``: the arange node in a field of its own, the range node in the
bytes of its last slot, which is why a full range node has no metadata and the kernel finds
its end from the pivots (:func:`ma_data_end`).

The arrays are fixed-size Python lists with the kernel's zero/NULL fill, so the quirks the
kernel relies on (a zero pivot ends the data, pivots past the end are zero) hold here too.
Parent links are object references; ``parent is self`` marks a dead node, as the kernel's
``mte_set_node_dead()`` does.
"""

from __future__ import annotations

from itertools import count
from typing import Any

from maplevm.tree.constants import (
    MAPLE_ARANGE64_SLOTS,
    MAPLE_RANGE64_SLOTS,
    maple_arange_64,
    mt_pivots,
)

# Fake kernel addresses for dumps: 256-byte aligned like real maple nodes.
_NODE_BASE = 0xFFFF_8880_0000_0000
_node_ids = count()


class MapleNode:
    """One maple node.  ``type`` is the ``enum maple_type`` the kernel encodes in the enode."""

    __slots__ = (
        "addr",
        "gap",
        "is_root",
        "meta_end",
        "meta_gap",
        "parent",
        "parent_slot",
        "pivot",
        "slot",
        "type",
    )

    def __init__(self, node_type: int) -> None:
        self.type = node_type
        if node_type == maple_arange_64:
            self.pivot: list[int] = [0] * (MAPLE_ARANGE64_SLOTS - 1)
            self.slot: list[Any] = [None] * MAPLE_ARANGE64_SLOTS
            self.gap: list[int] | None = [0] * MAPLE_ARANGE64_SLOTS
        else:
            self.pivot = [0] * (MAPLE_RANGE64_SLOTS - 1)
            self.slot = [None] * MAPLE_RANGE64_SLOTS
            self.gap = None
        self.meta_end = 0
        self.meta_gap = 0
        # parent: the parent node (with parent_slot), None with is_root for the root,
        # None without is_root for a node not yet linked, self for a dead node.
        self.parent: MapleNode | None = None
        self.parent_slot = 0
        self.is_root = False
        self.addr = _NODE_BASE + (next(_node_ids) << 8)

    def __repr__(self) -> str:
        kind = ("dense", "leaf_64", "range_64", "arange_64")[self.type]
        return f"<MapleNode {kind} @{self.addr:#x}>"

    def copy_parent_from(self, other: MapleNode) -> None:
        """``new->parent = old->parent``: inherit the parent word (link, slot, root bit)."""
        self.parent = other.parent
        self.parent_slot = other.parent_slot
        self.is_root = other.is_root

    def set_dead(self) -> None:
        """Mirror of ``mte_set_node_dead()``: the parent points to the node itself."""
        self.parent = self
        self.is_root = False

    @property
    def dead(self) -> bool:
        """Mirror of ``ma_dead_node()``."""
        return self.parent is self


# The zero/NULL fill of a new node's arrays, sliced to length by whoever builds one.
ZERO_PIVOTS = [0] * (MAPLE_RANGE64_SLOTS - 1)
NULL_SLOTS: list[Any] = [None] * MAPLE_RANGE64_SLOTS
_ZERO_GAPS = [0] * MAPLE_ARANGE64_SLOTS


def ma_filled_node(
    node_type: int, pivots: list[int], slots: list[Any], gaps: list[int] | None
) -> MapleNode:
    """A new node holding ``slots``, as ``mab_mas_cp()`` fills one from a big node.

    ``pivots`` has one pivot per slot (the last one is the node's maximum, kept only when
    a pivot is left for it); ``gaps``, for an arange node of an ``MT_FLAGS_ALLOC_RANGE``
    tree, one gap per slot.  The rest is zero/NULL; the metadata records the data end and,
    with gaps, the offset of the largest one (ties to the highest offset).  The same as
    ``MapleNode(node_type)`` then copying the lists in, without building the empty lists
    first (the write short cuts make nodes this way).
    """
    node = _new_node(MapleNode)
    node.type = node_type
    count = len(slots)
    end = count - 1
    if node_type == maple_arange_64:
        npiv = MAPLE_ARANGE64_SLOTS - 1
        node.slot = slots + NULL_SLOTS[: MAPLE_ARANGE64_SLOTS - count]
        if gaps is not None:
            node.gap = gaps + _ZERO_GAPS[: MAPLE_ARANGE64_SLOTS - count]
            max_gap = max(gaps)
            node.meta_gap = end - gaps[::-1].index(max_gap) if max_gap > 0 else 0
        else:
            node.gap = _ZERO_GAPS[:]
            node.meta_gap = 0
        node.meta_end = end
    else:
        npiv = MAPLE_RANGE64_SLOTS - 1
        node.slot = slots + NULL_SLOTS[: MAPLE_RANGE64_SLOTS - count]
        node.gap = None
        node.meta_gap = 0
        node.meta_end = end if end < npiv else 0  # a full range node has no metadata
    if count < npiv:
        node.pivot = pivots[:count] + ZERO_PIVOTS[: npiv - count]
    else:
        node.pivot = pivots[:npiv]
    node.parent = None
    node.parent_slot = 0
    node.is_root = False
    node.addr = _NODE_BASE + (next(_node_ids) << 8)
    return node


_new_node = object.__new__


def ma_is_leaf(node_type: int) -> bool:
    """Mirror of ``ma_is_leaf()``: dense and leaf_64 nodes hold entries, not children."""
    return node_type < 2


def ma_data_end(node: MapleNode, node_type: int, pivots: list[int], node_max: int) -> int:
    """Mirror of ``ma_data_end()``: the offset of the last slot in use (may hold NULL).

    Uses the metadata unless the node is full, which the last pivot tells: zero means the
    metadata is valid, equal to the node max means the data ends at the last pivot, any
    other value means every slot is used.
    """
    if node_type == maple_arange_64:
        return node.meta_end
    offset = mt_pivots[node_type] - 1
    last_piv = pivots[offset]
    if not last_piv:
        return node.meta_end
    if last_piv == node_max:
        return offset
    return mt_pivots[node_type]


def ma_set_meta(node: MapleNode, offset: int, end: int) -> None:
    """Mirror of ``ma_set_meta()``: record the data end and the offset of the largest gap."""
    node.meta_gap = offset
    node.meta_end = end


def mas_leaf_set_meta(node: MapleNode, node_type: int, end: int) -> None:
    """Mirror of ``mas_leaf_set_meta()``: a full range node has no room for metadata."""
    if end < MAPLE_RANGE64_SLOTS - 1:
        node.meta_gap = 0
        node.meta_end = end


def ma_max_gap(node: MapleNode, gaps: list[int]) -> tuple[int, int]:
    """Mirror of ``ma_max_gap()``: scan the gaps backwards from the data end.

    Returns ``(max_gap, offset)``; ties keep the highest offset, as the kernel's loop does.
    """
    i = offset = node.meta_end
    max_gap = 0
    while True:
        if gaps[i] > max_gap:
            max_gap = gaps[i]
            offset = i
        if i == 0:
            break
        i -= 1
    return max_gap, offset


def mt_clear_meta(node: MapleNode) -> None:
    """Mirror of ``mt_clear_meta()`` for a node whose contents are discarded."""
    node.meta_end = 0
    node.meta_gap = 0
