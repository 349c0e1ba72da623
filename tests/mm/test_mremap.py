"""``mremap(2)`` (maplevm.mm.mremap) against the live kernel's recorded behaviour.

The recorded fixtures ``tests/fixtures/recordings/mremap-*.jsonl`` (and the shrunk fuzz
regressions ``tests/fixtures/regressions/mremap-*.jsonl``) replay on the model with zero
divergence: returns, maps lines, VmFlags and anonymous-page bits after every step.  The
``live`` test records the scripts again on this machine's kernel and requires the committed
recordings to still be true.  The unit tests below pin what the recordings cannot show:
commit charge, locked_vm and total_vm bookkeeping, and the helpers' arithmetic.
"""

from __future__ import annotations

from pathlib import Path

from maplevm.mm import MM
from maplevm.mm.flags import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    VM_ACCOUNT,
    VM_LOCKED,
    VM_WRITE,
)
from maplevm.mm.mmap import vma_lookup
from maplevm.mm.mremap import (
    MREMAP_EXPAND,
    MREMAP_NO_RESIZE,
    MREMAP_SHRINK,
    VmaRemapStruct,
    check_mremap_params,
    vrm_overlaps,
    vrm_remap_type,
    vrm_set_delta,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDINGS = sorted(
    [*FIXTURES.glob("recordings/mremap-*.jsonl"), *FIXTURES.glob("regressions/mremap-*.jsonl")]
)
SCRIPTS = sorted(FIXTURES.glob("scripts/mremap-*.jsonl"))

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
ARENA = 0x2_0000_0000

# -- the recorded fixtures --------------------------------------------------------------------


def test_the_mremap_fixtures_are_there() -> None:
    assert len(RECORDINGS) >= 12
    recorded = {p.name for p in FIXTURES.glob("recordings/mremap-*.jsonl")}
    assert recorded == {p.name for p in SCRIPTS}


# -- helpers ---------------------------------------------------------------------------------


def vrm(
    mm: MM, addr: int, old_len: int, new_len: int, flags: int, new_addr: int = 0
) -> VmaRemapStruct:
    return VmaRemapStruct(mm, addr, old_len, new_len, flags, new_addr)


def test_remap_type_and_delta() -> None:
    mm = MM()
    for old, new, kind in (
        (P, P, MREMAP_NO_RESIZE),
        (2 * P, P, MREMAP_SHRINK),
        (P, 3 * P, MREMAP_EXPAND),
    ):
        v = vrm(mm, ARENA, old, new, 0)
        vrm_set_delta(v)
        assert v.delta == abs(old - new)
        assert vrm_remap_type(v) == kind


def test_overlap_is_half_open_and_wraps_like_unsigned_long() -> None:
    mm = MM()
    assert vrm_overlaps(vrm(mm, ARENA, 2 * P, 2 * P, 0, ARENA + P))
    assert vrm_overlaps(vrm(mm, ARENA + P, P, 2 * P, 0, ARENA))
    assert not vrm_overlaps(vrm(mm, ARENA, 2 * P, 2 * P, 0, ARENA + 2 * P))
    assert not vrm_overlaps(vrm(mm, ARENA + 2 * P, P, 2 * P, 0, ARENA))
    # addr + old_len wraps past 2**64: the end is small, so no overlap is seen.
    assert not vrm_overlaps(vrm(mm, (1 << 64) - P, 2 * P, P, 0, ARENA))


def test_parameter_checks_in_kernel_order() -> None:
    mm = MM()
    task = mm.task_size
    fixed = MREMAP_MAYMOVE | MREMAP_FIXED
    cases = [
        (vrm(mm, ARENA, P, P, 8), -22),  # unknown flag
        (vrm(mm, ARENA + 1, P, P, 0), -22),  # unaligned addr
        (vrm(mm, ARENA, P, 0, 0), -22),  # new_len 0
        (vrm(mm, ARENA, P, task + P, MREMAP_MAYMOVE), -22),  # new_len > TASK_SIZE
        (vrm(mm, ARENA, P, task, MREMAP_MAYMOVE), 0),  # == TASK_SIZE passes here
        (vrm(mm, ARENA, P, P, fixed, task), -22),  # new range past TASK_SIZE
        (vrm(mm, ARENA, P, P, fixed, ARENA + 0x800), -22),  # unaligned new_addr
        (vrm(mm, ARENA, P, P, MREMAP_FIXED, ARENA + P), -22),  # FIXED without MAYMOVE
        (vrm(mm, ARENA, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0), -22),
        (vrm(mm, ARENA, 2 * P, 2 * P, fixed, ARENA + P), -22),  # overlap
        (vrm(mm, ARENA, P, P, fixed, ARENA + P), 0),
        (vrm(mm, ARENA, P, P, MREMAP_MAYMOVE), 0),  # no new address: nothing else checked
    ]
    for v, expected in cases:
        assert check_mremap_params(v) == expected, v


def test_map_count_rule_for_new_addresses() -> None:
    mm = MM()
    limit = mm.profile.max_map_count
    mm.map_count = limit - 6
    assert check_mremap_params(vrm(mm, ARENA, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, ARENA + P)) == 0
    mm.map_count = limit - 5  # map_count + 2 >= max_map_count - 3
    assert (
        check_mremap_params(vrm(mm, ARENA, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, ARENA + P)) == -12
    )
    assert check_mremap_params(vrm(mm, ARENA, P, 2 * P, MREMAP_MAYMOVE)) == 0


# -- bookkeeping the recordings cannot show ---------------------------------------------------


def fresh_mm() -> MM:
    mm = MM()
    assert mm.sys_mmap(ARENA + 0x100000, P, PROT_READ, ANON | MAP_FIXED, -1, 0) > 0
    return mm


def counters(mm: MM) -> tuple[int, int, int, int]:
    return mm.committed_pages, mm.total_vm, mm.data_vm, mm.locked_vm


def test_growth_charges_the_delta_and_a_move_charges_nothing() -> None:
    mm = fresh_mm()
    assert mm.sys_mmap(ARENA, 4 * P, RW, ANON | MAP_FIXED, -1, 0) == ARENA
    committed, total, data, _ = counters(mm)
    assert mm.sys_mremap(ARENA, 4 * P, 6 * P, 0) == ARENA
    assert counters(mm)[:3] == (committed + 2, total + 2, data + 2)
    assert mm.fault(ARENA + P) == 0
    new = mm.sys_mremap(ARENA, 6 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, ARENA + 0x200000)
    assert new == ARENA + 0x200000
    assert counters(mm)[:3] == (committed + 2, total + 2, data + 2)
    assert mm.has_anon_pages(new + P, new + 2 * P)
    assert not mm.has_anon_pages(ARENA, ARENA + 6 * P)
    moved = vma_lookup(mm, new)
    assert moved is not None and moved.vm_flags & VM_ACCOUNT
    assert mm.sys_mremap(new, 6 * P, 2 * P, 0) == new
    assert counters(mm)[:3] == (committed - 2, total - 2, data - 2)
    mm.validate()


def test_partial_move_keeps_ac_on_both_remaining_parts() -> None:
    mm = fresh_mm()
    assert mm.sys_mmap(ARENA, 6 * P, RW, ANON | MAP_FIXED, -1, 0) == ARENA
    assert mm.fault(ARENA) == 0  # faulted: the parts cannot merge back
    committed = mm.committed_pages
    dest = ARENA + 0x200000
    assert mm.sys_mremap(ARENA + 2 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, dest) == dest
    parts = [v for v in mm.vmas() if v.vm_start < ARENA + 0x300000 and v.vm_flags & VM_WRITE]
    assert [(v.vm_start - ARENA, v.vm_end - ARENA) for v in parts] == [
        (0, 2 * P),
        (4 * P, 6 * P),
        (0x200000, 0x202000),
    ]
    assert all(v.vm_flags & VM_ACCOUNT for v in parts)
    assert mm.committed_pages == committed
    mm.validate()


def test_dontunmap_charges_the_whole_copy_and_keeps_the_old_charge() -> None:
    mm = fresh_mm()
    assert mm.sys_mmap(ARENA, 4 * P, RW, ANON | MAP_FIXED, -1, 0) == ARENA
    assert mm.fault(ARENA) == 0
    committed, total, _, _ = counters(mm)
    new = mm.sys_mremap(ARENA, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)
    assert new > 0 and new != ARENA
    assert mm.committed_pages == committed + 4
    assert mm.total_vm == total + 4
    old = vma_lookup(mm, ARENA)
    assert old is not None and old.vm_flags & VM_ACCOUNT
    assert old.anon_vma is None and old.anon_vma_chain == ()
    assert mm.has_anon_pages(new, new + P) and not mm.has_anon_pages(ARENA, ARENA + 4 * P)
    mm.validate()


def test_refused_growth_gives_the_charge_back() -> None:
    mm = fresh_mm()
    assert mm.sys_mmap(ARENA, P, RW, ANON | MAP_FIXED, -1, 0) == ARENA
    before = counters(mm)
    huge = 1 << 35  # 32 GiB: more than RAM + swap on any machine the model describes
    assert mm.sys_mremap(ARENA, P, huge, MREMAP_MAYMOVE) == -12
    assert counters(mm) == before
    assert mm.sys_mmap(ARENA + 0x10000, P, RW, ANON | MAP_FIXED | MAP_NORESERVE, -1, 0) > 0
    new = mm.sys_mremap(ARENA + 0x10000, P, huge, MREMAP_MAYMOVE)
    assert new > 0  # not accounted: no charge to refuse
    assert mm.committed_pages == before[0]
    mm.validate()


def test_locked_growth_counts_locked_vm_and_populates() -> None:
    mm = fresh_mm()
    assert mm.sys_mmap(ARENA, 2 * P, RW, ANON | MAP_FIXED | MAP_LOCKED, -1, 0) == ARENA
    locked = mm.locked_vm
    assert mm.sys_mremap(ARENA, 2 * P, 5 * P, 0) == ARENA
    assert mm.locked_vm == locked + 3
    assert all(mm.has_anon_pages(ARENA + i * P, ARENA + (i + 1) * P) for i in range(5))
    assert mm.sys_mmap(ARENA + 5 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0) > 0
    new = mm.sys_mremap(ARENA, 5 * P, 8 * P, MREMAP_MAYMOVE)
    assert new > 0 and new != ARENA
    assert mm.locked_vm == locked + 6
    vma = vma_lookup(mm, new)
    assert vma is not None and vma.vm_flags & VM_LOCKED
    assert all(mm.has_anon_pages(new + i * P, new + (i + 1) * P) for i in range(8))
    mm.validate()


def test_shared_duplicate_with_old_len_zero() -> None:
    mm = fresh_mm()
    shared = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED
    assert mm.sys_mmap(ARENA, 2 * P, RW, shared, -1, 0) == ARENA
    total = mm.total_vm
    dup = mm.sys_mremap(ARENA, 0, 2 * P, MREMAP_MAYMOVE)
    assert dup > 0 and dup != ARENA
    a, b = vma_lookup(mm, ARENA), vma_lookup(mm, dup)
    assert a is not None and b is not None
    assert a.vm_file is b.vm_file  # the same shmem object, mapped twice
    assert mm.total_vm == total + 2
    assert mm.sys_mremap(ARENA, 0, P, 0) == -12  # in place: cannot grow a 0-length range
    mm.validate()


def test_guard_markers_move_with_the_pages() -> None:
    mm = fresh_mm()
    assert mm.sys_mmap(ARENA, 4 * P, RW, ANON | MAP_FIXED, -1, 0) == ARENA
    mm.guard_pages.add(ARENA + 2 * P)
    dest = ARENA + 0x200000
    assert mm.sys_mremap(ARENA, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, dest) == dest
    assert mm.guard_pages == {dest + 2 * P}


def test_mlock_limit_without_cap_ipc_lock_refuses_locked_growth() -> None:
    """The helper runs with CAP_IPC_LOCK, so no recording shows RLIMIT_MEMLOCK: this follows
    ``check_prep_vma()`` (``mlock_future_ok()`` -> EAGAIN before RLIMIT_AS)."""
    from dataclasses import replace

    from maplevm.mm.profile import CAP_IPC_LOCK, RLimit

    profile = MM().profile
    profile = replace(profile, cap_eff=profile.cap_eff & ~(1 << CAP_IPC_LOCK))
    mm = MM(profile.with_rlimits(memlock=RLimit(4 * P, 4 * P), as_=RLimit(1 << 20, 1 << 20)))
    assert mm.sys_mmap(ARENA, 2 * P, RW, ANON | MAP_FIXED | MAP_LOCKED, -1, 0) == ARENA
    assert mm.sys_mremap(ARENA, 2 * P, 4 * P, 0) == ARENA  # 4 pages locked: at the limit
    assert mm.sys_mremap(ARENA, 4 * P, 5 * P, MREMAP_MAYMOVE) == -11  # EAGAIN
    assert mm.sys_mremap(ARENA, 4 * P, 1 << 21, MREMAP_MAYMOVE) == -11  # before RLIMIT_AS
    assert mm.sys_mremap(ARENA, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, ARENA + P * 16) > 0
