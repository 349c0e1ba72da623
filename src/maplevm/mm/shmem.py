"""mm/shmem.c as far as mappings see it: shared anonymous memory is a deleted shmem file,
``/dev/zero (deleted)`` on device 00:01 with a fresh inode per mapping."""

from __future__ import annotations

import errno
from itertools import count
from typing import TYPE_CHECKING

from maplevm.mm.flags import PAGE_SHIFT, VM_NORESERVE
from maplevm.mm.vm_area import Inode, OpenFile, VmArea, VmOps

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

_shmem_inodes = count(1000)
SHMEM_VM_OPS = VmOps(name=None)


def shmem_zero_setup(vma: VmArea) -> int:
    """``shmem_zero_setup()``: back a shared anonymous mapping with a new shmem file.

    The whole size is charged unless VM_NORESERVE (``shmem_acct_size()``): 0 or -ENOMEM.
    """
    from maplevm.mm.util import security_vm_enough_memory_mm

    mm = vma.vm_mm
    size = vma.vm_end - vma.vm_start
    if not vma.vm_flags & VM_NORESERVE:
        if security_vm_enough_memory_mm(mm, size >> PAGE_SHIFT):
            return -errno.ENOMEM
    inode = Inode(
        dev="00:01",
        ino=next(_shmem_inodes),
        path="/dev/zero",
        size=size,
        fs="tmpfs",
        shmem=True,
        deleted=True,
    )
    vma.vm_file = OpenFile(inode, readable=True, writable=True)
    vma.vm_ops = SHMEM_VM_OPS
    return 0


def shmem_get_unmapped_area(
    mm: MM, file: OpenFile | None, addr: int, length: int, pgoff: int, flags: int
) -> int:
    """``shmem_get_unmapped_area()``: a normal placement; huge-page alignment only when
    shmem THPs are enabled (they are "never" on the reference machine)."""
    from maplevm.mm.mmap import mm_get_unmapped_area_vmflags

    if length > mm.task_size:
        return -errno.ENOMEM
    addr = mm_get_unmapped_area_vmflags(mm, file, addr, length, pgoff, flags, 0)
    return addr
