"""The kernel maple-tree reader against the live kernel, plus offline decoding checks.

Live tests start a child, let it build its address space, stop it (SIGSTOP, confirmed
with waitpid), read its tree through BPF and check it against /proc/PID/maps and the
maple tree's structural rules.
"""

from __future__ import annotations

import itertools
import os
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from maplevm.kernel.bpf_asm import R0, R1, Assembler
from maplevm.kernel.ktree import (
    KernelNode,
    KernelTree,
    format_kernel_tree,
    kernel_tree_available,
    proc_maps_ranges,
    read_mm_tree,
)
from maplevm.kernel.ktree_btf import Btf, BtfError
from maplevm.kernel.ktree_layout import KernelLayout, NodeLayout, kernel_layout
from maplevm.kernel.ktree_walk import ULONG_MAX, KernelTreeError, decode_node, walk_tree

# -- helpers ----------------------------------------------------------------------------


def _require_kernel() -> None:
    reason = kernel_tree_available()
    if reason is not None:
        pytest.skip(reason)


# The child maps ``n`` single pages with alternating protections (so neighbours cannot
# merge into one VMA), then stops itself; the tree cannot change while it is stopped.
_CHILD = textwrap.dedent(
    """
    import mmap, os, signal, sys
    keep = []
    for i in range(int(sys.argv[1])):
        prot = mmap.PROT_READ if i % 2 else mmap.PROT_READ | mmap.PROT_WRITE
        keep.append(mmap.mmap(-1, mmap.PAGESIZE, prot=prot))
    os.kill(os.getpid(), signal.SIGSTOP)
    """
)


@contextmanager
def stopped_child(n_maps: int) -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(n_maps)])
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), f"child did not stop (status {status:#x})"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _leaf_depths(node: KernelNode) -> set[int]:
    if node.is_leaf:
        return {node.depth}
    return set().union(*(_leaf_depths(c) for c in node.children))


def _max_gap(node: KernelNode) -> int:
    """The largest run of NULL indices below ``node``, computed from its leaves."""
    if node.is_leaf:
        sizes = [
            hi - lo + 1
            for i, entry in enumerate(node.entries)
            if entry is None
            for lo, hi in [node.slot_range(i)]
        ]
        return max(sizes, default=0)
    return max(_max_gap(c) for c in node.children)


def check_tree(tree: KernelTree, pid: int | None) -> None:
    """Structural rules, and (given a stopped ``pid``) agreement with /proc/PID/maps."""
    assert tree.root is not None
    entries = [(lo, hi, e) for lo, hi, e in tree.leaf_entries()]
    vmas = [e for _, _, e in entries if e is not None]
    # Each entry covers exactly its VMA, and the entries are exactly /proc/PID/maps.
    for lo, hi, entry in entries:
        if entry is not None:
            assert (lo, hi + 1) == entry
    if pid is not None:
        assert vmas == proc_maps_ranges(pid)
    # Leaf slots tile the whole index space, in order, with no two NULLs side by side.
    assert entries[0][0] == 0 and entries[-1][1] == ULONG_MAX
    for (_, hi, e1), (lo, _, e2) in itertools.pairwise(entries):
        assert lo == hi + 1
        assert e1 is not None or e2 is not None
    leaf_depths = _leaf_depths(tree.root)
    assert leaf_depths == {tree.height - 1}
    for node in tree.nodes():
        used = node.pivots[: node.end]
        assert all(a < b for a, b in itertools.pairwise(used))
        assert all(node.min <= p < node.max for p in used)
        for i, child in enumerate(node.children):
            assert (child.min, child.max) == node.slot_range(i)
            assert child.depth == node.depth + 1
        if node.kind == "maple_arange_64":
            assert node.gaps is not None and node.meta_gap is not None
            want = [_max_gap(c) for c in node.children]
            assert list(node.gaps[: node.end + 1]) == want
            assert node.gaps[node.meta_gap] == max(want)
        else:
            assert node.gaps is None


# -- live tests -------------------------------------------------------------------------


@pytest.mark.live
def test_small_process_tree_matches_maps() -> None:
    _require_kernel()
    with stopped_child(0) as pid:
        tree = read_mm_tree(pid)
        check_tree(tree, pid)
        assert tree.ma_flags & 1, "mm trees track gaps (MT_FLAGS_ALLOC_RANGE)"
        again = read_mm_tree(pid)
    assert again == tree  # same node addresses and contents: a stable read
    text = format_kernel_tree(tree)
    assert f"height {tree.height}" in text and "vma 0x" in text


@pytest.mark.live
def test_many_mappings_give_a_taller_tree() -> None:
    _require_kernel()
    with stopped_child(200) as pid:
        tree = read_mm_tree(pid)
        check_tree(tree, pid)
    assert tree.height >= 2
    assert sum(1 for _, _, e in tree.leaf_entries() if e is not None) > 200
    kinds = {n.kind for n in tree.nodes()}
    assert kinds == {"maple_arange_64", "maple_leaf_64"}


# Keeps remapping pages, so its tree is never still unless it is stopped.
_CHURN = textwrap.dedent(
    """
    import mmap, random
    keep = []
    while True:
        if len(keep) < 100 or random.random() < 0.5:
            keep.append(mmap.mmap(-1, mmap.PAGESIZE * random.randint(1, 3)))
        else:
            keep.pop(random.randrange(len(keep))).close()
    """
)


@pytest.mark.live
def test_stop_option_reads_a_busy_process() -> None:
    _require_kernel()
    proc = subprocess.Popen([sys.executable, "-c", _CHURN])
    try:
        time.sleep(0.2)
        tree = read_mm_tree(proc.pid, stop=True)
        check_tree(tree, None)
        assert tree.height >= 2
        with open(f"/proc/{proc.pid}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t")  # continued
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.live
def test_unknown_pid_and_kernel_thread() -> None:
    _require_kernel()
    with pytest.raises(ProcessLookupError):
        read_mm_tree(2**22 + 12345)  # above pid_max's ceiling: never a process
    with pytest.raises(ProcessLookupError, match="no address space"):
        read_mm_tree(2)  # kthreadd


# -- offline decoding -------------------------------------------------------------------

# The layout the live kernel reports (x86_64, 6.x); only for the synthetic-node tests.
_LAYOUT = KernelLayout(
    task_tasks=0, task_tgid=0, task_mm=0, task_thread_pid=0, pid_level=0, pid_numbers=0,
    upid_size=16, upid_nr=0, upid_ns=8, list_next=0, mm_mt=64, mt_flags=4, mt_root=8,
    vma_start=0, vma_end=8, node_size=256, node_parent=0, dense_slot_off=8,
    dense_slot_count=31,
    range64=NodeLayout(8, 15, 128, 16, None, 0, 248),
    arange64=NodeLayout(8, 9, 80, 10, 160, 10, 240),
    meta_end=0, meta_gap=1,
)  # fmt: skip


def _leaf(pivots: list[int], slots: list[int], meta: tuple[int, int]) -> bytes:
    raw = bytearray(256)
    struct.pack_into("<Q", raw, 0, 0xFFFF888000001006)
    struct.pack_into(f"<{len(pivots)}Q", raw, 8, *pivots)
    struct.pack_into(f"<{len(slots)}Q", raw, 128, *slots)
    if len(slots) < 16:
        raw[248], raw[249] = meta
    return bytes(raw)


LEAF_ENODE = 0xFFFF888000002000 | (1 << 3) | 4


def test_data_end_from_metadata() -> None:
    raw = _leaf([0x0FFF, 0x1FFF], [0, 0xFFFF888000100000, 0], (2, 0))
    node = decode_node(_LAYOUT, LEAF_ENODE, raw, ULONG_MAX)
    assert node.end == 2 and node.meta == (2, 0)
    assert node.address == 0xFFFF888000002000


def test_data_end_of_full_node_has_no_metadata() -> None:
    pivots = [0x1000 * (i + 1) - 1 for i in range(15)]
    slots = [0xFFFF888000100000 + 0x100 * i for i in range(16)]
    node = decode_node(_LAYOUT, LEAF_ENODE, _leaf(pivots, slots, (0, 0)), ULONG_MAX)
    assert node.end == 15 and node.meta is None


def test_data_end_when_last_pivot_is_node_max() -> None:
    pivots = [0x1000 * (i + 1) - 1 for i in range(15)]
    node = decode_node(_LAYOUT, LEAF_ENODE, _leaf(pivots, [1] * 15, (14, 0)), pivots[-1])
    assert node.end == 14 and node.meta == (14, 0)


def test_assembler_resolves_jumps() -> None:
    a = Assembler()
    a.jeq_imm(R1, 0, "out")
    a.mov_imm(R0, 1)
    a.label("out")
    a.exit()
    code = a.assemble()
    assert len(code) == 24
    assert code[:8] == bytes([0x15, 0x01, 0x01, 0x00, 0, 0, 0, 0])  # if r1 == 0 goto +1
    assert code[16] == 0x95


def test_proc_maps_ranges_excludes_vsyscall() -> None:
    ranges = proc_maps_ranges(os.getpid())
    assert ranges and all(start < end < 0xFFFFFFFFFF600000 for start, end in ranges)


def test_stopped_child_is_stopped() -> None:
    with stopped_child(2) as pid, open(f"/proc/{pid}/stat") as f:
        assert f.read().split(") ")[1][0] == "T"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped on leaving the block


# -- offline walk over a synthetic tree in fake memory -----------------------------------

MM = 0xFFFF888000010000
MT = MM + _LAYOUT.mm_mt
ROOT = 0xFFFF888000020000
LEAF_A, LEAF_B = 0xFFFF888000020100, 0xFFFF888000020200
VMA_BASE = 0xFFFF888000030000


class FakeMemory:
    """Kernel memory as a dict of 256-byte blocks keyed by address."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytes] = {}

    def put(self, addr: int, words: dict[int, int]) -> None:
        raw = bytearray(256)
        for off, value in words.items():
            struct.pack_into("<Q", raw, off, value)
        self.blocks[addr] = bytes(raw)

    def read(self, addrs: Sequence[int]) -> list[bytes]:
        return [self.blocks[a] for a in addrs]

    def read_one(self, addr: int) -> bytes:
        return self.blocks[addr]


def _enode(addr: int, kind: int) -> int:
    return addr | kind << 3 | 4


def _put_leaf(mem: FakeMemory, addr: int, parent: int, spans: list[tuple[int, int, bool]]) -> None:
    """A leaf_64 whose slots cover ``spans`` (first, last, has_vma); VMAs are made too."""
    words: dict[int, int] = {0: parent}
    for i, (first, last, has_vma) in enumerate(spans):
        if i < len(spans) - 1:
            words[8 + 8 * i] = last
        if has_vma:
            vma = VMA_BASE + (first >> 4)
            words[128 + 8 * i] = vma
            mem.put(vma, {0: first, 8: last + 1})
    words[248] = len(spans) - 1  # metadata: end
    mem.put(addr, words)


def _synthetic(mem: FakeMemory, leaf_b_parent_slot: int = 1) -> None:
    mem.put(MM + 64, {0: (2 << 2 | 1) << 32, 8: _enode(ROOT, 3) | 2})  # ma_flags, ma_root
    _put_leaf(mem, LEAF_A, ROOT | 0 << 3 | 6, [(0, 0xFFF, False), (0x1000, 0x2FFF, True)])
    spans = [(0x3000, 0x3FFF, True), (0x4000, 0x7FFF, False), (0x8000, 0x8FFF, True)]
    spans.append((0x9000, ULONG_MAX, False))
    _put_leaf(mem, LEAF_B, ROOT | leaf_b_parent_slot << 3 | 6, spans)
    root = {0: MT | 1, 8: 0x2FFF, 80: _enode(LEAF_A, 1), 88: _enode(LEAF_B, 1)}
    root |= {
        160: 0x1000,
        168: ULONG_MAX - 0x9000 + 1,
        240: 1 | 1 << 8,
    }  # gaps; meta end 1, gap slot 1
    mem.put(ROOT, root)


def test_walk_synthetic_tree() -> None:
    mem = FakeMemory()
    _synthetic(mem)
    tree = walk_tree(mem, _LAYOUT, MM)
    assert tree.height == 2 and tree.root is not None
    root = tree.root
    assert root.kind == "maple_arange_64" and root.end == 1 and root.meta_gap == 1
    assert [(c.min, c.max) for c in root.children] == [(0, 0x2FFF), (0x3000, ULONG_MAX)]
    assert tree.leaf_entries() == [
        (0, 0xFFF, None),
        (0x1000, 0x2FFF, (0x1000, 0x3000)),
        (0x3000, 0x3FFF, (0x3000, 0x4000)),
        (0x4000, 0x7FFF, None),
        (0x8000, 0x8FFF, (0x8000, 0x9000)),
        (0x9000, ULONG_MAX, None),
    ]
    assert root.gaps == (0x1000, ULONG_MAX - 0x9000 + 1) + (0,) * 8
    assert "arange_64 [0x0, 0xffffffffffffffff]" in format_kernel_tree(tree)


def test_walk_rejects_a_child_that_does_not_point_back() -> None:
    mem = FakeMemory()
    _synthetic(mem, leaf_b_parent_slot=0)
    with pytest.raises(KernelTreeError, match="does not point back"):
        walk_tree(mem, _LAYOUT, MM)


def test_walk_rejects_a_dead_node() -> None:
    mem = FakeMemory()
    _synthetic(mem)
    raw = bytearray(mem.blocks[LEAF_A])
    struct.pack_into("<Q", raw, 0, LEAF_A)  # a freed node's parent points to itself
    mem.blocks[LEAF_A] = bytes(raw)
    with pytest.raises(KernelTreeError, match="dead"):
        walk_tree(mem, _LAYOUT, MM)


def test_walk_empty_tree_and_single_entry_root() -> None:
    mem = FakeMemory()
    mem.put(MM + 64, {0: 0x30B << 32, 8: 0})
    empty = walk_tree(mem, _LAYOUT, MM)
    assert empty.root is None and empty.root_entry is None
    assert "(empty tree)" in format_kernel_tree(empty)
    mem.put(MM + 64, {0: 0x30B << 32, 8: VMA_BASE})
    mem.put(VMA_BASE, {0: 0, 8: 0x1000})
    single = walk_tree(mem, _LAYOUT, MM)
    assert single.root is None and single.root_entry == (0, 0x1000)
    assert "single entry" in format_kernel_tree(single)


# -- BTF parsing --------------------------------------------------------------------------


def _btf_blob() -> bytes:
    """A tiny BTF: vm_start/vm_end inside an anonymous struct inside an anonymous union."""
    strings = b"\0unsigned long\0vm_area_struct\0vm_start\0vm_end\0vm_freeptr\0vm_mm\0"

    def name(text: str) -> int:
        return strings.index(text.encode() + b"\0")

    def btype(name_off: int, kind: int, vlen: int, size: int) -> bytes:
        return struct.pack("<III", name_off, kind << 24 | vlen, size)

    def member(name_off: int, type_id: int, bits: int) -> bytes:
        return struct.pack("<III", name_off, type_id, bits)

    types = b"".join(
        [
            btype(name("unsigned long"), 1, 0, 8) + struct.pack("<I", 64),  # 1: INT
            btype(0, 4, 2, 16)  # 2: struct { vm_start; vm_end; }
            + member(name("vm_start"), 1, 0)
            + member(name("vm_end"), 1, 64),
            btype(0, 5, 2, 16)  # 3: union { struct {...}; vm_freeptr; }
            + member(0, 2, 0)
            + member(name("vm_freeptr"), 1, 0),
            btype(0, 8, 0, 3),  # 4: typedef to the union (anonymous, as a test)
            btype(name("vm_area_struct"), 4, 2, 24)  # 5: the struct
            + member(0, 4, 0)
            + member(name("vm_mm"), 1, 128),
        ]
    )
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def test_btf_members_through_anonymous_unions() -> None:
    btf = Btf(_btf_blob())
    assert btf.offsetof("vm_area_struct", "vm_start") == 0
    assert btf.offsetof("vm_area_struct", "vm_end") == 8
    assert btf.offsetof("vm_area_struct", "vm_mm") == 16
    assert btf.field("vm_area_struct", "vm_end").size == 8
    with pytest.raises(BtfError, match="has no vm_pgoff"):
        btf.offsetof("vm_area_struct", "vm_pgoff")
    with pytest.raises(BtfError, match="no struct mm_struct"):
        btf.find("mm_struct")


@pytest.mark.live
def test_layout_from_the_running_kernel() -> None:
    _require_kernel()
    lay = kernel_layout()
    assert (lay.range64.pivot_count, lay.range64.slot_count) == (15, 16)
    assert (lay.arange64.pivot_count, lay.arange64.slot_count, lay.arange64.gap_count) == (
        9,
        10,
        10,
    )
    # The metadata of a range node overlays its last slot (see struct maple_range_64).
    assert lay.range64.meta_off == lay.range64.slot_off + 8 * 15
