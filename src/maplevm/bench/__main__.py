"""``python -m maplevm.bench``: print ops/s of the model beside its peers, measured in one run.

python -m maplevm.bench tree                   # all sizes, all workloads
python -m maplevm.bench tree --sizes 100000 --only "random store" --repeats 9
python -m maplevm.bench tree --json > bench.json
python -m maplevm.bench mm --sizes 1000,10000,60000
python -m maplevm.bench trace                  # tracing overhead, replay of 100k calls
python -m maplevm.bench trace --no-replay -- make -C somewhere
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence

from maplevm.bench import mm as mm_bench
from maplevm.bench import trace as trace_bench
from maplevm.bench import tree as tree_bench


def _sizes(text: str) -> list[int]:
    return [int(x.replace("_", "").replace(",", "")) for x in text.split(",") if x]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m maplevm.bench",
        description="Benchmarks that print numbers: the model's operations per second beside "
        "peers measured in the same run (medians of repetitions), and the ratios.",
    )
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser(
        "tree",
        help="maple tree vs a SortedDict range map and plain bisect lists",
        description=tree_bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument(
        "--sizes",
        type=_sizes,
        default=list(tree_bench.SIZES),
        help="comma-separated numbers of ranges (default 1000,10000,100000,1000000)",
    )
    t.add_argument("--ops", type=int, default=20_000, help="operations per timed run")
    t.add_argument("--repeats", type=int, default=5, help="timed repetitions (median)")
    t.add_argument("--only", action="append", help="run only this workload (repeatable)")
    t.add_argument("--budget", type=float, default=1.0, help="seconds per timed run (max)")
    t.add_argument("--json", action="store_true", help="print JSON")
    m = sub.add_parser(
        "mm",
        help="the model's syscalls/s beside the live kernel's, with many VMAs present",
        description=mm_bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument(
        "--sizes",
        type=_sizes,
        default=list(mm_bench.SIZES),
        help="comma-separated numbers of VMAs present (default 1000,10000,60000)",
    )
    m.add_argument("--repeats", type=int, default=5, help="timed repetitions (median)")
    m.add_argument("--budget", type=float, default=1.0, help="seconds per model run")
    m.add_argument("--no-kernel", action="store_true", help="model only (no C compiler needed)")
    m.add_argument("--json", action="store_true", help="print JSON")
    tr = sub.add_parser(
        "trace",
        help="tracing overhead (traced / plain run time) and replay speed of 100k calls",
        description=trace_bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tr.add_argument("--repeats", type=int, default=15, help="runs of each program (median)")
    tr.add_argument("--replay-repeats", type=int, default=3, help="replays of the trace")
    tr.add_argument("--no-overhead", action="store_true", help="skip the overhead runs")
    tr.add_argument("--no-replay", action="store_true", help="skip the replay timing")
    tr.add_argument("--json", action="store_true", help="print JSON")
    tr.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="after --: a program to measure instead of the defaults "
        "(/bin/true, ls -la /usr/lib, python3 importing three modules)",
    )
    args = parser.parse_args(argv)

    def progress(text: str) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{text:<70}")
            sys.stderr.flush()

    if args.what == "trace":
        return _trace(args, progress)

    if args.what == "mm":
        mm_results = mm_bench.measure(
            args.sizes,
            repeats=args.repeats,
            budget=args.budget,
            with_kernel=not args.no_kernel,
            progress=progress,
        )
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 70 + "\r")
        if args.json:
            rows = [
                {
                    "vmas": r.vmas,
                    "workload": r.workload,
                    "model_syscalls_per_s": r.model,
                    "kernel_syscalls_per_s": r.kernel,
                    "kernel_over_model": r.ratio,
                }
                for r in mm_results
            ]
            print(json.dumps({"python": platform.python_version(), "results": rows}, indent=2))
        else:
            print(f"VMA layer benchmark (Python {platform.python_version()}, medians)")
            print(mm_bench.format_table(mm_results))
        return 0

    results = tree_bench.measure(
        args.sizes,
        ops=args.ops,
        repeats=args.repeats,
        budget=args.budget,
        only=args.only,
        progress=progress,
    )
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 70 + "\r")
    if args.json:
        doc: dict[str, object] = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "results": [
                {
                    "ranges": r.size,
                    "workload": r.workload,
                    "ops_per_s": r.rates,
                    "ratio_to": r.paired,
                }
                for r in results
            ],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"maple tree benchmark (Python {platform.python_version()}, medians)")
        print(tree_bench.format_table(results))
    return 0


def _trace(args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    command = [c for c in args.command if c != "--"] if args.command else []
    programs = [(" ".join(command), command)] if command else trace_bench.default_programs()
    overhead = (
        [] if args.no_overhead else trace_bench.measure_overhead(programs, args.repeats, progress)
    )
    speed = (
        None
        if args.no_replay
        else trace_bench.measure_replay(args.replay_repeats, progress=progress)
    )
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 70 + "\r")
    status = 0 if speed is None or speed.exact else 1  # a replay that diverged fails
    load = os.getloadavg()[0]
    if args.json:
        doc: dict[str, object] = {
            "python": platform.python_version(),
            "loadavg_1min": load,
            "overhead": [
                {
                    "program": o.label,
                    "plain_s": o.plain,
                    "traced_s": o.traced,
                    "best_ratio": o.best_ratio,
                    "median_ratio": o.median_ratio,
                }
                for o in overhead
            ],
        }
        if speed is not None:
            doc["replay"] = {
                "calls": speed.calls,
                "trace_bytes": speed.trace_bytes,
                "exact": speed.exact,
                "load_s": speed.load,
                "replay_s": speed.replay,
                "replay_fast_s": speed.replay_fast,
            }
        print(json.dumps(doc, indent=2))
        return status
    print(f"tracing benchmark (load average {load:.2f} at the end)")
    if overhead:
        print(trace_bench.format_overhead(overhead))
    if speed is not None:
        print(trace_bench.format_replay(speed))
    return status


if __name__ == "__main__":
    sys.exit(main())
