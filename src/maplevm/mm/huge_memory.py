"""mm/huge_memory.c: placing mappings on PMD (2 MiB) boundaries so THPs can back them.

Private anonymous mappings whose length is a multiple of 2 MiB and that have no hint, and
file mappings on filesystems that ask for it, search for ``len + 2 MiB`` and then align;
top-down, when the padded area already starts aligned, the mapping goes to its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maplevm.mm.flags import PAGE_SHIFT, PMD_SIZE, ULONG_MAX
from maplevm.mm.vm_area import OpenFile

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM


def __thp_get_unmapped_area(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    off: int,
    flags: int,
    size: int,
    vm_flags: int,
) -> int:
    """``__thp_get_unmapped_area()``: 0 means "no alignment possible, search normally"."""
    from maplevm.mm.mmap import mm_get_unmapped_area_vmflags
    from maplevm.mm.trace import trace

    off_end = off + length
    off_align = (off + size - 1) // size * size
    if off_end <= off_align or off_end - off_align < size:
        return 0
    len_pad = length + size
    if len_pad > ULONG_MAX or off + len_pad > (1 << 63) - 1:
        return 0
    ret = mm_get_unmapped_area_vmflags(mm, file, addr, len_pad, off >> PAGE_SHIFT, flags, vm_flags)
    if ret < 0:
        return 0
    if ret == addr:
        return addr
    off_sub = (off - ret) & (size - 1)
    if mm.topdown and not off_sub:
        trace(mm, "thp_align", padded=ret, result=ret + size)
        return ret + size
    trace(mm, "thp_align", padded=ret, result=ret + off_sub)
    return ret + off_sub


def thp_get_unmapped_area_vmflags(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    pgoff: int,
    flags: int,
    vm_flags: int,
) -> int:
    """``thp_get_unmapped_area_vmflags()``."""
    from maplevm.mm.mmap import mm_get_unmapped_area_vmflags

    off = pgoff << PAGE_SHIFT
    ret = __thp_get_unmapped_area(mm, file, addr, length, off, flags, PMD_SIZE, vm_flags)
    if ret:
        return ret
    return mm_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, vm_flags)


def thp_get_unmapped_area(
    mm: MM, file: OpenFile | None, addr: int, length: int, pgoff: int, flags: int
) -> int:
    """``thp_get_unmapped_area()`` (a filesystem's ``get_unmapped_area``)."""
    return thp_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, 0)
