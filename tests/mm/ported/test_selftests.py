"""Linux tools/testing/selftests/mm: map_fixed_noreplace.c, merge.c and
mremap_dontunmap.c, ported as operation scripts.

Each test names its upstream test function, replays the kernel's committed recording
(``tests/fixtures/ported/selftests-*.jsonl``) and the model's run of the same script, and
asserts on both what the selftest checks.  merge.c asks PROCMAP_QUERY for the VMA containing
an address; here that is the maps line containing it after the step.  merge.c's fixture
carves out 30 PROT_NONE pages with mmap(NULL) (step 0 of every merge script).
"""

from __future__ import annotations

import errno

import pytest

from .support import PAGE, Run, on_both

P = PAGE


def test_map_fixed_noreplace() -> None:
    """selftests/mm/map_fixed_noreplace.c (main): MAP_FIXED_NOREPLACE maps free ranges,
    including ones adjacent to a mapping, and fails with EEXIST for an exact, a contained,
    an end-overlapping and a start-overlapping range, leaving the mapping alone."""

    def expect(r: Run) -> None:
        base = r.ok(0)
        assert r.ok(2) == base
        assert r.ok(4) == base + P
        for step in (5, 6, 7, 8):
            assert r.err(step) == errno.EEXIST
            assert r.vmas(step) == r.vmas(4)
        assert r.ok(9) == base
        assert r.ok(10) == base + 4 * P
        assert r.ok(11) == 0
        assert not r.vmas_in(11, base, base + 5 * P)

    on_both("selftests-map-fixed-noreplace", expect)


# -- merge.c -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ptr_offset", "pages"),
    [
        ("selftests-merge-mprotect-unfaulted-left", P, 10),
        ("selftests-merge-mprotect-unfaulted-right", P, 10),
        ("selftests-merge-mprotect-unfaulted-both", 2 * P, 9),
        ("selftests-merge-mprotect-faulted-left-unfaulted-right", 2 * P, 9),
        ("selftests-merge-mprotect-unfaulted-left-faulted-right", 2 * P, 9),
    ],
)
def test_merge_mprotect(name: str, ptr_offset: int, pages: int) -> None:
    """selftests/mm/merge.c TEST_F(merge, mprotect_unfaulted_left), mprotect_unfaulted_right,
    mprotect_unfaulted_both, mprotect_faulted_left_unfaulted_right,
    mprotect_unfaulted_left_faulted_right: making the faulted RW part read-only merges the
    whole range, faulted and unfaulted parts alike, into one VMA."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert ptr == r.ok(0) + ptr_offset
        last = len(r.rec.steps) - 1
        assert r.ret(last) == 0
        assert r.span(last, ptr) == (ptr, ptr + pages * P)
        assert r.at(last, ptr).anon

    on_both(name, expect)


def test_merge_forked_target_vma() -> None:
    """selftests/mm/merge.c TEST_F(merge, forked_target_vma): in the child, a new mapping
    next to a VMA inherited from the parent is not merged with it."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert r.ok(9) == ptr + 5 * P
        assert r.span(9, ptr) == (ptr, ptr + 5 * P)

    on_both("selftests-merge-forked-target-vma", expect)


def test_merge_forked_source_vma() -> None:
    """selftests/mm/merge.c TEST_F(merge, forked_source_vma): in the child, the inherited
    VMA does not merge into its unfaulted neighbour, even once mprotect makes them
    compatible."""

    def expect(r: Run) -> None:
        ptr2 = r.ok(9)
        assert ptr2 == r.ok(1) + 5 * P
        assert r.span(9, ptr2) == (ptr2, ptr2 + 5 * P)
        assert r.ret(10) == 0
        assert r.span(10, ptr2) == (ptr2, ptr2 + 5 * P)
        assert r.at(10, r.ok(1)).perms == r.at(10, ptr2).perms == "rwxp"

    on_both("selftests-merge-forked-source-vma", expect)


def test_merge_mremap_unfaulted_to_faulted() -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_unfaulted_to_faulted)."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert r.ok(5) == ptr + 5 * P
        assert r.span(5, ptr) == (ptr, ptr + 10 * P)

    on_both("selftests-merge-mremap-unfaulted-to-faulted", expect)


def test_merge_mremap_unfaulted_behind_faulted() -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_unfaulted_behind_faulted)."""

    def expect(r: Run) -> None:
        ptr2 = r.ok(5)
        assert ptr2 == r.ok(0) + P
        assert r.span(5, ptr2) == (ptr2, ptr2 + 10 * P)

    on_both("selftests-merge-mremap-unfaulted-behind-faulted", expect)


def test_merge_mremap_unfaulted_between_faulted() -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_unfaulted_between_faulted): merges with
    the first faulted VMA only (the two have different anon_vmas)."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert r.ok(9) == ptr + 5 * P
        assert r.span(9, ptr) == (ptr, ptr + 10 * P)
        ptr3 = r.ok(8)
        assert r.span(9, ptr3) == (ptr3, ptr3 + 5 * P)

    on_both("selftests-merge-mremap-unfaulted-between-faulted", expect)


def test_merge_mremap_unfaulted_between_faulted_unfaulted() -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_unfaulted_between_faulted_unfaulted)."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert r.ok(8) == ptr + 5 * P
        assert r.span(8, ptr) == (ptr, ptr + 15 * P)

    on_both("selftests-merge-mremap-unfaulted-between-faulted-unfaulted", expect)


def test_merge_mremap_unfaulted_between_correctly_placed_faulted() -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_unfaulted_between_correctly_placed_faulted)."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert r.ok(5) == ptr + 5 * P
        assert r.span(5, ptr) == (ptr, ptr + 15 * P)

    on_both("selftests-merge-mremap-unfaulted-between-correctly-placed-faulted", expect)


def test_merge_mremap_correct_placed_faulted() -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_correct_placed_faulted): each of the five
    PROCMAP_QUERY checks after moving parts of one faulted VMA away and back."""

    def expect(r: Run) -> None:
        ptr = r.ok(1)
        assert r.span(5, ptr) == (ptr, ptr + 10 * P)
        assert r.ok(7) == ptr
        assert r.span(7, ptr) == (ptr, ptr + 10 * P)
        ptr2 = r.ok(5)
        assert ptr2 == ptr + 5 * P
        assert r.span(9, ptr2) == (ptr2, ptr2 + 10 * P)
        for step in (10, 12, 14):
            assert r.ok(10) == ptr
            assert r.span(step, ptr) == (ptr, ptr + 15 * P)

    on_both("selftests-merge-mremap-correct-placed-faulted", expect)


@pytest.mark.parametrize(
    ("name", "first_step", "pages"),
    [
        ("selftests-merge-mremap-faulted-to-unfaulted-prev", 4, 6),
        ("selftests-merge-mremap-faulted-to-unfaulted-next", 5, 6),
        ("selftests-merge-mremap-faulted-to-unfaulted-prev-unfaulted-next", 4, 9),
        ("selftests-merge-mremap-faulted-to-unfaulted-prev-faulted-next", 4, 9),
    ],
)
def test_merge_mremap_dontunmap(name: str, first_step: int, pages: int) -> None:
    """selftests/mm/merge.c TEST_F(merge, mremap_faulted_to_unfaulted_prev), _next,
    _prev_unfaulted_next, _prev_faulted_next: a faulted VMA moved with MREMAP_DONTUNMAP next
    to unfaulted ones (and its own faulted other half) merges with them."""

    def expect(r: Run) -> None:
        last = len(r.rec.steps) - 1
        r.ok(last)
        start = r.ok(first_step)
        assert r.span(last, start) == (start, start + pages * P)

    on_both(name, expect)


# -- mremap_dontunmap.c ----------------------------------------------------------------------


def test_mremap_dontunmap_kernel_support() -> None:
    """selftests/mm/mremap_dontunmap.c kernel_support_for_mremap_dontunmap(): the probe
    remap succeeds, so the tests below run rather than skip."""

    def expect(r: Run) -> None:
        src, dst = r.ok(0), r.ok(1)
        assert dst != src and r.is_mapped(1, src) and r.is_mapped(1, dst)
        assert r.ok(2) == 0 and r.ok(3) == 0

    on_both("selftests-mremap-dontunmap-kernel-support", expect)


def test_mremap_dontunmap_simple() -> None:
    """selftests/mm/mremap_dontunmap.c mremap_dontunmap_simple(): the pages moved (the
    destination has them), the source stays mapped with no pages."""

    def expect(r: Run) -> None:
        src, dst = r.ok(0), r.ok(2)
        assert r.at(2, dst).anon is True
        assert r.span(2, src) == (src, src + 5 * P)
        assert r.at(2, src).anon is False

    on_both("selftests-mremap-dontunmap-simple", expect)


def test_mremap_dontunmap_simple_shmem() -> None:
    """selftests/mm/mremap_dontunmap.c mremap_dontunmap_simple_shmem(): succeeds on a shared
    mapping, and the source still maps the same shmem object (so it still sees the data)."""

    def expect(r: Run) -> None:
        src, dst = r.ok(0), r.ok(2)
        assert dst != src
        assert r.at(2, src).inode == r.at(2, dst).inode != 0
        assert r.span(2, src) == (src, src + 5 * P)

    on_both("selftests-mremap-dontunmap-simple-shmem", expect)


def test_mremap_dontunmap_simple_fixed() -> None:
    """selftests/mm/mremap_dontunmap.c mremap_dontunmap_simple_fixed(): the destination is
    replaced by the source's pages, the source stays mapped with none."""

    def expect(r: Run) -> None:
        dst, src = r.ok(0), r.ok(2)
        assert r.ok(4) == dst
        assert r.span(4, dst) == (dst, dst + 5 * P) and r.at(4, dst).anon is True
        assert r.span(4, src) == (src, src + 5 * P) and r.at(4, src).anon is False

    on_both("selftests-mremap-dontunmap-simple-fixed", expect)


def test_mremap_dontunmap_partial_mapping() -> None:
    """selftests/mm/mremap_dontunmap.c mremap_dontunmap_partial_mapping(): the destination
    has the last 5 pages, the whole 10-page source range stays mapped.  (Upstream also
    checks that only the last 5 source pages lost their data; the anon-pages bit is per
    VMA and the source is one VMA, so that part is not observable here.)"""

    def expect(r: Run) -> None:
        src, dst = r.ok(0), r.ok(2)
        assert r.span(2, dst) == (dst, dst + 5 * P) and r.at(2, dst).anon is True
        assert all(r.is_mapped(2, src + k * P) for k in range(10))
        assert r.at(2, src).anon is True

    on_both("selftests-mremap-dontunmap-partial-mapping", expect)


def test_mremap_dontunmap_partial_mapping_overwrite() -> None:
    """selftests/mm/mremap_dontunmap.c mremap_dontunmap_partial_mapping_overwrite(): the
    first 5 destination pages are replaced by the source's, the last 5 keep theirs, the
    source stays mapped.  (The source's own emptiness is not observable: it merges with the
    destination's tail into one VMA.)"""

    def expect(r: Run) -> None:
        src, dst = r.ok(0), r.ok(2)
        assert r.ok(4) == dst
        assert r.span(4, dst) == (dst, dst + 5 * P) and r.at(4, dst).anon is True
        assert r.at(4, dst + 5 * P).anon is True
        assert all(r.is_mapped(4, src + k * P) for k in range(5))

    on_both("selftests-mremap-dontunmap-partial-mapping-overwrite", expect)
