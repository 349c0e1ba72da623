"""Constants of lib/maple_tree.c and include/linux/maple_tree.h (64-bit build).

The names are the kernel's, so a grep finds the same thing in both trees.
"""

from __future__ import annotations

from enum import IntEnum

ULONG_MAX: int = (1 << 64) - 1
"""The largest index (``unsigned long`` on x86_64)."""

# Node geometry (include/linux/maple_tree.h, 64-bit sizes).
MAPLE_NODE_SLOTS = 31
MAPLE_RANGE64_SLOTS = 16
MAPLE_ARANGE64_SLOTS = 10
MAPLE_HEIGHT_MAX = 31
MAPLE_RESERVED_RANGE = 4096
MAPLE_BIG_NODE_SLOTS = MAPLE_RANGE64_SLOTS * 2 + 2
MAPLE_BIG_NODE_GAPS = MAPLE_ARANGE64_SLOTS * 2 + 1

# Tree flags (ma_flags).
MT_FLAGS_ALLOC_RANGE = 0x01
MT_FLAGS_USE_RCU = 0x02
MT_FLAGS_HEIGHT_OFFSET = 0x02
MT_FLAGS_HEIGHT_MASK = 0x7C
MT_FLAGS_LOCK_MASK = 0x300
MT_FLAGS_LOCK_IRQ = 0x100
MT_FLAGS_LOCK_BH = 0x200
MT_FLAGS_LOCK_EXTERN = 0x300
MT_FLAGS_ALLOC_WRAPPED = 0x0800

# Maple state flags.
MA_STATE_PREALLOC = 1


class MapleType(IntEnum):
    """``enum maple_type``: the node kinds. Only the last three are built by current kernels."""

    maple_dense = 0
    maple_leaf_64 = 1
    maple_range_64 = 2
    maple_arange_64 = 3


# Plain ints, as node.type holds them: comparing exact ints is the interpreter's fast path,
# and these comparisons run at every level of every walk.
maple_dense: int = int(MapleType.maple_dense)
maple_leaf_64: int = int(MapleType.maple_leaf_64)
maple_range_64: int = int(MapleType.maple_range_64)
maple_arange_64: int = int(MapleType.maple_arange_64)

# Per-type tables, indexed by MapleType (mt_slots, mt_pivots, mt_min_slots).
mt_slots: tuple[int, ...] = (
    MAPLE_NODE_SLOTS,
    MAPLE_RANGE64_SLOTS,
    MAPLE_RANGE64_SLOTS,
    MAPLE_ARANGE64_SLOTS,
)
mt_pivots: tuple[int, ...] = (
    0,
    MAPLE_RANGE64_SLOTS - 1,
    MAPLE_RANGE64_SLOTS - 1,
    MAPLE_ARANGE64_SLOTS - 1,
)
mt_min_slots: tuple[int, ...] = (
    MAPLE_NODE_SLOTS // 2,
    (MAPLE_RANGE64_SLOTS // 2) - 2,
    (MAPLE_RANGE64_SLOTS // 2) - 2,
    (MAPLE_ARANGE64_SLOTS // 2) - 1,
)
# mt_max[] of CONFIG_DEBUG_MAPLE_TREE: the largest index a node type can hold.
mt_max: tuple[int, ...] = (MAPLE_NODE_SLOTS, ULONG_MAX, ULONG_MAX, ULONG_MAX)


class MapleStatus(IntEnum):
    """``enum maple_status``: where a maple state stands between operations."""

    ma_active = 0
    ma_start = 1
    ma_root = 2
    ma_none = 3
    ma_pause = 4
    ma_overflow = 5
    ma_underflow = 6
    ma_error = 7


ma_active = MapleStatus.ma_active
ma_start = MapleStatus.ma_start
ma_root = MapleStatus.ma_root
ma_none = MapleStatus.ma_none
ma_pause = MapleStatus.ma_pause
ma_overflow = MapleStatus.ma_overflow
ma_underflow = MapleStatus.ma_underflow
ma_error = MapleStatus.ma_error


class StoreType(IntEnum):
    """``enum store_type``: the write path chosen by the walk that precedes a store."""

    wr_invalid = 0
    wr_new_root = 1
    wr_store_root = 2
    wr_exact_fit = 3
    wr_spanning_store = 4
    wr_split_store = 5
    wr_rebalance = 6
    wr_append = 7
    wr_node_store = 8
    wr_slot_store = 9


wr_invalid = StoreType.wr_invalid
wr_new_root = StoreType.wr_new_root
wr_store_root = StoreType.wr_store_root
wr_exact_fit = StoreType.wr_exact_fit
wr_spanning_store = StoreType.wr_spanning_store
wr_split_store = StoreType.wr_split_store
wr_rebalance = StoreType.wr_rebalance
wr_append = StoreType.wr_append
wr_node_store = StoreType.wr_node_store
wr_slot_store = StoreType.wr_slot_store
