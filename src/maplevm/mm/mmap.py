"""mm/mmap.c: the mmap, munmap and brk system calls, do_mmap, get_unmapped_area and the
lookups (find_vma, find_vma_prev, find_vma_intersection), with the accounting helpers
(may_expand_vm, vm_stat_account, mlock_future_ok)."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.flags import (
    LEGACY_MAP_MASK,
    MAP_32BIT,
    MAP_ANONYMOUS,
    MAP_DROPPABLE,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NONBLOCK,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_SYNC,
    MAP_TYPE,
    PAGE_ALIGN,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SIZE,
    PROT_EXEC,
    ULONG_MAX,
    VM_DONTDUMP,
    VM_DROPPABLE,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_GROWSUP,
    VM_LOCKED,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NORESERVE,
    VM_SHARED,
    VM_WIPEONFORK,
    calc_vm_flag_bits,
    calc_vm_prot_bits,
    is_data_mapping,
    is_exec_mapping,
    is_stack_mapping,
    offset_in_page,
)
from maplevm.mm.profile import CAP_IPC_LOCK, RLIM_INFINITY
from maplevm.mm.vm_area import OpenFile, VmArea
from maplevm.mm.vma import (
    VM_UNMAPPED_AREA_TOPDOWN,
    VmUnmappedAreaInfo,
    do_brk_flags,
    do_vmi_align_munmap,
    do_vmi_munmap,
    mmap_region,
    unmapped_area,
    unmapped_area_topdown,
    vm_start_gap,
)
from maplevm.mm.vma_iter import (
    VmaIterator,
    vma_find,
    vma_iter_load,
    vma_next,
    vma_prev,
    vma_prev_limit,
)
from maplevm.tree.normal import mt_find, mtree_load

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

EINVAL = errno.EINVAL
ENOMEM = errno.ENOMEM
EBADF = errno.EBADF
EACCES = errno.EACCES
EEXIST = errno.EEXIST
EPERM = errno.EPERM
EAGAIN = errno.EAGAIN
EOVERFLOW = errno.EOVERFLOW
EOPNOTSUPP = errno.EOPNOTSUPP
OVERCOMMIT_NEVER = 2


MAX_ERRNO = 4095


def IS_ERR_VALUE(x: int) -> bool:
    """Negative errno values: the model's negative ints, and (as the kernel sees any
    unsigned long) the top 4095 unsigned values, which an address can be."""
    return x < 0 or x > ULONG_MAX - MAX_ERRNO


# -- lookups -----------------------------------------------------------------------------------


def find_vma(mm: MM, addr: int) -> VmArea | None:
    """``find_vma()``: the VMA containing ``addr``, or the next one."""
    vma, _ = mt_find(mm.mm_mt, addr, ULONG_MAX)
    result: VmArea | None = vma
    return result


def find_vma_intersection(mm: MM, start_addr: int, end_addr: int) -> VmArea | None:
    """``find_vma_intersection()``: the first VMA meeting ``[start_addr, end_addr)``."""
    vma, _ = mt_find(mm.mm_mt, start_addr, end_addr - 1)
    result: VmArea | None = vma
    return result


def vma_lookup(mm: MM, addr: int) -> VmArea | None:
    """``vma_lookup()``: the VMA containing ``addr`` (``mtree_load``)."""
    vma: VmArea | None = mtree_load(mm.mm_mt, addr)
    return vma


def find_vma_prev(mm: MM, addr: int) -> tuple[VmArea | None, VmArea | None]:
    """``find_vma_prev()``: ``(vma at or after addr, the VMA before it)``."""
    vmi = VmaIterator(mm, addr)
    vma = vma_iter_load(vmi)
    prev = vma_prev(vmi)
    if vma is None:
        vma = vma_next(vmi)
    return vma, prev


# -- accounting ----------------------------------------------------------------------------


def may_expand_vm(mm: MM, flags: int, npages: int) -> bool:
    """``may_expand_vm()``: RLIMIT_AS, then RLIMIT_DATA for data mappings."""
    prof = mm.profile
    if mm.total_vm + npages > prof.rlimit_as.soft >> PAGE_SHIFT:
        return False
    if is_data_mapping(flags) and mm.data_vm + npages > prof.rlimit_data.soft >> PAGE_SHIFT:
        # Valgrind workaround: a zero soft limit falls back to the hard one.
        return prof.rlimit_data.soft == 0 and (
            mm.data_vm + npages <= prof.rlimit_data.hard >> PAGE_SHIFT
        )
    return True


def vm_stat_account(mm: MM, flags: int, npages: int) -> None:
    """``vm_stat_account()``."""
    mm.total_vm += npages
    if is_exec_mapping(flags):
        mm.exec_vm += npages
    elif is_stack_mapping(flags):
        mm.stack_vm += npages
    elif is_data_mapping(flags):
        mm.data_vm += npages


def mlock_future_ok(mm: MM, is_vma_locked: bool, nbytes: int) -> bool:
    """``mlock_future_ok()``: RLIMIT_MEMLOCK unless CAP_IPC_LOCK."""
    if not is_vma_locked or mm.profile.capable(CAP_IPC_LOCK):
        return True
    locked_pages = (nbytes >> PAGE_SHIFT) + mm.locked_vm
    limit = mm.profile.rlimit_memlock.soft
    return locked_pages <= (limit >> PAGE_SHIFT)


def can_do_mlock(mm: MM) -> bool:
    """``can_do_mlock()``."""
    return mm.profile.rlimit_memlock.soft != 0 or mm.profile.capable(CAP_IPC_LOCK)


# -- get_unmapped_area ----------------------------------------------------------------------


def round_hint_to_min(mm: MM, hint: int) -> int:
    """``round_hint_to_min()``: a hint below mmap_min_addr moves up to it."""
    hint &= ~(PAGE_SIZE - 1)
    if hint and hint < mm.profile.mmap_min_addr:
        return PAGE_ALIGN(mm.profile.mmap_min_addr)
    return hint


def vm_unmapped_area(mm: MM, info: VmUnmappedAreaInfo) -> int:
    """``vm_unmapped_area()``."""
    if info.flags & VM_UNMAPPED_AREA_TOPDOWN:
        return unmapped_area_topdown(mm, info)
    return unmapped_area(mm, info)


def mm_get_unmapped_area_vmflags(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    pgoff: int,
    flags: int,
    vm_flags: int,
) -> int:
    """``mm_get_unmapped_area_vmflags()``: top-down or bottom-up by MMF_TOPDOWN."""
    from maplevm.mm.arch_x86 import arch_get_unmapped_area, arch_get_unmapped_area_topdown

    if mm.topdown:
        return arch_get_unmapped_area_topdown(mm, file, addr, length, pgoff, flags, vm_flags)
    return arch_get_unmapped_area(mm, file, addr, length, pgoff, flags, vm_flags)


def __get_unmapped_area(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    pgoff: int,
    flags: int,
    vm_flags: int,
) -> int:
    """``__get_unmapped_area()``: choose the allocator, then check the result."""
    from maplevm.mm.huge_memory import thp_get_unmapped_area, thp_get_unmapped_area_vmflags
    from maplevm.mm.shmem import shmem_get_unmapped_area

    if length > mm.task_size:
        return -ENOMEM
    if file is None:
        pgoff = 0
    if file is not None:
        if file.inode.shmem:
            addr = shmem_get_unmapped_area(mm, file, addr, length, pgoff, flags)
        elif file.inode.fs in mm.profile.thp_filesystems:
            addr = thp_get_unmapped_area(mm, file, addr, length, pgoff, flags)
        else:
            addr = mm_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, vm_flags)
    elif flags & MAP_SHARED:
        addr = shmem_get_unmapped_area(mm, None, addr, length, pgoff, flags)
    elif mm.profile.config_thp and not addr and length % PMD_SIZE == 0:
        addr = thp_get_unmapped_area_vmflags(mm, None, addr, length, pgoff, flags, vm_flags)
    else:
        addr = mm_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, vm_flags)
    if IS_ERR_VALUE(addr):
        # MAP_FIXED hands the address straight back; one in the top 4095 values reads
        # as an errno (mmap(MAP_FIXED, 0xff..f2) fails with EFAULT).
        return addr if addr < 0 else addr - (ULONG_MAX + 1)
    if addr > mm.task_size - length:
        return -ENOMEM
    if offset_in_page(addr):
        return -EINVAL
    return addr


def get_unmapped_area(
    mm: MM, file: OpenFile | None, addr: int, length: int, pgoff: int, flags: int
) -> int:
    """``get_unmapped_area()``."""
    return __get_unmapped_area(mm, file, addr, length, pgoff, flags, 0)


# -- mmap -------------------------------------------------------------------------------------


def file_mmap_ok(file: OpenFile, pgoff: int, length: int) -> bool:
    """``file_mmap_ok()`` for regular files (``MAX_LFS_FILESIZE``)."""
    maxsize = (1 << 63) - 1
    if length > maxsize:
        return False
    maxsize -= length
    return pgoff <= maxsize >> PAGE_SHIFT


def do_mmap(
    mm: MM,
    file: OpenFile | None,
    addr: int,
    length: int,
    prot: int,
    flags: int,
    vm_flags: int,
    pgoff: int,
) -> tuple[int, int]:
    """``do_mmap()``: returns ``(address or -errno, bytes to populate)``."""
    from maplevm.mm.trace import trace

    if not length:
        return -EINVAL, 0
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr = round_hint_to_min(mm, addr)
    length = PAGE_ALIGN(length)
    if not length:
        return -ENOMEM, 0
    if pgoff + (length >> PAGE_SHIFT) > ULONG_MAX:
        return -EOVERFLOW, 0
    if mm.map_count > mm.profile.max_map_count:
        return -ENOMEM, 0

    vm_flags |= (
        calc_vm_prot_bits(prot)
        | calc_vm_flag_bits(file is not None, flags)
        | mm.def_flags
        | VM_MAYREAD
        | VM_MAYWRITE
        | VM_MAYEXEC
    )
    addr = __get_unmapped_area(mm, file, addr, length, pgoff, flags, vm_flags)
    if IS_ERR_VALUE(addr):
        return addr, 0
    trace(mm, "placed", addr=addr, length=length, fixed=bool(flags & MAP_FIXED))
    if flags & MAP_FIXED_NOREPLACE and find_vma_intersection(mm, addr, addr + length):
        return -EEXIST, 0
    if flags & MAP_LOCKED and not can_do_mlock(mm):
        return -EPERM, 0
    if not mlock_future_ok(mm, bool(vm_flags & VM_LOCKED), length):
        return -EAGAIN, 0

    if file is not None:
        if not file_mmap_ok(file, pgoff, length):
            return -EOVERFLOW, 0
        flags_mask = LEGACY_MAP_MASK
        if file.inode.fs in ("ext4", "xfs"):  # FOP_MMAP_SYNC
            flags_mask |= MAP_SYNC
        map_type = flags & MAP_TYPE
        if map_type in (MAP_SHARED, MAP_SHARED_VALIDATE):
            if map_type == MAP_SHARED:
                flags &= LEGACY_MAP_MASK
            if flags & ~flags_mask:
                return -EOPNOTSUPP, 0
            if prot & 0x2 and not file.writable:
                return -EACCES, 0
            vm_flags |= VM_SHARED | VM_MAYSHARE
            if not file.writable:
                vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
        if map_type in (MAP_SHARED, MAP_SHARED_VALIDATE, MAP_PRIVATE):
            if not file.readable:
                return -EACCES, 0
            if file.noexec:
                if vm_flags & VM_EXEC:
                    return -EPERM, 0
                vm_flags &= ~VM_MAYEXEC
            if vm_flags & (VM_GROWSDOWN | VM_GROWSUP):
                return -EINVAL, 0
        else:
            return -EINVAL, 0
    else:
        map_type = flags & MAP_TYPE
        if map_type == MAP_SHARED:
            if vm_flags & (VM_GROWSDOWN | VM_GROWSUP):
                return -EINVAL, 0
            pgoff = 0
            vm_flags |= VM_SHARED | VM_MAYSHARE
        elif map_type in (MAP_DROPPABLE, MAP_PRIVATE):
            if map_type == MAP_DROPPABLE:
                if flags & (MAP_LOCKED | MAP_HUGETLB):
                    return -EINVAL, 0
                if vm_flags & (VM_GROWSDOWN | VM_GROWSUP):
                    return -EINVAL, 0
                vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP
            pgoff = addr >> PAGE_SHIFT
        else:
            return -EINVAL, 0

    if flags & MAP_NORESERVE and mm.profile.overcommit_memory != OVERCOMMIT_NEVER:
        vm_flags |= VM_NORESERVE

    addr = mmap_region(mm, file, addr, length, vm_flags, pgoff)
    populate = 0
    if not IS_ERR_VALUE(addr) and (
        vm_flags & VM_LOCKED or (flags & (MAP_POPULATE | MAP_NONBLOCK)) == MAP_POPULATE
    ):
        populate = length
    return addr, populate


def vm_mmap_pgoff(
    mm: MM, file: OpenFile | None, addr: int, length: int, prot: int, flags: int, pgoff: int
) -> int:
    """``vm_mmap_pgoff()``: do_mmap under the lock, then populate if asked."""
    from maplevm.mm.gup import mm_populate

    ret, populate = do_mmap(mm, file, addr, length, prot, flags, 0, pgoff)
    if populate and not IS_ERR_VALUE(ret):
        mm_populate(mm, ret, populate)
    return ret


def ksys_mmap_pgoff(
    mm: MM, addr: int, length: int, prot: int, flags: int, fd: int, pgoff: int
) -> int:
    """``ksys_mmap_pgoff()``: resolve the file (or reject hugetlb requests here)."""
    file: OpenFile | None = None
    if not flags & MAP_ANONYMOUS:
        file = mm.files.get(fd)
        if file is None:
            return -EBADF
        if flags & MAP_HUGETLB:
            return -EINVAL
    elif flags & MAP_HUGETLB:
        # No huge pages are reserved on the modelled machine: the hugetlb file setup fails.
        if mm.profile.nr_hugepages == 0:
            return -ENOMEM
    return vm_mmap_pgoff(mm, file, addr, length, prot, flags, pgoff)


def sys_mmap(mm: MM, addr: int, length: int, prot: int, flags: int, fd: int, off: int) -> int:
    """x86_64 ``mmap(2)`` (arch/x86/kernel/sys_x86_64.c): ``off`` must be page aligned."""
    addr &= ULONG_MAX
    length &= ULONG_MAX
    off &= ULONG_MAX
    prot &= 0xFFFFFFFF
    flags &= 0xFFFFFFFF
    if off & (PAGE_SIZE - 1):
        return -EINVAL
    _ = PROT_EXEC
    return ksys_mmap_pgoff(mm, addr, length, prot, flags, fd, off >> PAGE_SHIFT)


# -- munmap ----------------------------------------------------------------------------------


def sys_munmap(mm: MM, addr: int, length: int) -> int:
    """``munmap(2)`` (``__vm_munmap()``): 0 or -errno."""
    addr &= ULONG_MAX
    length &= ULONG_MAX
    vmi = VmaIterator(mm, addr)
    return do_vmi_munmap(vmi, mm, addr, length)


def do_munmap(mm: MM, start: int, length: int) -> int:
    """Mirror of ``do_munmap()``: ``do_vmi_munmap()`` from a fresh iterator at ``start``,
    keeping the lock (mremap's unmaps).  0 or -errno."""
    vmi = VmaIterator(mm, start)
    return do_vmi_munmap(vmi, mm, start, length)


# -- brk --------------------------------------------------------------------------------------


def check_brk_limits(mm: MM, addr: int, length: int) -> int:
    """``check_brk_limits()``: the range must be mappable, and mlock limits allow it."""
    mapped = get_unmapped_area(mm, None, addr, length, 0, MAP_FIXED)
    if IS_ERR_VALUE(mapped):
        return mapped
    return 0 if mlock_future_ok(mm, bool(mm.def_flags & VM_LOCKED), length) else -EAGAIN


def check_data_rlimit(rlim: int, new: int, start: int, end_data: int, start_data: int) -> bool:
    """``check_data_rlimit()``: True when the new break would exceed RLIMIT_DATA."""
    if rlim < RLIM_INFINITY:
        return ((new - start) + (end_data - start_data)) > rlim
    return False


def sys_brk(mm: MM, brk: int) -> int:
    """``brk(2)``: the new break, or the old one on any failure."""
    from maplevm.mm.gup import mm_populate

    brk &= ULONG_MAX
    origbrk = mm.brk
    min_brk = mm.start_brk
    if brk < min_brk:
        return origbrk
    if check_data_rlimit(
        mm.profile.rlimit_data.soft, brk, mm.start_brk, mm.end_data, mm.start_data
    ):
        return origbrk
    newbrk = PAGE_ALIGN(brk)
    oldbrk = PAGE_ALIGN(mm.brk)
    if oldbrk == newbrk:
        mm.brk = brk
        return brk
    if brk <= mm.brk:
        # Always allow shrinking brk.
        vmi = VmaIterator(mm, newbrk)
        brkvma = vma_find(vmi, oldbrk)
        if brkvma is None or brkvma.vm_start >= oldbrk:
            return origbrk
        mm.brk = brk
        if do_vmi_align_munmap(vmi, brkvma, mm, newbrk, oldbrk, True):
            mm.brk = origbrk
            return origbrk
        return brk
    # unsigned long: brk(-1) aligns newbrk to 0, and the length wraps to a huge value
    # that check_brk_limits() refuses (gVisor BrkSyscallReturnsOldBrkOnFailure).
    length = (newbrk - oldbrk) & ULONG_MAX
    if check_brk_limits(mm, oldbrk, length):
        return origbrk
    # Only check if the next VMA is within the stack_guard_gap of the expansion area.
    vmi = VmaIterator(mm, oldbrk)
    nxt = vma_find(vmi, newbrk + PAGE_SIZE + mm.profile.stack_guard_gap)
    if nxt is not None and newbrk + PAGE_SIZE > vm_start_gap(nxt):
        return origbrk
    brkvma = vma_prev_limit(vmi, mm.start_brk)
    if do_brk_flags(vmi, brkvma, oldbrk, length, 0) < 0:
        return origbrk
    mm.brk = brk
    if mm.def_flags & VM_LOCKED:
        mm_populate(mm, oldbrk, length)
    return brk


__all__ = [
    "MAP_32BIT",
    "do_mmap",
    "do_munmap",
    "find_vma",
    "find_vma_intersection",
    "find_vma_prev",
    "get_unmapped_area",
    "may_expand_vm",
    "mlock_future_ok",
    "sys_brk",
    "sys_mmap",
    "sys_munmap",
    "vm_stat_account",
    "vma_lookup",
]
