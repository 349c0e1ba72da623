"""``mt_validate()``: every invariant the kernel's debug validation checks.

Per node (as ``mas_validate_limits``, ``mas_validate_parent_slot``,
``mas_validate_child_slot`` and ``mas_validate_gaps`` do): pivots non-decreasing inside the
node's implied ``[min, max]`` with no zero pivot but at offset 0; the data end (from the
metadata) equal to the slot whose pivot reaches the node max; nothing stored past the data
end; parent and child links agreeing in both directions; in ``MT_FLAGS_ALLOC_RANGE`` trees,
each gap equal to the child's largest gap and the metadata pointing at the largest; and no
non-root node below its minimum occupancy.  Across the tree (``mt_validate_nulls``): no two
NULL ranges in a row.  The model adds what the kernel gets from its C types: every leaf at the
same depth, the height in the flags equal to that depth, node types matching the tree kind,
and fixed-size arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maplevm.tree.constants import (
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    maple_arange_64,
    maple_leaf_64,
    maple_range_64,
    mt_min_slots,
    mt_pivots,
    mt_slots,
)
from maplevm.tree.errors import MapleBug
from maplevm.tree.node import MapleNode, ma_data_end

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree


def _safe_pivot(node: MapleNode, i: int, node_max: int) -> int:
    return node_max if i >= mt_pivots[node.type] else node.pivot[i]


def _leaf_max_gap(node: MapleNode, lo: int, hi: int, end: int) -> int:
    """The largest NULL range, computed plainly (the kernel's mas_validate_gaps loop)."""
    max_gap = 0
    p_start = lo
    for i in range(mt_slots[node.type]):
        p_end = _safe_pivot(node, i, hi)
        if node.slot[i] is None and i <= end:
            gap = (p_end - p_start + 1) & ULONG_MAX
            max_gap = max(max_gap, gap)
        p_start = p_end + 1
        if p_end >= hi:
            break
    return max_gap


def mt_validate(mt: MapleTree) -> None:
    """Mirror of ``mt_validate()``: raise :class:`MapleBug` listing every problem found."""
    problems = validation_problems(mt)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise MapleBug(f"maple tree failed validation:\n  {shown}{more}")


def validation_problems(mt: MapleTree) -> list[str]:
    """Every broken invariant of ``mt``, as readable lines (empty if the tree is valid)."""
    problems: list[str] = []
    root = mt.ma_root
    if not isinstance(root, MapleNode):
        if mt.height != 0:
            problems.append(f"height is {mt.height} but the root holds no node")
        return problems
    alloc = bool(mt.ma_flags & MT_FLAGS_ALLOC_RANGE)
    if not root.is_root:
        problems.append(f"root node {root.addr:#x} lacks the root parent marker")
    leaf_depths: set[int] = set()
    leaves: list[tuple[MapleNode, int, int, int]] = []

    def where(node: MapleNode, lo: int, hi: int) -> str:
        return f"node {node.addr:#x} [{lo:#x}-{hi:#x}]"

    def visit(node: MapleNode, lo: int, hi: int, depth: int) -> int:
        """Validate ``node``; return its largest gap."""
        ntype = node.type
        here = where(node, lo, hi)
        if node.dead:
            problems.append(f"{here} is dead but linked in the tree")
        npiv = mt_pivots[ntype]
        nslots = mt_slots[ntype]
        if len(node.pivot) != npiv or len(node.slot) != nslots:
            problems.append(f"{here} has {len(node.pivot)} pivots / {len(node.slot)} slots")
            return 0
        if ntype == maple_leaf_64:
            pass
        elif ntype == maple_arange_64 and not alloc:
            problems.append(f"{here} is arange_64 in a tree without MT_FLAGS_ALLOC_RANGE")
        elif ntype == maple_range_64 and alloc:
            problems.append(f"{here} is range_64 in an MT_FLAGS_ALLOC_RANGE tree")

        # mas_validate_limits
        prev_piv = 0
        i = 0
        for i in range(nslots):
            piv = _safe_pivot(node, i, hi)
            if not piv and i != 0:
                problems.append(f"{here}: missing node limit pivot at offset {i}")
            if prev_piv > piv:
                problems.append(f"{here}[{i}]: pivot {piv:#x} < previous {prev_piv:#x}")
            if piv < lo:
                problems.append(f"{here}[{i}]: pivot {piv:#x} below node min")
            if piv > hi:
                problems.append(f"{here}[{i}]: pivot {piv:#x} above node max")
            prev_piv = piv
            if piv == hi:
                break
        end = ma_data_end(node, ntype, node.pivot, hi)
        if end != i:
            problems.append(f"{here}: data end {end} != last slot offset {i}")
        for j in range(i + 1, nslots):
            if node.slot[j] is not None and j != nslots - 1:
                problems.append(f"{here}[{j}]: entry {node.slot[j]!r} past the data end")
            if j < npiv and node.pivot[j]:
                problems.append(f"{here}[{j}]: pivot {node.pivot[j]:#x} past the data end")
        if not node.is_root and end < mt_min_slots[ntype]:
            problems.append(f"{here}: only {end + 1} slots used (minimum {mt_min_slots[ntype]})")

        if ntype < 2:
            leaf_depths.add(depth)
            leaves.append((node, lo, hi, end))
            return _leaf_max_gap(node, lo, hi, end)

        # mas_validate_child_slot, then recurse with each child's implied range.
        max_gap = 0
        child_lo = lo
        gaps = node.gap
        for k in range(end + 1):
            child = node.slot[k]
            child_hi = _safe_pivot(node, k, hi)
            if not isinstance(child, MapleNode):
                problems.append(f"{here}: non-leaf node lacks a child at offset {k}")
                child_lo = child_hi + 1
                continue
            if child.parent is not node:
                problems.append(f"{here}[{k}]: child {child.addr:#x} has another parent")
            elif child.parent_slot != k:
                problems.append(
                    f"{here}[{k}]: child {child.addr:#x} has parent slot {child.parent_slot}"
                )
            if child.is_root:
                problems.append(f"{here}[{k}]: child {child.addr:#x} claims to be the root")
            child_gap = visit(child, child_lo, child_hi, depth + 1)
            if alloc and gaps is not None:
                if gaps[k] != child_gap:
                    problems.append(
                        f"{here}: gap[{k}] is {gaps[k]:#x}, child's largest gap is {child_gap:#x}"
                    )
                if gaps[k] > child_hi - child_lo + 1:
                    problems.append(f"{here}: gap[{k}] {gaps[k]:#x} exceeds the child's range")
            max_gap = max(max_gap, child_gap)
            child_lo = child_hi + 1
        if alloc and gaps is not None:
            recorded = max(gaps[: end + 1])
            if node.meta_gap > end:
                problems.append(f"{here}: gap offset {node.meta_gap} is past the data end {end}")
            elif gaps[node.meta_gap] != recorded:
                problems.append(
                    f"{here}: gap offset {node.meta_gap} ({gaps[node.meta_gap]:#x}) "
                    f"is not the largest gap {recorded:#x}"
                )
            for j in range(end + 1, len(gaps)):
                if gaps[j]:
                    problems.append(f"{here}: gap[{j}] = {gaps[j]:#x} beyond the node limit")
        return max_gap

    visit(root, 0, ULONG_MAX, 0)
    if len(leaf_depths) > 1:
        problems.append(f"leaves at different depths: {sorted(leaf_depths)}")
    elif leaf_depths and mt.height != min(leaf_depths) + 1:
        problems.append(f"height flag {mt.height} but leaves at depth {min(leaf_depths)}")

    # mt_validate_nulls: no NULL next to a NULL, across leaf boundaries too.
    last: Any = 1
    for node, _lo, _hi, end in leaves:
        for k in range(end + 1):
            entry = node.slot[k]
            if last is None and entry is None:
                problems.append(f"sequential NULLs end at node {node.addr:#x}[{k}]")
            last = entry
    return problems
