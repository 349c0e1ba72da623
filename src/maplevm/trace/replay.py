"""Replay a trace on the model and compare it with what the kernel did.

Each process of the trace gets a model address space (:class:`~maplevm.mm.mm_struct.MM`)
seeded from the maps and smaps the kernel showed at its exec (or at its fork), and a file
table built from the trace's open/dup/close events.  Every memory call is performed on the
model and its return value compared with the kernel's.  Before each call the kernel's maps
as they were when the call started (the step's ``before`` changes) are applied to a copy of
the kernel's address space kept beside the model:

* faults the tracer cannot see are replayed first: a VMA the kernel shows with anonymous
  pages gets its anon_vma in the model (``anon_vma_prepare()``, so a compatible neighbour's
  is reused exactly as the fault would), and a stack the kernel shows grown is grown by a
  fault below it (``expand_stack()``);
* then the model's VMAs are compared with the kernel's (maps line and VmFlags) around every
  address the previous call and the faults touched;
* at exit (and before an exec replaces it) the whole address space is compared.

After a difference the model continues from the kernel's address space (a *resync*) so that
later calls are still judged on their own.
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maplevm.mm.executor import perform
from maplevm.mm.flags import MAP_FIXED, MAP_FIXED_NOREPLACE, MREMAP_FIXED, MREMAP_MAYMOVE, PAGE_SIZE
from maplevm.mm.mm_struct import MM
from maplevm.mm.mmap import find_vma
from maplevm.mm.profile import KernelProfile
from maplevm.mm.seed import mm_from_entries
from maplevm.mm.trace import Tracer
from maplevm.mm.vm_area import Inode, OpenFile, VmArea, anon_vma_prepare
from maplevm.scenario.format import Header
from maplevm.trace.events import Edit, VmaLine
from maplevm.trace.format import MM_KINDS, Trace, TraceStep
from maplevm.trace.result import Divergence, FinalCheck, ReplayResult
from maplevm.trace.space import (
    Range,
    Row,
    Space,
    around,
    blank_unknown,
    grow,
    merge_ranges,
    page_range,
    row_text,
    rows_diff,
    same_rows,
)
from maplevm.trace.syscalls import CLONE_FILES, CLONE_VM
from maplevm.trace.text import describe

_HEADER = Header()


def _call_text(call: TraceStep | str | None) -> str:
    if call is None or isinstance(call, str):
        return call or ""
    return describe(call)


@dataclass
class Proc:
    pid: int
    space: Space | None
    fds: dict[int, OpenFile]


StepHook = Callable[[TraceStep, MM], None]


class Replayer:
    """Replays one trace.  ``keep`` divergences are kept in detail (all are counted)."""

    def __init__(
        self,
        trace: Trace,
        *,
        keep: int = 20,
        explain: int | None = None,
        check_every_call: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.trace = trace
        self.keep = keep
        self.explain_step = explain
        self.explained: dict[str, Any] | None = None
        self.progress = progress
        self.procs: dict[int, Proc] = {}
        self.inodes: dict[tuple[str, int], Inode] = {}
        self.result = ReplayResult(trace.name, trace.command)
        self.profiles: dict[str, KernelProfile] = {}
        self.flags_per_call = bool(trace.info.get("vmflags_every_call", True))
        self.active = {s.pid for s in trace.steps}  # processes with events of their own
        # False: return values and final maps only (faster on huge traces)
        self.check_every_call = check_every_call

    # -- helpers ------------------------------------------------------------------------

    def _profile(self, facts: dict[str, Any] | None) -> KernelProfile:
        env = dict(self.trace.env)
        if facts:
            env.update(facts)
        key = repr(sorted((k, repr(v)) for k, v in env.items() if k != "layout"))
        if key not in self.profiles:
            self.profiles[key] = KernelProfile.from_env(env)
        return self.profiles[key]

    def _diverge(self, d: Divergence) -> None:
        self.result.divergence_count += 1
        if len(self.result.divergences) < self.keep:
            self.result.divergences.append(d)

    def _seed(self, vmas: list[VmaLine], args: dict[str, Any], profile: KernelProfile) -> MM:
        entries = [(v.line, v.vmflags or None, v.anon) for v in vmas]
        return mm_from_entries(
            entries,
            profile=profile,
            start_brk=int(args.get("start_brk") or 0) or None,
            brk=int(args.get("brk") or 0) or None,
            start_stack=int(args.get("start_stack") or 0) or None,
            end_data=int(args.get("end_data") or 0),
            start_data=int(args.get("start_data") or 0),
        )

    def _inode(self, args: dict[str, Any]) -> Inode:
        dev, ino = str(args["dev"]), int(args["inode"])
        path = str(args.get("path") or "")
        deleted = path.endswith(" (deleted)")
        if deleted:
            path = path[: -len(" (deleted)")]
        fs = str(args.get("fs") or "ext4")
        node = self.inodes.get((dev, ino))
        if node is None:
            shmem = fs in ("tmpfs", "hugetlbfs") or path.startswith("/memfd:")
            node = Inode(dev=dev, ino=ino, path=path, shmem=shmem, deleted=deleted, fs=fs)
            self.inodes[(dev, ino)] = node
        node.size = int(args.get("size") or 0)
        node.path, node.deleted = path, deleted
        return node

    # -- checks -------------------------------------------------------------------------

    def _sync_faults(self, space: Space, edits: list[Edit], lowered: list[VmaLine]) -> None:
        """What the calls do not show, between two calls: page faults (stacks grow,
        anon_vmas appear), unlinked files ("(deleted)" in maps) and the inode numbers the
        kernel gave shared anonymous memory."""
        mm = space.mm
        vma: VmArea | None
        for low in lowered:
            # a VMA the kernel shows lower than before, same end: a stack grew down to the
            # faulting page (a merge the model also made finds its VMA in place)
            grow(mm, low)
        for edit in edits:
            if isinstance(edit, int):
                continue
            line = edit.line
            if line.endswith(" (deleted)") and self._sync_deleted(mm, edit):
                space.forget_rows()  # the rendered lines of that file's VMAs changed
            if not edit.anon:
                continue
            start, end = edit.start, edit.end
            if mm.has_anon_pages(start, end):
                # the model has pages there: the VMA holding them has its anon_vma
                continue
            vma = find_vma(mm, start)
            if vma is not None and vma.vm_start > start:
                # first seen already grown (a MAP_GROWSDOWN mapping written below its start)
                vma = grow(mm, edit)
            if vma is None or vma.vm_start > start:
                continue
            if vma.anon_vma is None:
                anon_vma_prepare(vma)
            mm.add_anon_pages(start, min(end, vma.vm_end))

    def _sync_deleted(self, mm: MM, edit: VmaLine) -> bool:
        """A file the kernel shows "(deleted)"; True if the model's inode changed."""
        vma = find_vma(mm, edit.start)
        if vma is None or vma.vm_file is None:
            return False
        inode = vma.vm_file.inode
        before = (inode.deleted, inode.ino)
        # unlink(2) is not traced: the maps text says the file is gone
        inode.deleted = True
        if inode.path == "/dev/zero" and inode.shmem:
            # shmem_zero_setup() made a new inode: its number is the kernel's to choose
            fields = edit.line.split(None, 5)
            if len(fields) > 4 and fields[4].isdigit():
                inode.ino = int(fields[4])
        return (inode.deleted, inode.ino) != before

    def _check(
        self, space: Space, edits: list[Edit] | None, step: TraceStep, final: bool = False
    ) -> None:
        """Brings the kernel's side up to the start of ``step`` and compares.

        ``edits`` None: the tracer took no snapshot here (brk(0)); the comparison waits for
        the next one, with the model's changed ranges kept."""
        if edits is None:
            return
        touched, lowered = space.apply(edits)
        if edits:
            try:
                self._sync_faults(space, edits, lowered)
            except Exception as e:  # a model bug: report it, continue from the kernel
                self._model_error(space, step, e, "replaying page faults")
                return
        if space.needs_resync:
            self._resync(space)
            return
        if not self.check_every_call and not final:
            space.dirty = []
            return
        if space.dirty is None:
            windows = None
        else:
            windows = merge_ranges(space.dirty + touched)
        space.dirty = []
        if windows is not None and not windows:
            return
        self.result.checks += 1
        if windows is not None and not self.flags_per_call and space.pending_after is None:
            # the tracer read maps, not smaps, before each call: VmFlags are compared at
            # exec, fork and exit only, and equal lines are all a check needs to know
            same = True
            for lo, hi in windows:
                if space.kernel_maps(lo, hi) != space.model_maps(lo, hi):
                    same = False
                    break
            if same:
                self.result.checks_equal += 1
                return
        if windows is None:
            kernel = [(v.line, v.vmflags) for v in space.kernel_lines()]
            model = space.model_all()
        else:
            kernel, model = [], []
            for lo, hi in windows:
                kernel += space.kernel_rows(lo, hi)
                model += space.model_rows(lo, hi)
        if not self.flags_per_call:
            kernel = [(r[0], "") for r in kernel]
            model = [(r[0], "") for r in model]
        pending = space.pending_after
        if pending is not None:
            space.pending_after = None
            addrs = [a for a in (pending.kernel, pending.model) if isinstance(a, int) and a > 0]
            rows = [(v.line, v.vmflags) for v in space.kernel_lines()]
            pending.detail += "\n  kernel after:\n    " + "\n    ".join(around(rows, addrs))
        if same_rows(kernel, model):
            self.result.checks_equal += 1
            return
        model = blank_unknown(kernel, model)
        where = space.last_step if space.last_step is not None else step.index
        self._diverge(
            Divergence(
                step=where,
                kind="maps",
                pid=step.pid,
                call=_call_text(space.last_call) or "(page faults before this call)",
                kernel=None,
                model=None,
                kernel_maps=[row_text(r) for r in kernel],
                model_maps=[row_text(r) for r in model],
                detail="\n".join(rows_diff(kernel, model)),
                seen_at=step.index,
            )
        )
        self._resync(space)

    def _resync(self, space: Space) -> None:
        """Continue from the kernel's address space (after a divergence)."""
        old = space.mm
        self.result.resyncs += 1
        files = {v.vm_start: v.vm_file for v in old.vmas() if v.vm_file is not None}
        entries = [(v.line, v.vmflags or None, v.anon) for v in space.kernel_lines()]
        mm = mm_from_entries(
            entries,
            profile=old.profile,
            start_brk=old.start_brk,
            brk=old.brk,
            start_stack=old.start_stack,
            end_data=old.end_data,
            start_data=old.start_data,
        )
        # keep the open files the model had, so later merges see the same struct file
        for vma in mm.vmas():
            prev = files.get(vma.vm_start)
            if (
                vma.vm_file is not None
                and prev is not None
                and prev.inode.ino == vma.vm_file.inode.ino
            ):
                vma.vm_file = prev
        mm.files = old.files
        mm.def_flags = old.def_flags
        space.mm = mm
        space.needs_resync = False
        space.dirty = []

    def _model_error(self, space: Space, step: TraceStep, e: BaseException, what: str) -> None:
        self.result.errors += 1
        self._diverge(
            Divergence(
                step=step.index,
                kind="error",
                pid=step.pid,
                call=describe(step),
                kernel=step.ret,
                model=f"{type(e).__name__}: {e}",
                detail=f"the model raised while {what}:\n"
                + "".join(traceback.format_exception(e)[-6:]),
            )
        )
        space.needs_resync = True

    def _final(self, space: Space, step: TraceStep) -> None:
        kernel = [(v.line, v.vmflags) for v in space.kernel_lines()]
        model = space.model_all()
        same = same_rows(kernel, model)
        diff = [] if same else rows_diff(kernel, blank_unknown(kernel, model))
        self.result.finals.append(FinalCheck(step.pid, step.index, same, len(kernel), diff))
        if not same:
            self._diverge(
                Divergence(
                    step=step.index,
                    kind="final",
                    pid=step.pid,
                    call=describe(step),
                    kernel=len(kernel),
                    model=len(model),
                    detail="\n".join(diff),
                )
            )

    # -- the steps ----------------------------------------------------------------------

    def run(self) -> ReplayResult:
        start = time.monotonic()
        total = len(self.trace.steps)
        # The trace's objects (a million for 100,000 calls) live until the end: frozen,
        # the collections the model's allocations trigger do not walk them every time.
        freeze = gc.isenabled()
        if freeze:
            gc.freeze()
        try:
            for step in self.trace.steps:
                self._step(step)
                if self.progress is not None and step.index % 256 == 0:
                    self.progress(step.index, total)
                if self.explain_step is not None and step.index >= self.explain_step:
                    break
        finally:
            if freeze:
                gc.unfreeze()
        self.result.steps = total
        self.result.processes = len([p for p in self.procs.values() if p.space is not None])
        self.result.seconds = time.monotonic() - start
        if self.progress is not None:
            self.progress(total, total)
        return self.result

    def _proc(self, pid: int) -> Proc:
        proc = self.procs.get(pid)
        if proc is None:
            proc = self.procs[pid] = Proc(pid, None, {})
        return proc

    def _step(self, step: TraceStep) -> None:
        kind = step.kind
        proc = self._proc(step.pid)
        a = step.args
        if kind in MM_KINDS:
            self._mm_call(proc, step)
        elif kind == "open":
            proc.fds[int(a["fd"] or 0)] = OpenFile(
                self._inode(a),
                readable=a.get("access") in ("r", "rw"),
                writable=a.get("access") in ("w", "rw"),
            )
        elif kind == "close":
            proc.fds.pop(int(a["fd"] or 0), None)
        elif kind == "dup":
            old, new = int(a["fd"] or 0), int(a["newfd"] or 0)
            if old in proc.fds:
                proc.fds[new] = proc.fds[old]
            else:
                proc.fds.pop(new, None)
        elif kind == "exec":
            self._exec(proc, step)
        elif kind == "clone":
            self._clone(proc, step)
        elif kind == "exit":
            if proc.space is not None and (step.before is not None or step.snapshot):
                self._check(proc.space, step.before, step, final=True)
                if step.snapshot is not None:
                    self._final(proc.space, step)
        elif kind == "syscall":
            self.result.unsupported[f"nr {a.get('nr')}"] += 1
            if proc.space is not None:
                self._check(proc.space, step.before, step)
                proc.space.needs_resync = True
                self._diverge(
                    Divergence(step.index, "unsupported", step.pid, describe(step), step.ret, None)
                )

    def _exec(self, proc: Proc, step: TraceStep) -> None:
        if proc.space is not None and step.before is not None:
            # the old address space's last state, before exec replaces it
            self._check(proc.space, step.before, step, final=True)
        profile = self._profile(step.process)
        vmas = step.snapshot or []
        mm = self._seed(vmas, step.args, profile)
        base = self.trace.info.get("mmap_base")
        if base and step.pid == 1 and step.index == 0:
            # a layout recorded with ASLR on (strace logs): mmap_base as the maps show it
            mm.mmap_base = int(base)
        space = Space(mm, vmas)
        proc.space = space
        proc.fds = dict(proc.fds)  # exec unshares the file table
        mm.files = proc.fds
        # the seed must reproduce the exec-time maps exactly; anything else is a model bug
        kernel = [(v.line, v.vmflags) for v in vmas]
        model = space.model_all()
        self.result.checks += 1
        if same_rows(kernel, model):
            self.result.checks_equal += 1
        else:
            self._diverge(
                Divergence(
                    step.index,
                    "maps",
                    step.pid,
                    describe(step),
                    None,
                    None,
                    detail="seeding the model from the exec snapshot:\n"
                    + "\n".join(rows_diff(kernel, model)),
                )
            )
            self._resync(space)

    def _clone(self, parent: Proc, step: TraceStep) -> None:
        flags = int(step.args["flags"] or 0)
        child = self._proc(int(step.args["child"] or 0))
        child.fds = parent.fds if flags & CLONE_FILES else dict(parent.fds)
        if parent.space is None:
            return
        if flags & CLONE_VM:
            child.space = parent.space
            return
        space = parent.space
        self._check(space, step.before, step)
        if child.pid not in self.active:
            return  # a child that was not followed: no copy of the mm needed
        vmas = step.snapshot
        try:
            mm = space.mm.fork()
        except Exception as e:  # fork.py missing or failing: start from the snapshot
            self._model_error(space, step, e, "forking (dup_mmap)")
            space.needs_resync = False
            mm = None
        if vmas is None:
            vmas = [VmaLine(r[0], r[1], False) for r in space.model_all()]
        if mm is None:
            mm = mm_from_entries(
                [(v.line, v.vmflags or None, v.anon) for v in vmas],
                profile=space.mm.profile,
                start_brk=space.mm.start_brk,
                brk=space.mm.brk,
                start_stack=space.mm.start_stack,
            )
        child.space = Space(mm, vmas)
        mm.files = child.fds
        child.space.dirty = None  # compare everything at its first call
        child.space.last_call = describe(step)
        child.space.last_step = step.index

    def _mm_call(self, proc: Proc, step: TraceStep) -> None:
        space = proc.space
        if space is None:
            return
        self._check(space, step.before, step)
        mm = space.mm
        mm.files = proc.fds
        a = step.args
        if step.fsize is not None:
            fd = int(a.get("fd") or -1)
            if fd in proc.fds:
                proc.fds[fd].inode.size = step.fsize
        kind = step.kind
        res = self.result
        res.calls += 1
        tracer: Tracer | None = None
        if self.explain_step == step.index:
            tracer = mm.tracer = Tracer()
            before_rows = space.model_all()
        try:
            model_ret, _fault = perform(mm, kind, dict(a), _HEADER)
        except Exception as e:
            self._model_error(space, step, e, "performing the call")
            model_ret = None
        finally:
            mm.tracer = None
        kret = step.ret
        if tracer is not None:
            self.explained = {
                "step": step,
                "events": tracer.events,
                "model_ret": model_ret,
                "before": before_rows,
                "after": space.mm is mm and space.model_all(),
            }
        stats = res.by_kind.setdefault(kind, [0, 0])
        stats[0] += 1
        if model_ret == kret:
            res.rets_equal += 1
            stats[1] += 1
        if (
            kind == "mmap"
            and kret >= 0
            and not int(a["flags"] or 0) & (MAP_FIXED | MAP_FIXED_NOREPLACE)
        ):
            res.placements += 1
            res.placed_exactly += model_ret == kret
        if (
            kind == "mremap"
            and kret >= 0
            and int(a["flags"] or 0) & MREMAP_MAYMOVE
            and not int(a["flags"] or 0) & MREMAP_FIXED
            and kret != a["old_addr"]
        ):
            res.moves += 1
            res.moved_exactly += model_ret == kret
        dirty = self._dirty(space, step, model_ret)
        if dirty is None or space.dirty is None:
            space.dirty = None
        else:
            space.dirty.extend(dirty)
        space.last_step = step.index
        space.last_call = step
        if model_ret is not None and model_ret != kret:
            addrs = [x for x in (kret, model_ret) if x > 0]
            for key in ("addr", "old_addr", "new_addr"):
                v = a.get(key)
                if isinstance(v, int) and v > 0:
                    addrs.append(v)
            rows = [(v.line, v.vmflags) for v in space.kernel_lines()]
            d = Divergence(
                step.index,
                "ret",
                step.pid,
                describe(step),
                kret,
                model_ret,
                kernel_maps=around(rows, addrs),
                model_maps=around(space.model_all(), addrs),
                detail="  kernel before (the model agreed):\n    "
                + "\n    ".join(around(rows, addrs)),
            )
            self._diverge(d)
            space.pending_after = d

    def _dirty(self, space: Space, step: TraceStep, model_ret: int | None) -> list[Range] | None:
        """The model ranges a call may have changed (merges reach the touching VMAs)."""
        a = step.args
        kind = step.kind
        rets = [r for r in (step.ret, model_ret) if r is not None and r >= 0]
        out: list[Range] = []
        if kind == "mmap":
            length = int(a["len"] or 0)
            for base in [*rets, int(a["addr"] or 0)]:
                if base:
                    out.append(page_range(base, length))
        elif kind == "mremap":
            old, new_len = int(a["old_addr"] or 0), int(a["new_len"] or 0)
            out.append(page_range(old, max(int(a["old_len"] or 0), new_len)))
            for base in [*rets, int(a["new_addr"] or 0)]:
                if base:
                    out.append(page_range(base, new_len))
        elif kind == "brk":
            mm = space.mm
            tops = [int(a["addr"] or 0), mm.brk, *rets]
            lo = min(mm.start_brk, *[t for t in tops if t]) if mm.start_brk else 0
            out.append(page_range(lo, max(tops) - lo + PAGE_SIZE))
        elif kind in ("mlockall", "munlockall"):
            return None
        elif "addr" in a and "len" in a:
            out.append(page_range(int(a["addr"] or 0), int(a["len"] or 0)))
        else:
            return None
        return out


def replay(
    trace: Trace,
    *,
    keep: int = 20,
    progress: Callable[[int, int], None] | None = None,
    check_every_call: bool = True,
) -> ReplayResult:
    """Replays ``trace`` on the model; see :class:`ReplayResult`.  ``check_every_call``
    False compares return values and final maps only."""
    return Replayer(trace, keep=keep, progress=progress, check_every_call=check_every_call).run()


def explain(trace: Trace, index: int) -> dict[str, Any] | None:
    """Replays up to step ``index`` and records the model's decisions for it."""
    r = Replayer(trace, explain=index)
    r.run()
    return r.explained


__all__ = ["Divergence", "FinalCheck", "ReplayResult", "Replayer", "Row", "explain", "replay"]
