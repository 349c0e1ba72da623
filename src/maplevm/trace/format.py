"""Traces of real programs: a recording whose executor is ``"trace"``.

A trace is a recording (docs/scenario-format.md) so every tool reads it (``maplevm check``,
``show``), with a few additions described in docs/trace.md:

* the header has ``"executor": "trace"``, the traced command in ``script.description``, the
  traced process's facts in ``env`` (machine facts, rlimits, personality, layout) and a
  ``"trace"`` object (tracer, command, options, counts, warnings);
* ``initial`` is the address space the ELF loader built (smaps at the exec stop);
* steps carry ``pid`` and ``tid`` (the trace's own process and thread numbers, 1, 2, ... in
  order of appearance, so traces do not depend on real pids), and may carry ``before``: what
  the kernel's maps looked like when the call started, as changes since the previous memory
  call of the same address space (faults write pages and grow stacks between calls), and
  ``fsize``: the size of the mapped file when it was mapped;
* trace-only op kinds (``open``, ``close``, ``dup``, ``clone``, ``exec``, ``exit``,
  ``syscall``) describe the events a replay needs beyond the memory calls.

:class:`Trace` is the in-memory form.  :func:`loads` reads the JSON Lines quickly (the
resolved ``args`` of each step, without re-validating every operation); ``maplevm check``
validates a trace fully through :mod:`maplevm.scenario.recording`.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maplevm.scenario import flags as fl
from maplevm.scenario.format import FORMAT_VERSION, ScriptError, dump_json
from maplevm.scenario.ops import OP_SPECS
from maplevm.trace.events import Edit, VmaLine

EXECUTOR = "trace"
TRACE_VERSION = 1
# Op kinds that are memory system calls (the rest are trace-only events).
MM_KINDS = frozenset(k for k, spec in OP_SPECS.items() if not spec.trace_only) - {
    "touch",
    "truncate",
    "repeat",
    "fork",
}
Args = dict[str, int | str | None]


@dataclass(slots=True)
class TraceStep:
    """One event of a traced program: a memory call, or a file/process event."""

    index: int
    pid: int
    tid: int
    kind: str
    args: Args
    ret: int
    before: list[Edit] | None = None
    snapshot: list[VmaLine] | None = None
    fsize: int | None = None
    process: dict[str, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.index, "pid": self.pid, "tid": self.tid}
        out["op"] = op_json(self.kind, self.args, self.note)
        out["args"] = dict(self.args)
        out["ret"] = self.ret
        if self.before is not None:
            out["before"] = [edit_json(e) for e in self.before]
        if self.fsize is not None:
            out["fsize"] = self.fsize
        if self.process is not None:
            out["process"] = self.process
        if self.snapshot is not None:
            out["snapshot"] = snapshot_json(self.snapshot)
        return out


@dataclass
class Trace:
    """A traced program: its command, environment, first address space and events."""

    command: list[str]
    env: dict[str, Any]
    initial: list[VmaLine]
    steps: list[TraceStep]
    info: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def header_json(self) -> dict[str, Any]:
        script: dict[str, Any] = {"maplevm": "script", "version": FORMAT_VERSION}
        script["name"] = self.name or (Path(self.command[0]).name if self.command else "trace")
        if self.command:
            script["description"] = " ".join(self.command)
        info = {"version": TRACE_VERSION, **self.info, "command": list(self.command)}
        return {
            "maplevm": "recording",
            "version": FORMAT_VERSION,
            "executor": EXECUTOR,
            "script": script,
            "env": self.env,
            "trace": info,
            "initial": snapshot_json(self.initial),
        }

    def dumps(self) -> str:
        return "".join(line + "\n" for line in self.lines())

    def lines(self) -> Iterator[str]:
        yield dump_json(self.header_json())
        for step in self.steps:
            yield dump_json(step.to_json())

    def processes(self) -> list[int]:
        seen: dict[int, None] = {}
        for s in self.steps:
            seen.setdefault(s.pid, None)
        return list(seen)

    def count(self, kind: str) -> int:
        return sum(1 for s in self.steps if s.kind == kind)


# ---------------------------------------------------------------------------------------------
# JSON of the parts


def _int_json(value: int) -> int | str:
    if value >= 0x10000:
        return hex(value)
    if value <= -0x10000:
        return "-" + hex(-value)
    return value


def op_json(kind: str, args: Mapping[str, int | str | None], note: str | None = None) -> Any:
    """The op object of a step: addresses in hex, flags by name where they round-trip."""
    spec = OP_SPECS[kind]
    out: dict[str, Any] = {"op": kind}
    for f in spec.fields:
        if f.name not in args:
            continue
        value = args[f.name]
        if value is None and not f.required and f.kind != "name":
            continue
        if f.kind in ("flags", "enum") and isinstance(value, int):
            assert f.table is not None
            names = fl.flag_names(f.table, value)
            try:
                ok = fl.flag_value(f.table, names) == value
            except (KeyError, ValueError):
                ok = False
            out[f.name] = names if ok and not names.isdigit() else value
        elif f.kind == "int" and isinstance(value, int):
            out[f.name] = _int_json(value)
        else:
            out[f.name] = value
    if note:
        out["note"] = note
    return out


def edit_json(edit: Edit) -> Any:
    if isinstance(edit, int):
        return hex(edit)
    return [edit.line, edit.vmflags, edit.anon]


def edit_from_json(obj: Any) -> Edit:
    if isinstance(obj, str):
        return int(obj, 16)
    return VmaLine(str(obj[0]), str(obj[1]), bool(obj[2]))


def snapshot_json(vmas: list[VmaLine]) -> dict[str, Any]:
    return {"count": len(vmas), "vmas": [[v.line, v.vmflags, v.anon] for v in vmas]}


def snapshot_from_json(obj: Mapping[str, Any]) -> list[VmaLine]:
    if "vmas" in obj:
        return [VmaLine(str(v[0]), str(v[1]), bool(v[2])) for v in obj["vmas"]]
    if "maps" in obj:
        return [VmaLine(str(v), "", False) for v in obj["maps"]]
    return []


# ---------------------------------------------------------------------------------------------
# Reading


def is_trace_text(text: str) -> bool:
    head = text.lstrip()[:4096].split("\n", 1)[0]
    return '"recording"' in head and '"executor": "trace"' in head


def loads(text: str, source: str = "<trace>") -> Trace:
    """A trace from its JSON Lines (fast: the steps' resolved ``args`` are used as they are)."""
    # Nothing read here is garbage: no collections while a million objects are made.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _loads(text, source)
    finally:
        if enabled:
            gc.enable()


def _loads(text: str, source: str) -> Trace:
    header: dict[str, Any] | None = None
    steps: list[TraceStep] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise ScriptError(f"not valid JSON: {e.msg}", source=source, line=number) from None
        if header is None:
            if not isinstance(obj, dict) or obj.get("executor") != EXECUTOR:
                raise ScriptError(
                    'not a trace: the first line must be {"maplevm": "recording", '
                    '"executor": "trace", ...}',
                    source=source,
                    line=number,
                )
            header = obj
            continue
        try:
            steps.append(_step_from_json(obj, len(steps)))
        except (KeyError, TypeError, ValueError) as e:
            raise ScriptError(f"bad trace step: {e}", source=source, line=number) from None
    if header is None:
        raise ScriptError("empty trace", source=source)
    info = dict(header.get("trace", {}))
    command = [str(x) for x in info.pop("command", [])]
    info.pop("version", None)
    return Trace(
        command=command,
        env=dict(header.get("env", {})),
        initial=snapshot_from_json(header.get("initial", {})),
        steps=steps,
        info=info,
        name=str(header.get("script", {}).get("name", "")),
    )


def _step_from_json(obj: Mapping[str, Any], index: int) -> TraceStep:
    if obj.get("step") != index:
        raise ValueError(f"expected step {index}, got {obj.get('step')!r}")
    op = obj["op"]
    kind = str(op["op"])
    if kind not in OP_SPECS:
        raise ValueError(f"unknown op {kind!r}")
    before = obj.get("before")
    snap = obj.get("snapshot")
    args = obj.get("args")
    return TraceStep(
        index,
        int(obj.get("pid", 1)),
        int(obj.get("tid", obj.get("pid", 1))),
        kind,
        {} if args is None else dict(args),
        int(obj["ret"]),
        None if before is None else _edits_from_json(before),
        None if snap is None else snapshot_from_json(snap),
        obj.get("fsize"),
        obj.get("process"),
        op.get("note"),
    )


def _edits_from_json(edits: list[Any]) -> list[Edit]:
    """``edit_from_json`` of each (inlined: a long trace has hundreds of thousands)."""
    return [
        int(e, 16) if isinstance(e, str) else VmaLine(str(e[0]), str(e[1]), bool(e[2]))
        for e in edits
    ]


def load(path: str | Path) -> Trace:
    p = Path(path)
    return loads(p.read_text(encoding="utf-8", errors="surrogateescape"), source=str(p))


def dump(trace: Trace, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
        for line in trace.lines():
            fh.write(line + "\n")
