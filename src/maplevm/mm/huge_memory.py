"""mm/huge_memory.c: placing mappings on PMD (2 MiB) boundaries so THPs can back them.

Private anonymous mappings whose length is a multiple of 2 MiB and that have no hint, and
file mappings on filesystems that ask for it, search for ``len + 2 MiB`` and then align;
top-down, when the padded area already starts aligned, the mapping goes to its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    PAGE_SHIFT,
    PMD_SIZE,
    ULONG_MAX,
    VM_HUGEPAGE,
    VM_HUGETLB,
    VM_NOHUGEPAGE,
    VM_SPECIAL,
)
from maplevm.mm.vm_area import OpenFile, VmArea

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM


def _loff_t(v: int) -> int:
    """``v`` as a 64-bit signed ``loff_t`` (two's complement wrap)."""
    v &= ULONG_MAX
    return v - (1 << 64) if v >> 63 else v


def __thp_get_unmapped_area(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    off: int,
    flags: int,
    size: int,
    vm_flags: int,
) -> int:
    """``__thp_get_unmapped_area()``: 0 means "no alignment possible, search normally"."""
    from maplevm.mm.mmap import mm_get_unmapped_area_vmflags
    from maplevm.mm.trace import trace

    # C types: off, off_end and off_align are loff_t (signed, wrapping); the differences
    # and sums below are compared as unsigned long.  Near the top of the offset range
    # round_up() wraps off_align negative and the checks pass: a one-page mapping at offset
    # 0x7fffffffffffe000 is still PMD-aligned (gVisor MapSecondToLastPositivePage).
    off_end = _loff_t(off + length)
    off_align = _loff_t(((off - 1) | (size - 1)) + 1)
    if off_end <= off_align or (off_end - off_align) & ULONG_MAX < size:
        return 0
    len_pad = length + size
    if len_pad > ULONG_MAX or (off + len_pad) & ULONG_MAX < off & ULONG_MAX:
        return 0
    ret = mm_get_unmapped_area_vmflags(mm, file, addr, len_pad, off >> PAGE_SHIFT, flags, vm_flags)
    if ret < 0:
        return 0
    if ret == addr:
        return addr
    off_sub = (off - ret) & (size - 1)
    if mm.topdown and not off_sub:
        trace(mm, "thp_align", padded=ret, result=ret + size)
        return ret + size
    trace(mm, "thp_align", padded=ret, result=ret + off_sub)
    return ret + off_sub


def thp_get_unmapped_area_vmflags(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    pgoff: int,
    flags: int,
    vm_flags: int,
) -> int:
    """``thp_get_unmapped_area_vmflags()``."""
    from maplevm.mm.mmap import mm_get_unmapped_area_vmflags

    off = pgoff << PAGE_SHIFT
    ret = __thp_get_unmapped_area(mm, file, addr, length, off, flags, PMD_SIZE, vm_flags)
    if ret:
        return ret
    return mm_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, vm_flags)


def thp_get_unmapped_area(
    mm: MM, file: OpenFile | None, addr: int, length: int, pgoff: int, flags: int
) -> int:
    """``thp_get_unmapped_area()`` (a filesystem's ``get_unmapped_area``)."""
    return thp_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, 0)


# -- which VMAs may hold PMD-sized THPs (include/linux/huge_mm.h, mm/huge_memory.c) --------

TVA_SMAPS = 0
TVA_PAGEFAULT = 1
TVA_KHUGEPAGED = 2
TVA_FORCED_COLLAPSE = 3


def thp_vma_suitable_order(vma: VmArea, addr: int) -> bool:
    """Mirror of ``thp_vma_suitable_order()`` for the PMD order: the aligned 2 MiB block
    around ``addr`` lies inside the VMA (and, for files, the offset is aligned too)."""
    if not vma.is_anonymous:
        hpage_pages = PMD_SIZE >> PAGE_SHIFT
        if ((vma.vm_start >> PAGE_SHIFT) - vma.vm_pgoff) % hpage_pages:
            return False
    haddr = addr & ~(PMD_SIZE - 1)
    return haddr >= vma.vm_start and haddr + PMD_SIZE <= vma.vm_end


def vma_thp_disabled(vma: VmArea, vm_flags: int, forced_collapse: bool) -> bool:
    """Mirror of ``vma_thp_disabled()`` (no PR_SET_THP_DISABLE in the model)."""
    return bool(vm_flags & VM_NOHUGEPAGE)


def __thp_vma_allowable_order(vma: VmArea, vm_flags: int, tva_type: int) -> bool:
    """Mirror of ``__thp_vma_allowable_orders()`` asked about the PMD order only.

    File mappings: the scratch files are open for writing, which ``file_thp_enabled()``
    refuses (and CONFIG_READ_ONLY_THP_FOR_FS is off on the reference kernel), so only
    shmem can pass (``shmem_allowable_huge_orders()``: a forced collapse unless ``deny``,
    else by ``shmem_enabled``).
    """
    mm = vma.vm_mm
    in_pf = tva_type == TVA_PAGEFAULT
    smaps = tva_type == TVA_SMAPS
    forced_collapse = tva_type == TVA_FORCED_COLLAPSE
    if vma_thp_disabled(vma, vm_flags, forced_collapse):
        return False
    if not in_pf and not smaps and vm_flags & (VM_SPECIAL | VM_HUGETLB):
        return False  # VM_NO_KHUGEPAGED
    if not in_pf and not thp_vma_suitable_order(vma, vma.vm_end - PMD_SIZE):
        return False
    file = vma.vm_file
    if not in_pf and file is not None and file.inode.shmem:
        shmem = mm.profile.shmem_enabled
        if shmem == "deny":
            return False
        return (
            forced_collapse
            or shmem in ("always", "within_size", "force")
            or (shmem == "advise" and bool(vm_flags & VM_HUGEPAGE))
        )
    if not vma.is_anonymous:
        return False
    if vma.anon_vma is None:
        return smaps or in_pf
    return True


def thp_vma_allowable_order(vma: VmArea, vm_flags: int, tva_type: int) -> bool:
    """Mirror of ``thp_vma_allowable_order(vma, vm_flags, type, PMD_ORDER)``: the sysfs
    ``enabled`` setting applies to anonymous VMAs unless the collapse is forced."""
    if tva_type != TVA_FORCED_COLLAPSE and vma.is_anonymous:
        enabled = vma.vm_mm.profile.thp_enabled
        if not (enabled == "always" or (vm_flags & VM_HUGEPAGE and enabled != "never")):
            return False
    return __thp_vma_allowable_order(vma, vm_flags, tva_type)
