"""arch/x86/kernel/sys_x86_64.c and arch/x86/mm/mmap.c: x86_64 placement of mappings.

Top-down is the default layout: a hint is used if it fits below the next VMA's start gap
(x86 checks only the next VMA, not the previous one's end gap), otherwise the highest gap
below ``mmap_base`` is taken, falling back to a bottom-up search from the legacy base.
MAP_32BIT searches bottom-up in ``[0x40000000, 0x80000000)``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import MAP_32BIT, MAP_ABOVE4G, MAP_FIXED, PAGE_ALIGN, PAGE_SHIFT, PAGE_SIZE
from maplevm.mm.vm_area import OpenFile
from maplevm.mm.vma import VM_UNMAPPED_AREA_TOPDOWN, VmUnmappedAreaInfo, vm_start_gap

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

ENOMEM = errno.ENOMEM
DEFAULT_MAP_WINDOW = (1 << 47) - PAGE_SIZE
SZ_4G = 1 << 32


def stack_guard_placement(vm_flags: int) -> int:
    """``stack_guard_placement()``: a page below shadow stacks (none on this kernel)."""
    return 0


def get_align_mask(file: OpenFile | None) -> int:
    """``get_align_mask()``: the AMD F15h I-cache workaround is off; no hugetlbfs files."""
    return 0


def mmap_address_hint_valid(mm: MM, addr: int, length: int) -> bool:
    """``mmap_address_hint_valid()``: inside TASK_SIZE and not crossing the 47-bit line."""
    if mm.task_size - length < addr:
        return False
    return (addr > DEFAULT_MAP_WINDOW) == (addr + length > DEFAULT_MAP_WINDOW)


def find_start_end(mm: MM, addr: int, flags: int) -> tuple[int, int]:
    """``find_start_end()``: the bottom-up window."""
    if flags & MAP_32BIT:
        return mm.profile.map_32bit_begin(), 0x80000000
    return mm.mmap_legacy_base, mm.task_size


def arch_get_unmapped_area(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    pgoff: int,
    flags: int,
    vm_flags: int,
) -> int:
    """``arch_get_unmapped_area()``: bottom-up placement."""
    from maplevm.mm.mmap import find_vma, vm_unmapped_area

    if flags & MAP_FIXED:
        return addr
    begin, end = find_start_end(mm, addr, flags)
    if length > end:
        return -ENOMEM
    if addr:
        addr = PAGE_ALIGN(addr)
        vma = find_vma(mm, addr)
        if end - length >= addr and (vma is None or addr + length <= vm_start_gap(vma)):
            return addr
    info = VmUnmappedAreaInfo(length=length, low_limit=begin, high_limit=end)
    info.align_offset = pgoff << PAGE_SHIFT
    info.start_gap = stack_guard_placement(vm_flags)
    if file is not None:
        info.align_mask = get_align_mask(file)
    return vm_unmapped_area(mm, info)


def arch_get_unmapped_area_topdown(
    mm: MM,
    file: OpenFile | None,
    addr0: int,
    length: int,
    pgoff: int,
    flags: int,
    vm_flags: int,
) -> int:
    """``arch_get_unmapped_area_topdown()``."""
    from maplevm.mm.mmap import find_vma, vm_unmapped_area
    from maplevm.mm.trace import trace

    addr = addr0
    if length > mm.task_size:
        return -ENOMEM
    if flags & MAP_FIXED:
        return addr
    if not flags & MAP_32BIT:
        if addr:
            addr &= ~(PAGE_SIZE - 1)
            if mmap_address_hint_valid(mm, addr, length):
                vma = find_vma(mm, addr)
                if vma is None or addr + length <= vm_start_gap(vma):
                    trace(mm, "hint", addr=addr, used=True)
                    return addr
            trace(mm, "hint", addr=addr, used=False)
        info = VmUnmappedAreaInfo(flags=VM_UNMAPPED_AREA_TOPDOWN, length=length)
        info.low_limit = SZ_4G if flags & MAP_ABOVE4G else PAGE_SIZE
        info.high_limit = mm.mmap_base
        info.start_gap = stack_guard_placement(vm_flags)
        info.align_offset = pgoff << PAGE_SHIFT
        if addr > DEFAULT_MAP_WINDOW:
            info.high_limit += mm.task_size - DEFAULT_MAP_WINDOW
        if file is not None:
            info.align_mask = get_align_mask(file)
        addr = vm_unmapped_area(mm, info)
        if addr >= 0 and not addr & (PAGE_SIZE - 1):
            return addr
        trace(mm, "fallback", reason="no top-down gap; trying bottom-up")
    return arch_get_unmapped_area(mm, file, addr0, length, pgoff, flags, 0)
