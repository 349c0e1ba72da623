"""LTP (linux-test-project/ltp) testcases/kernel/syscalls/{mmap,mremap,munmap,mprotect,brk}
and testcases/kernel/mem/vma, ported as operation scripts.

Each test names its upstream file, replays the kernel's committed recording
(``tests/fixtures/ported/ltp-*.jsonl``) and the model's run of the same script, and asserts
on both what the LTP test checks.  docs/ported-tests.md lists what is not ported and why.
"""

from __future__ import annotations

import errno

import pytest

from .support import PAGE, Run, on_both

P = PAGE


def test_mmap02_read_only_fd_prot_read() -> None:
    """LTP syscalls/mmap/mmap02.c: PROT_READ MAP_SHARED on a read-only descriptor maps and
    reads (upstream also compares the data)."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        assert r.at(0, addr).perms == "r--s"
        assert r.ret(1) == 0 and r.fault(1) is None

    on_both("ltp-mmap02", expect)


def test_mmap03_read_only_fd_prot_exec() -> None:
    """LTP syscalls/mmap/mmap03.c: PROT_EXEC MAP_SHARED on a read-only descriptor maps."""

    def expect(r: Run) -> None:
        assert r.at(0, r.ok(0)).perms == "--xs"

    on_both("ltp-mmap03", expect)


def test_mmap04_permissions_in_proc_maps() -> None:
    """LTP syscalls/mmap/mmap04.c: after mmap(prot, flags) over the second page of a
    2-page mapping of the other kind, /proc/self/maps shows exactly the permission bits."""
    expected = [
        p + k for p in ("---", "r--", "-w-", "rw-", "r-x", "-wx", "rwx") for k in ("p", "s")
    ]

    def expect(r: Run) -> None:
        for case, perms in enumerate(expected):
            addr2 = r.ok(3 * case + 1)
            assert addr2 == r.ok(3 * case) + P
            assert r.at(3 * case + 1, addr2).perms == perms, f"case {case}"
            assert r.ok(3 * case + 2) == 0

    on_both("ltp-mmap04", expect)


def test_mmap05_prot_none_sigsegv() -> None:
    """LTP syscalls/mmap/mmap05.c: a PROT_NONE shared file mapping maps, and reading it
    raises SIGSEGV."""

    def expect(r: Run) -> None:
        assert r.at(0, r.ok(0)).perms == "---s"
        fault = r.fault(1)
        assert fault is not None and fault.signal == "SIGSEGV"

    on_both("ltp-mmap05", expect)


def test_mmap06_einval() -> None:
    """LTP syscalls/mmap/mmap06.c, the EINVAL cases: length 0, and flags with neither
    MAP_PRIVATE nor MAP_SHARED (the EACCES cases need a write-only descriptor)."""

    def expect(r: Run) -> None:
        assert r.err(0) == errno.EINVAL
        assert r.err(1) == errno.EINVAL
        assert r.vmas(1) == r.vmas(-1)

    on_both("ltp-mmap06", expect)


def test_mmap08_ebadf() -> None:
    """LTP syscalls/mmap/mmap08.c: mapping a descriptor that is not open fails with EBADF."""

    def expect(r: Run) -> None:
        assert r.err(0) == errno.EBADF

    on_both("ltp-mmap08", expect)


def test_mmap09_truncate_mapped_file() -> None:
    """LTP syscalls/mmap/mmap09.c: ftruncate of a mapped, written file to a smaller size, a
    larger size and 0 succeeds (the mapping stays)."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        for label in ("smaller", "larger", "zero"):
            step = r.step(label)
            assert r.ret(step) == 0
            assert r.span(step, addr) == (addr, addr + 0x10000)

    on_both("ltp-mmap09", expect)


def test_mmap13_sigbus_past_eof() -> None:
    """LTP syscalls/mmap/mmap13.c: a mapping longer than the file maps; a write past the
    file's last page raises SIGBUS."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        fault = r.fault(1)
        assert fault is not None and fault.signal == "SIGBUS"
        assert fault.addr == addr + P + 1

    on_both("ltp-mmap13", expect)


def test_mmap14_map_locked() -> None:
    """LTP syscalls/mmap/mmap14.c: a 1 MiB MAP_LOCKED mapping adds 1 MiB to VmLck: the whole
    VMA is locked."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        vma = r.at(0, addr)
        assert (vma.start, vma.end) == (addr, addr + (1 << 20))
        assert "lo" in (vma.vmflags or ())
        assert not any("lo" in (v.vmflags or ()) for v in r.vmas(-1))

    on_both("ltp-mmap14", expect)


def test_mmap15_high_address() -> None:
    """LTP syscalls/mmap/mmap15.c: a MAP_FIXED mapping at -page_size fails with ENOMEM or
    EINVAL."""

    def expect(r: Run) -> None:
        assert r.err(0) in (errno.ENOMEM, errno.EINVAL)
        assert r.vmas(0) == r.vmas(-1)

    on_both("ltp-mmap15", expect)


def test_mmap17_fixed_noreplace_eexist() -> None:
    """LTP syscalls/mmap/mmap17.c: MAP_FIXED_NOREPLACE over a mapping fails with EEXIST."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        assert r.err(1) == errno.EEXIST
        assert r.vmas(1) == r.vmas(0)
        assert r.at(1, addr).path == "$SCRATCH/file1_to_mmap"

    on_both("ltp-mmap17", expect)


def test_mmap18_growsdown() -> None:
    """LTP syscalls/mmap/mmap18.c: a MAP_GROWSDOWN stack grows into free space below it
    (grow_stack_success) but not within stack_guard_gap of another mapping: the thread
    dies of SIGSEGV (grow_stack_fail)."""
    stack = 8 * 0x4000
    reserved = 256 * P + stack

    def expect(r: Run) -> None:
        # grow_stack_success(stack, 4 pages) and (stack, stack / 2): steps 0-3, 4-7
        for first in (0, 4):
            start = r.ok(first)
            bottom = start + reserved - stack
            assert r.ret(first + 3) == 0 and r.fault(first + 3) is None
            vma = r.at(first + 3, bottom)
            assert (vma.start, vma.end) == (bottom, start + reserved)
            assert "gd" in (vma.vmflags or ())
        # grow_stack_fail: steps 8-12 and 13-17
        for first, mapped in ((8, 0x4000), (13, stack // 2)):
            start = r.ok(first)
            assert r.ok(first + 3) == start + reserved - stack
            fault = r.fault(first + 4)
            assert fault is not None and fault.signal == "SIGSEGV"
            assert r.span(first + 4, start + reserved - 1) == (
                start + reserved - mapped,
                start + reserved,
            )

    on_both("ltp-mmap18", expect)


def test_mmap20_shared_validate_unknown_flag() -> None:
    """LTP syscalls/mmap/mmap20.c: MAP_SHARED_VALIDATE with an unknown flag (1 << 10)
    fails with EOPNOTSUPP."""

    def expect(r: Run) -> None:
        assert r.err(0) == errno.EOPNOTSUPP

    on_both("ltp-mmap20", expect)


def test_mremap01_maymove_expansion() -> None:
    """LTP syscalls/mremap/mremap01.c: MREMAP_MAYMOVE grows a 1000-page shared file
    mapping to 2000 pages and the whole new area can be written."""

    def expect(r: Run) -> None:
        new = r.ok(1)
        vma = r.at(1, new)
        assert (vma.start, vma.end) == (new, new + 2000 * P)
        assert vma.perms == "-w-s" and vma.path == "$SCRATCH/mremapfile"
        assert r.ret(2) == 0 and r.fault(2) is None
        assert r.ret(3) == 0 and r.fault(3) is None

    on_both("ltp-mremap01", expect)


def test_mremap02_unaligned_einval() -> None:
    """LTP syscalls/mremap/mremap02.c: an unaligned old address fails with EINVAL."""

    def expect(r: Run) -> None:
        assert r.err(0) == errno.EINVAL

    on_both("ltp-mremap02", expect)


def test_mremap03_unmapped_efault() -> None:
    """LTP syscalls/mremap/mremap03.c: an old address that is not mapped fails with
    EFAULT."""

    def expect(r: Run) -> None:
        assert not r.is_mapped(1, r.ok(0))
        assert r.err(2) == errno.EFAULT

    on_both("ltp-mremap03", expect)


def test_mremap04_no_maymove_enomem() -> None:
    """LTP syscalls/mremap/mremap04.c: growing in place into used space without
    MREMAP_MAYMOVE fails with ENOMEM (a shared anonymous mapping stands in for shmat())."""

    def expect(r: Run) -> None:
        assert r.err(1) == errno.ENOMEM
        assert r.vmas(1) == r.vmas(0)

    on_both("ltp-mremap04", expect)


def test_mremap05_fixed() -> None:
    """LTP syscalls/mremap/mremap05.c: MREMAP_FIXED without MREMAP_MAYMOVE, an unaligned
    target, an overlapping target: EINVAL; MREMAP_FIXED|MREMAP_MAYMOVE moves the mapping
    and its data to new_addr, replacing a mapping there."""

    def expect(r: Run) -> None:
        assert r.err(3) == errno.EINVAL
        assert r.err(8) == errno.EINVAL
        assert r.err(11) == errno.EINVAL
        # mremap #1: moved into the hole at new_addr, with its written page
        old, new = r.ok(13), r.ok(14)
        assert r.ok(17) == new
        assert not r.is_mapped(17, old)
        assert r.at(17, new).anon
        # mremap #2: the written mapping at new_addr is replaced
        old, new = r.ok(19), r.ok(20)
        assert r.ok(23) == new
        assert not r.is_mapped(23, old)
        assert r.at(23, new).anon

    on_both("ltp-mremap05", expect)


def test_mremap06_vm_pgoff_after_merge() -> None:
    """LTP syscalls/mremap/mremap06.c (regression test for 7e7757876f25, "mm/mremap: fix
    vm_pgoff in vma_merge() case 3"): after a page of a shared file mapping is moved away
    and back, each page maps its own file offset (what the upstream data check reads),
    with all pages compatible and with the third or the first made read-only."""

    def expect(r: Run) -> None:
        for first, back in ((0, 2), (4, 7), (9, 12)):
            buf = r.ok(first)
            assert r.ok(back) == buf + P
            for page in range(3):
                assert r.at(back, buf + page * P).file_offset(buf + page * P) == page * P

    on_both("ltp-mremap06", expect)


def test_munmap03_einval() -> None:
    """LTP syscalls/munmap/munmap03.c: EINVAL for a range outside the address space, for
    length 0 and for an unaligned address."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        for step in (1, 2, 3):
            assert r.err(step) == errno.EINVAL
        assert r.span(3, addr) == (addr, addr + 2 * P)

    on_both("ltp-munmap03", expect)


def test_mprotect01_errors() -> None:
    """LTP syscalls/mprotect/mprotect01.c: ENOMEM for unmapped memory at 0, EINVAL for an
    unaligned address, EACCES for PROT_WRITE on a shared mapping of a read-only file."""

    def expect(r: Run) -> None:
        assert r.err(0) == errno.ENOMEM
        assert r.err(2) == errno.EINVAL
        assert r.err(4) == errno.EACCES
        assert r.at(4, r.ok(3)).perms == "r--s"

    on_both("ltp-mprotect01", expect)


def test_mprotect05_split_and_merge() -> None:
    """LTP syscalls/mprotect/mprotect05.c (bugzilla 217061): splitting a 5-page shared file
    mapping with mprotect and making it uniform again succeeds, leaving one VMA."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        assert [r.ret(i) for i in (1, 2, 3)] == [0, 0, 0]
        assert len(r.vmas_in(2, addr, addr + 5 * P)) == 5
        assert r.span(3, addr) == (addr, addr + 5 * P)
        assert r.at(3, addr).perms == "r--s"
        assert r.ok(4) == 0

    on_both("ltp-mprotect05", expect)


def test_brk01_exact_breaks() -> None:
    """LTP syscalls/brk/brk01.c (syscall variant): brk() to cur + inc, cur and cur - inc,
    11 times, returns exactly the requested break; the byte at the raised break is
    writable."""
    inc = 2 * P - 1

    def expect(r: Run) -> None:
        cur = r.ret(0)
        for k in range(11):
            step = 1 + 4 * k
            assert r.ret(step) == cur + inc
            assert r.ret(step + 1) == 0 and r.fault(step + 1) is None
            assert r.ret(step + 2) == cur + inc
            assert r.ret(step + 3) == cur

    on_both("ltp-brk01", expect)


def test_brk02_shrink_over_vmas() -> None:
    """LTP syscalls/brk/brk02.c (syscall variant): grow the break by two pages, mprotect
    the second so the heap is split, grow again, then brk back to the start: every call
    succeeds and the heap is what it was."""

    def expect(r: Run) -> None:
        cur = r.ret(0)
        assert [r.ret(i) for i in (1, 2, 4, 5)] == [cur + P, cur + 2 * P, cur + 3 * P, cur]
        assert r.ret(3) == 0
        assert len(r.vmas_in(4, cur - P, cur + 3 * P)) == 3
        assert r.vmas(5) == r.vmas(-1)

    on_both("ltp-brk02", expect)


def test_vma01_fork_child_does_not_merge() -> None:
    """LTP mem/vma/vma01.c: in a fork child, a new anonymous mapping next to a VMA copied
    from the parent (with an anon_vma) does not merge with it; the two new neighbours of
    each other do."""

    def expect(r: Run) -> None:
        base = r.ok(0)
        assert r.span(4, base) == (base, base + 0x100000)
        assert r.span(6, base) == (base, base + 0x100000)
        assert r.span(6, base + 0x100000) == (base + 0x100000, base + 0x300000)

    on_both("ltp-vma01", expect)


def test_mlock02_enomem_unmapped() -> None:
    """LTP syscalls/mlock/mlock02.c test_enomem1: mlock of an unmapped range fails with
    ENOMEM.  (test_enomem2 and test_eperm need a process without CAP_IPC_LOCK.)"""

    def expect(r: Run) -> None:
        assert r.err(r.step("ENOMEM")) == errno.ENOMEM

    on_both("ltp-mlock02", expect)


def test_mlock03_stack_not_shrunk() -> None:
    """LTP syscalls/mlock/mlock03.c: mlock()+munlock() of every /proc/self/maps range
    leaves [stack] at least as large as it was (RHEL5 bug 643426 shrank it); the stack is
    locked in between and unlocked after."""

    def expect(r: Run) -> None:
        first = next(v for v in r.vmas(-1) if v.path == "[stack]")
        locked = r.step("mlock [stack]")
        assert r.ret(locked) == 0
        assert "lo" in (r.at(locked, first.start).vmflags or ())
        last = len(r.rec.steps) - 1
        stack = next(v for v in r.vmas(last) if v.path == "[stack]")
        assert stack.end - stack.start >= first.end - first.start
        assert "lo" not in (stack.vmflags or ())

    on_both("ltp-mlock03", expect)


def test_mseal01_sealed_operations_eperm() -> None:
    """LTP syscalls/mseal/mseal01.c: with one page of the mapping sealed, mprotect,
    madvise(MADV_DONTNEED) of read-only memory, munmap, mremap and mmap(MAP_FIXED) over it
    fail with EPERM, leaving the sealed page as it was and every page mapped.  (On Linux
    6.18 mprotect checks the seal VMA by VMA, so the unsealed pages before the sealed one
    have already changed when it fails; upstream checks only the errno.  The pkey_mprotect
    case is not ported.)"""

    def expect(r: Run) -> None:
        for case in ("mprotect", "madvise", "munmap", "mremap", "mmap"):
            mem = r.ok(r.step(f"{case}: mem"))
            sealed = r.step(f"{case}: mseal the third page")
            assert r.ret(sealed) == 0
            assert "sl" in (r.at(sealed, mem + 2 * P).vmflags or ())
            assert "sl" not in (r.at(sealed, mem).vmflags or ())
            op = r.step(f"{case}: EPERM")
            assert r.err(op) == errno.EPERM
            assert r.at(op, mem + 2 * P) == r.at(sealed, mem + 2 * P)
            assert all(r.is_mapped(op, mem + k * P) for k in range(8))

    on_both("ltp-mseal01", expect)


def test_mseal02_errors() -> None:
    """LTP syscalls/mseal/mseal02.c: EINVAL for invalid flags, an unaligned start and an
    overflowing length; ENOMEM for an unmapped start, end or middle."""
    cases = {
        "flags ULONG_MAX": errno.EINVAL,
        "unaligned": errno.EINVAL,
        "overflow": errno.EINVAL,
        "unallocated start": errno.ENOMEM,
        "unallocated end": errno.ENOMEM,
        "gap": errno.ENOMEM,
    }

    def expect(r: Run) -> None:
        start = r.ok(0)
        for label, err in cases.items():
            step = r.step(label)
            assert r.err(step) == err, label
            assert all("sl" not in (v.vmflags or ()) for v in r.vmas_in(step, start, start + 4 * P))

    on_both("ltp-mseal02", expect)


def test_madvise01_advice_combinations() -> None:
    """LTP syscalls/madvise/madvise01.c: every advice on a shared file mapping or a private
    anonymous mapping succeeds (EINVAL would be reported as "not supported"; MADV_HWPOISON
    is not run, and the file lives on the scratch filesystem instead of tmpfs)."""

    def expect(r: Run) -> None:
        for step in range(2, len(r.rec.steps)):
            assert r.ret(step) in (0, -errno.EINVAL), r.rec.steps[step].op.note

    on_both("ltp-madvise01", expect)


def test_madvise02_errors() -> None:
    """LTP syscalls/madvise/madvise02.c: the EINVAL and ENOMEM cases (MADV_MERGEABLE and
    UNMERGEABLE are skipped upstream when CONFIG_KSM is set, the EBADF case since swap
    prefetch)."""

    def expect(r: Run) -> None:
        for step in r.rec.steps:
            note = step.op.note or ""
            if note.endswith(": EINVAL"):
                assert r.err(step.index) == errno.EINVAL, note
            elif note.endswith(": ENOMEM"):
                assert r.err(step.index) == errno.ENOMEM, note

    on_both("ltp-madvise02", expect)


def test_madvise05_willneed_prot_none() -> None:
    """LTP syscalls/madvise/madvise05.c (regression test for ee53664bda16): MADV_WILLNEED on
    a populated 32 MiB mapping made PROT_NONE succeeds."""

    def expect(r: Run) -> None:
        assert r.ret(r.step("WILLNEED")) == 0

    on_both("ltp-madvise05", expect)


def test_madvise10_wipeonfork() -> None:
    """LTP syscalls/madvise/madvise10.c: after MADV_WIPEONFORK the (grand)child sees the
    area empty; with length 0 nothing changes; MADV_KEEPONFORK undoes MADV_WIPEONFORK."""

    def expect(r: Run) -> None:
        for case, wiped, last_fork in (
            ("wipe", True, "wipe: fork 1"),
            ("zero-length", False, "zero-length: fork 1"),
            ("grandchild", True, "grandchild: fork 2"),
            ("keep", False, "keep: fork 1"),
        ):
            addr = r.ok(r.step(f"{case}: map"))
            assert r.ret(r.step(f"{case}: advice 1")) == 0
            assert r.ret(r.step(f"{case}: advice 2")) == 0
            vma = r.at(r.step(last_fork), addr)
            assert (vma.start, vma.end) == (addr, addr + 4 * P), case
            assert vma.anon is not wiped, case
            assert ("wf" in (vma.vmflags or ())) is wiped, case

    on_both("ltp-madvise10", expect)


def test_madvise12_guard_regions() -> None:
    """LTP syscalls/madvise/madvise12.c: accesses to a MADV_GUARD_INSTALL range raise
    SIGSEGV; after MADV_GUARD_REMOVE the range can be written again."""

    def expect(r: Run) -> None:
        assert r.ret(r.step("install")) == 0
        fault = r.fault(r.step("access"))
        assert fault is not None and fault.signal == "SIGSEGV"
        assert r.ret(r.step("remove")) == 0
        assert r.rets(r.step("memset")) == ((0, 2),)

    on_both("ltp-madvise12", expect)


def test_munmap01_unmapped_not_accessible() -> None:
    """LTP syscalls/munmap/munmap01.c, both variants: after munmap of the whole shared file
    mapping, or of all but its first page, writing the unmapped part raises SIGSEGV."""

    def expect(r: Run) -> None:
        for variant, offset in (("whole", 0), ("partial", P)):
            base = r.ok(r.step(f"{variant}: map"))
            assert r.ret(r.step(f"{variant}: munmap")) == 0
            fault = r.fault(r.step(f"{variant}: write"))
            assert fault is not None and fault.signal == "SIGSEGV"
            assert fault.addr == base + offset
        partial = r.ok(r.step("partial: map"))
        assert r.span(r.step("partial: write"), partial) == (partial, partial + P)

    on_both("ltp-munmap01", expect)


def test_mlock01_sizes() -> None:
    """LTP syscalls/mlock/mlock01.c: mlock of malloc'ed 1, 1024, 1 MiB and 10 MiB buffers
    succeeds, and the pages are locked."""

    def expect(r: Run) -> None:
        heap = r.ret(0) - 0x800
        for label, addr in (
            ("1 byte", heap),
            ("1024 bytes", heap),
            ("1 MiB", r.ok(3) + 16),
            ("10 MiB", r.ok(5) + 16),
        ):
            step = r.step(label)
            assert r.ret(step) == 0, label
            assert "lo" in (r.at(step, addr).vmflags or ()), label

    on_both("ltp-mlock01", expect)


def test_mlock04_write_only_shared_file() -> None:
    """LTP syscalls/mlock/mlock04.c (regression test for fdf4c587a793): mlock and munlock of
    a PROT_WRITE-only shared file mapping succeed."""

    def expect(r: Run) -> None:
        addr = r.ok(0)
        assert r.ret(r.step("mlock")) == 0
        assert "lo" in (r.at(r.step("mlock"), addr).vmflags or ())
        assert r.ret(r.step("munlock")) == 0
        assert "lo" not in (r.at(r.step("munlock"), addr).vmflags or ())

    on_both("ltp-mlock04", expect)


@pytest.mark.parametrize(
    ("name", "sigsegv", "allowed"),
    [
        ("ltp-mprotect02", "write: SIGSEGV", "write again"),
        ("ltp-mprotect03", "write: SIGSEGV", None),
        ("ltp-mprotect04", "write: SIGSEGV", None),
    ],
)
def test_mprotect_access(name: str, sigsegv: str, allowed: str | None) -> None:
    """LTP syscalls/mprotect/mprotect02.c (a write to PROT_READ faults, and succeeds after
    mprotect(PROT_WRITE)), mprotect03.c (a write after mprotect(PROT_READ) of a shared file
    mapping faults), mprotect04.c testfunc_protnone (a write after mprotect(PROT_NONE)
    faults); mprotect succeeds each time."""

    def expect(r: Run) -> None:
        assert r.ret(r.step("mprotect")) == 0
        fault = r.fault(r.step(sigsegv))
        assert fault is not None and (fault.signal, fault.code) == ("SIGSEGV", "SEGV_ACCERR")
        if allowed is not None:
            assert r.ret(r.step(allowed)) == 0 and r.fault(r.step(allowed)) is None

    on_both(name, expect)
