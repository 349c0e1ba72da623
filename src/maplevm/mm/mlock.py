"""mm/mlock.c: ``mlock(2)``, ``mlock2(2)``, ``munlock(2)``, ``mlockall(2)``, ``munlockall(2)``.

Locking is a VMA flag change (VM_LOCKED, plus VM_LOCKONFAULT for MLOCK_ONFAULT and
MCL_ONFAULT) made by ``mlock_fixup()`` through ``vma_modify_flags()``, so it splits and
merges like mprotect; special (VM_SPECIAL), hugetlb and droppable VMAs are skipped without
an error and are not counted in ``mm->locked_vm``.  The walk stops at a hole with ENOMEM,
the VMAs before it already changed; a range *starting* in a hole changes nothing.

After the flags change, ``mlock()`` populates the range (``__mm_populate(..., 0)``): a page
that cannot be faulted in (PROT_NONE VMA, file page past EOF, guard marker) makes the call
fail with ENOMEM (``__mlock_posix_error_return()``), VM_LOCKED staying set.  ``mlockall(
MCL_CURRENT)`` populates everything ignoring errors.  ``mm->def_flags`` carries MCL_FUTURE
to later mmap/brk calls.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MLOCK_ONFAULT,
    PAGE_ALIGN,
    PAGE_MASK,
    PAGE_SHIFT,
    ULONG_MAX,
    VM_DROPPABLE,
    VM_HUGETLB,
    VM_LOCKED,
    VM_LOCKED_MASK,
    VM_LOCKONFAULT,
    VM_SPECIAL,
    offset_in_page,
)
from maplevm.mm.mmap import can_do_mlock
from maplevm.mm.profile import CAP_IPC_LOCK
from maplevm.mm.vm_area import VmArea
from maplevm.mm.vma import vma_modify_flags
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma,
    for_each_vma_range,
    vma_iter_end,
    vma_iter_load,
    vma_prev,
)

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
EAGAIN = errno.EAGAIN
EFAULT = errno.EFAULT
EPERM = errno.EPERM


def mlock_vma_pages_range(vma: VmArea, start: int, end: int, newflags: int) -> None:
    """Mirror of ``mlock_vma_pages_range()``: set the new flags (mlocking or munlocking
    the folios already mapped has nothing the model tracks)."""
    vma.vm_flags = newflags


def mlock_fixup(
    vmi: VmaIterator, vma: VmArea, prev: VmArea | None, start: int, end: int, newflags: int
) -> tuple[int, VmArea]:
    """Mirror of ``mlock_fixup()``: returns ``(0 or -errno, new prev)``.

    Special, hugetlb and droppable VMAs never get VM_LOCKED and are not counted; the
    rest are split or merged by ``vma_modify_flags()`` and ``mm->locked_vm`` follows.
    """
    mm = vma.vm_mm
    oldflags = vma.vm_flags
    if (
        newflags == oldflags
        or oldflags & VM_SPECIAL
        or oldflags & VM_HUGETLB
        or oldflags & VM_DROPPABLE
    ):
        # Don't set VM_LOCKED or VM_LOCKONFAULT and don't count.
        return 0, vma
    ret, newflags = vma_modify_flags(vmi, prev, vma, start, end, newflags)
    if isinstance(ret, int):
        return ret, vma
    vma = ret
    nr_pages = (end - start) >> PAGE_SHIFT
    if not newflags & VM_LOCKED:
        nr_pages = -nr_pages
    elif oldflags & VM_LOCKED:
        nr_pages = 0
    mm.locked_vm += nr_pages
    if newflags & VM_LOCKED and oldflags & VM_LOCKED:
        vma.vm_flags = newflags  # no work to do, and mlocking twice would be wrong
    else:
        mlock_vma_pages_range(vma, start, end, newflags)
    return 0, vma


def apply_vma_lock_flags(mm: MM, start: int, length: int, flags: int) -> int:
    """Mirror of ``apply_vma_lock_flags()``: set ``flags`` (VM_LOCKED_MASK bits) on every
    VMA of ``[start, start + len)``; -ENOMEM at the first hole (after the VMAs before it
    changed), or when ``start`` itself is unmapped (nothing changed)."""
    end = start + length
    if end > ULONG_MAX:
        return -EINVAL
    if end == start:
        return 0
    vmi = VmaIterator(mm, start)
    vma = vma_iter_load(vmi)
    if vma is None:
        return -ENOMEM
    prev = vma_prev(vmi)
    if start > vma.vm_start:
        prev = vma
    nstart = start
    tmp = vma.vm_start
    for vma in for_each_vma_range(vmi, end):
        if vma.vm_start != tmp:
            return -ENOMEM
        newflags = vma.vm_flags & ~VM_LOCKED_MASK
        newflags |= flags
        # Here we know that vma->vm_start <= nstart < vma->vm_end.
        tmp = min(vma.vm_end, end)
        error, prev = mlock_fixup(vmi, vma, prev, nstart, tmp, newflags)
        if error:
            return error
        tmp = vma_iter_end(vmi)
        nstart = tmp
    if tmp < end:
        return -ENOMEM
    return 0


def count_mm_mlocked_page_nr(mm: MM, start: int, length: int) -> int:
    """Mirror of ``count_mm_mlocked_page_nr()``: pages of the range already locked
    (VM_LOCKONFAULT ones included)."""
    end = ULONG_MAX if ULONG_MAX - length < start else start + length
    count = 0
    vmi = VmaIterator(mm, start)
    for vma in for_each_vma_range(vmi, end):
        if vma.vm_flags & VM_LOCKED:
            if start > vma.vm_start:
                count -= start - vma.vm_start
            if end < vma.vm_end:
                count += end - vma.vm_start
                break
            count += vma.vm_end - vma.vm_start
    return (count & ULONG_MAX) >> PAGE_SHIFT


def __mlock_posix_error_return(retval: int) -> int:
    """Mirror of ``__mlock_posix_error_return()``: GUP's EFAULT is POSIX's ENOMEM, and
    its ENOMEM is EAGAIN."""
    if retval == -EFAULT:
        return -ENOMEM
    if retval == -ENOMEM:
        return -EAGAIN
    return retval


def do_mlock(mm: MM, start: int, length: int, flags: int) -> int:
    """Mirror of ``do_mlock()``: the start is rounded down to its page and the length
    grows by as much; RLIMIT_MEMLOCK binds without CAP_IPC_LOCK (pages of the range
    already locked are not counted twice); then the range is populated."""
    from maplevm.mm.gup import __mm_populate

    if not can_do_mlock(mm):
        return -EPERM
    length = PAGE_ALIGN((length + offset_in_page(start)) & ULONG_MAX)
    start &= PAGE_MASK & ULONG_MAX
    capable = mm.profile.capable(CAP_IPC_LOCK)
    lock_limit = mm.profile.rlimit_memlock.soft >> PAGE_SHIFT
    locked = (length >> PAGE_SHIFT) + mm.locked_vm
    if locked > lock_limit and not capable:
        locked -= count_mm_mlocked_page_nr(mm, start, length)
    error = -ENOMEM
    if locked <= lock_limit or capable:
        error = apply_vma_lock_flags(mm, start, length, flags)
    if error:
        return error
    error = __mm_populate(mm, start, length, False)
    if error:
        return __mlock_posix_error_return(error)
    return 0


def sys_mlock(mm: MM, start: int, length: int) -> int:
    """``mlock(2)``."""
    return do_mlock(mm, start & ULONG_MAX, length & ULONG_MAX, VM_LOCKED)


def sys_mlock2(mm: MM, start: int, length: int, flags: int) -> int:
    """``mlock2(2)``: MLOCK_ONFAULT adds VM_LOCKONFAULT; any other flag is EINVAL."""
    flags &= 0xFFFFFFFF
    vm_flags = VM_LOCKED
    if flags & ~MLOCK_ONFAULT:
        return -EINVAL
    if flags & MLOCK_ONFAULT:
        vm_flags |= VM_LOCKONFAULT
    return do_mlock(mm, start & ULONG_MAX, length & ULONG_MAX, vm_flags)


def sys_munlock(mm: MM, start: int, length: int) -> int:
    """``munlock(2)``: the same range rounding as mlock, no limit, no population."""
    start &= ULONG_MAX
    length = PAGE_ALIGN(((length & ULONG_MAX) + offset_in_page(start)) & ULONG_MAX)
    start &= PAGE_MASK & ULONG_MAX
    return apply_vma_lock_flags(mm, start, length, 0)


def apply_mlockall_flags(mm: MM, flags: int) -> int:
    """Mirror of ``apply_mlockall_flags()``: MCL_FUTURE goes to ``mm->def_flags`` (and is
    cleared from it by a call without it); MCL_CURRENT locks every VMA, errors ignored."""
    mm.def_flags &= ~VM_LOCKED_MASK
    to_add = 0
    if flags & MCL_FUTURE:
        mm.def_flags |= VM_LOCKED
        if flags & MCL_ONFAULT:
            mm.def_flags |= VM_LOCKONFAULT
        if not flags & MCL_CURRENT:
            return 0
    if flags & MCL_CURRENT:
        to_add |= VM_LOCKED
        if flags & MCL_ONFAULT:
            to_add |= VM_LOCKONFAULT
    vmi = VmaIterator(mm, 0)
    prev: VmArea | None = None
    for vma in for_each_vma(vmi):
        newflags = vma.vm_flags & ~VM_LOCKED_MASK
        newflags |= to_add
        error, prev = mlock_fixup(vmi, vma, prev, vma.vm_start, vma.vm_end, newflags)
        if error:
            prev = vma  # ignore errors, but prev needs fixing up
    return 0


def sys_mlockall(mm: MM, flags: int) -> int:
    """``mlockall(2)``: MCL_CURRENT needs the whole address space under RLIMIT_MEMLOCK
    (or CAP_IPC_LOCK) and then populates it all."""
    from maplevm.mm.gup import mm_populate

    flags &= 0xFFFFFFFF
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        return -EINVAL
    if not can_do_mlock(mm):
        return -EPERM
    lock_limit = mm.profile.rlimit_memlock.soft >> PAGE_SHIFT
    ret = -ENOMEM
    if not flags & MCL_CURRENT or mm.total_vm <= lock_limit or mm.profile.capable(CAP_IPC_LOCK):
        ret = apply_mlockall_flags(mm, flags)
    if not ret and flags & MCL_CURRENT:
        mm_populate(mm, 0, mm.task_size)
    return ret


def sys_munlockall(mm: MM) -> int:
    """``munlockall(2)``."""
    return apply_mlockall_flags(mm, 0)
