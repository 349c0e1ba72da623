"""``python -m maplevm.bench mm``: the model's system calls per second beside the kernel's.

The same three workloads run on the live kernel (a small C program, mm_bench.c, timed
natively) and on the model, each with 1,000 / 10,000 / 60,000 VMAs already present (one
mapping with every other page made read-only): mmap+munmap pairs, mprotect of a random
page into a 3-way merge and back into a split, and a mixed mmap/mprotect/munmap sequence.
Numbers are medians of repeated runs; the ratio is kernel/model (how many times slower
the model is).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from maplevm.mm import MM
from maplevm.mm.flags import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE

BASE = 0x1_0000_0000
PAGE = 4096
SIZES = (1_000, 10_000, 60_000)
WORKLOADS = ("pairs", "mprotect", "mixed")
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MASK = (1 << 64) - 1


class Lcg:
    """The 64-bit LCG mm_bench.c uses, so both sides touch the same pages."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return self.state >> 33


def setup_model(nvmas: int) -> MM:
    """An MM with ``nvmas`` VMAs at BASE, built by the model's own syscalls."""
    mm = MM()
    pages = nvmas | 1
    assert mm.sys_mmap(BASE, pages * PAGE, RW, ANON | MAP_FIXED, -1, 0) == BASE
    for i in range(1, pages, 2):
        assert mm.sys_mprotect(BASE + i * PAGE, PAGE, PROT_READ) == 0
    return mm


def run_model(mm: MM, nvmas: int, workload: str, seed: int, budget: float) -> tuple[int, float]:
    """Run ``workload`` on the model for about ``budget`` seconds: (syscalls, seconds)."""
    rnd = Lcg(seed)
    pages = nvmas | 1
    evens = pages // 2
    syscalls = 0
    t0 = time.perf_counter()
    deadline = t0 + budget
    while True:
        for _ in range(50):
            if workload == "pairs":
                p = mm.sys_mmap(0, PAGE, RW, ANON, -1, 0)
                mm.sys_munmap(p, PAGE)
                syscalls += 2
            elif workload == "mprotect":
                i = 2 * (1 + rnd.next() % (evens - 1))
                mm.sys_mprotect(BASE + i * PAGE, PAGE, PROT_READ)
                mm.sys_mprotect(BASE + i * PAGE, PAGE, RW)
                syscalls += 2
            else:
                p = mm.sys_mmap(0, 4 * PAGE, RW, ANON, -1, 0)
                mm.sys_mprotect(p + PAGE, PAGE, PROT_READ)
                mm.sys_munmap(p, PAGE)
                mm.sys_munmap(p + PAGE, 3 * PAGE)
                syscalls += 4
        if time.perf_counter() > deadline:
            break
    return syscalls, time.perf_counter() - t0


def bench_binary() -> Path:
    from maplevm.kernel.build import CFLAGS, build_c_program

    source = resources.files("maplevm.bench").joinpath("mm_bench.c").read_text(encoding="utf-8")
    return build_c_program("maplevm-mm-bench", source, CFLAGS, what="the mm benchmark")


def run_kernel(binary: Path, nvmas: int, workload: str, seed: int, iterations: int) -> float:
    """Kernel syscalls per second for one run of mm_bench."""
    out = subprocess.run(
        [str(binary), str(nvmas), workload, str(iterations), str(seed)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]) / float(out[1])


@dataclass
class MmResult:
    vmas: int
    workload: str
    model: float
    kernel: float | None
    model_samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        return None if not self.kernel else self.kernel / self.model


def measure(
    sizes: Sequence[int] = SIZES,
    workloads: Sequence[str] = WORKLOADS,
    repeats: int = 5,
    budget: float = 1.0,
    with_kernel: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[MmResult]:
    binary = bench_binary() if with_kernel else None
    results = []
    for n in sizes:
        if progress:
            progress(f"building the model with {n:,} VMAs")
        base = setup_model(n)
        for wl in workloads:
            model_rates = []
            kernel_rates = []
            for rep in range(repeats):
                if progress:
                    progress(f"{n:>7,} VMAs  {wl:<9} model run {rep + 1}/{repeats}")
                # Each repetition starts from the same layout (the mm is rebuilt from scratch
                # only once per size; workloads leave the layout as they found it).
                calls, secs = run_model(base, n, wl, 1234 + rep, budget)
                model_rates.append(calls / secs)
                if binary is not None:
                    if progress:
                        progress(f"{n:>7,} VMAs  {wl:<9} kernel run {rep + 1}/{repeats}")
                    kernel_rates.append(run_kernel(binary, n, wl, 1234 + rep, 200_000))
            results.append(
                MmResult(
                    n,
                    wl,
                    statistics.median(model_rates),
                    statistics.median(kernel_rates) if kernel_rates else None,
                    model_rates,
                )
            )
    return results


def format_table(results: Sequence[MmResult]) -> str:
    from maplevm.bench.table import render_table
    from maplevm.bench.tree import format_rate

    rows = [["VMAs", "workload", "model syscalls/s", "kernel syscalls/s", "kernel/model"]]
    for r in results:
        rows.append(
            [
                f"{r.vmas:,}",
                r.workload,
                format_rate(r.model),
                "-" if r.kernel is None else format_rate(r.kernel),
                "-" if r.ratio is None else f"{r.ratio:.1f}x",
            ]
        )
    return render_table(rows, left=2)
