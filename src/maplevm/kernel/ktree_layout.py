"""Struct offsets the tree reader needs, all taken from the running kernel's BTF.

Nothing here is a hard-coded offset: each value comes from ``/sys/kernel/btf/vmlinux``.  The
layout is checked for the properties the walker relies on (8-byte pivots and slots, a
256-byte ``maple_node``), so a kernel that changed them fails loudly instead of being
misread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from maplevm.kernel.ktree_btf import Btf, BtfError, FieldInfo


@dataclass(frozen=True)
class NodeLayout:
    """Where one maple node type keeps its arrays (byte offsets inside the 256-byte node)."""

    pivot_off: int
    pivot_count: int
    slot_off: int
    slot_count: int
    gap_off: int | None  # arange_64 only
    gap_count: int
    meta_off: int  # struct maple_metadata inside the node


@dataclass(frozen=True)
class KernelLayout:
    task_tasks: int  # task_struct.tasks (struct list_head)
    task_tgid: int
    task_mm: int
    task_thread_pid: int  # struct pid * of the task
    pid_level: int  # struct pid.level
    pid_numbers: int  # struct pid.numbers[] (struct upid)
    upid_size: int
    upid_nr: int
    upid_ns: int
    list_next: int
    mm_mt: int  # mm_struct.mm_mt (struct maple_tree)
    mt_flags: int  # maple_tree.ma_flags (unsigned int)
    mt_root: int  # maple_tree.ma_root
    vma_start: int
    vma_end: int
    node_size: int
    node_parent: int
    dense_slot_off: int
    dense_slot_count: int
    range64: NodeLayout  # also used by maple_leaf_64
    arange64: NodeLayout
    meta_end: int  # offsets inside struct maple_metadata
    meta_gap: int


def _array(info: FieldInfo, what: str) -> tuple[int, int]:
    if info.elem_size != 8 or info.array_len == 0:
        raise BtfError(f"{what}: expected an array of 8-byte words, got {info}")
    return info.offset, info.array_len


def layout_from_btf(btf: Btf) -> KernelLayout:
    r_piv = _array(btf.field("maple_range_64", "pivot"), "maple_range_64.pivot")
    r_slot = _array(btf.field("maple_range_64", "slot"), "maple_range_64.slot")
    a_piv = _array(btf.field("maple_arange_64", "pivot"), "maple_arange_64.pivot")
    a_slot = _array(btf.field("maple_arange_64", "slot"), "maple_arange_64.slot")
    a_gap = _array(btf.field("maple_arange_64", "gap"), "maple_arange_64.gap")
    # maple_node.slot[] follows the parent pointer; a dense node uses all of it.
    d_slot = _array(btf.field("maple_node", "slot"), "maple_node.slot")
    node_size = btf.find("maple_node").size
    if node_size != 256:
        raise BtfError(f"struct maple_node is {node_size} bytes, expected 256")
    upid = btf.find("upid")
    layout = KernelLayout(
        task_tasks=btf.offsetof("task_struct", "tasks"),
        task_tgid=btf.offsetof("task_struct", "tgid"),
        task_mm=btf.offsetof("task_struct", "mm"),
        task_thread_pid=btf.offsetof("task_struct", "thread_pid"),
        pid_level=btf.offsetof("pid", "level"),
        pid_numbers=btf.offsetof("pid", "numbers"),
        upid_size=upid.size,
        upid_nr=btf.offsetof("upid", "nr"),
        upid_ns=btf.offsetof("upid", "ns"),
        list_next=btf.offsetof("list_head", "next"),
        mm_mt=btf.offsetof("mm_struct", "mm_mt"),
        mt_flags=btf.offsetof("maple_tree", "ma_flags"),
        mt_root=btf.offsetof("maple_tree", "ma_root"),
        vma_start=btf.offsetof("vm_area_struct", "vm_start"),
        vma_end=btf.offsetof("vm_area_struct", "vm_end"),
        node_size=node_size,
        node_parent=btf.offsetof("maple_node", "parent"),
        dense_slot_off=d_slot[0],
        dense_slot_count=d_slot[1],
        range64=NodeLayout(
            r_piv[0],
            r_piv[1],
            r_slot[0],
            r_slot[1],
            None,
            0,
            btf.offsetof("maple_range_64", "meta"),
        ),
        arange64=NodeLayout(
            a_piv[0],
            a_piv[1],
            a_slot[0],
            a_slot[1],
            a_gap[0],
            a_gap[1],
            btf.offsetof("maple_arange_64", "meta"),
        ),
        meta_end=btf.offsetof("maple_metadata", "end"),
        meta_gap=btf.offsetof("maple_metadata", "gap"),
    )
    if layout.range64.slot_count != layout.range64.pivot_count + 1:
        raise BtfError("maple_range_64: slot count is not pivot count + 1")
    if layout.arange64.slot_count != layout.arange64.pivot_count + 1:
        raise BtfError("maple_arange_64: slot count is not pivot count + 1")
    return layout


@functools.lru_cache(maxsize=1)
def kernel_layout() -> KernelLayout:
    """The running kernel's layout (parsing BTF takes about a second, so it is cached)."""
    return layout_from_btf(Btf.from_file())
