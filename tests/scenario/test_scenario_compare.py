"""Op-by-op comparison of recordings (on committed live recordings, perturbed by hand)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from maplevm.scenario import recording as sr
from maplevm.scenario.compare import first_divergence

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


def load(name: str = "anon-split-merge") -> sr.Recording:
    return sr.load(FIXTURES / f"{name}.jsonl")


def with_step(rec: sr.Recording, i: int, **changes: object) -> sr.Recording:
    steps = list(rec.steps)
    steps[i] = dataclasses.replace(steps[i], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(rec, steps=tuple(steps), executor="other")


def with_snapshot(rec: sr.Recording, i: int, **changes: object) -> sr.Recording:
    snap = rec.steps[i].snapshot
    assert snap is not None
    return with_step(rec, i, snapshot=dataclasses.replace(snap, **changes))  # type: ignore[arg-type]


def test_a_recording_agrees_with_itself() -> None:
    for path in FIXTURES.glob("*.jsonl"):
        rec = sr.load(path)
        assert first_divergence(rec, rec) is None


def test_return_value_divergence_names_the_step_and_call() -> None:
    rec = load()
    other = with_step(rec, 2, ret=-12)
    div = first_divergence(rec, other)
    assert div is not None
    assert (div.step, div.field, div.expected, div.actual) == (2, "ret", 0, -12)
    assert div.call.startswith("mprotect(0x")
    assert "first divergence at step 2: mprotect" in div.render()
    assert "-ENOMEM" in div.render()
    assert div.to_json()["names"] == ["kernel", "other"]


def test_maps_divergence_comes_with_a_unified_diff() -> None:
    rec = load()
    snap = rec.steps[3].snapshot
    assert snap is not None and snap.lines is not None
    lines = list(snap.lines)
    victim = next(i for i, ln in enumerate(lines) if ln.startswith("7ffff7ff2000"))
    lines[victim] = lines[victim].replace("rw-p", "r--p")
    div = first_divergence(rec, with_snapshot(rec, 3, lines=tuple(lines)))
    assert div is not None and (div.step, div.field) == (3, "maps")
    assert div.expected.startswith("7ffff7ff2000") and "r--p" in div.actual
    assert "\n  -7ffff7ff2000" in div.detail and "\n  +7ffff7ff2000" in div.detail


def test_vmflags_and_anon_are_compared_unless_excluded() -> None:
    rec = load()
    snap = rec.steps[4].snapshot
    assert snap is not None and snap.vmflags is not None and snap.anon is not None
    flags = list(snap.vmflags)
    flags[0] += " lo"
    other = with_snapshot(rec, 4, vmflags=tuple(flags))
    div = first_divergence(rec, other)
    assert div is not None and div.field == "vmflags"
    assert first_divergence(rec, other, fields=("ret", "maps", "anon")) is None
    anon = tuple(not a for a in snap.anon)
    div = first_divergence(rec, with_snapshot(rec, 4, anon=anon))
    assert div is not None and div.field == "anon"


def test_count_fault_died_and_length() -> None:
    rec = load("files-stack-brk")
    faulting = next(s.index for s in rec.steps if s.fault is not None)
    div = first_divergence(rec, with_step(rec, faulting, fault=None))
    assert div is not None and (div.step, div.field) == (faulting, "fault")
    div = first_divergence(rec, with_step(rec, 1, died="SIGSEGV"))
    assert div is not None and div.field == "died"
    short = dataclasses.replace(rec, steps=rec.steps[:5])
    div = first_divergence(rec, short)
    assert div is not None
    assert (div.step, div.field, div.expected, div.actual) == (5, "length", 29, 5)


def test_initial_layout_is_compared_first() -> None:
    rec = load()
    assert rec.initial.lines is not None
    moved = dataclasses.replace(
        rec.initial, lines=(rec.initial.lines[0].replace("r--p", "rw-p"), *rec.initial.lines[1:])
    )
    other = dataclasses.replace(rec, initial=moved)
    div = first_divergence(rec, other)
    assert div is not None and (div.step, div.field) == (-1, "initial")
    fields = ("ret", "maps", "vmflags", "anon")
    assert first_divergence(rec, other, fields=fields) is None


def test_recordings_of_different_scripts_are_reported_as_such() -> None:
    a, b = load("anon-split-merge"), load("errnos")
    div = first_divergence(a, b, fields=("ret",))
    assert div is not None and div.field == "op"
