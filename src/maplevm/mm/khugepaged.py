"""mm/khugepaged.c, as madvise(2) sees it: MADV_HUGEPAGE/MADV_NOHUGEPAGE
(``hugepage_madvise()``) and the synchronous MADV_COLLAPSE (``madvise_collapse()``).

What the model can see of a collapse is its result (0 or an errno) and that the whole PMD
block becomes anonymous memory.  ``hpage_collapse_scan_pmd()`` is reduced to what decides
that on the reference kernel (6.18, observed) for anonymous memory: a block already backed
by a PMD-mapped THP (all its pages present) or by the huge zero page counts as done; a
block without a page table of PTEs fails with SCAN_PMD_NULL (EINVAL); a block holding a
guard marker fails with SCAN_PTE_NON_PRESENT (EINVAL); any other block with a page table
collapses, even one whose PTEs are all empty or map the zero page, and then holds 512
anonymous pages.  Shared anonymous memory (shmem) collapses when the block was faulted.

The background khugepaged thread (which may collapse MADV_HUGEPAGE ranges on its own
after ``scan_sleep_millisecs``) is not modelled.
"""

from __future__ import annotations

import errno

from maplevm.mm.flags import (
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    PAGE_SHIFT,
    PMD_SIZE,
    ULONG_MAX,
    VM_HUGEPAGE,
    VM_NOHUGEPAGE,
)
from maplevm.mm.huge_memory import TVA_FORCED_COLLAPSE, thp_vma_allowable_order
from maplevm.mm.vm_area import VmArea

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
EBUSY = errno.EBUSY
EAGAIN = errno.EAGAIN

HPAGE_PMD_NR = PMD_SIZE >> PAGE_SHIFT
PMD_SHIFT = 21

# enum scan_result (the members the model can produce, and the errno classes).
SCAN_FAIL = 0
SCAN_SUCCEED = 1
SCAN_PMD_NULL = 2
SCAN_PMD_MAPPED = 4
SCAN_PTE_NON_PRESENT = 8
SCAN_ALLOC_HUGE_PAGE_FAIL = 100
SCAN_CGROUP_CHARGE_FAIL = 101
SCAN_EXCEED_NONE_PTE = 102
SCAN_PAGE_COUNT = 103
SCAN_PAGE_LOCK = 104
SCAN_PAGE_LRU = 105
SCAN_DEL_PAGE_LRU = 106
SCAN_PAGE_FILLED = 107

# Results after which madvise_collapse() goes on with the next block.
_CONTINUE_OK = frozenset(
    {SCAN_PMD_NULL, SCAN_PTE_NON_PRESENT, SCAN_PAGE_COUNT, SCAN_PAGE_LOCK, SCAN_PAGE_LRU}
)


def hugepage_madvise(vma: VmArea, vm_flags: int, advice: int) -> tuple[int, int]:
    """Mirror of ``hugepage_madvise()``: returns ``(0, new vm_flags)``; HUGEPAGE and
    NOHUGEPAGE replace each other (``khugepaged_enter_vma()`` has no modelled effect)."""
    if advice == MADV_HUGEPAGE:
        vm_flags = (vm_flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE
    elif advice == MADV_NOHUGEPAGE:
        vm_flags = (vm_flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE
    return 0, vm_flags


def madvise_collapse_errno(r: int) -> int:
    """Mirror of ``madvise_collapse_errno()``."""
    if r == SCAN_ALLOC_HUGE_PAGE_FAIL:
        return -ENOMEM
    if r in (SCAN_CGROUP_CHARGE_FAIL, SCAN_EXCEED_NONE_PTE):
        return -EBUSY
    if r in (SCAN_PAGE_COUNT, SCAN_PAGE_LOCK, SCAN_PAGE_LRU, SCAN_DEL_PAGE_LRU, SCAN_PAGE_FILLED):
        return -EAGAIN
    return -EINVAL


def hpage_collapse_scan_pmd(vma: VmArea, address: int) -> int:
    """Scan (and collapse) the anonymous PMD block at ``address``: a ``SCAN_*`` result.

    See the module docstring for the rules kept from ``hpage_collapse_scan_pmd()`` and
    ``collapse_huge_page()``.
    """
    mm = vma.vm_mm
    end = address + PMD_SIZE
    if len(mm.anon_pages_in(address, end)) == HPAGE_PMD_NR:
        return SCAN_PMD_MAPPED
    if address >> PMD_SHIFT in mm.huge_zero_pmds:
        return SCAN_PMD_MAPPED  # the huge zero page is pmd_trans_huge(): nothing to do
    has_table = address >> PMD_SHIFT in mm.pte_tables or mm.has_anon_pages(address, end)
    if not has_table:
        return SCAN_PMD_NULL
    if any(address <= p < end for p in mm.guard_pages):
        return SCAN_PTE_NON_PRESENT
    mm.add_anon_pages(address, end)
    return SCAN_SUCCEED


def hpage_collapse_scan_file(vma: VmArea, address: int) -> int:
    """Scan (and collapse) a shmem PMD block: only files reach here (shared anonymous
    memory).  The model does not keep the page cache, so a block counts as holding pages
    when it has a page table (it was faulted); without pages the collapse fails (EINVAL,
    observed), with some it succeeds and changes no anonymous page."""
    if address >> PMD_SHIFT in vma.vm_mm.pte_tables:
        return SCAN_SUCCEED
    return SCAN_FAIL


def madvise_collapse(vma: VmArea, start: int, end: int) -> int:
    """Mirror of ``madvise_collapse()``: collapse every PMD block wholly inside
    ``[start, end)`` (one VMA's part of the range).  0 when all of them are (or already
    were) huge, else the errno of the last failure."""
    if not thp_vma_allowable_order(vma, vma.vm_flags, TVA_FORCED_COLLAPSE):
        return -EINVAL
    hstart = (start + PMD_SIZE - 1) & ~(PMD_SIZE - 1)
    hend = end & ~(PMD_SIZE - 1)
    thps = 0
    last_fail = SCAN_FAIL
    for addr in range(hstart, hend, PMD_SIZE):
        if not vma.is_anonymous:
            result = hpage_collapse_scan_file(vma, addr)
        else:
            result = hpage_collapse_scan_pmd(vma, addr)
        if result in (SCAN_SUCCEED, SCAN_PMD_MAPPED):
            thps += 1
        elif result in _CONTINUE_OK:
            last_fail = result
        else:
            last_fail = result
            break
    # Unsigned arithmetic: a range inside one block but off its start has hend < hstart,
    # the count never matches, and the result is EINVAL (SCAN_FAIL).
    if thps == ((hend - hstart) & ULONG_MAX) >> PMD_SHIFT:
        return 0
    return madvise_collapse_errno(last_fail)
