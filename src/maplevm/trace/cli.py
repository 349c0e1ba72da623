"""``maplevm trace``, ``replay``, ``predict`` and ``explain``: real programs on the model."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from maplevm.kernel.build import KernelUnavailable
from maplevm.scenario.format import ScriptError
from maplevm.scenario.progress import Progress
from maplevm.trace import format as tformat
from maplevm.trace.format import Trace
from maplevm.trace.replay import Replayer, ReplayResult
from maplevm.trace.report import explain_text, picture, render_divergence, summary, verdict

_RAW = argparse.RawDescriptionHelpFormatter

TRACE_HELP = """\
Run a program under ptrace with address-space randomisation off and record every memory
system call of every thread (mmap, munmap, mprotect, mremap, brk, madvise, mlock*, mseal,
prctl PR_SET_VMA, shmat/shmdt), the files behind its mappings, its forks and execs, which
VMAs hold anonymous pages before each call, and its final address space.  The result is a
recording (executor "trace") that `maplevm replay`, `show` and `check` read; see
docs/trace.md.

examples:
  maplevm trace -- /bin/true                      # -> true.trace.jsonl
  maplevm trace -o ls.jsonl -- ls -la /usr/lib
  maplevm trace -f -- gcc -c hello.c               # follow cc1, as, ... (own address spaces)
  maplevm trace --quiet -- sort big.txt            # the program's output to /dev/null
  maplevm trace --strace-log app.log --maps app.maps -o app.jsonl   # convert an strace log
"""

REPLAY_HELP = """\
Seed the model from the address space the kernel built at exec, replay every system call
of the trace, and compare each return value (above all the addresses the kernel chose for
mappings without MAP_FIXED), the address space after every call and the final maps.
Prints a summary and, at the first divergence, the call, both answers and the two address
spaces around it.  Exit status: 0 when the model agrees everywhere, 1 otherwise.

An strace log (strace -f -e trace=memory,desc,process -o LOG CMD) can be replayed too, with
the process's initial maps given by --maps (return values are compared; the log has no
snapshots).

examples:
  maplevm replay ls.trace.jsonl
  maplevm replay ls.trace.jsonl --json
  maplevm replay app.log --maps app.maps --final-maps app.final.maps
"""

PREDICT_HELP = """\
Trace a program and replay it on the model in one go: prints how well the model predicted
what the kernel did, and the final address space as a picture.  Without a command it traces
python importing a few modules.

examples:
  maplevm predict
  maplevm predict -- ls -la /usr/lib
  maplevm predict -f -- sh -c 'echo hi | tr a-z A-Z'
  maplevm predict --save py.trace.jsonl --json -- python3 -c 'import sqlite3'
"""

EXPLAIN_HELP = """\
Why the model chose what it chose for one operation of a trace: the gap the search found,
the alignment applied, guard gaps that forced a retry, the VMAs merged or split, in the
kernel's function names.  STEP is the step number shown by `maplevm show` or `replay`;
--first-divergence explains the first place the model and the kernel disagree.

examples:
  maplevm explain ls.trace.jsonl 12
  maplevm explain ls.trace.jsonl 12 30 31
  maplevm explain ls.trace.jsonl --first-divergence
"""


def _emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _command(args: argparse.Namespace) -> list[str]:
    cmd = list(args.command or [])
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    return cmd


def _program_streams(quiet: bool) -> dict[str, Any]:
    """The traced program's standard streams: inherited, or all /dev/null."""
    if not quiet:
        return {}
    return {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def _progress(enabled: bool | None, total: int, label: str) -> Progress:
    return Progress(total, label, enabled=enabled)


def load_any(path: str, maps: str | None = None, final_maps: str | None = None) -> Trace:
    """A trace file, or an strace log (with the initial maps from ``maps``)."""
    text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    if tformat.is_trace_text(text):
        return tformat.loads(text, source=path)
    from maplevm.trace.strace import read_maps_file, read_strace

    if maps is None:
        raise ScriptError(
            "not a maplevm trace; to replay an strace log give the process's initial maps "
            "with --maps FILE",
            source=path,
        )
    final = read_maps_file(final_maps) if final_maps else None
    return read_strace(text, read_maps_file(maps), final=final)


def run_replay(
    trace: Trace, *, progress: bool | None, keep: int = 20, every_call: bool = True
) -> ReplayResult:
    calls = len(trace.steps)
    with _progress(progress, calls, "replay") as bar:
        return Replayer(trace, keep=keep, progress=bar.callback, check_every_call=every_call).run()


# ---------------------------------------------------------------------------------------------


def cmd_trace(args: argparse.Namespace) -> int:
    from maplevm.trace.ptrace import trace_command

    if args.strace_log:
        if not args.maps:
            print("error: --strace-log needs --maps (the process's initial maps)", file=sys.stderr)
            return 2
        trace = load_any(args.strace_log, args.maps, args.final_maps)
        out = Path(args.output or Path(args.strace_log).with_suffix(".trace.jsonl").name)
        tformat.dump(trace, out)
        if args.json:
            _emit_json({"output": str(out), "steps": len(trace.steps)})
        else:
            print(f"{args.strace_log}: {len(trace.steps)} steps -> {out}")
        return 0
    cmd = _command(args)
    if not cmd:
        print("error: give the program to trace after --", file=sys.stderr)
        return 2
    try:
        run = trace_command(
            cmd,
            follow=args.follow,
            keep_events=Path(args.keep_events) if args.keep_events else None,
            vmflags_every_call=args.vmflags,
            **_program_streams(args.quiet),
        )
    except (KernelUnavailable, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trace = run.trace
    out = Path(args.output or f"{Path(cmd[0]).name}.trace.jsonl")
    tformat.dump(trace, out)
    calls = sum(1 for s in trace.steps if s.kind in tformat.MM_KINDS)
    info = {
        "output": str(out),
        "command": cmd,
        "exit_code": run.exit_code,
        "seconds": round(run.seconds, 3),
        "steps": len(trace.steps),
        "memory_calls": calls,
        "processes": trace.info.get("processes"),
        "threads": trace.info.get("threads"),
    }
    if args.json:
        _emit_json(info)
    else:
        print(
            f"traced {' '.join(cmd)} in {run.seconds:.2f} s (exit {run.exit_code}): "
            f"{info['processes']} process(es), {info['threads']} thread(s), "
            f"{calls} memory calls, {len(trace.steps)} events -> {out}",
            file=sys.stderr,
        )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        trace = load_any(args.trace, args.maps, args.final_maps)
    except (ScriptError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    res = run_replay(trace, progress=args.progress, keep=args.keep, every_call=not args.fast)
    if args.json:
        _emit_json(res.to_json())
        return 0 if res.exact else 1
    print(summary(trace, res))
    print(verdict(res))
    shown = res.divergences if args.all else res.divergences[:1]
    for d in shown:
        print(render_divergence(d))
    return 0 if res.exact else 1


def cmd_predict(args: argparse.Namespace) -> int:
    return run_predict(
        _command(args),
        follow=args.follow,
        save=args.save,
        show_output=args.show_output,
        show_picture=not args.no_picture,
        width=args.width,
        as_json=args.json,
        progress=args.progress,
    )


def run_predict(
    command: list[str] | None = None,
    *,
    follow: bool = False,
    save: str | None = None,
    show_output: bool = False,
    show_picture: bool = True,
    width: int | None = None,
    as_json: bool = False,
    progress: bool | None = None,
) -> int:
    """``maplevm predict`` (and ``maplevm demo``): trace ``command`` (default: python
    importing a few modules), replay it, print the agreement and the final address space.
    Returns 0 when the model agreed everywhere, 1 at a divergence, 2 when tracing failed."""
    from maplevm.trace.ptrace import default_demo_command, trace_command

    cmd = list(command or []) or default_demo_command()
    try:
        run = trace_command(cmd, follow=follow, **_program_streams(not show_output))
    except (KernelUnavailable, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trace = run.trace
    if not trace.steps:
        print(f"error: {cmd[0]} did not start (exit {run.exit_code})", file=sys.stderr)
        return 2
    if save:
        tformat.dump(trace, save)
    res = run_replay(trace, progress=progress)
    final = next(
        (s.snapshot for s in reversed(trace.steps) if s.kind == "exit" and s.snapshot), None
    )
    if as_json:
        out = res.to_json()
        out["trace_seconds"] = round(run.seconds, 3)
        out["exit_code"] = run.exit_code
        if final is not None:
            out["final_maps"] = [v.line for v in final]
        _emit_json(out)
        return 0 if res.exact else 1
    print(summary(trace, res))
    print(verdict(res))
    if res.divergences:
        print(render_divergence(res.divergences[0]))
    if final is not None and show_picture:
        print()
        procs = trace.info.get("processes", 1)
        who = "the traced program" if procs == 1 else "the first process"
        print(f"final address space of {who} (every line as the kernel showed it):")
        print(picture(final, width=width or _terminal_width(), color=sys.stdout.isatty()))
    return 0 if res.exact else 1


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def cmd_explain(args: argparse.Namespace) -> int:
    from maplevm.trace.replay import explain

    try:
        trace = load_any(args.trace, args.maps)
    except (ScriptError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    steps = list(args.steps)
    if args.first_divergence:
        res = Replayer(trace, keep=1).run()
        first = res.first()
        if first is None:
            print("no divergence: the model agrees with the kernel everywhere")
            return 0
        steps.append(first.step)
    if not steps:
        print("error: give a STEP number or --first-divergence", file=sys.stderr)
        return 2
    outputs: list[dict[str, Any]] = []
    for index in steps:
        if not 0 <= index < len(trace.steps):
            print(f"error: step {index} is not in the trace (0..{len(trace.steps) - 1})")
            return 2
        step = trace.steps[index]
        if step.kind not in tformat.MM_KINDS:
            print(f"step {index} is a {step.kind!r} event, not a memory call")
            continue
        found = explain(trace, index)
        if found is None:
            print(f"step {index}: the model did not reach it (no address space)")
            continue
        if args.json:
            outputs.append(
                {
                    "step": index,
                    "kernel": step.ret,
                    "model": found["model_ret"],
                    "events": [{"name": e.name, **_jsonable(e.details)} for e in found["events"]],
                }
            )
        else:
            print(explain_text(trace, found))
    if args.json:
        _emit_json(outputs)
    return 0


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, int | str | bool | float) or v is None:
            out[k] = v
        elif isinstance(v, list):
            out[k] = [_vma_json(x) for x in v]
        else:
            out[k] = _vma_json(v)
    return out


def _vma_json(v: Any) -> Any:
    if hasattr(v, "vm_start"):
        return [hex(v.vm_start), hex(v.vm_end)]
    if isinstance(v, int | str | bool | float) or v is None:
        return v
    return repr(v)


# ---------------------------------------------------------------------------------------------


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "trace",
        help="record the memory system calls of a real program (ptrace)",
        description=TRACE_HELP,
        formatter_class=_RAW,
    )
    p.add_argument("-f", "--follow", action="store_true", help="trace child processes too")
    p.add_argument("-o", "--output", help="the trace file (default PROGRAM.trace.jsonl)")
    p.add_argument("--quiet", action="store_true", help="the program's output to /dev/null")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--keep-events", metavar="FILE", help="keep the tracer's raw event stream")
    p.add_argument(
        "--vmflags",
        action="store_true",
        help="read smaps before every call, so replay checks VmFlags after each one (slower)",
    )
    p.add_argument("--strace-log", metavar="LOG", help="convert an strace log instead")
    p.add_argument("--maps", metavar="FILE", help="initial maps (or smaps) for --strace-log")
    p.add_argument("--final-maps", metavar="FILE", help="final maps for --strace-log")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM ARGS...")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser(
        "replay",
        help="replay a trace on the model and compare with the kernel",
        description=REPLAY_HELP,
        formatter_class=_RAW,
    )
    p.add_argument("trace", help="a trace (maplevm trace) or an strace log (with --maps)")
    p.add_argument("--maps", metavar="FILE", help="an strace log's initial maps or smaps")
    p.add_argument("--final-maps", metavar="FILE", help="an strace log's final maps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all", action="store_true", help="show every kept divergence")
    p.add_argument("--keep", type=int, default=20, help="divergences kept in detail")
    p.add_argument(
        "--fast",
        action="store_true",
        help="compare return values and final maps only, not the maps after every call",
    )
    _add_progress(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "predict",
        help="trace a program and show how exactly the model predicts its address space",
        description=PREDICT_HELP,
        formatter_class=_RAW,
    )
    p.add_argument("-f", "--follow", action="store_true", help="trace child processes too")
    p.add_argument("--save", metavar="TRACE", help="keep the trace in this file")
    p.add_argument("--show-output", action="store_true", help="let the program print")
    p.add_argument("--no-picture", action="store_true", help="no address-space picture")
    p.add_argument("--width", type=int, help="picture width (default: the terminal's)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_progress(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM ARGS...")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "explain",
        help="why the model chose that address / merge / split for a step of a trace",
        description=EXPLAIN_HELP,
        formatter_class=_RAW,
    )
    p.add_argument("trace", help="a trace file")
    p.add_argument("steps", type=int, nargs="*", metavar="STEP", help="step numbers")
    p.add_argument("--first-divergence", action="store_true", help="explain the first one")
    p.add_argument("--maps", metavar="FILE", help="an strace log's initial maps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_explain)
