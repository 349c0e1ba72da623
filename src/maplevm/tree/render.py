"""People- and program-readable views of a tree: an indented picture and a JSON document.

The picture shows one line per node (kind, implied range, data end, gaps) and one line per
leaf slot (its range and entry), indented by depth with box-drawing branches; the JSON
holds the same facts, nested.  ``mt_dump`` (in :mod:`maplevm.tree.dump`) is the third view,
the kernel's own text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from maplevm.tree.constants import ULONG_MAX, mt_pivots
from maplevm.tree.entry import XaInternal, XaValue
from maplevm.tree.node import MapleNode, ma_data_end

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree

KIND_NAMES = ("dense", "leaf_64", "range_64", "arange_64")


def entry_label(entry: Any) -> str:
    """A short label for an entry: NULL, value N, zero, or the object's own repr."""
    if entry is None:
        return "NULL"
    if isinstance(entry, XaValue):
        return f"value {entry.value}"
    if isinstance(entry, XaInternal):
        return "zero" if entry.value == 257 else f"internal {entry.value}"
    return repr(entry)


def _children(node: MapleNode, lo: int, hi: int) -> list[tuple[int, int, int, Any]]:
    """``(offset, first, last, slot)`` for every used slot of ``node``."""
    end = ma_data_end(node, node.type, node.pivot, hi)
    out = []
    first = lo
    for k in range(end + 1):
        last = hi if k >= mt_pivots[node.type] or k == end else node.pivot[k]
        out.append((k, first, last, node.slot[k]))
        first = last + 1
    return out


def picture(
    mt: MapleTree, label: Callable[[Any], str] = entry_label, show_null: bool = True
) -> str:
    """An indented drawing of the tree's nodes and leaf slots."""
    root = mt.ma_root
    kind = "alloc-range" if mt.alloc_range_tree else "range"
    head = f"maple tree ({kind}, height {mt.height}"
    head += ", rcu)" if mt.in_rcu else ")"
    if root is None:
        return head + "\n(empty)\n"
    if not isinstance(root, MapleNode):
        return head + f"\n[0x0] {label(root)}  (entry held in the root pointer)\n"
    lines = [head]

    def visit(node: MapleNode, lo: int, hi: int, prefix: str, tail: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if tail else "├─ ")
        slots = _children(node, lo, hi)
        info = f"{KIND_NAMES[node.type]} [{lo:#x}-{hi:#x}] {len(slots)} slots"
        if node.gap is not None:
            info += f", largest gap {node.gap[node.meta_gap]:#x} in slot {node.meta_gap}"
        lines.append(f"{prefix}{branch}{info}")
        inner = prefix if top else prefix + ("   " if tail else "│  ")
        shown = [s for s in slots if show_null or s[3] is not None or node.type >= 2]
        for n, (_k, first, last, slot) in enumerate(shown):
            is_tail = n == len(shown) - 1
            if node.type >= 2:
                visit(slot, first, last, inner, is_tail, False)
            else:
                mark = "└─ " if is_tail else "├─ "
                lines.append(f"{inner}{mark}[{first:#x}-{last:#x}] {label(slot)}")

    visit(root, 0, ULONG_MAX, "", True, True)
    return "\n".join(lines) + "\n"


def to_json(mt: MapleTree, label: Callable[[Any], str] = entry_label) -> dict[str, Any]:
    """The tree as a JSON-ready dict: flags, height and the nested nodes."""
    root = mt.ma_root

    def node_json(node: MapleNode, lo: int, hi: int) -> dict[str, Any]:
        slots = _children(node, lo, hi)
        doc: dict[str, Any] = {
            "type": "maple_" + KIND_NAMES[node.type],
            "min": lo,
            "max": hi,
            "end": len(slots) - 1,
            "pivots": [node.pivot[k] for k, *_ in slots if k < mt_pivots[node.type]],
        }
        if node.gap is not None:
            doc["gaps"] = node.gap[: len(slots)]
            doc["gap_offset"] = node.meta_gap
        if node.type >= 2:
            doc["children"] = [node_json(s, f, la) for _k, f, la, s in slots]
        else:
            doc["entries"] = [
                {"first": f, "last": la, "entry": None if s is None else label(s)}
                for _k, f, la, s in slots
            ]
        return doc

    doc: dict[str, Any] = {"flags": mt.ma_flags, "height": mt.height}
    if isinstance(root, MapleNode):
        doc["root"] = node_json(root, 0, ULONG_MAX)
    else:
        doc["root"] = None
        doc["root_entry"] = None if root is None else label(root)
    return doc
