"""``maplevm tree``: play with a maple tree from the command line.

maplevm tree run "store 10-19 1; store 30-39 2; erase 15" --dump hex
maplevm tree build --maps /proc/self/maps --picture
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maplevm.tree.constants import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_LOCK_EXTERN, MT_FLAGS_USE_RCU
from maplevm.tree.entry import xa_mk_value
from maplevm.tree.errors import MapleError
from maplevm.tree.mapletree import MapleTree
from maplevm.tree.render import entry_label, picture, to_json

FLAG_SETS = {
    "plain": 0,
    "alloc": MT_FLAGS_ALLOC_RANGE,
    "mm": MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN | MT_FLAGS_USE_RCU,
}

OPS_HELP = """\
operations (separate with ';' or give several arguments; numbers in decimal or 0x hex):
  store FIRST[-LAST] VALUE    mtree_store_range  (VALUE: a number stores xa_mk_value(N),
                              'null' erases, anything else is stored as a string)
  insert FIRST[-LAST] VALUE   mtree_insert_range (fails with EEXIST if occupied)
  erase INDEX                 mtree_erase: remove the whole range holding INDEX
  load INDEX                  mtree_load
  find INDEX [MAX]            mt_find: first entry at or after INDEX
  alloc SIZE MIN-MAX VALUE    mtree_alloc_range: store VALUE in the lowest gap that fits
  ralloc SIZE MIN-MAX VALUE   mtree_alloc_rrange: the highest gap
  gap SIZE MIN-MAX            mas_empty_area: where the lowest gap of SIZE starts
  rgap SIZE MIN-MAX           mas_empty_area_rev: the highest gap

examples:
  maplevm tree run "store 10-19 1; store 30-39 2; erase 15"
  maplevm tree run --flags alloc "store 0x1000-0x1fff a" "ralloc 0x1000 0-0xffff b" --dump hex
  maplevm tree run --flags mm --step "store 0-9 x; store 20-29 y; store 5-24 z"
"""


def _num(text: str) -> int:
    return int(text, 0)


def _range(text: str) -> tuple[int, int]:
    if "-" in text:
        a, b = text.split("-", 1)
        return _num(a), _num(b)
    n = _num(text)
    return n, n


def _value(text: str) -> Any:
    if text.lower() in ("null", "none"):
        return None
    try:
        return xa_mk_value(_num(text))
    except ValueError:
        return text


def _split_ops(args: list[str]) -> list[list[str]]:
    ops: list[list[str]] = []
    for arg in args:
        for part in arg.split(";"):
            words = part.split()
            if words:
                ops.append(words)
    return ops


def run_op(mt: MapleTree, words: list[str]) -> str:
    """Apply one text operation to ``mt``; returns what to print for it."""
    name, rest = words[0], words[1:]
    handlers: dict[str, tuple[int, Callable[[], str]]] = {
        "store": (2, lambda: _store(mt, rest, insert=False)),
        "insert": (2, lambda: _store(mt, rest, insert=True)),
        "erase": (1, lambda: f"erased {entry_label(mt.erase(_num(rest[0])))}"),
        "load": (1, lambda: entry_label(mt.load(_num(rest[0])))),
        "find": (1, lambda: _find(mt, rest)),
        "alloc": (3, lambda: _alloc(mt, rest, rev=False)),
        "ralloc": (3, lambda: _alloc(mt, rest, rev=True)),
        "gap": (2, lambda: _gap(mt, rest, rev=False)),
        "rgap": (2, lambda: _gap(mt, rest, rev=True)),
    }
    if name not in handlers:
        raise ValueError(f"unknown operation {name!r} (see --help)")
    need, handler = handlers[name]
    if len(rest) < need:
        raise ValueError(f"{name} needs {need} argument(s), got {' '.join(rest) or 'none'}")
    return handler()


def _store(mt: MapleTree, rest: list[str], insert: bool) -> str:
    first, last = _range(rest[0])
    entry = _value(rest[1])
    if insert:
        mt.insert_range(first, last, entry)
    else:
        mt.store_range(first, last, entry)
    return "ok"


def _find(mt: MapleTree, rest: list[str]) -> str:
    hi = _num(rest[1]) if len(rest) > 1 else (1 << 64) - 1
    entry, nxt = mt.find(_num(rest[0]), hi)
    return f"{entry_label(entry)} (next index {nxt:#x})"


def _alloc(mt: MapleTree, rest: list[str], rev: bool) -> str:
    size = _num(rest[0])
    lo, hi = _range(rest[1])
    fn = mt.alloc_rrange if rev else mt.alloc_range
    return f"stored at {fn(_value(rest[2]), size, lo, hi):#x}"


def _gap(mt: MapleTree, rest: list[str], rev: bool) -> str:
    size = _num(rest[0])
    lo, hi = _range(rest[1])
    mas = mt.state()
    if rev:
        mas.empty_area_rev(lo, hi, size)
    else:
        mas.empty_area(lo, hi, size)
    return f"[{mas.index:#x}-{mas.last:#x}]"


def _show(mt: MapleTree, args: argparse.Namespace) -> str:
    if args.json:
        return json.dumps(to_json(mt), indent=2)
    if args.dump:
        return mt.dump(args.dump)
    return picture(mt)


def cmd_run(args: argparse.Namespace) -> int:
    mt = MapleTree(FLAG_SETS[args.flags])
    results = []
    for words in _split_ops(args.ops):
        text = " ".join(words)
        try:
            out = run_op(mt, words)
        except (MapleError, ValueError) as exc:
            out = f"error: {exc}"
        mt.validate()
        results.append({"op": text, "result": out})
        if args.step and not args.json:
            print(f"> {text}: {out}")
            print(_show(mt, args))
    if args.json:
        print(json.dumps({"results": results, "tree": to_json(mt)}, indent=2))
        return 0
    if not args.step:
        for r in results:
            print(f"> {r['op']}: {r['result']}")
        print(_show(mt, args), end="")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.maps == "-" else Path(args.maps).read_text()
    mt = MapleTree(FLAG_SETS["mm"])
    count = 0
    for line in text.splitlines():
        first = line.split(" ", 1)[0]
        if "-" not in first:
            continue
        start, end = (int(x, 16) for x in first.split("-"))
        if start >= 1 << 63:  # [vsyscall] is not a VMA
            continue
        mt.store_range(start, end - 1, _MapsEntry(line))
        count += 1
    mt.validate()
    if args.json:
        print(json.dumps(to_json(mt), indent=2))
    elif args.dump:
        print(mt.dump(args.dump), end="")
    else:
        print(f"{count} VMAs stored in address order (a real kernel tree's shape depends")
        print("on its history: see `maplevm ktree` for the live kernel's own tree)")
        print(picture(mt, show_null=not args.hide_null), end="")
    return 0


class _MapsEntry:
    """A VMA from a maps line, shown by its name (or range)."""

    __slots__ = ("line",)

    def __init__(self, line: str) -> None:
        self.line = line

    def __repr__(self) -> str:
        parts = self.line.split()
        name = parts[5] if len(parts) > 5 else "[anon]"
        return f"{parts[1]} {name}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tree",
        help="run maple tree operations and look at the result",
        description="Build maple trees with the model of lib/maple_tree.c and show them as a "
        "picture, as the kernel's mt_dump text, or as JSON.",
    )
    tsub = p.add_subparsers(dest="tree_command", metavar="SUBCOMMAND")

    run = tsub.add_parser(
        "run",
        help="apply operations to a new tree and show it",
        epilog=OPS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("ops", nargs="+", help="operations, e.g. 'store 10-19 1; erase 15'")
    run.add_argument(
        "--flags",
        choices=sorted(FLAG_SETS),
        default="plain",
        help="tree kind: plain (0), alloc (MT_FLAGS_ALLOC_RANGE, gap tracking) or mm "
        "(MM_MT_FLAGS: alloc-range + RCU, like mm->mm_mt)",
    )
    run.add_argument("--step", action="store_true", help="show the tree after every operation")
    _output_args(run)
    run.set_defaults(func=cmd_run)

    build = tsub.add_parser(
        "build",
        help="store the VMAs of a /proc/PID/maps file in a tree",
        description="Store every VMA of a maps file, in address order, in an mm-style tree "
        "(MM_MT_FLAGS) and show it.",
    )
    build.add_argument("--maps", required=True, help="a /proc/PID/maps file, or - for stdin")
    build.add_argument("--hide-null", action="store_true", help="omit NULL slots in the picture")
    _output_args(build)
    build.set_defaults(func=cmd_build)

    def usage(_args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _output_args(p: argparse.ArgumentParser) -> None:
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--dump",
        choices=("hex", "dec"),
        help="print the kernel's mt_dump text (mt_dump_hex / mt_dump_dec)",
    )
    out.add_argument("--json", action="store_true", help="print JSON")
