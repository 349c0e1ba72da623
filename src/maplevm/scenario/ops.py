"""The operations an operation script may contain: their fields, defaults and checks.

One table, :data:`OP_SPECS`, drives validation (``format``), execution (``kernel.runner``),
generation and shrinking, so adding an operation means adding one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["int", "flags", "enum", "name", "file", "choice", "body"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of an operation.

    kinds: ``int`` (an integer, a ``"0x.."`` string or a ``{"ref": i, "add": n}`` reference to
    step i's return value), ``flags`` (names from ``flags.TABLES[table]``, a list of them, or
    an int), ``enum`` (one name or an int), ``name`` (a string or null), ``file`` (a file
    declared in the header), ``choice`` (one of ``choices``), ``body`` (a nested operation).
    """

    name: str
    kind: FieldKind
    required: bool = True
    default: object = None
    table: str | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class OpSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    # The field a ``repeat`` advances by its stride (None: cannot be repeated).
    addr_field: str | None
    doc: str
    # Only in traces of real programs (``maplevm trace``): events the replay needs (files,
    # processes) that no executor performs; the kernel runner refuses them, the generator
    # never makes them.
    trace_only: bool = False

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _int(name: str, doc: str, default: int | None = None) -> FieldSpec:
    return FieldSpec(name, "int", required=default is None, default=default, doc=doc)


def _addr(doc: str = "start address") -> FieldSpec:
    return _int("addr", doc)


def _len(doc: str = "length in bytes") -> FieldSpec:
    return _int("len", doc)


OP_SPECS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec(
            "mmap",
            (
                _int("addr", "hint, or the address with MAP_FIXED*", 0),
                _len(),
                FieldSpec("prot", "flags", table="PROT", doc="PROT_* names or an int"),
                FieldSpec("flags", "flags", table="MAP", doc="MAP_* names or an int"),
                FieldSpec("file", "file", required=False, doc="a file declared in the header"),
                FieldSpec(
                    "access",
                    "choice",
                    required=False,
                    default="rw",
                    choices=("rw", "ro"),
                    doc="which descriptor of the file: opened O_RDWR or O_RDONLY",
                ),
                FieldSpec("fd", "int", required=False, doc="a raw descriptor number (for EBADF)"),
                _int("offset", "file offset in bytes", 0),
            ),
            "addr",
            "mmap(addr, len, prot, flags, fd, offset); fd is -1 unless file or fd is given",
        ),
        OpSpec("munmap", (_addr(), _len()), "addr", "munmap(addr, len)"),
        OpSpec(
            "mprotect",
            (_addr(), _len(), FieldSpec("prot", "flags", table="PROT")),
            "addr",
            "mprotect(addr, len, prot)",
        ),
        OpSpec(
            "mremap",
            (
                _int("old_addr", "address of the mapping to remap"),
                _int("old_len", "old length (0 duplicates a shared mapping)"),
                _int("new_len", "new length"),
                FieldSpec("flags", "flags", required=False, default=0, table="MREMAP"),
                _int("new_addr", "destination with MREMAP_FIXED", 0),
            ),
            "old_addr",
            "mremap(old_addr, old_len, new_len, flags, new_addr)",
        ),
        OpSpec(
            "brk",
            (_int("addr", "the new break; 0 asks for the current one"),),
            None,
            "brk(addr); returns the new break, or the old one on failure",
        ),
        OpSpec(
            "madvise",
            (_addr(), _len(), FieldSpec("advice", "enum", table="MADV")),
            "addr",
            "madvise(addr, len, advice); MADV_HWPOISON and MADV_SOFT_OFFLINE are refused",
        ),
        OpSpec("mlock", (_addr(), _len()), "addr", "mlock(addr, len)"),
        OpSpec(
            "mlock2",
            (
                _addr(),
                _len(),
                FieldSpec("flags", "flags", required=False, default=0, table="MLOCK"),
            ),
            "addr",
            "mlock2(addr, len, flags)",
        ),
        OpSpec("munlock", (_addr(), _len()), "addr", "munlock(addr, len)"),
        OpSpec("mlockall", (FieldSpec("flags", "flags", table="MCL"),), None, "mlockall(flags)"),
        OpSpec("munlockall", (), None, "munlockall()"),
        OpSpec(
            "set_vma_anon_name",
            (
                _addr(),
                _len(),
                FieldSpec("name", "name", doc="the name, or null to clear it"),
            ),
            "addr",
            "prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name)",
        ),
        OpSpec(
            "mseal",
            (_addr(), _len(), _int("flags", "must be 0", 0)),
            "addr",
            "mseal(addr, len, flags) (syscall 462; -ENOSYS where the kernel lacks it)",
        ),
        OpSpec(
            "touch",
            (
                _addr("the byte to access"),
                FieldSpec(
                    "access", "choice", required=False, default="write", choices=("read", "write")
                ),
            ),
            "addr",
            "read or write one byte; 0, or -EFAULT for SIGSEGV and -EIO for SIGBUS",
        ),
        OpSpec(
            "truncate",
            (FieldSpec("file", "file"), _int("size", "new size in bytes")),
            None,
            "ftruncate(file's O_RDWR descriptor, size)",
        ),
        OpSpec(
            "fork",
            (),
            None,
            "fork(); the script carries on in the child (the parent waits); returns 0",
        ),
        # -- trace-only events (docs/trace.md) ----------------------------------------
        OpSpec(
            "open",
            (
                _int("fd", "the descriptor the call returned"),
                FieldSpec("path", "name", doc="what /proc/PID/fd/N names (maps prints it)"),
                FieldSpec("dev", "name", doc='the device as maps prints it, "fe:00"'),
                _int("inode", "the inode number"),
                _int("size", "the file size when opened"),
                FieldSpec("access", "choice", choices=("r", "w", "rw"), doc="O_ACCMODE"),
                FieldSpec("fs", "name", required=False, doc="filesystem type (ext4, tmpfs..)"),
            ),
            None,
            "a descriptor was opened (open, openat, creat, memfd_create, ...)",
            trace_only=True,
        ),
        OpSpec("close", (_int("fd", "the descriptor"),), None, "close(fd)", trace_only=True),
        OpSpec(
            "dup",
            (_int("fd", "the old descriptor"), _int("newfd", "the new one")),
            None,
            "dup/dup2/dup3/fcntl(F_DUPFD): newfd refers to the same open file",
            trace_only=True,
        ),
        OpSpec(
            "clone",
            (
                _int("child", "the new process (the trace's process number)"),
                _int("flags", "the clone flags (CLONE_VM: shares the address space)"),
            ),
            None,
            "fork/vfork/clone of a new process; without CLONE_VM it gets a copy of the mm",
            trace_only=True,
        ),
        OpSpec(
            "exec",
            (
                FieldSpec("path", "name", doc="the program (/proc/PID/exe)"),
                _int("start_code", "mm->start_code", 0),
                _int("end_code", "mm->end_code", 0),
                _int("start_data", "mm->start_data", 0),
                _int("end_data", "mm->end_data", 0),
                _int("start_brk", "mm->start_brk"),
                _int("brk", "mm->brk (equal to start_brk after exec)"),
                _int("start_stack", "mm->start_stack", 0),
            ),
            None,
            "execve succeeded: a new address space, given by the step's snapshot",
            trace_only=True,
        ),
        OpSpec(
            "exit",
            (_int("code", "exit status, or -signal"),),
            None,
            "the process ended; the step's snapshot is its final address space",
            trace_only=True,
        ),
        OpSpec(
            "syscall",
            (
                _int("nr", "x86_64 system call number"),
                _int("a0", "argument", 0),
                _int("a1", "argument", 0),
                _int("a2", "argument", 0),
                _int("a3", "argument", 0),
                _int("a4", "argument", 0),
                _int("a5", "argument", 0),
            ),
            None,
            "a memory system call the model does not perform (shmat, shmdt, ...)",
            trace_only=True,
        ),
        OpSpec(
            "repeat",
            (
                _int("count", "how many times to run the body"),
                _int("stride", "added to the body's address field after each run", 0),
                FieldSpec("body", "body", doc="one operation (not a repeat)"),
            ),
            None,
            "run body count times, advancing its address by stride; one step in the recording",
        ),
    )
}

SNAPSHOT_MODES = ("full", "maps", "count", "none")
