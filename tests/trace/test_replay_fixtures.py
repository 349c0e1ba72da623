"""Committed traces of real programs replay on the model with no divergence, and a
divergence, when there is one, is found at the right step and reported readably."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from maplevm.trace import format as tf
from maplevm.trace.replay import explain, replay
from maplevm.trace.report import explain_text, picture, render_divergence, summary

from .helpers import FIXTURES, TRACES


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_replays_exactly(path: Path) -> None:
    trace = tf.load(path)
    res = replay(trace)
    assert res.divergence_count == 0, render_divergence(res.divergences[0])
    assert res.exact and res.finals and res.finals_identical
    assert res.rets_equal == res.calls > 0
    assert res.placed_exactly == res.placements > 0
    assert res.checks_equal == res.checks
    assert res.processes == trace.info["processes"]


def test_fixture_coverage() -> None:
    """The fixtures cover threads, forks (vfork+exec and fork), mremap moves, files."""
    traces = {p.name: tf.load(p) for p in FIXTURES}
    kinds = {s.kind for t in traces.values() for s in t.steps}
    assert {"mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "open"} <= kinds
    assert {"clone", "exec", "exit", "close"} <= kinds
    assert traces["threads.trace.jsonl"].info["threads"] > 1
    assert traces["gcc-hello.trace.jsonl"].info["processes"] == 3
    assert traces["known.trace.jsonl"].info["processes"] == 2
    mp = traces["multiprocessing.trace.jsonl"]
    assert mp.info["processes"] == 4 and mp.info["threads"] > 4
    # files unlinked while mapped: the replay learns it from the maps text
    final = [v.line for s in mp.steps if s.kind == "exit" and s.snapshot for v in s.snapshot]
    assert any(line.endswith("(deleted)") and "/dev/shm/" in line for line in final)


def test_unfollowed_forks_and_execs_in_one_process() -> None:
    """python3 through pyenv's shell shim: bash, pyenv and python exec in turn in process 1,
    and forks whose children are not followed carry the parent's maps changes."""
    trace = tf.load(TRACES / "python-shim.trace.jsonl")
    assert trace.info["processes"] == 1 and trace.count("exec") >= 3
    clones = [s for s in trace.steps if s.kind == "clone"]
    assert clones and any(s.before for s in clones)
    assert not {int(s.args["child"] or 0) for s in clones} & {s.pid for s in trace.steps}
    res = replay(trace)
    assert res.exact and res.checks_equal == res.checks


def test_summary_text() -> None:
    trace = tf.load(TRACES / "ls.trace.jsonl")
    res = replay(trace)
    text = summary(trace, res)
    assert "ls -la /usr/lib" in text
    assert f"mmap without a fixed address: {res.placements}/{res.placements} placed exactly" in text
    assert "final maps: identical" in text


def _first_mmap(trace: tf.Trace) -> tf.TraceStep:
    return next(s for s in trace.steps if s.kind == "mmap" and not int(s.args["flags"] or 0) & 0x10)


def test_a_wrong_return_value_is_the_first_divergence() -> None:
    trace = tf.load(TRACES / "ls.trace.jsonl")
    step = _first_mmap(trace)
    step.ret += 0x1000
    res = replay(trace)
    first = res.first()
    assert first is not None and first.kind == "ret" and first.step == step.index
    assert first.kernel == step.ret and first.model == step.ret - 0x1000
    assert res.placed_exactly == res.placements - 1
    text = render_divergence(first)
    assert f"step {step.index}" in text and "kernel returned" in text
    assert "kernel after:" in first.detail  # filled in at the next snapshot


def test_a_wrong_snapshot_is_found_and_the_model_resyncs() -> None:
    trace = tf.load(TRACES / "true.trace.jsonl")
    # pretend the kernel showed a different protection after the first mmap
    target = next(s for s in trace.steps if s.before)
    assert target.before is not None
    edit = next(e for e in target.before if not isinstance(e, int))
    i = target.before.index(edit)
    fake = copy.copy(edit)
    fake.line = edit.line.replace("rw-p", "r--p", 1) if "rw-p" in edit.line else edit.line
    fake.vmflags = edit.vmflags + " lo"
    target.before[i] = fake
    res = replay(trace)
    first = res.first()
    assert first is not None and first.kind == "maps" and first.seen_at == target.index
    assert res.resyncs >= 1
    assert "--- kernel" in first.detail and "+++ model" in first.detail


def test_explain_names_the_kernel_functions() -> None:
    trace = tf.load(TRACES / "ls.trace.jsonl")
    step = _first_mmap(trace)
    found = explain(trace, step.index)
    assert found is not None and found["model_ret"] == step.ret
    names = [e.name for e in found["events"]]
    assert "gap" in names and "placed" in names
    text = explain_text(trace, found)
    assert "unmapped_area_topdown" in text and f"step {step.index}" in text
    fixed = next(s for s in trace.steps if s.kind == "mprotect")
    text = explain_text(trace, explain(trace, fixed.index) or {})
    assert "__split_vma" in text or "commit_merge" in text


def test_picture() -> None:
    trace = tf.load(TRACES / "true.trace.jsonl")
    final = trace.steps[-1].snapshot
    assert final is not None
    text = picture(final, width=100)
    assert "/usr/bin/true" in text and "[stack]" in text and "free" in text
    assert "[vsyscall]" not in text


def test_stack_growth_between_calls_is_replayed() -> None:
    """known.c grows [stack] by faults (no syscall shows it); the replay grows it too."""
    trace = tf.load(TRACES / "known.trace.jsonl")
    initial_stack = next(v for v in trace.initial if v.line.rstrip().endswith("[stack]"))
    grown = [
        s
        for s in trace.steps
        if s.before
        and any(
            not isinstance(e, int)
            and e.line.rstrip().endswith("[stack]")
            and e.start < initial_stack.start
            for e in s.before
        )
    ]
    assert grown
    res = replay(trace)
    assert res.exact and res.checks_equal == res.checks
