"""Read a plain strace log as a trace, when no ``maplevm trace`` recording is at hand.

    strace -f -e trace=memory,desc,process -o app.log ./app
    maplevm replay app.log --maps app.maps

strace shows arguments and return values but not the address space: the initial layout comes
from a maps (or smaps) file given beside the log, and there are no per-call snapshots, so a
replay compares return values only (and the final maps when one is given).  Faults are
invisible too, so anon_vma-dependent merges may differ from the kernel's.

Handled: ``PID name(args) = ret`` lines with or without the PID column and ``-t/-tt/-ttt``
timestamps, ``<unfinished ...>``/``<... resumed>`` pairs, ``-1 ENOMEM (...)`` errors, ``-y``
path decorations (``3</etc/ld.so.cache>``), ``+++ exited with N +++``.  Without
``trace=process`` the log does not say which PIDs are threads of one process and which are
new processes: every PID is then taken as a thread of the first one.
"""

from __future__ import annotations

import errno as _errno
import os
import re
import shlex
import stat
from pathlib import Path
from typing import Any

from maplevm import sysinfo
from maplevm.scenario import flags as fl
from maplevm.trace.convert import parse_limits
from maplevm.trace.events import VmaLine, parse_smaps_vmas
from maplevm.trace.format import Args, Trace, TraceStep
from maplevm.trace.syscalls import CLONE_FILES, CLONE_THREAD, CLONE_VM, OPENS_FD, mm_op

_PREFIX = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+")
_TIME = re.compile(r"^(?:\d\d:\d\d:\d\d(?:\.\d+)?|\d+\.\d+)\s+")
_CALL = re.compile(r"^([a-z_0-9]+)\((.*)$")
_RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>(.*)$")
_RET = re.compile(r"\)\s+=\s+(0x[0-9a-f]+|-?\d+|\?)(?:\s+([A-Z][A-Z0-9_]*))?.*$")
_EXIT = re.compile(r"^\+\+\+ (?:exited with (\d+)|killed by (SIG[A-Z0-9]+)) .*\+\+\+$")
_NAMED_FLAGS = {
    "MAP": fl.MAP,
    "PROT": fl.PROT,
    "MREMAP": fl.MREMAP,
    "MADV": fl.MADV,
    "MCL": fl.MCL,
    "MLOCK": fl.MLOCK,
}
_CLONE_NAMES = {
    "CLONE_VM": CLONE_VM,
    "CLONE_FS": 0x200,
    "CLONE_FILES": CLONE_FILES,
    "CLONE_SIGHAND": 0x800,
    "CLONE_VFORK": 0x4000,
    "CLONE_THREAD": CLONE_THREAD,
}
_SIGNALS = {"SIGKILL": 9, "SIGSEGV": 11, "SIGBUS": 7, "SIGABRT": 6, "SIGTERM": 15}


class StraceError(ValueError):
    pass


def split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments (quotes, braces, brackets kept together)."""
    out: list[str] = []
    depth = 0
    quote = False
    cur: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur.append(c)
        elif c in "{[(<":
            depth += 1
            cur.append(c)
        elif c in "}])>":
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur and "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def value(text: str) -> int:
    """An strace argument as an integer: NULL, numbers, FLAG|FLAG, ``3</path>``."""
    text = text.strip()
    if "=" in text and not text.startswith('"'):
        text = text.split("=", 1)[1]
    if "<" in text and text[0].isdigit():
        text = text.split("<", 1)[0]
    if text in ("NULL", ""):
        return 0
    total = 0
    for part in text.split("|"):
        part = part.strip()
        try:
            total |= int(part, 0)
            continue
        except ValueError:
            pass
        for table in _NAMED_FLAGS.values():
            if part in table:
                total |= table[part]
                break
        else:
            if part in _CLONE_NAMES:
                total |= _CLONE_NAMES[part]
            elif part.startswith("SIG"):
                total |= _SIGNALS.get(part, 17)
            elif part.startswith(("AT_", "O_", "F_")):
                continue
            else:
                raise StraceError(f"unknown value {part!r}")
    return total


def _string(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        try:
            parts = shlex.split(text.rstrip("."))
            return parts[0] if parts else ""
        except ValueError:
            return text.strip('"')
    return text


def _ret(text: str, err: str | None) -> int:
    if text == "?":
        return 0
    ret = int(text, 0)
    if ret == -1 and err and hasattr(_errno, err):
        return -int(getattr(_errno, err))
    return ret


def _file_facts(path: str) -> dict[str, Any]:
    """What this machine knows about a path (the log came from here, usually): maps shows
    the resolved path (/lib/x/libc.so.6 is /usr/lib/x/libc.so.6 here), device and inode."""
    try:
        st = os.stat(path)
    except OSError:
        return {"path": path, "dev": "00:00", "inode": 0, "size": 0, "fs": "ext4"}
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    fs = sysinfo.filesystem_of(path) if stat.S_ISREG(st.st_mode) else "unknown"
    real = os.path.realpath(path)
    return {"path": real, "dev": dev, "inode": st.st_ino, "size": st.st_size, "fs": fs}


def read_maps_file(path: str | Path) -> list[VmaLine]:
    """A maps or smaps file as VMAs.

    A plain maps file has no VmFlags (left empty: the model guesses them) and no anonymous
    page counts: private writable file mappings and [stack] are taken to hold anonymous
    pages, as they do when exec has just built them (the ELF loader zeroes the end of the
    last data page, the kernel writes argv and the environment on the stack).
    """
    text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    if "VmFlags:" in text:
        return parse_smaps_vmas(text)
    out: list[VmaLine] = []
    for ln in text.splitlines():
        if not ln.strip() or "-" not in ln[:20]:
            continue
        parts = ln.split(None, 5)
        name = parts[5].strip() if len(parts) > 5 else ""
        anon = name == "[stack]" or (
            (parts[1].endswith("w-p") or parts[1] == "rw-p") and (int(parts[4]) != 0)
        )
        out.append(VmaLine(ln, "", anon))
    return out


class _Reader:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.steps: list[TraceStep] = []
        self.procs: dict[int, int] = {}  # real pid -> process number
        self.threads: dict[int, int] = {}
        self.leaders: dict[int, int] = {}
        self.first: int | None = None
        self.unfinished: dict[int, tuple[str, str]] = {}
        self.files: dict[int, dict[int, str]] = {}
        self.seen_process_calls = False

    def _proc(self, pid: int) -> int:
        if pid not in self.procs:
            if self.first is None:
                self.first = pid
                self.procs[pid] = 1
                self.leaders[1] = pid
            else:
                # without clone lines a new PID is taken as a thread of the first process
                self.procs[pid] = self.procs[self.first]
        self.threads.setdefault(pid, len(self.threads) + 1)
        return self.procs[pid]

    def _step(self, pid: int, kind: str, args: Args, ret: int, **extra: Any) -> TraceStep:
        step = TraceStep(
            len(self.steps), self._proc(pid), self.threads[pid], kind, args, ret, **extra
        )
        self.steps.append(step)
        return step

    def line(self, raw: str) -> None:
        text = raw.rstrip("\n")
        pid = 0
        m = _PREFIX.match(text)
        if m and not _TIME.match(text):
            pid = int(m.group(1))
            text = text[m.end() :]
        t = _TIME.match(text)
        if t:
            text = text[t.end() :]
        if not text:
            return
        if text.startswith("+++"):
            e = _EXIT.match(text)
            if e and pid in self.procs and self.leaders.get(self.procs[pid]) == pid:
                code = int(e.group(1)) if e.group(1) else -_SIGNALS.get(e.group(2) or "", 9)
                self._step(pid, "exit", {"code": code}, code)
            return
        if text.startswith("---"):
            return
        r = _RESUMED.match(text)
        if r:
            name, rest = r.group(1), r.group(2)
            head = self.unfinished.pop(pid, None)
            if head is None:
                return
            text = f"{name}({head[1]}{rest}"
        elif text.endswith("<unfinished ...>"):
            c = _CALL.match(text)
            if c:
                self.unfinished[pid] = (c.group(1), c.group(2)[: -len("<unfinished ...>")])
            return
        c = _CALL.match(text)
        if not c:
            return
        name = c.group(1)
        rm = _RET.search(c.group(2))
        if not rm:
            return
        args_text = c.group(2)[: rm.start()]
        ret = _ret(rm.group(1), rm.group(2))
        self.call(pid, name, split_args(args_text), ret)

    def call(self, pid: int, name: str, args: list[str], ret: int) -> None:
        p = self._proc(pid)
        files = self.files.setdefault(p, {})
        if name in OPENS_FD:
            if ret < 0:
                return
            path = _string(args[1] if name in ("openat", "openat2") else args[0])
            if name == "memfd_create":
                path = f"/memfd:{path} (deleted)"
            flags = value(args[2] if name in ("openat",) and len(args) > 2 else "0")
            facts = _file_facts(path)
            files[ret] = path
            a: Args = {"fd": ret, **facts}
            a["path"] = str(a["path"])[:1000]
            a["access"] = {0: "r", 1: "w", 2: "rw"}.get(flags & 3, "rw")
            self._step(pid, "open", a, ret)
            return
        if name == "close":
            if ret == 0:
                files.pop(value(args[0]), None)
                self._step(pid, "close", {"fd": value(args[0])}, 0)
            return
        if name in ("dup", "dup2", "dup3") or (name == "fcntl" and "F_DUPFD" in args[1]):
            if ret >= 0:
                self._step(pid, "dup", {"fd": value(args[0]), "newfd": ret}, ret)
            return
        if name in ("clone", "clone3", "fork", "vfork"):
            self._clone(pid, name, args, ret)
            return
        if name == "execve" and ret == 0:
            self.seen_process_calls = True
            if not self.command and p == 1:
                argv = args[1] if len(args) > 1 else ""
                self.command = [_string(x) for x in split_args(argv.strip("[]"))]
            return
        if name == "prctl":
            if not args or args[0] not in ("PR_SET_VMA", hex(fl.PR_SET_VMA)):
                return
            raw = [0, 0, value(args[2]), value(args[3]), 1 if args[4] != "NULL" else 0, 0]
            op = mm_op("prctl", raw, _string(args[4]))
        else:
            try:
                raw = [value(x) for x in args[:6]]
            except StraceError:
                return
            op = mm_op(name, raw + [0] * (6 - len(raw)))
        if op is None:
            return
        kind, a = op
        self._step(pid, kind, a, ret)

    def _clone(self, pid: int, name: str, args: list[str], ret: int) -> None:
        if ret <= 0:
            return
        self.seen_process_calls = True
        flags = 0x11  # SIGCHLD
        if name == "vfork":
            flags |= CLONE_VM | 0x4000
        for a in args:
            a = a.strip("{}")
            if a.startswith("flags="):
                flags = value(a)
        parent = self._proc(pid)
        if flags & CLONE_THREAD:
            self.procs[ret] = parent
            self.threads.setdefault(ret, len(self.threads) + 1)
            return
        child = len(set(self.procs.values())) + 1
        self.procs[ret] = child
        self.leaders[child] = ret
        self.threads.setdefault(ret, len(self.threads) + 1)
        self._step(pid, "clone", {"child": child, "flags": flags}, child)


def read_strace(
    log_text: str,
    initial: list[VmaLine],
    *,
    command: list[str] | None = None,
    final: list[VmaLine] | None = None,
) -> Trace:
    """A trace from an strace log and the process's initial maps (``read_maps_file``)."""
    reader = _Reader(command or [])
    for raw in log_text.splitlines():
        reader.line(raw)
    if not reader.steps:
        raise StraceError("no system calls found in the log (is it an strace -o file?)")
    heap = next((v for v in initial if v.line.rstrip().endswith("[heap]")), None)
    first_brk = next((s.ret for s in reader.steps if s.kind == "brk" and s.args["addr"] == 0), 0)
    start_brk = heap.start if heap is not None else first_brk
    stack = next((v for v in initial if v.line.rstrip().endswith("[stack]")), None)
    exec_args: Args = {
        "path": reader.command[0] if reader.command else "",
        "start_code": 0,
        "end_code": 0,
        "start_data": 0,
        "end_data": 0,
        "start_brk": start_brk,
        "brk": heap.end if heap is not None else first_brk,
        "start_stack": (stack.end - 8) if stack is not None else 0,
    }
    first = TraceStep(0, 1, 1, "exec", exec_args, 0, snapshot=list(initial))
    steps = [first, *reader.steps]
    for i, s in enumerate(steps):
        s.index = i
    if final is not None:
        exit_step = next((s for s in reversed(steps) if s.kind == "exit" and s.pid == 1), None)
        if exit_step is None:
            exit_step = TraceStep(len(steps), 1, 1, "exit", {"code": 0}, 0)
            steps.append(exit_step)
        exit_step.snapshot = list(final)
        exit_step.before = _edits(initial, final)
        exit_step.note = "final maps given with the log"
    env = sysinfo.machine_facts()
    env["personality"] = "00040000" if _aslr_off(initial) else "00000000"
    env["rlimits"] = parse_limits(sysinfo.read_text("/proc/self/limits") or "")
    mmap_base = infer_mmap_base(initial)
    info: dict[str, Any] = {"tracer": "strace", "processes": len(set(reader.procs.values()))}
    info["threads"] = len(reader.threads)
    if mmap_base is not None:
        info["mmap_base"] = mmap_base
    if not reader.seen_process_calls and len(reader.threads) > 1:
        info["warnings"] = [
            "no clone/execve lines: every PID was taken as a thread of the first process "
            "(record with -e trace=memory,desc,process)"
        ]
    return Trace(command=reader.command, env=env, initial=list(initial), steps=steps, info=info)


def _edits(initial: list[VmaLine], final: list[VmaLine]) -> list[int | VmaLine]:
    """The whole change from the initial to the final maps (for the exit step)."""
    out: list[int | VmaLine] = [v.start for v in initial]
    out.extend(final)
    return out


def _aslr_off(initial: list[VmaLine]) -> bool:
    """Maps with ASLR off put [stack] at the top of the 47-bit space."""
    return any(v.end == 0x7FFFFFFFF000 and v.line.rstrip().endswith("[stack]") for v in initial)


def infer_mmap_base(initial: list[VmaLine]) -> int | None:
    """mmap_base from an exec-time layout: the ELF loader maps the interpreter (or, for a
    static binary, the vDSO) first, top-down, so the highest mapping below the stack ends
    exactly at mmap_base, randomised or not."""
    tops = [
        v.end
        for v in initial
        if v.start >= 1 << 46
        and v.start < 1 << 47
        and not v.line.rstrip().endswith(("[stack]", "[vsyscall]"))
    ]
    return max(tops) if tops else None
