"""``mseal(2)`` (maplevm.mm.mseal) and the seal checks in munmap, mprotect, mremap, mmap and
madvise, against the live kernel.

The recorded fixtures ``tests/fixtures/recordings/mseal-*.jsonl`` (and the shrunk fuzz
regressions ``tests/fixtures/regressions/mseal-*.jsonl``) replay on the model with zero
divergence; the ``live`` tests record them again.
"""

from __future__ import annotations

from maplevm.mm import MM
from maplevm.mm.flags import (
    MADV_DONTNEED,
    MADV_RANDOM,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    VM_SEALED,
)
from maplevm.mm.mmap import vma_lookup
from maplevm.mm.mseal import range_contains_unmapped

from .fixture_replay import recordings, scripts

RECORDINGS = recordings("mseal")
SCRIPTS = scripts("mseal")
REGRESSIONS = [p for p in RECORDINGS if p.parent.name == "regressions"]

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
ARENA = 0x2_0000_0000


def test_the_mseal_fixtures_are_there() -> None:
    assert len(SCRIPTS) >= 1
    recorded = {p.name for p in RECORDINGS if p.parent.name == "recordings"}
    assert {p.name for p in SCRIPTS} <= recorded


# -- unit tests --------------------------------------------------------------------------------


def anon(mm: MM, pages: int, addr: int = ARENA, prot: int = RW) -> int:
    ret = mm.sys_mmap(addr, pages * P, prot, ANON | MAP_FIXED, -1, 0)
    assert ret == addr
    return ret


def test_range_contains_unmapped_at_every_place() -> None:
    mm = MM()
    a = anon(mm, 8)
    assert mm.sys_munmap(a + 3 * P, P) == 0
    assert not range_contains_unmapped(mm, a, a + 3 * P)
    assert range_contains_unmapped(mm, a, a + 4 * P)  # hole at the end
    assert range_contains_unmapped(mm, a + 3 * P, a + 5 * P)  # at the start
    assert range_contains_unmapped(mm, a, a + 8 * P)  # in the middle
    assert range_contains_unmapped(mm, a, a + 9 * P)  # past the last VMA
    assert range_contains_unmapped(mm, a + 16 * P, a + 17 * P)  # nothing at all


def test_seal_refusals() -> None:
    mm = MM()
    a = anon(mm, 8)
    assert mm.sys_mseal(a + 2 * P, 2 * P) == 0
    vma = vma_lookup(mm, a + 2 * P)
    assert vma is not None and vma.vm_flags & VM_SEALED
    assert (vma.vm_start, vma.vm_end) == (a + 2 * P, a + 4 * P)
    assert mm.sys_munmap(a + 2 * P, P) == -1
    assert mm.sys_mprotect(a + 2 * P, P, PROT_READ) == -1
    assert mm.sys_mremap(a + 2 * P, P, 2 * P, MREMAP_MAYMOVE) == -1
    assert mm.sys_mmap(a + 2 * P, P, RW, ANON | MAP_FIXED, -1, 0) == -1
    assert mm.sys_madvise(a + 2 * P, P, MADV_DONTNEED) == 0  # writable: allowed
    assert mm.sys_madvise(a + 2 * P, P, MADV_RANDOM) == 0
    assert mm.sys_mseal(a + 6 * P, 4 * P) == -12
    vma = vma_lookup(mm, a + 6 * P)
    assert vma is not None and not vma.vm_flags & VM_SEALED  # nothing changed
    mm.validate()


def test_read_only_anonymous_seal_refuses_discards() -> None:
    mm = MM()
    a = anon(mm, 2, prot=PROT_READ)
    assert mm.sys_mseal(a, 2 * P) == 0
    assert mm.sys_madvise(a, P, MADV_DONTNEED) == -1
