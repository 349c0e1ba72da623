"""Find any process's ``task_struct`` and ``mm_struct`` by PID, without its cooperation.

The kernel keeps every thread-group leader on one circular list (``task_struct.tasks``,
headed by init_task).  ``init_task`` itself is not in /proc/kallsyms on kernels built
without CONFIG_KALLSYMS_ALL, but the list is circular, so the walk starts from the reader's
own task (``bpf_get_current_task``) and follows ``tasks.next`` until it comes back.  New
processes are appended at the tail, i.e. just before init_task, so a child started after
the reader is reached after the older processes that follow the reader.

PIDs are compared in the reader's PID namespace: ``task->thread_pid->numbers[level]`` holds
the number at each namespace level, so this works inside containers too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from maplevm.kernel.bpf_reader import KernelMemory, KernelReadError
from maplevm.kernel.ktree_layout import KernelLayout

MAX_TASKS = 1 << 20  # a bound on the walk in case a list pointer is read mid-update


@dataclass(frozen=True)
class _PidView:
    level: int  # namespace level of the reader
    ns: int  # address of the reader's struct pid_namespace


def _u64(buf: bytes, off: int = 0) -> int:
    value: int = struct.unpack_from("<Q", buf, off)[0]
    return value


def _u32(buf: bytes, off: int = 0) -> int:
    value: int = struct.unpack_from("<I", buf, off)[0]
    return value


def _pid_in_view(km: KernelMemory, lay: KernelLayout, pid_struct: int, view: _PidView) -> int:
    """The number of ``struct pid`` at ``pid_struct`` as seen from ``view`` (-1: not visible)."""
    level = _u32(km.read_one(pid_struct + lay.pid_level))
    if level < view.level:
        return -1
    upid = km.read_one(pid_struct + lay.pid_numbers + lay.upid_size * view.level)
    if _u64(upid, lay.upid_ns) != view.ns:
        return -1
    nr: int = struct.unpack_from("<i", upid, lay.upid_nr)[0]
    return nr


def _my_view(km: KernelMemory, lay: KernelLayout, me: int) -> _PidView:
    pid_struct = _u64(km.read_one(me + lay.task_thread_pid))
    level = _u32(km.read_one(pid_struct + lay.pid_level))
    upid = km.read_one(pid_struct + lay.pid_numbers + lay.upid_size * level)
    return _PidView(level, _u64(upid, lay.upid_ns))


def thread_group_of(pid: int) -> int:
    """The tgid of ``pid`` (itself for a process, its leader for a thread)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise ProcessLookupError(f"no process {pid}: {exc.strerror}") from exc
    for line in status.splitlines():
        if line.startswith("Tgid:"):
            return int(line.split()[1])
    return pid


@dataclass(frozen=True)
class TaskRef:
    task: int  # address of the task_struct
    mm: int  # address of its mm_struct (0 for kernel threads)


def find_task(km: KernelMemory, lay: KernelLayout, pid: int) -> TaskRef:
    """Locate the thread-group leader with (namespace-local) ``pid`` on the task list."""
    tgid = thread_group_of(pid)
    me = km.current_task()
    view = _my_view(km, lay, me)
    if _pid_in_view(km, lay, _u64(km.read_one(me + lay.task_thread_pid)), view) < 0:
        raise KernelReadError("cannot read the reader's own PID from the kernel")
    task = me
    for _ in range(MAX_TASKS):
        # One trigger for the fields needed per task: next link, tgid/pid, mm.
        link, tgid_buf, pid_buf, mm_buf = km.read(
            [
                task + lay.task_tasks + lay.list_next,
                task + lay.task_tgid,
                task + lay.task_thread_pid,
                task + lay.task_mm,
            ]
        )
        pid_struct = _u64(pid_buf)
        global_tgid: int = struct.unpack_from("<i", tgid_buf)[0]
        # In the initial namespace the global tgid is our PID, which skips the struct pid
        # reads for every other task; elsewhere each task's PID is mapped into our view.
        candidate = global_tgid == tgid if view.level == 0 else True
        if pid_struct and candidate and _pid_in_view(km, lay, pid_struct, view) == tgid:
            return TaskRef(task, _u64(mm_buf))
        nxt = _u64(link) - lay.task_tasks
        if nxt == me:
            break
        task = nxt
    raise ProcessLookupError(f"process {pid} not found on the kernel's task list")
