"""The kernel runner on the live kernel: determinism, the committed fixtures, environment
facts, rlimits, faults, snapshots and helper deaths.

Every test here needs Linux on x86_64 with a C compiler and a static libc; elsewhere it is
skipped with the reason.  Expected values come from the live kernel (the committed recordings
or a relation between two runs), not from memory.
"""

from __future__ import annotations

import dataclasses
import resource
from pathlib import Path
from typing import Any

import pytest

from maplevm.kernel.env import behaviour_differences
from maplevm.kernel.runner import KernelExecutor, KernelRunError, kernel_unavailable_reason
from maplevm.scenario import format as sf
from maplevm.scenario import recording as sr
from maplevm.scenario.compare import first_divergence
from maplevm.scenario.maps import parse_maps_line

pytestmark = pytest.mark.live

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"
# Minimal scripts saved by the shrinker (maplevm shrink / fuzz --shrink-to).
REGRESSIONS = FIXTURES.parent / "regressions"
PORTED = FIXTURES.parent / "ported"  # recordings of ported external tests
RW, PRIVATE_ANON = ["PROT_READ", "PROT_WRITE"], ["MAP_PRIVATE", "MAP_ANONYMOUS"]


@pytest.fixture(scope="module")
def kernel() -> KernelExecutor:
    reason = kernel_unavailable_reason()
    if reason:
        pytest.skip(f"needs the live kernel: {reason}")
    return KernelExecutor()


def make(ops: list[dict[str, Any]], **header: Any) -> sf.Script:
    return sf.script_from_json({"maplevm": "script", "version": 1, **header}, ops)


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.jsonl"))


@pytest.mark.parametrize(
    "path",
    fixture_paths() + sorted(REGRESSIONS.glob("*.jsonl")) + sorted(PORTED.glob("*.jsonl")),
    ids=lambda p: p.stem,
)
def test_kernel_matches_committed_recording(kernel: KernelExecutor, path: Path) -> None:
    fixture = sr.load(path)
    fresh = kernel.run(fixture.script)
    relevant = dict(fresh.env)
    if not fixture.header.files:
        relevant["scratch_fs"] = fixture.env.get("scratch_fs")  # no files: does not matter
    diffs = behaviour_differences(dict(fixture.env), relevant)
    if diffs:
        pytest.skip(f"fixture recorded under different conditions: {'; '.join(diffs)}")
    div = first_divergence(fixture, fresh, names=("fixture", "this kernel"))
    assert div is None, div.render()


def test_same_script_twice_gives_identical_recordings(kernel: KernelExecutor) -> None:
    for path in fixture_paths():
        script = sr.load(path).script
        assert kernel.run(script).dumps() == kernel.run(script).dumps(), path.name


def test_helper_layout_is_stable_across_scripts() -> None:
    # Files and rlimits below 128 MiB of stack leave the helper's own layout alone.
    initials = {sr.load(p).initial for p in fixture_paths()}
    assert len(initials) == 1


def test_environment_facts(kernel: KernelExecutor) -> None:
    rec = kernel.run(make([{"op": "brk", "addr": 0}], rlimits={"STACK": 16 << 20}))
    env = rec.env
    assert env["page_size"] == 4096
    assert env["kernel"]["machine"] == "x86_64"
    with open("/proc/sys/vm/max_map_count") as f:
        assert env["sysctl"]["vm.max_map_count"] == int(f.read())
    assert env["rlimits"]["STACK"]["soft"] == 16 << 20
    assert set(env["rlimits"]) == {"STACK", "AS", "MEMLOCK", "DATA"}
    assert int(env["personality"], 16) & 0x0040000  # ADDR_NO_RANDOMIZE
    assert env["thp"]["enabled"] in ("always", "madvise", "never")
    layout = env["layout"]
    assert layout["brk"] == rec.steps[0].ret  # brk(0) before and during the script agree
    heap = next(parse_maps_line(ln) for ln in rec.initial.lines or () if ln.endswith("[heap]"))
    assert heap.start == layout["start_brk"] and heap.end == layout["brk"]


def test_rlimit_stack_moves_mmap_base(kernel: KernelExecutor) -> None:
    first = [{"op": "mmap", "len": 4096, "prot": RW, "flags": PRIVATE_ANON}]
    default = kernel.run(make(first)).steps[0].ret
    big = kernel.run(make(first, rlimits={"STACK": 1 << 30})).steps[0].ret
    unlimited = kernel.run(make(first, rlimits={"STACK": "unlimited"})).steps[0].ret
    # mmap_base = TASK_SIZE - max(128 MiB, stack + guard gap), capped at 5/6 of TASK_SIZE
    assert default - big == (1 << 30) + (1 << 20) - (128 << 20)
    assert 0 < unlimited < big < default


def test_rlimit_data_and_as(kernel: KernelExecutor) -> None:
    ops = [
        {"op": "mmap", "len": "0x4000000", "prot": RW, "flags": PRIVATE_ANON},
        {"op": "mmap", "len": "0x4000000", "prot": ["PROT_READ"], "flags": PRIVATE_ANON},
        {"op": "mmap", "len": "0x40000000", "prot": ["PROT_NONE"], "flags": PRIVATE_ANON},
    ]
    free = kernel.run(make(ops)).rets()
    limited = kernel.run(make(ops, rlimits={"DATA": 32 << 20, "AS": 512 << 20})).rets()
    assert all(r > 0 for r in free)
    # 64 MiB private writable exceeds RLIMIT_DATA; read-only does not count as data; 1 GiB
    # exceeds RLIMIT_AS whatever its protection.
    assert limited[0] == -12 and limited[1] > 0 and limited[2] == -12


def test_impossible_rlimit_is_a_clear_error(kernel: KernelExecutor) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("RLIMIT_MEMLOCK has no hard limit here to exceed")
    script = make([], rlimits={"MEMLOCK": hard + 4096})
    with pytest.raises(KernelRunError, match="setrlimit refused"):
        kernel.run(script)


def test_touch_reports_faults_as_results(kernel: KernelExecutor) -> None:
    rec = kernel.run(make(
        [
            {"op": "mmap", "len": "0x2000", "prot": ["PROT_READ"], "flags": PRIVATE_ANON},
            {"op": "touch", "addr": {"ref": 0}, "access": "read"},
            {"op": "touch", "addr": {"ref": 0, "add": 5}},
            {"op": "touch", "addr": 0, "access": "read"},
            {"op": "touch", "addr": "0x800000000000", "access": "read"},
            {"op": "mmap", "len": "0x2000", "prot": ["PROT_READ"], "flags": ["MAP_SHARED"],
             "file": "f"},
            {"op": "touch", "addr": {"ref": 5, "add": "0x1000"}, "access": "read"},
            {"op": "touch", "addr": {"ref": 5}, "access": "read"},
        ],
        files=[{"name": "f", "size": 100}],
    ))  # fmt: skip
    steps = rec.steps
    base = steps[0].ret
    assert steps[1].ret == 0 and steps[1].fault is None
    assert steps[2].ret == -14 and steps[2].fault == sr.Fault("SIGSEGV", "SEGV_ACCERR", base + 5)
    assert steps[3].fault == sr.Fault("SIGSEGV", "SEGV_MAPERR", 0)
    assert steps[4].ret == -14 and steps[4].fault is not None
    assert steps[4].fault.code == "SI_KERNEL"  # non-canonical: a general protection fault
    assert steps[6].ret == -5
    assert steps[6].fault == sr.Fault("SIGBUS", "BUS_ADRERR", steps[5].ret + 0x1000)
    assert steps[7].ret == 0  # the first page holds the file's 100 bytes


def test_repeat_and_snapshot_modes(kernel: KernelExecutor) -> None:
    rec = kernel.run(make([
        {"op": "mmap", "len": "0x10000", "prot": RW, "flags": PRIVATE_ANON, "snapshot": "none"},
        {"op": "repeat", "count": 8, "stride": "0x2000", "snapshot": "count",
         "body": {"op": "mprotect", "addr": {"ref": 0}, "len": "0x1000", "prot": "PROT_READ"}},
        {"op": "brk", "addr": 0, "snapshot": "maps"},
        {"op": "brk", "addr": 0},
    ]))  # fmt: skip
    s = rec.steps
    assert s[0].snapshot is None
    assert s[1].rets == ((0, 8),)
    assert s[1].snapshot is not None and s[1].snapshot.lines is None
    assert s[1].snapshot.count == rec.initial.count + 16
    assert s[2].snapshot is not None and s[2].snapshot.vmflags is None
    assert s[2].snapshot.count == s[1].snapshot.count == len(s[2].snapshot.lines or ())
    assert s[3].snapshot is not None and s[3].snapshot.mode == "full"
    assert list(s[3].snapshot.lines or ()) == list(s[2].snapshot.lines or ())


def test_helper_death_ends_the_recording(kernel: KernelExecutor) -> None:
    probe = kernel.run(make([]))
    text = next(
        parse_maps_line(ln) for ln in probe.initial.lines or () if "r-xp" in ln and "$HELPER" in ln
    )
    rec = kernel.run(make([
        {"op": "munmap", "addr": hex(text.start), "len": hex(text.end - text.start)},
        {"op": "brk", "addr": 0},
    ]))  # fmt: skip
    assert len(rec.steps) == 1 and rec.steps[0].died == "SIGSEGV"


def test_scratch_files_are_removed(kernel: KernelExecutor, tmp_path: Path) -> None:
    ex = KernelExecutor(binary=kernel.binary, scratch_root=tmp_path)
    op = {"op": "mmap", "len": 4096, "prot": ["PROT_READ"], "flags": ["MAP_SHARED"], "file": "a"}
    rec = ex.run(make([op], files=[{"name": "a", "size": 4096}]))
    assert rec.steps[0].ret > 0
    line = next(ln for ln in rec.maps_after(0) if "$SCRATCH/a" in ln)
    assert parse_maps_line(line).dev == "00:00"
    assert list(tmp_path.iterdir()) == []


def test_perturbed_recording_is_caught_against_the_kernel(kernel: KernelExecutor) -> None:
    fixture = sr.load(FIXTURES / "anon-split-merge.jsonl")
    fresh = kernel.run(fixture.script)
    steps = list(fresh.steps)
    steps[3] = dataclasses.replace(steps[3], ret=-1)
    div = first_divergence(fixture, dataclasses.replace(fresh, steps=tuple(steps)))
    assert div is not None and (div.step, div.field) == (3, "ret")


# -- long campaigns ------------------------------------------------------------------------------


@pytest.mark.slow
def test_campaign_generated_scripts_are_deterministic(kernel: KernelExecutor) -> None:
    from maplevm.scenario.generator import generate_many

    for script in generate_many(20240601, 300, kind="mixed", map_count_chance=0.0):
        a, b = kernel.run(script), kernel.run(script)
        div = first_divergence(a, b, names=("first", "second"))
        assert div is None, f"{script.header.name}: {div.render()}"
        assert not any(s.died for s in a.steps), script.header.name


@pytest.mark.slow
def test_campaign_max_map_count(kernel: KernelExecutor) -> None:
    with open("/proc/sys/vm/max_map_count") as f:
        limit = int(f.read())
    calls = limit // 2 + 100
    pages = 2 * calls + 16
    rec = kernel.run(make([
        {"op": "mmap", "len": hex(pages * 4096), "prot": RW,
         "flags": [*PRIVATE_ANON, "MAP_NORESERVE"]},
        {"op": "repeat", "count": calls, "stride": "0x2000",
         "body": {"op": "mprotect", "addr": {"ref": 0}, "len": "0x1000", "prot": "PROT_READ"}},
        {"op": "mmap", "len": "0x1000", "prot": ["PROT_READ"], "flags": PRIVATE_ANON},
        {"op": "mmap", "len": "0x1000", "prot": ["PROT_READ"], "flags": PRIVATE_ANON},
        {"op": "munmap", "addr": {"ref": 0, "add": hex((pages - 4) * 4096)}, "len": "0x1000"},
        {"op": "munmap", "addr": {"ref": 0}, "len": hex(pages * 4096)},
    ], snapshot="count"))  # fmt: skip
    s = rec.steps
    assert s[1].rets is not None
    ok, failed = s[1].rets[0], s[1].rets[-1]
    assert ok[0] == 0 and failed[0] == -12 and ok[1] + failed[1] == calls
    vmas = [st.snapshot.count - 1 for st in s if st.snapshot is not None]  # minus [vsyscall]
    # The failing call leaves its first split: exactly max_map_count VMAs; one more mmap
    # still fits, the next does not; splitting munmap is refused at the limit.
    assert vmas[1] == limit
    assert s[2].ret > 0 and vmas[2] == limit + 1
    assert s[3].ret == -12 and s[4].ret == -12
    assert s[5].ret == 0
