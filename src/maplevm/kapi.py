"""The maple tree under its kernel names, returning what the C functions return.

Kernel code ports line by line: ``0`` / ``-errno`` / the entry / ``None`` come back as in
C; out-parameters become returned tuples (``mtree_alloc_range`` returns ``(ret, start)``,
``mt_find`` returns ``(entry, next_index)``).  A ``gfp`` argument may be passed and is
ignored.  A maple state made by :func:`MA_STATE` exposes ``index``, ``last``, ``status``
(the ``maple_status`` values below), ``node``, ``offset``, ``min``, ``max``, ``depth``.

>>> from maplevm.kapi import *
>>> mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
>>> mtree_store_range(mt, 10, 19, xa_mk_value(1), GFP_KERNEL)
0
>>> mtree_insert(mt, 15, xa_mk_value(2), GFP_KERNEL)
-17
>>> mas = MA_STATE(mt, 0, 0)
>>> mas_empty_area_rev(mas, 0, 100, 5), mas.index, mas.last
(0, 96, 100)
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

from maplevm.tree.constants import (
    MT_FLAGS_ALLOC_RANGE,
    MT_FLAGS_ALLOC_WRAPPED,
    MT_FLAGS_HEIGHT_MASK,
    MT_FLAGS_LOCK_EXTERN,
    MT_FLAGS_USE_RCU,
    ULONG_MAX,
    MapleStatus,
    StoreType,
)
from maplevm.tree.dump import mt_dump as _mt_dump
from maplevm.tree.entry import (
    XA_ZERO_ENTRY,
    mt_is_reserved,
    xa_is_value,
    xa_is_zero,
    xa_mk_value,
    xa_to_value,
)
from maplevm.tree.gap import mas_empty_area, mas_empty_area_rev
from maplevm.tree.mapletree import MapleTree, MaState
from maplevm.tree.normal import (
    mt_find,
    mt_find_after,
    mt_next,
    mt_prev,
    mtree_alloc_cyclic,
    mtree_alloc_range,
    mtree_alloc_rrange,
    mtree_destroy,
    mtree_dup,
    mtree_insert,
    mtree_insert_range,
    mtree_load,
    mtree_store,
    mtree_store_range,
)
from maplevm.tree.state import MaStateFields
from maplevm.tree.validate import mt_validate
from maplevm.tree.walk import (
    __mas_set_range,
    mas_find,
    mas_find_range,
    mas_find_range_rev,
    mas_find_rev,
    mas_next,
    mas_next_range,
    mas_pause,
    mas_prev,
    mas_prev_range,
    mas_reset,
    mas_set,
    mas_set_range,
    mas_walk,
)
from maplevm.tree.write import (
    mas_destroy,
    mas_erase,
    mas_insert,
    mas_preallocate,
    mas_store,
    mas_store_gfp,
    mas_store_prealloc,
    mtree_erase,
)

GFP_KERNEL = 0
GFP_NOWAIT = 0
MM_MT_FLAGS = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN | MT_FLAGS_USE_RCU

ma_active = MapleStatus.ma_active
ma_start = MapleStatus.ma_start
ma_root = MapleStatus.ma_root
ma_none = MapleStatus.ma_none
ma_pause = MapleStatus.ma_pause
ma_overflow = MapleStatus.ma_overflow
ma_underflow = MapleStatus.ma_underflow
ma_error = MapleStatus.ma_error

mt_dump_dec = "dec"
mt_dump_hex = "hex"


def mt_init_flags(flags: int = 0) -> MapleTree:
    """Mirror of ``mt_init_flags()``: a new empty tree (the C version fills one in)."""
    return MapleTree(flags)


def mt_init() -> MapleTree:
    """Mirror of ``mt_init()``."""
    return MapleTree(0)


def MA_STATE(mt: MapleTree, first: int, last: int) -> MaState:
    """Mirror of the ``MA_STATE(name, mt, first, last)`` macro."""
    return MaState(mt, first, last)


def mas_init(mas: MaStateFields, mt: MapleTree, addr: int) -> None:
    """Mirror of ``mas_init()``."""
    MaStateFields.__init__(mas, mt, addr, addr)


def mt_height(mt: MapleTree) -> int:
    """Mirror of ``mt_height()``."""
    return (mt.ma_flags & MT_FLAGS_HEIGHT_MASK) >> 2


def mtree_empty(mt: MapleTree) -> bool:
    """Mirror of ``mtree_empty()``."""
    return mt.ma_root is None


def mt_in_rcu(mt: MapleTree) -> bool:
    """Mirror of ``mt_in_rcu()``."""
    return bool(mt.ma_flags & MT_FLAGS_USE_RCU)


def mt_set_in_rcu(mt: MapleTree) -> None:
    """Mirror of ``mt_set_in_rcu()``."""
    mt.ma_flags |= MT_FLAGS_USE_RCU


def mt_clear_in_rcu(mt: MapleTree) -> None:
    """Mirror of ``mt_clear_in_rcu()``."""
    mt.ma_flags &= ~MT_FLAGS_USE_RCU


def mt_for_each(mt: MapleTree, index: int, hi: int) -> Iterator[Any]:
    """Mirror of the ``mt_for_each(mt, entry, index, max)`` loop: yields each entry.

    Zero entries are skipped, as ``mt_find()`` skips them.
    """
    entry, index = mt_find(mt, index, hi)
    while entry is not None:
        yield entry
        entry, index = mt_find_after(mt, index, hi)


def mas_for_each(mas: MaStateFields, hi: int) -> Iterator[Any]:
    """Mirror of the ``mas_for_each(mas, entry, max)`` loop (zero entries included)."""
    while True:
        entry = mas_find(mas, hi)
        if entry is None:
            return
        yield entry


def mas_for_each_rev(mas: MaStateFields, lo: int) -> Iterator[Any]:
    """Mirror of the ``mas_for_each_rev(mas, entry, min)`` loop."""
    while True:
        entry = mas_find_rev(mas, lo)
        if entry is None:
            return
        yield entry


def mas_is_err(mas: MaStateFields) -> bool:
    """Mirror of ``mas_is_err()``."""
    return mas.status == ma_error


def xa_err(mas: MaStateFields) -> int:
    """``xa_err(mas->node)``: the negative errno of a state in ``ma_error``, else 0."""
    return mas.error if mas.status == ma_error else 0


def mt_dump(mt: MapleTree, fmt: str = mt_dump_hex) -> str:
    """Mirror of ``mt_dump()``: returns the text the kernel would print."""
    return _mt_dump(mt, fmt)


def __mt_destroy(mt: MapleTree) -> None:
    """Mirror of ``__mt_destroy()``."""
    mtree_destroy(mt)


def __mt_dup(mt: MapleTree, new: MapleTree, gfp: int = 0) -> int:
    """Mirror of ``__mt_dup()``."""
    return mtree_dup(mt, new, gfp)


__all__ = [
    "GFP_KERNEL",
    "GFP_NOWAIT",
    "MA_STATE",
    "MM_MT_FLAGS",
    "MT_FLAGS_ALLOC_RANGE",
    "MT_FLAGS_ALLOC_WRAPPED",
    "MT_FLAGS_LOCK_EXTERN",
    "MT_FLAGS_USE_RCU",
    "ULONG_MAX",
    "XA_ZERO_ENTRY",
    "MapleStatus",
    "StoreType",
    "errno",
    "ma_active",
    "ma_error",
    "ma_none",
    "ma_overflow",
    "ma_pause",
    "ma_root",
    "ma_start",
    "ma_underflow",
    "mas_destroy",
    "mas_empty_area",
    "mas_empty_area_rev",
    "mas_erase",
    "mas_find",
    "mas_find_range",
    "mas_find_range_rev",
    "mas_find_rev",
    "mas_for_each",
    "mas_for_each_rev",
    "mas_init",
    "mas_insert",
    "mas_is_err",
    "mas_next",
    "mas_next_range",
    "mas_pause",
    "mas_preallocate",
    "mas_prev",
    "mas_prev_range",
    "mas_reset",
    "mas_set",
    "mas_set_range",
    "mas_store",
    "mas_store_gfp",
    "mas_store_prealloc",
    "mas_walk",
    "mt_clear_in_rcu",
    "mt_dump",
    "mt_dump_dec",
    "mt_dump_hex",
    "mt_find",
    "mt_find_after",
    "mt_for_each",
    "mt_height",
    "mt_in_rcu",
    "mt_init",
    "mt_init_flags",
    "mt_is_reserved",
    "mt_next",
    "mt_prev",
    "mt_set_in_rcu",
    "mt_validate",
    "mtree_alloc_cyclic",
    "mtree_alloc_range",
    "mtree_alloc_rrange",
    "mtree_destroy",
    "mtree_dup",
    "mtree_empty",
    "mtree_erase",
    "mtree_insert",
    "mtree_insert_range",
    "mtree_load",
    "mtree_store",
    "mtree_store_range",
    "xa_err",
    "xa_is_value",
    "xa_is_zero",
    "xa_mk_value",
    "xa_to_value",
]
# Double-underscore kernel names are importable explicitly:
# from maplevm.kapi import __mas_set_range, __mt_destroy, __mt_dup
_ = (__mas_set_range, ULONG_MAX)
