"""The live kernel as an executor: runs a script through the C helper and records it.

    from maplevm.kernel.runner import KernelExecutor
    recording = KernelExecutor().run(script)

The helper (runner.c) performs each operation with a raw system call and answers with the
return value and the text of /proc/self/smaps (or maps).  This module turns operations into
helper commands, resolves references to earlier results, normalises the maps text and
collects the environment facts.  docs/kernel-runner.md explains the whole mechanism.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maplevm.kernel import env as kenv
from maplevm.kernel.build import KernelUnavailable, build_runner, cache_root
from maplevm.scenario import flags as fl
from maplevm.scenario.format import Header, Op, Script, resolve_args, to_signed64
from maplevm.scenario.maps import Normaliser, parse_smaps
from maplevm.scenario.recording import Fault, Recording, Snapshot, Step, run_length

# Wire format: see the comment at the top of runner.c.
_CMD = struct.Struct("<11q")
_RESP = struct.Struct("<5q")
K_SYSCALL, K_TOUCH_READ, K_TOUCH_WRITE, K_SNAPSHOT, K_EXIT, K_FORK = 1, 2, 3, 4, 5, 6
SNAP_CODES = {"none": 0, "count": 1, "maps": 2, "full": 3}
FILE_FD_BASE = 3  # file i: O_RDWR at 3 + 2i, O_RDONLY at 4 + 2i
DEFAULT_TIMEOUT = 120.0


class KernelRunError(RuntimeError):
    """The helper failed in a way that is not a result of the script (it is a bug or setup)."""


@dataclass(frozen=True)
class Command:
    kind: int
    nr: int = 0
    args: tuple[int, ...] = ()
    text: bytes | None = None
    text_arg: int = -1

    def encode(self, snap: int) -> bytes:
        a = [to_signed64(x) for x in self.args] + [0] * (6 - len(self.args))
        text = self.text or b""
        return _CMD.pack(self.kind, snap, self.nr, *a, self.text_arg, len(text)) + text


@dataclass(frozen=True)
class Response:
    ret: int
    signo: int
    code: int
    fault_addr: int
    count: int
    text: str | None


def file_fd(header: Header, name: str, access: str) -> int:
    return FILE_FD_BASE + 2 * header.file_index(name) + (1 if access == "ro" else 0)


def _i(v: int | str | None) -> int:
    assert isinstance(v, int), v
    return v


def command_for(kind: str, a: dict[str, int | str | None], header: Header) -> Command:
    """The helper command performing one operation with resolved arguments ``a``."""
    nr = fl.SYSCALL_NR
    if kind == "mmap":
        if a.get("file") is not None:
            fd = file_fd(header, str(a["file"]), str(a.get("access") or "rw"))
        elif a.get("fd") is not None:
            fd = _i(a["fd"])
        else:
            fd = -1
        mmap_args = (_i(a["addr"]), _i(a["len"]), _i(a["prot"]), _i(a["flags"]), fd)
        return Command(K_SYSCALL, nr["mmap"], (*mmap_args, _i(a["offset"])))
    if kind in ("munmap", "mlock", "munlock"):
        return Command(K_SYSCALL, nr[kind], (_i(a["addr"]), _i(a["len"])))
    if kind == "mprotect":
        return Command(K_SYSCALL, nr[kind], (_i(a["addr"]), _i(a["len"]), _i(a["prot"])))
    if kind == "mremap":
        args = (
            _i(a["old_addr"]),
            _i(a["old_len"]),
            _i(a["new_len"]),
            _i(a["flags"]),
            _i(a["new_addr"]),
        )
        return Command(K_SYSCALL, nr[kind], args)
    if kind == "brk":
        return Command(K_SYSCALL, nr[kind], (_i(a["addr"]),))
    if kind == "madvise":
        return Command(K_SYSCALL, nr[kind], (_i(a["addr"]), _i(a["len"]), _i(a["advice"])))
    if kind in ("mlock2", "mseal"):
        return Command(K_SYSCALL, nr[kind], (_i(a["addr"]), _i(a["len"]), _i(a["flags"])))
    if kind == "mlockall":
        return Command(K_SYSCALL, nr[kind], (_i(a["flags"]),))
    if kind == "munlockall":
        return Command(K_SYSCALL, nr[kind], ())
    if kind == "set_vma_anon_name":
        name = a.get("name")
        args = (fl.PR_SET_VMA, fl.PR_SET_VMA_ANON_NAME, _i(a["addr"]), _i(a["len"]), 0)
        if name is None:
            return Command(K_SYSCALL, nr["prctl"], args)
        return Command(K_SYSCALL, nr["prctl"], args, str(name).encode(), text_arg=4)
    if kind == "touch":
        k = K_TOUCH_READ if a.get("access") == "read" else K_TOUCH_WRITE
        return Command(k, 0, (_i(a["addr"]),))
    if kind == "fork":
        return Command(K_FORK)
    if kind == "truncate":
        fd = file_fd(header, str(a["file"]), "rw")
        return Command(K_SYSCALL, nr["ftruncate"], (fd, _i(a["size"])))
    raise ValueError(f"no helper command for op {kind!r}")


class _Helper:
    """A running helper process and the pipe protocol to it."""

    def __init__(self, binary: Path, header: Header, scratch: Path, timeout: float) -> None:
        self.timeout = timeout
        argv = [str(binary), "setup"]
        argv += [str(scratch / f.name) for f in header.files]
        for name, lim in header.rlimits.items():
            soft = "u" if lim.soft is None else str(lim.soft)
            hard = "-" if lim.keep_hard else ("u" if lim.hard is None else str(lim.hard))
            argv.append(f"{name}={soft}:{hard}")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._buf = bytearray()
        self._pid = self.proc.pid

    @property
    def pid(self) -> int:
        """The process running the script: the helper, or its latest fork child."""
        return self._pid

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KernelRunError(f"the helper did not answer within {self.timeout:.0f} s")
        ready, _, _ = select.select([self._out], [], [], remaining)
        if not ready:
            raise KernelRunError(f"the helper did not answer within {self.timeout:.0f} s")
        chunk = os.read(self._out, 1 << 20)
        if not chunk:
            return False
        self._buf += chunk
        return True

    def request(self, command: Command, snap: int) -> Response | None:
        """Sends one command; None if the helper died before answering completely."""
        try:
            os.write(self._in, command.encode(snap))
        except BrokenPipeError:
            return None
        deadline = time.monotonic() + self.timeout
        while len(self._buf) < _RESP.size:
            if not self._fill(deadline):
                return None
        ret, signo, code, addr, count = _RESP.unpack_from(self._buf)
        del self._buf[: _RESP.size]
        text: str | None = None
        if snap >= SNAP_CODES["maps"]:
            start = 0
            while (end := self._buf.find(b"\0", start)) < 0:
                start = len(self._buf)
                if not self._fill(deadline):
                    return None
            text = self._buf[:end].decode("utf-8", errors="replace")
            del self._buf[: end + 1]
        if command.kind == K_FORK and ret == 0:
            self._pid = addr  # the child reports its pid there
        return Response(ret, signo, code, addr, count, text)

    def death(self) -> str:
        """Waits for a dead helper and describes how it ended."""
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = self.proc.wait()
        if rc < 0:
            return signal.Signals(-rc).name
        return f"exit {rc}"

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        try:
            return self.proc.stderr.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.write(self._in, Command(K_EXIT).encode(0))
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def default_scratch_root() -> Path:
    override = os.environ.get("MAPLEVM_SCRATCH_DIR")
    return Path(override) if override else cache_root() / "scratch"


ProgressFn = Callable[[int, int], None]
ObserverFn = Callable[[int, "Step | None", int], None]


class KernelExecutor:
    """Runs scripts on the live kernel of this machine.

    ``binary``: a built helper (default: build or reuse the cached one).  ``scratch_root``:
    where scratch files are created (default ``$MAPLEVM_SCRATCH_DIR`` or
    ``~/.cache/maplevm/scratch``; its filesystem type is recorded, since file mappings are
    placed differently on ext4 and tmpfs).
    """

    name = "kernel"

    def __init__(
        self,
        binary: Path | None = None,
        scratch_root: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._binary = binary
        # absolute: the helper tells file paths from rlimit arguments by the leading "/"
        self.scratch_root = (scratch_root or default_scratch_root()).absolute()
        self.timeout = timeout

    @property
    def binary(self) -> Path:
        if self._binary is None:
            self._binary = build_runner()
        return self._binary

    def run(
        self,
        script: Script,
        progress: ProgressFn | None = None,
        observer: ObserverFn | None = None,
    ) -> Recording:
        """Run ``script`` on the kernel and record it.

        ``observer(i, step, pid)`` is called with the helper blocked between operations:
        first with ``i == -1`` and no step (the initial state), then after every step.  It
        may inspect the helper process (e.g. read its maple tree); it must not change it.
        """
        traced = sorted({op.kind for op in script.ops if op.spec.trace_only})
        if traced:
            raise KernelRunError(
                f"op {', '.join(traced)}: events of a traced program (maplevm replay reads "
                "them); the kernel runner cannot perform them"
            )
        binary = self.binary
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=self.scratch_root))
        try:
            for f in script.header.files:
                with open(scratch / f.name, "wb") as fh:
                    fh.truncate(f.size)
            helper = _Helper(binary, script.header, scratch, self.timeout)
            try:
                session = _Session(self, script, helper, binary, scratch, progress)
                session.observer = observer
                return session.run()
            finally:
                helper.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class _Session:
    """One recording in progress."""

    def __init__(
        self,
        executor: KernelExecutor,
        script: Script,
        helper: _Helper,
        binary: Path,
        scratch: Path,
        progress: ProgressFn | None,
    ) -> None:
        self.script = script
        self.helper = helper
        self.scratch = scratch
        self.progress = progress
        self.normaliser = Normaliser(os.path.realpath(binary), os.path.realpath(scratch))
        self.observer: ObserverFn | None = None

    def _fail(self, what: str) -> KernelRunError:
        how = self.helper.death()
        err = self.helper.stderr()
        return KernelRunError(f"the helper failed {what} ({how})" + (f": {err}" if err else ""))

    def _must(self, command: Command, snap: int, what: str) -> Response:
        resp = self.helper.request(command, snap)
        if resp is None:
            raise self._fail(what)
        return resp

    def _snapshot(self, mode: str, resp: Response) -> Snapshot | None:
        if mode == "none":
            return None
        if mode == "count":
            return Snapshot(resp.count)
        assert resp.text is not None
        if mode == "maps":
            lines = self.normaliser.lines(ln for ln in resp.text.split("\n") if ln)
            return Snapshot(len(lines), tuple(lines))
        entries = parse_smaps(resp.text)
        return Snapshot(
            len(entries),
            tuple(self.normaliser.lines(e.line for e in entries)),
            tuple(e.vmflags for e in entries),
            tuple(e.anon for e in entries),
        )

    def env(self, brk0: int) -> dict[str, Any]:
        pid = self.helper.pid
        facts = kenv.machine_facts()
        facts["rlimits"] = kenv.process_limits(pid)
        facts["capabilities"] = kenv.process_status(pid)
        facts["personality"] = (kenv.read_text(f"/proc/{pid}/personality") or "").strip()
        layout: dict[str, int] = kenv.process_layout(pid)
        layout["brk"] = brk0
        facts["layout"] = layout
        facts["scratch_fs"] = kenv.filesystem_of(self.scratch)
        return facts

    def run(self) -> Recording:
        brk = Command(K_SYSCALL, fl.SYSCALL_NR["brk"], (0,))
        brk0 = self._must(brk, 0, "to start").ret
        env = self.env(brk0)
        first = self._must(Command(K_SNAPSHOT), SNAP_CODES["full"], "to take the first snapshot")
        initial = self._snapshot("full", first)
        assert initial is not None
        env["special_pages"] = self._probe_special_pages(first.text or "")
        results: list[int] = []
        steps: list[Step] = []
        total = len(self.script.ops)
        if self.observer is not None:
            self.observer(-1, None, self.helper.pid)
        for i, op in enumerate(self.script.ops):
            step = self._step(i, op, results)
            steps.append(step)
            results.append(step.ret)
            if self.observer is not None and step.died is None:
                self.observer(i, step, self.helper.pid)
            if self.progress is not None:
                self.progress(i + 1, total)
            if step.died is not None:
                break
        return Recording(self.script.header, env, initial, tuple(steps), executor="kernel")

    def _probe_special_pages(self, maps: str) -> dict[str, list[int]]:
        """Which pages of [vvar] and [vvar_vclock] a read maps (the others raise SIGBUS).

        That depends on the kernel's configuration and on the clock in use (kvm-clock's
        pvclock page, Hyper-V's page), so it is asked, not derived.  Reading a page maps
        a PFN and changes nothing a script can observe.
        """
        found: dict[str, list[int]] = {}
        for line in maps.splitlines():
            fields = line.split()
            if len(fields) < 6 or fields[5] not in ("[vvar]", "[vvar_vclock]"):
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            readable = []
            for k, addr in enumerate(range(lo, hi, fl.PAGE_SIZE)):
                resp = self._must(Command(K_TOUCH_READ, 0, (addr,)), 0, "to probe " + fields[5])
                if resp.ret == 0:
                    readable.append(k)
            found[fields[5]] = readable
        return found

    def _step(self, i: int, op: Op, results: Sequence[int]) -> Step:
        mode = self.script.snapshot_mode(i)
        snap = SNAP_CODES[mode]
        if op.kind == "repeat":
            return self._repeat(i, op, results, mode)
        args = resolve_args(op, results)
        resp = self.helper.request(command_for(op.kind, args, self.script.header), snap)
        if resp is None:
            return Step(i, op, args, 0, died=self.helper.death())
        return Step(i, op, args, resp.ret, self._snapshot(mode, resp), _fault(resp))

    def _repeat(self, i: int, op: Op, results: Sequence[int], mode: str) -> Step:
        body = op.args["body"]
        assert isinstance(body, Op)
        count = int(resolve_args(op, results)["count"] or 0)
        stride = int(resolve_args(op, results)["stride"] or 0)
        base = resolve_args(body, results)
        field = body.spec.addr_field
        rets: list[int] = []
        resp: Response | None = None
        args = {"count": count, "stride": stride, **base}
        for k in range(count):
            a = dict(base)
            if field is not None and stride:
                a[field] = int(base[field] or 0) + k * stride
            last = k == count - 1
            snap = SNAP_CODES[mode] if last else 0
            resp = self.helper.request(command_for(body.kind, a, self.script.header), snap)
            if resp is None:
                return Step(
                    i,
                    op,
                    args,
                    rets[-1] if rets else 0,
                    rets=run_length(rets),
                    died=self.helper.death(),
                )
            rets.append(resp.ret)
        assert resp is not None
        return Step(
            i, op, args, resp.ret, self._snapshot(mode, resp), _fault(resp), rets=run_length(rets)
        )


def _fault(resp: Response) -> Fault | None:
    if not resp.signo:
        return None
    name = fl.SIGNALS.get(resp.signo, f"signal{resp.signo}")
    code = fl.SI_CODES.get(name, {}).get(resp.code, str(resp.code))
    return Fault(name, code, resp.fault_addr % (1 << 64))  # si_addr is unsigned


def kernel_unavailable_reason() -> str | None:
    """None if scripts can run on this machine's kernel, else the reason (for skips)."""
    try:
        build_runner()
    except KernelUnavailable as e:
        return str(e)
    return None


__all__ = [
    "KernelExecutor",
    "KernelRunError",
    "KernelUnavailable",
    "command_for",
    "kernel_unavailable_reason",
]
