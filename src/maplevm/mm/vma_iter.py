"""The VMA iterator (``struct vma_iterator``) and its ``vma_iter_*`` family.

The VMA layer speaks **exclusive** ends (``vm_end``) while the maple tree speaks
**inclusive** ``last``.  Every wrapper here states which it takes: a parameter named
``end`` or ``max`` in the kernel may be either, and this is exactly where the kernel's
off-by-ones live.  ``vma_iter_end()`` reports ``last + 1``; ``vma_iter_config()`` and
``vma_iter_area_lowest/highest()`` take an exclusive upper bound and subtract one;
``vma_iter_next_range_limit()``, ``vma_iter_prev_range_limit()`` and ``vma_prev_limit()`` pass
their bound through unchanged (inclusive).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from maplevm.mm.flags import ULONG_MAX
from maplevm.tree import gap as _gap
from maplevm.tree import walk as _walk
from maplevm.tree import write as _write
from maplevm.tree.constants import MapleStatus
from maplevm.tree.state import MaStateFields

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM
    from maplevm.mm.vm_area import VmArea

ma_start = MapleStatus.ma_start
ma_error = MapleStatus.ma_error


class VmaIterator:
    """``struct vma_iterator { struct ma_state mas; }`` on ``mm->mm_mt``."""

    __slots__ = ("mas", "mm")

    def __init__(self, mm: MM, addr: int = 0) -> None:
        """``VMA_ITERATOR(vmi, mm, addr)`` / ``vma_iter_init()``."""
        self.mm = mm
        self.mas = MaStateFields(mm.mm_mt, addr, addr)

    def __repr__(self) -> str:
        m = self.mas
        return f"<VmaIterator {MapleStatus(m.status).name} index={m.index:#x} last={m.last:#x}>"


def vma_iter_init(vmi: VmaIterator, mm: MM, addr: int) -> None:
    """``vma_iter_init()``: restart at ``addr`` (ma_start)."""
    vmi.mm = mm
    vmi.mas = MaStateFields(mm.mm_mt, addr, addr)


def vma_find(vmi: VmaIterator, end: int) -> VmArea | None:
    """``vma_find()``: the first VMA at or after the iterator with ``vm_start < end``.

    ``end`` is **exclusive** (``mas_find(mas, end - 1)``).
    """
    vma: VmArea | None = _walk.mas_find(vmi.mas, end - 1)
    return vma


def vma_next(vmi: VmaIterator) -> VmArea | None:
    """``vma_next()``: ``mas_find(mas, ULONG_MAX)``; the first call returns the VMA at the
    iterator's index if there is one (unlike ``mas_next``)."""
    vma: VmArea | None = _walk.mas_find(vmi.mas, ULONG_MAX)
    return vma


def vma_prev(vmi: VmaIterator) -> VmArea | None:
    """``vma_prev()``: ``mas_prev(mas, 0)``: the previous VMA, skipping gaps."""
    vma: VmArea | None = _walk.mas_prev(vmi.mas, 0)
    return vma


def vma_iter_next_range(vmi: VmaIterator) -> VmArea | None:
    """``vma_iter_next_range()``: one range forward, a VMA or a gap (None)."""
    vma: VmArea | None = _walk.mas_next_range(vmi.mas, ULONG_MAX)
    return vma


def vma_iter_prev_range(vmi: VmaIterator) -> VmArea | None:
    """``vma_iter_prev_range()``: one range back, a VMA or a gap (None)."""
    vma: VmArea | None = _walk.mas_prev_range(vmi.mas, 0)
    return vma


def vma_iter_next_range_limit(vmi: VmaIterator, max_: int) -> VmArea | None:
    """``vma_iter_next_range_limit()``: ``mas_next_range(mas, max)``; ``max`` **inclusive**."""
    vma: VmArea | None = _walk.mas_next_range(vmi.mas, max_)
    return vma


def vma_iter_prev_range_limit(vmi: VmaIterator, min_: int) -> VmArea | None:
    """``vma_iter_prev_range_limit()``: ``mas_prev_range(mas, min)``; ``min`` inclusive."""
    vma: VmArea | None = _walk.mas_prev_range(vmi.mas, min_)
    return vma


def vma_prev_limit(vmi: VmaIterator, min_: int) -> VmArea | None:
    """``vma_prev_limit()`` (mm/vma.h): ``mas_prev(mas, min)``; ``min`` **inclusive**."""
    vma: VmArea | None = _walk.mas_prev(vmi.mas, min_)
    return vma


def vma_iter_set(vmi: VmaIterator, addr: int) -> None:
    """``vma_iter_set()``: ``mas_set()``."""
    _walk.mas_set(vmi.mas, addr)


def vma_iter_reset(vmi: VmaIterator) -> None:
    """``vma_iter_reset()``: ``mas_reset()``."""
    _walk.mas_reset(vmi.mas)


def vma_iter_invalidate(vmi: VmaIterator) -> None:
    """``vma_iter_invalidate()``: ``mas_pause()``."""
    _walk.mas_pause(vmi.mas)


def vma_iter_config(vmi: VmaIterator, index: int, last: int) -> None:
    """``vma_iter_config()``: ``__mas_set_range(mas, index, last - 1)``.

    Despite the kernel's parameter name, ``last`` is an **exclusive** end.
    """
    _walk.__mas_set_range(vmi.mas, index, last - 1)


def vma_iter_addr(vmi: VmaIterator) -> int:
    """``vma_iter_addr()``: ``mas.index`` (inclusive start)."""
    return vmi.mas.index


def vma_iter_end(vmi: VmaIterator) -> int:
    """``vma_iter_end()``: ``mas.last + 1``, an **exclusive** end."""
    return vmi.mas.last + 1


def vma_iter_load(vmi: VmaIterator) -> VmArea | None:
    """``vma_iter_load()``: ``mas_walk()``: the VMA at the index (index/last = its range)."""
    vma: VmArea | None = _walk.mas_walk(vmi.mas)
    return vma


def vma_iter_area_lowest(vmi: VmaIterator, min_: int, max_: int, size: int) -> int:
    """``vma_iter_area_lowest()``: ``mas_empty_area(mas, min, max - 1, size)``.

    ``min`` inclusive, ``max`` **exclusive**.  Returns 0 or -errno.
    """
    return _gap.mas_empty_area(vmi.mas, min_, max_ - 1, size)


def vma_iter_area_highest(vmi: VmaIterator, min_: int, max_: int, size: int) -> int:
    """``vma_iter_area_highest()``: ``mas_empty_area_rev(mas, min, max - 1, size)``.

    ``min`` inclusive, ``max`` **exclusive**.  Returns 0 or -errno.
    """
    return _gap.mas_empty_area_rev(vmi.mas, min_, max_ - 1, size)


def vma_iter_prealloc(vmi: VmaIterator, vma: VmArea | None) -> int:
    """``vma_iter_prealloc()``: ``mas_preallocate()`` for the configured range; 0/-ENOMEM."""
    return _write.mas_preallocate(vmi.mas, vma)


def vma_iter_store_overwrite(vmi: VmaIterator, vma: VmArea) -> None:
    """``vma_iter_store_overwrite()``: store ``vma`` over ``[vm_start, vm_end - 1]`` with
    the preallocated nodes (repositioning first if the iterator is elsewhere)."""
    mas = vmi.mas
    if mas.status != ma_start and (mas.index > vma.vm_start or mas.last < vma.vm_start):
        vma_iter_invalidate(vmi)
    _walk.__mas_set_range(mas, vma.vm_start, vma.vm_end - 1)
    _write.mas_store_prealloc(mas, vma)


def vma_iter_store_new(vmi: VmaIterator, vma: VmArea) -> None:
    """``vma_iter_store_new()``: mark attached, then store_overwrite."""
    vma.attached = True
    vma_iter_store_overwrite(vmi, vma)


def vma_iter_store_gfp(vmi: VmaIterator, vma: VmArea) -> int:
    """``vma_iter_store_gfp()`` (mm/vma.h): store, allocating; 0 or -ENOMEM."""
    mas = vmi.mas
    if mas.status != ma_start and (mas.index > vma.vm_start or mas.last < vma.vm_start):
        vma_iter_invalidate(vmi)
    _walk.__mas_set_range(mas, vma.vm_start, vma.vm_end - 1)
    _write.mas_store_gfp(mas, vma)
    if mas.status == ma_error:
        return -12
    vma.attached = True
    return 0


def vma_iter_bulk_store(vmi: VmaIterator, vma: VmArea) -> int:
    """``vma_iter_bulk_store()``: index/last from the VMA, ``mas_store()`` (used by fork)."""
    mas = vmi.mas
    mas.index = vma.vm_start
    mas.last = vma.vm_end - 1
    _write.mas_store(mas, vma)
    return -12 if mas.status == ma_error else 0


def vma_iter_clear(vmi: VmaIterator) -> None:
    """``vma_iter_clear()``: ``mas_store_prealloc(mas, NULL)`` over the configured range."""
    _write.mas_store_prealloc(vmi.mas, None)


def vma_iter_clear_gfp(vmi: VmaIterator, start: int, end: int) -> int:
    """``vma_iter_clear_gfp()``: store NULL over ``[start, end)`` (**exclusive** end)."""
    _walk.__mas_set_range(vmi.mas, start, end - 1)
    _write.mas_store_gfp(vmi.mas, None)
    return -12 if vmi.mas.status == ma_error else 0


def vma_iter_free(vmi: VmaIterator) -> None:
    """``vma_iter_free()``: ``mas_destroy()``."""
    _write.mas_destroy(vmi.mas)


def vma_iter_next_rewind(vmi: VmaIterator) -> tuple[VmArea | None, VmArea | None]:
    """``vma_iter_next_rewind()``: returns ``(next, prev)`` and leaves the iterator at the
    gap (or at index 0 when there is no previous VMA)."""
    nxt = vma_next(vmi)
    prev = vma_prev(vmi)
    if prev is not None:
        vma_iter_next_range(vmi)
    return nxt, prev


def for_each_vma(vmi: VmaIterator) -> Iterator[VmArea]:
    """``for_each_vma(vmi, vma)``: ``vma_next()`` until None."""
    while True:
        vma = vma_next(vmi)
        if vma is None:
            return
        yield vma


def for_each_vma_range(vmi: VmaIterator, end: int) -> Iterator[VmArea]:
    """``for_each_vma_range(vmi, vma, end)``: ``vma_find(end)``; ``end`` **exclusive**."""
    while True:
        vma = vma_find(vmi, end)
        if vma is None:
            return
        yield vma
