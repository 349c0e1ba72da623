"""Trace a real program with the C tracer (tracer.c), built on first use.

    from maplevm.trace.ptrace import trace_command
    trace = trace_command(["ls", "-la", "/usr/lib"])

The tracer runs the program with ASLR off (personality ADDR_NO_RANDOMIZE), writes its
events to a temporary file, and this module turns them into a
:class:`~maplevm.trace.format.Trace` (:mod:`maplevm.trace.convert`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

from maplevm import sysinfo
from maplevm.kernel.build import KernelUnavailable, build_c_program
from maplevm.mm.profile import KernelProfile
from maplevm.trace.convert import convert
from maplevm.trace.events import parse_events
from maplevm.trace.format import Trace

BINARY_NAME = "maplevm-tracer"
# Static, like the kernel runner: no dynamic loader to run before the program starts (it
# shows in the overhead of short programs such as /bin/true).
TRACER_CFLAGS = ("-static", "-O2", "-Wall", "-Wextra")


def tracer_source() -> str:
    return resources.files("maplevm.trace").joinpath("tracer.c").read_text(encoding="utf-8")


def build_tracer(force: bool = False) -> Path:
    """The tracer binary (built into the per-user cache if needed)."""
    return build_c_program(
        BINARY_NAME, tracer_source(), TRACER_CFLAGS, force=force, what="the tracer"
    )


def check_ptrace() -> None:
    """Raises KernelUnavailable when this process may not ptrace its children."""
    scope = sysinfo.read_text("/proc/sys/kernel/yama/ptrace_scope")
    if scope is not None and scope.strip() == "3":
        raise KernelUnavailable("ptrace is disabled (kernel.yama.ptrace_scope = 3)")


@dataclass
class TraceRun:
    """A finished trace and how the run went."""

    trace: Trace
    exit_code: int
    seconds: float
    events_bytes: int


def trace_command(
    command: Sequence[str],
    *,
    follow: bool = False,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    binary: Path | None = None,
    keep_events: Path | None = None,
    vmflags_every_call: bool = False,
) -> TraceRun:
    """Run ``command`` under the tracer and return its trace.

    ``follow``: trace child processes too (each with its own address space).  The program's
    standard streams are inherited unless given.  ``keep_events`` keeps the raw event file.
    ``vmflags_every_call``: read smaps (VmFlags included) before every memory call rather
    than maps plus a page-table scan for anonymous pages; slower, and a replay then checks
    the VmFlags after every call too (otherwise at exec, fork and exit).
    """
    if not command:
        raise ValueError("no command to trace")
    check_ptrace()
    tracer = binary or build_tracer()
    facts = sysinfo.machine_facts()
    with tempfile.TemporaryDirectory(prefix="maplevm-trace-") as tmp:
        events_path = keep_events or Path(tmp) / "events"
        argv = [str(tracer)]
        if follow:
            argv.append("-f")
        if vmflags_every_call:
            argv.append("-s")
        argv += ["-o", str(events_path), "--", *command]
        start = time.monotonic()
        proc = subprocess.run(
            argv, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=env, check=False
        )
        seconds = time.monotonic() - start
        if proc.returncode in (125, 126):
            raise KernelUnavailable(
                f"the tracer could not run {command[0]!r} (exit {proc.returncode}; its "
                "message is above)"
            )
        data = Path(events_path).read_bytes()
    info = {"tracer": "ptrace", "follow": follow, "vmflags_every_call": vmflags_every_call}
    trace = convert(parse_events(data), list(command), facts, info)
    # the model's view of these facts, for people reading the trace (replay recomputes it)
    trace.env["profile"] = KernelProfile.from_env(trace.env).to_json()
    return TraceRun(trace, proc.returncode, seconds, len(data))


def default_demo_command() -> list[str]:
    """What ``maplevm predict`` traces without a command: python importing a few modules."""
    import sys

    exe = os.path.realpath(sys.executable)
    return [exe, "-c", "import json, decimal, sqlite3"]
