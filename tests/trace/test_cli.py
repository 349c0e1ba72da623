"""The commands: replay, explain, trace --strace-log, and their --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maplevm.cli import main

from .helpers import TRACES


def test_replay_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(TRACES / "known.trace.jsonl"), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] and out["divergences"] == 0
    assert out["placements"]["total"] == out["placements"]["exact"] > 0
    assert len(out["finals"]) == 2


def test_replay_fast(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["replay", str(TRACES / "mallocs.trace.jsonl"), "--fast", "--json", "--no-progress"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] and out["maps_checks"]["total"] == 2  # at exec and at exit only


def test_replay_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(TRACES / "true.trace.jsonl"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "placed exactly" in out and "final maps: identical" in out


def test_replay_strace_log_needs_maps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(TRACES / "ls.strace"), "--no-progress"]) == 2
    assert "--maps" in capsys.readouterr().err
    args = ["replay", str(TRACES / "ls.strace"), "--maps", str(TRACES / "ls.maps")]
    assert main([*args, "--no-progress"]) == 0


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(TRACES / "true.trace.jsonl"), "2"]) == 0
    out = capsys.readouterr().out
    assert "unmapped_area_topdown" in out and "step 2" in out
    assert main(["explain", str(TRACES / "true.trace.jsonl"), "--first-divergence"]) == 0
    assert "no divergence" in capsys.readouterr().out
    assert main(["explain", str(TRACES / "true.trace.jsonl"), "2", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)[0]["events"]
    assert any(e["name"] == "gap" for e in events)


def test_convert_strace_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ls.jsonl"
    args = ["trace", "--strace-log", str(TRACES / "ls.strace"), "--maps", str(TRACES / "ls.maps")]
    assert main([*args, "-o", str(out)]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["replay", str(out), "--no-progress"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("command", ["trace", "replay", "predict", "explain"])
def test_help_teaches_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and f"maplevm {command}" in out
