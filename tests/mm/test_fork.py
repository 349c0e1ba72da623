"""``MM.fork()`` (``dup_mmap()``): what the child inherits, what it loses, and how its
copied VMAs merge afterwards.  The live-kernel side of the same rules is in the recorded
fixtures ``ported/ltp-vma01`` and ``fork-merges`` (replayed by test_recorded_fixtures)."""

from __future__ import annotations

from maplevm.mm import MM
from maplevm.mm.flags import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    VM_DONTCOPY,
    VM_LOCKED,
    VM_NOHUGEPAGE,
    VM_WIPEONFORK,
)
from maplevm.tree.dump import mt_dump, normalize_dump

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def three_vmas() -> tuple[MM, int]:
    """Three anonymous VMAs kept apart by their protections; the middle one written."""
    mm = MM()
    base = mm.sys_mmap(0, 3 * 16 * PAGE_SIZE, RW, ANON, -1, 0)
    assert base > 0
    assert mm.sys_mprotect(base, 16 * PAGE_SIZE, PROT_READ) == 0
    assert mm.sys_mprotect(base + 32 * PAGE_SIZE, 16 * PAGE_SIZE, PROT_READ) == 0
    assert mm.fault(base + 16 * PAGE_SIZE) == 0
    return mm, base


def test_child_sees_the_parents_maps_and_its_own_tree() -> None:
    mm, _ = three_vmas()
    child = mm.fork()
    assert child.proc_maps() == mm.proc_maps()
    assert child.map_count == mm.map_count == 3
    assert child.mm_mt is not mm.mm_mt
    child.validate()
    # __mt_dup() then same-range stores: the child's tree has the parent's shape.
    assert normalize_dump(mt_dump(child.mm_mt)) == normalize_dump(mt_dump(mm.mm_mt))
    for p, c in zip(mm.vmas(), child.vmas(), strict=True):
        assert c is not p and c.vm_mm is child
        assert (c.vm_start, c.vm_end, c.vm_flags, c.vm_pgoff) == (
            p.vm_start,
            p.vm_end,
            p.vm_flags,
            p.vm_pgoff,
        )


def test_anon_vma_fork_makes_fork_children_only_where_the_parent_had_an_anon_vma() -> None:
    mm, base = three_vmas()
    child = mm.fork()
    low, mid, high = child.vmas()
    parent_mid = list(mm.vmas())[1]
    assert low.anon_vma is None and high.anon_vma is None
    assert mid.anon_vma is not None and mid.anon_vma is not parent_mid.anon_vma
    assert parent_mid.anon_vma in mid.anon_vma_chain
    assert mid.is_fork_child and not parent_mid.is_fork_child
    assert child.has_anon_pages(base + 16 * PAGE_SIZE, base + 17 * PAGE_SIZE)


def test_a_fork_child_vma_does_not_merge_with_a_new_neighbour() -> None:
    """LTP mem/vma/vma01: the same operations merge in the parent and not in the child."""
    results = []
    for in_child in (False, True):
        mm = MM()
        base = mm.sys_mmap(0, 3 * 256 * PAGE_SIZE, RW, ANON, -1, 0)
        assert mm.sys_munmap(base + 256 * PAGE_SIZE, 512 * PAGE_SIZE) == 0
        assert mm.fault(base) == 0
        if in_child:
            mm = mm.fork()
        addr = mm.sys_mmap(base + 256 * PAGE_SIZE, 256 * PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0)
        assert addr == base + 256 * PAGE_SIZE
        results.append([(v.vm_start, v.vm_end) for v in mm.vmas() if v.vm_start >= base])
    parent, child = results
    assert parent == [(base, base + 512 * PAGE_SIZE)]
    assert child == [
        (base, base + 256 * PAGE_SIZE),
        (base + 256 * PAGE_SIZE, base + 512 * PAGE_SIZE),
    ]


def test_dontcopy_vmas_are_not_copied_and_wipeonfork_ones_start_empty() -> None:
    mm, _ = three_vmas()
    low, mid, high = mm.vmas()
    low.vm_flags |= VM_DONTCOPY
    mid.vm_flags |= VM_WIPEONFORK
    total = mm.total_vm
    child = mm.fork()
    starts = [v.vm_start for v in child.vmas()]
    assert starts == [mid.vm_start, high.vm_start]
    assert child.map_count == 2 and mm.map_count == 3
    assert child.total_vm == total - 16
    cmid = next(iter(child.vmas()))
    assert cmid.anon_vma is None and cmid.vm_flags & VM_WIPEONFORK
    assert not child.has_anon_pages(mid.vm_start, mid.vm_end)
    assert mm.has_anon_pages(mid.vm_start, mid.vm_end)
    child.validate()


def test_locks_and_future_locking_are_not_inherited() -> None:
    mm, _ = three_vmas()
    for vma in mm.vmas():
        vma.vm_flags |= VM_LOCKED
    mm.locked_vm = 48
    mm.def_flags = VM_LOCKED | VM_NOHUGEPAGE
    child = mm.fork()
    assert all(not v.vm_flags & VM_LOCKED for v in child.vmas())
    assert all(v.vm_flags & VM_LOCKED for v in mm.vmas())
    assert child.locked_vm == 0 and mm.locked_vm == 48
    assert child.def_flags == VM_NOHUGEPAGE


def test_parent_and_child_change_independently() -> None:
    mm, base = three_vmas()
    before = mm.proc_maps()
    child = mm.fork()
    assert child.sys_munmap(base, 48 * PAGE_SIZE) == 0
    assert child.map_count == 0
    assert mm.proc_maps() == before
    assert mm.sys_munmap(base + 16 * PAGE_SIZE, PAGE_SIZE) == 0
    assert child.sys_mmap(base, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0) == base
    mm.validate()
    child.validate()
