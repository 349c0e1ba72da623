"""The ``maplevm`` command line.

Each feature package contributes its subcommands through a ``register(subparsers)`` function
listed in :data:`COMMAND_MODULES`; this module only assembles them, so adding a command never
means editing another feature's code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that define ``register(subparsers: argparse._SubParsersAction) -> None``.
COMMAND_MODULES: list[str] = [
    "maplevm.tree.cli",
    "maplevm.scenario.cli",
    "maplevm.kernel.cli",
    "maplevm.kernel.ktree_cli",
    "maplevm.verify",
    "maplevm.trace.cli",
    "maplevm.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maplevm",
        description=(
            "The Linux maple tree and VMA layer in Python, checked against the live kernel.\n"
            "Every command has --help with examples."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    result: int = func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
