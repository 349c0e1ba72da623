"""/proc/PID/maps rendering and seeding an MM from maps/smaps of real processes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maplevm.mm import MM
from maplevm.mm.flags import vmflags_text
from maplevm.mm.proc_maps import smaps_entries
from maplevm.mm.seed import from_proc_maps


def _read(pid: int | str, what: str) -> str:
    return Path(f"/proc/{pid}/{what}").read_text()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A `sleep` process whose address space has settled (exec and ld.so done)."""
    proc = subprocess.Popen(["sleep", "30"])
    deadline = time.monotonic() + 10
    last = ""
    while time.monotonic() < deadline:
        state = _read(proc.pid, "stat").rsplit(")", 1)[1].split()[0]
        maps = _read(proc.pid, "maps")
        if state == "S" and maps == last:
            break
        last = maps
        time.sleep(0.05)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_maps_of_a_real_process_round_trip_byte_for_byte(sleeper: subprocess.Popen[bytes]) -> None:
    if not Path(f"/proc/{sleeper.pid}/maps").exists():
        pytest.skip("no /proc on this system")
    maps = _read(sleeper.pid, "maps")
    smaps = _read(sleeper.pid, "smaps")
    mm = from_proc_maps(maps, smaps_text=smaps)
    assert mm.proc_maps() == maps
    mm.validate()


def test_smaps_flags_and_anon_bits_round_trip(sleeper: subprocess.Popen[bytes]) -> None:
    smaps = _read(sleeper.pid, "smaps")
    mm = from_proc_maps(_read(sleeper.pid, "maps"), smaps_text=smaps)
    want = []
    anon = False
    flags = ""
    for line in smaps.splitlines():
        if line.startswith("VmFlags:"):
            flags = " ".join(line.split()[1:])
            want.append((flags, anon))
            anon = False
        elif line.startswith("Anonymous:"):
            anon = int(line.split()[1]) > 0
    got = [(f, a) for _line, f, a in smaps_entries(mm)]
    assert got == want


def test_own_maps_round_trip() -> None:
    maps = _read("self", "maps")
    assert from_proc_maps(maps).proc_maps() == maps


def test_mm_from_proc_maps_classmethod(sleeper: subprocess.Popen[bytes]) -> None:
    """The issue's spelling, ``MM.from_proc_maps(...)``, with every keyword."""
    from maplevm.mm import MM
    from maplevm.mm.profile import KernelProfile

    maps = _read(sleeper.pid, "maps")
    heap = next(ln for ln in maps.splitlines() if ln.endswith("[heap]"))
    start, end = (int(x, 16) for x in heap.split()[0].split("-"))
    profile = KernelProfile()
    mm = MM.from_proc_maps(
        maps,
        smaps_text=_read(sleeper.pid, "smaps"),
        start_brk=start,
        brk=end - 1,
        profile=profile,
    )
    assert isinstance(mm, MM) and mm.profile is profile
    assert (mm.start_brk, mm.brk) == (start, end - 1)
    assert mm.proc_maps() == maps  # [heap]: the VMA holding start_brk..brk
    # a break outside the VMA: the kernel (and the model) no longer call it [heap]
    other = MM.from_proc_maps(maps, start_brk=0x1000, brk=0x3000)
    assert "[heap]" not in other.proc_maps()


def test_vmflags_text_orders_by_bit() -> None:
    from maplevm.mm.flags import VM_ACCOUNT, VM_GROWSDOWN, VM_MAYREAD, VM_READ, VM_WRITE

    text = vmflags_text(VM_ACCOUNT | VM_READ | VM_GROWSDOWN | VM_WRITE | VM_MAYREAD)
    assert text == "rd wr mr gd ac"


def test_empty_mm_lists_only_vsyscall() -> None:
    assert MM().proc_maps().rstrip().endswith("[vsyscall]")
    assert len(MM().proc_maps().splitlines()) == 1
