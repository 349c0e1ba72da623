"""``mt_dump()``: the kernel's maple tree dump, byte for byte.

The text is what lib/maple_tree.c prints with ``mt_dump_hex`` or ``mt_dump_dec`` when built
in userspace (tools/testing/radix-tree), where ``%p`` is glibc's: ``0x...`` or ``(nil)``.
Pointers are the model's stand-ins: nodes get 256-byte aligned fake kernel addresses, the
encoded forms carry the kernel's low bits (node type and the NULL bit in a child pointer,
slot and type in a parent pointer, the root bit in the root pointer), and value and zero
entries have their real bit patterns.  :func:`normalize_dump` replaces pointers by stable
labels so that a model dump and a kernel dump can be compared.

The renderer works on :class:`DumpNode` views, so the same code prints the model's nodes
and nodes read from a live kernel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from maplevm.tree.constants import (
    MAPLE_ARANGE64_SLOTS,
    MAPLE_NODE_SLOTS,
    MAPLE_RANGE64_SLOTS,
    maple_arange_64,
    maple_dense,
    mt_max,
)
from maplevm.tree.entry import XaInternal, XaValue, mt_is_reserved
from maplevm.tree.node import MapleNode

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree

MAPLE_ENODE_NULL = 0x04
MAPLE_ROOT_NODE = 0x02
MAPLE_PARENT_RANGE64 = 0x06
MAPLE_PARENT_SLOT_SHIFT = 3

_SPACES = " " * 32


@dataclass
class DumpNode:
    """What ``mt_dump`` reads from one node: raw words, and the children to recurse into.

    ``slots`` holds the raw slot words (pointer values, 0 for NULL); ``entries`` what a
    leaf slot means (for value/zero formatting) and ``children`` the child nodes by slot.
    """

    addr: int
    type: int
    parent_word: int
    pivots: list[int]
    slots: list[int]
    gaps: list[int] | None
    meta_end: int
    meta_gap: int
    entries: list[Any]
    children: dict[int, DumpNode]


def ptr(value: int) -> str:
    """glibc's ``%p``."""
    return f"{value:#x}" if value else "(nil)"


def entry_word(entry: Any) -> int:
    """The pointer bits the kernel would hold for a model entry."""
    if entry is None:
        return 0
    if isinstance(entry, (XaValue, XaInternal)):
        return entry.bits
    if isinstance(entry, MapleNode):
        return enode_word(entry)
    addr = getattr(entry, "dump_addr", None)
    if isinstance(addr, int):
        return addr
    return 0xFFFF_8882_0000_0000 | ((id(entry) << 3) & 0xFFFF_FFF8)


def enode_word(node: MapleNode) -> int:
    """``mt_mk_node()``: the node address with its type and the NULL bit."""
    return node.addr | (node.type << 3) | MAPLE_ENODE_NULL


def model_dump_node(mt: MapleTree, node: MapleNode) -> DumpNode:
    """A :class:`DumpNode` view of a model node (and, recursively, its subtree)."""
    if node.is_root:
        parent_word = mt.addr | 1
    elif node.parent is None:
        parent_word = 0
    else:
        parent_word = node.parent.addr | (node.parent_slot << MAPLE_PARENT_SLOT_SHIFT)
        parent_word |= MAPLE_PARENT_RANGE64
    slots = [entry_word(e) for e in node.slot]
    if node.type != maple_arange_64 and node.slot[-1] is None:
        # struct maple_range_64 keeps its metadata in the bytes of the last slot.
        slots[-1] = node.meta_end | (node.meta_gap << 8)
    children: dict[int, DumpNode] = {}
    if node.type >= 2:
        for i, child in enumerate(node.slot):
            if isinstance(child, MapleNode):
                children[i] = model_dump_node(mt, child)
    return DumpNode(
        addr=node.addr,
        type=node.type,
        parent_word=parent_word,
        pivots=list(node.pivot),
        slots=slots,
        gaps=list(node.gap) if node.gap is not None else None,
        meta_end=node.meta_end,
        meta_gap=node.meta_gap,
        entries=list(node.slot),
        children=children,
    )


class _Printer:
    def __init__(self, fmt: str, entry_text: Callable[[Any, int], str]) -> None:
        if fmt not in ("hex", "dec"):
            raise ValueError(f"mt_dump format must be 'hex' or 'dec', not {fmt!r}")
        self.hex = fmt == "hex"
        self.out: list[str] = []
        self.entry_text = entry_text

    def num(self, value: int) -> str:
        return f"{value:x}" if self.hex else f"{value}"

    def piv(self, value: int) -> str:
        return f"{value:X}" if self.hex else f"{value}"

    def range(self, lo: int, hi: int, depth: int) -> None:
        pad = _SPACES[: depth * 2]
        if lo == hi:
            self.out.append(f"{pad}{self.num(lo)}: ")
        else:
            self.out.append(f"{pad}{self.num(lo)}-{self.num(hi)}: ")

    def entry(self, entry: Any, word: int, lo: int, hi: int, depth: int) -> None:
        self.range(lo, hi, depth)
        self.out.append(self.entry_text(entry, word))

    def node(self, node: DumpNode, lo: int, hi: int, depth: int) -> None:
        self.range(lo, hi, depth)
        self.out.append(
            f"node {ptr(node.addr)} depth {depth} type {node.type} parent {ptr(node.parent_word)}"
        )
        if node.type == maple_dense:
            self.out.append("\n")
            for i in range(MAPLE_NODE_SLOTS):
                if lo + i > hi:
                    self.out.append("OUT OF RANGE: ")
                self.entry(node.entries[i], node.slots[i], lo + i, lo + i, depth)
        elif node.type == maple_arange_64:
            self.arange64(node, lo, hi, depth)
        else:
            self.range64(node, lo, hi, depth)

    def range64(self, node: DumpNode, lo: int, hi: int, depth: int) -> None:
        leaf = node.type < 2
        parts = [" contents: "]
        for i in range(MAPLE_RANGE64_SLOTS - 1):
            parts.append(f"{ptr(node.slots[i])} {self.piv(node.pivots[i])} ")
        parts.append(f"{ptr(node.slots[MAPLE_RANGE64_SLOTS - 1])}\n")
        self.out.append("".join(parts))
        first = lo
        for i in range(MAPLE_RANGE64_SLOTS):
            last = hi
            if i < MAPLE_RANGE64_SLOTS - 1:
                last = node.pivots[i]
            elif not node.slots[i] and hi != mt_max[node.type]:
                break
            if last == 0 and i > 0:
                break
            if leaf:
                self.entry(node.entries[i], node.slots[i], first, last, depth + 1)
            elif node.slots[i] and i in node.children:
                self.node(node.children[i], first, last, depth + 1)
            if last == hi:
                break
            if last > hi:
                self.out.append(
                    f"node {ptr(node.addr)} last ({self.num(last)}) > max ({self.num(hi)}) "
                    f"at pivot {i}!\n"
                )
            first = last + 1

    def arange64(self, node: DumpNode, lo: int, hi: int, depth: int) -> None:
        gaps = node.gaps or [0] * MAPLE_ARANGE64_SLOTS
        parts = [" contents: "]
        for i in range(MAPLE_ARANGE64_SLOTS):
            parts.append(f"{self.num(gaps[i])} ")
        parts.append(f"| {node.meta_end:02X} {node.meta_gap:02X}| ")
        for i in range(MAPLE_ARANGE64_SLOTS - 1):
            parts.append(f"{ptr(node.slots[i])} {self.piv(node.pivots[i])} ")
        parts.append(f"{ptr(node.slots[MAPLE_ARANGE64_SLOTS - 1])}\n")
        self.out.append("".join(parts))
        first = lo
        for i in range(MAPLE_ARANGE64_SLOTS):
            last = hi
            if i < MAPLE_ARANGE64_SLOTS - 1:
                last = node.pivots[i]
            elif not node.slots[i]:
                break
            if last == 0 and i > 0:
                break
            if node.slots[i] and i in node.children:
                self.node(node.children[i], first, last, depth + 1)
            if last == hi:
                break
            if last > hi:
                self.out.append(
                    f"node {ptr(node.addr)} last ({self.num(last)}) > max ({self.num(hi)}) "
                    f"at pivot {i}!\n"
                )
            first = last + 1


def default_entry_text(entry: Any, word: int) -> str:
    """``mt_dump_entry()`` after the range: value, zero, reserved or plain pointer."""
    if isinstance(entry, XaValue):
        return f"value {entry.value} ({entry.value:#x}) [{ptr(word)}]\n"
    if isinstance(entry, XaInternal) and entry.value == 257:
        return f"zero ({entry.value})\n"
    if mt_is_reserved(entry):
        return f"UNKNOWN ENTRY ({ptr(word)})\n"
    return f"{ptr(word)}\n"


def render_dump(
    tree_addr: int,
    ma_flags: int,
    root: DumpNode | None,
    root_entry: Any,
    fmt: str = "hex",
    entry_text: Callable[[Any, int], str] = default_entry_text,
) -> str:
    """``mt_dump()`` over a :class:`DumpNode` view (model or kernel)."""
    printer = _Printer(fmt, entry_text)
    height = (ma_flags & 0x7C) >> 2
    if root is not None:
        root_word = root.addr | (root.type << 3) | MAPLE_ENODE_NULL | MAPLE_ROOT_NODE
    else:
        root_word = entry_word(root_entry)
    printer.out.append(
        f"maple_tree({ptr(tree_addr)}) flags {ma_flags:X}, height {height} root {ptr(root_word)}\n"
    )
    if root is not None:
        printer.node(root, 0, mt_max[root.type], 0)
    elif root_entry is not None:
        printer.entry(root_entry, root_word, 0, 0, 0)
    else:
        printer.out.append("(empty)\n")
    return "".join(printer.out)


def mt_dump(mt: MapleTree, fmt: str = "hex") -> str:
    """Mirror of ``mt_dump()``: the dump text of a model tree (``fmt`` "hex" or "dec")."""
    root = mt.ma_root
    if isinstance(root, MapleNode):
        return render_dump(mt.addr, mt.ma_flags, model_dump_node(mt, root), None, fmt)
    return render_dump(mt.addr, mt.ma_flags, None, root, fmt)


_PTR = re.compile(r"0x[0-9a-f]+")
_VALUE = re.compile(r"value (\d+) \(0x[0-9a-f]+\)")
_NODE = re.compile(r"node (0x[0-9a-f]+)")
_TREE = re.compile(r"maple_tree\((0x[0-9a-f]+)\)")


def normalize_dump(text: str) -> str:
    """Replace pointers by labels numbered in order of appearance.

    Nodes and the tree are 256-byte aligned and their pointers carry flags in the low
    byte (type, slot, root and NULL bits), so they become ``N<k>+<low byte>``; entry
    pointers (VMAs, ...) become ``E<k>``; the tree (embedded in another structure, so not
    aligned) becomes ``T``, and the root's parent word ``T+0x1``; small values (metadata,
    value entries) stay.
    """
    node_bases = {int(m.group(1), 16) & ~0xFF for m in _NODE.finditer(text)}
    trees = {int(m.group(1), 16) for m in _TREE.finditer(text)}
    nodes: dict[int, str] = {}
    entries: dict[int, str] = {}

    def label(match: re.Match[str]) -> str:
        value = int(match.group(0), 16)
        if value < 0x1000:
            return match.group(0)
        if value & ~1 in trees:
            return "T+0x1" if value & 1 else "T"
        base = value & ~0xFF
        if base in node_bases:
            name = nodes.setdefault(base, f"N{len(nodes)}")
            low = value & 0xFF
            return f"{name}+{low:#x}" if low else name
        return entries.setdefault(value, f"E{len(entries)}")

    out = []
    for line in text.splitlines(keepends=True):
        protected = _VALUE.sub(lambda m: f"value {m.group(1)} (VALUE)", line)
        out.append(_PTR.sub(label, protected))
    return "".join(out)
