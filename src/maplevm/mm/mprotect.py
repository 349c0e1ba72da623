"""mm/mprotect.c: ``mprotect(2)``.

The walk changes each VMA of the range in turn (``mprotect_fixup`` splits or merges it);
a hole, a permission beyond VM_MAY*, or a failed split stops it with the VMAs already
processed left changed, exactly as the kernel leaves them.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    PAGE_ALIGN,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_GROWSDOWN,
    PROT_GROWSUP,
    PROT_READ,
    PROT_SEM,
    PROT_WRITE,
    ULONG_MAX,
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_GROWSDOWN,
    VM_GROWSUP,
    VM_HUGETLB,
    VM_LOCKED,
    VM_NORESERVE,
    VM_SHARED,
    VM_WRITE,
    calc_vm_prot_bits,
)
from maplevm.mm.vm_area import VmArea
from maplevm.mm.vma import vma_is_sealed, vma_modify_flags
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma_range,
    vma_find,
    vma_iter_end,
    vma_prev,
)

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
EACCES = errno.EACCES
EPERM = errno.EPERM


def arch_validate_prot(prot: int) -> bool:
    """``arch_validate_prot()`` (generic): only read, write, exec and sem."""
    return not prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)


def mprotect_fixup(
    vmi: VmaIterator, vma: VmArea, prev: VmArea | None, start: int, end: int, newflags: int
) -> tuple[int, VmArea | None]:
    """``mprotect_fixup()``: returns ``(error, new prev)``."""
    from maplevm.mm.gup import populate_vma_page_range
    from maplevm.mm.mmap import may_expand_vm, vm_stat_account
    from maplevm.mm.util import security_vm_enough_memory_mm, vm_unacct_memory

    mm = vma.vm_mm
    oldflags = vma.vm_flags
    nrpages = (end - start) >> 12
    charged = 0
    if vma_is_sealed(vma):
        return -EPERM, prev
    if newflags == oldflags:
        return 0, vma
    if newflags & VM_WRITE:
        if not may_expand_vm(mm, newflags, nrpages) and may_expand_vm(mm, oldflags, nrpages):
            return -ENOMEM, prev
        if not oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE):
            charged = nrpages
            if security_vm_enough_memory_mm(mm, charged):
                return -ENOMEM, prev
            newflags |= VM_ACCOUNT
    elif oldflags & VM_ACCOUNT and vma.is_anonymous and vma.anon_vma is None:
        newflags &= ~VM_ACCOUNT

    ret, newflags = vma_modify_flags(vmi, prev, vma, start, end, newflags)
    if isinstance(ret, int):
        vm_unacct_memory(mm, charged)
        return ret, prev
    vma = ret
    vma.vm_flags = newflags
    if oldflags & VM_ACCOUNT and not newflags & VM_ACCOUNT:
        vm_unacct_memory(mm, nrpages)
    if (oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED and newflags & VM_WRITE:
        populate_vma_page_range(vma, start, end)
    vm_stat_account(mm, oldflags, -nrpages)
    vm_stat_account(mm, newflags, nrpages)
    return 0, vma


def do_mprotect_pkey(mm: MM, start: int, length: int, prot: int, pkey: int = -1) -> int:
    """``do_mprotect_pkey()``: 0 or -errno."""
    grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP)
    prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP)
    if grows == PROT_GROWSDOWN | PROT_GROWSUP:
        return -EINVAL
    if start & (PAGE_SIZE - 1):
        return -EINVAL
    if not length:
        return 0
    length = PAGE_ALIGN(length)
    end = (start + length) & ULONG_MAX
    if end <= start:
        return -ENOMEM
    if not arch_validate_prot(prot):
        return -EINVAL
    reqprot = prot
    vmi = VmaIterator(mm, start)
    vma = vma_find(vmi, end)
    if vma is None:
        return -ENOMEM
    if grows & PROT_GROWSDOWN:
        if vma.vm_start >= end:
            return -ENOMEM
        start = vma.vm_start
        if not vma.vm_flags & VM_GROWSDOWN:
            return -EINVAL
    else:
        if vma.vm_start > start:
            return -ENOMEM
        if grows & PROT_GROWSUP:
            end = vma.vm_end
            if not vma.vm_flags & VM_GROWSUP:
                return -EINVAL
    prev = vma_prev(vmi)
    if start > vma.vm_start:
        prev = vma
    nstart = start
    tmp = vma.vm_start
    error = 0
    for vma in for_each_vma_range(vmi, end):
        if vma.vm_start != tmp:
            error = -ENOMEM
            break
        newflags = calc_vm_prot_bits(prot)
        newflags |= vma.vm_flags & ~VM_ACCESS_FLAGS
        if (newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS:
            error = -EACCES
            break
        tmp = min(vma.vm_end, end)
        error, prev = mprotect_fixup(vmi, vma, prev, nstart, tmp, newflags)
        if error:
            break
        tmp = vma_iter_end(vmi)
        nstart = tmp
        prot = reqprot
    if not error and tmp < end:
        error = -ENOMEM
    return error


def sys_mprotect(mm: MM, start: int, length: int, prot: int) -> int:
    """``mprotect(2)``."""
    return do_mprotect_pkey(mm, start & ULONG_MAX, length & ULONG_MAX, prot & 0xFFFFFFFF)
