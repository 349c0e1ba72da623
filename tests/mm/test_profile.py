"""KernelProfile: the layout constants computed from the facts a recording keeps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from maplevm.mm.profile import RLIM_INFINITY, KernelProfile, RLimit
from maplevm.scenario.recording import load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


def _vdso_end(path: Path) -> int:
    rec = load(path)
    assert rec.initial.lines is not None
    line = next(ln for ln in rec.initial.lines if ln.rstrip().endswith("[vdso]"))
    return int(line.split("-")[1].split()[0], 16)


def test_mmap_base_matches_the_recorded_layout() -> None:
    """With ASLR off the vdso sits right below mmap_base (recorded on the live kernel)."""
    path = FIXTURES / "core-placement.jsonl"
    profile = KernelProfile.from_env(dict(load(path).env))
    assert not profile.randomize
    assert profile.mmap_base() == _vdso_end(path)


def test_mmap_base_follows_rlimit_stack_and_clamps() -> None:
    base = KernelProfile()
    small = replace(base, rlimit_stack=RLimit(1 << 20))
    huge = replace(base, rlimit_stack=RLimit(1 << 40))
    unlimited = replace(base, rlimit_stack=RLimit(RLIM_INFINITY))
    assert small.mmap_base() == base.mmap_base()  # both clamp to the 128 MiB gap
    assert huge.mmap_base() == base.task_size - ((1 << 40) + base.stack_guard_gap)
    assert unlimited.mmap_base() == (base.task_size - base.task_size // 6 * 5 + 4095) & ~4095


def test_randomised_profiles_differ_by_seed_but_repeat() -> None:
    a = replace(KernelProfile(), randomize=True, random_seed=1)
    b = replace(KernelProfile(), randomize=True, random_seed=2)
    assert a.mmap_base() != b.mmap_base()
    assert a.mmap_base() == replace(a).mmap_base()
    assert a.mmap_base() < KernelProfile().mmap_base()


def test_effective_mmap_min_addr_is_raised_by_the_lsm() -> None:
    profile = KernelProfile.from_env(dict(load(FIXTURES / "core-placement.jsonl").env))
    assert profile.dac_mmap_min_addr == 4096
    assert profile.mmap_min_addr == 65536


def test_detect_reads_this_machine() -> None:
    profile = KernelProfile.detect(randomize=False)
    assert profile.page_size == 4096
    assert profile.max_map_count == int(Path("/proc/sys/vm/max_map_count").read_text())
    assert profile.to_json()["max_map_count"] == profile.max_map_count


def test_special_pages_come_from_the_recording_and_decide_sigbus() -> None:
    """The runner probes which [vvar] pages a read maps; the model's faults follow the
    recorded answer, not a built-in guess."""
    from maplevm.mm.seed import from_proc_maps

    rec = load(FIXTURES / "special-pages.jsonl")
    probed = rec.env["special_pages"]
    assert set(probed) == {"[vvar]", "[vvar_vclock]"}
    profile = KernelProfile.from_env(dict(rec.env))
    assert profile.special_pages == {k: tuple(v) for k, v in probed.items()}
    maps = "7ffff7ff7000-7ffff7ffb000 r--p 00000000 00:00 0  [vvar]\n"
    for pages in ((0, 2), (0, 1, 2, 3)):
        mm = from_proc_maps(maps, profile=replace(profile, special_pages={"[vvar]": pages}))
        got = [mm.fault(0x7FFFF7FF7000 + k * 4096, write=False) for k in range(4)]
        assert got == [0 if k in pages else -5 for k in range(4)]
