"""The normal API of lib/maple_tree.c (``mtree_*``, ``mt_*``), kernel-style return values.

These take the tree lock in the kernel; the model is single-threaded, so they are the
advanced-API sequences the kernel runs under the lock.  Argument checks the C code cannot
make (an index outside ``[0, ULONG_MAX]``) return -EINVAL like the checks it does make.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from maplevm.tree.constants import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_HEIGHT_MASK, ULONG_MAX
from maplevm.tree.entry import mt_is_reserved, xa_is_advanced, xa_is_zero
from maplevm.tree.gap import mas_empty_area, mas_empty_area_rev
from maplevm.tree.node import MapleNode
from maplevm.tree.state import MaStateFields
from maplevm.tree.walk import (
    ERROR,
    NONE,
    ROOT,
    START,
    mas_next,
    mas_prev,
    mas_start,
    mt_find_walk,
    mtree_lookup_walk,
)
from maplevm.tree.write import (
    mas_alloc_cyclic,
    mas_destroy,
    mas_insert,
    mas_nomem,
    mas_store_gfp,
    mte_destroy_walk,
)

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree


def valid_index(value: int) -> bool:
    """Is ``value`` an ``unsigned long``?"""
    return value.__class__ is int and 0 <= value <= ULONG_MAX


def mtree_load(mt: MapleTree, index: int) -> Any:
    """Mirror of ``mtree_load()``: the entry at ``index`` (zero entries read as None)."""
    mas = MaStateFields(mt, index, index)
    while True:
        entry = mas_start(mas)
        if mas.status == NONE:
            return None
        if mas.status == ROOT:
            if index:
                entry = None
            break
        entry = mtree_lookup_walk(mas)
        if entry is None and mas.status == START:
            continue
        break
    if xa_is_zero(entry):
        return None
    return entry


def mtree_store_range(mt: MapleTree, index: int, last: int, entry: Any, gfp: int = 0) -> int:
    """Mirror of ``mtree_store_range()``: 0, -EINVAL or -ENOMEM."""
    if xa_is_advanced(entry):
        return -errno.EINVAL
    if not (valid_index(index) and valid_index(last)) or index > last:
        return -errno.EINVAL
    mas = MaStateFields(mt, index, last)
    return mas_store_gfp(mas, entry, gfp)


def mtree_store(mt: MapleTree, index: int, entry: Any, gfp: int = 0) -> int:
    """Mirror of ``mtree_store()``."""
    return mtree_store_range(mt, index, index, entry, gfp)


def mtree_insert_range(mt: MapleTree, first: int, last: int, entry: Any, gfp: int = 0) -> int:
    """Mirror of ``mtree_insert_range()``: 0, -EEXIST, -EINVAL or -ENOMEM."""
    if xa_is_advanced(entry):
        return -errno.EINVAL
    if not (valid_index(first) and valid_index(last)) or first > last:
        return -errno.EINVAL
    ms = MaStateFields(mt, first, last)
    while True:
        mas_insert(ms, entry)
        if not mas_nomem(ms, gfp):
            break
    ret = ms.error if ms.status == ERROR else 0
    mas_destroy(ms)
    return ret


def mtree_insert(mt: MapleTree, index: int, entry: Any, gfp: int = 0) -> int:
    """Mirror of ``mtree_insert()``."""
    return mtree_insert_range(mt, index, index, entry, gfp)


def _alloc(mt: MapleTree, entry: Any, size: int, lo: int, hi: int, rev: bool) -> tuple[int, int]:
    if not mt.ma_flags & MT_FLAGS_ALLOC_RANGE:
        return -errno.EINVAL, 0
    if mt_is_reserved(entry):
        return -errno.EINVAL, 0
    if not (valid_index(size) and valid_index(lo) and valid_index(hi)):
        return -errno.EINVAL, 0
    mas = MaStateFields(mt, 0, 0)
    start = 0
    while True:
        ret = mas_empty_area_rev(mas, lo, hi, size) if rev else mas_empty_area(mas, lo, hi, size)
        if ret:
            break
        mas_insert(mas, entry)
        # mas_nomem() may drop the lock in the kernel, so the area is searched again.
        if mas_nomem(mas):
            continue
        if mas.status == ERROR:
            ret = mas.error
        else:
            start = mas.index
        break
    mas_destroy(mas)
    return ret, start


def mtree_alloc_range(
    mt: MapleTree, entry: Any, size: int, lo: int, hi: int, gfp: int = 0
) -> tuple[int, int]:
    """Mirror of ``mtree_alloc_range()``: store ``entry`` at the lowest fitting gap.

    Returns ``(ret, start)``: 0 and the start, or -EINVAL / -EBUSY / -ENOMEM.
    """
    return _alloc(mt, entry, size, lo, hi, False)


def mtree_alloc_rrange(
    mt: MapleTree, entry: Any, size: int, lo: int, hi: int, gfp: int = 0
) -> tuple[int, int]:
    """Mirror of ``mtree_alloc_rrange()``: like mtree_alloc_range, highest fit."""
    return _alloc(mt, entry, size, lo, hi, True)


def mtree_alloc_cyclic(
    mt: MapleTree, entry: Any, range_lo: int, range_hi: int, nxt: int, gfp: int = 0
) -> tuple[int, int, int]:
    """Mirror of ``mtree_alloc_cyclic()``: returns ``(ret, start, next)``.

    ``ret`` is 0, 1 when the search wrapped, -EBUSY, -EINVAL or -ENOMEM.
    """
    if not mt.ma_flags & MT_FLAGS_ALLOC_RANGE:
        return -errno.EINVAL, 0, nxt
    if mt_is_reserved(entry):
        return -errno.EINVAL, 0, nxt
    mas = MaStateFields(mt, 0, 0)
    return mas_alloc_cyclic(mas, entry, range_lo, range_hi, nxt)


def __mt_destroy(mt: MapleTree) -> None:
    """Mirror of ``__mt_destroy()``: drop every node; the flags lose the height."""
    root = mt.ma_root
    mt.ma_root = None
    if isinstance(root, MapleNode):
        mte_destroy_walk(root, mt)
    mt.ma_flags &= ~MT_FLAGS_HEIGHT_MASK


def mtree_destroy(mt: MapleTree) -> None:
    """Mirror of ``mtree_destroy()``."""
    __mt_destroy(mt)


def mt_find(mt: MapleTree, index: int, hi: int) -> tuple[Any, int]:
    """Mirror of ``mt_find()``: first non-NULL, non-zero entry in ``[index, hi]``.

    Returns ``(entry, next_index)``; ``next_index`` is one past the entry's range (it
    wraps to 0 after ULONG_MAX) or ``index`` unchanged when nothing was found.
    """
    if index > hi:
        return None, index
    mas = MaStateFields(mt, index, index)
    entry = mt_find_walk(mas, hi)
    if entry is not None:
        return entry, (mas.last + 1) & ULONG_MAX
    return None, index


def mt_find_after(mt: MapleTree, index: int, hi: int) -> tuple[Any, int]:
    """Mirror of ``mt_find_after()``: mt_find, unless ``index`` wrapped to 0."""
    if not index:
        return None, index
    return mt_find(mt, index, hi)


def mt_next(mt: MapleTree, index: int, hi: int) -> Any:
    """Mirror of ``mt_next()``: the entry after ``index``, up to ``hi``."""
    mas = MaStateFields(mt, index, index)
    return mas_next(mas, hi)


def mt_prev(mt: MapleTree, index: int, lo: int) -> Any:
    """Mirror of ``mt_prev()``: the entry before ``index``, down to ``lo``."""
    mas = MaStateFields(mt, index, index)
    return mas_prev(mas, lo)


def mtree_dup(mt: MapleTree, new: MapleTree, gfp: int = 0) -> int:
    """Mirror of ``mtree_dup()`` / ``__mt_dup()``: copy the node structure (DFS pre-order).

    The copy has the same nodes, pivots, gaps and metadata; entries are shared.  Returns 0,
    or -EINVAL if the trees' attributes differ or ``new`` is not empty, or -ENOMEM.
    """
    if (mt.ma_flags & ~MT_FLAGS_HEIGHT_MASK) != (new.ma_flags & ~MT_FLAGS_HEIGHT_MASK):
        return -errno.EINVAL
    if new.ma_root is not None:
        return -errno.EINVAL
    if new.alloc_failures > 0 and isinstance(mt.ma_root, MapleNode):
        new.alloc_failures -= 1
        return -errno.ENOMEM
    root = mt.ma_root
    if isinstance(root, MapleNode):
        root = _copy_subtree(root, None, 0)
        root.is_root = True
    new.ma_flags = mt.ma_flags
    new.ma_root = root
    new.zero_entries = mt.zero_entries
    return 0


def _copy_subtree(node: MapleNode, parent: MapleNode | None, slot: int) -> MapleNode:
    copy = MapleNode(node.type)
    copy.pivot[:] = node.pivot
    copy.slot[:] = node.slot
    if node.gap is not None:
        assert copy.gap is not None
        copy.gap[:] = node.gap
    copy.meta_end = node.meta_end
    copy.meta_gap = node.meta_gap
    copy.parent = parent
    copy.parent_slot = slot
    if node.type >= 2:
        for i, child in enumerate(node.slot):
            if isinstance(child, MapleNode) and child.parent is node:
                copy.slot[i] = _copy_subtree(child, copy, i)
    return copy
