"""Read fast paths for the Pythonic API: the kernel's answers with less interpreter work.

``mtree_load()``, ``mt_next()`` and ``mt_for_each()`` go through a maple state and its state
machine, which costs many Python calls per entry.  These functions read the same nodes
directly and return exactly what those functions return (tests check them against the
kernel-named versions); anything outside their simple cases falls back to the real thing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import chain, compress, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

from maplevm.tree.constants import ULONG_MAX, maple_arange_64
from maplevm.tree.entry import XaInternal, xa_is_zero
from maplevm.tree.node import MapleNode

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree

_plus_one = (1).__add__


def _data_end(node: MapleNode, node_max: int) -> int:
    """``ma_data_end()`` (inlined copy kept here for the fast paths)."""
    if node.type == maple_arange_64:
        return node.meta_end
    pivots = node.pivot
    last_piv = pivots[-1]
    if not last_piv:
        return node.meta_end
    if last_piv == node_max:
        return len(pivots) - 1
    return len(pivots)


def load(mt: MapleTree, index: int) -> Any:
    """Same result as ``mtree_load()``."""
    node = mt.ma_root
    if node.__class__ is not MapleNode:
        if node is None or index or xa_is_zero(node):
            return None
        return node
    while True:
        pivots = node.pivot
        if node.type == maple_arange_64 or not pivots[-1]:
            hi = node.meta_end
        else:
            hi = len(pivots)
        nxt = node.slot[bisect_left(pivots, index, 0, hi)]
        if node.type < 2:
            if nxt.__class__ is XaInternal and xa_is_zero(nxt):
                return None
            return nxt
        node = nxt


def next_in_leaf(mt: MapleTree, index: int, hi: int) -> tuple[bool, Any]:
    """``mt_next()`` when the answer is in the leaf holding ``index``.

    Returns ``(True, entry)`` when decided here, ``(False, None)`` when the caller must
    take the general path (the next entry is in another leaf, or the limit is near).
    """
    node = mt.ma_root
    if node.__class__ is not MapleNode:
        return False, None
    node_max = ULONG_MAX
    while True:
        pivots = node.pivot
        end = _data_end(node, node_max)
        offset = bisect_left(pivots, index, 0, end)
        if node.type < 2:
            break
        if offset < end:
            node_max = pivots[offset]
        node = node.slot[offset]
    slots = node.slot
    for k in range(offset + 1, end + 1):
        entry = slots[k]
        if entry is not None:
            first = pivots[k - 1] + 1
            if first > hi:
                return False, None
            return True, entry
    return False, None


def iter_entries(
    mt: MapleTree, first: int = 0, last: int = ULONG_MAX
) -> Iterator[tuple[int, int, Any]]:
    """Same sequence as ``mt_for_each()`` over ``[first, last]``, as ``(first, last, entry)``.

    Walks the leaves left to right; each leaf's ranges come from C-level iterators
    (zip, compress) chained together, so the per-entry cost stays out of the interpreter.
    """
    root = mt.ma_root
    if root is None or first > last:
        return iter(())
    if root.__class__ is not MapleNode:
        if first == 0 and not xa_is_zero(root):
            return iter(((0, 0, root),))
        return iter(())
    return chain.from_iterable(_leaf_iterators(root, first, last))


def _leaf_iterators(
    root: MapleNode, first: int, last: int
) -> Iterator[Iterator[tuple[int, int, Any]]]:
    """One iterator of ``(first, last, entry)`` per leaf meeting ``[first, last]``."""
    if root.type < 2:
        yield _leaf_ranges(root, 0, ULONG_MAX, first, last)
        return
    # Walk the internal levels; the lowest internal level hands out its leaves directly,
    # so the per-leaf work is one slice-and-zip, not a stack round trip.
    stack: list[tuple[MapleNode, int, int]] = [(root, 0, ULONG_MAX)]
    pop = stack.pop
    push = stack.append
    while stack:
        node, lo, hi = pop()
        pivots = node.pivot
        end = node.meta_end if node.type == maple_arange_64 else _data_end(node, hi)
        bounds = pivots[:end]
        bounds.append(hi)
        slots = node.slot
        if slots[0].type < 2:
            c_lo = lo
            for k in range(end + 1):
                c_hi = bounds[k]
                if c_hi >= first:
                    if c_lo > last:
                        break
                    yield _leaf_ranges(slots[k], c_lo, c_hi, first, last)
                c_lo = c_hi + 1
            continue
        # Children in reverse, so the lowest is popped first; skip those outside.
        for k in range(end, -1, -1):
            c_hi = bounds[k]
            c_lo = bounds[k - 1] + 1 if k else lo
            if c_hi >= first and c_lo <= last:
                push((slots[k], c_lo, c_hi))


def _leaf_ranges(
    node: MapleNode, lo: int, hi: int, first: int, last: int
) -> Iterator[tuple[int, int, Any]]:
    pivots = node.pivot
    last_piv = pivots[-1]
    if not last_piv:
        end = node.meta_end
    elif last_piv == hi:
        end = len(pivots) - 1
    else:
        end = len(pivots)
    used = pivots[:end]
    starts = [lo]
    starts += map(_plus_one, used)
    used.append(hi)
    slots = node.slot[: end + 1]
    if XaInternal in map(type, slots):
        slots = [None if xa_is_zero(e) else e for e in slots]
    ranges = compress(zip(starts, used, slots, strict=True), map(is_not, slots, repeat(None)))
    if lo >= first and hi <= last:
        return ranges
    return iter([r for r in ranges if r[1] >= first and r[0] <= last])
