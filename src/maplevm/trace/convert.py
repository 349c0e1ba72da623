"""From the tracer's events to a :class:`~maplevm.trace.format.Trace`.

The converter keeps what the events imply but do not repeat: which process each thread
belongs to, which address space and file table each process uses (threads share both, a
vfork child shares the mm but not the files, a fork child copies both), the kernel's maps of
every address space (from the exec/fork snapshots and the deltas), and each file table.  From
that it writes steps in the order the kernel performed them, numbering processes and threads
1, 2, ... in order of appearance so that traces do not depend on real pids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from maplevm import sysinfo
from maplevm.scenario.flags import MAP as MAP_FLAGS
from maplevm.trace import events as ev
from maplevm.trace.events import Edit, VmaLine, parse_smaps_vmas
from maplevm.trace.format import Args, Trace, TraceStep
from maplevm.trace.syscalls import (
    CLONE_FILES,
    CLONE_THREAD,
    CLONE_VM,
    CLOSE_RANGE_CLOEXEC,
    DUPS_FD,
    NAME,
    OPENS_FD,
    c_int,
    mm_op,
)

MAP_ANONYMOUS = MAP_FLAGS["MAP_ANONYMOUS"]
# statfs f_type -> filesystem name (include/uapi/linux/magic.h); ext2/3 are ext4's driver.
FS_MAGIC: dict[int, str] = {
    0xEF53: "ext4",
    0x01021994: "tmpfs",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x794C7630: "overlay",
    0x9FA0: "proc",
    0x62656572: "sysfs",
    0x858458F6: "ramfs",
    0x65735546: "fuse",
    0x6969: "nfs",
    0x73717368: "squashfs",
    0xE0F5E1E2: "erofs",
    0xCA451A4E: "bcachefs",
    0x958458F6: "hugetlbfs",
    0x09041934: "anon_inode",
    0x1CD1: "devpts",
    0x64626720: "debugfs",
    0xCAFE4A11: "bpf",
    0x27E0EB: "cgroup",
    0x63677270: "cgroup2",
    0x534F434B: "sockfs",
    0x50495045: "pipefs",
}
ACCESS = {0: "r", 1: "w", 2: "rw"}


@dataclass
class FileInfo:
    dev: str
    inode: int
    size: int
    path: str
    ofd: int | None = None  # the tracer's open-file id, when it tells open files apart


def parse_limits(text: str) -> dict[str, dict[str, int | str]]:
    """/proc/PID/limits text -> {"STACK": {"soft": .., "hard": ..}, ...}."""
    out: dict[str, dict[str, int | str]] = {}
    rows = text.splitlines()
    for name, title in sysinfo.LIMIT_ROWS.items():
        for row in rows:
            if row.startswith(title):
                soft, hard = row[len(title) :].split()[:2]
                out[name] = {
                    "soft": soft if soft == "unlimited" else int(soft),
                    "hard": hard if hard == "unlimited" else int(hard),
                }
    return out


def parse_stat_layout(text: str) -> dict[str, int]:
    """/proc/PID/stat -> start_code, end_code, start_stack, start_data, ..., start_brk."""
    fields = text.rsplit(")", 1)[-1].split()
    out: dict[str, int] = {}
    for name, k in sysinfo.STAT_FIELDS.items():
        if k - 3 < len(fields):
            out[name] = int(fields[k - 3])
    return out


def parse_status(text: str, keys: tuple[str, ...] = ("CapEff",)) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            out[key] = value.strip()
    return out


def process_facts(blobs: dict[str, str]) -> dict[str, Any]:
    """The facts of one exec that change mm behaviour: rlimits, personality, caps, layout."""
    layout = parse_stat_layout(blobs.get("stat", ""))
    layout["brk"] = layout.get("start_brk", 0)
    return {
        "rlimits": parse_limits(blobs.get("limits", "")),
        "personality": blobs.get("personality", "").strip(),
        "capabilities": parse_status(blobs.get("status", "")),
        "layout": layout,
    }


class Converter:
    """Feed it events in order (:meth:`feed`), then :meth:`finish` gives the trace."""

    def __init__(self, command: list[str], env: dict[str, Any], info: dict[str, Any]) -> None:
        self.command = command
        self.env = env
        self.info = dict(info)
        self.steps: list[TraceStep] = []
        self.initial: list[VmaLine] | None = None
        self.warnings: list[str] = []
        self.pids: dict[int, int] = {}  # real tgid -> process number
        self.tids: dict[int, int] = {}  # real tid -> thread number
        self.task_proc: dict[int, int] = {}  # real tid -> process number
        self.leader: dict[int, int] = {}  # process number -> real tid of its leader
        self.proc_mm: dict[int, int] = {}
        self.proc_files: dict[int, int] = {}
        self.mm_state: dict[int, dict[int, VmaLine]] = {}
        self.pending: dict[int, list[Edit]] = {}
        self.files: dict[int, dict[int, FileInfo]] = {}
        self.fdinfo: dict[int, ev.FdInfo] = {}
        self.strarg: dict[int, str] = {}
        self.pending_open: dict[int, tuple[int, int]] = {}  # tid -> (fd, step position)
        self.exit_step: dict[int, TraceStep] = {}
        self.fork_step: dict[int, TraceStep] = {}
        self._next_mm = 0
        self._next_files = 0
        self.root_exit: int | None = None

    # -- numbering ----------------------------------------------------------------------

    def _new_mm(self, state: dict[int, VmaLine] | None = None) -> int:
        self._next_mm += 1
        self.mm_state[self._next_mm] = dict(state or {})
        return self._next_mm

    def _new_files(self, table: dict[int, FileInfo] | None = None) -> int:
        self._next_files += 1
        self.files[self._next_files] = dict(table or {})
        return self._next_files

    def _thread(self, tid: int) -> int:
        return self.tids.setdefault(tid, len(self.tids) + 1)

    def _new_process(self, tid: int) -> int:
        p = len(self.pids) + 1
        self.pids[tid] = p
        self.task_proc[tid] = p
        self.leader[p] = tid
        self._thread(tid)
        return p

    def _step(self, tid: int, kind: str, args: Args, ret: int, **extra: Any) -> TraceStep:
        step = TraceStep(
            index=len(self.steps),
            pid=self.task_proc[tid],
            tid=self._thread(tid),
            kind=kind,
            args=args,
            ret=ret,
            **extra,
        )
        self.steps.append(step)
        return step

    def _take_pending(self, mm: int | None) -> list[Edit] | None:
        """The maps changes seen since the last step of this mm: None when the tracer took
        no snapshot (brk(0) only asks), [] when it did and nothing changed."""
        if mm is None:
            return None
        return self.pending.pop(mm, None)

    def _table(self, tid: int) -> dict[int, FileInfo]:
        p = self.task_proc[tid]
        if p not in self.proc_files:
            self.proc_files[p] = self._new_files()
        return self.files[self.proc_files[p]]

    # -- events -------------------------------------------------------------------------

    def feed(self, event: ev.Event) -> None:
        if isinstance(event, ev.Syscall):
            self._syscall(event)
        elif isinstance(event, ev.Delta):
            self._delta(event)
        elif isinstance(event, ev.FdInfo):
            self._fdinfo(event)
        elif isinstance(event, ev.FdClosed):
            self._fd_closed(event)
        elif isinstance(event, ev.FileIdentity):
            # how the trace knows which open file a descriptor is (docs/trace.md)
            self.info["open_files"] = "kcmp" if event.enabled else "closes traced"
        elif isinstance(event, ev.StrArg):
            self.strarg[event.tid] = event.value
        elif isinstance(event, ev.NewTask):
            self._new_task(event)
        elif isinstance(event, ev.Exec):
            self._exec(event)
        elif isinstance(event, ev.Blob):
            self._blob(event)
        elif isinstance(event, ev.Final):
            self._final(event)
        elif isinstance(event, ev.Gone):
            self._gone(event)
        elif isinstance(event, ev.Root):
            self._new_process(event.tid)
        elif isinstance(event, ev.Warning):
            self.warnings.append(event.text)

    def feed_all(self, events: Iterable[ev.Event]) -> Converter:
        for e in events:
            self.feed(e)
        return self

    def _delta(self, e: ev.Delta) -> None:
        p = self.task_proc.get(e.tid)
        if p is None or p not in self.proc_mm:
            return
        mm = self.proc_mm[p]
        state = self.mm_state[mm]
        for edit in e.edits:
            if isinstance(edit, int):
                state.pop(edit, None)
            else:
                state[edit.start] = edit
        self.pending.setdefault(mm, []).extend(e.edits)

    def _fdinfo(self, e: ev.FdInfo) -> None:
        if e.tid not in self.task_proc:
            return
        opened = self.pending_open.get(e.tid)
        if opened is not None and opened[0] == e.fd:
            del self.pending_open[e.tid]
            self._open_step(e.tid, e, opened[1])
            return
        self.fdinfo[e.tid] = e

    def _open_step(self, tid: int, info: ev.FdInfo, position: int | None = None) -> None:
        fs = FS_MAGIC.get(info.fs_magic, hex(info.fs_magic))
        args: Args = {
            "fd": info.fd,
            "path": info.path[:1000],
            "dev": info.dev,
            "inode": info.inode,
            "size": info.size,
            "access": ACCESS.get(info.flags & 3, "rw") if info.flags >= 0 else "rw",
            "fs": fs,
        }
        self._table(tid)[info.fd] = FileInfo(info.dev, info.inode, info.size, info.path, info.ofd)
        step = self._step(tid, "open", args, info.fd)
        if position is not None and position != step.index:
            # keep the order of events: the open happened before what followed its return
            self.steps.pop()
            self.steps.insert(position, step)
            for i, s in enumerate(self.steps[position:], start=position):
                s.index = i

    def _flush_open(self, tid: int) -> None:
        """An open whose fd information never came: record it with what is known."""
        opened = self.pending_open.pop(tid, None)
        if opened is not None:
            info = ev.FdInfo("I", tid, opened[0], "00:00", 0, 0, 0, 2, 0, "?")
            self._open_step(tid, info, opened[1])

    def _syscall(self, e: ev.Syscall) -> None:
        tid = e.tid
        p = self.task_proc.get(tid)
        if p is None:
            return
        self._flush_open(tid)
        name = NAME.get(e.nr, "")
        table = self._table(tid)
        if name in OPENS_FD:
            if e.ret >= 0:
                self.pending_open[tid] = (e.ret, len(self.steps))
            return
        if name == "close":
            if e.ret == 0:
                fd = c_int(e.args[0])
                table.pop(fd, None)
                self._step(tid, "close", {"fd": fd}, 0)
            return
        if name == "close_range":
            if e.ret == 0 and not e.args[2] & CLOSE_RANGE_CLOEXEC:
                lo, hi = e.args[0] & 0xFFFFFFFF, e.args[1] & 0xFFFFFFFF
                for fd in sorted(fd for fd in table if lo <= fd <= hi):
                    del table[fd]
                    self._step(tid, "close", {"fd": fd}, 0, note="close_range")
            return
        if name in DUPS_FD:
            info = self.fdinfo.pop(tid, None)
            if e.ret >= 0:
                old = c_int(e.args[0])
                if info is not None and info.fd == old:
                    self._known(tid, info)
                if old in table:
                    table[e.ret] = table[old]
                else:
                    table.pop(e.ret, None)
                self._step(tid, "dup", {"fd": old, "newfd": e.ret}, e.ret)
            return
        op = mm_op(name, e.args, self.strarg.pop(tid, None))
        if op is None:
            return
        kind, args = op
        mm = self.proc_mm.get(p)
        fsize: int | None = None
        if kind == "mmap" and not int(args["flags"] or 0) & MAP_ANONYMOUS:
            fsize = self._mmap_file(tid, int(args["fd"] or 0))
        self._step(tid, kind, args, e.ret, before=self._take_pending(mm), fsize=fsize)

    def _mmap_file(self, tid: int, fd: int) -> int | None:
        """Makes sure the file table knows what fd is; returns its size if it changed."""
        info = self.fdinfo.pop(tid, None)
        if info is None or info.fd != fd:
            return None
        known = self._known(tid, info)
        if known is None:
            return None
        if known.size != info.size:
            known.size = info.size
            return info.size
        return None

    def _fd_closed(self, e: ev.FdClosed) -> None:
        """Closes are not traced when the tracer tells open files apart: a descriptor
        found closed at an mmap or dup leaves the table here."""
        if e.tid not in self.task_proc:
            return
        self.fdinfo.pop(e.tid, None)
        if self._table(e.tid).pop(e.fd, None) is not None:
            self._step(e.tid, "close", {"fd": e.fd}, 0, note="found closed")

    def _known(self, tid: int, info: ev.FdInfo) -> FileInfo | None:
        """The file table's entry for the descriptor the tracer just described; None when
        it is new to the table (an open step is recorded now).

        With open-file ids (closes untraced): the same id under this number is the same
        open file; under another number of the table it is a duplicate (recorded as a dup
        step); a new id is a new open file, even of the same inode."""
        table = self._table(tid)
        known = table.get(info.fd)
        if info.ofd is None:  # closes traced: the same inode under this number
            if known is not None and (known.dev, known.inode) == (info.dev, info.inode):
                return known
        elif known is not None and known.ofd == info.ofd:
            return known
        else:
            same = next((fd for fd, f in table.items() if f.ofd == info.ofd), None)
            if same is not None:
                table[info.fd] = table[same]
                self._step(tid, "dup", {"fd": same, "newfd": info.fd}, info.fd, note="same file")
                return table[same]
        # opened before (the tracer reports descriptors when they are mapped or
        # duplicated, not when they are opened), inherited, or passed over a socket
        self._open_step(tid, info)
        self.steps[-1].note = "first seen here (opened earlier, inherited or passed)"
        return None

    def _new_task(self, e: ev.NewTask) -> None:
        parent = self.task_proc.get(e.parent)
        if parent is None:
            return
        if e.flags & CLONE_THREAD:
            self.task_proc[e.tid] = parent
            self._thread(e.tid)
            return
        child = self._new_process(e.tid)
        pmm = self.proc_mm.get(parent)
        before = None
        if e.flags & CLONE_VM:
            if pmm is not None:
                self.proc_mm[child] = pmm
        elif pmm is not None:
            before = self._take_pending(pmm)
            self.proc_mm[child] = self._new_mm(self.mm_state[pmm])
        pfiles = self.proc_files.get(parent)
        if pfiles is None:
            pfiles = self.proc_files[parent] = self._new_files()
        if e.flags & CLONE_FILES:
            self.proc_files[child] = pfiles
        else:
            self.proc_files[child] = self._new_files(self.files[pfiles])
        step = self._step(
            e.parent, "clone", {"child": child, "flags": e.flags}, child, before=before
        )
        if not e.flags & CLONE_VM:
            self.fork_step[child] = step

    def _blob(self, e: ev.Blob) -> None:
        if e.name != "forksmaps":
            return
        p = self.task_proc.get(e.tid)
        if p is None or p not in self.fork_step:
            return
        vmas = parse_smaps_vmas(e.data)
        self.fork_step.pop(p).snapshot = vmas
        self.mm_state[self.proc_mm[p]] = {v.start: v for v in vmas}

    def _exec(self, e: ev.Exec) -> None:
        tid = e.tid
        if e.former != tid and e.former in self.task_proc:
            # a thread exec'd and took over the leader's tid
            self.task_proc[tid] = self.task_proc[e.former]
            self.tids.setdefault(tid, self.tids.get(e.former, len(self.tids) + 1))
        p = self.task_proc.get(tid)
        if p is None:
            p = self._new_process(tid)
        old_mm = self.proc_mm.get(p)
        vmas = parse_smaps_vmas(e.blobs.get("smaps", ""))
        facts = process_facts(e.blobs)
        layout = facts["layout"]
        args: Args = {
            "path": e.blobs.get("exe", "")[:1000],
            "start_code": layout.get("start_code", 0),
            "end_code": layout.get("end_code", 0),
            "start_data": layout.get("start_data", 0),
            "end_data": layout.get("end_data", 0),
            "start_brk": layout.get("start_brk", 0),
            "brk": layout.get("brk", 0),
            "start_stack": layout.get("start_stack", 0),
        }
        before = self._take_pending(old_mm)
        self.proc_mm[p] = self._new_mm({v.start: v for v in vmas})
        if self.initial is None:
            self.initial = vmas
            self.env.update(facts)
        self._step(tid, "exec", args, 0, before=before, snapshot=vmas, process=facts)
        # exec unshares the file table and closes close-on-exec descriptors
        old = self._table(tid)
        self.proc_files[p] = self._new_files(old)
        survivors = {int(x) for x in e.blobs.get("fds", "").split() if x.isdigit()}
        table = self.files[self.proc_files[p]]
        for fd in sorted(table):
            if fd not in survivors:
                del table[fd]
                self._step(tid, "close", {"fd": fd}, 0, note="close-on-exec")

    def _final(self, e: ev.Final) -> None:
        p = self.task_proc.get(e.tid)
        if p is None or p not in self.proc_mm:
            return
        mm = self.proc_mm[p]
        final = [self.mm_state[mm][k] for k in sorted(self.mm_state[mm])]
        step = self.exit_step.get(p)
        if step is None:
            step = self._step(
                e.tid, "exit", {"code": 0}, 0, before=self._take_pending(mm), snapshot=final
            )
            self.exit_step[p] = step
        else:
            more = self._take_pending(mm)
            if more is not None:
                step.before = (step.before or []) + more
            step.snapshot = final

    def _gone(self, e: ev.Gone) -> None:
        p = self.task_proc.get(e.tid)
        if p is None or self.leader.get(p) != e.tid:
            return
        code = -e.code if e.signal else e.code
        if p == 1:
            self.root_exit = code
        step = self.exit_step.get(p)
        if step is None:
            step = self._step(e.tid, "exit", {"code": code}, code)
            step.note = "no final snapshot (the address space lives on, or the process was killed)"
            self.exit_step[p] = step
        else:
            step.args["code"] = code
            step.ret = code

    # -- result -------------------------------------------------------------------------

    def finish(self) -> Trace:
        for tid in list(self.pending_open):
            self._flush_open(tid)
        info = dict(self.info)
        # processes and threads with events of their own (an unfollowed child only has
        # the clone step of its parent)
        info["processes"] = len({s.pid for s in self.steps}) or len(self.pids)
        info["threads"] = len({s.tid for s in self.steps}) or len(self.tids)
        if self.root_exit is not None:
            info["exit_code"] = self.root_exit
        if self.warnings:
            info["warnings"] = self.warnings[:50]
        return Trace(
            command=self.command,
            env=self.env,
            initial=self.initial or [],
            steps=self.steps,
            info=info,
        )


def convert(
    events: Iterable[ev.Event], command: list[str], env: dict[str, Any], info: dict[str, Any]
) -> Trace:
    return Converter(command, env, info).feed_all(events).finish()
