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
from operator import add, is_not
from typing import TYPE_CHECKING, Any

from maplevm.tree.constants import ULONG_MAX, maple_arange_64
from maplevm.tree.entry import XaInternal, xa_is_zero
from maplevm.tree.node import MapleNode
from maplevm.tree.normal import mt_next

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree


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
    """Mirror of ``mtree_load()``: the entry at ``index``, None if there is none (the
    nodes read directly, not through a maple state)."""
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


def next_entry(mt: MapleTree, index: int, hi: int = ULONG_MAX) -> Any:
    """Mirror of ``mt_next()``: the entry after the one holding ``index``, up to ``hi``.

    Walks down to the leaf holding ``index`` and scans on from the next slot, as
    ``mas_next_slot()`` does; at the leaf's end it goes where ``mas_next_node()`` goes (up
    to the lowest ancestor with a slot to the right, then down its left edge) and scans that
    leaf from slot 0.  Decided here: a non-NULL entry starting at or below ``hi`` in one of
    those two leaves.  Anything else (a single-entry root, a limit reached, a leaf of NULLs)
    goes to the kernel-shaped ``mt_next()``.
    """
    node = mt.ma_root
    if node.__class__ is not MapleNode:
        return mt_next(mt, index, hi)
    node_max = ULONG_MAX
    # The lowest ancestor with a slot right of the path: its node, offset and max.
    r_node: MapleNode | None = None
    r_offset = 0
    r_max = 0
    while True:
        pivots = node.pivot
        node_type = node.type
        # _data_end(), inlined: this loop runs at every level.
        if node_type == maple_arange_64 or not pivots[-1]:
            end = node.meta_end
        elif pivots[-1] == node_max:
            end = len(pivots) - 1
        else:
            end = len(pivots)
        offset = bisect_left(pivots, index, 0, end)
        if node_type < 2:
            break
        if offset < end:
            r_node = node
            r_offset = offset
            r_max = node_max
            node_max = pivots[offset]
        node = node.slot[offset]
    slots = node.slot
    for k in range(offset + 1, end + 1):
        entry = slots[k]
        if entry is not None:
            if pivots[k - 1] + 1 > hi:
                return mt_next(mt, index, hi)
            return entry
    if r_node is None or node_max >= hi:
        return mt_next(mt, index, hi)
    # mas_next_node(): down the left edge of the next subtree.
    node = r_node
    offset = r_offset + 1
    pivots = node.pivot
    end = node.meta_end if node.type == maple_arange_64 else _data_end(node, r_max)
    node_max = pivots[offset] if offset < end else r_max
    node = node.slot[offset]
    while node.type >= 2:
        pivots = node.pivot
        end = node.meta_end if node.type == maple_arange_64 else _data_end(node, node_max)
        if end:
            node_max = pivots[0]
        node = node.slot[0]
    pivots = node.pivot
    end = _data_end(node, node_max)
    if not end:
        return mt_next(mt, index, hi)
    slots = node.slot
    entry = slots[0]
    if entry is not None:
        return entry
    for k in range(1, end + 1):
        entry = slots[k]
        if entry is not None:
            if pivots[k - 1] + 1 > hi:
                return mt_next(mt, index, hi)
            return entry
    return mt_next(mt, index, hi)


def iter_entries(
    mt: MapleTree, first: int = 0, last: int = ULONG_MAX
) -> Iterator[tuple[int, int, Any]]:
    """Same sequence as ``mt_for_each()`` over ``[first, last]``, as ``(first, last, entry)``.

    Walks the leaves left to right, a parent's leaves at a time: their pivots and slots go
    into two flat lists, and the ranges come out of C-level iterators (zip, compress) over
    them, so the per-entry cost stays out of the interpreter.  A range starts one past the
    end of the one before it, leaf boundaries included, so the starts are the ends shifted.
    """
    root = mt.ma_root
    if root is None or first > last:
        return iter(())
    if root.__class__ is not MapleNode:
        if first == 0 and not xa_is_zero(root):
            return iter(((0, 0, root),))
        return iter(())
    return chain.from_iterable(_batches(root, first, last, mt.zero_entries))


def _batches(
    root: MapleNode, first: int, last: int, zeros: bool = True
) -> Iterator[Iterator[tuple[int, int, Any]]]:
    """One iterator of ``(first, last, entry)`` per parent of leaves meeting ``[first, last]``."""
    if root.type < 2:
        end = _data_end(root, ULONG_MAX)
        root_ends = root.pivot[:end]
        root_ends.append(ULONG_MAX)
        yield _ranges(0, root_ends, root.slot[: end + 1], first, last, zeros)
        return
    whole = first == 0 and last == ULONG_MAX
    # Whole-tree walks carry the lists over several parents (their leaves are consecutive,
    # so the ranges still follow one another) and hand them out in chunks of _CHUNK.
    w_lo = 0
    w_ends: list[int] = []
    w_entries: list[Any] = []
    stack: list[tuple[MapleNode, int, int]] = [(root, 0, ULONG_MAX)]
    pop = stack.pop
    push = stack.append
    while stack:
        node, lo, hi = pop()
        pivots = node.pivot
        end = node.meta_end if node.type == maple_arange_64 else _data_end(node, hi)
        slots = node.slot
        if slots[0].type >= 2:
            # Children in reverse, so the lowest is popped first; skip those outside.
            c_hi = hi
            for k in range(end, -1, -1):
                c_lo = pivots[k - 1] + 1 if k else lo
                if c_hi >= first and c_lo <= last:
                    push((slots[k], c_lo, c_hi))
                c_hi = c_lo - 1
            continue
        # The children are leaves: gather their ends and entries (_data_end() inlined).
        if whole:
            ends = w_ends
            entries = w_entries
            bounds = pivots[:end]
            bounds.append(hi)
            # Each leaf adds pivots[:n] + [c_hi] and slots[:n + 1] for its data end n:
            # its whole arrays go in (no slice copies) and what lies past n comes off.
            for leaf, c_hi in zip(slots[: end + 1], bounds, strict=True):
                leaf_pivots = leaf.pivot
                last_piv = leaf_pivots[-1]
                ends += leaf_pivots
                entries += leaf.slot
                if not last_piv:
                    cut = 15 - leaf.meta_end  # (a leaf has 15 pivots, 16 slots)
                    del ends[-cut:]
                    del entries[-cut:]
                    ends.append(c_hi)
                elif last_piv == c_hi:  # n = 14: the last pivot is the end
                    del entries[-1]
                else:  # n = 15
                    ends.append(c_hi)
            if len(ends) >= _CHUNK:
                yield _ranges(w_lo, ends, entries, first, last, zeros)
                w_lo = hi + 1
                w_ends = []
                w_entries = []
            continue
        ends = []
        entries = []
        c_lo = lo
        b_lo = -1
        for k in range(end + 1):
            c_hi = pivots[k] if k < end else hi
            if c_hi >= first:
                if c_lo > last:
                    break
                if b_lo < 0:
                    b_lo = c_lo
                leaf = slots[k]
                leaf_pivots = leaf.pivot
                last_piv = leaf_pivots[-1]
                if not last_piv:
                    n = leaf.meta_end
                elif last_piv == c_hi:
                    n = len(leaf_pivots) - 1
                else:
                    n = len(leaf_pivots)
                ends += leaf_pivots[:n]
                ends.append(c_hi)
                entries += leaf.slot[: n + 1]
            c_lo = c_hi + 1
        if ends:
            yield _ranges(b_lo, ends, entries, first, last, zeros)
    if w_ends:
        yield _ranges(w_lo, w_ends, w_entries, first, last, zeros)


_CHUNK = 1024


def _ranges(
    lo: int, ends: list[int], entries: list[Any], first: int, last: int, zeros: bool
) -> Iterator[tuple[int, int, Any]]:
    """The non-NULL ``(first, last, entry)`` of consecutive ranges starting at ``lo``;
    ``zeros``: the entries may hold XA_ZERO_ENTRY (skipped like NULL)."""
    # lazily: one longer than ends (zip stops at ends), and no list to build
    starts = chain((lo,), map(add, ends, repeat(1)))
    if zeros and XaInternal in {*map(type, entries)}:
        entries = [None if xa_is_zero(e) else e for e in entries]
    ranges = compress(zip(starts, ends, entries, strict=False), map(is_not, entries, repeat(None)))
    if lo >= first and ends[-1] <= last:
        return ranges
    return iter([r for r in ranges if r[1] >= first and r[0] <= last])
