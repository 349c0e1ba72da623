"""Every recording of the live kernel committed under tests/fixtures replays on the model
with zero divergence: same returns, faults, maps lines, VmFlags and anon-pages bits."""

from __future__ import annotations

from pathlib import Path

import pytest

from maplevm.mm.executor import ModelExecutor
from maplevm.scenario.compare import first_divergence
from maplevm.scenario.recording import load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDINGS = sorted(
    [
        *FIXTURES.glob("recordings/*.jsonl"),
        *FIXTURES.glob("regressions/*.jsonl"),
        *FIXTURES.glob("ported/*.jsonl"),
    ]
)


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_model_replays_kernel_recording(path: Path) -> None:
    kernel = load(path)
    model = ModelExecutor(base=kernel).run(kernel.script)
    divergence = first_divergence(kernel, model, names=("kernel", "model"))
    assert divergence is None, divergence.render()


def test_there_are_recordings_to_replay() -> None:
    assert len(RECORDINGS) >= 5
