"""mm/madvise.c: ``madvise(2)`` and ``prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME)``.

The structure is the kernel's (7.0 naming, ``struct madvise_behavior`` carrying the range,
the VMA and its predecessor through the walk), with the live 6.18 kernel deciding where 6.16
and 7.0 differ:

* ``madvise_walk_vmas()`` applies the advice to every mapped part of the range and returns
  ENOMEM at the end if the range had holes; an error from one VMA stops the walk with the
  VMAs before it already changed.
* Advices that change ``vm_flags`` go through ``madvise_update_vma()`` ->
  ``vma_modify_flags()`` (split or merge); -ENOMEM from there is reported as EAGAIN.
* MADV_DOFORK refuses only VM_IO VMAs (6.16 and 6.18; 7.0 refuses all VM_SPECIAL ones):
  DOFORK on [vdso] returns 0 on 6.18.
* MADV_GUARD_INSTALL sets VM_MAYBE_GUARD ("gu", sticky, ignored by merges) on the *whole*
  VMA without splitting it, gives an *anonymous* VMA its anon_vma (a file VMA gets none, as
  in 7.0), zaps the pages of the range (anonymous COW copies included) and leaves a marker
  per page (``mm.guard_pages``); touching one is SIGSEGV/SEGV_MAPERR, also for populate and
  mlock.  MADV_DONTNEED and mprotect keep the markers, unmapping drops them, GUARD_REMOVE
  clears them but never the flag.
* MADV_FREE makes the anonymous pages of the range lazily freeable (``mm.lazyfree_pages``):
  they stay ("Anonymous" in smaps) until MADV_PAGEOUT reclaims them, unless written again.
  With no swap (the reference machine) PAGEOUT keeps every other anonymous page.
* Sealed VMAs refuse the discarding advices only when anonymous and not writable
  (``can_madvise_modify()``): EPERM.

Locking (mmap read/write lock, per-VMA read lock for DONTNEED/FREE/GUARD_*, the lock being
dropped by REMOVE/WILLNEED/COLLAPSE) changes nothing the model can observe: the per-VMA
path is taken only for a range inside one VMA, where it does what the walk does.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    MADV_COLD,
    MADV_COLLAPSE,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_DONTNEED_LOCKED,
    MADV_FREE,
    MADV_GUARD_INSTALL,
    MADV_GUARD_REMOVE,
    MADV_HUGEPAGE,
    MADV_HWPOISON,
    MADV_KEEPONFORK,
    MADV_MERGEABLE,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_SOFT_OFFLINE,
    MADV_UNMERGEABLE,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
    PAGE_ALIGN,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SIZE,
    ULONG_MAX,
    VM_DONTCOPY,
    VM_DONTDUMP,
    VM_DROPPABLE,
    VM_HUGETLB,
    VM_IO,
    VM_LOCKED,
    VM_MAYBE_GUARD,
    VM_MAYSHARE,
    VM_PFNMAP,
    VM_RAND_READ,
    VM_SEQ_READ,
    VM_SHARED,
    VM_SPECIAL,
    VM_WIPEONFORK,
    VM_WRITE,
)
from maplevm.mm.profile import CAP_SYS_ADMIN, KernelProfile
from maplevm.mm.vm_area import VmArea, anon_vma_name_eq, anon_vma_prepare
from maplevm.mm.vma import vma_is_sealed, vma_modify_flags, vma_modify_name
from maplevm.mm.vma_iter import VmaIterator

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
EAGAIN = errno.EAGAIN
EACCES = errno.EACCES
EBADF = errno.EBADF
EFAULT = errno.EFAULT
EINTR = errno.EINTR
EPERM = errno.EPERM
EFBIG = errno.EFBIG
EHWPOISON = 133

__MADV_SET_ANON_VMA_NAME = -1
ANON_VMA_NAME_MAX_LEN = 80
ANON_VMA_NAME_INVALID_CHARS = b"\\`$[]"
CAP_FOWNER = 3
PMD_SHIFT = 21
HPAGE_PMD_NR = PMD_SIZE >> PAGE_SHIFT
# s_maxbytes of ext4 with 4 KiB blocks (extent files) and of everything else we map.
EXT4_MAXBYTES = ((1 << 32) - 1) << 12
MAX_LFS_FILESIZE = (1 << 63) - 1


@dataclass
class MadviseBehaviorRange:
    """``struct madvise_behavior_range``: ``[start, end)``, updated per VMA."""

    start: int = 0
    end: int = 0


@dataclass
class MadviseBehavior:
    """``struct madvise_behavior``: the advice and the walk's current position."""

    mm: MM
    behavior: int
    anon_name: str | None = None
    range: MadviseBehaviorRange = field(default_factory=MadviseBehaviorRange)
    prev: VmArea | None = None
    vma: VmArea | None = None
    lock_dropped: bool = False


def _vma(madv_behavior: MadviseBehavior) -> VmArea:
    vma = madv_behavior.vma
    assert vma is not None
    return vma


def vma_is_anon_shmem(vma: VmArea) -> bool:
    """Mirror of ``vma_is_anon_shmem()``: shared anonymous memory (a shmem file)."""
    return vma.vm_file is not None and vma.vm_file.inode.shmem


def replace_anon_vma_name(vma: VmArea, anon_name: str | None, profile: KernelProfile) -> int:
    """Mirror of ``replace_anon_vma_name()`` (both CONFIG_ANON_VMA_NAME variants)."""
    if not profile.config_anon_vma_name:
        return -EINVAL if anon_name is not None else 0
    vma.anon_name = anon_name
    return 0


def madvise_update_vma(new_flags: int, madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_update_vma()``: give ``range`` of the VMA ``new_flags`` (or the
    new anon name), splitting or merging through ``vma_modify_*()``; 0 or -errno."""
    vma = _vma(madv_behavior)
    rng = madv_behavior.range
    anon_name = madv_behavior.anon_name
    set_new_anon_name = madv_behavior.behavior == __MADV_SET_ANON_VMA_NAME
    vmi = VmaIterator(madv_behavior.mm, rng.start)
    if new_flags == vma.vm_flags and (
        not set_new_anon_name or anon_vma_name_eq(vma.anon_name, anon_name)
    ):
        return 0
    if set_new_anon_name:
        ret = vma_modify_name(vmi, madv_behavior.prev, vma, rng.start, rng.end, anon_name)
    else:
        ret, new_flags = vma_modify_flags(
            vmi, madv_behavior.prev, vma, rng.start, rng.end, new_flags
        )
    if isinstance(ret, int):
        return ret
    madv_behavior.vma = ret
    ret.vm_flags = new_flags
    if set_new_anon_name:
        return replace_anon_vma_name(ret, anon_name, madv_behavior.mm.profile)
    return 0


def mark_mmap_lock_dropped(madv_behavior: MadviseBehavior) -> None:
    """Mirror of ``mark_mmap_lock_dropped()``: the walk must look the next VMA up again."""
    madv_behavior.lock_dropped = True


def madvise_willneed(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_willneed()``: swap-in or readahead, never an error
    (CONFIG_SWAP is on); for files the lock is dropped around ``vfs_fadvise()``."""
    vma = _vma(madv_behavior)
    file = vma.vm_file
    if file is None or file.inode.shmem:
        return 0
    mark_mmap_lock_dropped(madv_behavior)
    return 0


def can_do_file_pageout(vma: VmArea) -> bool:
    """Mirror of ``can_do_file_pageout()``: the file's owner (or CAP_FOWNER) or a writer."""
    if vma.vm_file is None:
        return False
    return vma.vm_mm.profile.capable(CAP_FOWNER) or vma.vm_file.writable


def can_madv_lru_vma(vma: VmArea) -> bool:
    """Mirror of ``can_madv_lru_vma()``."""
    return not vma.vm_flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB)


def split_folio(mm: MM, block: int) -> None:
    """``split_folio()`` on the THP of a PMD block: the block's pages become small folios
    mapped by PTEs, and every zero-filled one (never stored into) is remapped to the shared
    zero page (``try_to_map_unused_to_zeropage()``), so it stops being anonymous memory,
    except where the mapping VMA is VM_LOCKED."""
    from maplevm.mm.mmap import find_vma

    first = block << PMD_SHIFT
    mm.thp_folios.discard(block)
    mm.note_pte_tables(first, first + PMD_SIZE)
    for page in mm.anon_pages_in(first, first + PMD_SIZE):
        if page in mm.written_pages:
            continue
        addr = page << PAGE_SHIFT
        vma = find_vma(mm, addr)
        if vma is not None and vma.vm_start <= addr and vma.vm_flags & VM_LOCKED:
            continue
        mm.drop_anon_pages(addr, addr + PAGE_SIZE)


def madvise_split_large_folios(mm: MM, start: int, end: int) -> None:
    """What the page-table walks of MADV_COLD, MADV_PAGEOUT and MADV_FREE do to a THP only
    partly inside their range (``next - addr != HPAGE_PMD_SIZE`` for a PMD-mapped one, a
    PTE batch shorter than the folio otherwise): they split it first."""
    if not mm.thp_folios:
        return
    for block in range(start >> PMD_SHIFT, ((end - 1) >> PMD_SHIFT) + 1):
        if block not in mm.thp_folios:
            continue
        first = block << PMD_SHIFT
        if mm.shared_pages and any(
            p in mm.shared_pages for p in mm.anon_pages_in(first, first + PMD_SIZE)
        ):
            continue  # folio_maybe_mapped_shared(): not split
        present = mm.anon_pages_in(max(first, start), min(first + PMD_SIZE, end))
        if not present:
            continue  # the walk meets no page of the folio
        if start <= first and first + PMD_SIZE <= end and len(present) == HPAGE_PMD_NR:
            continue  # the whole folio is inside the range
        split_folio(mm, block)


def madvise_cold(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_cold()``: deactivating pages changes nothing visible."""
    if not can_madv_lru_vma(_vma(madv_behavior)):
        return -EINVAL
    rng = madv_behavior.range
    madvise_split_large_folios(madv_behavior.mm, rng.start, rng.end)
    return 0


def madvise_pageout(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_pageout()``: reclaim the range now.

    Without swap only clean lazily-freed anonymous pages (MADV_FREE, not written since)
    can go: they are discarded.  Every other anonymous page stays.
    """
    vma = _vma(madv_behavior)
    if not can_madv_lru_vma(vma):
        return -EINVAL
    if not vma.is_anonymous and not can_do_file_pageout(vma) and vma.vm_flags & VM_MAYSHARE:
        return 0
    mm = madv_behavior.mm
    rng = madv_behavior.range
    madvise_split_large_folios(mm, rng.start, rng.end)
    if mm.lazyfree_pages:
        for page in mm.anon_pages_in(rng.start, rng.end):
            if page in mm.lazyfree_pages and page not in mm.shared_pages:
                addr = page << PAGE_SHIFT
                mm.drop_anon_pages(addr, addr + PAGE_SIZE)
    return 0


def madvise_free_single_vma(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_free_single_vma()``: anonymous VMAs only (EINVAL otherwise);
    the present pages of the range become lazily freeable."""
    vma = _vma(madv_behavior)
    mm = madv_behavior.mm
    if not vma.is_anonymous:
        return -EINVAL
    start = max(vma.vm_start, madv_behavior.range.start)
    if start >= vma.vm_end:
        return -EINVAL
    end = min(vma.vm_end, madv_behavior.range.end)
    if end <= vma.vm_start:
        return -EINVAL
    madvise_split_large_folios(mm, start, end)
    # Folios still shared with another process are skipped (folio_mapcount() != 1).
    mm.lazyfree_pages.update(p for p in mm.anon_pages_in(start, end) if p not in mm.shared_pages)
    return 0


def madvise_dontneed_single_vma(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_dontneed_single_vma()``: zap the range (private COW copies of
    file pages too); guard markers survive, the anon_vma stays.  With CONFIG_PT_RECLAIM a
    zap spanning whole PMD blocks frees their emptied page tables."""
    mm = madv_behavior.mm
    rng = madv_behavior.range
    mm.drop_anon_pages(rng.start, rng.end)
    if rng.end - rng.start >= PMD_SIZE and mm.pte_tables:
        for block in range((rng.start + PMD_SIZE - 1) >> PMD_SHIFT, rng.end >> PMD_SHIFT):
            first = block << PMD_SHIFT
            if not any(first <= p < first + PMD_SIZE for p in mm.guard_pages):
                mm.pte_tables.discard(block)
    return 0


def madvise_dontneed_free_valid_vma(madv_behavior: MadviseBehavior) -> bool:
    """Mirror of ``madvise_dontneed_free_valid_vma()``: not VM_PFNMAP, not VM_LOCKED
    (unless MADV_DONTNEED_LOCKED); hugetlb VMAs take only DONTNEED on huge-page units."""
    vma = _vma(madv_behavior)
    behavior = madv_behavior.behavior
    rng = madv_behavior.range
    if not vma.vm_flags & VM_HUGETLB:
        forbidden = VM_PFNMAP
        if behavior != MADV_DONTNEED_LOCKED:
            forbidden |= VM_LOCKED
        return not vma.vm_flags & forbidden
    if behavior not in (MADV_DONTNEED, MADV_DONTNEED_LOCKED):
        return False
    if rng.start & (PMD_SIZE - 1):
        return False
    rng.end &= ~(PMD_SIZE - 1)
    return True


def madvise_dontneed_free(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_dontneed_free()`` (no userfaultfd contexts in the model)."""
    behavior = madv_behavior.behavior
    rng = madv_behavior.range
    if not madvise_dontneed_free_valid_vma(madv_behavior):
        return -EINVAL
    if rng.start == rng.end:
        return 0
    if behavior in (MADV_DONTNEED, MADV_DONTNEED_LOCKED):
        return madvise_dontneed_single_vma(madv_behavior)
    if behavior == MADV_FREE:
        return madvise_free_single_vma(madv_behavior)
    return -EINVAL


def madvise_populate(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_populate()``: fault the range in (not a VMA walk: it stops at
    the first hole with ENOMEM, at a VMA GUP refuses with EINVAL, at a page that cannot
    be faulted in with EFAULT, the pages before staying populated)."""
    from maplevm.mm.gup import faultin_page_range

    mm = madv_behavior.mm
    write = madv_behavior.behavior == MADV_POPULATE_WRITE
    start = madv_behavior.range.start
    end = madv_behavior.range.end
    while start < end:
        pages = faultin_page_range(mm, start, end, write)
        if pages < 0:
            if pages in (-EINTR, -EINVAL, -EHWPOISON, -EFAULT):
                return pages
            return -ENOMEM
        start += pages * PAGE_SIZE
    return 0


def vfs_fallocate_punch_hole(vma: VmArea, offset: int, length: int) -> int:
    """What ``vfs_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`` answers for the
    files the model maps (ext4 scratch files, shmem): 0 or -EFBIG past the filesystem's
    maximum size.  Dropping the page cache changes no anonymous page."""
    assert vma.vm_file is not None
    inode = vma.vm_file.inode
    maxbytes = MAX_LFS_FILESIZE if inode.shmem or inode.fs != "ext4" else EXT4_MAXBYTES
    if offset + length > maxbytes:
        return -EFBIG
    return 0


def madvise_remove(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_remove()``: punch a hole in the file behind a shared writable
    mapping.  Locked -> EINVAL; no file (private anonymous, special) -> EINVAL; not
    ``vma_is_shared_maywrite()`` (private file mapping, read-only descriptor) -> EACCES."""
    vma = _vma(madv_behavior)
    rng = madv_behavior.range
    mark_mmap_lock_dropped(madv_behavior)
    if vma.vm_flags & VM_LOCKED:
        return -EINVAL
    if vma.vm_file is None:
        return -EINVAL
    if not vma.is_shared_maywrite:
        return -EACCES
    offset = (rng.start - vma.vm_start) + (vma.vm_pgoff << PAGE_SHIFT)
    return vfs_fallocate_punch_hole(vma, offset, rng.end - rng.start)


def is_valid_guard_vma(vma: VmArea, allow_locked: bool) -> bool:
    """Mirror of ``is_valid_guard_vma()``: not special, not hugetlb, not locked (unless
    removing)."""
    disallowed = VM_SPECIAL | VM_HUGETLB
    if not allow_locked:
        disallowed |= VM_LOCKED
    return not vma.vm_flags & disallowed


def madvise_guard_install(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_guard_install()``: flag the whole VMA VM_MAYBE_GUARD, give an
    anonymous VMA its anon_vma, zap whatever is mapped in the range and put a guard marker
    on every page of it."""
    vma = _vma(madv_behavior)
    mm = madv_behavior.mm
    rng = madv_behavior.range
    if not is_valid_guard_vma(vma, False):
        return -EINVAL
    vma.vm_flags |= VM_MAYBE_GUARD  # vma_set_atomic_flag(VMA_MAYBE_GUARD_BIT)
    if vma.is_anonymous:
        anon_vma_prepare(vma)
    mm.drop_anon_pages(rng.start, rng.end)  # zap_page_range_single(): COW copies too
    mm.guard_pages.update(range(rng.start, rng.end, PAGE_SIZE))
    mm.note_pte_tables(rng.start, rng.end)
    return 0


def madvise_guard_remove(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_guard_remove()``: clear the markers of the range (allowed in
    locked VMAs); VM_MAYBE_GUARD stays."""
    vma = _vma(madv_behavior)
    rng = madv_behavior.range
    if not is_valid_guard_vma(vma, True):
        return -EINVAL
    madv_behavior.mm.drop_guard_pages(rng.start, rng.end)
    return 0


def is_discard(behavior: int) -> bool:
    """Mirror of ``is_discard()``: does the advice discard mapped data?"""
    return behavior in (
        MADV_FREE,
        MADV_DONTNEED,
        MADV_DONTNEED_LOCKED,
        MADV_REMOVE,
        MADV_DONTFORK,
        MADV_WIPEONFORK,
        MADV_GUARD_INSTALL,
    )


def can_madvise_modify(madv_behavior: MadviseBehavior) -> bool:
    """Mirror of ``can_madvise_modify()``: a sealed VMA refuses discarding advices when
    it is anonymous and not writable (file mappings, shmem included, are allowed)."""
    vma = _vma(madv_behavior)
    if not vma_is_sealed(vma):
        return True
    if not is_discard(madv_behavior.behavior):
        return True
    if not vma.is_anonymous:
        return True
    return bool(vma.vm_flags & VM_WRITE)


def madvise_vma_behavior(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_vma_behavior()``: apply the advice to ``range`` of one VMA."""
    from maplevm.mm.khugepaged import hugepage_madvise, madvise_collapse
    from maplevm.mm.ksm import ksm_madvise

    behavior = madv_behavior.behavior
    vma = _vma(madv_behavior)
    new_flags = vma.vm_flags
    rng = madv_behavior.range

    if not can_madvise_modify(madv_behavior):
        return -EPERM

    if behavior == MADV_REMOVE:
        return madvise_remove(madv_behavior)
    if behavior == MADV_WILLNEED:
        return madvise_willneed(madv_behavior)
    if behavior == MADV_COLD:
        return madvise_cold(madv_behavior)
    if behavior == MADV_PAGEOUT:
        return madvise_pageout(madv_behavior)
    if behavior in (MADV_FREE, MADV_DONTNEED, MADV_DONTNEED_LOCKED):
        return madvise_dontneed_free(madv_behavior)
    if behavior == MADV_COLLAPSE:
        mark_mmap_lock_dropped(madv_behavior)
        return madvise_collapse(vma, rng.start, rng.end)
    if behavior == MADV_GUARD_INSTALL:
        return madvise_guard_install(madv_behavior)
    if behavior == MADV_GUARD_REMOVE:
        return madvise_guard_remove(madv_behavior)

    # The behaviours below update VMAs through madvise_update_vma().
    error = 0
    if behavior == MADV_NORMAL:
        new_flags &= ~(VM_RAND_READ | VM_SEQ_READ)
    elif behavior == MADV_SEQUENTIAL:
        new_flags = (new_flags & ~VM_RAND_READ) | VM_SEQ_READ
    elif behavior == MADV_RANDOM:
        new_flags = (new_flags & ~VM_SEQ_READ) | VM_RAND_READ
    elif behavior == MADV_DONTFORK:
        new_flags |= VM_DONTCOPY
    elif behavior == MADV_DOFORK:
        if new_flags & VM_IO:  # 6.18 (and 6.16); 7.0 refuses every VM_SPECIAL VMA
            return -EINVAL
        new_flags &= ~VM_DONTCOPY
    elif behavior == MADV_WIPEONFORK:
        if vma.vm_file is not None or new_flags & VM_SHARED:
            return -EINVAL
        new_flags |= VM_WIPEONFORK
    elif behavior == MADV_KEEPONFORK:
        if new_flags & VM_DROPPABLE:
            return -EINVAL
        new_flags &= ~VM_WIPEONFORK
    elif behavior == MADV_DONTDUMP:
        new_flags |= VM_DONTDUMP
    elif behavior == MADV_DODUMP:
        if (not new_flags & VM_HUGETLB and new_flags & VM_SPECIAL) or new_flags & VM_DROPPABLE:
            return -EINVAL
        new_flags &= ~VM_DONTDUMP
    elif behavior in (MADV_MERGEABLE, MADV_UNMERGEABLE):
        error, new_flags = ksm_madvise(vma, rng.start, rng.end, behavior, new_flags)
    elif behavior in (MADV_HUGEPAGE, MADV_NOHUGEPAGE):
        error, new_flags = hugepage_madvise(vma, new_flags, behavior)
    elif behavior == __MADV_SET_ANON_VMA_NAME:
        if vma.vm_file is not None and not vma_is_anon_shmem(vma):
            return -EBADF
    if not error:
        error = madvise_update_vma(new_flags, madv_behavior)
    # madvise() returns EAGAIN if kernel resources are temporarily unavailable.
    if error == -ENOMEM:
        error = -EAGAIN
    return error


def madvise_inject_error(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_inject_error()`` (MADV_HWPOISON, MADV_SOFT_OFFLINE).

    Only the refusals are modelled (no CAP_SYS_ADMIN: EPERM; a page GUP cannot reach:
    EFAULT); poisoning or offlining a real page is not, and the operation scripts refuse
    these advices on a live kernel anyway.
    """
    from maplevm.mm.gup import check_vma_flags
    from maplevm.mm.mmap import vma_lookup

    mm = madv_behavior.mm
    if not mm.profile.capable(CAP_SYS_ADMIN):
        return -EPERM
    start = madv_behavior.range.start
    while start < madv_behavior.range.end:
        vma = vma_lookup(mm, start)
        if vma is None or check_vma_flags(vma, 0):
            return -EFAULT
        start += PAGE_SIZE
    return 0


def is_memory_failure(madv_behavior: MadviseBehavior) -> bool:
    """Mirror of ``is_memory_failure()`` (false without CONFIG_MEMORY_FAILURE)."""
    if not madv_behavior.mm.profile.config_memory_failure:
        return False
    return madv_behavior.behavior in (MADV_HWPOISON, MADV_SOFT_OFFLINE)


def madvise_behavior_valid(behavior: int, profile: KernelProfile) -> bool:
    """Mirror of ``madvise_behavior_valid()`` for the profile's build options."""
    if behavior in (
        MADV_DOFORK,
        MADV_DONTFORK,
        MADV_NORMAL,
        MADV_SEQUENTIAL,
        MADV_RANDOM,
        MADV_REMOVE,
        MADV_WILLNEED,
        MADV_DONTNEED,
        MADV_DONTNEED_LOCKED,
        MADV_FREE,
        MADV_COLD,
        MADV_PAGEOUT,
        MADV_POPULATE_READ,
        MADV_POPULATE_WRITE,
        MADV_DONTDUMP,
        MADV_DODUMP,
        MADV_WIPEONFORK,
        MADV_KEEPONFORK,
        MADV_GUARD_INSTALL,
        MADV_GUARD_REMOVE,
    ):
        return True
    if behavior in (MADV_MERGEABLE, MADV_UNMERGEABLE):
        return profile.config_ksm
    if behavior in (MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE):
        return profile.config_thp
    if behavior in (MADV_SOFT_OFFLINE, MADV_HWPOISON):
        return profile.config_memory_failure
    return False


def madvise_walk_vmas(madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_walk_vmas()``: call ``madvise_vma_behavior()`` on the part of
    each VMA inside the range.  Holes do not stop the walk: they make it return -ENOMEM
    at the end, the mapped parts having been advised.  An error stops it at once."""
    from maplevm.mm.mmap import find_vma, find_vma_prev

    mm = madv_behavior.mm
    rng = madv_behavior.range
    last_end = rng.end
    unmapped_error = 0
    vma, prev = find_vma_prev(mm, rng.start)
    if vma is not None and rng.start > vma.vm_start:
        prev = vma
    while True:
        if vma is None:
            return -ENOMEM
        if rng.start < vma.vm_start:
            unmapped_error = -ENOMEM
            rng.start = vma.vm_start
            if rng.start >= last_end:
                break
        rng.end = min(vma.vm_end, last_end)
        madv_behavior.prev = prev
        madv_behavior.vma = vma
        error = madvise_vma_behavior(madv_behavior)
        if error:
            return error
        cur: VmArea | None
        if madv_behavior.lock_dropped:
            # The mmap lock was dropped: the VMA may be gone, look it up again.
            prev = cur = None
            madv_behavior.lock_dropped = False
        else:
            cur = madv_behavior.vma
            prev = cur
        if cur is not None and rng.end < cur.vm_end:
            rng.end = cur.vm_end
        if rng.end >= last_end:
            break
        vma = find_vma(mm, cur.vm_end if cur is not None else rng.end)
        rng.start = rng.end
    return unmapped_error


def is_valid_madvise(start: int, len_in: int, behavior: int, profile: KernelProfile) -> bool:
    """Mirror of ``is_valid_madvise()``."""
    if not madvise_behavior_valid(behavior, profile):
        return False
    if start & (PAGE_SIZE - 1):
        return False
    length = PAGE_ALIGN(len_in)
    if len_in and not length:
        return False
    return start + length <= ULONG_MAX


def madvise_should_skip(
    start: int, len_in: int, behavior: int, profile: KernelProfile
) -> tuple[bool, int]:
    """Mirror of ``madvise_should_skip()``: ``(skip, error)``; an invalid request is
    skipped with -EINVAL, an empty range with 0."""
    if not is_valid_madvise(start, len_in, behavior, profile):
        return True, -EINVAL
    if start + PAGE_ALIGN(len_in) == start:
        return True, 0
    return False, 0


def madvise_do_behavior(start: int, len_in: int, madv_behavior: MadviseBehavior) -> int:
    """Mirror of ``madvise_do_behavior()``."""
    rng = madv_behavior.range
    if is_memory_failure(madv_behavior):
        rng.start = start
        rng.end = start + len_in
        return madvise_inject_error(madv_behavior)
    rng.start = start
    rng.end = start + PAGE_ALIGN(len_in)
    if madv_behavior.behavior in (MADV_POPULATE_READ, MADV_POPULATE_WRITE):
        return madvise_populate(madv_behavior)
    return madvise_walk_vmas(madv_behavior)


def do_madvise(mm: MM, start: int, len_in: int, behavior: int) -> int:
    """Mirror of ``do_madvise()``: 0 or -errno."""
    skip, error = madvise_should_skip(start, len_in, behavior, mm.profile)
    if skip:
        return error
    madv_behavior = MadviseBehavior(mm, behavior)
    return madvise_do_behavior(start, len_in, madv_behavior)


def sys_madvise(mm: MM, start: int, length: int, advice: int) -> int:
    """``madvise(2)``: ``start`` and ``len`` are unsigned longs, the advice an int."""
    behavior = advice & 0xFFFFFFFF
    if behavior >= 1 << 31:
        behavior -= 1 << 32
    return do_madvise(mm, start & ULONG_MAX, length & ULONG_MAX, behavior)


# -- PR_SET_VMA_ANON_NAME ----------------------------------------------------------------


def is_valid_name_char(ch: int) -> bool:
    """Mirror of ``is_valid_name_char()``: printable ASCII but ``\\`$[]``."""
    return 0x1F < ch < 0x7F and ch not in ANON_VMA_NAME_INVALID_CHARS


def madvise_set_anon_name(mm: MM, start: int, len_in: int, anon_name: str | None) -> int:
    """Mirror of ``madvise_set_anon_name()``: the madvise walk with the pseudo-advice
    ``__MADV_SET_ANON_VMA_NAME`` (holes -> ENOMEM after naming the mapped parts)."""
    if start & (PAGE_SIZE - 1):
        return -EINVAL
    length = PAGE_ALIGN(len_in)
    if len_in and not length:
        return -EINVAL
    end = start + length
    if end > ULONG_MAX:
        return -EINVAL
    if end == start:
        return 0
    madv_behavior = MadviseBehavior(mm, __MADV_SET_ANON_VMA_NAME, anon_name)
    madv_behavior.range.start = start
    madv_behavior.range.end = end
    return madvise_walk_vmas(madv_behavior)


def set_anon_vma_name(mm: MM, addr: int, size: int, uname: str | None) -> int:
    """Mirror of ``set_anon_vma_name()``: -EINVAL without CONFIG_ANON_VMA_NAME; else the
    name is at most 79 bytes (``strndup_user(uname, 80)``) of valid characters."""
    if not mm.profile.config_anon_vma_name:
        return -EINVAL
    if uname is not None:
        name = uname.encode("utf-8", "surrogateescape")
        if len(name) + 1 > ANON_VMA_NAME_MAX_LEN:
            return -EINVAL
        if not all(is_valid_name_char(ch) for ch in name):
            return -EINVAL
    return madvise_set_anon_name(mm, addr, size, uname)


def sys_prctl_set_vma_anon_name(mm: MM, start: int, length: int, name: str | None) -> int:
    """``prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, start, len, name)`` (``prctl_set_vma()``)."""
    return set_anon_vma_name(mm, start & ULONG_MAX, length & ULONG_MAX, name)
