"""The VMA layer of Linux (mm/*.c) on the maple tree: VMAs, the VMA iterator, mm_struct,
placement, merging and splitting, and the memory system calls.

One module per kernel file, with the kernel's function names inside: ``vma`` (mm/vma.c),
``mmap`` (mm/mmap.c), ``mprotect``, ``mremap``, ``mlock``, ``madvise``, ``mseal``,
``huge_memory`` (THP placement), ``shmem`` (shared anonymous memory), ``util`` (commit
accounting), ``gup`` (population), ``fault`` (page faults, stack growth), ``fork``
(dup_mmap), ``arch_x86`` (x86_64 placement), ``proc_maps`` (fs/proc/task_mmu.c).  The
structures: ``flags`` (VM_* and the ABI constants), ``profile`` (the machine),
``vm_area`` (vm_area_struct), ``vma_iter`` (the VMA iterator), ``mm_struct`` (MM and the
syscall entry points), ``seed`` (starting from /proc/PID/maps), ``executor`` (running
operation scripts), ``trace`` (why a decision was made).
"""

from maplevm.mm.mm_struct import MM
from maplevm.mm.profile import KernelProfile
from maplevm.mm.vm_area import VmArea

__all__ = ["MM", "KernelProfile", "VmArea"]
