"""The ported recordings and their scripts belong together: every script in
``tests/fixtures/ported/scripts`` has its kernel recording in ``tests/fixtures/ported``
(recorded from exactly that script), and every recording has its script.  The recordings
themselves are replayed on the model by tests/mm/test_recorded_fixtures.py and re-recorded
on the live kernel by tests/kernel/test_runner_live.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from maplevm.scenario import format as sf
from maplevm.scenario.recording import load

from .support import PORTED, SCRIPTS

SCRIPT_PATHS = sorted(SCRIPTS.glob("*.jsonl"))


def test_every_recording_has_its_script() -> None:
    recordings = {p.stem for p in PORTED.glob("*.jsonl")}
    scripts = {p.stem for p in SCRIPT_PATHS}
    assert recordings == scripts
    assert len(recordings) >= 100


@pytest.mark.parametrize("path", SCRIPT_PATHS, ids=[p.stem for p in SCRIPT_PATHS])
def test_recording_was_made_from_the_script(path: Path) -> None:
    recording = load(PORTED / path.name)
    assert recording.executor == "kernel"
    assert recording.script.dumps() == sf.load(path).dumps()
    assert recording.header.name == path.stem
