"""Every recording of the live kernel committed under tests/fixtures replays on the model
with zero divergence: same returns, faults, maps lines, VmFlags and anon-pages bits."""

from __future__ import annotations

from pathlib import Path

import pytest

from maplevm.mm.executor import ModelExecutor
from maplevm.scenario import format as sf
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
    executor = ModelExecutor(base=kernel)
    model = executor.run(kernel.script)
    divergence = first_divergence(kernel, model, names=("kernel", "model"))
    assert divergence is None, divergence.render()
    assert executor.last_mm is not None
    executor.last_mm.validate()  # validate_mm(): tree, VMAs and map_count agree


SCRIPTS = sorted(FIXTURES.glob("scripts/*.jsonl"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_each_script_has_its_recording(path: Path) -> None:
    """A hand-written script and its kernel recording say the same thing (a script edited
    without recording it again would leave the recording stale)."""
    recording = FIXTURES / "recordings" / path.name
    assert recording.exists(), f"record it: maplevm record {path} -o {recording}"
    assert sf.load(path).dumps() == load(recording).script.dumps()


def test_there_are_recordings_to_replay() -> None:
    assert len(RECORDINGS) >= 5
