"""``madvise(2)`` and ``PR_SET_VMA_ANON_NAME`` (maplevm.mm.madvise) against the live kernel.

The recorded fixtures ``tests/fixtures/recordings/madvise-*.jsonl`` (and the shrunk fuzz
regressions ``tests/fixtures/regressions/madvise-*.jsonl``) replay on the model with zero
divergence; the ``live`` tests record them again on this machine's kernel.  The unit tests
pin what this kernel cannot show (it is built without CONFIG_ANON_VMA_NAME, has no swap)
and the argument arithmetic.
"""

from __future__ import annotations

from dataclasses import replace

from maplevm.mm import MM
from maplevm.mm.flags import (
    MADV_COLLAPSE,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_GUARD_INSTALL,
    MADV_HWPOISON,
    MADV_MERGEABLE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_RANDOM,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    VM_MAYBE_GUARD,
    VM_RAND_READ,
)
from maplevm.mm.madvise import (
    is_valid_madvise,
    is_valid_name_char,
    madvise_behavior_valid,
    sys_madvise,
)
from maplevm.mm.mmap import vma_lookup
from maplevm.mm.profile import KernelProfile

from .fixture_replay import recordings, scripts

RECORDINGS = recordings("madvise")
SCRIPTS = scripts("madvise")
REGRESSIONS = [p for p in RECORDINGS if p.parent.name == "regressions"]

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
ARENA = 0x2_0000_0000


def test_the_madvise_fixtures_are_there() -> None:
    assert len(SCRIPTS) >= 5
    recorded = {p.name for p in RECORDINGS if p.parent.name == "recordings"}
    assert {p.name for p in SCRIPTS} <= recorded


# -- unit tests --------------------------------------------------------------------------------


def anon(mm: MM, pages: int, addr: int = ARENA) -> int:
    ret = mm.sys_mmap(addr, pages * P, RW, ANON | MAP_FIXED, -1, 0)
    assert ret == addr
    return ret


def test_validation_order_and_wrapping() -> None:
    prof = KernelProfile()
    assert not madvise_behavior_valid(MADV_HWPOISON, prof)  # no CONFIG_MEMORY_FAILURE
    assert madvise_behavior_valid(MADV_HWPOISON, replace(prof, config_memory_failure=True))
    assert not madvise_behavior_valid(MADV_MERGEABLE, replace(prof, config_ksm=False))
    assert not madvise_behavior_valid(MADV_COLLAPSE, replace(prof, config_thp=False))
    assert is_valid_madvise(0, 0, MADV_NORMAL, prof)
    assert not is_valid_madvise(1, P, MADV_NORMAL, prof)
    assert not is_valid_madvise(0, (1 << 64) - 1, MADV_NORMAL, prof)  # rounds up to 0
    assert not is_valid_madvise((1 << 64) - P, 2 * P, MADV_NORMAL, prof)  # wraps
    mm = MM()
    assert sys_madvise(mm, ARENA, 0, 99) == -22  # an unknown advice beats len 0
    assert sys_madvise(mm, ARENA, 0, MADV_NORMAL) == 0
    assert sys_madvise(mm, ARENA, P, (1 << 32) - 1) == -22  # the advice is an int: -1


def test_walk_applies_around_holes_and_reports_enomem() -> None:
    mm = MM()
    a = anon(mm, 8)
    assert mm.sys_munmap(a + 3 * P, 2 * P) == 0
    assert sys_madvise(mm, a, 8 * P, MADV_RANDOM) == -12
    for addr in (a, a + 5 * P):
        vma = vma_lookup(mm, addr)
        assert vma is not None and vma.vm_flags & VM_RAND_READ
    assert sys_madvise(mm, a + 3 * P, 2 * P, MADV_RANDOM) == -12


def test_dontneed_free_pageout_page_states() -> None:
    mm = MM()
    a = anon(mm, 4)
    for i in range(4):
        assert mm.fault(a + i * P) == 0
    assert sys_madvise(mm, a, 4 * P, MADV_FREE) == 0
    assert mm.lazyfree_pages == {(a >> 12) + i for i in range(4)}
    assert mm.fault(a + P) == 0  # written again: dirty
    assert sys_madvise(mm, a, 4 * P, MADV_PAGEOUT) == 0
    assert mm.anon_pages == [(a >> 12) + 1]
    assert sys_madvise(mm, a, 4 * P, MADV_DONTNEED) == 0
    assert mm.anon_pages == [] and not mm.lazyfree_pages
    vma = vma_lookup(mm, a)
    assert vma is not None and vma.anon_vma is not None  # the anon_vma stays


def test_guard_install_flags_whole_vma_and_zaps() -> None:
    mm = MM()
    a = anon(mm, 8)
    assert mm.fault(a + P) == 0
    assert sys_madvise(mm, a + P, P, MADV_GUARD_INSTALL) == 0
    vma = vma_lookup(mm, a)
    assert vma is not None and vma.vm_start == a and vma.vm_end == a + 8 * P
    assert vma.vm_flags & VM_MAYBE_GUARD
    assert mm.anon_pages == [] and mm.guard_pages == {a + P}
    assert mm.fault(a + P) == -14
    assert mm.sys_munmap(a, 8 * P) == 0
    assert not mm.guard_pages


# -- PR_SET_VMA_ANON_NAME with CONFIG_ANON_VMA_NAME (not on the reference kernel) -------------


def named_mm() -> MM:
    return MM(replace(KernelProfile(), config_anon_vma_name=True))


def test_anon_name_refused_without_the_config() -> None:
    mm = MM()
    a = anon(mm, 4)
    for name in ("jit", None, "", "bad[name", "x" * 100):
        assert mm.sys_prctl_set_vma_anon_name(a, P, name) == -22
    assert mm.sys_prctl_set_vma_anon_name(a + 1, P, None) == -22


def test_anon_name_splits_names_and_merges_back() -> None:
    mm = named_mm()
    a = anon(mm, 4)
    assert mm.sys_prctl_set_vma_anon_name(a + P, 2 * P, "jit") == 0
    maps = mm.proc_maps()
    assert maps.count("[anon:jit]") == 1
    vma = vma_lookup(mm, a + P)
    assert vma is not None and (vma.vm_start, vma.vm_end) == (a + P, a + 3 * P)
    assert mm.sys_prctl_set_vma_anon_name(a + P, 2 * P, None) == 0
    vma = vma_lookup(mm, a)
    assert vma is not None and (vma.vm_start, vma.vm_end) == (a, a + 4 * P)
    assert "[anon:" not in mm.proc_maps()


def test_anon_name_checks() -> None:
    mm = named_mm()
    a = anon(mm, 4)
    assert mm.sys_prctl_set_vma_anon_name(a, P, "x" * 79) == 0
    assert mm.sys_prctl_set_vma_anon_name(a, P, "x" * 80) == -22  # strndup_user(.., 80)
    for bad in ("a\\b", "a`b", "a$b", "a[b", "a]b", "tab\t", "\x7f"):
        assert mm.sys_prctl_set_vma_anon_name(a, P, bad) == -22, bad
    assert mm.sys_prctl_set_vma_anon_name(a + 1, P, "x") == -22
    assert mm.sys_prctl_set_vma_anon_name(a, 0, "x") == 0
    assert mm.sys_prctl_set_vma_anon_name(a + 8 * P, P, "x") == -12
    assert mm.sys_prctl_set_vma_anon_name(a + 3 * P, 2 * P, "x") == -12  # named, then hole
    assert is_valid_name_char(ord(" ")) and not is_valid_name_char(0x1F)


def test_anon_name_refuses_file_mappings_with_ebadf() -> None:
    mm = named_mm()
    fd = mm.open_file("/tmp/f", 16 * P)
    addr = mm.sys_mmap(ARENA, 4 * P, RW, MAP_PRIVATE | MAP_FIXED, fd, 0)
    assert addr == ARENA
    assert mm.sys_prctl_set_vma_anon_name(addr, P, "x") == -9
