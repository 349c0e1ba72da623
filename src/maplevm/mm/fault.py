"""A page fault (mm/memory.c, arch/x86/mm/fault.c) as the address space sees it.

``handle_fault`` answers what user space observes of touching one byte: 0, -EFAULT for
SIGSEGV, -EIO for SIGBUS.  On the way it does what changes later VMA decisions: it grows a
VM_GROWSDOWN VMA down to the faulting page (``expand_stack``), gives a VMA its anon_vma on
the first anonymous write (``anon_vma_prepare``, which may reuse a neighbour's), and adds
the anonymous pages smaps counts (a whole PMD when a THP is allocated).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    PAGE_SIZE,
    PMD_SIZE,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_HUGEPAGE,
    VM_MAYBE_GUARD,
    VM_NOHUGEPAGE,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
)
from maplevm.mm.vm_area import VmArea, anon_vma_prepare

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

SIGSEGV = -errno.EFAULT
SIGBUS = -errno.EIO


def expand_stack(mm: MM, addr: int) -> VmArea | None:
    """``expand_stack()``: the VMA at ``addr``, growing a stack below it if needed."""
    from maplevm.mm.mmap import find_vma_prev
    from maplevm.mm.vma import expand_downwards

    vma, _prev = find_vma_prev(mm, addr)
    if vma is not None and vma.vm_start <= addr:
        return vma
    if vma is not None and not expand_downwards(vma, addr):
        return vma
    return None


def thp_eligible(mm: MM, vma: VmArea, addr: int) -> bool:
    """Would an anonymous write fault here allocate a PMD-sized THP?  Only where the PMD
    is still empty (``pmd_none()``): a block with a page table of PTEs (4 KiB faults,
    guard markers, a split THP) takes 4 KiB pages."""
    prof = mm.profile
    if vma.vm_flags & VM_NOHUGEPAGE or vma.vm_file is not None:
        return False
    if prof.thp_enabled == "never":
        return False
    if prof.thp_enabled == "madvise" and not vma.vm_flags & VM_HUGEPAGE:
        return False
    start = addr & ~(PMD_SIZE - 1)
    if not mm.pmd_none(start):
        return False
    return start >= vma.vm_start and start + PMD_SIZE <= vma.vm_end


def handle_fault(mm: MM, addr: int, write: bool) -> int:
    """Touch one byte at ``addr``: 0, SIGSEGV (-EFAULT) or SIGBUS (-EIO)."""
    return fault_result(mm, addr, write)[0]


def fault_result(mm: MM, addr: int, write: bool) -> tuple[int, str | None]:
    """Touch one byte at ``addr``: ``(0 | -EFAULT | -EIO, si_code name or None)``.

    The si_code is SEGV_MAPERR when no VMA covers the address (or a stack could not grow
    to it), SEGV_ACCERR when the VMA forbids the access, BUS_ADRERR past the end of a file.
    """
    from maplevm.mm.mmap import find_vma

    addr &= (1 << 64) - 1
    if (1 << 47) <= addr < 0xFFFF_8000_0000_0000:
        # A non-canonical address raises #GP, not a page fault: SI_KERNEL, no address.
        return SIGSEGV, "SI_KERNEL"
    if addr >= mm.task_size:
        return SIGSEGV, "SEGV_MAPERR"
    vma = find_vma(mm, addr)
    if vma is None:
        return SIGSEGV, "SEGV_MAPERR"
    if vma.vm_start > addr:
        if not vma.vm_flags & VM_GROWSDOWN:
            return SIGSEGV, "SEGV_MAPERR"
        grown = expand_stack(mm, addr)
        if grown is None:
            return SIGSEGV, "SEGV_MAPERR"
        vma = grown
    flags = vma.vm_flags
    if write and not flags & VM_WRITE:
        return SIGSEGV, "SEGV_ACCERR"
    if not write and not flags & (VM_READ | VM_WRITE | VM_EXEC):
        return SIGSEGV, "SEGV_ACCERR"
    page = addr & ~(PAGE_SIZE - 1)
    if flags & VM_MAYBE_GUARD and page in mm.guard_pages:
        return SIGSEGV, "SEGV_MAPERR"
    ops = vma.vm_ops
    if ops is not None and ops.name in mm.profile.special_pages:
        # The special mapping's fault handler maps only some of its pages.
        pgoff = vma.vm_pgoff + ((page - vma.vm_start) >> 12)
        if pgoff not in mm.profile.special_pages[ops.name]:
            return SIGBUS, "BUS_ADRERR"
        return 0, None
    if vma.vm_file is not None:
        # Past i_size: SIGBUS, shmem included (a shared anonymous mapping grown by
        # mremap() reaches past its /dev/zero object: shmem_get_folio_gfp() -EINVAL).
        offset = (vma.vm_pgoff << 12) + (page - vma.vm_start)
        if offset >= vma.vm_file.inode.size:
            if write and not flags & VM_SHARED:
                anon_vma_prepare(vma)  # do_cow_fault() prepares it before reading the page
            return SIGBUS, "BUS_ADRERR"
    if flags & VM_SHARED or not write:
        if thp_eligible(mm, vma, addr):
            # do_huge_pmd_anonymous_page(): an anon_vma even for a read, which maps the
            # huge zero page (a later write fault splits it and takes one 4 KiB page).
            anon_vma_prepare(vma)
            mm.huge_zero_pmds.add(addr >> 21)
        else:
            mm.note_pte_tables(page, page + PAGE_SIZE)  # a PTE maps the page (or zero page)
    if flags & VM_SHARED:
        return 0, None
    if write:
        anon_vma_prepare(vma)
        # A write into the huge zero page allocates a THP (do_huge_zero_wp_pmd(), 6.13+).
        if addr >> 21 in mm.huge_zero_pmds or thp_eligible(mm, vma, addr):
            start = addr & ~(PMD_SIZE - 1)
            mm.add_anon_pages(start, start + PMD_SIZE)
        else:
            mm.add_anon_pages(page, page + PAGE_SIZE)
        mm.written_pages.add(page >> 12)  # the helper stores a byte: not zero-filled
    return 0, None
