"""``python -m maplevm.bench trace``: what tracing costs a program, and how fast a replay is.

Overhead: each program runs plain (``setarch -R``, address-space randomisation off as in a
trace) and under the tracer binary, alternately, ``--repeats`` times; printed are the best
and median wall times of each and their ratios (traced / plain).  On a virtual machine a
stop of the traced program costs most when the machine is idle (waking a halted CPU goes
through the hypervisor), so quote the load average with the numbers.

Replay: ``churn.c`` (shipped beside this module) makes about 100,000 memory calls (mmap,
mprotect pairs, mremap moves, munmap); its trace is written to a file, then loaded and
replayed on the model ``--replay-repeats`` times, with ``/proc/PID/maps`` compared after every call
(the default of ``maplevm replay``) and with returns and final maps only (``--fast``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from maplevm.bench.table import render_table

CHURN_CALLS = 86_000  # loop iterations of churn.c giving just over 100,000 memory calls


def default_programs() -> list[tuple[str, list[str]]]:
    """Syscall-light programs: (label, argv)."""
    python = os.path.realpath(sys.executable)
    return [
        ("/bin/true", ["/bin/true"]),
        ("ls -la /usr/lib", ["ls", "-la", "/usr/lib"]),
        ("python3 imports", [python, "-c", "import json, decimal, sqlite3"]),
    ]


@dataclass
class Overhead:
    label: str
    plain: list[float]
    traced: list[float]

    @property
    def best_ratio(self) -> float:
        return min(self.traced) / min(self.plain)

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.traced) / statistics.median(self.plain)


def _wall(argv: Sequence[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def measure_overhead(
    programs: Sequence[tuple[str, list[str]]],
    repeats: int,
    progress: Callable[[str], None] | None = None,
) -> list[Overhead]:
    """Plain and traced runs of each program, alternating (noise falls on both alike)."""
    from maplevm.trace.ptrace import build_tracer, check_ptrace

    check_ptrace()
    tracer = str(build_tracer())
    setarch = ["setarch", "-R"] if shutil.which("setarch") else []
    out = []
    with tempfile.TemporaryDirectory(prefix="maplevm-bench-") as tmp:
        events = str(Path(tmp) / "events")
        for label, argv in programs:
            plain: list[float] = []
            traced: list[float] = []
            _wall([*setarch, *argv])  # warm the page cache
            for rep in range(repeats):
                if progress:
                    progress(f"overhead  {label:<24} {rep + 1}/{repeats}")
                plain.append(_wall([*setarch, *argv]))
                traced.append(_wall([tracer, "-o", events, "--", *argv]))
            out.append(Overhead(label, plain, traced))
    return out


@dataclass
class ReplaySpeed:
    calls: int
    trace_bytes: int
    load: list[float]
    replay: list[float]
    replay_fast: list[float]
    exact: bool


def churn_binary() -> Path:
    """churn.c, built into the per-user cache like the other shipped C programs."""
    from maplevm.kernel.build import build_c_program

    source = resources.files("maplevm.bench").joinpath("churn.c").read_text(encoding="utf-8")
    return build_c_program("maplevm-churn", source, ("-O2", "-Wall"), what="churn.c")


def measure_replay(
    repeats: int, iterations: int = CHURN_CALLS, progress: Callable[[str], None] | None = None
) -> ReplaySpeed:
    """Trace churn.c once, then load and replay the trace ``repeats`` times each way."""
    from maplevm.trace import format as trace_format
    from maplevm.trace.ptrace import trace_command
    from maplevm.trace.replay import replay

    with tempfile.TemporaryDirectory(prefix="maplevm-bench-") as tmpdir:
        tmp = Path(tmpdir)
        exe = churn_binary()
        if progress:
            progress("replay    tracing churn")
        run = trace_command([str(exe), str(iterations)], stdout=subprocess.DEVNULL)
        path = tmp / "churn.trace"
        trace_format.dump(run.trace, path)
        size = path.stat().st_size
        loads: list[float] = []
        full: list[float] = []
        fast: list[float] = []
        exact = True
        calls = 0
        for rep in range(repeats):
            if progress:
                progress(f"replay    {rep + 1}/{repeats}")
            t0 = time.perf_counter()
            trace = trace_format.load(path)
            loads.append(time.perf_counter() - t0)
            for check, sink in ((True, full), (False, fast)):
                t0 = time.perf_counter()
                res = replay(trace, check_every_call=check)
                sink.append(time.perf_counter() - t0)
                exact = exact and res.exact
                calls = res.calls
    return ReplaySpeed(calls, size, loads, full, fast, exact)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_overhead(rows: Sequence[Overhead]) -> str:
    head = ["program", "plain best", "plain median", "traced best", "traced median", "ratio"]
    table = [head]
    for r in rows:
        table.append(
            [
                r.label,
                _ms(min(r.plain)),
                _ms(statistics.median(r.plain)),
                _ms(min(r.traced)),
                _ms(statistics.median(r.traced)),
                f"{r.best_ratio:.1f}x / {r.median_ratio:.1f}x",
            ]
        )
    return render_table(table, left=1) + "\n(ratio: traced / plain, of the best and of the medians)"


def format_replay(r: ReplaySpeed) -> str:
    load = statistics.median(r.load)
    full = statistics.median(r.replay)
    fast = statistics.median(r.replay_fast)
    return "\n".join(
        [
            f"trace of {r.calls:,} memory calls ({r.trace_bytes / 1e6:.0f} MB), "
            f"{'every return and final maps exact' if r.exact else 'DIVERGED'}; "
            f"medians of {len(r.load)}:",
            f"  load {load:.2f} s",
            f"  replay, maps compared after every call {full:.2f} s"
            f"  (load + replay {load + full:.2f} s)",
            f"  replay --fast (returns and final maps) {fast:.2f} s"
            f"  (load + replay {load + fast:.2f} s)",
        ]
    )
