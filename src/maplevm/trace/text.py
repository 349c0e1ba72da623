"""Readable text for trace steps (for people; programs read ``--json``)."""

from __future__ import annotations

from maplevm.scenario import flags as fl
from maplevm.scenario.format import Op
from maplevm.scenario.text import describe_call
from maplevm.trace.format import TraceStep
from maplevm.trace.syscalls import NAME

_OPS: dict[str, Op] = {}


def _op(kind: str) -> Op:
    op = _OPS.get(kind)
    if op is None:
        op = _OPS[kind] = Op(kind)
    return op


def describe(step: TraceStep) -> str:
    """``mmap(0, 0x2000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)``."""
    a = step.args
    if step.kind == "syscall":
        nr = int(a.get("nr") or 0)
        args = ", ".join(hex(int(a.get(f"a{i}") or 0)) for i in range(6))
        return f"{NAME.get(nr, f'syscall{nr}')}({args})"
    if step.kind == "open":
        return f"open({a.get('path')!r}) = fd {a.get('fd')}"
    if step.kind == "exec":
        return f"execve({a.get('path')!r})"
    if step.kind == "clone":
        return f"clone(flags={int(a.get('flags') or 0):#x}) = process {a.get('child')}"
    if step.kind == "exit":
        return f"exit({a.get('code')})"
    return describe_call(_op(step.kind), a)


def describe_ret(kind: str, ret: int | None) -> str:
    if ret is None:
        return "(no answer: the model raised)"
    if ret < 0 and kind != "brk":
        return f"-{fl.errno_name(ret)}"
    return hex(ret) if abs(ret) >= 10 else str(ret)
