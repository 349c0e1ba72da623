"""The command line of the scenario and kernel packages (gen, check, show, compare, shrink,
fuzz, record), driven through their own ``register`` functions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from maplevm.kernel import cli as kernel_cli
from maplevm.kernel.runner import kernel_unavailable_reason
from maplevm.scenario import cli as scenario_cli
from maplevm.scenario import format as sf
from maplevm.scenario import recording as sr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="maplevm")
    sub = parser.add_subparsers()
    scenario_cli.register(sub)
    kernel_cli.register(sub)
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


def live() -> None:
    reason = kernel_unavailable_reason()
    if reason:
        pytest.skip(f"needs the live kernel: {reason}")


def test_gen_writes_reproducible_scripts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g"
    assert run("gen", "--seed", "5", "--count", "4", "--out", str(out), "--ops", "3-9") == 0
    assert "wrote 4 mixed scripts" in capsys.readouterr().out
    files = sorted(out.glob("*.jsonl"))
    assert [f.name for f in files] == [f"gen-mixed-5-{i}.jsonl" for i in range(4)]
    first = [f.read_text() for f in files]
    assert run("gen", "--seed", "5", "--count", "4", "--out", str(out), "--ops", "3-9",
               "--json") == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert [Path(s["path"]).name for s in summary["scripts"]] == [f.name for f in files]
    assert all(3 <= s["ops"] <= 9 for s in summary["scripts"])
    assert [f.read_text() for f in files] == first
    for f in files:
        sf.load(f)


def test_gen_rejects_a_bad_ops_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("gen", "--seed", "1", "--ops", "9-3")
    assert "need 1 <= MIN <= MAX" in capsys.readouterr().err


def test_check_reports_the_offending_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"maplevm": "script", "version": 1}\n{"op": "munmap", "addr": 0}\n')
    good = FIXTURES / "scripts" / "errnos.jsonl"
    assert run("check", str(good)) == 0
    assert run("check", str(good), str(bad)) == 1
    captured = capsys.readouterr()
    assert f"{bad}:2: op 'munmap': missing required field 'len'" in captured.err
    assert run("check", str(FIXTURES / "recordings" / "errnos.jsonl"), "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["kind"] == "recording"


def test_show_script_and_recording(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", str(FIXTURES / "scripts" / "anon-split-merge.jsonl")) == 0
    out = capsys.readouterr().out
    assert "[2] mprotect(addr=$1+0x1000, len=0x2000, prot=PROT_READ)" in out
    assert run("show", str(FIXTURES / "recordings" / "anon-split-merge.jsonl")) == 0
    out = capsys.readouterr().out
    assert "[19] mmap(0x7ffff7ff0000, 0x1000, PROT_READ|PROT_WRITE," in out
    assert "= -EEXIST" in out and "[vvar]" in out


def test_compare_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec_path = FIXTURES / "recordings" / "anon-split-merge.jsonl"
    assert run("compare", str(rec_path), str(rec_path)) == 0
    assert "same: 25 steps agree" in capsys.readouterr().out
    rec = sr.load(rec_path)
    lines = rec.dumps().splitlines()
    lines[3] = lines[3].replace('"ret": 0', '"ret": -22')
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(lines) + "\n")
    assert run("compare", str(rec_path), str(other), "--json") == 1
    result = json.loads(capsys.readouterr().out)
    assert result["same"] is False
    assert result["divergence"]["step"] == 2 and result["divergence"]["field"] == "ret"
    assert run("compare", str(rec_path), str(other), "--fields", "maps") == 0


def test_unknown_executor_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    script = str(FIXTURES / "scripts" / "errnos.jsonl")
    assert run("shrink", script, "--a", "kernel", "--b", "oracle") == 2
    assert "unknown executor 'oracle'" in capsys.readouterr().err


@pytest.mark.live
def test_record_writes_a_recording_and_checks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live()
    script = FIXTURES / "scripts" / "files-stack-brk.jsonl"
    out = tmp_path / "rec.jsonl"
    fixture = FIXTURES / "recordings" / "files-stack-brk.jsonl"
    assert run("record", str(script), "-o", str(out), "--twice", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["deterministic"] is True and summary["steps"] == 29
    assert summary["rets"] == sr.load(out).rets()
    assert sr.load(out).rets() == sr.load(fixture).rets()
    assert run("record", str(script), "-o", str(out), "--compare", str(fixture)) == 0
    text = capsys.readouterr().out
    assert "[9] touch(" in text and "-EIO [SIGBUS BUS_ADRERR" in text


@pytest.mark.live
def test_fuzz_kernel_against_itself(capsys: pytest.CaptureFixture[str]) -> None:
    live()
    assert run("fuzz", "--seed", "3", "--count", "5", "--a", "kernel", "--b", "kernel") == 0
    assert "5 scripts, 0 diverged (kernel vs kernel)" in capsys.readouterr().out
