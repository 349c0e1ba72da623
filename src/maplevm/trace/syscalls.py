"""Which system calls a trace records, and how each becomes an operation.

Shared by the ptrace converter (numbers) and the strace reader (names).  Arguments arrive as
raw 64-bit register values; an operation gets them the way the kernel reads them (addresses
and lengths unsigned, descriptors as C ints).
"""

from __future__ import annotations

from collections.abc import Sequence

from maplevm.trace.format import Args

U64 = (1 << 64) - 1

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl) of everything the tracer stops at.
NR: dict[str, int] = {
    "close": 3,
    "open": 2,
    "mmap": 9,
    "mprotect": 10,
    "munmap": 11,
    "brk": 12,
    "mremap": 25,
    "madvise": 28,
    "shmat": 30,
    "dup": 32,
    "dup2": 33,
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "shmdt": 67,
    "fcntl": 72,
    "creat": 85,
    "mlock": 149,
    "munlock": 150,
    "mlockall": 151,
    "munlockall": 152,
    "prctl": 157,
    "remap_file_pages": 216,
    "exit_group": 231,
    "openat": 257,
    "dup3": 292,
    "memfd_create": 319,
    "execveat": 322,
    "mlock2": 325,
    "pkey_mprotect": 329,
    "clone3": 435,
    "close_range": 436,
    "openat2": 437,
    "mseal": 462,
}
NAME: dict[int, str] = {v: k for k, v in NR.items()}
OPENS_FD = frozenset({"open", "openat", "creat", "openat2", "memfd_create"})
DUPS_FD = frozenset({"dup", "dup2", "dup3", "fcntl"})
# memory calls the model does not perform (recorded as "syscall" ops)
UNMODELLED = frozenset({"shmat", "shmdt", "remap_file_pages"})
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_VFORK = 0x4000
CLONE_THREAD = 0x10000
CLOSE_RANGE_CLOEXEC = 4
F_DUPFD = 0
F_DUPFD_CLOEXEC = 1030


def u64(v: int) -> int:
    return v & U64


def c_int(v: int) -> int:
    """The low 32 bits as a C int (file descriptors, pkeys)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def mm_op(name: str, a: Sequence[int], text: str | None = None) -> tuple[str, Args] | None:
    """``(op kind, resolved args)`` for a memory system call, or None for other calls.

    ``text`` is a string argument read from the process (the prctl name).
    """
    if name == "mmap":
        return "mmap", {
            "addr": u64(a[0]),
            "len": u64(a[1]),
            "prot": u64(a[2]),
            "flags": u64(a[3]),
            "fd": c_int(a[4]),
            "offset": u64(a[5]),
        }
    if name in ("munmap", "mlock", "munlock"):
        return name, {"addr": u64(a[0]), "len": u64(a[1])}
    if name == "mprotect":
        return name, {"addr": u64(a[0]), "len": u64(a[1]), "prot": u64(a[2])}
    if name == "pkey_mprotect":
        if c_int(a[3]) == -1:  # pkey -1 is plain mprotect
            return "mprotect", {"addr": u64(a[0]), "len": u64(a[1]), "prot": u64(a[2])}
        return syscall_op(name, a)
    if name == "mremap":
        return name, {
            "old_addr": u64(a[0]),
            "old_len": u64(a[1]),
            "new_len": u64(a[2]),
            "flags": u64(a[3]),
            "new_addr": u64(a[4]),
        }
    if name == "brk":
        return name, {"addr": u64(a[0])}
    if name == "madvise":
        return name, {"addr": u64(a[0]), "len": u64(a[1]), "advice": c_int(a[2])}
    if name in ("mlock2", "mseal"):
        return name, {"addr": u64(a[0]), "len": u64(a[1]), "flags": u64(a[2])}
    if name == "mlockall":
        return name, {"flags": u64(a[0])}
    if name == "munlockall":
        return name, {}
    if name == "prctl":
        return "set_vma_anon_name", {
            "addr": u64(a[2]),
            "len": u64(a[3]),
            "name": text if a[4] else None,
        }
    if name in UNMODELLED:
        return syscall_op(name, a)
    return None


def syscall_op(name: str, a: Sequence[int]) -> tuple[str, Args]:
    args: Args = {"nr": NR[name]}
    for i in range(6):
        args[f"a{i}"] = u64(a[i]) if i < len(a) else 0
    return "syscall", args
