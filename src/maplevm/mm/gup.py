"""mm/gup.c, as far as mappings see it: populating (MAP_POPULATE, mlock, VM_LOCKED).

Population faults every page of the range in: for a private writable mapping these are
write faults, which give the VMA an anon_vma and anonymous pages (what smaps shows as
``Anonymous``); read faults map the zero page or the page cache and leave no trace in
/proc/PID/maps.  Pages of a file mapping past the end of the file fail (SIGBUS), which
stops that VMA's population.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maplevm.mm.flags import PAGE_SIZE, VM_IO, VM_LOCKONFAULT, VM_PFNMAP, VM_SHARED, VM_WRITE
from maplevm.mm.vm_area import VmArea, anon_vma_prepare

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM


def populate_vma_page_range(vma: VmArea, start: int, end: int) -> int:
    """``populate_vma_page_range()``: returns the number of pages done, or -errno."""
    if vma.vm_flags & VM_LOCKONFAULT:
        return (end - start) // PAGE_SIZE
    if not vma.is_accessible:
        return -14  # check_vma_flags(): no access and no FOLL_FORCE
    write = (vma.vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE
    if vma.vm_file is not None and not vma.vm_file.inode.shmem:
        eof = vma.vm_start + (
            ((vma.vm_file.inode.size + PAGE_SIZE - 1) // PAGE_SIZE - vma.vm_pgoff) * PAGE_SIZE
        )
        if eof < end:
            end = max(start, eof)
    if write and end > start:
        anon_vma_prepare(vma)
        vma.vm_mm.add_anon_pages(start, end)
    return (end - start) // PAGE_SIZE


def mm_populate(mm: MM, start: int, length: int) -> None:
    """``mm_populate()`` / ``__mm_populate(start, len, ignore_errors=1)``."""
    from maplevm.mm.mmap import find_vma_intersection

    end = start + length
    nstart = start
    vma: VmArea | None = None
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
        populate_vma_page_range(vma, nstart, nend)
        nstart = nend
