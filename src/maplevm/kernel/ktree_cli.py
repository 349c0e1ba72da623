"""``maplevm ktree``: the live kernel's own maple tree of a process, and the geometry proof.

maplevm ktree show PID [--dump hex|dec] [--json]
maplevm ktree check --seed 1 --ops 500
"""

from __future__ import annotations

import argparse
import json
import sys

from maplevm.kernel.geometry import check_geometry
from maplevm.kernel.ktree import format_kernel_tree, kernel_tree_available, read_mm_tree
from maplevm.kernel.ktree_model import kernel_dump, kernel_shapes
from maplevm.scenario.progress import Progress


def cmd_show(args: argparse.Namespace) -> int:
    reason = kernel_tree_available()
    if reason is not None:
        print(f"maplevm ktree: cannot read kernel memory here: {reason}", file=sys.stderr)
        return 1
    tree = read_mm_tree(args.pid, stop=args.stop)
    if args.json:
        doc = {
            "pid": args.pid,
            "ma_flags": tree.ma_flags,
            "height": tree.height,
            "nodes": [vars(s) for s in kernel_shapes(tree)],
        }
        print(json.dumps(doc, indent=2))
    elif args.dump:
        print(kernel_dump(tree, args.dump), end="")
    else:
        print(format_kernel_tree(tree), end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    reason = kernel_tree_available()
    if reason is not None:
        print(f"maplevm ktree check: cannot read kernel memory here: {reason}", file=sys.stderr)
        return 1
    failures = 0
    reports = []
    for seed in range(args.seed, args.seed + args.count):
        bar = Progress(args.ops, f"seed {seed}", enabled=args.progress)
        report = check_geometry(
            seed, args.ops, pages=args.pages, unmap_ratio=args.unmap_ratio, progress=bar.callback
        )
        bar.close()
        reports.append(report)
        if not report.ok:
            failures += 1
        if not args.json:
            verdict = "identical" if report.ok else "DIVERGED"
            print(
                f"seed {seed}: {report.ops_checked} ops, {report.nodes_compared} nodes compared, "
                f"height up to {report.max_height}: {verdict}"
            )
            if report.divergence:
                print(report.divergence)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "seed": r.seed,
                        "ok": r.ok,
                        "ops_checked": r.ops_checked,
                        "nodes_compared": r.nodes_compared,
                        "max_height": r.max_height,
                        "store_types": r.store_types,
                        "divergence": r.divergence,
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
    elif len(reports) > 1:
        total = sum(r.ops_checked for r in reports)
        print(f"{len(reports) - failures}/{len(reports)} seeds identical over {total} operations")
    return 1 if failures else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ktree",
        help="read the live kernel's maple tree of a process; prove the model's geometry",
        description="Read a process's VMA maple tree (mm->mm_mt) from the running kernel "
        "with BPF, node by node, and compare it with the model.  Needs root (or CAP_BPF "
        "and CAP_PERFMON) and /sys/kernel/btf/vmlinux.",
    )
    ksub = p.add_subparsers(dest="ktree_command", metavar="SUBCOMMAND")

    show = ksub.add_parser(
        "show",
        help="print a process's VMA tree as the kernel holds it",
        epilog="examples:\n  maplevm ktree show $$\n  maplevm ktree show 1234 --dump hex\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("pid", type=int, help="process id")
    show.add_argument("--stop", action="store_true", help="SIGSTOP the process while reading")
    out = show.add_mutually_exclusive_group()
    out.add_argument("--dump", choices=("hex", "dec"), help="the kernel's mt_dump text")
    out.add_argument("--json", action="store_true", help="node shapes as JSON")
    show.set_defaults(func=cmd_show)

    check = ksub.add_parser(
        "check",
        help="run tree-store scripts on the kernel and the model; compare trees after each op",
        description="Runs seeded scripts of non-merging fixed mmaps and whole-mapping munmaps "
        "(each is one maple tree store in the kernel) through the kernel runner, reads the "
        "kernel's tree after every operation, applies the same stores to a model tree that "
        "started from the kernel's initial layout, and compares node by node.",
        epilog="example:\n  maplevm ktree check --seed 1 --count 3 --ops 500\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    check.add_argument("--count", type=int, default=1, help="number of seeds (default 1)")
    check.add_argument("--ops", type=int, default=300, help="operations per seed (default 300)")
    check.add_argument(
        "--pages", type=int, default=3000, help="size of the playground region in pages"
    )
    check.add_argument(
        "--unmap-ratio", type=float, default=0.3, help="share of munmaps (default 0.3)"
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    check.set_defaults(func=cmd_check)

    def usage(_args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)
