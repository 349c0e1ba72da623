"""kernel/fork.c and ``dup_mmap()`` (mm/mmap.c): the child's copy of an address space.

What the child sees, as the kernel builds it:

* ``mm_init()`` starts the child with ``map_count`` and ``locked_vm`` at 0 and keeps only
  ``VM_INIT_DEF_MASK`` (``VM_NOHUGEPAGE``) of ``def_flags``: ``mlockall(MCL_FUTURE)`` is not
  inherited.  The layout (``mmap_base``, brk, code/data/stack bounds) is copied.
* ``dup_mmap()`` duplicates the maple tree node for node (``__mt_dup()``), then walks it:
  a ``VM_DONTCOPY`` VMA is cleared from the copy, every other one is replaced by a
  ``vm_area_dup()`` with ``VM_LOCKED``/``VM_LOCKONFAULT`` cleared.  ``VM_ACCOUNT`` VMAs are
  charged again.
* ``anon_vma_fork()``: a child VMA whose parent had an anon_vma is linked to the parent's
  anon_vmas *and* a new one of its own, which makes it a fork child
  (``vma_is_fork_child()``): it never lends its anon_vma to a merge with a VMA that has none,
  which is why a fresh neighbour in the child does not merge with it (LTP ``vma01``).
  ``VM_WIPEONFORK`` VMAs start without an anon_vma and without pages.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import PAGE_SHIFT, VM_ACCOUNT, VM_DONTCOPY, VM_LOCKED_MASK, VM_WIPEONFORK
from maplevm.mm.vm_area import AnonVma, VmArea
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma,
    vma_iter_bulk_store,
    vma_iter_clear_gfp,
    vma_iter_free,
)
from maplevm.tree import MT_FLAGS_USE_RCU

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

VM_INIT_DEF_MASK_BITS = 1 << 30  # VM_NOHUGEPAGE


def anon_vma_fork(vma: VmArea, pvma: VmArea) -> int:
    """Mirror of ``anon_vma_fork()``: clone the parent's chain, then add a new anon_vma.

    The kernel may reuse an anon_vma that no VMA uses any more (``num_active_vmas == 0``);
    while the parent is alive every anon_vma it links has an active VMA, so a new one is
    always made here.
    """
    if pvma.anon_vma is None:
        vma.anon_vma = None
        vma.anon_vma_chain = ()
        return 0
    anon = AnonVma()
    vma.anon_vma = anon
    vma.anon_vma_chain = (*pvma.anon_vma_chain, anon)
    return 0


def mm_init(child: MM, parent: MM) -> None:
    """The parts of ``dup_mm()`` / ``mm_init()`` the VMA code reads."""
    for name in (
        "topdown",
        "mmap_base",
        "mmap_legacy_base",
        "task_size",
        "start_code",
        "end_code",
        "start_data",
        "end_data",
        "start_brk",
        "brk",
        "start_stack",
        "committed_pages",
        "gate_vma",
    ):
        setattr(child, name, getattr(parent, name))
    child.map_count = 0
    child.locked_vm = 0
    child.pinned_vm = 0
    child.def_flags = parent.def_flags & VM_INIT_DEF_MASK_BITS
    child.files = dict(parent.files)  # the file table is copied: same struct files


def dup_mmap(parent: MM, child: MM | None = None) -> MM:
    """Mirror of ``dup_mmap()``: returns the child's address space.

    The model cannot fail half-way (the kernel's failure paths need -ENOMEM from the
    allocator or ``security_vm_enough_memory_mm()``); an accounting failure raises
    :class:`MemoryError` with the VMA, leaving the parent untouched.
    """
    from maplevm.mm.mm_struct import MM
    from maplevm.mm.mmap import vm_stat_account
    from maplevm.mm.util import security_vm_enough_memory_mm

    if child is None:
        child = MM(parent.profile)
    mm_init(child, parent)
    child.total_vm = parent.total_vm
    child.data_vm = parent.data_vm
    child.exec_vm = parent.exec_vm
    child.stack_vm = parent.stack_vm

    # __mt_dup(): the same nodes, still pointing at the parent's VMAs.
    new_mt = parent.mm_mt.dup()
    child.mm_mt = new_mt
    # mt_clear_in_rcu(): the copy is private until fork returns, so stores may reuse
    # nodes in place (this changes which write path the kernel takes).
    new_mt.ma_flags &= ~MT_FLAGS_USE_RCU
    vmi = VmaIterator(child, 0)
    anon_ranges: list[tuple[int, int]] = []
    for mpnt in for_each_vma(vmi):
        if mpnt.vm_flags & VM_DONTCOPY:
            vma_iter_clear_gfp(vmi, mpnt.vm_start, mpnt.vm_end)
            vm_stat_account(child, mpnt.vm_flags, -((mpnt.vm_end - mpnt.vm_start) >> PAGE_SHIFT))
            continue
        if mpnt.vm_flags & VM_ACCOUNT:
            # The kernel charges the parent's mm (sic); the counter is system-wide, and
            # the child's copy of it carries on from the parent's.
            pages = (mpnt.vm_end - mpnt.vm_start) >> PAGE_SHIFT
            if security_vm_enough_memory_mm(child, pages):
                raise MemoryError(f"fork: cannot account {mpnt!r}: -ENOMEM ({-errno.ENOMEM})")
        tmp = mpnt.dup()
        tmp.vm_mm = child
        if tmp.vm_flags & VM_WIPEONFORK:
            # A clean slate: no anon_vma until the child faults, no pages copied.
            tmp.anon_vma = None
            tmp.anon_vma_chain = ()
        else:
            anon_vma_fork(tmp, mpnt)
            anon_ranges.append((mpnt.vm_start, mpnt.vm_end))
        tmp.vm_flags &= ~VM_LOCKED_MASK
        vma_iter_bulk_store(vmi, tmp)
        tmp.attached = True
        child.map_count += 1
    vma_iter_free(vmi)
    new_mt.ma_flags |= parent.mm_mt.ma_flags & MT_FLAGS_USE_RCU  # mt_set_in_rcu()

    # copy_page_range(): the child sees the parent's pages (and guard markers) where the
    # VMA was copied with its pages.
    for start, end in anon_ranges:
        _copy_pages(parent, child, start, end)
    return child


def _copy_pages(parent: MM, child: MM, start: int, end: int) -> None:
    from bisect import bisect_left

    pages = parent.anon_pages
    lo = bisect_left(pages, start >> PAGE_SHIFT)
    hi = bisect_left(pages, end >> PAGE_SHIFT)
    child.anon_pages.extend(pages[lo:hi])
    child.guard_pages |= {p for p in parent.guard_pages if start <= p < end}
    # The folios are now mapped by both processes; their contents and page tables are
    # copied (copy_page_range()), a THP stays one.
    child.shared_pages.update(pages[lo:hi])
    child.written_pages |= parent.written_pages.intersection(pages[lo:hi])
    blocks = range(start >> 21, ((end - 1) >> 21) + 1)
    child.pte_tables |= parent.pte_tables.intersection(blocks)
    child.huge_zero_pmds |= parent.huge_zero_pmds.intersection(blocks)
    child.thp_folios |= parent.thp_folios.intersection(blocks)
