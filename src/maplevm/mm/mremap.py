"""mm/mremap.c: ``mremap(2)``, structured as the kernel structures it since the 6.17
rewrite around ``struct vma_remap_struct``.

The system call threads one :class:`VmaRemapStruct` through its helpers:

* ``do_mremap()``: page-align both lengths, ``check_mremap_params()`` (everything decidable
  without a VMA), then either the multi-VMA ``remap_move()`` (MREMAP_FIXED with equal
  lengths) or ``vma_lookup()`` + ``check_prep_vma()`` + ``mremap_to()`` / ``mremap_at()``;
  a successful expansion of an mlock()ed VMA is populated afterwards.
* ``mremap_at()``: no resize, shrink in place (unmap the tail), or ``expand_vma()`` (in place
  if ``vma_expandable()``, otherwise move when MREMAP_MAYMOVE allows, else -ENOMEM).
* ``mremap_to()``: MREMAP_FIXED unmaps the destination first, a shrink unmaps the tail
  first, then ``vrm_set_new_addr()`` and ``move_vma()``.
* ``move_vma()``: ``prep_move_vma()`` (map_count, ``may_split``), commit charge,
  ``copy_vma_and_data()`` (``copy_vma()`` places or merges the destination VMA, the page
  tables move, ``vm_ops->mremap`` may refuse and the move is undone), then either
  ``dontunmap_complete()`` or ``unmap_source_vma()``.

Failure side effects are the kernel's: a MREMAP_FIXED destination, or the tail of a
shrink, is already unmapped when a later check fails; a multi-VMA move that fails part way
leaves the VMAs already moved where they went.

Page tables are modelled by what user space can see of them: the anonymous pages
(``mm.anon_pages``) and the MADV_GUARD_INSTALL markers (``mm.guard_pages``) move with the
mapping.  Not modelled: userfaultfd events, hugetlb reservations, KSM unmerging (it cannot
fail here), ``hiwater_vm``, and the mmap lock (it only matters to concurrent threads).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    MAP_FIXED,
    MAP_SHARED,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_ALIGN,
    PAGE_SHIFT,
    PMD_SIZE,
    ULONG_MAX,
    VM_ACCOUNT,
    VM_DONTEXPAND,
    VM_HUGETLB,
    VM_LOCKED,
    VM_LOCKED_MASK,
    VM_MAYSHARE,
    VM_PFNMAP,
    VM_SHARED,
    VM_UFFD_FLAGS,
    offset_in_page,
)
from maplevm.mm.gup import mm_populate
from maplevm.mm.mmap import (
    IS_ERR_VALUE,
    do_munmap,
    find_vma_intersection,
    get_unmapped_area,
    may_expand_vm,
    mlock_future_ok,
    vm_stat_account,
    vma_lookup,
)
from maplevm.mm.trace import trace
from maplevm.mm.util import security_vm_enough_memory_mm, vm_acct_memory, vm_unacct_memory
from maplevm.mm.vm_area import VmArea, unlink_anon_vmas
from maplevm.mm.vma import (
    copy_vma,
    do_vmi_munmap,
    vma_is_sealed,
    vma_merge_extend,
)
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma_range,
    vma_iter_invalidate,
    vma_next,
    vma_prev,
)

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
EFAULT = errno.EFAULT
EPERM = errno.EPERM
EAGAIN = errno.EAGAIN

# enum mremap_type
MREMAP_INVALID = 0
MREMAP_NO_RESIZE = 1
MREMAP_SHRINK = 2
MREMAP_EXPAND = 3

HPAGE_SIZE = PMD_SIZE  # the default hugetlb page size on x86_64
PMD_SHIFT = 21
PMD_MASK = ~(PMD_SIZE - 1)


@dataclass
class VmaRemapStruct:
    """Mirror of ``struct vma_remap_struct``: one mremap() operation, threaded through it.

    User-provided: ``addr``, ``old_len``, ``new_len``, ``flags``, ``new_addr``; then the
    VMA and the internal state ``do_mremap()`` and its helpers work out.
    """

    mm: MM
    addr: int
    old_len: int
    new_len: int
    flags: int
    new_addr: int
    vma: VmArea | None = None
    delta: int = 0
    populate_expand: bool = False
    remap_type: int = MREMAP_INVALID
    mmap_locked: bool = False
    charged: int = 0
    vmi_needs_invalidate: bool = False


# -- page tables --------------------------------------------------------------------------------


def can_realign_addr(
    mm: MM, old: VmArea, new: VmArea, old_addr: int, new_addr: int, length: int
) -> bool:
    """Mirror of ``can_realign_addr()`` with ``can_align_down()`` (not for a stack): the
    move may start at the PMD boundary below both addresses when they are equally
    misaligned, the range reaches the next boundary, both start their VMAs and nothing is
    mapped between the boundary and either VMA."""
    old_align = old_addr & (PMD_SIZE - 1)
    if length < PMD_SIZE - old_align or old_align == 0:
        return False
    if old_align != new_addr & (PMD_SIZE - 1):
        return False
    for vma, addr in ((old, old_addr), (new, new_addr)):
        if vma.vm_start != addr:
            return False
        if find_vma_intersection(mm, addr & PMD_MASK, vma.vm_start) is not None:
            return False
    return True


def _pmd_moves(
    mm: MM,
    old_addr: int,
    new_addr: int,
    length: int,
    old: VmArea | None,
    new: VmArea | None,
) -> list[tuple[str, int, int]]:
    """What ``move_page_tables()`` does at each PMD of the range, decided before anything
    moves: ``("huge", old_block, new_block)`` moves a PMD-mapped THP or huge zero page,
    ``("table", ...)`` moves a whole PTE table (``move_normal_pmd()``: the old PMD is left
    empty, so a later fault there may take a THP), ``("ptes", ...)`` moves entries into a
    table at the new place and leaves the old table (``move_ptes()``), ``("split", ...)``
    the same after ``split_huge_pmd()``.  Empty old PMDs are skipped (``get_old_pmd()``)."""
    old_end = old_addr + length
    if (
        old is not None
        and new is not None
        and can_realign_addr(mm, old, new, old_addr, new_addr, length)
    ):
        old_addr &= PMD_MASK
        new_addr &= PMD_MASK
    steps: list[tuple[str, int, int]] = []
    populated: set[int] = set()
    while old_addr < old_end:
        # get_extent(NORMAL_PMD): up to the next PMD boundary of either side.
        extent = min(
            ((old_addr + PMD_SIZE) & PMD_MASK) - old_addr,
            old_end - old_addr,
            ((new_addr + PMD_SIZE) & PMD_MASK) - new_addr,
        )
        ob, nb = old_addr >> PMD_SHIFT, new_addr >> PMD_SHIFT
        if not mm.pmd_none(old_addr):
            huge = ob in mm.huge_zero_pmds or (ob in mm.thp_folios and ob not in mm.pte_tables)
            whole = extent == PMD_SIZE
            if huge:
                steps.append(("huge" if whole else "split", ob, nb))
            elif whole and nb not in populated and mm.pmd_none(new_addr):
                steps.append(("table", ob, nb))
            else:
                steps.append(("ptes", ob, nb))
            populated.add(nb)
        old_addr += extent
        new_addr += extent
    return steps


def move_page_tables(
    mm: MM,
    old_addr: int,
    new_addr: int,
    length: int,
    old: VmArea | None = None,
    new: VmArea | None = None,
) -> int:
    """Mirror of ``move_page_tables()`` for what the model keeps of page tables: the
    anonymous pages and guard markers of ``[old_addr, old_addr + len)`` move to
    ``new_addr``, and with them the PMD-level state that decides later THP faults
    (see :func:`_pmd_moves`).  ``old``/``new`` are the source and destination VMAs
    (``pmc->old``/``pmc->new``), needed for the realignment.  Returns the length moved
    (always all of it: no allocation fails)."""
    if length and old_addr != new_addr:
        steps = _pmd_moves(mm, old_addr, new_addr, length, old, new)
        tables_before = set(mm.pte_tables)
        mm.move_anon_pages(old_addr, new_addr, length)
        for kind, ob, nb in steps:
            if kind == "huge":
                if ob in mm.huge_zero_pmds:
                    mm.huge_zero_pmds.discard(ob)
                    mm.huge_zero_pmds.add(nb)
                if nb not in tables_before:
                    mm.pte_tables.discard(nb)  # a PMD mapping, not a table
            elif kind == "table":
                mm.pte_tables.discard(ob)
                mm.pte_tables.add(nb)
            else:
                if kind == "split":
                    mm.huge_zero_pmds.discard(ob)
                    mm.pte_tables.add(ob)
                mm.pte_tables.add(nb)
        if mm.guard_pages:
            end = old_addr + length
            moved = {p for p in mm.guard_pages if old_addr <= p < end}
            if moved:
                mm.guard_pages -= moved
                mm.guard_pages |= {p - old_addr + new_addr for p in moved}
    return length


# -- the vrm helpers ---------------------------------------------------------------------------


def vrm_set_delta(vrm: VmaRemapStruct) -> None:
    """Mirror of ``vrm_set_delta()``: ``|old_len - new_len|``."""
    vrm.delta = abs(vrm.old_len - vrm.new_len)


def vrm_remap_type(vrm: VmaRemapStruct) -> int:
    """Mirror of ``vrm_remap_type()``: no resize, shrink or expand."""
    if vrm.delta == 0:
        return MREMAP_NO_RESIZE
    if vrm.old_len > vrm.new_len:
        return MREMAP_SHRINK
    return MREMAP_EXPAND


def vrm_overlaps(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``vrm_overlaps()``: would ``[new_addr, +new_len)`` meet ``[addr,
    +old_len)``?  (Unsigned arithmetic: the ends wrap as in C.)"""
    start_old = vrm.addr
    start_new = vrm.new_addr
    end_old = (vrm.addr + vrm.old_len) & ULONG_MAX
    end_new = (vrm.new_addr + vrm.new_len) & ULONG_MAX
    return end_old > start_new and end_new > start_old


def vrm_implies_new_addr(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``vrm_implies_new_addr()``: MREMAP_FIXED or MREMAP_DONTUNMAP."""
    return bool(vrm.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))


def vrm_set_new_addr(vrm: VmaRemapStruct) -> int:
    """Mirror of ``vrm_set_new_addr()``: ``get_unmapped_area()`` for the destination (a
    MAP_FIXED request with MREMAP_FIXED, a hint with MREMAP_DONTUNMAP alone, else a free
    search), keeping the file offset.  0 (``vrm.new_addr`` set) or -errno."""
    vma = vrm.vma
    assert vma is not None
    map_flags = 0
    internal_pgoff = (vrm.addr - vma.vm_start) >> PAGE_SHIFT
    pgoff = vma.vm_pgoff + internal_pgoff
    new_addr = vrm.new_addr if vrm_implies_new_addr(vrm) else 0
    if vrm.flags & MREMAP_FIXED:
        map_flags |= MAP_FIXED
    if vma.vm_flags & VM_MAYSHARE:
        map_flags |= MAP_SHARED
    res = get_unmapped_area(vrm.mm, vma.vm_file, new_addr, vrm.new_len, pgoff, map_flags)
    if IS_ERR_VALUE(res):
        return res
    vrm.new_addr = res
    return 0


def vrm_calc_charge(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``vrm_calc_charge()``: charge commit for an accounted VMA (the whole new
    length with MREMAP_DONTUNMAP, else the growth).  False if there is not enough."""
    assert vrm.vma is not None
    if not vrm.vma.vm_flags & VM_ACCOUNT:
        return True
    if vrm.flags & MREMAP_DONTUNMAP:
        charged = vrm.new_len >> PAGE_SHIFT
    else:
        charged = vrm.delta >> PAGE_SHIFT
    if security_vm_enough_memory_mm(vrm.mm, charged):
        return False
    vrm.charged = charged
    return True


def vrm_uncharge(vrm: VmaRemapStruct) -> None:
    """Mirror of ``vrm_uncharge()``: give back what ``vrm_calc_charge()`` took."""
    assert vrm.vma is not None
    if not vrm.vma.vm_flags & VM_ACCOUNT:
        return
    vm_unacct_memory(vrm.mm, vrm.charged)
    vrm.charged = 0


def vrm_stat_account(vrm: VmaRemapStruct, nbytes: int) -> None:
    """Mirror of ``vrm_stat_account()``: total/exec/stack/data_vm, and locked_vm for a
    VM_LOCKED VMA."""
    pages = nbytes >> PAGE_SHIFT
    mm = vrm.mm
    vma = vrm.vma
    assert vma is not None
    vm_stat_account(mm, vma.vm_flags, pages)
    if vma.vm_flags & VM_LOCKED:
        mm.locked_vm += pages


# -- moving -----------------------------------------------------------------------------------


def prep_move_vma(vrm: VmaRemapStruct) -> int:
    """Mirror of ``prep_move_vma()``: keep clear of max_map_count (the unmap may split one
    VMA in three), and ask ``may_split`` about both ends of a partial move.  0 or -errno.

    (``ksm_madvise(MADV_UNMERGEABLE)`` cannot fail here and leaves the flags alone.)
    """
    vma = vrm.vma
    assert vma is not None
    old_addr = vrm.addr
    old_len = vrm.old_len
    if vrm.mm.map_count >= vrm.mm.profile.max_map_count - 3:
        return -ENOMEM
    if vma.vm_ops is not None:
        err = 0
        if vma.vm_start != old_addr:
            err = vma.vm_ops.may_split(vma, old_addr)
        if not err and vma.vm_end != old_addr + old_len:
            err = vma.vm_ops.may_split(vma, old_addr + old_len)
        if err:
            return err
    return 0


def unmap_source_vma(vrm: VmaRemapStruct) -> None:
    """Mirror of ``unmap_source_vma()``: unmap the source range, without giving back the
    commit charge the move keeps: VM_ACCOUNT is cleared for the unmap and set again on
    what remains of the VMA on either side.  Best effort: on failure only the charge is
    corrected (and the VMA stays without VM_ACCOUNT, as in the kernel)."""
    mm = vrm.mm
    addr = vrm.addr
    length = vrm.old_len
    vma = vrm.vma
    assert vma is not None
    vmi = VmaIterator(mm, addr)
    accountable_move = bool(vma.vm_flags & VM_ACCOUNT) and not vrm.flags & MREMAP_DONTUNMAP
    vm_start = vm_end = 0
    if accountable_move:
        vma.vm_flags &= ~VM_ACCOUNT
        vm_start = vma.vm_start
        vm_end = vma.vm_end
    err = do_vmi_munmap(vmi, mm, addr, length)
    vrm.vma = None
    vrm.vmi_needs_invalidate = True
    if err:
        vm_acct_memory(mm, length >> PAGE_SHIFT)
        return
    if accountable_move:
        end = addr + length
        if vm_start < addr:
            prev = vma_prev(vmi)
            assert prev is not None
            prev.vm_flags |= VM_ACCOUNT
        if vm_end > end:
            nxt = vma_next(vmi)
            assert nxt is not None
            nxt.vm_flags |= VM_ACCOUNT


def copy_vma_and_data(vrm: VmaRemapStruct) -> tuple[int, VmArea | None]:
    """Mirror of ``copy_vma_and_data()``: set up the destination VMA (``copy_vma()``, which
    may merge it with neighbours, even with the source itself when unfaulted) and move the
    page tables.  If ``vm_ops->mremap`` refuses, the pages go back and ``vrm`` is pointed
    at the new VMA so that the caller unmaps that instead.  Returns ``(err, new_vma)``."""
    vma = vrm.vma
    assert vma is not None
    internal_offset = vrm.addr - vma.vm_start
    new_pgoff = vma.vm_pgoff + (internal_offset >> PAGE_SHIFT)
    new_vma, vma, _need_rmap_locks = copy_vma(vma, vrm.new_addr, vrm.new_len, new_pgoff)
    if new_vma is None:
        vrm_uncharge(vrm)
        return -ENOMEM, None
    if vma is not vrm.vma:
        vrm.vmi_needs_invalidate = True
    vrm.vma = vma
    trace(vrm.mm, "mremap_copy", old=vrm.addr, new=vrm.new_addr, new_vma=new_vma)
    moved_len = move_page_tables(vrm.mm, vrm.addr, vrm.new_addr, vrm.old_len, vma, new_vma)
    err = 0
    if moved_len < vrm.old_len:
        err = -ENOMEM
    elif vma.vm_ops is not None and vma.vm_ops.mremap_errno:
        err = -vma.vm_ops.mremap_errno
    if err:
        # Move the entries back, then unmap the new area instead of the old.
        move_page_tables(vrm.mm, vrm.new_addr, vrm.addr, moved_len, new_vma, vma)
        vrm.vma = new_vma
        vrm.old_len = vrm.new_len
        vrm.addr = vrm.new_addr
    return err, new_vma


def dontunmap_complete(vrm: VmaRemapStruct, new_vma: VmArea) -> None:
    """Mirror of ``dontunmap_complete()``: the old VMA stays, loses VM_LOCKED (its pages
    are gone) and, if it was moved whole, its anon_vma links.  It keeps VM_ACCOUNT (the
    6.18 kernel charges the new VMA in full).  locked_vm is left as is, as in the kernel."""
    vma = vrm.vma
    assert vma is not None
    start = vrm.addr
    end = vrm.addr + vrm.old_len
    old_start = vma.vm_start
    old_end = vma.vm_end
    vma.vm_flags &= ~VM_LOCKED_MASK
    if new_vma is not vma and start == old_start and end == old_end:
        unlink_anon_vmas(vma)


def move_vma(vrm: VmaRemapStruct) -> int:
    """Mirror of ``move_vma()``: copy the VMA and its pages to ``vrm.new_addr``, then unmap
    the source (or, with MREMAP_DONTUNMAP, leave it empty).  The new address or -errno."""
    err = prep_move_vma(vrm)
    if err:
        return err
    if not vrm_calc_charge(vrm):
        return -ENOMEM
    err, new_vma = copy_vma_and_data(vrm)
    if err and new_vma is None:
        return err
    vrm_stat_account(vrm, vrm.new_len)
    if not err and vrm.flags & MREMAP_DONTUNMAP:
        assert new_vma is not None
        dontunmap_complete(vrm, new_vma)
    else:
        unmap_source_vma(vrm)
    return err if err else vrm.new_addr


def shrink_vma(vrm: VmaRemapStruct, drop_lock: bool) -> int:
    """Mirror of ``shrink_vma()``: unmap ``[addr + new_len, addr + old_len)``; without
    dropping the lock, look the (possibly split) VMA up again.  0 or -errno."""
    mm = vrm.mm
    unmap_start = (vrm.addr + vrm.new_len) & ULONG_MAX
    unmap_bytes = vrm.delta
    vmi = VmaIterator(mm, unmap_start)
    assert vrm.remap_type == MREMAP_SHRINK
    res = do_vmi_munmap(vmi, mm, unmap_start, unmap_bytes, drop_lock)
    vrm.vma = None
    if res:
        return res
    if drop_lock:
        vrm.mmap_locked = False
    else:
        vrm.vma = vma_lookup(mm, vrm.addr)
        if vrm.vma is None:
            return -EFAULT
    return 0


def mremap_to(vrm: VmaRemapStruct) -> int:
    """Mirror of ``mremap_to()``: move to a given (MREMAP_FIXED) or new (MREMAP_DONTUNMAP)
    address.  MREMAP_FIXED unmaps the destination first; a shrink unmaps the tail first.
    The new address or -errno (the unmaps stay done when a later step fails)."""
    mm = vrm.mm
    if vrm.flags & MREMAP_FIXED:
        err = do_munmap(mm, vrm.new_addr, vrm.new_len)
        vrm.vma = None
        vrm.vmi_needs_invalidate = True
        if err:
            return err
        # Remapping part of a VMA into the same VMA may have split it.
        vrm.vma = vma_lookup(mm, vrm.addr)
        if vrm.vma is None:
            return -EFAULT
    if vrm.remap_type == MREMAP_SHRINK:
        err = shrink_vma(vrm, drop_lock=False)
        if err:
            return err
        vrm.old_len = vrm.new_len
    if vrm.flags & MREMAP_DONTUNMAP:
        assert vrm.vma is not None
        if not may_expand_vm(mm, vrm.vma.vm_flags, vrm.old_len >> PAGE_SHIFT):
            return -ENOMEM
    err = vrm_set_new_addr(vrm)
    if err:
        return err
    return move_vma(vrm)


# -- expanding ---------------------------------------------------------------------------------


def vma_expandable(vma: VmArea, delta: int) -> bool:
    """Mirror of ``vma_expandable()``: nothing in ``[vm_end, vm_end + delta)`` and the
    grown range acceptable to ``get_unmapped_area(MAP_FIXED)`` (below TASK_SIZE)."""
    end = vma.vm_end + delta
    if end > ULONG_MAX:
        return False
    mm = vma.vm_mm
    if find_vma_intersection(mm, vma.vm_end, end) is not None:
        return False
    ret = get_unmapped_area(mm, None, vma.vm_start, end - vma.vm_start, 0, MAP_FIXED)
    return not (IS_ERR_VALUE(ret) or offset_in_page(ret))


def vrm_can_expand_in_place(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``vrm_can_expand_in_place()``: the range reaches the VMA's end and the
    space after it is free."""
    vma = vrm.vma
    assert vma is not None
    suffix_bytes = vma.vm_end - vrm.addr
    if suffix_bytes != vrm.old_len:
        return False
    return vma_expandable(vma, vrm.delta)


def expand_vma_in_place(vrm: VmaRemapStruct) -> int:
    """Mirror of ``expand_vma_in_place()``: charge, then ``vma_merge_extend()`` (which
    also merges with the next VMA when the growth reaches it).  0 or -ENOMEM."""
    vma = vrm.vma
    assert vma is not None
    vmi = VmaIterator(vrm.mm, vma.vm_end)
    if not vrm_calc_charge(vrm):
        return -ENOMEM
    merged = vma_merge_extend(vmi, vma, vrm.delta)
    if merged is None:
        vrm_uncharge(vrm)
        return -ENOMEM
    vrm.vma = merged
    trace(vrm.mm, "mremap_expand", vma=merged, delta=vrm.delta)
    vrm_stat_account(vrm, vrm.delta)
    return 0


def align_hugetlb(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``align_hugetlb()``: lengths rounded up to the huge page size, addresses
    aligned, and no growth (hugetlb reservations cannot be split)."""
    mask = HPAGE_SIZE - 1
    vrm.old_len = (vrm.old_len + mask) & ~mask & ULONG_MAX
    vrm.new_len = (vrm.new_len + mask) & ~mask & ULONG_MAX
    if vrm.addr & mask:
        return False
    if vrm.new_addr & mask:
        return False
    return vrm.new_len <= vrm.old_len


def expand_vma(vrm: VmaRemapStruct) -> int:
    """Mirror of ``expand_vma()``: grow in place if possible, else move (MREMAP_MAYMOVE)
    or fail with -ENOMEM."""
    if vrm_can_expand_in_place(vrm):
        err = expand_vma_in_place(vrm)
        if err:
            return err
        return vrm.addr
    if not vrm.flags & MREMAP_MAYMOVE:
        return -ENOMEM
    err = vrm_set_new_addr(vrm)
    if err:
        return err
    return move_vma(vrm)


def mremap_at(vrm: VmaRemapStruct) -> int:
    """Mirror of ``mremap_at()``: resize without a requested address."""
    if vrm.remap_type == MREMAP_NO_RESIZE:
        return vrm.addr
    if vrm.remap_type == MREMAP_SHRINK:
        res = shrink_vma(vrm, drop_lock=True)
        if res:
            return res
        return vrm.addr
    if vrm.remap_type == MREMAP_EXPAND:
        return expand_vma(vrm)
    return -EINVAL  # WARN_ON_ONCE: not reachable


# -- checks -------------------------------------------------------------------------------------


def vrm_will_map_new(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``vrm_will_map_new()``: will new address space be mapped (expand or
    move)?"""
    if vrm.remap_type == MREMAP_EXPAND:
        return True
    return vrm_implies_new_addr(vrm)


def vrm_move_only(vrm: VmaRemapStruct) -> bool:
    """Mirror of ``vrm_move_only()``: MREMAP_FIXED without a size change."""
    if not vrm.flags & MREMAP_FIXED:
        return False
    return vrm.old_len == vrm.new_len


def userfaultfd_armed(vma: VmArea) -> bool:
    """Mirror of ``userfaultfd_armed()``."""
    return bool(vma.vm_flags & VM_UFFD_FLAGS)


def vma_multi_allowed(vma: VmArea) -> bool:
    """Mirror of ``vma_multi_allowed()``: may this VMA be moved as part of several?

    Not with userfaultfd; not with a file whose own ``get_unmapped_area`` might not honour
    MAP_FIXED.  Every file the model knows qualifies: shmem, hugetlb, and the filesystems
    using ``thp_get_unmapped_area`` (ext4, xfs, ...); others have none.
    """
    return not userfaultfd_armed(vma)


def check_prep_vma(vrm: VmaRemapStruct) -> int:
    """Mirror of ``check_prep_vma()``: the checks that need the VMA at ``addr``.

    No VMA -> -EFAULT; sealed -> -EPERM; then, only if new address space will be mapped:
    old_len 0 on a private mapping -> -EINVAL; MREMAP_DONTUNMAP on VM_DONTEXPAND/VM_PFNMAP
    -> -EINVAL; the range (for a shrink: the kept part) past the VMA's end -> -EFAULT; and
    for growth: pgoff overflow -> -EINVAL, VM_DONTEXPAND/VM_PFNMAP -> -EFAULT, the mlock
    limit -> -EAGAIN, RLIMIT_AS/RLIMIT_DATA -> -ENOMEM.
    """
    vma = vrm.vma
    mm = vrm.mm
    addr = vrm.addr
    if vma is None:
        return -EFAULT
    if vma_is_sealed(vma):
        return -EPERM
    if vma.vm_flags & VM_HUGETLB and not align_hugetlb(vrm):
        return -EINVAL
    vrm_set_delta(vrm)
    vrm.remap_type = vrm_remap_type(vrm)
    if not vrm_implies_new_addr(vrm):
        vrm.new_addr = addr
    if not vrm_will_map_new(vrm):
        return 0
    old_len = vrm.old_len
    new_len = vrm.new_len
    if not old_len and not vma.vm_flags & (VM_SHARED | VM_MAYSHARE):
        return -EINVAL
    if vrm.flags & MREMAP_DONTUNMAP and vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        return -EINVAL
    if vrm.remap_type == MREMAP_SHRINK:
        old_len = new_len
    if old_len > vma.vm_end - addr:
        return -EFAULT
    if new_len == old_len:
        return 0
    if vma.vm_flags & VM_LOCKED:
        vrm.populate_expand = True
    pgoff = (addr - vma.vm_start) >> PAGE_SHIFT
    pgoff += vma.vm_pgoff
    if pgoff + (new_len >> PAGE_SHIFT) > ULONG_MAX:
        return -EINVAL
    if vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        return -EFAULT
    if not mlock_future_ok(mm, bool(vma.vm_flags & VM_LOCKED), vrm.delta):
        return -EAGAIN
    if not may_expand_vm(mm, vma.vm_flags, vrm.delta >> PAGE_SHIFT):
        return -ENOMEM
    return 0


def check_mremap_params(vrm: VmaRemapStruct) -> int:
    """Mirror of ``check_mremap_params()``: what can be refused before looking at VMAs.

    Unknown flags, unaligned addr, new_len 0 or above TASK_SIZE -> -EINVAL; with a new
    address (MREMAP_FIXED/MREMAP_DONTUNMAP): new_addr + new_len above TASK_SIZE, unaligned
    new_addr, no MREMAP_MAYMOVE, MREMAP_DONTUNMAP with a size change, overlapping source
    and destination -> -EINVAL; ``map_count + 2 >= max_map_count - 3`` -> -ENOMEM.
    """
    addr = vrm.addr
    flags = vrm.flags
    task_size = vrm.mm.task_size
    if flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP):
        return -EINVAL
    if offset_in_page(addr):
        return -EINVAL
    if not vrm.new_len:
        return -EINVAL
    if vrm.new_len > task_size:
        return -EINVAL
    if not vrm_implies_new_addr(vrm):
        return 0
    if vrm.new_addr > task_size - vrm.new_len:
        return -EINVAL
    if offset_in_page(vrm.new_addr):
        return -EINVAL
    if not flags & MREMAP_MAYMOVE:
        return -EINVAL
    if flags & MREMAP_DONTUNMAP and vrm.old_len != vrm.new_len:
        return -EINVAL
    if vrm_overlaps(vrm):
        return -EINVAL
    if vrm.mm.map_count + 2 >= vrm.mm.profile.max_map_count - 3:
        return -ENOMEM
    return 0


# -- the multi-VMA move and the system call -----------------------------------------------------


def remap_move(vrm: VmaRemapStruct) -> int:
    """Mirror of ``remap_move()``: MREMAP_FIXED with equal lengths moves every VMA in
    ``[addr, addr + old_len)``, split at the range ends, keeping the gaps between them.

    A gap at the start of the range -> -EFAULT (also when the range holds no VMA at all).
    The first VMA's new address is returned; an error part way returns that error with
    the VMAs before it already moved.
    """
    mm = vrm.mm
    start = vrm.addr
    end = (vrm.addr + vrm.old_len) & ULONG_MAX
    new_addr = vrm.new_addr
    target_addr = new_addr
    res = -EFAULT
    last_end = 0
    seen_vma = False
    vmi = VmaIterator(mm, start)
    for vma in for_each_vma_range(vmi, end):
        addr = max(vma.vm_start, start)
        length = min(end, vma.vm_end) - addr
        if not seen_vma and start < vma.vm_start:
            return -EFAULT
        offset = vma.vm_start - last_end if seen_vma else 0
        last_end = vma.vm_end
        vrm.vma = vma
        vrm.addr = addr
        vrm.new_addr = target_addr + offset
        vrm.old_len = vrm.new_len = length
        multi_allowed = vma_multi_allowed(vma)
        if not multi_allowed:
            if seen_vma:
                return -EFAULT
            if vma.vm_end < end:
                return -EFAULT
        res_vma = check_prep_vma(vrm)
        if not res_vma:
            res_vma = mremap_to(vrm)
        if IS_ERR_VALUE(res_vma):
            return res_vma
        if not seen_vma:
            res = res_vma
        if vrm.vmi_needs_invalidate:
            vma_iter_invalidate(vmi)
            vrm.vmi_needs_invalidate = False
        seen_vma = True
        target_addr = res_vma + vrm.new_len
    return res


def do_mremap(vrm: VmaRemapStruct) -> int:
    """Mirror of ``do_mremap()``: align, check, look up, remap; populate the growth of an
    mlock()ed VMA after success."""
    vrm.old_len = PAGE_ALIGN(vrm.old_len)
    vrm.new_len = PAGE_ALIGN(vrm.new_len)
    res = check_mremap_params(vrm)
    if res:
        return res
    vrm.mmap_locked = True
    if vrm_move_only(vrm):
        res = remap_move(vrm)
    else:
        vrm.vma = vma_lookup(vrm.mm, vrm.addr)
        res = check_prep_vma(vrm)
        if not res:
            res = mremap_to(vrm) if vrm_implies_new_addr(vrm) else mremap_at(vrm)
    failed = IS_ERR_VALUE(res)
    vrm.mmap_locked = False
    if not failed and vrm.populate_expand:
        mm_populate(vrm.mm, vrm.new_addr + vrm.old_len, vrm.delta)
    return res


def sys_mremap(mm: MM, addr: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
    """Mirror of ``SYSCALL_DEFINE5(mremap)``: the new address, or -errno.  Arguments are
    taken as the kernel's unsigned longs (x86_64 has no address tags to strip here)."""
    vrm = VmaRemapStruct(
        mm,
        addr & ULONG_MAX,
        old_len & ULONG_MAX,
        new_len & ULONG_MAX,
        flags & ULONG_MAX,
        new_addr & ULONG_MAX,
    )
    return do_mremap(vrm)


__all__ = [
    "VmaRemapStruct",
    "check_mremap_params",
    "check_prep_vma",
    "do_mremap",
    "move_vma",
    "remap_move",
    "sys_mremap",
]
