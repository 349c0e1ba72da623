"""``maplevm demo``: the main job in one command.

Traces a real program (python3 importing json, decimal and sqlite3 unless a command is
given) and predicts where every one of its mappings landed (``maplevm predict``).  If the
program cannot be traced here (no ptrace, no compiler, not Linux x86_64), it shows the
model against the live kernel on generated scripts (``maplevm verify``) and the maple
tree geometry proof (``maplevm ktree check``) instead, or the model alone.

    maplevm demo
    maplevm demo -- ls -la /usr/lib
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_PROGRAM = ["python3", "-c", "import json, decimal, sqlite3"]


def cmd_demo(args: argparse.Namespace) -> int:
    from maplevm.trace.cli import run_predict

    program = list(args.program)
    if program[:1] == ["--"]:
        program = program[1:]
    status: int = run_predict(program or DEFAULT_PROGRAM)
    if status != 2 or program:  # 0: all predicted, 1: a divergence (shown), 2: no trace
        return status
    print("\ntracing is not possible here; the model against the kernel instead\n")
    from maplevm.kernel.runner import kernel_unavailable_reason

    reason = kernel_unavailable_reason()
    if reason is not None:
        print(f"the live kernel cannot be used here ({reason}); showing the model only")
        from maplevm.cli import main as cli_main

        return cli_main(
            ["tree", "run", "--flags", "mm", "store 0x1000-0x1fff a; store 0x3000-0x3fff b"]
        )
    from maplevm.cli import main

    print("== the VMA model against this machine's kernel (maplevm verify) ==")
    status = main(["verify", "--seed", "1", "--count", "6", "--ops", "20-60", "--no-shrink"])
    from maplevm.kernel.ktree import kernel_tree_available

    if kernel_tree_available() is None:
        print("\n== the maple tree's node geometry against the kernel's own tree ==")
        status |= main(["ktree", "check", "--seed", "1", "--ops", "200"])
    return status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job: predict a real program's mappings (or verify against the kernel)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("program", nargs=argparse.REMAINDER, help="program to trace (default: python3)")
    p.set_defaults(func=cmd_demo)


if __name__ == "__main__":
    sys.exit(cmd_demo(argparse.Namespace(program=[])))
