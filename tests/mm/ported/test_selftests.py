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


# -- mseal_test.c ------------------------------------------------------------------------------
#
# Each test function with a ``bool seal`` parameter runs both variants in one script: seal=false
# first, then seal=true behind a one-page PROT_NONE fence (so the variants' mappings cannot
# merge).  Steps are labelled "<variant> <what>".  OK: the call succeeds; FAIL: it fails (the
# selftest only checks ret < 0); an errno: it fails with that errno.

OK, FAIL = "ok", "fail"
Expect = str | int


def _check(r: Run, label: str, want: Expect) -> None:
    step = r.step(label)
    if want == OK:
        r.ok(step)
    elif want == FAIL:
        r.err(step)
    else:
        assert r.err(step) == want, label


def _variants(cases: dict[str, tuple[Expect, Expect]]) -> dict[str, Expect]:
    """``{what: (unsealed, sealed)}`` -> ``{"noseal what": .., "seal what": ..}``."""
    out: dict[str, Expect] = {}
    for what, (unsealed, sealed) in cases.items():
        out[f"noseal {what}"] = unsealed
        out[f"seal {what}"] = sealed
    return out


MSEAL_CASES: dict[str, dict[str, Expect]] = {
    "addseal": {"seal": OK},
    "unmapped-start": {"mprotect": FAIL, "mseal": FAIL, "mseal last 2": OK},
    "unmapped-middle": {"mprotect": FAIL, "mseal": FAIL, "mseal first": OK, "mseal last": OK},
    "unmapped-end": {"mprotect": FAIL, "mseal": FAIL, "mseal first 2": OK},
    "multiple-vmas": {"seal": OK},
    "split-start": {"seal first": OK, "seal rest": OK},
    "split-end": {"seal last": OK, "seal first 3": OK},
    "invalid-input": {
        "flag 0x20": FAIL,
        "unaligned": FAIL,
        "too long": FAIL,
        "overflow": FAIL,
        "before the start": FAIL,
    },
    "zero-length": {"mprotect 0": OK, "mseal 0": OK, "not sealed": OK},
    "zero-address": {"at 0": OK, "seal": OK, "mprotect": FAIL},
    "twice": {"seal 1": OK, "seal 2": OK},
    "mprotect": _variants({"mprotect": (OK, FAIL)}),
    "start-mprotect": _variants({"mprotect first": (OK, FAIL), "mprotect rest": (OK, OK)}),
    "end-mprotect": _variants({"mprotect first": (OK, OK), "mprotect rest": (OK, FAIL)}),
    "mprotect-unalign-len": _variants({"mprotect first 2": (OK, FAIL), "mprotect third": (OK, OK)}),
    "mprotect-unalign-len-variant-2": _variants(
        {"mprotect first 3": (OK, FAIL), "mprotect fourth": (OK, OK)}
    ),
    "mprotect-two-vma": _variants(
        {"mprotect first vma": (OK, FAIL), "mprotect second vma": (OK, FAIL)}
    ),
    "mprotect-two-vma-with-split": _variants(
        {
            "mprotect first": (OK, OK),
            "mprotect second": (OK, FAIL),
            "mprotect third": (OK, FAIL),
            "mprotect fourth": (OK, OK),
        }
    ),
    "mprotect-partial-mprotect": _variants({"mprotect first 2": (OK, FAIL)}),
    "mprotect-two-vma-with-gap": _variants(
        {
            "mprotect across the hole": (FAIL, FAIL),
            "mseal across the hole": (FAIL, FAIL),
            "mprotect first": (OK, OK),
            "mprotect last": (OK, OK),
        }
    ),
    "mprotect-merge": _variants({"mprotect first 2": (OK, FAIL), "mprotect last 2": (OK, OK)}),
    "mprotect-split": _variants({"mprotect first 2": (OK, FAIL), "mprotect last 2": (OK, FAIL)}),
    "munmap": _variants({"munmap": (OK, FAIL)}),
    "munmap-two-vma": _variants({"munmap first 2": (OK, FAIL), "munmap middle 2": (OK, FAIL)}),
    "munmap-vma-with-gap": {
        "seal mseal across the hole": FAIL,
        **_variants({"munmap first": (OK, OK), "munmap third": (OK, OK), "munmap all": (OK, OK)}),
    },
    "munmap-start-freed": _variants({"munmap all": (OK, FAIL)}),
    "munmap-middle-freed": _variants({"munmap all": (OK, FAIL)}),
    "munmap-end-freed": _variants({"munmap all": (OK, FAIL)}),
    "mremap-shrink": _variants({"mremap shrink": (OK, errno.EPERM)}),
    "mremap-expand": _variants({"mremap expand": (OK, errno.EPERM)}),
    "mremap-move": _variants({"mremap move": (OK, errno.EPERM)}),
    "mremap-shrink-fixed": _variants({"mremap": (OK, errno.EPERM)}),
    "mremap-expand-fixed": _variants({"mremap": (OK, errno.EPERM)}),
    "mremap-move-fixed": _variants({"mremap": (OK, errno.EPERM)}),
    "mremap-move-fixed-zero": _variants({"mremap to 0": (OK, errno.EPERM)}),
    "mremap-move-dontunmap": _variants({"mremap dontunmap": (OK, errno.EPERM)}),
    "mremap-move-dontunmap-anyaddr": _variants({"mremap dontunmap": (OK, errno.EPERM)}),
    "madvise-nodiscard": _variants({"madvise random": (OK, OK), "munmap": (OK, FAIL)}),
    "discard-ro-anon": _variants({"madvise dontneed": (OK, FAIL), "munmap": (OK, FAIL)}),
    "discard-ro-anon-on-rw": _variants({"madvise dontneed": (OK, OK), "munmap": (OK, FAIL)}),
    "discard-ro-anon-on-shared": _variants({"madvise dontneed": (OK, OK), "munmap": (OK, FAIL)}),
    "discard-ro-anon-on-filebacked": _variants(
        {"madvise dontneed": (OK, OK), "munmap": (OK, FAIL)}
    ),
    "mmap-overwrite-prot": _variants({"mmap over": (OK, errno.EPERM)}),
    "mmap-expand": _variants({"mmap expand": (OK, errno.EPERM)}),
    "mmap-shrink": _variants({"mmap shrink": (OK, errno.EPERM)}),
    "merge-and-split": {
        "seal page 1": OK,
        "seal page 22": OK,
        "merge with prev": OK,
        "merge with next": OK,
        "split and merge from prev": OK,
        "munmap sealed": FAIL,
        "mprotect sealed": FAIL,
        "split and merge from next": OK,
        "merge all": OK,
    },
}


@pytest.mark.parametrize("test", sorted(MSEAL_CASES))
def test_mseal(test: str) -> None:
    """selftests/mm/mseal_test.c: every ``test_seal_*`` / ``test_munmap_*`` function (both
    seal variants where it has them), each call's success or failure as the selftest's
    FAIL_TEST_IF_FALSE demands.  test_seal_discard_ro_anon_on_pkey (pkeys) is not ported;
    test_seal_discard_ro_anon_on_filebacked maps a scratch file instead of a memfd."""
    cases = MSEAL_CASES[test]

    def expect(r: Run) -> None:
        for label, want in cases.items():
            _check(r, label, want)

    on_both(f"selftests-mseal-{test}", expect)


def test_mseal_vma_sizes() -> None:
    """selftests/mm/mseal_test.c, the get_vma_size() checks: test_munmap_start_freed and
    test_munmap_middle_freed (what a refused or a successful munmap leaves),
    test_seal_zero_address (a 4-page VMA at 0) and test_seal_merge_and_split (sealed
    neighbours merge: 1, 2, 3 pages at each end, then 22)."""

    def start_freed(r: Run) -> None:
        for v in ("noseal", "seal"):
            ptr = r.ok(r.step(f"{v} ptr"))
            after = r.step(f"{v} munmap all")
            if v == "seal":
                assert r.span(after, ptr + P) == (ptr + P, ptr + 4 * P)
            else:
                assert not r.vmas_in(after, ptr, ptr + 4 * P)

    def middle_freed(r: Run) -> None:
        for v in ("noseal", "seal"):
            ptr = r.ok(r.step(f"{v} ptr"))
            after = r.step(f"{v} munmap all")
            if v == "seal":
                assert r.span(after, ptr) == (ptr, ptr + P)
                assert r.span(after, ptr + 3 * P) == (ptr + 3 * P, ptr + 4 * P)
            else:
                assert not r.vmas_in(after, ptr, ptr + 4 * P)

    def zero_address(r: Run) -> None:
        assert r.ok(r.step("at 0")) == 0
        assert r.span(r.step("seal"), 0) == (0, 4 * P)

    def merge_and_split(r: Run) -> None:
        ptr = r.ok(0)
        assert r.span(2, ptr + P) == (ptr + P, ptr + 23 * P)
        for label, page, span in (
            ("seal page 1", 1, (1, 2)),
            ("seal page 22", 22, (22, 23)),
            ("merge with prev", 1, (1, 3)),
            ("merge with next", 21, (21, 23)),
            ("split and merge from prev", 1, (1, 4)),
            ("split and merge from next", 20, (20, 23)),
            ("merge all", 1, (1, 23)),
        ):
            step = r.step(label)
            vma = r.at(step, ptr + page * P)
            assert (vma.start, vma.end) == (ptr + span[0] * P, ptr + span[1] * P), label
            assert vma.perms == "r--p" and "sl" in (vma.vmflags or ()), label

    on_both("selftests-mseal-munmap-start-freed", start_freed)
    on_both("selftests-mseal-munmap-middle-freed", middle_freed)
    on_both("selftests-mseal-zero-address", zero_address)
    on_both("selftests-mseal-merge-and-split", merge_and_split)
