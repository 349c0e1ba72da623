"""Compare the live kernel's maple tree with the model's, node by node.

* :func:`model_from_kernel_tree` builds a model :class:`~maplevm.tree.MapleTree` with exactly
  the kernel tree's node layout (types, pivots, gaps, metadata), so that the model can
  continue from where the kernel is and both can be compared after the same operations.
* :func:`geometry` reduces either tree to what "same geometry" means: per node, in
  depth-first order, its type, implied range, depth, data end, used pivots, gaps, gap
  offset, and per leaf slot the range and entry; node addresses are left out.
* :func:`compare_geometry` lists the differences readably.
* :func:`kernel_dump` renders a kernel tree with the model's ``mt_dump`` renderer, so the
  two dumps can be diffed after :func:`~maplevm.tree.dump.normalize_dump`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from maplevm.kernel.ktree_walk import KINDS, KernelNode, KernelTree
from maplevm.tree import MapleTree
from maplevm.tree.constants import ULONG_MAX, mt_pivots
from maplevm.tree.dump import DumpNode, ptr, render_dump
from maplevm.tree.node import MapleNode, ma_data_end


@dataclass(frozen=True)
class NodeShape:
    """One node's geometry, comparable between kernel and model."""

    kind: str
    min: int
    max: int
    depth: int
    end: int
    pivots: tuple[int, ...]
    gaps: tuple[int, ...] | None
    gap_offset: int | None
    entries: tuple[tuple[int, int] | None, ...]

    def describe(self) -> str:
        text = (
            f"{self.kind.removeprefix('maple_')} [{self.min:#x}-{self.max:#x}] depth "
            f"{self.depth} end {self.end}"
        )
        if self.gaps is not None:
            text += f" gap@{self.gap_offset}"
        return text


def _kernel_entry(entry: tuple[int, int] | None) -> tuple[int, int] | None:
    return entry


def _model_entry(entry: Any) -> tuple[int, int] | None:
    """A model leaf entry as (vm_start, vm_end): VMAs carry them; anything else is opaque."""
    if entry is None:
        return None
    start = getattr(entry, "vm_start", None)
    end = getattr(entry, "vm_end", None)
    if isinstance(start, int) and isinstance(end, int):
        return (start, end)
    return (-1, -1)


def kernel_shapes(tree: KernelTree) -> list[NodeShape]:
    """The geometry of a kernel tree (depth-first, pre-order)."""
    out: list[NodeShape] = []
    for node in tree.nodes():
        end = node.end
        gaps = tuple(node.gaps[: end + 1]) if node.gaps is not None else None
        out.append(
            NodeShape(
                kind=node.kind,
                min=node.min,
                max=node.max,
                depth=node.depth,
                end=end,
                pivots=tuple(node.pivots[: min(end, len(node.pivots))]),
                gaps=gaps,
                gap_offset=node.meta_gap if node.gaps is not None else None,
                entries=tuple(_kernel_entry(e) for e in node.entries) if node.is_leaf else (),
            )
        )
    return out


def model_shapes(mt: MapleTree, entry_key: Callable[[Any], Any] = _model_entry) -> list[NodeShape]:
    """The geometry of a model tree (depth-first, pre-order)."""
    out: list[NodeShape] = []
    root = mt.ma_root
    if not isinstance(root, MapleNode):
        return out

    def visit(node: MapleNode, lo: int, hi: int, depth: int) -> None:
        end = ma_data_end(node, node.type, node.pivot, hi)
        gaps = tuple(node.gap[: end + 1]) if node.gap is not None else None
        leaf = node.type < 2
        out.append(
            NodeShape(
                kind=KINDS[node.type],
                min=lo,
                max=hi,
                depth=depth,
                end=end,
                pivots=tuple(node.pivot[: min(end, len(node.pivot))]),
                gaps=gaps,
                gap_offset=node.meta_gap if node.gap is not None else None,
                entries=tuple(entry_key(e) for e in node.slot[: end + 1]) if leaf else (),
            )
        )
        if leaf:
            return
        child_lo = lo
        for k in range(end + 1):
            child_hi = hi if k >= mt_pivots[node.type] or k == end else node.pivot[k]
            visit(node.slot[k], child_lo, child_hi, depth + 1)
            child_lo = child_hi + 1

    visit(root, 0, ULONG_MAX, 0)
    return out


def compare_geometry(
    kernel: KernelTree,
    model: MapleTree,
    entry_key: Callable[[Any], Any] = _model_entry,
    limit: int = 10,
) -> list[str]:
    """Differences between the kernel's and the model's tree (empty when identical)."""
    problems: list[str] = []
    if kernel.height != model.height:
        problems.append(f"height: kernel {kernel.height}, model {model.height}")
    ks = kernel_shapes(kernel)
    ms = model_shapes(model, entry_key)
    if len(ks) != len(ms):
        problems.append(f"node count: kernel {len(ks)}, model {len(ms)}")
    for i, (k, m) in enumerate(zip(ks, ms, strict=False)):
        if k == m:
            continue
        what = [
            name
            for name in ("kind", "min", "max", "depth", "end", "pivots", "gaps", "gap_offset")
            if getattr(k, name) != getattr(m, name)
        ]
        if k.entries != m.entries:
            what.append("entries")
        problems.append(
            f"node {i}: differs in {', '.join(what)}\n"
            f"    kernel: {k.describe()} pivots {[hex(p) for p in k.pivots]}\n"
            f"    model:  {m.describe()} pivots {[hex(p) for p in m.pivots]}"
        )
        if len(problems) >= limit:
            problems.append("...")
            break
    return problems


def model_from_kernel_tree(
    kernel: KernelTree,
    make_entry: Callable[[int, int], Any],
    flags: int | None = None,
) -> MapleTree:
    """A model tree with the kernel tree's exact layout.

    ``make_entry(vm_start, vm_end)`` creates the model's entry for each VMA slot (the same
    object is reused for a VMA that appears once; each slot is one VMA).
    """
    mt = MapleTree(kernel.ma_flags if flags is None else flags)
    mt.ma_flags = kernel.ma_flags
    if kernel.root is None:
        if kernel.root_entry is not None:
            mt.ma_root = make_entry(*kernel.root_entry)
        return mt

    def build(knode: KernelNode, parent: MapleNode | None, slot: int) -> MapleNode:
        node = MapleNode(KINDS.index(knode.kind))
        node.pivot[:] = list(knode.pivots)[: len(node.pivot)]
        if node.gap is not None and knode.gaps is not None:
            node.gap[:] = list(knode.gaps)[: len(node.gap)]
        node.meta_end = knode.meta_end or 0
        node.meta_gap = knode.meta_gap or 0
        node.parent = parent
        node.parent_slot = slot
        node.is_root = parent is None
        if knode.is_leaf:
            for i, entry in enumerate(knode.entries):
                node.slot[i] = None if entry is None else make_entry(*entry)
        else:
            for i, child in enumerate(knode.children):
                node.slot[i] = build(child, node, i)
        # Whatever lies past the data end is not part of the tree.
        for i in range(knode.end + 1, len(node.pivot)):
            node.pivot[i] = 0
        return node

    mt.ma_root = build(kernel.root, None, 0)
    mt.zero_entries = True  # entries copied as they are: zero entries possible
    return mt


def kernel_dump(kernel: KernelTree, fmt: str = "hex") -> str:
    """``mt_dump`` text of a kernel tree (VMA pointers as the kernel holds them)."""

    def view(node: KernelNode) -> DumpNode:
        children = {i: view(c) for i, c in enumerate(node.children)}
        return DumpNode(
            addr=node.address,
            type=KINDS.index(node.kind),
            parent_word=node.parent,
            pivots=list(node.pivots),
            slots=list(node.slots),
            gaps=list(node.gaps) if node.gaps is not None else None,
            meta_end=node.meta_end or 0,
            meta_gap=node.meta_gap or 0,
            entries=[_RawEntry(w) if w else None for w in node.slots],
            children=children,
        )

    root = view(kernel.root) if kernel.root is not None else None
    root_entry = _RawEntry(kernel.root_raw) if kernel.root is None and kernel.root_raw else None
    # The root's parent word is the tree's address with bit 0 set.
    tree_addr = kernel.root.parent & ~1 if kernel.root is not None else kernel.mm
    return render_dump(tree_addr, kernel.ma_flags, root, root_entry, fmt)


class _RawEntry:
    """A kernel entry word, printed as the pointer it is."""

    __slots__ = ("dump_addr",)

    def __init__(self, word: int) -> None:
        self.dump_addr = word

    def __repr__(self) -> str:
        return ptr(self.dump_addr)


def shapes_text(shapes: Iterable[NodeShape]) -> str:
    """A readable listing of node shapes."""
    lines = []
    for s in shapes:
        pad = "  " * s.depth
        lines.append(f"{pad}{s.describe()} pivots={[hex(p) for p in s.pivots]}")
    return "\n".join(lines)


__all__ = [
    "NodeShape",
    "compare_geometry",
    "kernel_dump",
    "kernel_shapes",
    "model_from_kernel_tree",
    "model_shapes",
    "shapes_text",
]
