"""Op-by-op comparison of two recordings of the same script.

:func:`first_divergence` walks both recordings in order and stops at the first difference:
the initial address space, then for each step its return value, fault, death, the number of
VMAs, the maps lines, the VmFlags and the anon-pages bits.  The result says where and what
(structured, for programs) and renders a readable diff (for people).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from maplevm.scenario.recording import Recording, Snapshot, Step
from maplevm.scenario.text import describe_call, describe_ret

# Everything a step can be compared on, in the order it is checked.
ALL_FIELDS = ("initial", "ret", "rets", "fault", "died", "count", "maps", "vmflags", "anon")


@dataclass(frozen=True)
class Divergence:
    """The first place two recordings differ.

    ``step`` is -1 for the initial snapshot and ``len(steps)`` when one recording simply has
    more steps.  ``field`` is one of :data:`ALL_FIELDS` or ``"length"``.
    """

    step: int
    field: str
    expected: Any
    actual: Any
    call: str
    detail: str
    names: tuple[str, str] = ("a", "b")

    def summary(self) -> str:
        where = "the initial address space" if self.step < 0 else f"step {self.step}"
        head = f"first divergence at {where}"
        if self.call:
            head += f": {self.call}"
        if self.field in ("maps", "vmflags", "anon", "initial"):
            return f"{head}\n  {self.field} differ"
        a, b = self.names
        return f"{head}\n  {self.field}: {a} {self.expected!r}, {b} {self.actual!r}"

    def render(self) -> str:
        text = self.summary()
        if self.detail:
            text += "\n" + self.detail
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
            "call": self.call,
            "names": list(self.names),
            "detail": self.detail,
        }


def _snapshot_rows(snap: Snapshot, what: str) -> list[str]:
    assert snap.lines is not None
    if what == "maps":
        return [ln.rstrip() for ln in snap.lines]
    if what == "vmflags":
        assert snap.vmflags is not None
        return [f"{ln.rstrip()}  [{f}]" for ln, f in zip(snap.lines, snap.vmflags, strict=True)]
    assert snap.anon is not None
    return [f"{ln.rstrip()}  anon={int(a)}" for ln, a in zip(snap.lines, snap.anon, strict=True)]


def _diff(a: list[str], b: list[str], names: tuple[str, str]) -> str:
    lines = difflib.unified_diff(a, b, fromfile=names[0], tofile=names[1], lineterm="", n=2)
    return "\n".join("  " + ln for ln in lines)


def compare_snapshots(
    a: Snapshot, b: Snapshot, fields: Collection[str], names: tuple[str, str]
) -> tuple[str, Any, Any, str] | None:
    """(field, expected, actual, diff) for the first difference, or None."""
    if "count" in fields and a.count != b.count:
        rows = ("", "")
        if a.lines is not None and b.lines is not None:
            rows = ("maps", "maps")
        detail = (
            _diff(_snapshot_rows(a, rows[0]), _snapshot_rows(b, rows[1]), names) if rows[0] else ""
        )
        return "count", a.count, b.count, detail
    if a.lines is None or b.lines is None:
        return None
    for what in ("maps", "vmflags", "anon"):
        if what not in fields:
            continue
        if what == "vmflags" and (a.vmflags is None or b.vmflags is None):
            continue
        if what == "anon" and (a.anon is None or b.anon is None):
            continue
        ra, rb = _snapshot_rows(a, what), _snapshot_rows(b, what)
        if ra != rb:
            changed = [i for i, (x, y) in enumerate(zip(ra, rb, strict=False)) if x != y]
            first = changed[0] if changed else min(len(ra), len(rb))
            exp = ra[first] if first < len(ra) else None
            act = rb[first] if first < len(rb) else None
            return what, exp, act, _diff(ra, rb, names)
    return None


def compare_steps(
    a: Step, b: Step, fields: Collection[str], names: tuple[str, str]
) -> Divergence | None:
    call = describe_call(a.op, a.args)
    checks: list[tuple[str, Any, Any]] = [
        ("ret", a.ret, b.ret),
        ("rets", a.rets, b.rets),
        ("fault", a.fault and a.fault.to_json(), b.fault and b.fault.to_json()),
        ("died", a.died, b.died),
    ]
    for field, x, y in checks:
        if field in fields and x != y:
            detail = f"  {names[0]}: {describe_ret(a)}\n  {names[1]}: {describe_ret(b)}"
            return Divergence(a.index, field, x, y, call, detail, names)
    if a.snapshot is not None and b.snapshot is not None:
        found = compare_snapshots(a.snapshot, b.snapshot, fields, names)
        if found is not None:
            field, x, y, detail = found
            return Divergence(a.index, field, x, y, call, detail, names)
    return None


def first_divergence(
    a: Recording,
    b: Recording,
    *,
    fields: Collection[str] = ALL_FIELDS,
    names: tuple[str, str] | None = None,
) -> Divergence | None:
    """The first difference between two recordings of the same script, or None.

    ``fields`` limits what is compared (e.g. without ``"anon"`` for an executor that does not
    model page state; without ``"initial"`` when the initial layout is not modelled).
    """
    names = names or (a.executor or "a", b.executor or "b")
    if names[0] == names[1]:
        names = (names[0] + " (a)", names[1] + " (b)")
    if "initial" in fields:
        found = compare_snapshots(a.initial, b.initial, set(fields) | {"count"}, names)
        if found is not None:
            _, x, y, detail = found
            return Divergence(-1, "initial", x, y, "", detail, names)
    for sa, sb in zip(a.steps, b.steps, strict=False):
        if sa.op.to_json() != sb.op.to_json():
            return Divergence(
                sa.index,
                "op",
                sa.op.to_json(),
                sb.op.to_json(),
                "",
                "  the recordings are of different scripts",
                names,
            )
        diverged = compare_steps(sa, sb, fields, names)
        if diverged is not None:
            return diverged
    if len(a.steps) != len(b.steps):
        n = min(len(a.steps), len(b.steps))
        return Divergence(
            n,
            "length",
            len(a.steps),
            len(b.steps),
            "",
            f"  {names[0]} has {len(a.steps)} steps, {names[1]} has {len(b.steps)}",
            names,
        )
    return None
