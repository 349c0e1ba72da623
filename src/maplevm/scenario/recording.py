"""Recordings: what an executor did with a script, step by step.

JSON Lines again: a header line (the script's header, facts about the environment, the address
space before the first operation), then one line per operation with its resolved arguments,
its return value and the address space after it.  docs/scenario-format.md describes every
field.  Everything in a recording is deterministic for a given script, kernel and machine
configuration; nothing time-dependent is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maplevm.scenario.format import (
    FORMAT_VERSION,
    Header,
    Op,
    Script,
    ScriptError,
    dump_json,
    iter_json_lines,
    parse_header,
    parse_op,
)


@dataclass(frozen=True)
class Snapshot:
    """The address space at one point: maps lines, and per line VmFlags and anon pages.

    ``vmflags``/``anon`` are None when only maps was read; ``lines`` is None when only the
    number of VMAs (maps lines, [vsyscall] included) was taken.
    """

    count: int
    lines: tuple[str, ...] | None = None
    vmflags: tuple[str, ...] | None = None
    anon: tuple[bool, ...] | None = None

    @property
    def mode(self) -> str:
        if self.lines is None:
            return "count"
        return "maps" if self.vmflags is None else "full"

    def to_json(self) -> dict[str, Any]:
        if self.lines is None:
            return {"count": self.count}
        if self.vmflags is None or self.anon is None:
            return {"count": self.count, "maps": list(self.lines)}
        return {
            "count": self.count,
            "vmas": [
                [ln, f, a] for ln, f, a in zip(self.lines, self.vmflags, self.anon, strict=True)
            ],
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Snapshot:
        count = int(obj["count"])
        if "vmas" in obj:
            vmas = obj["vmas"]
            return Snapshot(
                count,
                tuple(str(v[0]) for v in vmas),
                tuple(str(v[1]) for v in vmas),
                tuple(bool(v[2]) for v in vmas),
            )
        if "maps" in obj:
            return Snapshot(count, tuple(str(x) for x in obj["maps"]))
        return Snapshot(count)

    def maps_text(self) -> str:
        if self.lines is None:
            raise ValueError("this snapshot only counted the VMAs")
        return "".join(line + "\n" for line in self.lines)


@dataclass(frozen=True)
class Fault:
    """The signal a ``touch`` took: name, si_code name (or number) and si_addr."""

    signal: str
    code: str
    addr: int

    def to_json(self) -> dict[str, Any]:
        return {"signal": self.signal, "code": self.code, "addr": self.addr}

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Fault:
        return Fault(str(obj["signal"]), str(obj["code"]), int(obj["addr"]))


@dataclass(frozen=True)
class Step:
    """One operation's outcome.

    ``ret`` is the raw return (address, 0 or -errno; the break for brk; for a repeat the last
    iteration's).  ``rets`` is a repeat's run-length list ``[(value, times), ...]``.  ``died``
    names the signal that killed the executor during this operation (the recording ends).
    """

    index: int
    op: Op
    args: Mapping[str, int | str | None]
    ret: int
    snapshot: Snapshot | None = None
    fault: Fault | None = None
    rets: tuple[tuple[int, int], ...] | None = None
    died: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.index, "op": self.op.to_json(), "args": dict(self.args)}
        out["ret"] = self.ret
        if self.rets is not None:
            out["rets"] = [list(r) for r in self.rets]
        if self.fault is not None:
            out["fault"] = self.fault.to_json()
        if self.died is not None:
            out["died"] = self.died
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot.to_json()
        return out


@dataclass(frozen=True)
class Recording:
    """A script's header, the executor's environment, the initial snapshot and the steps."""

    header: Header
    env: Mapping[str, Any]
    initial: Snapshot
    steps: tuple[Step, ...]
    executor: str = "kernel"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def script(self) -> Script:
        return Script(self.header, tuple(s.op for s in self.steps))

    def snapshot_after(self, i: int) -> Snapshot:
        """The last snapshot taken at or before step i (-1: the initial one)."""
        for j in range(i, -1, -1):
            snap = self.steps[j].snapshot
            if snap is not None and snap.lines is not None:
                return snap
        return self.initial

    def maps_after(self, i: int) -> list[str]:
        """The maps lines after step i (-1: before the first operation)."""
        lines = self.snapshot_after(i).lines
        assert lines is not None
        return list(lines)

    def vmflags_after(self, i: int) -> list[str] | None:
        flags = self.snapshot_after(i).vmflags
        return None if flags is None else list(flags)

    def rets(self) -> list[int]:
        return [s.ret for s in self.steps]

    def header_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "maplevm": "recording",
            "version": FORMAT_VERSION,
            "executor": self.executor,
            "script": self.header.to_json(),
            "env": dict(self.env),
        }
        out.update(self.extra)
        out["initial"] = self.initial.to_json()
        return out

    def dumps(self) -> str:
        lines = [dump_json(self.header_json())]
        lines.extend(dump_json(s.to_json()) for s in self.steps)
        return "\n".join(lines) + "\n"


def _step_from_json(obj: Any, header: Header, index: int, source: str, line: int) -> Step:
    if not isinstance(obj, dict) or obj.get("step") != index:
        raise ScriptError(f"expected step {index}", source=source, line=line)
    op = parse_op(obj["op"], index=index, header=header, source=source, line=line)
    snap = obj.get("snapshot")
    fault = obj.get("fault")
    rets = obj.get("rets")
    return Step(
        index=index,
        op=op,
        args=dict(obj.get("args", {})),
        ret=int(obj["ret"]),
        snapshot=None if snap is None else Snapshot.from_json(snap),
        fault=None if fault is None else Fault.from_json(fault),
        rets=None if rets is None else tuple((int(v), int(n)) for v, n in rets),
        died=obj.get("died"),
    )


def loads(text: str, source: str = "<recording>") -> Recording:
    first: dict[str, Any] | None = None
    header: Header | None = None
    steps: list[Step] = []
    for number, obj in iter_json_lines(text, source):
        if first is None:
            if not isinstance(obj, dict) or obj.get("maplevm") != "recording":
                raise ScriptError(
                    'the first line must be {"maplevm": "recording", ...}',
                    source=source,
                    line=number,
                )
            first = obj
            header = parse_header(obj["script"], source=source, line=number)
            continue
        assert header is not None
        steps.append(_step_from_json(obj, header, len(steps), source, number))
    if first is None or header is None:
        raise ScriptError("empty recording", source=source)
    known = {"maplevm", "version", "executor", "script", "env", "initial"}
    return Recording(
        header=header,
        env=first.get("env", {}),
        initial=Snapshot.from_json(first["initial"]),
        steps=tuple(steps),
        executor=str(first.get("executor", "")),
        extra={k: v for k, v in first.items() if k not in known},
    )


def load(path: str | Path) -> Recording:
    p = Path(path)
    return loads(p.read_text(encoding="utf-8"), source=str(p))


def dump(recording: Recording, path: str | Path) -> None:
    Path(path).write_text(recording.dumps(), encoding="utf-8")


def run_length(values: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """[0, 0, 0, -12] -> ((0, 3), (-12, 1))."""
    out: list[tuple[int, int]] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return tuple(out)
