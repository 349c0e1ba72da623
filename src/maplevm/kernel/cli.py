"""``maplevm record``: run operation scripts on this machine's kernel and write recordings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from maplevm.kernel.build import KernelUnavailable
from maplevm.kernel.runner import KernelExecutor, KernelRunError
from maplevm.scenario import format as sformat
from maplevm.scenario import recording as srec
from maplevm.scenario.compare import first_divergence
from maplevm.scenario.progress import Progress
from maplevm.scenario.text import describe_step


def _output_for(script: Path, out: str | None, many: bool) -> Path:
    name = script.name.removesuffix(".jsonl") + ".recording.jsonl"
    if out is None:
        return script.with_name(name)
    if many or out.endswith("/") or Path(out).is_dir():
        Path(out).mkdir(parents=True, exist_ok=True)
        return Path(out) / name
    return Path(out)


def cmd_record(args: argparse.Namespace) -> int:
    scripts = [Path(s) for s in args.scripts]
    many = len(scripts) > 1
    try:
        executor = KernelExecutor()
        executor.binary  # noqa: B018 -- build now, so a missing compiler is reported first
    except KernelUnavailable as e:
        print(f"error: cannot use the live kernel: {e}", file=sys.stderr)
        return 2
    summaries: list[dict[str, Any]] = []
    status = 0
    bar = Progress(len(scripts), "record", enabled=args.progress or None)
    for n, path in enumerate(scripts):
        try:
            script = sformat.load(path)
        except (sformat.ScriptError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            status = 2
            continue
        step_bar = None
        if not many and len(script.ops) > 50:
            step_bar = Progress(len(script.ops), path.name, enabled=args.progress or None)
        try:
            rec = executor.run(script, progress=step_bar.callback if step_bar else None)
            second = executor.run(script) if args.twice else None
        except KernelRunError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            status = 2
            continue
        finally:
            if step_bar is not None:
                step_bar.close()
        out = _output_for(path, args.output, many)
        srec.dump(rec, out)
        summary: dict[str, Any] = {
            "script": str(path),
            "recording": str(out),
            "steps": len(rec.steps),
            "rets": rec.rets(),
            "died": next((s.died for s in rec.steps if s.died), None),
        }
        divergence = None
        if second is not None:
            divergence = first_divergence(rec, second, names=("first run", "second run"))
            summary["deterministic"] = divergence is None
        if args.compare:
            fixture = srec.load(args.compare)
            divergence = divergence or first_divergence(
                fixture, rec, names=(args.compare, "this kernel")
            )
            summary["matches_fixture"] = divergence is None
        if divergence is not None:
            summary["divergence"] = divergence.to_json()
            status = max(status, 1)
        summaries.append(summary)
        bar.update(n + 1)
        if not args.json:
            _print_human(rec, out, divergence, verbose=not many)
    bar.close()
    if args.json:
        json.dump(summaries if many else summaries[0] if summaries else {}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return status


def _print_human(rec: srec.Recording, out: Path, divergence: Any, verbose: bool) -> None:
    if verbose:
        for step in rec.steps:
            print(describe_step(step))
    failed = sum(1 for s in rec.steps if s.ret < 0 and s.op.kind not in ("brk",))
    print(f"{rec.header.name or out.stem}: {len(rec.steps)} steps ({failed} failed) -> {out}")
    if divergence is not None:
        print(divergence.render())


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "record",
        help="run scripts on this machine's kernel and write recordings",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Run each operation SCRIPT on the live kernel (a small static helper, built with the system
C compiler on first use, performs the system calls with ASLR off) and write the recording:
the environment, the address space before the first operation, and each operation's
return value and the address space after it (maps lines, VmFlags, anon pages).

examples:
  maplevm record split.jsonl                       # writes split.recording.jsonl
  maplevm record split.jsonl -o /tmp/split.rec.jsonl --json
  maplevm record gen-seed1/*.jsonl -o recs/ --progress
  maplevm record split.jsonl --twice               # also check the kernel is deterministic
  maplevm record split.jsonl --compare tests/fixtures/recordings/split.jsonl""",
    )
    p.add_argument("scripts", nargs="+", metavar="SCRIPT")
    p.add_argument("-o", "--output", help="output file, or directory for several scripts")
    p.add_argument("--twice", action="store_true", help="run again and compare the two runs")
    p.add_argument("--compare", metavar="RECORDING", help="compare with an earlier recording")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--progress", action="store_true", help="progress bar even when piped")
    p.set_defaults(func=cmd_record)
