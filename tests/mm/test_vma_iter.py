"""The VMA iterator's bound conventions, each tested at both edges.

The VMA layer speaks exclusive ends, the maple tree inclusive ``last``: these tests pin
which wrapper takes which (mm/vma.h, include/linux/mm.h).
"""

from __future__ import annotations

from maplevm.mm import MM
from maplevm.mm.flags import PAGE_SIZE, VM_GROWSDOWN, VM_READ
from maplevm.mm.mmap import find_vma, find_vma_intersection, find_vma_prev, vma_lookup
from maplevm.mm.vm_area import VmArea
from maplevm.mm.vma import vm_end_gap, vm_start_gap
from maplevm.mm.vma_iter import (
    VmaIterator,
    for_each_vma,
    for_each_vma_range,
    vma_find,
    vma_iter_addr,
    vma_iter_area_highest,
    vma_iter_area_lowest,
    vma_iter_clear_gfp,
    vma_iter_config,
    vma_iter_end,
    vma_iter_load,
    vma_iter_next_range,
    vma_iter_next_range_limit,
    vma_iter_next_rewind,
    vma_iter_prealloc,
    vma_iter_store_new,
    vma_next,
    vma_prev,
    vma_prev_limit,
)

A = 0x10000
B = 0x20000
C = 0x30000


def make() -> tuple[MM, list[VmArea]]:
    """VMAs [A, A+2p), [B, B+2p), [C, C+2p) with gaps between."""
    mm = MM()
    vmas = []
    for start in (A, B, C):
        vma = VmArea(mm, start, start + 2 * PAGE_SIZE, VM_READ, start >> 12)
        vmi = VmaIterator(mm, start)
        vma_iter_config(vmi, vma.vm_start, vma.vm_end)
        assert vma_iter_prealloc(vmi, vma) == 0
        vma_iter_store_new(vmi, vma)
        mm.map_count += 1
        vmas.append(vma)
    mm.validate()
    return mm, vmas


def test_vma_find_takes_an_exclusive_end() -> None:
    mm, (a, _b, _c) = make()
    assert vma_find(VmaIterator(mm, 0), A) is None  # [0, A) does not reach A
    assert vma_find(VmaIterator(mm, 0), A + 1) is a
    assert vma_find(VmaIterator(mm, A + 2 * PAGE_SIZE), B) is None
    # a VMA ending exactly at the iterator is not found (vm_end is exclusive)
    assert vma_find(VmaIterator(mm, A + 2 * PAGE_SIZE), B + 1) is not a


def test_vma_iter_end_is_exclusive_and_addr_inclusive() -> None:
    mm, (_a, b, _c) = make()
    vmi = VmaIterator(mm, B + PAGE_SIZE)
    assert vma_iter_load(vmi) is b
    assert vma_iter_addr(vmi) == b.vm_start
    assert vma_iter_end(vmi) == b.vm_end
    assert vmi.mas.last == b.vm_end - 1


def test_vma_iter_config_takes_an_exclusive_end() -> None:
    mm, _ = make()
    vmi = VmaIterator(mm, B)
    vma_iter_config(vmi, B, B + PAGE_SIZE)
    assert (vmi.mas.index, vmi.mas.last) == (B, B + PAGE_SIZE - 1)


def test_area_lowest_and_highest_take_an_exclusive_max() -> None:
    mm, _ = make()
    gap_start, gap_end = A + 2 * PAGE_SIZE, B  # the free range [gap_start, gap_end)
    size = gap_end - gap_start
    vmi = VmaIterator(mm, 0)
    assert vma_iter_area_lowest(vmi, gap_start, gap_end, size) == 0
    assert vma_iter_addr(vmi) == gap_start
    vmi = VmaIterator(mm, 0)
    assert vma_iter_area_lowest(vmi, gap_start, gap_end - 1, size) < 0  # one byte short
    vmi = VmaIterator(mm, 0)
    assert vma_iter_area_highest(vmi, gap_start, gap_end, size) == 0
    assert vma_iter_end(vmi) == gap_end
    vmi = VmaIterator(mm, 0)
    assert vma_iter_area_highest(vmi, gap_start + 1, gap_end, size) < 0


def test_next_range_limit_and_prev_limit_are_inclusive() -> None:
    mm, (a, b, _c) = make()
    vmi = VmaIterator(mm, A)
    assert vma_iter_load(vmi) is a
    assert vma_iter_next_range_limit(vmi, A + 2 * PAGE_SIZE) is None  # the gap after a
    assert vmi.mas.index == A + 2 * PAGE_SIZE
    vmi = VmaIterator(mm, A)
    vma_iter_load(vmi)
    assert vma_iter_next_range_limit(vmi, A + 2 * PAGE_SIZE - 1) is None
    assert vmi.mas.status == 5  # ma_overflow: the limit is the current range's last
    vmi = VmaIterator(mm, B)
    vma_iter_load(vmi)
    assert vma_prev_limit(vmi, A + 2 * PAGE_SIZE - 1) is a  # min inside a: found
    vmi = VmaIterator(mm, B)
    vma_iter_load(vmi)
    assert vma_prev_limit(vmi, A + 2 * PAGE_SIZE) is None  # min past a's end
    assert b is not None


def test_for_each_vma_range_end_is_exclusive() -> None:
    mm, (a, b, c) = make()
    assert list(for_each_vma_range(VmaIterator(mm, 0), B)) == [a]
    assert list(for_each_vma_range(VmaIterator(mm, 0), B + 1)) == [a, b]
    assert list(for_each_vma(VmaIterator(mm, 0))) == [a, b, c]


def test_next_prev_and_rewind() -> None:
    mm, (a, b, c) = make()
    vmi = VmaIterator(mm, B)
    assert vma_next(vmi) is b  # the first call returns the VMA at the index
    assert vma_next(vmi) is c
    assert vma_prev(vmi) is b
    vmi = VmaIterator(mm, A + 2 * PAGE_SIZE)  # in the gap after a
    nxt, prev = vma_iter_next_rewind(vmi)
    assert (nxt, prev) == (b, a)
    assert vma_iter_addr(vmi) == A + 2 * PAGE_SIZE  # positioned at the gap
    assert vma_iter_next_range(vmi) is b


def test_clear_gfp_takes_an_exclusive_end() -> None:
    mm, (a, b, _c) = make()
    vmi = VmaIterator(mm, A)
    assert vma_iter_clear_gfp(vmi, B, B + PAGE_SIZE) == 0
    assert vma_lookup(mm, B) is None
    assert vma_lookup(mm, B + PAGE_SIZE) is b  # the page after the end is untouched
    assert vma_lookup(mm, A) is a


def test_lookups() -> None:
    mm, (a, b, _c) = make()
    assert find_vma(mm, 0) is a
    assert find_vma(mm, A + 2 * PAGE_SIZE) is b  # the next VMA after a gap
    assert find_vma(mm, C + 2 * PAGE_SIZE) is None
    assert find_vma_intersection(mm, A + 2 * PAGE_SIZE, B) is None  # exclusive end
    assert find_vma_intersection(mm, A + 2 * PAGE_SIZE, B + 1) is b
    assert find_vma_prev(mm, B + 1) == (b, a)
    assert find_vma_prev(mm, B - 1) == (b, a)
    assert find_vma_prev(mm, A) == (a, None)
    assert vma_lookup(mm, B - 1) is None
    assert vma_lookup(mm, B) is b


def test_start_gap_applies_to_growsdown_vmas_only() -> None:
    mm, (a, b, _c) = make()
    assert vm_start_gap(a) == a.vm_start
    b.vm_flags |= VM_GROWSDOWN
    assert vm_start_gap(b) == max(0, B - mm.profile.stack_guard_gap)
    assert vm_end_gap(b) == b.vm_end
    low = VmArea(mm, PAGE_SIZE, 2 * PAGE_SIZE, VM_READ | VM_GROWSDOWN)
    assert vm_start_gap(low) == 0  # clamped at 0, no underflow
