"""Read kernel memory from Python with a tiny eBPF program (no kcore, no kprobes needed).

How it works:

* One BPF array map holds a single value used as a mailbox (``BPF_F_MMAPABLE``, so Python
  reads and writes it through ``mmap`` with no extra syscalls)::

      0   cookie     the trigger's argument that identifies this reader
      8   tgid       requesting process's global tgid (0 until learned, see below)
      16  task       out: bpf_get_current_task() of the triggering thread
      24  hits       out: incremented on every matching trigger
      32  pid_tgid   out: bpf_get_current_pid_tgid() of the triggering thread
      40  addr[K]    kernel addresses to copy (0 = unused slot)
      ..  rc[K]      out: bpf_probe_read_kernel() return value per slot
      ..  buf[K]     out: CHUNK bytes copied from each address

* A hand-assembled BPF_PROG_TYPE_TRACEPOINT program is attached to the syscall tracepoint
  ``syscalls/sys_enter_sched_get_priority_max`` through perf_event_open + SET_BPF.  That
  syscall is cheap, almost never used, and fails harmlessly for a bad ``policy``.  The
  program runs for every caller, so it only acts when the call's argument equals the
  mailbox cookie and the caller's tgid matches, then copies each requested address with
  bpf_probe_read_kernel (helper 113) into the mailbox.  The tgid it compares with is the
  kernel's global one, which differs from ``os.getpid()`` inside a PID namespace, so the
  first trigger runs with the filter off (cookie only) and records the caller's tgid.
* Python fills ``addr[]``, makes the syscall with the cookie as ``policy``, and reads the
  results back: one syscall per K reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import platform
import re
import secrets
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from maplevm.kernel import bpf_sys
from maplevm.kernel.bpf_asm import (
    HELPER_GET_CURRENT_PID_TGID,
    HELPER_GET_CURRENT_TASK,
    HELPER_MAP_LOOKUP_ELEM,
    HELPER_PROBE_READ_KERNEL,
    R0,
    R1,
    R2,
    R3,
    R6,
    R7,
    R8,
    R10,
    Assembler,
)

CHUNK = 256  # bytes per read: one maple node
BATCH = 16  # reads per trigger: one leaf's worth of VMA pointers

TRIGGER_SYSCALL = "sched_get_priority_max"
_TRIGGER_NRS = {"x86_64": 146, "aarch64": 125}

_OFF_COOKIE, _OFF_TGID, _OFF_TASK, _OFF_HITS, _OFF_PID_TGID, _OFF_ADDR = 0, 8, 16, 24, 32, 40
_OFF_RC = _OFF_ADDR + 8 * BATCH
_OFF_BUF = _OFF_RC + 8 * BATCH
VALUE_SIZE = _OFF_BUF + CHUNK * BATCH

TRACEFS_CANDIDATES = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))


class KernelReadError(Exception):
    """Kernel memory could not be read (setup failed, or a probe read faulted)."""


# -- tracefs --------------------------------------------------------------------------------


def _mounted_tracefs() -> Path | None:
    try:
        mounts = Path("/proc/mounts").read_text()
    except OSError:
        return None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "tracefs":
            return Path(fields[1].replace("\\040", " "))
    return None


def find_tracefs(mount_if_needed: bool = True) -> Path:
    """The tracefs mount point, mounting it at /sys/kernel/tracing when nothing is mounted."""
    found = _mounted_tracefs()
    if found is not None and (found / "events").is_dir():
        return found
    for cand in TRACEFS_CANDIDATES:
        if (cand / "events").is_dir():  # e.g. debugfs's automount of tracefs
            return cand
    if not mount_if_needed:
        raise KernelReadError("tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)")
    target = TRACEFS_CANDIDATES[0]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"nodev", str(target).encode(), b"tracefs", 0, None) != 0:
        err = ctypes.get_errno()
        raise KernelReadError(f"cannot mount tracefs on {target}: {os.strerror(err)}")
    return target


def tracepoint_info(tracefs: Path, syscall: str = TRIGGER_SYSCALL) -> tuple[int, int]:
    """(tracepoint id, byte offset of the first syscall argument in the program context)."""
    event = tracefs / "events" / "syscalls" / f"sys_enter_{syscall}"
    try:
        tp_id = int((event / "id").read_text())
        fmt = (event / "format").read_text()
    except OSError as exc:
        raise KernelReadError(f"no syscall tracepoint {event}: {exc.strerror}") from exc
    # The first field after __syscall_nr is the first argument; its offset is in the format.
    fields = re.findall(r"field:([^;]*);\s*offset:(\d+);\s*size:(\d+);", fmt)
    names = [f[0].split()[-1] for f in fields]
    if "__syscall_nr" not in names or names.index("__syscall_nr") + 1 >= len(names):
        raise KernelReadError(f"unexpected tracepoint format in {event / 'format'}")
    arg = fields[names.index("__syscall_nr") + 1]
    if int(arg[2]) != 8:
        raise KernelReadError(f"first argument of {event.name} is not 8 bytes wide")
    return tp_id, int(arg[1])


# -- the program ----------------------------------------------------------------------------


def build_program(map_fd: int, arg_offset: int) -> bytes:
    """Bytecode of the reader program (see the module docstring for the mailbox layout)."""
    a = Assembler()
    a.mov_reg(R6, R1)  # r6 = tracepoint context
    a.store32_imm(R10, -4, 0)  # key 0 on the stack
    a.mov_reg(R2, R10)
    a.add_imm(R2, -4)
    a.load_map_fd(R1, map_fd)
    a.call(HELPER_MAP_LOOKUP_ELEM)
    a.jeq_imm(R0, 0, "out")
    a.mov_reg(R8, R0)  # r8 = mailbox
    a.load64(R1, R6, arg_offset)  # the syscall's first argument
    a.load64(R2, R8, _OFF_COOKIE)
    a.jne_reg(R1, R2, "out")
    a.call(HELPER_GET_CURRENT_PID_TGID)
    a.store64(R8, _OFF_PID_TGID, R0)
    a.load64(R7, R8, _OFF_TGID)
    a.jeq_imm(R7, 0, "matched")  # filter not set yet: the cookie alone decides
    a.rsh_imm(R0, 32)
    a.jne_reg(R0, R7, "out")
    a.label("matched")
    a.call(HELPER_GET_CURRENT_TASK)
    a.store64(R8, _OFF_TASK, R0)
    a.load64(R1, R8, _OFF_HITS)
    a.add_imm(R1, 1)
    a.store64(R8, _OFF_HITS, R1)
    # Unrolled: the verifier then sees constant, in-bounds destinations for every copy.
    for i in range(BATCH):
        a.load64(R3, R8, _OFF_ADDR + 8 * i)
        a.jeq_imm(R3, 0, f"skip{i}")
        a.mov_reg(R1, R8)
        a.add_imm(R1, _OFF_BUF + CHUNK * i)
        a.mov_imm(R2, CHUNK)
        a.call(HELPER_PROBE_READ_KERNEL)
        a.store64(R8, _OFF_RC + 8 * i, R0)
        a.label(f"skip{i}")
    a.label("out")
    a.mov_imm(R0, 0)  # 0: do not also emit a perf sample
    a.exit()
    return a.assemble()


def _trigger_nr() -> int:
    machine = platform.machine()
    if machine not in _TRIGGER_NRS:
        raise KernelReadError(f"unsupported architecture {machine!r}")
    return _TRIGGER_NRS[machine]


class KernelMemory:
    """An open reader: ``read(addresses)`` returns CHUNK bytes from each kernel address.

    Use as a context manager; all descriptors are closed on exit.
    """

    def __init__(self, tracefs: Path | None = None) -> None:
        self._fds: list[int] = []
        self._mem: mmap.mmap | None = None
        self._lock = threading.Lock()
        # Low 32 bits negative: the kernel reads ``policy`` as an int and rejects it.
        self._cookie = (secrets.randbits(31) << 32) | 0x80000000 | secrets.randbits(31)
        self._trigger = _trigger_nr()
        try:
            self._open(tracefs if tracefs is not None else find_tracefs())
        except BaseException:
            self.close()
            raise

    def _open(self, tracefs: Path) -> None:
        tp_id, arg_offset = tracepoint_info(tracefs)
        map_fd = bpf_sys.map_create_array(VALUE_SIZE)
        self._fds.append(map_fd)
        length = mmap.PAGESIZE * -(-VALUE_SIZE // mmap.PAGESIZE)
        self._mem = mmap.mmap(map_fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        struct.pack_into("<QQ", self._mem, 0, self._cookie, 0)
        prog_fd = bpf_sys.prog_load(
            build_program(map_fd, arg_offset), bpf_sys.BPF_PROG_TYPE_TRACEPOINT
        )
        self._fds.append(prog_fd)
        perf_fd = bpf_sys.perf_tracepoint_open(tp_id)
        self._fds.append(perf_fd)
        bpf_sys.perf_attach_bpf(perf_fd, prog_fd)
        # Learn our global tgid from the kernel, then let the program filter on it.
        self._fire([])
        tgid = struct.unpack_from("<Q", self._mem, _OFF_PID_TGID)[0] >> 32
        struct.pack_into("<Q", self._mem, _OFF_TGID, tgid)

    def close(self) -> None:
        if self._mem is not None:
            self._mem.close()
            self._mem = None
        for fd in reversed(self._fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> KernelMemory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _fire(self, addrs: Sequence[int]) -> list[bytes]:
        mem = self._mem
        if mem is None:
            raise KernelReadError("reader is closed")
        struct.pack_into(f"<{BATCH}Q", mem, _OFF_ADDR, *addrs, *([0] * (BATCH - len(addrs))))
        struct.pack_into(f"<{BATCH}q", mem, _OFF_RC, *([1] * BATCH))
        hits_before = struct.unpack_from("<Q", mem, _OFF_HITS)[0]
        bpf_sys.raw_syscall(self._trigger, self._cookie)
        if struct.unpack_from("<Q", mem, _OFF_HITS)[0] == hits_before:
            raise KernelReadError(
                f"the BPF program did not run on sys_enter_{TRIGGER_SYSCALL} "
                "(tracepoint not firing for this process?)"
            )
        rcs = struct.unpack_from(f"<{BATCH}q", mem, _OFF_RC)
        out: list[bytes] = []
        for i, addr in enumerate(addrs):
            if rcs[i] != 0:
                raise KernelReadError(
                    f"bpf_probe_read_kernel({addr:#x}) failed: {_errname(-rcs[i])}"
                )
            start = _OFF_BUF + CHUNK * i
            out.append(bytes(mem[start : start + CHUNK]))
        return out

    def read(self, addrs: Sequence[int]) -> list[bytes]:
        """CHUNK bytes from each address (in order); raises KernelReadError on a fault."""
        for addr in addrs:
            if addr == 0:
                raise KernelReadError("attempt to read kernel address 0")
        out: list[bytes] = []
        with self._lock:
            for start in range(0, len(addrs), BATCH):
                out.extend(self._fire(addrs[start : start + BATCH]))
        return out

    def read_one(self, addr: int) -> bytes:
        return self.read([addr])[0]

    def read_u64(self, addr: int) -> int:
        value: int = struct.unpack_from("<Q", self.read_one(addr))[0]
        return value

    def current_task(self) -> int:
        """Address of the calling thread's task_struct (as seen by the program)."""
        mem = self._mem
        if mem is None:
            raise KernelReadError("reader is closed")
        with self._lock:
            self._fire([])
            task: int = struct.unpack_from("<Q", mem, _OFF_TASK)[0]
        return task


def _errname(err: int) -> str:
    try:
        return f"{os.strerror(err)} (errno {err})"
    except ValueError:
        return f"error {err}"
