"""The trace format: a recording every tool reads, with trace-only op kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from maplevm.kernel.runner import KernelExecutor, KernelRunError
from maplevm.scenario import format as sf
from maplevm.scenario import recording as sr
from maplevm.scenario.ops import OP_SPECS
from maplevm.trace import format as tf

from .helpers import FIXTURES

TRACE_ONLY = {k for k, spec in OP_SPECS.items() if spec.trace_only}


def test_trace_only_kinds() -> None:
    assert {"open", "close", "dup", "clone", "exec", "exit", "syscall"} <= TRACE_ONLY
    assert not TRACE_ONLY & tf.MM_KINDS


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trip_and_generic_reader(path: Path) -> None:
    text = path.read_text()
    trace = tf.loads(text, source=str(path))
    assert trace.dumps() == text  # byte-identical: deterministic and lossless
    rec = sr.loads(text, source=str(path))  # `maplevm check` / `show` read it fully
    assert rec.executor == "trace" and len(rec.steps) == len(trace.steps)
    assert rec.steps[0].op.kind == "exec"
    assert [s.op.kind for s in rec.steps] == [s.kind for s in trace.steps]
    assert tf.is_trace_text(text)


def test_trace_only_ops_parse_and_are_refused_where_they_do_not_belong() -> None:
    h = sf.Header()
    examples = [
        {"op": "open", "fd": 3, "path": "/x", "dev": "fe:00", "inode": 5, "size": 0, "access": "r"},
        {"op": "close", "fd": 3},
        {"op": "dup", "fd": 3, "newfd": 4},
        {"op": "clone", "child": 2, "flags": 17},
        {"op": "exec", "path": "/bin/x", "start_brk": 4096, "brk": 4096},
        {"op": "exit", "code": 0},
        {"op": "syscall", "nr": 30, "a0": 1},
    ]
    for i, obj in enumerate(examples):
        assert sf.parse_op(obj, index=i, header=h).spec.trace_only
    with pytest.raises(sf.ScriptError, match="only appears in traces"):
        sf.parse_op(
            {"op": "repeat", "count": 2, "body": {"op": "close", "fd": 3}}, index=0, header=h
        )
    script = sf.script_from_json({"maplevm": "script", "version": 1}, [examples[1]])
    with pytest.raises(KernelRunError, match="kernel runner cannot perform"):
        KernelExecutor(binary=Path("/nonexistent")).run(script)


def test_not_a_trace() -> None:
    with pytest.raises(sf.ScriptError, match="not a trace"):
        tf.loads('{"maplevm": "recording", "executor": "kernel"}\n')
    with pytest.raises(sf.ScriptError, match="bad trace step"):
        tf.loads('{"maplevm": "recording", "executor": "trace"}\n{"step": 3}\n')
