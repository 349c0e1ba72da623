"""mm/ksm.c, as madvise(2) sees it: MADV_MERGEABLE and MADV_UNMERGEABLE.

Only the VM_MERGEABLE flag is modelled.  KSM merges nothing on the reference machine
(``/sys/kernel/mm/ksm/run`` is 0), so unmerging (``unmerge_ksm_pages()``, breaking COW on
KSM pages) finds nothing to do and changes no page the model tracks.
"""

from __future__ import annotations

from maplevm.mm.flags import (
    MADV_MERGEABLE,
    MADV_UNMERGEABLE,
    VM_DONTEXPAND,
    VM_DROPPABLE,
    VM_HUGETLB,
    VM_IO,
    VM_MAYSHARE,
    VM_MERGEABLE,
    VM_MIXEDMAP,
    VM_PFNMAP,
    VM_SHARED,
)
from maplevm.mm.vm_area import VmArea


def vma_ksm_compatible(vma: VmArea) -> bool:
    """Mirror of ``vma_ksm_compatible()``: shared, special, hugetlb and droppable VMAs
    are never merged (the advice is ignored for them, not refused)."""
    never = VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_HUGETLB
    never |= VM_MIXEDMAP | VM_DROPPABLE
    return not vma.vm_flags & never


def ksm_madvise(vma: VmArea, start: int, end: int, advice: int, vm_flags: int) -> tuple[int, int]:
    """Mirror of ``ksm_madvise()``: returns ``(0 or -errno, new vm_flags)``.

    ``__ksm_enter()`` (registering the mm with ksmd) cannot fail in the model.
    """
    if advice == MADV_MERGEABLE:
        if vma.vm_flags & VM_MERGEABLE:
            return 0, vm_flags
        if not vma_ksm_compatible(vma):
            return 0, vm_flags
        vm_flags |= VM_MERGEABLE
    elif advice == MADV_UNMERGEABLE:
        if not vm_flags & VM_MERGEABLE:
            return 0, vm_flags  # just ignore the advice
        vm_flags &= ~VM_MERGEABLE
    return 0, vm_flags
