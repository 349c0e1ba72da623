"""Walk a maple tree in kernel memory and decode its nodes (:class:`KernelNode`).

The tree is read node by node through :class:`~maplevm.kernel.bpf_reader.KernelMemory`,
level by level so that each level's nodes go out in batched reads, then every VMA a leaf
points to is read for its ``vm_start``/``vm_end``.  All struct offsets come from BTF
(:mod:`maplevm.kernel.ktree_layout`).

Decoding rules (the maple tree's node encoding, restated from include/linux/maple_tree.h):

* nodes are 256-byte aligned; an encoded node pointer keeps the node type in bits 3-6 and
  flags in bits 0-2, so the node address is the pointer with its low 8 bits cleared;
* ``ma_root`` is a node when it is an "internal" xarray entry (low two bits ``10``) above
  4096; any other non-NULL value is a single entry stored directly for index 0;
* types: 0 dense, 1 leaf_64, 2 range_64, 3 arange_64; types below range_64 are leaves;
* ``struct maple_metadata {end, gap}`` sits after the last pivot area: in the unused last
  slot of a range/leaf node (so a node using all 16 slots has none), and in its own field
  of an arange node;
* the data end of a range/leaf node is 14 if the last pivot equals the node's maximum,
  15 (full) if the last pivot is set to anything else, and the metadata's ``end`` when the
  last pivot is 0; an arange node always uses its metadata;
* a child's range is ``[pivot[i-1] + 1, pivot[i]]``, with the parent's min/max at the ends;
* a node's ``parent`` word holds the parent node address, the slot number in bits 3-7 and
  type bits; the root's holds the tree's address with bit 0 set; a freed node points to
  itself (checked, so a stale read is reported rather than decoded).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from maplevm.kernel.ktree_layout import KernelLayout, NodeLayout

ULONG_MAX = (1 << 64) - 1
NODE_MASK = 0xFF
TYPE_SHIFT, TYPE_MASK = 3, 0x0F
HEIGHT_MASK, HEIGHT_SHIFT = 0x7C, 2
MAX_HEIGHT = 31
KINDS = ("maple_dense", "maple_leaf_64", "maple_range_64", "maple_arange_64")
DENSE, LEAF_64, RANGE_64, ARANGE_64 = range(4)


class KernelTreeError(Exception):
    """The kernel's tree could not be read consistently."""


class MemoryReader(Protocol):
    """What the walker needs from a kernel-memory reader (KernelMemory, or a fake in tests)."""

    def read(self, addrs: Sequence[int]) -> list[bytes]: ...

    def read_one(self, addr: int) -> bytes: ...


@dataclass(frozen=True)
class KernelNode:
    """One maple node as the kernel holds it."""

    kind: str  # "maple_dense" | "maple_leaf_64" | "maple_range_64" | "maple_arange_64"
    min: int  # implied range, from the parent's pivots (root: 0 .. ULONG_MAX)
    max: int
    depth: int  # root is 0
    pivots: tuple[int, ...]  # raw pivot array (15 leaf/range, 9 arange, 0 dense)
    slots: tuple[int, ...]  # raw slot words (16 leaf/range, 10 arange, 31 dense)
    gaps: tuple[int, ...] | None  # arange_64 only: the raw gap array
    meta_end: int | None  # metadata bytes, when the node has room for them (see module doc)
    meta_gap: int | None
    children: tuple[KernelNode, ...]  # internal nodes: one per used slot (0..end)
    entries: tuple[tuple[int, int] | None, ...]  # leaves: per used slot, (vm_start, vm_end)
    end: int = 0  # data end: index of the last used slot
    address: int = 0  # kernel address of the node (differs run to run; not geometry)
    parent: int = 0  # raw parent word

    @property
    def is_leaf(self) -> bool:
        return self.kind in ("maple_dense", "maple_leaf_64")

    def slot_range(self, i: int) -> tuple[int, int]:
        """The index range covered by used slot ``i``."""
        return slot_range(self.min, self.max, self.pivots, i, self.end)

    def walk(self) -> Iterator[KernelNode]:
        """This node and all below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class KernelTree:
    ma_flags: int  # height is (ma_flags & 0x7C) >> 2
    root: KernelNode | None  # None for an empty tree or a single-entry root
    root_raw: int = 0  # the raw ma_root word
    root_entry: tuple[int, int] | None = None  # single entry kept in ma_root (index 0)
    mm: int = 0  # kernel address of the mm_struct
    pid: int = 0
    nodes_read: int = field(default=0, compare=False)

    @property
    def height(self) -> int:
        return (self.ma_flags & HEIGHT_MASK) >> HEIGHT_SHIFT

    def nodes(self) -> Iterator[KernelNode]:
        if self.root is not None:
            yield from self.root.walk()

    def leaf_entries(self) -> list[tuple[int, int, tuple[int, int] | None]]:
        """(first index, last index, entry) for every used leaf slot, in index order."""
        out: list[tuple[int, int, tuple[int, int] | None]] = []
        for node in self.nodes():
            if node.is_leaf:
                for i, entry in enumerate(node.entries):
                    lo, hi = node.slot_range(i)
                    out.append((lo, hi, entry))
        return out


def slot_range(lo: int, hi: int, pivots: Sequence[int], i: int, end: int) -> tuple[int, int]:
    if not pivots:  # dense node: slot i holds index lo + i
        return lo + i, lo + i
    first = lo if i == 0 else pivots[i - 1] + 1
    last = pivots[i] if i < end and i < len(pivots) else hi
    return first, last


# -- decoding ---------------------------------------------------------------------------


def is_node(entry: int) -> bool:
    """xa_is_node: an internal entry (low bits 10) above the reserved range."""
    return entry & 3 == 2 and entry > 4096


def node_type(enode: int) -> int:
    return (enode >> TYPE_SHIFT) & TYPE_MASK


def node_address(enode: int) -> int:
    return enode & ~NODE_MASK & ULONG_MAX


def _words(raw: bytes, off: int, count: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}Q", raw, off)


@dataclass(frozen=True)
class _RawNode:
    """A node's words, decoded but not yet linked to its children or VMAs."""

    kind: int
    address: int
    parent: int
    pivots: tuple[int, ...]
    slots: tuple[int, ...]
    gaps: tuple[int, ...] | None
    meta: tuple[int, int] | None  # (end, gap) bytes where the node has metadata room
    end: int


def _data_end(kind: int, pivots: tuple[int, ...], meta_end: int, hi: int) -> int:
    if kind == ARANGE_64:
        return meta_end
    last = len(pivots) - 1
    if pivots[last] == 0:
        return meta_end
    if pivots[last] == hi:
        return last
    return len(pivots)  # every slot used; the metadata area holds the last slot


def decode_node(lay: KernelLayout, enode: int, raw: bytes, hi: int) -> _RawNode:
    kind = node_type(enode)
    parent: int = struct.unpack_from("<Q", raw, lay.node_parent)[0]
    if kind == DENSE:
        slots = _words(raw, lay.dense_slot_off, lay.dense_slot_count)
        used = [i for i, s in enumerate(slots) if s]
        return _RawNode(
            kind, node_address(enode), parent, (), slots, None, None, max(used, default=0)
        )
    if kind not in (LEAF_64, RANGE_64, ARANGE_64):
        raise KernelTreeError(f"node {enode:#x} has unknown type {kind}")
    nl: NodeLayout = lay.arange64 if kind == ARANGE_64 else lay.range64
    pivots = _words(raw, nl.pivot_off, nl.pivot_count)
    slots = _words(raw, nl.slot_off, nl.slot_count)
    gaps = _words(raw, nl.gap_off, nl.gap_count) if nl.gap_off is not None else None
    meta = (raw[nl.meta_off + lay.meta_end], raw[nl.meta_off + lay.meta_gap])
    end = _data_end(kind, pivots, meta[0], hi)
    if end >= nl.slot_count:
        raise KernelTreeError(f"node {enode:#x}: data end {end} beyond {nl.slot_count} slots")
    has_meta = kind == ARANGE_64 or end < nl.slot_count - 1
    return _RawNode(
        kind, node_address(enode), parent, pivots, slots, gaps, meta if has_meta else None, end
    )


# -- walking ----------------------------------------------------------------------------


@dataclass
class _Pending:
    enode: int
    lo: int
    hi: int
    depth: int
    parent_addr: int  # expected parent node address (tree address for the root)
    parent_slot: int  # -1 for the root
    raw: _RawNode | None = None
    children: list[_Pending] = field(default_factory=list)


def _check_parent(p: _Pending, node: _RawNode) -> None:
    if node_address(node.parent) == node.address:
        raise KernelTreeError(f"node {node.address:#x} is dead (freed while being read)")
    if p.parent_slot < 0:
        ok = node.parent == p.parent_addr | 1
    else:
        ok = (
            node_address(node.parent) == p.parent_addr
            and (node.parent & 0xF8) >> 3 == p.parent_slot
        )
    if not ok:
        raise KernelTreeError(
            f"node {node.address:#x}: parent word {node.parent:#x} does not point back to "
            f"{p.parent_addr:#x} slot {p.parent_slot} (tree changed while being read?)"
        )


def _expand(p: _Pending, node: _RawNode) -> list[_Pending]:
    """Children of an internal node, with ranges implied by its pivots."""
    if node.kind in (DENSE, LEAF_64):
        return []
    if p.depth + 1 >= MAX_HEIGHT:
        raise KernelTreeError("tree deeper than MAPLE_HEIGHT_MAX")
    out: list[_Pending] = []
    for i in range(node.end + 1):
        child = node.slots[i]
        if not child or child & 3 != 0 or node_address(child) == 0:
            raise KernelTreeError(f"node {node.address:#x} slot {i}: bad child {child:#x}")
        lo, hi = slot_range(p.lo, p.hi, node.pivots, i, node.end)
        out.append(_Pending(child, lo, hi, p.depth + 1, node.address, i))
    return out


def _read_nodes(km: MemoryReader, lay: KernelLayout, root: _Pending) -> int:
    """Read every node level by level (a level's nodes go out in batched reads)."""
    level = [root]
    count = 0
    while level:
        raws = km.read([node_address(p.enode) for p in level])
        nxt: list[_Pending] = []
        for p, raw in zip(level, raws, strict=True):
            node = decode_node(lay, p.enode, raw, p.hi)
            _check_parent(p, node)
            p.raw = node
            p.children = _expand(p, node)
            nxt.extend(p.children)
        count += len(level)
        level = nxt
    return count


def _vma_pointers(p: _Pending) -> Iterator[int]:
    node = p.raw
    assert node is not None
    if node.kind in (DENSE, LEAF_64):
        for i in range(node.end + 1):
            if node.slots[i]:
                yield node.slots[i]
    for child in p.children:
        yield from _vma_pointers(child)


def _read_vmas(
    km: MemoryReader, lay: KernelLayout, ptrs: Sequence[int]
) -> dict[int, tuple[int, int]]:
    unique = sorted(set(ptrs))
    for ptr in unique:
        if ptr & 3:
            # Values like XA_ZERO_ENTRY only appear in an mm whose fork failed.
            raise KernelTreeError(f"leaf slot holds a non-VMA value {ptr:#x}")
    # One read per VMA covers both fields (they are adjacent words in practice).
    base_off = min(lay.vma_start, lay.vma_end)
    if max(lay.vma_start, lay.vma_end) - base_off > 248:
        raise KernelTreeError("vm_start and vm_end are too far apart for one read")
    out: dict[int, tuple[int, int]] = {}
    for ptr, raw in zip(unique, km.read([p + base_off for p in unique]), strict=True):
        start: int = struct.unpack_from("<Q", raw, lay.vma_start - base_off)[0]
        end: int = struct.unpack_from("<Q", raw, lay.vma_end - base_off)[0]
        out[ptr] = (start, end)
    return out


def _freeze(p: _Pending, vmas: dict[int, tuple[int, int]]) -> KernelNode:
    node = p.raw
    assert node is not None
    children = tuple(_freeze(c, vmas) for c in p.children)
    entries: tuple[tuple[int, int] | None, ...] = ()
    if node.kind in (DENSE, LEAF_64):
        entries = tuple(vmas[s] if s else None for s in node.slots[: node.end + 1])
    return KernelNode(
        kind=KINDS[node.kind],
        min=p.lo,
        max=p.hi,
        depth=p.depth,
        pivots=node.pivots,
        slots=node.slots,
        gaps=node.gaps,
        meta_end=node.meta[0] if node.meta else None,
        meta_gap=node.meta[1] if node.meta else None,
        children=children,
        entries=entries,
        end=node.end,
        address=node.address,
        parent=node.parent,
    )


def walk_tree(km: MemoryReader, lay: KernelLayout, mm: int, pid: int = 0) -> KernelTree:
    """Read the maple tree at ``mm + mm_mt`` once."""
    mt = mm + lay.mm_mt
    head = km.read_one(mt)
    flags: int = struct.unpack_from("<I", head, lay.mt_flags)[0]
    root: int = struct.unpack_from("<Q", head, lay.mt_root)[0]
    if root == 0:
        return KernelTree(flags, None, 0, None, mm, pid, 0)
    if not is_node(root):
        vma = _read_vmas(km, lay, [root])[root]
        return KernelTree(flags, None, root, vma, mm, pid, 0)
    top = _Pending(root, 0, ULONG_MAX, 0, mt, -1)
    count = _read_nodes(km, lay, top)
    vmas = _read_vmas(km, lay, list(_vma_pointers(top)))
    return KernelTree(flags, _freeze(top, vmas), root, None, mm, pid, count)
