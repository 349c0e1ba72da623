"""Shared paths and helpers of the trace tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maplevm.kernel.build import KernelUnavailable

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "tests" / "fixtures" / "traces"
PROGRAMS = Path(__file__).resolve().parent / "programs"
FIXTURES = sorted(TRACES.glob("*.trace.jsonl"))


def tracer_or_skip() -> Path:
    """The built tracer, or a skip naming what is missing."""
    from maplevm.trace.ptrace import build_tracer, check_ptrace

    try:
        check_ptrace()
        return build_tracer()
    except KernelUnavailable as e:
        pytest.skip(f"needs ptrace and a C compiler: {e}")


def compile_or_skip(source: Path, out: Path, *flags: str) -> Path:
    """Compiles a test program with gcc; skips (saying why) only when there is no compiler."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("needs gcc (or cc) on PATH to build the test program")
    proc = subprocess.run(
        [cc, "-O2", *flags, "-o", str(out), str(source)], capture_output=True, text=True
    )
    if proc.returncode != 0:  # a compiler that cannot build our own program is a failure
        pytest.fail(f"cannot build {source.name}: {proc.stderr.strip()[:400]}")
    return out
