"""The maple tree of lib/maple_tree.c in Python: same results, same states, same nodes.

Modules, in the order data flows: ``constants`` and ``entry`` (the kernel's enums and entry
encodings), ``node`` (a node's layout), ``state`` (``struct ma_state``), ``walk`` (reads and
moves), ``gap`` (gap tracking and search), ``write`` (store types, split, rebalance,
spanning store), ``normal`` (the ``mtree_*`` API), ``mapletree`` (the Pythonic classes),
``validate`` (``mt_validate``) and ``dump`` (``mt_dump``).
"""

from maplevm.tree.constants import (
    MT_FLAGS_ALLOC_RANGE,
    MT_FLAGS_LOCK_EXTERN,
    MT_FLAGS_USE_RCU,
    ULONG_MAX,
    MapleStatus,
    MapleType,
    StoreType,
)
from maplevm.tree.entry import (
    XA_ZERO_ENTRY,
    XaInternal,
    XaValue,
    xa_is_value,
    xa_is_zero,
    xa_mk_value,
    xa_to_value,
)
from maplevm.tree.errors import (
    EntryExists,
    InvalidArgument,
    MapleBug,
    MapleError,
    NoSpace,
    OutOfMemory,
)
from maplevm.tree.mapletree import MapleTree, MaState

MM_MT_FLAGS = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN | MT_FLAGS_USE_RCU
"""The flags of ``mm->mm_mt`` (include/linux/mm_types.h)."""

__all__ = [
    "MM_MT_FLAGS",
    "MT_FLAGS_ALLOC_RANGE",
    "MT_FLAGS_LOCK_EXTERN",
    "MT_FLAGS_USE_RCU",
    "ULONG_MAX",
    "XA_ZERO_ENTRY",
    "EntryExists",
    "InvalidArgument",
    "MaState",
    "MapleBug",
    "MapleError",
    "MapleStatus",
    "MapleTree",
    "MapleType",
    "NoSpace",
    "OutOfMemory",
    "StoreType",
    "XaInternal",
    "XaValue",
    "xa_is_value",
    "xa_is_zero",
    "xa_mk_value",
    "xa_to_value",
]
