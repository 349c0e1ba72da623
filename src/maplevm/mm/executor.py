"""The model as an executor of operation scripts (the counterpart of the kernel runner).

``ModelExecutor(base).run(script)`` starts an :class:`~maplevm.mm.mm_struct.MM` from a
kernel recording's environment and initial address space (the same helper process, the
same layout), performs every operation through the model's syscalls and records returns,
faults and snapshots in the kernel runner's format, so the two recordings compare op by op.

Without a base, the executor asks the kernel runner for the initial state of an empty
script with the same header (that needs the live kernel; pass ``base`` to avoid it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from maplevm.mm.flags import MAP_ANONYMOUS, PAGE_SIZE
from maplevm.mm.mm_struct import MM
from maplevm.mm.proc_maps import smaps_entries
from maplevm.mm.profile import KernelProfile
from maplevm.mm.seed import mm_from_entries
from maplevm.scenario.format import Header, Op, Script, resolve_args
from maplevm.scenario.maps import Normaliser
from maplevm.scenario.recording import Fault, Recording, Snapshot, Step, run_length

FILE_FD_BASE = 3
BaseProvider = Callable[[Script], Recording]


def kernel_base(script: Script) -> Recording:
    """The kernel runner's recording of an empty script with ``script``'s header."""
    runner = importlib.import_module("maplevm.kernel.runner")
    executor = runner.KernelExecutor()
    empty = Script(script.header, ())
    recording: Recording = executor.run(empty)
    return recording


class ModelExecutor:
    """Runs scripts on the model.  ``base``: a recording (or a function of the script
    returning one) whose env and initial snapshot seed the address space."""

    name = "model"

    def __init__(
        self, base: Recording | BaseProvider | None = None, profile: KernelProfile | None = None
    ) -> None:
        self._base = base
        self._profile = profile
        self._cache: dict[str, Recording] = {}
        self.last_mm: MM | None = None

    def base_for(self, script: Script) -> Recording:
        if isinstance(self._base, Recording):
            return self._base
        key = Script(script.header, ()).dumps()
        if key not in self._cache:
            provider = self._base if self._base is not None else kernel_base
            self._cache[key] = provider(script)
        return self._cache[key]

    def new_mm(self, base: Recording, header: Header) -> MM:
        """The model's address space at the start of a script run on ``base``."""
        profile = self._profile or KernelProfile.from_env(dict(base.env))
        snap = base.initial
        assert snap.lines is not None
        layout = dict(base.env.get("layout", {}))
        entries = zip(
            snap.lines,
            snap.vmflags or [None] * len(snap.lines),
            snap.anon or [None] * len(snap.lines),
            strict=True,
        )
        mm = mm_from_entries(
            entries,
            profile=profile,
            start_brk=layout.get("start_brk"),
            brk=layout.get("brk"),
            start_stack=layout.get("start_stack"),
            end_data=int(layout.get("end_data", 0)),
            start_data=int(layout.get("start_data", 0)),
        )
        for i, f in enumerate(header.files):
            inode_fd = mm.open_file(
                f"$SCRATCH/{f.name}", f.size, fd=FILE_FD_BASE + 2 * i, dev="00:00"
            )
            mm.open_file(
                "",
                0,
                writable=False,
                fd=FILE_FD_BASE + 2 * i + 1,
                same_inode_as=inode_fd,
            )
        return mm

    def run(self, script: Script) -> Recording:
        base = self.base_for(script)
        mm = self.new_mm(base, script.header)
        self.last_mm = mm
        normaliser = Normaliser()
        initial = _snapshot(mm, "full", normaliser)
        assert initial is not None
        results: list[int] = []
        steps: list[Step] = []
        for i, op in enumerate(script.ops):
            if op.kind == "fork":
                # The kernel runner carries on in the child; so does the model.
                mm = mm.fork()
                self.last_mm = mm
            step = self._step(mm, script, i, op, results, normaliser)
            steps.append(step)
            results.append(step.ret)
        env = dict(base.env)
        return Recording(script.header, env, initial, tuple(steps), executor="model")

    def _step(
        self,
        mm: MM,
        script: Script,
        i: int,
        op: Op,
        results: list[int],
        normaliser: Normaliser,
    ) -> Step:
        mode = script.snapshot_mode(i)
        if op.kind == "repeat":
            body = op.args["body"]
            assert isinstance(body, Op)
            a = resolve_args(op, results)
            count = int(a["count"] or 0)
            stride = int(a["stride"] or 0)
            base = resolve_args(body, results)
            field = body.spec.addr_field
            rets: list[int] = []
            fault: Fault | None = None
            for k in range(count):
                args = dict(base)
                if field is not None and stride:
                    args[field] = int(base[field] or 0) + k * stride
                ret, fault = perform(mm, body.kind, args, script.header)
                rets.append(ret)
            args_out = {"count": count, "stride": stride, **base}
            return Step(
                i,
                op,
                args_out,
                rets[-1] if rets else 0,
                _snapshot(mm, mode, normaliser),
                fault,
                rets=run_length(rets),
            )
        args = resolve_args(op, results)
        ret, fault = perform(mm, op.kind, args, script.header)
        return Step(i, op, args, ret, _snapshot(mm, mode, normaliser), fault)


def _i(v: Any) -> int:
    return 0 if v is None else int(v)


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def perform(mm: MM, kind: str, a: dict[str, Any], header: Header) -> tuple[int, Fault | None]:
    """One operation on the model: ``(return value, fault)`` as the kernel runner reports."""
    if kind == "mmap":
        if a.get("file") is not None:
            idx = header.file_index(str(a["file"]))
            fd = FILE_FD_BASE + 2 * idx + (1 if a.get("access") == "ro" else 0)
        elif a.get("fd") is not None:
            fd = _i(a["fd"])
        else:
            fd = -1
        flags = _i(a["flags"])
        if fd == -1 and not flags & MAP_ANONYMOUS:
            fd = -1
        ret = mm.sys_mmap(_i(a["addr"]), _i(a["len"]), _i(a["prot"]), flags, fd, _i(a["offset"]))
        return _s64(ret), None
    if kind == "munmap":
        return mm.sys_munmap(_i(a["addr"]), _i(a["len"])), None
    if kind == "mprotect":
        return mm.sys_mprotect(_i(a["addr"]), _i(a["len"]), _i(a["prot"])), None
    if kind == "mremap":
        ret = mm.sys_mremap(
            _i(a["old_addr"]), _i(a["old_len"]), _i(a["new_len"]), _i(a["flags"]), _i(a["new_addr"])
        )
        return _s64(ret), None
    if kind == "brk":
        return _s64(mm.sys_brk(_i(a["addr"]))), None
    if kind == "madvise":
        return mm.sys_madvise(_i(a["addr"]), _i(a["len"]), _i(a["advice"])), None
    if kind == "mlock":
        return mm.sys_mlock(_i(a["addr"]), _i(a["len"])), None
    if kind == "munlock":
        return mm.sys_munlock(_i(a["addr"]), _i(a["len"])), None
    if kind == "mlock2":
        return mm.sys_mlock2(_i(a["addr"]), _i(a["len"]), _i(a["flags"])), None
    if kind == "mlockall":
        return mm.sys_mlockall(_i(a["flags"])), None
    if kind == "munlockall":
        return mm.sys_munlockall(), None
    if kind == "mseal":
        return mm.sys_mseal(_i(a["addr"]), _i(a["len"]), _i(a["flags"])), None
    if kind == "set_vma_anon_name":
        name = a.get("name")
        return mm.sys_prctl_set_vma_anon_name(
            _i(a["addr"]), _i(a["len"]), None if name is None else str(name)
        ), None
    if kind == "touch":
        from maplevm.mm.fault import fault_result

        addr = _i(a["addr"])
        ret, code = fault_result(mm, addr, a.get("access") != "read")
        if code is None:
            return ret, None
        signal = "SIGBUS" if code.startswith("BUS") else "SIGSEGV"
        where = 0 if code == "SI_KERNEL" else addr & ((1 << 64) - 1)
        return ret, Fault(signal, code, where)
    if kind == "truncate":
        idx = header.file_index(str(a["file"]))
        return mm.ftruncate(FILE_FD_BASE + 2 * idx, _i(a["size"])), None
    if kind == "fork":
        return 0, None  # the executor has already switched to the child
    raise ValueError(f"the model cannot perform {kind!r}")


def _snapshot(mm: MM, mode: str, normaliser: Normaliser) -> Snapshot | None:
    if mode == "none":
        return None
    entries = smaps_entries(mm)
    if mode == "count":
        return Snapshot(len(entries))
    lines = tuple(normaliser.line(e[0]) for e in entries)
    if mode == "maps":
        return Snapshot(len(lines), lines)
    return Snapshot(len(lines), lines, tuple(e[1] for e in entries), tuple(e[2] for e in entries))


_ = PAGE_SIZE
