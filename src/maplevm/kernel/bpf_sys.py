"""Raw ``bpf(2)`` and ``perf_event_open(2)`` calls through ctypes (no libbpf).

Only the commands the kernel-memory reader needs: create an array map, load a program,
open a tracepoint perf event and attach the program to it.  Attribute blocks are laid out
as in include/uapi/linux/bpf.h and perf_event.h; unused trailing bytes stay zero, which the
kernel requires.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import platform
import struct

# (bpf, perf_event_open) syscall numbers per architecture.
_SYSCALL_NRS: dict[str, tuple[int, int]] = {
    "x86_64": (321, 298),
    "aarch64": (280, 241),
}

BPF_MAP_CREATE = 0
BPF_PROG_LOAD = 5
BPF_MAP_TYPE_ARRAY = 2
BPF_F_MMAPABLE = 1 << 10
BPF_PROG_TYPE_TRACEPOINT = 5

PERF_TYPE_TRACEPOINT = 2
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408  # _IOW('$', 8, __u32)

_ATTR_SIZE = 128  # bytes handed to bpf(2); larger than any field used, zero-filled

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfSysError(OSError):
    """A bpf()/perf_event_open() call failed; ``errno`` is set, ``log`` has verifier output."""

    def __init__(self, errno_: int, what: str, log: str = "") -> None:
        super().__init__(errno_, f"{what}: {os.strerror(errno_)}")
        self.log = log


def syscall_numbers() -> tuple[int, int]:
    machine = platform.machine()
    if machine not in _SYSCALL_NRS:
        raise OSError(f"unsupported architecture {machine!r} (known: {sorted(_SYSCALL_NRS)})")
    return _SYSCALL_NRS[machine]


def raw_syscall(nr: int, *args: int) -> int:
    """Call syscall ``nr``; returns the result or -errno (ctypes keeps errno for us)."""
    cargs = [ctypes.c_long(a) for a in args]
    ctypes.set_errno(0)
    ret = int(_libc.syscall(ctypes.c_long(nr), *cargs))
    return -ctypes.get_errno() if ret == -1 else ret


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    nr_bpf, _ = syscall_numbers()
    ret = raw_syscall(nr_bpf, cmd, ctypes.addressof(attr), len(attr))
    if ret < 0:
        raise BpfSysError(-ret, what)
    return ret


def map_create_array(value_size: int, max_entries: int = 1, *, mmapable: bool = True) -> int:
    """An array map with u32 keys; returns its fd."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    flags = BPF_F_MMAPABLE if mmapable else 0
    struct.pack_into("<IIIII", attr, 0, BPF_MAP_TYPE_ARRAY, 4, value_size, max_entries, flags)
    struct.pack_into("16s", attr, 28, b"maplevm_rd")  # map_name, for bpftool listings
    return _bpf(BPF_MAP_CREATE, attr, "bpf(BPF_MAP_CREATE)")


def prog_load(insns: bytes, prog_type: int, license_: str = "GPL", name: str = "maplevm_rd") -> int:
    """Load a program; on rejection retry with the verifier log and raise it."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license_.encode())
    try:
        return _prog_load(code, len(insns) // 8, prog_type, lic, name, None)
    except BpfSysError as exc:
        if exc.errno != 13 and exc.errno != 22:  # EACCES/EINVAL come with a verifier log
            raise
        log = ctypes.create_string_buffer(1 << 16)
        try:
            _prog_load(code, len(insns) // 8, prog_type, lic, name, log)
        except BpfSysError as again:
            again.log = log.value.decode("utf-8", "replace")
            raise again from exc
        raise


def _prog_load(
    code: ctypes.Array[ctypes.c_char],
    insn_cnt: int,
    prog_type: int,
    lic: ctypes.Array[ctypes.c_char],
    name: str,
    log: ctypes.Array[ctypes.c_char] | None,
) -> int:
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(
        "<IIQQIIQ",
        attr,
        0,
        prog_type,
        insn_cnt,
        ctypes.addressof(code),
        ctypes.addressof(lic),
        1 if log is not None else 0,
        len(log) if log is not None else 0,
        ctypes.addressof(log) if log is not None else 0,
    )
    struct.pack_into("16s", attr, 48, name.encode()[:15])  # prog_name
    return _bpf(BPF_PROG_LOAD, attr, "bpf(BPF_PROG_LOAD)")


def perf_tracepoint_open(tracepoint_id: int) -> int:
    """A perf event on a tracepoint, bound to the calling thread, any CPU; returns its fd.

    The binding hardly matters: a program attached through it runs for every task that
    hits the tracepoint (the kernel keeps the program list on the tracepoint itself), which
    is why the program filters its callers.
    """
    _, nr_perf = syscall_numbers()
    attr = ctypes.create_string_buffer(64)  # PERF_ATTR_SIZE_VER0
    # type, size, config, sample_period, sample_type, read_format, flags, wakeup_events
    struct.pack_into("<IIQQQQQI", attr, 0, PERF_TYPE_TRACEPOINT, 64, tracepoint_id, 1, 0, 0, 0, 1)
    ret = raw_syscall(nr_perf, ctypes.addressof(attr), 0, -1, -1, PERF_FLAG_FD_CLOEXEC)
    if ret < 0:
        raise BpfSysError(-ret, "perf_event_open(tracepoint)")
    return ret


def perf_attach_bpf(perf_fd: int, prog_fd: int) -> None:
    try:
        fcntl.ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog_fd)
        fcntl.ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0)
    except OSError as exc:
        raise BpfSysError(exc.errno or 0, "ioctl(PERF_EVENT_IOC_SET_BPF)") from exc
