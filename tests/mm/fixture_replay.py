"""Shared by test_madvise.py, test_mlock.py and test_mseal.py: the recorded fixtures of one
family (``tests/fixtures/recordings/<prefix>-*.jsonl`` and the shrunk fuzz regressions
``tests/fixtures/regressions/<prefix>-*.jsonl``), replayed on the model, and their scripts
recorded again on the live kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from maplevm.mm.executor import ModelExecutor
from maplevm.scenario import format as sf
from maplevm.scenario import recording as sr
from maplevm.scenario.compare import first_divergence

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def recordings(prefix: str) -> list[Path]:
    """The committed kernel recordings of a family, fixtures and regressions."""
    return sorted(
        [
            *FIXTURES.glob(f"recordings/{prefix}-*.jsonl"),
            *FIXTURES.glob(f"regressions/{prefix}-*.jsonl"),
        ]
    )


def scripts(prefix: str) -> list[Path]:
    """The hand-written scripts of a family (each has its recording)."""
    return sorted(FIXTURES.glob(f"scripts/{prefix}-*.jsonl"))


def assert_model_replays(path: Path) -> None:
    """The model run on a kernel recording's script diverges nowhere from it."""
    kernel = sr.load(path)
    executor = ModelExecutor(base=kernel)
    model = executor.run(kernel.script)
    divergence = first_divergence(kernel, model, names=("kernel", "model"))
    assert divergence is None, divergence.render()
    assert executor.last_mm is not None
    executor.last_mm.validate()


def assert_live_kernel_agrees(script_path: Path) -> None:
    """Record ``script_path`` on this machine's kernel: the committed recording must still
    be what it does (skipped, with the reason, where the kernel cannot be used or the
    machine differs in a fact that changes behaviour)."""
    from maplevm.kernel.env import behaviour_differences
    from maplevm.kernel.runner import KernelExecutor, kernel_unavailable_reason

    reason = kernel_unavailable_reason()
    if reason:
        pytest.skip(f"needs the live kernel: {reason}")
    fixture = sr.load(FIXTURES / "recordings" / script_path.name)
    script = sf.load(script_path)
    assert script.dumps() == fixture.script.dumps(), "script and recording disagree"
    fresh = KernelExecutor().run(script)
    relevant = dict(fresh.env)
    if not fixture.header.files:
        relevant["scratch_fs"] = fixture.env.get("scratch_fs")
    diffs = behaviour_differences(dict(fixture.env), relevant)
    if diffs:
        pytest.skip(f"fixture recorded under different conditions: {'; '.join(diffs)}")
    divergence = first_divergence(fixture, fresh, names=("fixture", "this kernel"))
    assert divergence is None, divergence.render()


def assert_regressions_replay_live(path: Path) -> None:
    """A shrunk regression (a recording with its script inside) still records the same."""
    from maplevm.kernel.runner import KernelExecutor, kernel_unavailable_reason

    reason = kernel_unavailable_reason()
    if reason:
        pytest.skip(f"needs the live kernel: {reason}")
    fixture = sr.load(path)
    fresh = KernelExecutor().run(fixture.script)
    divergence = first_divergence(fixture, fresh, names=("fixture", "this kernel"))
    assert divergence is None, divergence.render()
