"""Readable text for operations, results and recordings (for people; programs read JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maplevm.scenario import flags as fl
from maplevm.scenario.format import Op, parse_int
from maplevm.scenario.recording import Recording, Step

# Which flag table names a field's value, per field name (for printing).
_TABLE_OF = {"prot": "PROT", "advice": "MADV"}
_FLAGS_TABLE = {
    "mmap": "MAP",
    "mremap": "MREMAP",
    "mlockall": "MCL",
    "mlock2": "MLOCK",
}


def _hex(value: int) -> str:
    return hex(value) if value >= 0 else "-" + hex(-value)


def describe_value(kind: str, name: str, value: int | str | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    table = _TABLE_OF.get(name) or (_FLAGS_TABLE.get(kind) if name == "flags" else None)
    if table is not None:
        return fl.flag_names(table, value)
    if name in ("fd", "count"):
        return str(value)
    return _hex(value) if abs(value) >= 10 else str(value)


def describe_call(op: Op, args: Mapping[str, int | str | None]) -> str:
    """``mprotect(0x7ffff7ff4000, 0x1000, PROT_READ)`` from resolved arguments."""
    if op.kind == "repeat":
        body = op.args["body"]
        assert isinstance(body, Op)
        inner = {k: v for k, v in args.items() if k not in ("count", "stride")}
        return (
            f"repeat {args['count']} x {describe_call(body, inner)} "
            f"(stride {_hex(int(args['stride'] or 0))})"
        )
    parts: list[str] = []
    for f in op.spec.fields:
        if f.kind == "body" or f.name not in args:
            continue
        value = args[f.name]
        if op.kind == "mmap" and f.name in ("file", "access", "fd"):
            if value is None or (f.name == "access" and args.get("file") is None):
                continue
        parts.append(describe_value(op.kind, f.name, value))
    return f"{op.kind}({', '.join(parts)})"


def _written(value: Any) -> str:
    """A field value as written in a script, references as ``$i+0x..``."""
    if isinstance(value, Op):
        return describe_op(value)
    if isinstance(value, dict) and "ref" in value:
        add = parse_int(value.get("add", 0))
        ref = f"${value['ref']}"
        return ref if not add else f"{ref}{'+' if add > 0 else '-'}{_hex(abs(add))}"
    if isinstance(value, list):
        return "|".join(str(v) for v in value) or "0"
    if isinstance(value, int) and not isinstance(value, bool):
        return _hex(value) if abs(value) >= 10 else str(value)
    return str(value)


def describe_op(op: Op) -> str:
    """An operation as written (only the fields it gives), e.g.
    ``mprotect(addr=$0+0x1000, len=0x1000, prot=PROT_READ)``; ``$i`` is step i's result."""
    parts = [f"{f.name}={_written(op.args[f.name])}" for f in op.spec.fields if f.name in op.args]
    return f"{op.kind}({', '.join(parts)})"


def describe_ret(step: Step) -> str:
    if step.died is not None:
        return f"helper died ({step.died})"
    text = fl.errno_name(step.ret) if step.ret < 0 else _hex(step.ret)
    if step.ret < 0:
        text = f"-{text}"
    if step.fault is not None:
        text += f" [{step.fault.signal} {step.fault.code} at {_hex(step.fault.addr)}]"
    if step.rets is not None:
        runs = ", ".join(
            f"{n} x {('-' + fl.errno_name(v)) if v < 0 else _hex(v)}" for v, n in step.rets
        )
        text += f" ({runs})"
    return text


def describe_step(step: Step) -> str:
    return f"[{step.index}] {describe_call(step.op, step.args)} = {describe_ret(step)}"


def render_recording(rec: Recording, *, maps: bool = True) -> str:
    """The whole recording as text: environment summary, then each step and its maps."""
    env = rec.env
    out: list[str] = []
    kernel = env.get("kernel", {})
    sysctl = env.get("sysctl", {})
    thp = env.get("thp", {})
    out.append(
        f"# {rec.header.name or '(unnamed)'} recorded by {rec.executor} on "
        f"{kernel.get('release', '?')} {kernel.get('machine', '')}".rstrip()
    )
    if env:
        out.append(
            f"# max_map_count={sysctl.get('vm.max_map_count')} "
            f"overcommit={sysctl.get('vm.overcommit_memory')} thp={thp.get('enabled')} "
            f"scratch={env.get('scratch_fs')}"
        )
    if maps:
        out.append("## initial")
        out.extend(_snapshot_lines(rec.initial.lines, rec.initial.vmflags))
    for step in rec.steps:
        out.append(describe_step(step))
        snap = step.snapshot
        if maps and snap is not None:
            if snap.lines is None:
                out.append(f"    ({snap.count} VMAs)")
            else:
                out.extend(_snapshot_lines(snap.lines, snap.vmflags))
    return "\n".join(out) + "\n"


def _snapshot_lines(lines: tuple[str, ...] | None, vmflags: tuple[str, ...] | None) -> list[str]:
    if lines is None:
        return []
    if vmflags is None:
        return ["    " + ln.rstrip() for ln in lines]
    return [f"    {ln.rstrip()}  [{f}]" for ln, f in zip(lines, vmflags, strict=True)]
