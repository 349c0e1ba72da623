"""``mlock(2)`` and friends (maplevm.mm.mlock) against the live kernel.

The recorded fixtures ``tests/fixtures/recordings/mlock-*.jsonl`` (and the shrunk fuzz
regressions ``tests/fixtures/regressions/mlock-*.jsonl``) replay on the model with zero
divergence; the ``live`` tests record them again.  The helper runs with CAP_IPC_LOCK, so the
RLIMIT_MEMLOCK rules and ``mm->locked_vm`` are pinned by the unit tests below.
"""

from __future__ import annotations

from dataclasses import replace

from maplevm.mm import MM
from maplevm.mm.flags import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_LOCKED,
    MAP_PRIVATE,
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MLOCK_ONFAULT,
    PAGE_SIZE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    VM_LOCKED,
    VM_LOCKONFAULT,
)
from maplevm.mm.mlock import count_mm_mlocked_page_nr
from maplevm.mm.mmap import vma_lookup
from maplevm.mm.profile import CAP_IPC_LOCK, KernelProfile, RLimit

from .fixture_replay import recordings, scripts

RECORDINGS = recordings("mlock")
SCRIPTS = scripts("mlock")
REGRESSIONS = [p for p in RECORDINGS if p.parent.name == "regressions"]

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
ARENA = 0x2_0000_0000


def test_the_mlock_fixtures_are_there() -> None:
    assert len(SCRIPTS) >= 2
    recorded = {p.name for p in RECORDINGS if p.parent.name == "recordings"}
    assert {p.name for p in SCRIPTS} <= recorded


# -- unit tests --------------------------------------------------------------------------------


def unprivileged(memlock_pages: int) -> MM:
    prof = KernelProfile()
    prof = replace(
        prof,
        cap_eff=prof.cap_eff & ~(1 << CAP_IPC_LOCK),
        rlimit_memlock=RLimit(memlock_pages * P, memlock_pages * P),
    )
    return MM(prof)


def anon(mm: MM, pages: int, addr: int = ARENA, prot: int = RW) -> int:
    ret = mm.sys_mmap(addr, pages * P, prot, ANON | MAP_FIXED, -1, 0)
    assert ret == addr
    return ret


def test_locked_vm_follows_splits_merges_and_unmaps() -> None:
    mm = MM()
    a = anon(mm, 16)
    assert mm.sys_mlock(a + 4 * P, 4 * P) == 0
    assert mm.locked_vm == 4
    assert mm.sys_mlock(a + 6 * P, 6 * P) == 0  # two pages already locked
    assert mm.locked_vm == 8
    assert mm.sys_munlock(a, 16 * P) == 0
    assert mm.locked_vm == 0
    assert mm.sys_mlock2(a, 2 * P, MLOCK_ONFAULT) == 0
    vma = vma_lookup(mm, a)
    assert vma is not None and vma.vm_flags & (VM_LOCKED | VM_LOCKONFAULT) == (
        VM_LOCKED | VM_LOCKONFAULT
    )
    assert not mm.has_anon_pages(a, a + 2 * P)  # ONFAULT: not populated
    assert mm.sys_munmap(a, P) == 0
    assert mm.locked_vm == 1


def test_memlock_limit_without_cap_ipc_lock() -> None:
    mm = unprivileged(4)
    a = anon(mm, 16)
    assert mm.sys_mlock(a, 4 * P) == 0
    assert mm.sys_mlock(a + 4 * P, P) == -12  # over the limit: nothing changes
    assert mm.locked_vm == 4
    assert mm.sys_mlock(a, 4 * P) == 0  # already locked pages are not counted twice
    assert count_mm_mlocked_page_nr(mm, a, 8 * P) == 4
    assert mm.sys_mlockall(MCL_CURRENT) == -12  # total_vm over the limit
    assert mm.sys_mlockall(MCL_FUTURE) == 0  # no limit check for the future
    assert mm.sys_mmap(ARENA + 32 * P, 8 * P, RW, ANON | MAP_FIXED, -1, 0) == -11  # EAGAIN
    assert mm.sys_munlockall() == 0


def test_zero_memlock_limit_is_eperm_without_the_capability() -> None:
    mm = unprivileged(0)
    a = anon(mm, 2)
    assert mm.sys_mlock(a, P) == -1
    assert mm.sys_mlockall(MCL_CURRENT) == -1
    assert mm.sys_mmap(ARENA + 8 * P, P, RW, ANON | MAP_LOCKED, -1, 0) == -1
    assert mm.sys_munlock(a, P) == 0  # munlock needs no permission
    assert mm.sys_mlockall(0) == -22  # flag checks come first


def test_prot_none_locks_but_reports_enomem() -> None:
    mm = MM()
    a = anon(mm, 4, prot=PROT_NONE)
    assert mm.sys_mlock(a, 4 * P) == -12
    vma = vma_lookup(mm, a)
    assert vma is not None and vma.vm_flags & VM_LOCKED
    assert mm.locked_vm == 4
    assert mm.sys_mlock2(a, 4 * P, MLOCK_ONFAULT) == 0


def test_mlockall_def_flags() -> None:
    mm = MM()
    assert mm.sys_mlockall(MCL_FUTURE | MCL_ONFAULT) == 0
    assert mm.def_flags == VM_LOCKED | VM_LOCKONFAULT
    assert mm.sys_mlockall(MCL_CURRENT) == 0  # without MCL_FUTURE: def_flags cleared
    assert mm.def_flags == 0
    assert mm.sys_mlockall(MCL_ONFAULT) == -22
    assert mm.sys_munlockall() == 0
