"""mm/mseal.c: ``mseal(2)`` (the 6.17+ version, as on the live 6.18 kernel).

Sealing sets VM_SEALED through ``vma_modify_flags()``, so a sealed part of a VMA is split
off and merges with sealed neighbours of equal flags.  A range with any unmapped page is
refused with ENOMEM before anything changes.

Where a seal is enforced (each checks ``vma_is_sealed()`` in the kernel's place):

* munmap, brk shrinking and MAP_FIXED over a sealed VMA: ``vms_gather_munmap_vmas()``
  (mm/vma.py), EPERM, a split of the first VMA already made before the sealed one is met
  staying in place;
* mprotect: ``mprotect_fixup()`` (mm/mprotect.py), EPERM after the VMAs before it changed;
* mremap: ``check_prep_vma()`` and the unmapping of the destination (mm/mremap.py), EPERM;
* madvise: ``can_madvise_modify()`` (mm/madvise.py), EPERM for discarding advices on
  anonymous VMAs that are not writable.

mlock, the non-discarding advices and PR_SET_VMA_ANON_NAME still work on sealed VMAs.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import PAGE_ALIGN, PAGE_SIZE, ULONG_MAX, VM_SEALED
from maplevm.mm.vma import vma_modify_flags
from maplevm.mm.vma_iter import VmaIterator, for_each_vma_range, vma_iter_load, vma_prev

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM


def range_contains_unmapped(mm: MM, start: int, end: int) -> bool:
    """Mirror of ``range_contains_unmapped()``: is any page of ``[start, end)`` not in a
    VMA (at the start, between VMAs, or at the end)?"""
    prev_end = start
    vmi = VmaIterator(mm, start)
    for vma in for_each_vma_range(vmi, end):
        if vma.vm_start > prev_end:
            return True
        prev_end = vma.vm_end
    return prev_end < end


def mseal_apply(mm: MM, start: int, end: int) -> int:
    """Mirror of ``mseal_apply()``: seal each VMA part of the (hole-free) range; 0 or
    -errno from a failed split (e.g. vm.max_map_count, or a special mapping refusing it)."""
    vmi = VmaIterator(mm, start)
    vma = vma_iter_load(vmi)
    assert vma is not None  # there are no gaps
    prev = vma_prev(vmi)
    if start > vma.vm_start:
        prev = vma
    for vma in for_each_vma_range(vmi, end):
        curr_start = max(vma.vm_start, start)
        curr_end = min(vma.vm_end, end)
        if not vma.vm_flags & VM_SEALED:
            vm_flags = vma.vm_flags | VM_SEALED
            ret, vm_flags = vma_modify_flags(vmi, prev, vma, curr_start, curr_end, vm_flags)
            if isinstance(ret, int):
                return ret
            vma = ret
            vma.vm_flags |= VM_SEALED
        prev = vma
    return 0


def do_mseal(mm: MM, start: int, len_in: int, flags: int) -> int:
    """Mirror of ``do_mseal()``: flags must be 0, start page aligned, the length (rounded
    up) must not wrap; an empty range is 0; an unmapped page anywhere is ENOMEM."""
    if flags:
        return -EINVAL
    if start & (PAGE_SIZE - 1):
        return -EINVAL
    length = PAGE_ALIGN(len_in)
    if len_in and not length:
        return -EINVAL  # rounded up from a small negative to zero
    end = start + length
    if end > ULONG_MAX:
        return -EINVAL
    if end == start:
        return 0
    if range_contains_unmapped(mm, start, end):
        return -ENOMEM
    return mseal_apply(mm, start, end)


def sys_mseal(mm: MM, start: int, length: int, flags: int = 0) -> int:
    """``mseal(2)`` (x86_64 syscall 462): all three arguments are unsigned longs."""
    return do_mseal(mm, start & ULONG_MAX, length & ULONG_MAX, flags & ULONG_MAX)
