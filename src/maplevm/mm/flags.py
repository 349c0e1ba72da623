"""The kernel's constants for the VMA layer: VM_* flags, mmap/mprotect/madvise ABI values.

VM_* bit positions are those of Linux 6.18/7.0 on x86_64 (include/linux/mm.h); they decide
the order of the ``VmFlags`` mnemonics in /proc/PID/smaps, so they are kept exact.
"""

from __future__ import annotations

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
PMD_SIZE = 1 << 21
ULONG_MAX = (1 << 64) - 1


def PAGE_ALIGN(x: int) -> int:
    """``PAGE_ALIGN()`` on an unsigned long (wraps to 0 past the top)."""
    return (x + PAGE_SIZE - 1) & PAGE_MASK & ULONG_MAX


def offset_in_page(x: int) -> int:
    return x & (PAGE_SIZE - 1)


def PHYS_PFN(x: int) -> int:
    return x >> PAGE_SHIFT


# --- VM_* flags (vm_area_struct.vm_flags) ---------------------------------------------
VM_NONE = 0
VM_READ = 1 << 0
VM_WRITE = 1 << 1
VM_EXEC = 1 << 2
VM_SHARED = 1 << 3
VM_MAYREAD = 1 << 4
VM_MAYWRITE = 1 << 5
VM_MAYEXEC = 1 << 6
VM_MAYSHARE = 1 << 7
VM_GROWSDOWN = 1 << 8
VM_UFFD_MISSING = 1 << 9
VM_PFNMAP = 1 << 10
VM_MAYBE_GUARD = 1 << 11
VM_UFFD_WP = 1 << 12
VM_LOCKED = 1 << 13
VM_IO = 1 << 14
VM_SEQ_READ = 1 << 15
VM_RAND_READ = 1 << 16
VM_DONTCOPY = 1 << 17
VM_DONTEXPAND = 1 << 18
VM_LOCKONFAULT = 1 << 19
VM_ACCOUNT = 1 << 20
VM_NORESERVE = 1 << 21
VM_HUGETLB = 1 << 22
VM_SYNC = 1 << 23
VM_ARCH_1 = 1 << 24
VM_WIPEONFORK = 1 << 25
VM_DONTDUMP = 1 << 26
VM_SOFTDIRTY = 0  # CONFIG_MEM_SOFT_DIRTY is off on the reference kernel
VM_MIXEDMAP = 1 << 28
VM_HUGEPAGE = 1 << 29
VM_NOHUGEPAGE = 1 << 30
VM_MERGEABLE = 1 << 31
VM_PKEY_BIT0 = 1 << 32
VM_PKEY_BIT1 = 1 << 33
VM_PKEY_BIT2 = 1 << 34
VM_PKEY_BIT3 = 1 << 35
VM_SHADOW_STACK = 0  # CONFIG_X86_USER_SHADOW_STACK is off on the reference kernel
VM_ALLOW_ANY_UNCACHED = 1 << 39
VM_DROPPABLE = 1 << 40
VM_UFFD_MINOR = 1 << 41
VM_SEALED = 1 << 42
VM_GROWSUP = VM_NONE  # x86 stacks grow down

VM_STACK = VM_GROWSDOWN
VM_STACK_EARLY = 0
VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC
VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP
VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT
VM_STARTGAP_FLAGS = VM_GROWSDOWN | VM_SHADOW_STACK
VM_STICKY = VM_SOFTDIRTY | VM_MAYBE_GUARD
VM_IGNORE_MERGE = VM_STICKY
VM_COPY_ON_FORK = VM_PFNMAP | VM_MIXEDMAP | VM_UFFD_WP | VM_MAYBE_GUARD
VM_UFFD_FLAGS = VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR
VM_DATA_FLAGS_NON_EXEC = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
# x86_64: VM_DATA_FLAGS_TSK_EXEC, where TASK_EXEC is VM_EXEC only with READ_IMPLIES_EXEC.
VM_DATA_DEFAULT_FLAGS = VM_DATA_FLAGS_NON_EXEC
VM_STACK_DEFAULT_FLAGS = VM_DATA_DEFAULT_FLAGS
VM_STACK_FLAGS = VM_STACK | VM_STACK_DEFAULT_FLAGS | VM_ACCOUNT

# VmFlags mnemonics in bit order (fs/proc/task_mmu.c show_smap_vma_flags).
MNEMONICS: dict[int, str] = {
    VM_READ: "rd",
    VM_WRITE: "wr",
    VM_EXEC: "ex",
    VM_SHARED: "sh",
    VM_MAYREAD: "mr",
    VM_MAYWRITE: "mw",
    VM_MAYEXEC: "me",
    VM_MAYSHARE: "ms",
    VM_GROWSDOWN: "gd",
    VM_PFNMAP: "pf",
    VM_MAYBE_GUARD: "gu",
    VM_LOCKED: "lo",
    VM_IO: "io",
    VM_SEQ_READ: "sr",
    VM_RAND_READ: "rr",
    VM_DONTCOPY: "dc",
    VM_DONTEXPAND: "de",
    VM_LOCKONFAULT: "lf",
    VM_ACCOUNT: "ac",
    VM_NORESERVE: "nr",
    VM_HUGETLB: "ht",
    VM_SYNC: "sf",
    VM_ARCH_1: "ar",
    VM_WIPEONFORK: "wf",
    VM_DONTDUMP: "dd",
    VM_MIXEDMAP: "mm",
    VM_HUGEPAGE: "hg",
    VM_NOHUGEPAGE: "nh",
    VM_MERGEABLE: "mg",
    VM_UFFD_MISSING: "um",
    VM_UFFD_WP: "uw",
    VM_UFFD_MINOR: "ui",
    VM_DROPPABLE: "dp",
    VM_SEALED: "sl",
}
MNEMONIC_BITS: dict[str, int] = {v: k for k, v in MNEMONICS.items()}
_ORDERED = sorted(MNEMONICS.items())


def vmflags_text(flags: int) -> str:
    """The ``VmFlags:`` value smaps prints (mnemonics in bit order, space separated)."""
    return " ".join(name for bit, name in _ORDERED if flags & bit)


def vmflags_from_text(text: str) -> int:
    """Parse a ``VmFlags`` mnemonic list back into flag bits (unknown names are errors)."""
    flags = 0
    for name in text.split():
        if name not in MNEMONIC_BITS:
            raise ValueError(f"unknown VmFlags mnemonic {name!r}")
        flags |= MNEMONIC_BITS[name]
    return flags


# --- mmap/mprotect ABI (include/uapi/asm-generic/mman*.h, arch/x86) ---------------------
PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4
PROT_SEM = 0x8
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_DROPPABLE = 0x08
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_32BIT = 0x40
MAP_ABOVE4G = 0x80
MAP_GROWSDOWN = 0x0100
MAP_DENYWRITE = 0x0800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000
MAP_UNINITIALIZED = 0x4000000
MAP_HUGE_SHIFT = 26
MAP_HUGE_MASK = 0x3F
LEGACY_MAP_MASK = (
    MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
)

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

MLOCK_ONFAULT = 0x01
MCL_CURRENT = 1
MCL_FUTURE = 2
MCL_ONFAULT = 4

PR_SET_VMA = 0x53564D41
PR_SET_VMA_ANON_NAME = 0

MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2
MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_REMOVE = 9
MADV_DONTFORK = 10
MADV_DOFORK = 11
MADV_HWPOISON = 100
MADV_SOFT_OFFLINE = 101
MADV_MERGEABLE = 12
MADV_UNMERGEABLE = 13
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_DODUMP = 17
MADV_WIPEONFORK = 18
MADV_KEEPONFORK = 19
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_POPULATE_READ = 22
MADV_POPULATE_WRITE = 23
MADV_DONTNEED_LOCKED = 24
MADV_COLLAPSE = 25
MADV_GUARD_INSTALL = 102
MADV_GUARD_REMOVE = 103


def calc_vm_prot_bits(prot: int) -> int:
    """``calc_vm_prot_bits()`` (x86: no pkeys in use, no MTE)."""
    return (
        (VM_READ if prot & PROT_READ else 0)
        | (VM_WRITE if prot & PROT_WRITE else 0)
        | (VM_EXEC if prot & PROT_EXEC else 0)
    )


def calc_vm_flag_bits(has_file: bool, flags: int) -> int:
    """``calc_vm_flag_bits()``: MAP_GROWSDOWN, MAP_LOCKED, MAP_SYNC (files) and MAP_STACK
    (VM_NOHUGEPAGE on THP kernels)."""
    vm = 0
    if flags & MAP_GROWSDOWN:
        vm |= VM_GROWSDOWN
    if flags & MAP_LOCKED:
        vm |= VM_LOCKED
    if has_file and flags & MAP_SYNC:
        vm |= VM_SYNC
    if flags & MAP_STACK:
        vm |= VM_NOHUGEPAGE
    return vm


def is_exec_mapping(flags: int) -> bool:
    return (flags & (VM_EXEC | VM_WRITE | VM_STACK)) == VM_EXEC


def is_stack_mapping(flags: int) -> bool:
    return (flags & VM_STACK) == VM_STACK or bool(flags & VM_SHADOW_STACK)


def is_data_mapping(flags: int) -> bool:
    return (flags & (VM_WRITE | VM_SHARED | VM_STACK)) == VM_WRITE
