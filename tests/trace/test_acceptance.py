"""Issue 5's acceptance programs, traced on this machine and replayed with no divergence.

Long (seconds to a minute each): marked slow, run with --runslow (make campaign).  Inputs are
generated in a temporary directory; sizes are those of the issue (sort of 50 MB) or bounded
(xz -9 of 4 MiB) so the campaign stays within minutes.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from maplevm.bench.trace import CHURN_CALLS, churn_binary
from maplevm.trace.ptrace import trace_command
from maplevm.trace.replay import replay
from maplevm.trace.report import render_divergence, summary

from .helpers import PROGRAMS, ROOT, compile_or_skip, tracer_or_skip

pytestmark = [pytest.mark.live, pytest.mark.slow]


def _text_file(path: Path, size: int) -> Path:
    rng = random.Random(5)
    words = [
        "".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 12))) for _ in range(5000)
    ]
    with open(path, "w") as fh:
        written = 0
        while written < size:
            line = " ".join(rng.choices(words, k=rng.randint(1, 9))) + "\n"
            fh.write(line)
            written += len(line)
    return path


def _git_repo(tmp: Path) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    env = ["-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for i in range(20):
        (repo / f"f{i}.txt").write_text(f"file {i}\n" * (i + 1))
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), *env, "commit", "-qm", "one"], check=True)
    (repo / "f1.txt").write_text("changed\n")
    return repo


# (command, follow children); the name ending in "+vmflags" traces with smaps before
# every call, so that the replay checks VmFlags after each call too
Setup = Callable[[Path], tuple[list[str], bool]]


def _python() -> str:
    return str(Path(sys.executable).resolve())


CASES: dict[str, Setup] = {
    "true": lambda tmp: (["/bin/true"], False),
    "ls": lambda tmp: (["ls", "-la", "/usr/lib"], False),
    "python-imports": lambda tmp: ([_python(), "-c", "import json, decimal, sqlite3"], False),
    "python-imports+vmflags": lambda tmp: (
        [_python(), "-c", "import json, decimal, sqlite3"],
        False,
    ),
    "gcc+vmflags": lambda tmp: (
        ["gcc", "-O2", "-c", str(ROOT / "src/maplevm/trace/tracer.c"), "-o", str(tmp / "t.o")],
        True,
    ),
    "git-commit+vmflags": lambda tmp: (
        [
            "git",
            "-C",
            str(_git_repo(tmp)),
            "-c",
            "user.email=t@e",
            "-c",
            "user.name=t",
            "commit",
            "-qam",
            "two",
        ],
        True,
    ),
    "sort-50MB": lambda tmp: (["sort", str(_text_file(tmp / "in.txt", 50 << 20))], False),
    "xz-9": lambda tmp: (["xz", "-9", "-k", "-c", str(_text_file(tmp / "in.txt", 4 << 20))], False),
    "xz-T2": lambda tmp: (
        ["xz", "-T2", "-6", "-k", "-c", str(_text_file(tmp / "in.txt", 8 << 20))],
        False,
    ),
    "tar-czf": lambda tmp: (["tar", "czf", str(tmp / "src.tgz"), "-C", str(ROOT), "src"], True),
    "python-threads": lambda tmp: ([_python(), str(PROGRAMS / "pool.py")], False),
    "python-multiprocessing": lambda tmp: ([_python(), str(PROGRAMS / "mp.py")], True),
    # JIT runtimes: reservations, PROT_NONE guards, many threads, madvise
    "node": lambda tmp: (
        ["node", "-e", "let a=[];for(let i=0;i<200000;i++)a.push({i});console.log(a.length)"],
        False,
    ),
    "java-version": lambda tmp: (["java", "-Xmx256m", "-version"], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_program_replays_exactly(name: str, tmp_path: Path) -> None:
    tracer = tracer_or_skip()
    cmd, follow = CASES[name](tmp_path)
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        pytest.skip(f"{cmd[0]} is not installed")
    run = trace_command(
        cmd,
        follow=follow,
        binary=tracer,
        stdout=subprocess.DEVNULL,
        vmflags_every_call=name.endswith("+vmflags"),
    )
    assert run.exit_code == 0
    res = replay(run.trace)
    print(summary(run.trace, res))
    assert res.exact, render_divergence(res.divergences[0])
    assert res.finals and res.placed_exactly == res.placements


def test_malloc_mremap_program(tmp_path: Path) -> None:
    tracer = tracer_or_skip()
    exe = compile_or_skip(PROGRAMS / "mallocs.c", tmp_path / "mallocs")
    run = trace_command([str(exe)], binary=tracer, stdout=subprocess.DEVNULL)
    res = replay(run.trace)
    assert res.exact, render_divergence(res.divergences[0])
    assert res.by_kind["mremap"][0] > 100 and res.moves > 100


def test_exotic_calls(tmp_path: Path) -> None:
    """Locking, advice, guard regions, MAP_GROWSDOWN, sealing, memfd, DONTUNMAP, failures."""
    tracer = tracer_or_skip()
    exe = compile_or_skip(PROGRAMS / "exotic.c", tmp_path / "exotic")
    for vmflags in (False, True):
        run = trace_command(
            [str(exe)], binary=tracer, stdout=subprocess.DEVNULL, vmflags_every_call=vmflags
        )
        assert run.exit_code == 0
        res = replay(run.trace)
        assert res.exact, render_divergence(res.divergences[0])
        assert res.rets_equal == res.calls > 40


def test_a_100k_call_trace_replays_exactly() -> None:
    """The issue's 100,000-syscall trace: every return and the final maps exact.

    Its speed (the issue asks for under 10 s) is measured by ``python -m maplevm.bench
    trace``, not asserted here: this machine is too noisy for timed assertions.
    """
    tracer = tracer_or_skip()
    exe = churn_binary()  # the benchmark's own build (the tracer needed the compiler too)
    run = trace_command([str(exe), str(CHURN_CALLS)], binary=tracer, stdout=subprocess.DEVNULL)
    calls = sum(1 for s in run.trace.steps if s.kind not in ("exec", "exit", "open", "close"))
    assert calls >= 100_000
    res = replay(run.trace)
    print(f"{calls} calls replayed in {res.seconds:.1f} s")
    assert res.exact, render_divergence(res.divergences[0])
    assert res.rets_equal == res.calls
