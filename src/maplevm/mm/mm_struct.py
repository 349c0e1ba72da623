"""``struct mm_struct``: one address space on an MM_MT_FLAGS maple tree, and its syscalls.

The system calls are methods (``sys_mmap``, ``sys_munmap``, ...) that return what the
syscall returns (an address, 0 or -errno; brk returns the break) and are implemented, in
the kernel's structure and names, by the modules named after the kernel files: ``mmap``,
``vma``, ``mprotect``, ``mremap``, ``mlock``, ``madvise``, ``mseal``, ``fault``, ``fork``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import count
from typing import TYPE_CHECKING

from maplevm.mm.flags import PAGE_SHIFT, PAGE_SIZE, PMD_SIZE
from maplevm.mm.profile import KernelProfile
from maplevm.mm.vm_area import Inode, OpenFile, VmArea
from maplevm.tree import MM_MT_FLAGS, MapleTree

if TYPE_CHECKING:
    from maplevm.mm.trace import Tracer

EBADF = 9
PMD_SHIFT = 21


class MM:
    """An address space: the VMA tree, the counters the kernel keeps, a file table."""

    def __init__(self, profile: KernelProfile | None = None) -> None:
        self.profile = profile or KernelProfile()
        self.mm_mt = MapleTree(MM_MT_FLAGS)
        self.map_count = 0
        self.topdown = not self.profile.legacy_layout  # MMF_TOPDOWN
        self.mmap_base = self.profile.mmap_base()
        self.mmap_legacy_base = self.profile.mmap_legacy_base()
        self.task_size = self.profile.task_size
        self.start_code = self.end_code = 0
        self.start_data = self.end_data = 0
        self.start_brk = self.brk = 0
        self.start_stack = 0
        self.total_vm = 0
        self.locked_vm = 0
        self.pinned_vm = 0
        self.data_vm = 0
        self.exec_vm = 0
        self.stack_vm = 0
        self.def_flags = 0
        self.committed_pages = 0
        # Private anonymous pages present (page numbers, sorted): smaps' "Anonymous".
        self.anon_pages: list[int] = []
        self.files: dict[int, OpenFile] = {}
        self.gate_vma = True  # x86_64 lists [vsyscall] in maps (not a VMA)
        # Pages holding MADV_GUARD_INSTALL markers (page addresses).
        self.guard_pages: set[int] = set()
        # Anonymous pages MADV_FREE made lazily freeable (page numbers): clean until written
        # again, so MADV_PAGEOUT (reclaim) discards them.
        self.lazyfree_pages: set[int] = set()
        # PMD blocks (address >> 21) holding a page table of PTEs, as far as the model
        # tracks them (single-page faults, guard markers, moved pages): MADV_COLLAPSE can
        # collapse only those.  Dropped when an unmap frees the page tables.
        self.pte_tables: set[int] = set()
        # PMD blocks mapped by the huge zero page (a read fault where a THP could go).
        self.huge_zero_pmds: set[int] = set()
        # PMD blocks whose anonymous pages are still one THP folio (not split yet), and the
        # pages user space stored data into: splitting a THP maps its zero-filled pages to
        # the shared zero page (they stop being anonymous).
        self.thp_folios: set[int] = set()
        self.written_pages: set[int] = set()
        # Anonymous pages still shared with the (waiting) parent after fork(): until a
        # write copies them, MADV_FREE, MADV_PAGEOUT and THP splits leave them alone.
        self.shared_pages: set[int] = set()
        self._inodes = count(1 << 20)  # clear of inode numbers seeded from /proc
        self.tracer: Tracer | None = None

    # -- iteration and lookups --------------------------------------------------------

    def vmas(self) -> Iterator[VmArea]:
        """Every VMA in address order (``for_each_vma``)."""
        for _first, _last, vma in self.mm_mt.items():
            yield vma

    def __iter__(self) -> Iterator[VmArea]:
        return self.vmas()

    def __len__(self) -> int:
        return self.map_count

    def __repr__(self) -> str:
        return f"<MM {self.map_count} VMAs, mmap_base {self.mmap_base:#x}, brk {self.brk:#x}>"

    # -- file table ---------------------------------------------------------------------

    def new_inode(self, path: str, size: int, *, dev: str = "00:00", ino: int = 0) -> Inode:
        return Inode(dev=dev, ino=ino or next(self._inodes), path=path, size=size)

    def open_file(
        self,
        path: str,
        size: int,
        *,
        writable: bool = True,
        readable: bool = True,
        dev: str = "00:00",
        inode: int = 0,
        fs: str | None = None,
        fd: int | None = None,
        same_inode_as: int | None = None,
    ) -> int:
        """Open a (model) file; returns its descriptor.  ``same_inode_as`` opens the inode
        of another descriptor again (a second ``struct file``, as a second open(2) does)."""
        if same_inode_as is not None:
            node = self.files[same_inode_as].inode
        else:
            node = self.new_inode(path, size, dev=dev, ino=inode)
            node.fs = fs or self.profile.scratch_fs
        if fd is None:
            fd = 3
            while fd in self.files:
                fd += 1
        self.files[fd] = OpenFile(node, readable=readable, writable=writable)
        return fd

    def ftruncate(self, fd: int, size: int) -> int:
        """``ftruncate(2)`` as mappings see it: the new size, and ``truncate_pagecache()``
        unmapping every page past the new end, private COW copies included."""
        file = self.files.get(fd)
        if file is None:
            return -EBADF
        file.inode.size = size
        holebegin = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        for vma in self.vmas():
            if vma.vm_file is None or vma.vm_file.inode is not file.inode:
                continue
            file_start = vma.vm_pgoff << PAGE_SHIFT
            first = max(vma.vm_start, vma.vm_start + holebegin - file_start)
            if first < vma.vm_end:
                self.drop_anon_pages(first, vma.vm_end)
        return 0

    def close(self, fd: int) -> int:
        """``close(2)``: mappings keep their file."""
        if fd not in self.files:
            return -EBADF
        del self.files[fd]
        return 0

    # -- anonymous pages ------------------------------------------------------------------

    def has_anon_pages(self, start: int, end: int) -> bool:
        """Are there anonymous pages in ``[start, end)``?"""
        i = bisect_left(self.anon_pages, start >> PAGE_SHIFT)
        return i < len(self.anon_pages) and self.anon_pages[i] < end >> PAGE_SHIFT

    def add_anon_pages(self, start: int, end: int) -> None:
        """Anonymous pages written in ``[start, end)`` (written pages are dirty: no longer
        lazily freeable)."""
        pages = self.anon_pages
        lo = bisect_left(pages, start >> PAGE_SHIFT)
        hi = bisect_left(pages, end >> PAGE_SHIFT)
        pages[lo:hi] = range(start >> PAGE_SHIFT, end >> PAGE_SHIFT)
        if end - start != PMD_SIZE or start & (PMD_SIZE - 1):
            self.note_pte_tables(start, end)  # not one PMD-mapped THP: PTEs
        else:
            self.thp_folios.add(start >> PMD_SHIFT)
        if self.huge_zero_pmds:  # a write into the huge zero page splits it
            self.huge_zero_pmds.difference_update(
                range(start >> PMD_SHIFT, ((end - 1) >> PMD_SHIFT) + 1)
            )
        for marks in (self.lazyfree_pages, self.shared_pages):
            if marks:  # written or copied on write: dirty, and private
                marks.difference_update(range(start >> PAGE_SHIFT, end >> PAGE_SHIFT))

    def drop_anon_pages(self, start: int, end: int) -> None:
        """Zap the anonymous pages of ``[start, end)``.  A PMD block only partly zapped
        keeps (or, for a THP, gets by splitting it) a page table of PTEs."""
        pages = self.anon_pages
        lo = bisect_left(pages, start >> PAGE_SHIFT)
        hi = bisect_left(pages, end >> PAGE_SHIFT)
        if self.huge_zero_pmds and end > start:
            for block in range(start >> PMD_SHIFT, ((end - 1) >> PMD_SHIFT) + 1):
                if block in self.huge_zero_pmds:
                    self.huge_zero_pmds.discard(block)
                    first = block << PMD_SHIFT
                    if first < start or first + PMD_SIZE > end:
                        self.pte_tables.add(block)  # split_huge_pmd(): PTEs of zero pages
        if lo < hi:
            for edge in (start, end):
                if edge & (PMD_SIZE - 1):
                    block = edge & ~(PMD_SIZE - 1)
                    if self.has_anon_pages(block, block + PMD_SIZE):
                        self.pte_tables.add(block >> PMD_SHIFT)
        if self.lazyfree_pages:
            self.lazyfree_pages.difference_update(pages[lo:hi])
        for marks in (self.written_pages, self.shared_pages):
            if marks:
                marks.difference_update(pages[lo:hi])
        del pages[lo:hi]
        if self.thp_folios and end > start:
            for block in range(start >> PMD_SHIFT, ((end - 1) >> PMD_SHIFT) + 1):
                first = block << PMD_SHIFT
                if block in self.thp_folios and not self.has_anon_pages(first, first + PMD_SIZE):
                    self.thp_folios.discard(block)  # every page gone: the folio is freed

    def anon_pages_in(self, start: int, end: int) -> list[int]:
        """The anonymous pages (page numbers) present in ``[start, end)``."""
        pages = self.anon_pages
        lo = bisect_left(pages, start >> PAGE_SHIFT)
        return pages[lo : bisect_left(pages, end >> PAGE_SHIFT)]

    def note_pte_tables(self, start: int, end: int) -> None:
        """Page tables of PTEs now exist for the PMD blocks meeting ``[start, end)``."""
        if end > start:
            self.pte_tables.update(range(start >> PMD_SHIFT, ((end - 1) >> PMD_SHIFT) + 1))

    def free_pte_tables(self, floor: int, ceiling: int) -> None:
        """``free_pgtables()``: the PTE tables of PMD blocks wholly inside ``[floor,
        ceiling)`` (the space between the VMAs left around an unmapped range) are freed."""
        first = (floor + PMD_SIZE - 1) >> PMD_SHIFT
        last = ceiling >> PMD_SHIFT
        if self.pte_tables and first < last:
            self.pte_tables -= {b for b in self.pte_tables if first <= b < last}
        if self.huge_zero_pmds and first < last:
            self.huge_zero_pmds -= {b for b in self.huge_zero_pmds if first <= b < last}

    def split_huge_zero_pmd(self, addr: int) -> None:
        """A VMA boundary moves to ``addr``: a huge zero page mapped across it is split
        into PTEs of the zero page (``split_huge_pmd()``; THPs are split the same way, but
        their pages say all the model needs)."""
        if addr & (PMD_SIZE - 1) and addr >> PMD_SHIFT in self.huge_zero_pmds:
            self.huge_zero_pmds.discard(addr >> PMD_SHIFT)
            self.pte_tables.add(addr >> PMD_SHIFT)

    def pmd_none(self, addr: int) -> bool:
        """Is the PMD entry of ``addr``'s block empty: no PTE table, no huge mapping of
        the zero page, no anonymous page (which a THP or a PTE table would map)?"""
        block = addr >> PMD_SHIFT
        if block in self.pte_tables or block in self.huge_zero_pmds:
            return False
        first = block << PMD_SHIFT
        return not self.has_anon_pages(first, first + PMD_SIZE)

    def drop_guard_pages(self, start: int, end: int) -> None:
        """Remove the guard markers of ``[start, end)`` (unmapping drops them; zapping
        for MADV_DONTNEED does not)."""
        if self.guard_pages:
            self.guard_pages -= {p for p in self.guard_pages if start <= p < end}

    def move_anon_pages(self, old: int, new: int, length: int) -> None:
        """mremap moves the pages along with the mapping."""
        pages = self.anon_pages
        lo = bisect_left(pages, old >> PAGE_SHIFT)
        hi = bisect_left(pages, (old + length) >> PAGE_SHIFT)
        moved = pages[lo:hi]
        del pages[lo:hi]
        shift = (new - old) >> PAGE_SHIFT
        for p in moved:
            q = p + shift
            j = bisect_left(pages, q)
            if j == len(pages) or pages[j] != q:
                pages.insert(j, q)
        for p in moved:
            self.pte_tables.add((p + shift) >> (PMD_SHIFT - PAGE_SHIFT))
        for marks in (self.lazyfree_pages, self.written_pages, self.shared_pages):
            carried = marks.intersection(moved) if marks else ()
            if carried:
                marks -= carried
                marks |= {p + shift for p in carried}
        if self.thp_folios and moved:
            # A THP moved by whole aligned blocks stays one; a misaligned move leaves a
            # PTE-mapped large folio the model does not follow: forget it.
            blocks = {p >> (PMD_SHIFT - PAGE_SHIFT) for p in moved} & self.thp_folios
            self.thp_folios -= blocks
            if not (old | new | length) & (PMD_SIZE - 1):
                self.thp_folios |= {b + (shift >> (PMD_SHIFT - PAGE_SHIFT)) for b in blocks}

    # -- system calls ----------------------------------------------------------------------

    def sys_mmap(self, addr: int, length: int, prot: int, flags: int, fd: int, off: int) -> int:
        """``mmap(2)``: the address, or -errno."""
        from maplevm.mm.mmap import sys_mmap

        return sys_mmap(self, addr, length, prot, flags, fd, off)

    def sys_munmap(self, addr: int, length: int) -> int:
        """``munmap(2)``: 0 or -errno."""
        from maplevm.mm.mmap import sys_munmap

        return sys_munmap(self, addr, length)

    def sys_brk(self, brk: int) -> int:
        """``brk(2)``: the new break, or the old one on failure."""
        from maplevm.mm.mmap import sys_brk

        return sys_brk(self, brk)

    def sys_mprotect(self, start: int, length: int, prot: int) -> int:
        """``mprotect(2)``: 0 or -errno (partial effects as the kernel leaves them)."""
        from maplevm.mm.mprotect import sys_mprotect

        return sys_mprotect(self, start, length, prot)

    def sys_mremap(
        self, addr: int, old_len: int, new_len: int, flags: int, new_addr: int = 0
    ) -> int:
        """``mremap(2)``: the new address, or -errno."""
        from maplevm.mm.mremap import sys_mremap

        return sys_mremap(self, addr, old_len, new_len, flags, new_addr)

    def sys_madvise(self, start: int, length: int, advice: int) -> int:
        """``madvise(2)``: 0 or -errno."""
        from maplevm.mm.madvise import sys_madvise

        return sys_madvise(self, start, length, advice)

    def sys_mlock(self, start: int, length: int) -> int:
        from maplevm.mm.mlock import sys_mlock

        return sys_mlock(self, start, length)

    def sys_mlock2(self, start: int, length: int, flags: int) -> int:
        from maplevm.mm.mlock import sys_mlock2

        return sys_mlock2(self, start, length, flags)

    def sys_munlock(self, start: int, length: int) -> int:
        from maplevm.mm.mlock import sys_munlock

        return sys_munlock(self, start, length)

    def sys_mlockall(self, flags: int) -> int:
        from maplevm.mm.mlock import sys_mlockall

        return sys_mlockall(self, flags)

    def sys_munlockall(self) -> int:
        from maplevm.mm.mlock import sys_munlockall

        return sys_munlockall(self)

    def sys_mseal(self, start: int, length: int, flags: int = 0) -> int:
        from maplevm.mm.mseal import sys_mseal

        return sys_mseal(self, start, length, flags)

    def sys_prctl_set_vma_anon_name(self, start: int, length: int, name: str | None) -> int:
        """``prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, start, len, name)``."""
        from maplevm.mm.madvise import sys_prctl_set_vma_anon_name

        return sys_prctl_set_vma_anon_name(self, start, length, name)

    def fault(self, addr: int, write: bool = True) -> int:
        """A page fault at ``addr``: 0, -EFAULT (SIGSEGV) or -EIO (SIGBUS)."""
        from maplevm.mm.fault import handle_fault

        return handle_fault(self, addr, write)

    def fork(self) -> MM:
        """``fork()``: a child address space (``dup_mmap()``)."""
        from maplevm.mm.fork import dup_mmap

        return dup_mmap(self)

    @classmethod
    def from_proc_maps(
        cls,
        maps_text: str,
        *,
        smaps_text: str | None = None,
        start_brk: int | None = None,
        brk: int | None = None,
        profile: KernelProfile | None = None,
    ) -> MM:
        """An MM seeded from any process's ``/proc/PID/maps`` text (no kernel counterpart).

        ``smaps_text`` supplies VmFlags and which VMAs hold anonymous pages (an anon_vma);
        without it they are inferred from the maps line.  ``start_brk``/``brk`` default to
        the ``[heap]`` line's bounds; ``profile`` to ``KernelProfile()`` (x86_64 defaults;
        ``KernelProfile.detect()`` reads this machine).
        """
        from maplevm.mm.seed import from_proc_maps

        return from_proc_maps(
            maps_text, smaps_text=smaps_text, start_brk=start_brk, brk=brk, profile=profile
        )

    # -- views ------------------------------------------------------------------------------

    def proc_maps(self) -> str:
        """``/proc/PID/maps``, byte for byte."""
        from maplevm.mm.proc_maps import proc_maps

        return proc_maps(self)

    def validate(self) -> None:
        """``validate_mm()``: the tree is valid and agrees with every VMA and map_count."""
        from maplevm.mm.vma import validate_mm

        validate_mm(self)


PAGE = PAGE_SIZE
