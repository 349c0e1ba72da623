"""The tracer on the live kernel: a program with known calls, threads and a fork; traces
are deterministic; predict runs end to end.  Skipped (with the reason) without ptrace or gcc.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from maplevm.cli import main
from maplevm.trace import format as tf
from maplevm.trace.ptrace import trace_command
from maplevm.trace.replay import replay
from maplevm.trace.report import render_divergence

from .helpers import PROGRAMS, compile_or_skip, tracer_or_skip

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def tracer() -> Path:
    return tracer_or_skip()


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("programs") / "known"
    return compile_or_skip(PROGRAMS / "known.c", out, "-pthread")


def test_known_program(tracer: Path, known: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"x" * 10000)
    run = trace_command(
        [str(known), str(data)], follow=True, binary=tracer, stdout=subprocess.DEVNULL
    )
    assert run.exit_code == 0
    t = run.trace
    assert t.info["processes"] == 2 and t.info["threads"] == 3
    assert t.steps[0].kind == "exec" and t.steps[0].args["path"] == str(known)
    assert t.initial and t.initial[-1].line.rstrip().endswith("[vsyscall]")
    assert t.env["personality"].endswith("40000")  # ADDR_NO_RANDOMIZE
    mine = [s for s in t.steps if s.index > _last_ld_so_step(t)]
    kinds = [s.kind for s in mine if s.pid == 1 and s.tid == 1]
    # the first calls of main(), in order; the close is traced only where the tracer
    # cannot tell open files apart (no pidfd_getfd or kcmp)
    kcmp = t.info["open_files"] == "kcmp"
    assert kcmp or t.info["open_files"] == "closes traced"
    first = ["mmap", "mprotect", "mprotect", "mremap", "open", "mmap", "close", "munmap", "mmap"]
    if kcmp:
        first.remove("close")
        assert "close" not in kinds
    assert kinds[: len(first)] == first
    opened = next(s for s in mine if s.kind == "open")
    assert opened.args["path"] == str(data) and opened.args["size"] == 10000
    fixed = next(s for s in mine if s.kind == "mmap" and s.ret == 0x200000000)
    assert fixed.args["addr"] == 0x200000000
    assert any(s.tid == 2 and s.kind == "mmap" for s in t.steps)  # the thread's mapping
    clone = next(s for s in t.steps if s.kind == "clone")
    assert clone.args["child"] == 2 and clone.snapshot  # the child's copy of the mm
    assert any(s.pid == 2 and s.kind == "mmap" for s in t.steps)
    exits = [s for s in t.steps if s.kind == "exit"]
    assert sorted(s.pid for s in exits) == [1, 2] and all(s.snapshot for s in exits)
    res = replay(t)
    assert res.exact, render_divergence(res.divergences[0])
    assert res.moves == 1 and res.moved_exactly == 1


def _last_ld_so_step(t: tf.Trace) -> int:
    """The dynamic loader's work ends with its munmap of ld.so.cache's mapping."""
    cache = next(s.ret for s in t.steps if s.kind == "mmap" and s.args["fd"] == 3)
    return next(s.index for s in t.steps if s.kind == "munmap" and s.args["addr"] == cache)


def test_traces_are_deterministic(tracer: Path, known: Path) -> None:
    cmd = [str(known), "/etc/hostname"]
    a = trace_command(cmd, follow=True, binary=tracer, stdout=subprocess.DEVNULL)
    b = trace_command(cmd, follow=True, binary=tracer, stdout=subprocess.DEVNULL)
    assert a.trace.dumps() == b.trace.dumps()


def test_without_follow_children_are_not_recorded(tracer: Path, known: Path) -> None:
    run = trace_command([str(known), "/etc/hostname"], binary=tracer, stdout=subprocess.DEVNULL)
    assert run.exit_code == 0  # the child ran normally under the inherited filter
    assert {s.pid for s in run.trace.steps} == {1}
    assert replay(run.trace).exact


def test_exit_status_and_missing_program(tracer: Path) -> None:
    run = trace_command(["sh", "-c", "exit 3"], binary=tracer)
    assert run.exit_code == 3 and run.trace.info.get("exit_code") == 3
    run = trace_command(["/nonexistent/program"], binary=tracer, stderr=subprocess.DEVNULL)
    assert run.exit_code == 127 and run.trace.steps == []


def test_predict_command(tracer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--no-progress", "--", "/bin/true"]) == 0
    out = capsys.readouterr().out
    assert "placed exactly" in out and "final address space" in out and "[stack]" in out


def test_trace_command_writes_a_trace(
    tracer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    assert main(["trace", "--quiet", "-o", str(out), "--", "ls", str(tmp_path)]) == 0
    assert main(["replay", str(out), "--no-progress"]) == 0
    capsys.readouterr()


def test_open_file_identity(tracer: Path, tmp_path: Path) -> None:
    """Which open file a mapping comes from decides merges (files.c): a file reopened under
    the same number does not merge, the same open file and its dup do, a closed number
    gives EBADF.  With kcmp the tracer does not stop at closes; either way the replay is
    exact and the kernel's final maps show the expected VMAs."""
    exe = compile_or_skip(PROGRAMS / "files.c", tmp_path / "files")
    data = tmp_path / "data"
    data.write_bytes(b"y" * 4 * 4096)
    run = trace_command([str(exe), str(data)], binary=tracer, stdout=subprocess.PIPE)
    assert run.exit_code == 0
    t = run.trace
    final = [v.line for v in t.steps[-1].snapshot or []]
    mine = [ln for ln in final if ln.rstrip().endswith(str(data))]
    # pages 0 and 1 (two opens), pages 8-10 (one open file and its dup), page 11 (a third)
    offsets = [ln.split()[2] for ln in mine]
    assert offsets == ["00000000", "00001000", "00000000", "00003000"], final
    mmaps = [s for s in t.steps if s.kind == "mmap" and s.args["fd"] not in (None, -1)]
    assert any(s.ret == -9 for s in mmaps)  # EBADF
    if t.info["open_files"] == "kcmp":
        assert not any(s.kind == "close" and s.note != "found closed" for s in t.steps)
    res = replay(t)
    assert res.exact, render_divergence(res.divergences[0])
