"""Read the live kernel's own maple tree of a process's address space (``mm->mm_mt``).

Public API::

    kernel_tree_available() -> str | None     # None if usable, else the reason it is not
    read_mm_tree(pid) -> KernelTree           # the VMA tree, node by node
    format_kernel_tree(tree) -> str           # readable indented dump
    proc_maps_ranges(pid) -> list[(start, end)]  # /proc/PID/maps, for cross-checks

How: an eBPF program (hand-assembled, loaded with the raw bpf(2) syscall, attached to a
syscall tracepoint) copies kernel memory on request (:mod:`maplevm.kernel.bpf_reader`);
struct offsets come from /sys/kernel/btf/vmlinux (:mod:`maplevm.kernel.ktree_btf`); the
target's task is found on the kernel's task list (:mod:`maplevm.kernel.ktree_tasks`); the
nodes are decoded by :mod:`maplevm.kernel.ktree_walk`.  See docs/kernel-tree-reader.md.

Nodes are freed through RCU, so the target must not change its address space while it is
read (stop it, or read a process that is blocked); :func:`read_mm_tree` walks the tree
until two walks in a row agree.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from maplevm.kernel import bpf_sys
from maplevm.kernel.bpf_reader import KernelMemory, KernelReadError, find_tracefs, tracepoint_info
from maplevm.kernel.ktree_btf import VMLINUX_BTF, BtfError
from maplevm.kernel.ktree_format import format_kernel_tree
from maplevm.kernel.ktree_layout import kernel_layout
from maplevm.kernel.ktree_tasks import find_task
from maplevm.kernel.ktree_walk import KernelNode, KernelTree, KernelTreeError, walk_tree

__all__ = [
    "KernelNode",
    "KernelTree",
    "KernelTreeError",
    "format_kernel_tree",
    "kernel_tree_available",
    "proc_maps_ranges",
    "read_mm_tree",
]

CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39


def _effective_caps() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _privilege_problem() -> str | None:
    caps = _effective_caps()
    if caps >> CAP_SYS_ADMIN & 1:
        return None
    if caps >> CAP_BPF & 1 and caps >> CAP_PERFMON & 1:
        return None
    who = "not root" if os.geteuid() != 0 else "root without the needed capabilities"
    return f"{who}: reading kernel memory with BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"


def kernel_tree_available() -> str | None:
    """None when :func:`read_mm_tree` can work here, else the precise reason why not.

    Goes as far as loading the program and reading the caller's own task back, so a
    kernel that loads BPF but forbids reading its memory (lockdown) is caught too.
    """
    if platform.system() != "Linux":
        return f"not Linux ({platform.system()})"
    try:
        bpf_sys.syscall_numbers()
    except OSError as exc:
        return str(exc)
    if not VMLINUX_BTF.exists():
        return f"no kernel BTF at {VMLINUX_BTF} (kernel built without CONFIG_DEBUG_INFO_BTF)"
    problem = _privilege_problem()
    if problem is not None:
        return problem
    try:
        lay = kernel_layout()
    except BtfError as exc:
        return f"kernel BTF unusable: {exc}"
    try:
        tracepoint_info(find_tracefs())
    except KernelReadError as exc:
        return str(exc)
    try:
        with KernelMemory() as km:
            me = km.current_task()
            tgid_raw = km.read_one(me + lay.task_tgid)
    except bpf_sys.BpfSysError as exc:
        detail = f" (verifier: {exc.log.strip().splitlines()[-1]})" if exc.log.strip() else ""
        return f"{exc.strerror}{detail}"
    except (KernelReadError, OSError) as exc:
        return f"BPF kernel-memory reader failed: {exc}"
    tgid: int = struct.unpack_from("<i", tgid_raw)[0]
    if tgid <= 0:
        return f"BPF probe read returned a bad tgid {tgid} for the reader's own task"
    return None


def read_mm_tree(pid: int, *, attempts: int = 5, stop: bool = False) -> KernelTree:
    """The maple tree of ``pid``'s address space as the kernel holds it.

    Walks the tree until two consecutive walks give identical results (same nodes at the
    same addresses with the same contents), which is only expected when the target is
    not changing its mappings; raises :class:`KernelTreeError` after ``attempts`` walks
    without agreement, and ProcessLookupError for an unknown or kernel-thread PID.

    With ``stop=True`` a running target is stopped with SIGSTOP for the read and continued
    afterwards (a target that was already stopped is left stopped).
    """
    if not stop:
        return _read_mm_tree(pid, attempts)
    with _stopped(pid):
        return _read_mm_tree(pid, attempts)


def _read_mm_tree(pid: int, attempts: int) -> KernelTree:
    lay = kernel_layout()
    with KernelMemory() as km:
        task = find_task(km, lay, pid)
        if task.mm == 0:
            raise ProcessLookupError(f"process {pid} has no address space (kernel thread?)")
        previous: KernelTree | None = None
        last_error: Exception | None = None
        for _ in range(max(attempts, 2)):
            try:
                tree = walk_tree(km, lay, task.mm, pid)
            except (KernelTreeError, KernelReadError) as exc:
                last_error, previous = exc, None
                continue
            if tree == previous:
                return tree
            previous = tree
    reason = f": {last_error}" if last_error is not None else ""
    raise KernelTreeError(
        f"the tree of process {pid} kept changing while read (stop it first){reason}"
    )


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError as exc:
        raise ProcessLookupError(f"no process {pid}: {exc.strerror}") from exc
    return stat.rsplit(")", 1)[1].split()[0]  # the comm field may contain spaces


@contextlib.contextmanager
def _stopped(pid: int, timeout: float = 5.0) -> Iterator[None]:
    if _state(pid) in ("T", "t"):
        yield
        return
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + timeout
        while _state(pid) not in ("T", "t"):
            if time.monotonic() > deadline:
                raise KernelTreeError(f"process {pid} did not stop within {timeout} s")
            time.sleep(0.001)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def proc_maps_ranges(pid: int) -> list[tuple[int, int]]:
    """(start, end) of each VMA in /proc/PID/maps, minus [vsyscall] (not in the mm tree)."""
    out: list[tuple[int, int]] = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        if fields[-1] == "[vsyscall]":
            continue
        start, end = fields[0].split("-")
        out.append((int(start, 16), int(end, 16)))
    return out
