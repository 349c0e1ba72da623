"""Linux tools/testing/vma (7.0: tests/merge.c, tests/mmap.c, tests/vma.c; 6.16: vma.c):
the userspace harness that compiles mm/vma.c and calls its merge, expand, shrink and copy
functions directly.  Ported against maplevm.mm.vma, which keeps the kernel's names.

Each test names its upstream ``test_*`` function and asserts the same prev/next, vm_start,
vm_end, vm_pgoff, anon_vma, vm_ops, sticky-flag and map_count outcomes.  What the harness
checks through its stubs is translated as follows:

* ``vma_write_started()`` (the VMA write-lock stub) is not modelled and not asserted;
  instead every scenario ends with ``validate_mm()`` (tree, ranges, map_count).
* ``cleanup_mm()``'s count is the number of VMAs left; each scenario starts a new MM.
* ``was_cloned``: the target took the source's anon_vma and its anon_vma_chain;
  ``was_unlinked``: the target's anon_vma and chain are dropped again.  The stub's
  ``unlink_anon_vmas()`` only records the call, the kernel's (and the model's) clears
  ``vma->anon_vma`` -- so after a failed merge the target has no anon_vma here, where the
  harness still sees the dummy.
* ``fail_prealloc`` (the harness redefines ``vma_iter_prealloc()`` to fail) becomes the
  same override: ``vma_iter_prealloc`` in maplevm.mm.vma is patched to return -ENOMEM.
* tests/vma.c's ``test_vma_flags_*`` exercise the 7.0 ``vma_flags_t`` bitmap helpers; the
  model keeps ``vm_flags`` as one integer and has no such helpers: not ported.
"""

from __future__ import annotations

import errno
import itertools

import pytest

from maplevm.mm import MM
from maplevm.mm.flags import (
    VM_DONTEXPAND,
    VM_IO,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_MIXEDMAP,
    VM_PFNMAP,
    VM_READ,
    VM_SPECIAL,
    VM_STICKY,
    VM_WRITE,
)
from maplevm.mm.vm_area import AnonVma, VmArea, VmOps
from maplevm.mm.vma import (
    VMA_MERGE_ERROR_NOMEM,
    VMA_MERGE_NOMERGE,
    VMA_MERGE_SUCCESS,
    VMG_STATE,
    VmaMergeStruct,
    __mmap_region,
    copy_vma,
    vma_expand,
    vma_link,
    vma_merge_existing_range,
    vma_merge_extend,
    vma_merge_new_range,
    vma_modify_flags,
    vma_shrink,
)
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma,
    vma_iter_addr,
    vma_iter_load,
    vma_iter_next_range,
    vma_iter_set,
    vma_next,
    vma_prev,
)

FLAGS = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE
CLOSE = VmOps(close=True)  # a vm_operations_struct with a close() hook


# -- the harness's helpers (shared.c, main.c, tests/merge.c), in the model's terms ----------


def new_mm(addr: int = 0) -> tuple[MM, VmaIterator, VmaMergeStruct]:
    """``struct mm_struct mm = {}; VMA_ITERATOR(vmi, &mm, addr); vmg = {.mm, .vmi}``."""
    mm = MM()
    vmi = VmaIterator(mm, addr)
    return mm, vmi, VmaMergeStruct(mm, vmi, 0, 0, 0, 0)


def alloc_vma(mm: MM, start: int, end: int, pgoff: int, flags: int) -> VmArea:
    return VmArea(mm, start, end, flags, pgoff)


def alloc_and_link_vma(mm: MM, start: int, end: int, pgoff: int, flags: int) -> VmArea:
    vma = alloc_vma(mm, start, end, pgoff, flags)
    assert vma_link(mm, vma) == 0
    assert vma.attached
    return vma


def set_anon_vma(vma: VmArea, anon: AnonVma) -> None:
    """``__vma_set_dummy_anon_vma()``: the anon_vma and a single-entry chain."""
    vma.anon_vma = anon
    vma.anon_vma_chain = (anon,)


def vmg_set_range(vmg: VmaMergeStruct, start: int, end: int, pgoff: int, flags: int) -> None:
    """tests/merge.c ``vmg_set_range()`` (the anon_vma is left as it was)."""
    vma_iter_set(vmg.vmi, start)
    vmg.prev = vmg.middle = vmg.next = vmg.target = None
    vmg.start, vmg.end, vmg.pgoff, vmg.vm_flags = start, end, pgoff, flags
    vmg.just_expand = False
    vmg.remove_middle = vmg.remove_next = False
    vmg.adjust_middle_start = vmg.adjust_next_start = False


def vmg_set_range_anon_vma(
    vmg: VmaMergeStruct, start: int, end: int, pgoff: int, flags: int, anon: AnonVma | None
) -> None:
    vmg_set_range(vmg, start, end, pgoff, flags)
    vmg.anon_vma = anon


def merge_new(vmg: VmaMergeStruct) -> VmArea | None:
    """tests/merge.c ``merge_new()``: prev and next from the iterator, then merge."""
    vmg.next = vma_next(vmg.vmi)
    vmg.prev = vma_prev(vmg.vmi)
    vma_iter_next_range(vmg.vmi)
    vma = vma_merge_new_range(vmg)
    assert vma is None or vma.attached
    return vma


def merge_existing(vmg: VmaMergeStruct) -> VmArea | None:
    vma = vma_merge_existing_range(vmg)
    assert vma is None or vma.attached
    return vma


def try_merge_new_vma(
    mm: MM, vmg: VmaMergeStruct, start: int, end: int, pgoff: int, flags: int
) -> tuple[VmArea, bool]:
    """tests/merge.c ``try_merge_new_vma()``: merge, or else link a new VMA."""
    vmg_set_range(vmg, start, end, pgoff, flags)
    merged = merge_new(vmg)
    if merged is not None:
        assert vmg.state == VMA_MERGE_SUCCESS
        return merged, True
    assert vmg.state == VMA_MERGE_NOMERGE
    return alloc_and_link_vma(mm, start, end, pgoff, flags), False


def cleanup_mm(mm: MM) -> int:
    """``cleanup_mm()``'s answer, the number of VMAs left, after validate_mm()."""
    mm.validate()
    return sum(1 for _ in mm.vmas())


def rng(vma: VmArea) -> tuple[int, int, int]:
    return vma.vm_start, vma.vm_end, vma.vm_pgoff


def sticky(vma: VmArea) -> bool:
    """``IS_SET(vma->vm_flags, VM_STICKY)``."""
    return vma.vm_flags & VM_STICKY == VM_STICKY


def fail_prealloc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness's ``fail_prealloc = true``: from now on ``vma_iter_prealloc()`` fails
    (undone after the test, like ``cleanup_mm()`` resets it)."""
    monkeypatch.setattr("maplevm.mm.vma.vma_iter_prealloc", lambda vmi, vma: -errno.ENOMEM)


# -- tests/merge.c --------------------------------------------------------------------------


def test_simple_merge() -> None:
    """tools/testing/vma tests/merge.c test_simple_merge: a new range between two VMAs
    merges all three into the first."""
    mm, vmi, _ = new_mm(0x1000)
    left = alloc_and_link_vma(mm, 0, 0x1000, 0, FLAGS)
    alloc_and_link_vma(mm, 0x2000, 0x3000, 2, FLAGS)
    vmg = VmaMergeStruct(mm, vmi, 0x1000, 0x2000, FLAGS, 1)
    vma = merge_new(vmg)
    assert vma is left
    assert rng(vma) == (0, 0x3000, 0) and vma.vm_flags == FLAGS
    assert cleanup_mm(mm) == 1


def test_simple_modify() -> None:
    """tools/testing/vma tests/merge.c test_simple_modify: vma_modify_flags() on the middle
    of a VMA splits it in three and returns the original VMA as the middle part."""
    mm, vmi, _ = new_mm(0x1000)
    init = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma, _flags = vma_modify_flags(vmi, init, init, 0x1000, 0x2000, VM_READ | VM_MAYREAD)
    assert vma is init
    assert rng(init) == (0x1000, 0x2000, 1)
    vma_iter_set(vmi, 0)
    first = vma_iter_load(vmi)
    assert first is not None and rng(first) == (0, 0x1000, 0)
    assert [rng(v) for v in mm.vmas()] == [(0, 0x1000, 0), (0x1000, 0x2000, 1), (0x2000, 0x3000, 2)]
    assert cleanup_mm(mm) == 3


def test_simple_expand() -> None:
    """tools/testing/vma tests/merge.c test_simple_expand: vma_expand() grows a VMA."""
    mm, vmi, _ = new_mm(0)
    vma = alloc_and_link_vma(mm, 0, 0x1000, 0, FLAGS)
    vmg = VmaMergeStruct(mm, vmi, 0, 0x3000, 0, 0, target=vma)
    assert vma_expand(vmg) == 0
    assert rng(vma) == (0, 0x3000, 0)
    assert cleanup_mm(mm) == 1


def test_simple_shrink() -> None:
    """tools/testing/vma tests/merge.c test_simple_shrink: vma_shrink() trims a VMA."""
    mm, vmi, _ = new_mm(0)
    vma = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    assert vma_shrink(vmi, vma, 0, 0x1000, 0) == 0
    assert rng(vma) == (0, 0x1000, 0)
    assert cleanup_mm(mm) == 1


@pytest.mark.parametrize(
    ("is_sticky", "a_sticky", "b_sticky", "c_sticky"),
    list(itertools.product((False, True), repeat=4)),
)
def test_merge_new(is_sticky: bool, a_sticky: bool, b_sticky: bool, c_sticky: bool) -> None:
    """tools/testing/vma tests/merge.c test_merge_new (__test_merge_new for every sticky
    flag permutation): new ranges merge with prev, next or both, the merged VMA takes the
    anon_vma, a close hook on a VMA that is not removed has no impact, map_count falls as
    VMAs are removed, sticky flags survive, and one VMA is left."""
    flags = FLAGS | (VM_STICKY if is_sticky else 0)
    mm, _, vmg = new_mm(0)
    dummy = AnonVma()
    # 0123456789abc
    # AA B       CC
    vma_a = alloc_and_link_vma(mm, 0, 0x2000, 0, flags | (VM_STICKY if a_sticky else 0))
    vma_b = alloc_and_link_vma(mm, 0x3000, 0x4000, 3, flags | (VM_STICKY if b_sticky else 0))
    vma_c = alloc_and_link_vma(mm, 0xB000, 0xC000, 0xB, flags | (VM_STICKY if c_sticky else 0))
    for v in (vma_a, vma_b, vma_c):  # one anon_vma_chain entry each, no anon_vma yet
        v.anon_vma_chain = (dummy,)

    # NO merge: AA B   **  CC
    vma_d, merged = try_merge_new_vma(mm, vmg, 0x7000, 0x9000, 7, flags)
    vma_d.anon_vma_chain = (dummy,)
    assert not merged and mm.map_count == 4

    # Merge BOTH sides: AA*B   DD  CC
    vma_a.vm_ops = CLOSE  # no impact: prev is extended, not removed
    vma_b.anon_vma = dummy
    vma, merged = try_merge_new_vma(mm, vmg, 0x2000, 0x3000, 2, flags)
    assert merged and vma is vma_a
    assert rng(vma) == (0, 0x4000, 0) and vma.anon_vma is dummy and mm.map_count == 3
    if is_sticky or a_sticky or b_sticky:
        assert sticky(vma)

    # Merge to PREVIOUS: AAAA*  DD  CC
    vma, merged = try_merge_new_vma(mm, vmg, 0x4000, 0x5000, 4, flags)
    assert merged and vma is vma_a
    assert rng(vma) == (0, 0x5000, 0) and vma.anon_vma is dummy and mm.map_count == 3
    if is_sticky or a_sticky:
        assert sticky(vma)

    # Merge to NEXT: AAAAA *DD  CC
    vma_d.anon_vma = dummy
    vma_d.vm_ops = CLOSE  # no impact: next is extended, not removed
    vma, merged = try_merge_new_vma(mm, vmg, 0x6000, 0x7000, 6, flags)
    assert merged and vma is vma_d
    assert rng(vma) == (0x6000, 0x9000, 6) and vma.anon_vma is dummy and mm.map_count == 3
    if is_sticky:
        assert sticky(vma)

    # Merge BOTH sides: AAAAA*DDD  CC
    vma_d.vm_ops = None  # else the merge degrades to extending A only
    vma, merged = try_merge_new_vma(mm, vmg, 0x5000, 0x6000, 5, flags)
    assert merged and vma is vma_a
    assert rng(vma) == (0, 0x9000, 0) and vma.anon_vma is dummy and mm.map_count == 2
    if is_sticky or a_sticky:
        assert sticky(vma)

    # Merge to NEXT: AAAAAAAAA *CC
    vma_c.anon_vma = dummy
    vma, merged = try_merge_new_vma(mm, vmg, 0xA000, 0xB000, 0xA, flags)
    assert merged and vma is vma_c
    assert rng(vma) == (0xA000, 0xC000, 0xA) and vma.anon_vma is dummy and mm.map_count == 2
    if is_sticky or c_sticky:
        assert sticky(vma)

    # Merge BOTH sides: AAAAAAAAA*CCC
    vma, merged = try_merge_new_vma(mm, vmg, 0x9000, 0xA000, 0x9, flags)
    assert merged and vma is vma_a
    assert rng(vma) == (0, 0xC000, 0) and vma.anon_vma is dummy and mm.map_count == 1
    if is_sticky or a_sticky or c_sticky:
        assert sticky(vma)

    # Final state: AAAAAAAAAAAAA
    vmi = VmaIterator(mm, 0)
    left = list(for_each_vma(vmi))
    assert [(rng(v), v.anon_vma) for v in left] == [((0, 0xC000, 0), dummy)]
    assert cleanup_mm(mm) == 1


def test_vma_merge_special_flags() -> None:
    """tools/testing/vma tests/merge.c test_vma_merge_special_flags: VM_IO, VM_DONTEXPAND,
    VM_PFNMAP and VM_MIXEDMAP (= VM_SPECIAL) forbid both kinds of merge."""
    special = (VM_IO, VM_DONTEXPAND, VM_PFNMAP, VM_MIXEDMAP)
    assert VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP == VM_SPECIAL
    mm, _, vmg = new_mm(0)
    left = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    # AAA*: a new range that would merge but for the flag
    vmg_set_range(vmg, 0x3000, 0x4000, 3, FLAGS)
    for flag in special:
        left.vm_flags = FLAGS | flag
        vmg.vm_flags = FLAGS | flag
        assert merge_new(vmg) is None
        assert vmg.state == VMA_MERGE_NOMERGE
    # AAAB: modifying a VMA that would merge but for the flag
    vma = alloc_and_link_vma(mm, 0x3000, 0x4000, 3, FLAGS)
    vmg.middle = vma
    for flag in special:
        left.vm_flags = FLAGS | flag
        vmg.vm_flags = FLAGS | flag
        assert merge_existing(vmg) is None
        assert vmg.state == VMA_MERGE_NOMERGE
    assert cleanup_mm(mm) == 2


def test_vma_merge_with_close() -> None:
    """tools/testing/vma tests/merge.c test_vma_merge_with_close: no merge may remove a VMA
    with a close() hook; a new range extends prev instead of also absorbing such a next,
    and modifying such a VMA does not merge it away."""
    # PPP**NNNN -> PPPPPNNNN: next has close, so prev is only extended
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x5000, 0x9000, 5, FLAGS)
    nxt.vm_ops = CLOSE
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    assert merge_new(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x5000, 0)
    assert cleanup_mm(mm) == 2

    # PPPVV, vma has close: modifying it cannot merge it into prev
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    vma.vm_ops = CLOSE
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev, vmg.middle = prev, vma
    assert merge_existing(vmg) is None
    assert vmg.state == VMA_MERGE_NOMERGE
    assert cleanup_mm(mm) == 2

    # VVNNNN, vma has close: nor into next
    mm, _, vmg = new_mm(0)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    alloc_and_link_vma(mm, 0x5000, 0x9000, 5, FLAGS)
    vma.vm_ops = CLOSE
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.middle = vma
    assert merge_existing(vmg) is None
    assert vmg.state == VMA_MERGE_NOMERGE
    assert cleanup_mm(mm) == 2

    # PPPVVNNNN, vma has close: no merge at all
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    alloc_and_link_vma(mm, 0x5000, 0x9000, 5, FLAGS)
    vma.vm_ops = CLOSE
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev, vmg.middle = prev, vma
    assert merge_existing(vmg) is None
    assert vmg.state == VMA_MERGE_NOMERGE
    assert cleanup_mm(mm) == 3

    # PPPVVNNNN -> PPPPPNNNN, next has close: merge prev and vma only
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x5000, 0x9000, 5, FLAGS)
    nxt.vm_ops = CLOSE
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev, vmg.middle = prev, vma
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x5000, 0)
    assert cleanup_mm(mm) == 2


def test_vma_merge_new_with_close() -> None:
    """tools/testing/vma tests/merge.c test_vma_merge_new_with_close: between two VMAs with
    close() hooks a new range extends prev and leaves next alone."""
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x2000, 0, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x5000, 0x7000, 5, FLAGS)
    prev.vm_ops = nxt.vm_ops = CLOSE
    vmg_set_range(vmg, 0x2000, 0x5000, 2, FLAGS)
    vma = merge_new(vmg)
    assert vma is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(vma) == (0, 0x5000, 0) and vma.vm_ops is CLOSE
    assert mm.map_count == 2
    assert rng(nxt) == (0x5000, 0x7000, 5)
    assert cleanup_mm(mm) == 2


@pytest.mark.parametrize(
    ("prev_sticky", "middle_sticky", "next_sticky"),
    list(itertools.product((False, True), repeat=3)),
)
def test_merge_existing(prev_sticky: bool, middle_sticky: bool, next_sticky: bool) -> None:
    """tools/testing/vma tests/merge.c test_merge_existing (__test_merge_existing for every
    sticky flag permutation): a modified range at the edge of a VMA merges right or left,
    partially or wholly, or with both sides; ranges not touching an edge never merge."""
    flags = FLAGS | (VM_STICKY if middle_sticky else 0)
    prev_flags = FLAGS | (VM_STICKY if prev_sticky else 0)
    next_flags = FLAGS | (VM_STICKY if next_sticky else 0)
    dummy = AnonVma()

    # Merge right, partial span:   VVVVNNN -> VNNNNNN
    mm, _, vmg = new_mm(0)
    vma = alloc_and_link_vma(mm, 0x2000, 0x6000, 2, flags)
    vma.vm_ops = CLOSE  # no impact: vma is shrunk, not removed
    nxt = alloc_and_link_vma(mm, 0x6000, 0x9000, 6, next_flags)
    nxt.vm_ops = CLOSE  # no impact: next is extended
    vmg_set_range_anon_vma(vmg, 0x3000, 0x6000, 3, flags, dummy)
    vmg.middle = vmg.prev = vma
    set_anon_vma(vma, dummy)
    assert merge_existing(vmg) is nxt
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(nxt) == (0x3000, 0x9000, 3) and nxt.anon_vma is dummy
    assert rng(vma) == (0x2000, 0x3000, 2)
    assert mm.map_count == 2
    if middle_sticky or next_sticky:
        assert sticky(nxt)
    assert cleanup_mm(mm) == 2

    # Merge right, full span:   VVVVNNN -> NNNNNNN
    mm, _, vmg = new_mm(0)
    vma = alloc_and_link_vma(mm, 0x2000, 0x6000, 2, flags)
    nxt = alloc_and_link_vma(mm, 0x6000, 0x9000, 6, next_flags)
    nxt.vm_ops = CLOSE
    vmg_set_range_anon_vma(vmg, 0x2000, 0x6000, 2, flags, dummy)
    vmg.middle = vma
    set_anon_vma(vma, dummy)
    assert merge_existing(vmg) is nxt
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(nxt) == (0x2000, 0x9000, 2) and nxt.anon_vma is dummy
    assert mm.map_count == 1
    if middle_sticky or next_sticky:
        assert sticky(nxt)
    assert cleanup_mm(mm) == 1

    # Merge left, partial span: PPPVVVV -> PPPPPPV
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, prev_flags)
    prev.vm_ops = CLOSE
    vma = alloc_and_link_vma(mm, 0x3000, 0x7000, 3, flags)
    vma.vm_ops = CLOSE
    vmg_set_range_anon_vma(vmg, 0x3000, 0x6000, 3, flags, dummy)
    vmg.prev, vmg.middle = prev, vma
    set_anon_vma(vma, dummy)
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x6000, 0) and prev.anon_vma is dummy
    assert rng(vma) == (0x6000, 0x7000, 6)
    assert mm.map_count == 2
    if prev_sticky or middle_sticky:
        assert sticky(prev)
    assert cleanup_mm(mm) == 2

    # Merge left, full span:    PPPVVVV -> PPPPPPP
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, prev_flags)
    prev.vm_ops = CLOSE
    vma = alloc_and_link_vma(mm, 0x3000, 0x7000, 3, flags)
    vmg_set_range_anon_vma(vmg, 0x3000, 0x7000, 3, flags, dummy)
    vmg.prev, vmg.middle = prev, vma
    set_anon_vma(vma, dummy)
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x7000, 0) and prev.anon_vma is dummy
    assert mm.map_count == 1
    if prev_sticky or middle_sticky:
        assert sticky(prev)
    assert cleanup_mm(mm) == 1

    # Merge both:              PPPVVVVNNN -> PPPPPPPPPP
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, prev_flags)
    prev.vm_ops = CLOSE
    vma = alloc_and_link_vma(mm, 0x3000, 0x7000, 3, flags)
    alloc_and_link_vma(mm, 0x7000, 0x9000, 7, next_flags)
    vmg_set_range_anon_vma(vmg, 0x3000, 0x7000, 3, flags, dummy)
    vmg.prev, vmg.middle = prev, vma
    set_anon_vma(vma, dummy)
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x9000, 0) and prev.anon_vma is dummy
    assert mm.map_count == 1
    if prev_sticky or middle_sticky or next_sticky:
        assert sticky(prev)
    assert cleanup_mm(mm) == 1

    # Non-merge ranges inside the middle VMA: PPPVVVVVNNN
    mm, _, vmg = new_mm(0)
    alloc_and_link_vma(mm, 0, 0x3000, 0, prev_flags)
    vma = alloc_and_link_vma(mm, 0x3000, 0x8000, 3, flags)
    alloc_and_link_vma(mm, 0x8000, 0xA000, 8, next_flags)
    for start, end, pgoff in (
        (0x4000, 0x5000, 4),
        (0x5000, 0x6000, 5),
        (0x6000, 0x7000, 6),
        (0x4000, 0x7000, 4),
        (0x4000, 0x6000, 4),
        (0x5000, 0x6000, 5),
    ):
        vmg_set_range(vmg, start, end, pgoff, flags)
        vmg.prev = vmg.middle = vma
        assert merge_existing(vmg) is None
        assert vmg.state == VMA_MERGE_NOMERGE
    assert cleanup_mm(mm) == 3


def test_anon_vma_non_mergeable() -> None:
    """tools/testing/vma tests/merge.c test_anon_vma_non_mergeable: when prev and next have
    different anon_vmas, a merge of both sides (modified or new range) falls back to
    merging with prev alone."""
    dummy, dummy2 = AnonVma(), AnonVma()

    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x7000, 3, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x7000, 0x9000, 7, FLAGS)
    vmg_set_range_anon_vma(vmg, 0x3000, 0x7000, 3, FLAGS, None)
    vmg.prev, vmg.middle = prev, vma
    set_anon_vma(prev, dummy)
    set_anon_vma(nxt, dummy2)
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x7000, 0)
    assert rng(nxt) == (0x7000, 0x9000, 7) and nxt.anon_vma is dummy2
    assert cleanup_mm(mm) == 2

    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x7000, 0x9000, 7, FLAGS)
    vmg_set_range_anon_vma(vmg, 0x3000, 0x7000, 3, FLAGS, None)
    vmg.prev = prev
    set_anon_vma(prev, dummy)
    set_anon_vma(nxt, dummy2)
    assert merge_new(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(prev) == (0, 0x7000, 0)
    assert rng(nxt) == (0x7000, 0x9000, 7)
    assert cleanup_mm(mm) == 2


def test_dup_anon_vma() -> None:
    """tools/testing/vma tests/merge.c test_dup_anon_vma: whichever VMA is extended takes
    (clones) the anon_vma of the VMA it absorbs or replaces."""
    dummy = AnonVma()

    # vma_expand() deleting next: next's anon_vma is cloned into prev
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    nxt.anon_vma = dummy
    vmg_set_range(vmg, 0, 0x5000, 0, FLAGS)
    vmg.target, vmg.next = prev, nxt
    assert vma_expand(vmg) == 0
    assert prev.anon_vma is dummy and prev.anon_vma_chain == nxt.anon_vma_chain
    assert cleanup_mm(mm) == 1

    # next has the anon_vma: prev extended, vma and next deleted
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x5000, 0x8000, 5, FLAGS)
    set_anon_vma(nxt, dummy)
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev, vmg.middle = prev, vma
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert (prev.vm_start, prev.vm_end) == (0, 0x8000)
    assert prev.anon_vma is dummy and prev.anon_vma_chain == (dummy,)
    assert cleanup_mm(mm) == 1

    # vma has the anon_vma: prev extended, vma and next deleted
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    alloc_and_link_vma(mm, 0x5000, 0x8000, 5, FLAGS)
    vmg.anon_vma = dummy
    set_anon_vma(vma, dummy)
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev, vmg.middle = prev, vma
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert (prev.vm_start, prev.vm_end) == (0, 0x8000)
    assert prev.anon_vma is dummy and prev.anon_vma_chain == (dummy,)
    assert cleanup_mm(mm) == 1

    # vma has the anon_vma: prev extended, vma shrunk
    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x8000, 3, FLAGS)
    set_anon_vma(vma, dummy)
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev, vmg.middle = prev, vma
    assert merge_existing(vmg) is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert (prev.vm_start, prev.vm_end) == (0, 0x5000)
    assert prev.anon_vma is dummy and prev.anon_vma_chain == (dummy,)
    assert cleanup_mm(mm) == 2

    # vma has the anon_vma: next extended, vma shrunk
    mm, _, vmg = new_mm(0)
    vma = alloc_and_link_vma(mm, 0, 0x5000, 0, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x5000, 0x8000, 5, FLAGS)
    set_anon_vma(vma, dummy)
    vmg_set_range(vmg, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev = vmg.middle = vma
    assert merge_existing(vmg) is nxt
    assert vmg.state == VMA_MERGE_SUCCESS
    assert (nxt.vm_start, nxt.vm_end) == (0x3000, 0x8000)
    assert nxt.anon_vma is dummy and nxt.anon_vma_chain == (dummy,)
    assert cleanup_mm(mm) == 2


def test_vmi_prealloc_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """tools/testing/vma tests/merge.c test_vmi_prealloc_fail: when the tree preallocation
    fails, the merge (modified range) and the expansion (new range) report
    VMA_MERGE_ERROR_NOMEM / -ENOMEM, the VMAs keep their ranges, and the anon_vma that was
    duplicated into the target is unlinked again."""
    dummy = AnonVma()

    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    vmg_set_range_anon_vma(vmg, 0x3000, 0x5000, 3, FLAGS, dummy)
    vmg.prev, vmg.middle = prev, vma
    set_anon_vma(vma, dummy)
    with monkeypatch.context() as patch:
        fail_prealloc(patch)
        assert merge_existing(vmg) is None
    assert vmg.state == VMA_MERGE_ERROR_NOMEM
    assert prev.anon_vma is None and prev.anon_vma_chain == ()  # cloned, then unlinked
    assert rng(prev) == (0, 0x3000, 0) and rng(vma) == (0x3000, 0x5000, 3)
    assert cleanup_mm(mm) == 2

    mm, _, vmg = new_mm(0)
    prev = alloc_and_link_vma(mm, 0, 0x3000, 0, FLAGS)
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    set_anon_vma(vma, dummy)
    vmg_set_range(vmg, 0, 0x5000, 3, FLAGS)
    vmg.target, vmg.next = prev, vma
    with monkeypatch.context() as patch:
        fail_prealloc(patch)
        assert vma_expand(vmg) == -errno.ENOMEM
    assert vmg.state == VMA_MERGE_ERROR_NOMEM
    assert prev.anon_vma is None and prev.anon_vma_chain == ()
    assert rng(prev) == (0, 0x3000, 0) and rng(vma) == (0x3000, 0x5000, 3)
    assert cleanup_mm(mm) == 2


def test_merge_extend() -> None:
    """tools/testing/vma tests/merge.c test_merge_extend: vma_merge_extend() grows a VMA
    into the gap before the next one and merges with it."""
    mm, vmi, _ = new_mm(0x1000)
    vma = alloc_and_link_vma(mm, 0, 0x1000, 0, FLAGS)
    alloc_and_link_vma(mm, 0x3000, 0x4000, 3, FLAGS)
    assert vma_merge_extend(vmi, vma, 0x2000) is vma
    assert rng(vma) == (0, 0x4000, 0)
    assert mm.map_count == 1
    assert cleanup_mm(mm) == 1


def test_expand_only_mode() -> None:
    """tools/testing/vma tests/merge.c test_expand_only_mode: with just_expand, prev is
    expanded without looking further back, and the iterator stays at prev."""
    mm, vmi, _ = new_mm(0)
    vmg = VMG_STATE(mm, vmi, 0x5000, 0x9000, FLAGS, 5)
    alloc_and_link_vma(mm, 0, 0x2000, 0, FLAGS)
    vma_iter_set(vmi, 0x3000)
    prev = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    vmg.prev = prev
    vmg.just_expand = True
    vma = vma_merge_new_range(vmg)
    assert vma is prev
    assert vmg.state == VMA_MERGE_SUCCESS
    assert rng(vma) == (0x3000, 0x9000, 3)
    assert vma_iter_addr(vmi) == 0x3000
    assert vma.attached
    assert cleanup_mm(mm) == 2


# -- tests/mmap.c, tests/vma.c --------------------------------------------------------------


def test_mmap_region_basic() -> None:
    """tools/testing/vma tests/mmap.c test_mmap_region_basic: __mmap_region() at fixed
    addresses merges mappings placed right after and right before existing ones."""
    mm = MM()
    assert __mmap_region(mm, None, 0x300000, 0x3000, FLAGS, 0x300) == 0x300000
    assert __mmap_region(mm, None, 0x250000, 0x3000, FLAGS, 0x250) == 0x250000
    assert __mmap_region(mm, None, 0x303000, 0x3000, FLAGS, 0x303) == 0x303000
    assert __mmap_region(mm, None, 0x24D000, 0x3000, FLAGS, 0x24D) == 0x24D000
    assert mm.map_count == 2
    assert sorted(rng(v) for v in mm.vmas()) == [
        (0x24D000, 0x253000, 0x24D),
        (0x300000, 0x306000, 0x300),
    ]
    assert cleanup_mm(mm) == 2


def test_copy_vma() -> None:
    """tools/testing/vma tests/vma.c test_copy_vma: copy_vma() backwards without a merge
    gives a new attached VMA at the new range; next to a compatible VMA it merges into it."""
    mm = MM()
    vma = alloc_and_link_vma(mm, 0x3000, 0x5000, 3, FLAGS)
    new, _vma, _locks = copy_vma(vma, 0, 0x2000, 0)
    assert new is not None and new is not vma
    assert rng(new) == (0, 0x2000, 0) and new.attached
    assert cleanup_mm(mm) == 2

    mm = MM()
    vma = alloc_and_link_vma(mm, 0, 0x2000, 0, FLAGS)
    nxt = alloc_and_link_vma(mm, 0x6000, 0x8000, 6, FLAGS)
    new, _vma, _locks = copy_vma(vma, 0x4000, 0x2000, 4)
    assert new is nxt and new.attached
    assert rng(nxt) == (0x4000, 0x8000, 4)
    assert cleanup_mm(mm) == 2
