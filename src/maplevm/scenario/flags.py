"""x86_64 Linux constants used by operation scripts, by name.

Scripts may write flag arguments as a list of names (``["MAP_PRIVATE", "MAP_ANONYMOUS"]``), a
single name, or a plain integer; these tables turn names into values and values back into
names for readable output.  Values are the x86_64 UAPI ones (include/uapi/asm-generic/mman*.h,
arch/x86/include/uapi/asm/mman.h, include/uapi/linux/mman.h).
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Mapping

PAGE_SIZE = 4096

PROT: Mapping[str, int] = {
    "PROT_NONE": 0x0,
    "PROT_READ": 0x1,
    "PROT_WRITE": 0x2,
    "PROT_EXEC": 0x4,
    "PROT_SEM": 0x8,
    "PROT_GROWSDOWN": 0x01000000,
    "PROT_GROWSUP": 0x02000000,
}

MAP: Mapping[str, int] = {
    "MAP_SHARED": 0x01,
    "MAP_PRIVATE": 0x02,
    "MAP_SHARED_VALIDATE": 0x03,
    "MAP_DROPPABLE": 0x08,
    "MAP_FIXED": 0x10,
    "MAP_ANONYMOUS": 0x20,
    "MAP_32BIT": 0x40,
    "MAP_GROWSDOWN": 0x0100,
    "MAP_DENYWRITE": 0x0800,
    "MAP_EXECUTABLE": 0x1000,
    "MAP_LOCKED": 0x2000,
    "MAP_NORESERVE": 0x4000,
    "MAP_POPULATE": 0x8000,
    "MAP_NONBLOCK": 0x10000,
    "MAP_STACK": 0x20000,
    "MAP_HUGETLB": 0x40000,
    "MAP_SYNC": 0x80000,
    "MAP_FIXED_NOREPLACE": 0x100000,
    "MAP_UNINITIALIZED": 0x4000000,
    # Huge page size selectors for MAP_HUGETLB: log2(size) << MAP_HUGE_SHIFT (26).
    "MAP_HUGE_2MB": 21 << 26,
    "MAP_HUGE_1GB": 30 << 26,
}

MREMAP: Mapping[str, int] = {
    "MREMAP_MAYMOVE": 0x1,
    "MREMAP_FIXED": 0x2,
    "MREMAP_DONTUNMAP": 0x4,
}

MADV: Mapping[str, int] = {
    "MADV_NORMAL": 0,
    "MADV_RANDOM": 1,
    "MADV_SEQUENTIAL": 2,
    "MADV_WILLNEED": 3,
    "MADV_DONTNEED": 4,
    "MADV_FREE": 8,
    "MADV_REMOVE": 9,
    "MADV_DONTFORK": 10,
    "MADV_DOFORK": 11,
    "MADV_MERGEABLE": 12,
    "MADV_UNMERGEABLE": 13,
    "MADV_HUGEPAGE": 14,
    "MADV_NOHUGEPAGE": 15,
    "MADV_DONTDUMP": 16,
    "MADV_DODUMP": 17,
    "MADV_WIPEONFORK": 18,
    "MADV_KEEPONFORK": 19,
    "MADV_COLD": 20,
    "MADV_PAGEOUT": 21,
    "MADV_POPULATE_READ": 22,
    "MADV_POPULATE_WRITE": 23,
    "MADV_DONTNEED_LOCKED": 24,
    "MADV_COLLAPSE": 25,
    "MADV_HWPOISON": 100,
    "MADV_SOFT_OFFLINE": 101,
    "MADV_GUARD_INSTALL": 102,
    "MADV_GUARD_REMOVE": 103,
}

# Advice a script may not use: as root they poison or offline real physical pages of the
# machine the runner is on.
FORBIDDEN_ADVICE: Mapping[int, str] = {
    100: "MADV_HWPOISON poisons a physical page of this machine",
    101: "MADV_SOFT_OFFLINE offlines a physical page of this machine",
}

MCL: Mapping[str, int] = {
    "MCL_CURRENT": 1,
    "MCL_FUTURE": 2,
    "MCL_ONFAULT": 4,
}

MLOCK: Mapping[str, int] = {
    "MLOCK_ONFAULT": 1,
}

PR_SET_VMA = 0x53564D41
PR_SET_VMA_ANON_NAME = 0

# x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
SYSCALL_NR: Mapping[str, int] = {
    "mmap": 9,
    "mprotect": 10,
    "munmap": 11,
    "brk": 12,
    "mremap": 25,
    "madvise": 28,
    "ftruncate": 77,
    "mlock": 149,
    "munlock": 150,
    "mlockall": 151,
    "munlockall": 152,
    "prctl": 157,
    "mlock2": 325,
    "mseal": 462,
}

TABLES: Mapping[str, Mapping[str, int]] = {
    "PROT": PROT,
    "MAP": MAP,
    "MREMAP": MREMAP,
    "MADV": MADV,
    "MCL": MCL,
    "MLOCK": MLOCK,
}

SIGNALS: Mapping[int, str] = {7: "SIGBUS", 11: "SIGSEGV"}

# si_code names per signal (include/uapi/asm-generic/siginfo.h); SI_KERNEL is what a general
# protection fault (a non-canonical address) reports.
SI_CODES: Mapping[str, Mapping[int, str]] = {
    "SIGSEGV": {
        1: "SEGV_MAPERR",
        2: "SEGV_ACCERR",
        3: "SEGV_BNDERR",
        4: "SEGV_PKUERR",
        5: "SEGV_ACCADI",
        6: "SEGV_ADIDERR",
        7: "SEGV_ADIPERR",
        8: "SEGV_MTEAERR",
        9: "SEGV_MTESERR",
        10: "SEGV_CPERR",
        0x80: "SI_KERNEL",
    },
    "SIGBUS": {
        1: "BUS_ADRALN",
        2: "BUS_ADRERR",
        3: "BUS_OBJERR",
        4: "BUS_MCEERR_AR",
        5: "BUS_MCEERR_AO",
        0x80: "SI_KERNEL",
    },
}

# touch reports a fault as a negative "errno" so that every step has one integer result.
TOUCH_SIGSEGV_RET = -_errno.EFAULT
TOUCH_SIGBUS_RET = -_errno.EIO


def flag_value(table: str, names: list[str] | str | int) -> int:
    """The integer for ``names`` in ``TABLES[table]``: an int, a name, ``"A|B"`` or a list.

    Raises ``KeyError`` naming the first unknown name.
    """
    if isinstance(names, int):
        return names
    if isinstance(names, str):
        names = names.split("|")
    values = TABLES[table]
    value = 0
    for name in names:
        if name not in values:
            raise KeyError(name)
        value |= values[name]
    return value


def flag_names(table: str, value: int) -> str:
    """``value`` as ``A|B|0x..`` using the names of ``TABLES[table]``, for people to read.

    Combined names (MAP_SHARED_VALIDATE, MAP_HUGE_*) are only used when they match exactly.
    """
    values = TABLES[table]
    exact = [n for n, v in values.items() if v == value]
    if exact:
        return exact[0]
    if table == "MADV":
        return str(value)
    parts: list[str] = []
    rest = value
    for name, bit in values.items():
        if bit and bit & (bit - 1) == 0 and rest & bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) if parts else "0"


def errno_name(ret: int) -> str:
    """``-12`` -> ``"ENOMEM"``; other values -> their decimal text."""
    if -4095 <= ret < 0:
        return _errno.errorcode.get(-ret, f"errno{-ret}")
    return str(ret)


def errno_value(name: str) -> int:
    """``"ENOMEM"`` -> 12.  Raises ``KeyError`` for unknown names."""
    value = getattr(_errno, name, None)
    if not isinstance(value, int) or not name.startswith("E"):
        raise KeyError(name)
    return value
