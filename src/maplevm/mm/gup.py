"""mm/gup.c, as far as mappings see it: populating (MAP_POPULATE, mlock, VM_LOCKED,
MADV_POPULATE_READ/WRITE).

Population faults every page of the range in: for a private writable mapping these are
write faults, which give the VMA an anon_vma and anonymous pages (what smaps shows as
``Anonymous``; a whole PMD when a THP is allocated); read faults map the zero page or the
page cache and leave no trace in /proc/PID/maps.  A page that cannot be faulted in (a file
page past the end of the file: SIGBUS; a MADV_GUARD_INSTALL marker: SIGSEGV) stops the walk
with -EFAULT once no page was done, which mlock(2) reports as ENOMEM and MADV_POPULATE_* as
EFAULT.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SIZE,
    VM_IO,
    VM_LOCKONFAULT,
    VM_MAYBE_GUARD,
    VM_MAYREAD,
    VM_PFNMAP,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
)
from maplevm.mm.vm_area import VmArea, anon_vma_prepare

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EFAULT = errno.EFAULT
EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM

# gup_flags (include/linux/mm_types.h, mm/internal.h): only those that change decisions.
PMD_SHIFT = 21

FOLL_WRITE = 0x01
FOLL_FORCE = 0x10
FOLL_MADV_POPULATE = 1 << 20


def check_vma_flags(vma: VmArea, gup_flags: int) -> int:
    """Mirror of ``check_vma_flags()``: may GUP touch this VMA?  0 or -EFAULT.

    No pkeys in use, no shadow stacks, no secretmem, no FOLL_LONGTERM/FOLL_ANON callers.
    """
    vm_flags = vma.vm_flags
    write = gup_flags & FOLL_WRITE
    if vm_flags & (VM_IO | VM_PFNMAP):
        return -EFAULT
    if write:
        if not vm_flags & VM_WRITE and not gup_flags & FOLL_FORCE:
            return -EFAULT
    elif not vm_flags & VM_READ:
        if not gup_flags & FOLL_FORCE:
            return -EFAULT
        if not vm_flags & VM_MAYREAD:
            return -EFAULT
    return 0


def faultin_page(vma: VmArea, address: int, gup_flags: int) -> int:
    """Mirror of ``faultin_page()`` / ``handle_mm_fault()`` for one page: 0, or -EFAULT
    when the fault ends in VM_FAULT_SIGBUS (a file page past EOF) or VM_FAULT_SIGSEGV (a
    guard marker).

    A write fault on a private mapping breaks COW: the VMA gets its anon_vma and the page
    (or, for a THP-eligible anonymous range, the whole PMD) becomes anonymous.
    """
    from maplevm.mm.fault import thp_eligible

    mm = vma.vm_mm
    page = address & ~(PAGE_SIZE - 1)
    if vma.vm_flags & VM_MAYBE_GUARD and page in mm.guard_pages:
        return -EFAULT
    file = vma.vm_file
    if file is not None:  # past i_size: VM_FAULT_SIGBUS (shmem too)
        offset = (vma.vm_pgoff << PAGE_SHIFT) + (page - vma.vm_start)
        if offset >= file.inode.size:
            if gup_flags & FOLL_WRITE and not vma.vm_flags & VM_SHARED:
                anon_vma_prepare(vma)  # do_cow_fault(): before the page read fails
            return -EFAULT
    if gup_flags & FOLL_WRITE and not vma.vm_flags & VM_SHARED:
        anon_vma_prepare(vma)
        if page >> PMD_SHIFT in mm.huge_zero_pmds or thp_eligible(mm, vma, page):
            start = page & ~(PMD_SIZE - 1)
            mm.add_anon_pages(start, start + PMD_SIZE)
        else:
            mm.add_anon_pages(page, page + PAGE_SIZE)
    elif thp_eligible(mm, vma, page):
        anon_vma_prepare(vma)  # do_huge_pmd_anonymous_page(): the huge zero page
        mm.huge_zero_pmds.add(page >> PMD_SHIFT)
    else:
        mm.note_pte_tables(page, page + PAGE_SIZE)  # the zero page or a page-cache page
    return 0


def __get_user_pages(mm: MM, start: int, nr_pages: int, gup_flags: int) -> int:
    """Mirror of ``__get_user_pages()`` (no pages returned, only faulted in).

    Returns the number of pages done, or -errno if none was.  With FOLL_MADV_POPULATE a
    missing VMA is -ENOMEM and a VMA refused by ``check_vma_flags()`` -EINVAL; otherwise
    both are -EFAULT.
    """
    from maplevm.mm.mmap import vma_lookup

    done = 0
    vma: VmArea | None = None
    while nr_pages:
        if vma is None or start >= vma.vm_end:
            vma = vma_lookup(mm, start)
            if vma is None:
                ret = -ENOMEM if gup_flags & FOLL_MADV_POPULATE else -EFAULT
                return done or ret
            if check_vma_flags(vma, gup_flags):
                ret = -EINVAL if gup_flags & FOLL_MADV_POPULATE else -EFAULT
                return done or ret
        ret = faultin_page(vma, start, gup_flags)
        if ret:
            return done or ret
        done += 1
        start += PAGE_SIZE
        nr_pages -= 1
    return done


def populate_vma_page_range(vma: VmArea, start: int, end: int) -> int:
    """Mirror of ``populate_vma_page_range()``: returns the number of pages done, or
    -errno.  VM_LOCKONFAULT VMAs are left alone; an inaccessible VMA is -EFAULT; writable
    private mappings are written (breaking COW), everything else read with FOLL_FORCE."""
    nr_pages = (end - start) >> PAGE_SHIFT
    if vma.vm_flags & VM_LOCKONFAULT:
        return nr_pages
    if not vma.is_accessible:
        return -EFAULT
    if (vma.vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE:
        gup_flags = FOLL_WRITE
    else:
        gup_flags = FOLL_FORCE
    return __get_user_pages(vma.vm_mm, start, nr_pages, gup_flags)


def faultin_page_range(mm: MM, start: int, end: int, write: bool) -> int:
    """Mirror of ``faultin_page_range()`` (MADV_POPULATE_READ/WRITE): pages done or
    -errno; no FOLL_FORCE, so the VMA's own permissions apply."""
    gup_flags = FOLL_MADV_POPULATE | (FOLL_WRITE if write else 0)
    return __get_user_pages(mm, start, (end - start) >> PAGE_SHIFT, gup_flags)


def __mm_populate(mm: MM, start: int, length: int, ignore_errors: bool) -> int:
    """Mirror of ``__mm_populate()``: populate every VMA meeting the range but VM_IO and
    VM_PFNMAP ones.  A failing VMA ends the walk with its error unless ``ignore_errors``
    (then the walk goes on at the next VMA).  0 or -errno."""
    from maplevm.mm.mmap import find_vma_intersection

    end = start + length
    nstart = start
    vma: VmArea | None = None
    ret = 0
    while nstart < end:
        if vma is None:
            vma = find_vma_intersection(mm, nstart, end)
        elif nstart >= vma.vm_end:
            vma = find_vma_intersection(mm, vma.vm_end, end)
        if vma is None:
            break
        nend = min(end, vma.vm_end)
        if vma.vm_flags & (VM_IO | VM_PFNMAP):
            nstart = nend
            continue
        if nstart < vma.vm_start:
            nstart = vma.vm_start
        ret = populate_vma_page_range(vma, nstart, nend)
        if ret < 0:
            if ignore_errors:
                ret = 0
                nstart = nend
                continue
            break
        nstart = nstart + ret * PAGE_SIZE
        ret = 0
    return ret


def mm_populate(mm: MM, start: int, length: int) -> None:
    """Mirror of ``mm_populate()``: ``__mm_populate(start, len, ignore_errors=1)``."""
    __mm_populate(mm, start, length, True)
