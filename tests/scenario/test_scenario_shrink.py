"""The shrinker, on toy executors (fast, exact) and on the live kernel against a perturbed
copy of itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from maplevm.kernel.runner import KernelExecutor, kernel_unavailable_reason
from maplevm.scenario import format as sf
from maplevm.scenario import recording as sr
from maplevm.scenario.compare import first_divergence
from maplevm.scenario.generator import generate
from maplevm.scenario.shrink import save_fixture, shrink, subset


class Toy:
    """A pure-Python executor: mmap returns a fresh address, everything else 0; the buggy
    variant fails an mprotect(PROT_READ) once some mmap of 4 pages or more was made."""

    def __init__(self, name: str, buggy: bool) -> None:
        self.name = name
        self.buggy = buggy
        self.runs = 0

    def run(self, script: sf.Script) -> sr.Recording:
        self.runs += 1
        results: list[int] = []
        steps = []
        big = False
        for i, op in enumerate(script.ops):
            args = sf.resolve_args(op, results)
            ret = 0
            if op.kind == "mmap":
                ret = 0x10000 * (i + 1)
                big = big or int(args["len"] or 0) >= 0x4000
            if self.buggy and op.kind == "mprotect" and big and args["prot"] == 1:
                ret = -12
            results.append(ret)
            steps.append(sr.Step(i, op, args, ret))
        return sr.Recording(script.header, {}, sr.Snapshot(0), tuple(steps), executor=self.name)


def noisy_script() -> sf.Script:
    ops: list[dict[str, object]] = [
        {"op": "brk", "addr": 0},
        {"op": "mmap", "len": "0x1000", "prot": ["PROT_READ"], "flags": ["MAP_PRIVATE"]},
        {"op": "touch", "addr": {"ref": 1}},
        {"op": "mmap", "len": "0x6000", "prot": ["PROT_READ", "PROT_WRITE"],
         "flags": ["MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_POPULATE"], "note": "the big one"},
        {"op": "madvise", "addr": {"ref": 3}, "len": "0x2000", "advice": "MADV_RANDOM"},
        {"op": "mprotect", "addr": {"ref": 1}, "len": "0x1000", "prot": ["PROT_WRITE"]},
        {"op": "munmap", "addr": {"ref": 1}, "len": "0x1000"},
        {"op": "mprotect", "addr": {"ref": 3, "add": "0x3000"}, "len": "0x3000",
         "prot": ["PROT_READ"], "snapshot": "maps"},
        {"op": "mlock", "addr": {"ref": 3}, "len": "0x1000"},
        {"op": "mprotect", "addr": {"ref": 3}, "len": "0x1000", "prot": ["PROT_READ"]},
    ]  # fmt: skip
    header = {"maplevm": "script", "version": 1, "name": "noisy", "rlimits": {"STACK": 16777216}}
    return sf.script_from_json(header, ops)


def test_toy_disagreement_shrinks_to_the_two_operations_that_matter(tmp_path: Path) -> None:
    a, b = Toy("good", False), Toy("buggy", True)
    result = shrink(noisy_script(), a, b)
    ops = [op.to_json() for op in result.script.ops]
    assert ops == [
        {"op": "mmap", "len": "0x4000", "prot": [], "flags": []},
        {"op": "mprotect", "addr": {"ref": 0}, "len": 0, "prot": ["PROT_READ"]},
    ]
    assert result.script.header.rlimits == {}
    assert (result.divergence.step, result.divergence.field) == (1, "ret")
    assert a.runs == b.runs == result.tests + 2  # plus the first and the final run
    path = save_fixture(result, tmp_path, "toy-min")
    rec = sr.load(path)
    assert rec.header.name == "toy-min"
    assert rec.header.meta["shrunk_from"] == "noisy"
    assert rec.extra["shrunk"]["against"] == "buggy"
    assert rec.extra["shrunk"]["original_ops"] == 10
    assert first_divergence(rec, b.run(rec.script)) is not None


def test_agreeing_executors_have_nothing_to_shrink() -> None:
    with pytest.raises(ValueError, match="agree"):
        shrink(noisy_script(), Toy("a", False), Toy("b", False))


def test_subset_renumbers_references_and_concretises_removed_ones() -> None:
    s = noisy_script()
    values: list[int | None] = [0x5000, 0x20000, 0, 0x40000, 0, 0, 0, 0, 0, 0]
    sub = subset(s, [3, 7, 8], values)
    assert [op.kind for op in sub.ops] == ["mmap", "mprotect", "mlock"]
    assert sub.ops[1].args["addr"] == {"ref": 0, "add": "0x3000"}
    sub = subset(s, [1, 7], values)
    assert sub.ops[1].args["addr"] == hex(0x40000 + 0x3000)  # step 3 is gone: its value stays


def test_step_limit_is_respected() -> None:
    a, b = Toy("good", False), Toy("buggy", True)
    result = shrink(noisy_script(), a, b, max_tests=5)
    assert result.tests <= 5
    assert first_divergence(a.run(result.script), b.run(result.script)) is not None


# -- live --------------------------------------------------------------------------------------


class SplitHater:
    """The kernel, except that an mprotect which splits a VMA reports -ENOMEM."""

    name = "split-hater"

    def __init__(self, kernel: KernelExecutor) -> None:
        self.kernel = kernel

    def run(self, script: sf.Script) -> sr.Recording:
        rec = self.kernel.run(script)
        steps = []
        before = rec.initial.count
        for step in rec.steps:
            after = step.snapshot.count if step.snapshot else before
            if step.op.kind == "mprotect" and step.ret == 0 and after > before:
                step = dataclasses.replace(step, ret=-12)
            before = after
            steps.append(step)
        return dataclasses.replace(rec, steps=tuple(steps), executor=self.name)


@pytest.mark.live
def test_kernel_disagreement_shrinks_to_a_minimal_fixture(tmp_path: Path) -> None:
    reason = kernel_unavailable_reason()
    if reason:
        pytest.skip(f"needs the live kernel: {reason}")
    kernel = KernelExecutor()
    script = generate(5, 0, kind="realistic", ops=(30, 40))
    result = shrink(script, kernel, SplitHater(kernel))
    kinds = [op.kind for op in result.script.ops]
    assert kinds == ["mmap", "mprotect"], result.script.dumps()
    assert len(script.ops) >= 30
    # The minimal script still splits a VMA on the kernel: one more maps line after it.
    rec = result.recording_a
    assert rec.steps[1].ret == 0 and result.recording_b.steps[1].ret == -12
    assert rec.maps_after(1) != rec.maps_after(0)
    path = save_fixture(result, tmp_path, "split-min")
    fixture = sr.load(path)
    # kernel against fixture: recording the fixture's script again gives the same steps
    assert first_divergence(fixture, kernel.run(fixture.script)) is None
