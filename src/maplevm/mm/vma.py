"""mm/vma.c: merging, splitting, the munmap core, mmap_region, brk's VMA work, the
unmapped-area searches and stack expansion.

Function names, arguments and the order of checks are the kernel's, so that a change to a
decision can be made here in the same place as in C.  What the model leaves out (page
tables, rmap interval trees, uprobes, locks) changes nothing that user space observes
through return values and /proc/PID/maps.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from maplevm.mm.flags import (
    PAGE_SHIFT,
    PAGE_SIZE,
    ULONG_MAX,
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_DATA_DEFAULT_FLAGS,
    VM_GROWSDOWN,
    VM_IGNORE_MERGE,
    VM_LOCKED,
    VM_LOCKED_MASK,
    VM_SEALED,
    VM_SHARED,
    VM_SPECIAL,
    VM_STARTGAP_FLAGS,
    VM_STICKY,
    is_data_mapping,
    is_exec_mapping,
    is_stack_mapping,
)
from maplevm.mm.trace import trace
from maplevm.mm.vm_area import AnonVma, OpenFile, VmArea, anon_vma_clone, vma_pgoff_offset
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma_range,
    vma_find,
    vma_iter_addr,
    vma_iter_area_highest,
    vma_iter_area_lowest,
    vma_iter_clear,
    vma_iter_clear_gfp,
    vma_iter_config,
    vma_iter_end,
    vma_iter_free,
    vma_iter_load,
    vma_iter_next_range,
    vma_iter_next_range_limit,
    vma_iter_next_rewind,
    vma_iter_prealloc,
    vma_iter_prev_range,
    vma_iter_reset,
    vma_iter_set,
    vma_iter_store_gfp,
    vma_iter_store_new,
    vma_iter_store_overwrite,
    vma_next,
    vma_prev,
)
from maplevm.tree import MapleTree
from maplevm.tree.errors import MapleBug
from maplevm.tree.state import MaStateFields
from maplevm.tree.walk import mas_find, mas_set
from maplevm.tree.write import mas_store_gfp

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

ENOMEM = errno.ENOMEM
EPERM = errno.EPERM
EFAULT = errno.EFAULT

VMA_MERGE_START = 0
VMA_MERGE_ERROR_NOMEM = 1
VMA_MERGE_NOMERGE = 2
VMA_MERGE_SUCCESS = 3


# -- the merge state ------------------------------------------------------------------------


@dataclass
class VmaMergeStruct:
    """``struct vma_merge_struct``: a proposed merge, threaded through the merge code."""

    mm: MM
    vmi: VmaIterator
    start: int
    end: int
    vm_flags: int
    pgoff: int
    prev: VmArea | None = None
    middle: VmArea | None = None
    next: VmArea | None = None
    target: VmArea | None = None
    file: OpenFile | None = None
    anon_vma: AnonVma | None = None
    policy: Any = None
    uffd_ctx: Any = None
    anon_name: str | None = None
    state: int = VMA_MERGE_START
    copied_from: VmArea | None = None
    just_expand: bool = False
    give_up_on_oom: bool = False
    adjust_middle_start: bool = False
    adjust_next_start: bool = False
    remove_middle: bool = False
    remove_next: bool = False


def VMG_STATE(
    mm: MM, vmi: VmaIterator, start: int, end: int, vm_flags: int, pgoff: int
) -> VmaMergeStruct:
    """``VMG_STATE()``: a merge state for a new range."""
    return VmaMergeStruct(mm, vmi, start, end, vm_flags, pgoff)


def VMG_VMA_STATE(
    vmi: VmaIterator, prev: VmArea | None, vma: VmArea, start: int, end: int
) -> VmaMergeStruct:
    """``VMG_VMA_STATE()``: a merge state describing part of an existing VMA."""
    return VmaMergeStruct(
        vma.vm_mm,
        vmi,
        start,
        end,
        vma.vm_flags,
        vma_pgoff_offset(vma, start),
        prev=prev,
        middle=vma,
        file=vma.vm_file,
        anon_vma=vma.anon_vma,
        policy=vma.vm_policy,
        uffd_ctx=vma.vm_userfaultfd_ctx,
        anon_name=vma.anon_name,
    )


def vmg_nomem(vmg: VmaMergeStruct) -> bool:
    return vmg.state == VMA_MERGE_ERROR_NOMEM


def vma_is_fork_child(vma: VmArea | None) -> bool:
    """``vma_is_fork_child()``."""
    return vma is not None and vma.is_fork_child


def is_mergeable_vma(vmg: VmaMergeStruct, merge_next: bool) -> bool:
    """``is_mergeable_vma()``: policy, flags (but the sticky ones), file, uffd, name."""
    vma = vmg.next if merge_next else vmg.prev
    assert vma is not None
    if vmg.policy != vma.vm_policy:
        return False
    if (vma.vm_flags ^ vmg.vm_flags) & ~VM_IGNORE_MERGE:
        return False
    if vma.vm_file is not vmg.file:
        return False
    if vma.vm_userfaultfd_ctx != vmg.uffd_ctx:
        return False
    return vma.anon_name == vmg.anon_name


def is_mergeable_anon_vma(vmg: VmaMergeStruct, merge_next: bool) -> bool:
    """``is_mergeable_anon_vma()``: the three anon_vma cases (fork children never take or
    give an anon_vma by merging)."""
    tgt = vmg.next if merge_next else vmg.prev
    assert tgt is not None
    src = vmg.middle
    tgt_anon = tgt.anon_vma
    src_anon = vmg.anon_vma
    if tgt_anon is None and src_anon is not None:
        if vma_is_fork_child(src):
            return False
        return not vma_is_fork_child(vmg.copied_from)
    if tgt_anon is not None and src_anon is None:
        return not vma_is_fork_child(tgt)
    return src_anon is tgt_anon


def can_vma_merge_before(vmg: VmaMergeStruct) -> bool:
    """``can_vma_merge_before()``: can the range merge in front of ``vmg.next``?"""
    nxt = vmg.next
    assert nxt is not None
    pglen = (vmg.end - vmg.start) >> PAGE_SHIFT
    return (
        is_mergeable_vma(vmg, True)
        and is_mergeable_anon_vma(vmg, True)
        and nxt.vm_pgoff == vmg.pgoff + pglen
    )


def can_vma_merge_after(vmg: VmaMergeStruct) -> bool:
    """``can_vma_merge_after()``: can the range merge behind ``vmg.prev``?"""
    prev = vmg.prev
    assert prev is not None
    return (
        is_mergeable_vma(vmg, False)
        and is_mergeable_anon_vma(vmg, False)
        and prev.vm_pgoff + prev.pages() == vmg.pgoff
    )


def can_vma_merge_left(vmg: VmaMergeStruct) -> bool:
    """``can_vma_merge_left()``."""
    return vmg.prev is not None and vmg.prev.vm_end == vmg.start and can_vma_merge_after(vmg)


def can_vma_merge_right(vmg: VmaMergeStruct, can_merge_left: bool) -> bool:
    """``can_vma_merge_right()``: also, merging both needs prev's and next's anon_vmas to
    agree with each other."""
    nxt = vmg.next
    if nxt is None or vmg.end != nxt.vm_start or not can_vma_merge_before(vmg):
        return False
    if not can_merge_left:
        return True
    prev = vmg.prev
    assert prev is not None
    return prev.anon_vma is None or nxt.anon_vma is None or prev.anon_vma is nxt.anon_vma


def can_merge_remove_vma(vma: VmArea) -> bool:
    """``can_merge_remove_vma()``: a VMA with a close hook may not be merged away."""
    return vma.vm_ops is None or not vma.vm_ops.close


# -- vma_prepare / vma_complete ----------------------------------------------------------


@dataclass
class VmaPrepare:
    """``struct vma_prepare``: what a VMA change inserts and removes."""

    vma: VmArea
    adj_next: VmArea | None = None
    anon_vma: AnonVma | None = None
    insert: VmArea | None = None
    remove: VmArea | None = None
    remove2: VmArea | None = None


def init_multi_vma_prep(vma: VmArea, vmg: VmaMergeStruct | None) -> VmaPrepare:
    """``init_multi_vma_prep()``."""
    vp = VmaPrepare(vma, anon_vma=vma.anon_vma)
    removes: list[VmArea] = []
    if vmg is not None and vmg.remove_middle:
        assert vmg.middle is not None
        removes.append(vmg.middle)
    if vmg is not None and vmg.remove_next:
        assert vmg.next is not None
        removes.append(vmg.next)
    if removes:
        vp.remove = removes[0]
    if len(removes) > 1:
        vp.remove2 = removes[1]
    adjust = None
    if vmg is not None and vmg.adjust_middle_start:
        adjust = vmg.middle
    elif vmg is not None and vmg.adjust_next_start:
        adjust = vmg.next
    vp.adj_next = adjust
    if vp.anon_vma is None and adjust is not None:
        vp.anon_vma = adjust.anon_vma
    return vp


def vma_complete(vp: VmaPrepare, vmi: VmaIterator, mm: MM) -> None:
    """``vma_complete()``: insert a split-off VMA, or drop the VMAs a merge removed."""
    if vp.remove is not None and vp.vma.vm_file is not None:
        pass  # file rmap bookkeeping only
    elif vp.insert is not None:
        vma_iter_store_new(vmi, vp.insert)
        mm.map_count += 1
    remove = vp.remove
    while remove is not None:
        remove.attached = False
        mm.map_count -= 1
        if vp.remove2 is not None:
            remove, vp.remove2 = vp.remove2, None
        else:
            remove = None


def remove_vma(vma: VmArea) -> None:
    """``remove_vma()``: close and free (the close hook has no modelled effect)."""
    vma.attached = False


# -- split ----------------------------------------------------------------------------------


def __split_vma(vmi: VmaIterator, vma: VmArea, addr: int, new_below: bool) -> int:
    """``__split_vma()``: split at ``addr``; the new VMA is the lower part if ``new_below``.

    Bypasses the map_count limit (callers check it).  The iterator is left on the original
    VMA.  Returns 0 or -errno (``may_split`` can refuse, e.g. special mappings: -EINVAL).
    """
    if vma.vm_ops is not None:
        err = vma.vm_ops.may_split(vma, addr)
        if err:
            return err
    new = vma.dup()
    if new_below:
        new.vm_end = addr
    else:
        new.vm_start = addr
        new.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
    vma_iter_config(vmi, new.vm_start, new.vm_end)
    if vma_iter_prealloc(vmi, new):
        return -ENOMEM
    anon_vma_clone(new, vma)
    vp = init_multi_vma_prep(vma, None)
    vp.insert = new
    vma.vm_mm.split_huge_zero_pmd(addr)  # vma_adjust_trans_huge()
    if new_below:
        vma.vm_start = addr
        vma.vm_pgoff += (addr - new.vm_start) >> PAGE_SHIFT
    else:
        vma.vm_end = addr
    vma_complete(vp, vmi, vma.vm_mm)
    trace(vma.vm_mm, "split", vma=vma, new=new, at=addr, new_below=new_below)
    if new_below:
        vma_next(vmi)
    else:
        vma_prev(vmi)
    return 0


def split_vma(vmi: VmaIterator, vma: VmArea, addr: int, new_below: bool) -> int:
    """``split_vma()``: ``__split_vma()`` unless ``map_count >= max_map_count`` (-ENOMEM)."""
    if vma.vm_mm.map_count >= vma.vm_mm.profile.max_map_count:
        return -ENOMEM
    return __split_vma(vmi, vma, addr, new_below)


def dup_anon_vma(dst: VmArea, src: VmArea) -> VmArea | None:
    """``dup_anon_vma()``: an unfaulted ``dst`` takes ``src``'s anon_vma on merge.

    Returns ``dst`` when it took one (the kernel's ``*dup``), else None.
    """
    if src.anon_vma is not None and dst.anon_vma is None:
        dst.anon_vma = src.anon_vma
        anon_vma_clone(dst, src)
        return dst
    return None


# -- merge ------------------------------------------------------------------------------------


def vmg_adjust_set_range(vmg: VmaMergeStruct) -> None:
    """``vmg_adjust_set_range()``: move the shared boundary of a partially merged VMA."""
    if vmg.adjust_middle_start:
        adjust = vmg.middle
        assert adjust is not None
        pgoff = adjust.vm_pgoff + ((vmg.end - adjust.vm_start) >> PAGE_SHIFT)
    elif vmg.adjust_next_start:
        adjust = vmg.next
        assert adjust is not None
        pgoff = adjust.vm_pgoff - ((adjust.vm_start - vmg.end) >> PAGE_SHIFT)
    else:
        return
    adjust.vm_mm.split_huge_zero_pmd(vmg.end)  # vma_adjust_trans_huge()
    adjust.set_range(vmg.end, adjust.vm_end, pgoff)


def commit_merge(vmg: VmaMergeStruct) -> int:
    """``commit_merge()``: apply a merge to the VMAs and the tree; 0 or -ENOMEM."""
    if vmg.adjust_next_start:
        vma = vmg.middle
        assert vma is not None and vmg.next is not None
        vma_iter_config(vmg.vmi, vmg.end, vmg.next.vm_end)
    else:
        vma = vmg.target
        assert vma is not None
        vma_iter_config(vmg.vmi, vmg.start, vmg.end)
    vp = init_multi_vma_prep(vma, vmg)
    if vma_iter_prealloc(vmg.vmi, vma):
        return -ENOMEM
    vma.set_range(vmg.start, vmg.end, vmg.pgoff)
    vmg_adjust_set_range(vmg)
    assert vmg.target is not None
    vma_iter_store_overwrite(vmg.vmi, vmg.target)
    vma_complete(vp, vmg.vmi, vma.vm_mm)
    trace(
        vma.vm_mm,
        "merge",
        target=vmg.target,
        start=vmg.start,
        end=vmg.end,
        removed=[v for v in (vp.remove, vp.remove2) if v is not None],
    )
    return 0


def vma_merge_existing_range(vmg: VmaMergeStruct) -> VmArea | None:
    """``vma_merge_existing_range()``: after ``[start, end)`` of ``vmg.middle`` changes,
    merge it with a neighbour if possible (only when it touches an edge of ``middle``)."""
    sticky_flags = vmg.vm_flags & VM_STICKY
    middle = vmg.middle
    prev = vmg.prev
    assert middle is not None
    start = vmg.start
    end = vmg.end
    left_side = start == middle.vm_start
    right_side = end == middle.vm_end
    nxt: VmArea | None = None
    vmg.state = VMA_MERGE_NOMERGE

    if vmg.vm_flags & VM_SPECIAL or (not left_side and not right_side):
        return None
    merge_left = can_vma_merge_left(vmg) if left_side else False
    if right_side:
        nxt = vmg.next = vma_iter_next_range(vmg.vmi)
        vma_iter_prev_range(vmg.vmi)
        merge_right = can_vma_merge_right(vmg, merge_left)
    else:
        merge_right = False
        nxt = None
    if merge_left:
        vma_prev(vmg.vmi)
    elif not merge_right:
        return None

    merge_both = merge_left and merge_right
    vmg.remove_middle = left_side and right_side
    if vmg.remove_middle and not can_merge_remove_vma(middle):
        return None
    vmg.remove_next = merge_both
    if vmg.remove_next:
        assert nxt is not None
        if not can_merge_remove_vma(nxt):
            vmg.remove_next = False
            merge_right = False
            merge_both = False

    if merge_right:
        assert nxt is not None
        vmg.target = nxt
        sticky_flags |= nxt.vm_flags & VM_STICKY
    if merge_left:
        assert prev is not None
        vmg.target = prev
        sticky_flags |= prev.vm_flags & VM_STICKY

    anon_dup: VmArea | None
    if merge_both:
        assert prev is not None and nxt is not None
        vmg.start = prev.vm_start
        vmg.end = nxt.vm_end
        vmg.pgoff = prev.vm_pgoff
        anon_dup = dup_anon_vma(prev, nxt if nxt.anon_vma is not None else middle)
    elif merge_left:
        assert prev is not None
        vmg.start = prev.vm_start
        vmg.pgoff = prev.vm_pgoff
        if not vmg.remove_middle:
            vmg.adjust_middle_start = True
        anon_dup = dup_anon_vma(prev, middle)
    else:
        assert nxt is not None
        pglen = (vmg.end - vmg.start) >> PAGE_SHIFT
        if vmg.remove_middle:
            vmg.end = nxt.vm_end
            vmg.pgoff = nxt.vm_pgoff - pglen
        else:
            vmg.adjust_next_start = True
            vmg.start = middle.vm_start
            vmg.end = start
            vmg.pgoff = middle.vm_pgoff
        anon_dup = dup_anon_vma(nxt, middle)

    if commit_merge(vmg):
        vma_iter_set(vmg.vmi, start)
        vma_iter_load(vmg.vmi)
        if anon_dup is not None:
            anon_dup.anon_vma = None
            anon_dup.anon_vma_chain = ()
        if not vmg.give_up_on_oom:
            vmg.state = VMA_MERGE_ERROR_NOMEM
        return None
    assert vmg.target is not None
    vmg.target.vm_flags |= sticky_flags
    vmg.state = VMA_MERGE_SUCCESS
    return vmg.target


def vma_merge_new_range(vmg: VmaMergeStruct) -> VmArea | None:
    """``vma_merge_new_range()``: add ``[start, end)`` by expanding ``prev`` and/or ``next``
    (removing ``next`` when both merge).  None when no merge is possible."""
    prev = vmg.prev
    nxt = vmg.next
    end = vmg.end
    vmg.state = VMA_MERGE_NOMERGE
    if vmg.vm_flags & VM_SPECIAL or (prev is None and nxt is None):
        return None
    can_merge_left = can_vma_merge_left(vmg)
    can_merge_right = not vmg.just_expand and can_vma_merge_right(vmg, can_merge_left)
    if can_merge_right:
        assert nxt is not None
        vmg.end = nxt.vm_end
        vmg.target = nxt
    if can_merge_left:
        assert prev is not None
        vmg.start = prev.vm_start
        vmg.target = prev
        vmg.pgoff = prev.vm_pgoff
        if can_merge_right:
            assert nxt is not None
            if not can_merge_remove_vma(nxt):
                vmg.end = end
        if not vmg.just_expand:
            vma_prev(vmg.vmi)
    if vmg.target is not None and not vma_expand(vmg):
        vmg.state = VMA_MERGE_SUCCESS
        return vmg.target
    return None


def vma_merge_copied_range(vmg: VmaMergeStruct) -> VmArea | None:
    """``vma_merge_copied_range()``: merge an mremap()'d copy at its new place."""
    vmg.copied_from = vmg.middle
    vmg.middle = None
    return vma_merge_new_range(vmg)


def vma_expand(vmg: VmaMergeStruct) -> int:
    """``vma_expand()``: grow ``vmg.target`` to ``[start, end)``, absorbing ``vmg.next``
    when ``end`` reaches its end.  0 or -ENOMEM."""
    target = vmg.target
    nxt = vmg.next
    assert target is not None
    remove_next = nxt is not None and target is not nxt and vmg.end == nxt.vm_end
    sticky_flags = vmg.vm_flags & VM_STICKY
    sticky_flags |= target.vm_flags & VM_STICKY
    if remove_next:
        assert nxt is not None
        sticky_flags |= nxt.vm_flags & VM_STICKY
    anon_dup: VmArea | None = None
    if remove_next:
        assert nxt is not None
        anon_dup = dup_anon_vma(target, nxt)
    if vmg.copied_from is not None:
        anon_dup = dup_anon_vma(target, vmg.copied_from) or anon_dup
    if remove_next:
        vmg.remove_next = True
    if commit_merge(vmg):
        if anon_dup is not None:
            anon_dup.anon_vma = None
            anon_dup.anon_vma_chain = ()
        if not vmg.give_up_on_oom:
            vmg.state = VMA_MERGE_ERROR_NOMEM
        return -ENOMEM
    target.vm_flags |= sticky_flags
    return 0


def vma_shrink(vmi: VmaIterator, vma: VmArea, start: int, end: int, pgoff: int) -> int:
    """``vma_shrink()``: trim one end of ``vma``; 0 or -ENOMEM."""
    if vma.vm_start < start:
        vma_iter_config(vmi, vma.vm_start, start)
    else:
        vma_iter_config(vmi, end, vma.vm_end)
    if vma_iter_prealloc(vmi, None):
        return -ENOMEM
    vp = init_multi_vma_prep(vma, None)
    vma_iter_clear(vmi)
    vma.set_range(start, end, pgoff)
    vma_complete(vp, vmi, vma.vm_mm)
    return 0


# -- munmap -------------------------------------------------------------------------------------


@dataclass
class VmaMunmapStruct:
    """``struct vma_munmap_struct``."""

    vmi: VmaIterator
    vma: VmArea | None
    start: int
    end: int
    unlock: bool = False
    prev: VmArea | None = None
    next: VmArea | None = None
    vma_count: int = 0
    nr_pages: int = 0
    locked_vm: int = 0
    nr_accounted: int = 0
    exec_vm: int = 0
    stack_vm: int = 0
    data_vm: int = 0
    clear_ptes: bool = False
    detached: list[VmArea] = field(default_factory=list)


def init_vma_munmap(
    vmi: VmaIterator, vma: VmArea | None, start: int, end: int, unlock: bool = False
) -> VmaMunmapStruct:
    """``init_vma_munmap()``."""
    if vma is None:
        start = end = 0
    return VmaMunmapStruct(vmi, vma, start, end, unlock)


def mt_detach_tree(vmi: VmaIterator) -> MaStateFields:
    """The on-stack ``mt_detach`` tree: only the mm tree's lock bits, keyed by a counter."""
    mt = MapleTree(vmi.mas.tree.ma_flags & 0x300)
    return MaStateFields(mt, 0, 0)


def vma_is_sealed(vma: VmArea) -> bool:
    """``vma_is_sealed()``."""
    return bool(vma.vm_flags & VM_SEALED)


def reattach_vmas(vms: VmaMunmapStruct) -> None:
    """``reattach_vmas()``: undo the detaching (the VMAs are still in the mm tree)."""
    for vma in vms.detached:
        vma.attached = True


def vms_gather_munmap_vmas(vms: VmaMunmapStruct, mas_detach: MaStateFields) -> int:
    """``vms_gather_munmap_vmas()``: split the first and last VMAs at the range ends and
    collect everything in between for removal.  Errors leave splits already done."""
    vma = vms.vma
    assert vma is not None
    mm = vma.vm_mm
    if vms.start > vma.vm_start:
        # Let map_count go just above its limit, but not by splitting inside one VMA.
        if vms.end < vma.vm_end and mm.map_count >= mm.profile.max_map_count:
            return -ENOMEM
        if vma_is_sealed(vma):
            return -EPERM
        error = __split_vma(vms.vmi, vma, vms.start, True)
        if error:
            return error
    vms.prev = vma_prev(vms.vmi)
    for nxt in for_each_vma_range(vms.vmi, vms.end):
        if vma_is_sealed(nxt):
            reattach_vmas(vms)
            return -EPERM
        if nxt.vm_end > vms.end:
            error = __split_vma(vms.vmi, nxt, vms.end, False)
            if error:
                reattach_vmas(vms)
                return error
        mas_set(mas_detach, vms.vma_count)
        vms.vma_count += 1
        mas_store_gfp(mas_detach, nxt)
        nxt.attached = False
        vms.detached.append(nxt)
        nrpages = nxt.pages()
        vms.nr_pages += nrpages
        if nxt.vm_flags & VM_LOCKED:
            vms.locked_vm += nrpages
        if nxt.vm_flags & VM_ACCOUNT:
            vms.nr_accounted += nrpages
        if is_exec_mapping(nxt.vm_flags):
            vms.exec_vm += nrpages
        elif is_stack_mapping(nxt.vm_flags):
            vms.stack_vm += nrpages
        elif is_data_mapping(nxt.vm_flags):
            vms.data_vm += nrpages
    vms.next = vma_next(vms.vmi)
    while vma_iter_addr(vms.vmi) > vms.start:
        vma_iter_prev_range(vms.vmi)
    vms.clear_ptes = True
    return 0


def vms_clean_up_area(vms: VmaMunmapStruct) -> None:
    """``vms_clean_up_area()``: clear the page tables of what MAP_FIXED replaces."""
    if not vms.nr_pages:
        return
    _clear_pages(vms)


def _clear_pages(vms: VmaMunmapStruct) -> None:
    if vms.clear_ptes and vms.detached:
        mm = vms.detached[0].vm_mm
        for vma in vms.detached:
            mm.drop_anon_pages(vma.vm_start, vma.vm_end)
            mm.drop_guard_pages(vma.vm_start, vma.vm_end)  # unmap_vmas: ZAP_FLAG_DROP_MARKER
        floor = vms.prev.vm_end if vms.prev is not None else 0
        ceiling = vms.next.vm_start if vms.next is not None else mm.task_size
        mm.free_pte_tables(floor, ceiling)
    vms.clear_ptes = False


def vms_complete_munmap_vmas(vms: VmaMunmapStruct) -> None:
    """``vms_complete_munmap_vmas()``: the point of no return: accounting and freeing."""
    if not vms.detached and vms.vma is None:
        return
    mm = vms.vmi.mm
    mm.map_count -= vms.vma_count
    mm.locked_vm -= vms.locked_vm
    if not vms.nr_pages:
        return
    _clear_pages(vms)
    mm.total_vm -= vms.nr_pages
    mm.exec_vm -= vms.exec_vm
    mm.stack_vm -= vms.stack_vm
    mm.data_vm -= vms.data_vm
    for vma in vms.detached:
        remove_vma(vma)
    from maplevm.mm.util import vm_unacct_memory

    vm_unacct_memory(mm, vms.nr_accounted)


def vms_abort_munmap_vmas(vms: VmaMunmapStruct, mas_detach: MaStateFields) -> None:
    """``vms_abort_munmap_vmas()``: a failed mmap puts back what it detached.

    The VMAs were never removed from the mm tree before ``__mmap_region``'s point of no
    return, so reattaching is enough; if the page tables were already cleared the
    mappings now read as empty, which the model's page set already reflects.
    """
    if not vms.nr_pages:
        reattach_vmas(vms)
        return
    reattach_vmas(vms)


def do_vmi_align_munmap(
    vmi: VmaIterator, vma: VmArea, mm: MM, start: int, end: int, unlock: bool = False
) -> int:
    """``do_vmi_align_munmap()``: gather, clear the range in the tree, complete."""
    mas_detach = mt_detach_tree(vmi)
    vms = init_vma_munmap(vmi, vma, start, end, unlock)
    error = vms_gather_munmap_vmas(vms, mas_detach)
    if error:
        return error
    error = vma_iter_clear_gfp(vmi, start, end)
    if error:
        reattach_vmas(vms)
        return error
    trace(mm, "munmap", start=start, end=end, removed=list(vms.detached))
    vms_complete_munmap_vmas(vms)
    return 0


def do_vmi_munmap(vmi: VmaIterator, mm: MM, start: int, length: int, unlock: bool = False) -> int:
    """``do_vmi_munmap()``: check and align the range, find the first VMA, unmap."""
    task_size = mm.task_size
    if start & (PAGE_SIZE - 1) or start > task_size or length > task_size - start:
        return -errno.EINVAL
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    if end == start:
        return -errno.EINVAL
    vma = vma_find(vmi, end)
    if vma is None:
        return 0
    return do_vmi_align_munmap(vmi, vma, mm, start, end, unlock)


# -- vma_modify ----------------------------------------------------------------------------


def vma_modify(vmg: VmaMergeStruct) -> VmArea | int:
    """``vma_modify()``: merge the changed range if possible, else split it out.

    Returns the VMA to change, or -errno.
    """
    vma = vmg.middle
    assert vma is not None
    start = vmg.start
    end = vmg.end
    merged = vma_merge_existing_range(vmg)
    if merged is not None:
        return merged
    if vmg_nomem(vmg):
        return -ENOMEM
    if vma.vm_start < start:
        err = split_vma(vmg.vmi, vma, start, True)
        if err:
            return err
    if vma.vm_end > end:
        err = split_vma(vmg.vmi, vma, end, False)
        if err:
            return err
    return vma


def vma_modify_flags(
    vmi: VmaIterator, prev: VmArea | None, vma: VmArea, start: int, end: int, vm_flags: int
) -> tuple[VmArea | int, int]:
    """``vma_modify_flags()``: returns ``(vma or -errno, flags)``; the flags gain the
    sticky flags of VMAs merged with."""
    vmg = VMG_VMA_STATE(vmi, prev, vma, start, end)
    vmg.vm_flags = vm_flags
    ret = vma_modify(vmg)
    if isinstance(ret, int):
        return ret, vm_flags
    if vmg.state == VMA_MERGE_SUCCESS:
        vm_flags = ret.vm_flags
    return ret, vm_flags


def vma_modify_name(
    vmi: VmaIterator, prev: VmArea | None, vma: VmArea, start: int, end: int, name: str | None
) -> VmArea | int:
    """``vma_modify_name()``."""
    vmg = VMG_VMA_STATE(vmi, prev, vma, start, end)
    vmg.anon_name = name
    return vma_modify(vmg)


def vma_modify_policy(
    vmi: VmaIterator, prev: VmArea | None, vma: VmArea, start: int, end: int, policy: Any
) -> VmArea | int:
    """``vma_modify_policy()``."""
    vmg = VMG_VMA_STATE(vmi, prev, vma, start, end)
    vmg.policy = policy
    return vma_modify(vmg)


def vma_modify_flags_uffd(
    vmi: VmaIterator,
    prev: VmArea | None,
    vma: VmArea,
    start: int,
    end: int,
    vm_flags: int,
    ctx: Any,
    give_up_on_oom: bool,
) -> VmArea | int:
    """``vma_modify_flags_uffd()``."""
    vmg = VMG_VMA_STATE(vmi, prev, vma, start, end)
    vmg.vm_flags = vm_flags
    vmg.uffd_ctx = ctx
    vmg.give_up_on_oom = give_up_on_oom
    return vma_modify(vmg)


def vma_merge_extend(vmi: VmaIterator, vma: VmArea, delta: int) -> VmArea | None:
    """``vma_merge_extend()``: grow ``vma`` by ``delta`` bytes, merging with what follows."""
    vmg = VMG_VMA_STATE(vmi, vma, vma, vma.vm_end, vma.vm_end + delta)
    vmg.next, _prev = vma_iter_next_rewind(vmi)
    vmg.middle = None
    return vma_merge_new_range(vmg)


def vma_link(mm: MM, vma: VmArea) -> int:
    """``vma_link()``: insert a prepared VMA; 0 or -ENOMEM."""
    vmi = VmaIterator(mm, 0)
    vma_iter_config(vmi, vma.vm_start, vma.vm_end)
    if vma_iter_prealloc(vmi, vma):
        return -ENOMEM
    vma_iter_store_new(vmi, vma)
    mm.map_count += 1
    return 0


def copy_vma(vma: VmArea, addr: int, length: int, pgoff: int) -> tuple[VmArea | None, VmArea, bool]:
    """``copy_vma()``: the VMA at the destination of an mremap move.

    Returns ``(new_vma or None, vma, need_rmap_locks)``; ``vma`` is replaced by the merged
    VMA when the source merged into the destination (only possible while unfaulted).
    """
    from maplevm.mm.mmap import find_vma_prev

    mm = vma.vm_mm
    vma_start = vma.vm_start
    vmi = VmaIterator(mm, addr)
    vmg = VMG_VMA_STATE(vmi, None, vma, addr, addr + length)
    if vma.is_anonymous and vma.anon_vma is None:
        pgoff = addr >> PAGE_SHIFT
    new_vma, vmg.prev = find_vma_prev(mm, addr)
    if new_vma is not None and new_vma.vm_start < addr + length:
        return None, vma, False
    vmg.pgoff = pgoff
    vmg.next, _prev = vma_iter_next_rewind(vmi)
    new_vma = vma_merge_copied_range(vmg)
    if new_vma is not None:
        if vma_start >= new_vma.vm_start and vma_start < new_vma.vm_end:
            vma = new_vma
        return new_vma, vma, new_vma.vm_pgoff <= vma.vm_pgoff
    new_vma = vma.dup()
    new_vma.set_range(addr, addr + length, pgoff)
    anon_vma_clone(new_vma, vma)
    if vma_link(mm, new_vma):
        return None, vma, False
    return new_vma, vma, False


def anon_vma_compatible(a: VmArea, b: VmArea) -> bool:
    """``anon_vma_compatible()``: could ``a`` and ``b`` (in address order) share one?"""
    return (
        a.vm_end == b.vm_start
        and a.vm_policy == b.vm_policy
        and a.vm_file is b.vm_file
        and not ((a.vm_flags ^ b.vm_flags) & ~(VM_ACCESS_FLAGS | VM_IGNORE_MERGE))
        and b.vm_pgoff == a.vm_pgoff + ((b.vm_start - a.vm_start) >> PAGE_SHIFT)
    )


def reusable_anon_vma(old: VmArea, a: VmArea, b: VmArea) -> AnonVma | None:
    """``reusable_anon_vma()``."""
    if anon_vma_compatible(a, b):
        anon = old.anon_vma
        if anon is not None and len(old.anon_vma_chain) == 1:
            return anon
    return None


def find_mergeable_anon_vma(vma: VmArea) -> AnonVma | None:
    """``find_mergeable_anon_vma()``: reuse the next or previous VMA's anon_vma."""
    vmi = VmaIterator(vma.vm_mm, vma.vm_start)
    nxt = vma_iter_next_range(vmi)
    anon: AnonVma | None = None
    if nxt is not None:
        anon = reusable_anon_vma(nxt, vma, nxt)
        if anon is not None:
            return anon
    vma_iter_set(vmi, vma.vm_start)
    prev = vma_prev(vmi)
    if prev is not None:
        anon = reusable_anon_vma(prev, prev, vma)
    return anon


# -- mmap_region ---------------------------------------------------------------------------


@dataclass
class MmapState:
    """``struct mmap_state``."""

    mm: MM
    vmi: VmaIterator
    addr: int
    end: int
    pgoff: int
    pglen: int
    vm_flags: int
    file: OpenFile | None
    charged: int = 0
    prev: VmArea | None = None
    next: VmArea | None = None
    vms: VmaMunmapStruct | None = None
    mas_detach: MaStateFields | None = None


def accountable_mapping(file: OpenFile | None, vm_flags: int) -> bool:
    """``accountable_mapping()``: private, writable, reserved memory is charged."""
    from maplevm.mm.flags import VM_NORESERVE, VM_WRITE

    return (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE


def __mmap_setup(map_: MmapState) -> int:
    """``__mmap_setup()``: gather what MAP_FIXED replaces, check limits, charge memory."""
    from maplevm.mm.mmap import may_expand_vm
    from maplevm.mm.util import security_vm_enough_memory_mm

    vmi = map_.vmi
    first = vma_find(vmi, map_.end)
    vms = init_vma_munmap(vmi, first, map_.addr, map_.end)
    map_.vms = vms
    if first is not None:
        mas_detach = mt_detach_tree(vmi)
        map_.mas_detach = mas_detach
        error = vms_gather_munmap_vmas(vms, mas_detach)
        if error:
            vms.nr_pages = 0
            return error
        map_.next = vms.next
        map_.prev = vms.prev
    else:
        map_.next, map_.prev = vma_iter_next_rewind(vmi)
    if not may_expand_vm(map_.mm, map_.vm_flags, map_.pglen - vms.nr_pages):
        return -ENOMEM
    if accountable_mapping(map_.file, map_.vm_flags):
        map_.charged = map_.pglen - vms.nr_accounted
        if map_.charged:
            error = security_vm_enough_memory_mm(map_.mm, map_.charged)
            if error:
                return error
        vms.nr_accounted = 0
        map_.vm_flags |= VM_ACCOUNT
    vms_clean_up_area(vms)
    return 0


def mmap_file(file: OpenFile, vma: VmArea) -> int:
    """``mmap_file()``: the filesystem's ``mmap`` hook.  ext4/xfs refuse MAP_SYNC
    (VM_SYNC) on a device without DAX, which is every device here."""
    from maplevm.mm.flags import VM_SYNC

    if vma.vm_flags & VM_SYNC and file.inode.fs in ("ext4", "xfs"):
        return -errno.EOPNOTSUPP
    return 0


def __mmap_new_file_vma(map_: MmapState, vma: VmArea) -> int:
    """``__mmap_new_file_vma()``: attach the file and call its mmap hook."""
    assert map_.file is not None
    vma.vm_file = map_.file
    error = mmap_file(map_.file, vma)
    if error:
        vma.vm_file = None
        return error
    return 0


def __mmap_new_vma(map_: MmapState) -> VmArea | int:
    """``__mmap_new_vma()``: allocate and insert a VMA when no merge was possible."""
    from maplevm.mm.shmem import shmem_zero_setup

    vmi = map_.vmi
    vma = VmArea(map_.mm, map_.addr, map_.end, map_.vm_flags, map_.pgoff)
    vma_iter_config(vmi, map_.addr, map_.end)
    if vma_iter_prealloc(vmi, vma):
        return -ENOMEM
    if map_.file is not None:
        error = __mmap_new_file_vma(map_, vma)
    elif map_.vm_flags & VM_SHARED:
        error = shmem_zero_setup(vma)
    else:
        error = 0
    if error:
        vma_iter_free(vmi)
        return error
    vma_iter_store_new(vmi, vma)
    map_.mm.map_count += 1
    trace(map_.mm, "new_vma", vma=vma)
    return vma


def __mmap_complete(map_: MmapState, vma: VmArea) -> None:
    """``__mmap_complete()``: unmap what was replaced, account, finalise VM_LOCKED."""
    from maplevm.mm.mmap import vm_stat_account

    mm = map_.mm
    vm_flags = vma.vm_flags
    assert map_.vms is not None
    vms_complete_munmap_vmas(map_.vms)
    vm_stat_account(mm, vma.vm_flags, map_.pglen)
    if vm_flags & VM_LOCKED:
        if vm_flags & VM_SPECIAL:
            vma.vm_flags &= ~VM_LOCKED_MASK
        else:
            mm.locked_vm += map_.pglen


def __mmap_region(
    mm: MM, file: OpenFile | None, addr: int, length: int, vm_flags: int, pgoff: int
) -> int:
    """``__mmap_region()``: map ``[addr, addr + len)``, merging with neighbours if they
    allow it and replacing whatever MAP_FIXED covers.  Returns addr or -errno."""
    from maplevm.mm.util import vm_unacct_memory

    vmi = VmaIterator(mm, addr)
    map_ = MmapState(mm, vmi, addr, addr + length, pgoff, length >> PAGE_SHIFT, vm_flags, file)
    error = __mmap_setup(map_)
    if error:
        if map_.vms is not None and map_.mas_detach is not None:
            vms_abort_munmap_vmas(map_.vms, map_.mas_detach)
        return error
    vma: VmArea | None = None
    if map_.prev is not None or map_.next is not None:
        vmg = VmaMergeStruct(
            mm,
            vmi,
            map_.addr,
            map_.end,
            map_.vm_flags,
            map_.pgoff,
            prev=map_.prev,
            next=map_.next,
            file=map_.file,
        )
        vma = vma_merge_new_range(vmg)
    if vma is None:
        new = __mmap_new_vma(map_)
        if isinstance(new, int):
            if map_.charged:
                vm_unacct_memory(mm, map_.charged)
            if map_.vms is not None and map_.mas_detach is not None:
                vms_abort_munmap_vmas(map_.vms, map_.mas_detach)
            return new
        vma = new
    __mmap_complete(map_, vma)
    return addr


def mmap_region(
    mm: MM, file: OpenFile | None, addr: int, length: int, vm_flags: int, pgoff: int
) -> int:
    """``mmap_region()``: (no MDWE, no arch flag checks on x86) then ``__mmap_region()``."""
    return __mmap_region(mm, file, addr, length, vm_flags, pgoff)


# -- brk ---------------------------------------------------------------------------------------


def do_brk_flags(
    vmi: VmaIterator, vma: VmArea | None, addr: int, length: int, vm_flags: int
) -> int:
    """``do_brk_flags()``: extend the brk VMA (``just_expand``) or add a new anonymous one."""
    from maplevm.mm.mmap import may_expand_vm
    from maplevm.mm.util import security_vm_enough_memory_mm, vm_unacct_memory

    mm = vmi.mm
    vm_flags |= VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm.def_flags
    if not may_expand_vm(mm, vm_flags, length >> PAGE_SHIFT):
        return -ENOMEM
    if mm.map_count > mm.profile.max_map_count:
        return -ENOMEM
    if security_vm_enough_memory_mm(mm, length >> PAGE_SHIFT):
        return -ENOMEM
    expanded: VmArea | None = None
    if vma is not None and vma.vm_end == addr:
        vmg = VMG_STATE(mm, vmi, addr, addr + length, vm_flags, addr >> PAGE_SHIFT)
        vmg.prev = vma
        vmg.just_expand = True
        expanded = vma_merge_new_range(vmg)
        if expanded is None and vmg_nomem(vmg):
            vm_unacct_memory(mm, length >> PAGE_SHIFT)
            return -ENOMEM
    if expanded is None:
        if vma is not None:
            vma_iter_next_range(vmi)
        new = VmArea(mm, addr, addr + length, vm_flags, addr >> PAGE_SHIFT)
        if vma_iter_store_gfp(vmi, new):
            vm_unacct_memory(mm, length >> PAGE_SHIFT)
            return -ENOMEM
        mm.map_count += 1
        trace(mm, "new_vma", vma=new)
        expanded = new
    mm.total_vm += length >> PAGE_SHIFT
    mm.data_vm += length >> PAGE_SHIFT
    if vm_flags & VM_LOCKED:
        mm.locked_vm += length >> PAGE_SHIFT
    return 0


# -- unmapped area search ----------------------------------------------------------------------


@dataclass
class VmUnmappedAreaInfo:
    """``struct vm_unmapped_area_info``: ``[low_limit, high_limit)`` (exclusive high)."""

    flags: int = 0
    length: int = 0
    low_limit: int = 0
    high_limit: int = 0
    align_mask: int = 0
    align_offset: int = 0
    start_gap: int = 0


VM_UNMAPPED_AREA_TOPDOWN = 1


def vm_start_gap(vma: VmArea) -> int:
    """``vm_start_gap()``: vm_start minus the stack guard gap for a growsdown VMA."""
    vm_start = vma.vm_start
    if vma.vm_flags & VM_GROWSDOWN:
        gap = vma.vm_mm.profile.stack_guard_gap
        vm_start = vm_start - gap if vm_start > gap else 0
    return vm_start


def vm_end_gap(vma: VmArea) -> int:
    """``vm_end_gap()``: vm_end (plus the guard gap for growsup VMAs, none on x86)."""
    return vma.vm_end


def unmapped_area(mm: MM, info: VmUnmappedAreaInfo) -> int:
    """``unmapped_area()``: the lowest fitting address in ``[low_limit, high_limit)``,
    honouring alignment and guard gaps; -ENOMEM if none."""
    length = info.length + info.align_mask + info.start_gap
    if length < info.length or length > ULONG_MAX:
        return -ENOMEM
    low_limit = max(info.low_limit, mm.profile.mmap_min_addr)
    high_limit = info.high_limit
    vmi = VmaIterator(mm, 0)
    while True:
        if vma_iter_area_lowest(vmi, low_limit, high_limit, length):
            return -ENOMEM
        gap = vma_iter_addr(vmi) + info.start_gap
        gap += (info.align_offset - gap) & info.align_mask
        tmp = vma_next(vmi)
        if tmp is not None and tmp.vm_flags & VM_STARTGAP_FLAGS:
            if vm_start_gap(tmp) < gap + length - 1:
                low_limit = tmp.vm_end
                vma_iter_reset(vmi)
                trace(mm, "retry", reason="start gap of a growsdown VMA", vma=tmp)
                continue
        else:
            tmp = vma_prev(vmi)
            if tmp is not None and vm_end_gap(tmp) > gap:
                low_limit = vm_end_gap(tmp)
                vma_iter_reset(vmi)
                continue
        trace(mm, "gap", how="unmapped_area", addr=gap, length=info.length)
        return gap


def unmapped_area_topdown(mm: MM, info: VmUnmappedAreaInfo) -> int:
    """``unmapped_area_topdown()``: the highest fitting address in ``[low_limit,
    high_limit)``, at the top of its gap; -ENOMEM if none."""
    length = info.length + info.align_mask + info.start_gap
    if length < info.length or length > ULONG_MAX:
        return -ENOMEM
    low_limit = max(info.low_limit, mm.profile.mmap_min_addr)
    high_limit = info.high_limit
    vmi = VmaIterator(mm, 0)
    while True:
        if vma_iter_area_highest(vmi, low_limit, high_limit, length):
            return -ENOMEM
        gap = vma_iter_end(vmi) - info.length
        gap -= (gap - info.align_offset) & info.align_mask
        gap_end = vma_iter_end(vmi)
        tmp = vma_next(vmi)
        if tmp is not None and tmp.vm_flags & VM_STARTGAP_FLAGS:
            if vm_start_gap(tmp) < gap_end:
                high_limit = vm_start_gap(tmp)
                vma_iter_reset(vmi)
                trace(mm, "retry", reason="guard gap below a growsdown VMA", vma=tmp)
                continue
        else:
            tmp = vma_prev(vmi)
            if tmp is not None and vm_end_gap(tmp) > gap:
                high_limit = tmp.vm_start
                vma_iter_reset(vmi)
                continue
        trace(
            mm,
            "gap",
            how="unmapped_area_topdown",
            addr=gap,
            gap_end=gap_end,
            length=info.length,
            align_mask=info.align_mask,
        )
        return gap


# -- stack growth -------------------------------------------------------------------------------


def acct_stack_growth(vma: VmArea, size: int, grow: int) -> int:
    """``acct_stack_growth()``: RLIMIT_AS, RLIMIT_STACK, mlock and overcommit checks."""
    from maplevm.mm.mmap import may_expand_vm, mlock_future_ok
    from maplevm.mm.util import security_vm_enough_memory_mm

    mm = vma.vm_mm
    if not may_expand_vm(mm, vma.vm_flags, grow):
        return -ENOMEM
    if size > mm.profile.rlimit_stack.soft:
        return -ENOMEM
    if not mlock_future_ok(mm, bool(vma.vm_flags & VM_LOCKED), grow << PAGE_SHIFT):
        return -ENOMEM
    if security_vm_enough_memory_mm(mm, grow):
        return -ENOMEM
    return 0


def expand_downwards(vma: VmArea, address: int) -> int:
    """``expand_downwards()``: grow a VM_GROWSDOWN VMA down to ``address``."""
    from maplevm.mm.mmap import vm_stat_account
    from maplevm.mm.vm_area import anon_vma_prepare

    mm = vma.vm_mm
    if not vma.vm_flags & VM_GROWSDOWN:
        return -EFAULT
    address &= ~(PAGE_SIZE - 1)
    if address < mm.profile.mmap_min_addr:
        return -EPERM
    vmi = VmaIterator(mm, vma.vm_start)
    prev = vma_prev(vmi)
    if prev is not None:
        if (
            not prev.vm_flags & VM_GROWSDOWN
            and prev.is_accessible
            and address - prev.vm_end < mm.profile.stack_guard_gap
        ):
            return -ENOMEM
        vma_iter_next_range_limit(vmi, vma.vm_start)
    vma_iter_config(vmi, address, vma.vm_end)
    if vma_iter_prealloc(vmi, vma):
        return -ENOMEM
    anon_vma_prepare(vma)
    error = 0
    if address < vma.vm_start:
        size = vma.vm_end - address
        grow = (vma.vm_start - address) >> PAGE_SHIFT
        error = -ENOMEM
        if grow <= vma.vm_pgoff:
            error = acct_stack_growth(vma, size, grow)
            if not error:
                if vma.vm_flags & VM_LOCKED:
                    mm.locked_vm += grow
                vm_stat_account(mm, vma.vm_flags, grow)
                vma.vm_start = address
                vma.vm_pgoff -= grow
                vma_iter_store_overwrite(vmi, vma)
                trace(mm, "expand_downwards", vma=vma, to=address)
    vma_iter_free(vmi)
    return error


# -- validation -----------------------------------------------------------------------------------


def validate_mm(mm: MM) -> None:
    """``validate_mm()``: the tree validates, every slot range equals its VMA's range,
    ``map_count`` counts the VMAs, and the VMAs are attached."""
    mm.mm_mt.validate()
    n = 0
    problems = []
    for first, last, vma in mm.mm_mt.items():
        n += 1
        if vma.vm_start != first or vma.vm_end != last + 1:
            problems.append(
                f"tree range {first:#x}-{last + 1:#x} holds VMA {vma.vm_start:#x}-{vma.vm_end:#x}"
            )
        if not vma.attached:
            problems.append(f"VMA {vma.vm_start:#x}-{vma.vm_end:#x} is in the tree but detached")
        if vma.vm_start >= vma.vm_end:
            problems.append(f"empty VMA {vma.vm_start:#x}-{vma.vm_end:#x}")
    if n != mm.map_count:
        problems.append(f"map_count {mm.map_count} but the tree holds {n} VMAs")
    if problems:
        raise MapleBug("validate_mm: " + "; ".join(problems))


_ = mas_find
