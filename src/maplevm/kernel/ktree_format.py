"""A readable indented dump of a :class:`~maplevm.kernel.ktree_walk.KernelTree`."""

from __future__ import annotations

from maplevm.kernel.ktree_walk import KernelNode, KernelTree


def _hexes(values: tuple[int, ...]) -> str:
    return " ".join(f"{v:#x}" for v in values) if values else "-"


def _node_lines(node: KernelNode, indent: str, out: list[str]) -> None:
    kind = node.kind.removeprefix("maple_")
    meta = ""
    if node.meta_end is not None:
        meta = f"  meta(end={node.meta_end}, gap={node.meta_gap})"
    out.append(
        f"{indent}{kind} [{node.min:#x}, {node.max:#x}]  depth {node.depth}  end {node.end}{meta}"
    )
    # Pivots past the data end are stale or zero; the raw arrays stay in the dataclass.
    out.append(f"{indent}  pivots: {_hexes(node.pivots[: node.end])}")
    if node.gaps is not None:
        out.append(f"{indent}  gaps:   {_hexes(node.gaps[: node.end + 1])}")
    if node.is_leaf:
        for i, entry in enumerate(node.entries):
            lo, hi = node.slot_range(i)
            what = "NULL" if entry is None else f"vma {entry[0]:#x}-{entry[1]:#x}"
            out.append(f"{indent}  [{i:2}] {lo:#x}..{hi:#x}  {what}")
        return
    for child in node.children:
        _node_lines(child, indent + "    ", out)


def format_kernel_tree(tree: KernelTree) -> str:
    """Node kind, range, pivots (and gaps), and the VMA range of each leaf entry."""
    head = f"ma_flags {tree.ma_flags:#x}  height {tree.height}"
    if tree.pid:
        head = f"pid {tree.pid}  mm {tree.mm:#x}  " + head
    lines = [head]
    if tree.root is None:
        if tree.root_entry is None:
            lines.append("(empty tree)")
        else:
            s, e = tree.root_entry
            lines.append(f"single entry in ma_root at index 0: vma {s:#x}-{e:#x}")
    else:
        lines.append(f"{sum(1 for _ in tree.nodes())} nodes")
        _node_lines(tree.root, "", lines)
    return "\n".join(lines) + "\n"
