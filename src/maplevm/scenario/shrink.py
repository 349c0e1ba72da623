"""Shrinking: the smallest script on which two executors still disagree.

Given a script where executor A and executor B diverge, :func:`shrink`

1. cuts everything after the first divergence,
2. removes operations by delta debugging (ddmin: drop halves, quarters, ... then single
   operations, keeping any removal after which the executors still disagree the same way),
3. simplifies the arguments of the operations that remain (optional fields dropped, flag
   names removed one by one, numbers and reference offsets made smaller or zero, repeat
   counts halved), and the header (rlimits, unused files),

repeating 2-3 until nothing changes, and :func:`save_fixture` writes the result as a
regression fixture: the reference executor's recording of the minimal script.

"The same way" means the same :class:`Signature`: the compared field that differs and the kind
of operation where it differs, so shrinking does not wander off to an unrelated disagreement.
References to a removed operation are replaced by the value that operation returned (that
is how an operation needed only for its address can go); others are kept, since a reference
says what the address means.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from maplevm.scenario.compare import ALL_FIELDS, Divergence, first_divergence
from maplevm.scenario.executor import Executor
from maplevm.scenario.format import (
    Op,
    Script,
    ScriptError,
    check_u64,
    parse_int,
    parse_op,
)
from maplevm.scenario.recording import Recording
from maplevm.scenario.recording import dump as dump_recording

PAGE = 4096


@dataclass(frozen=True)
class Signature:
    """What kind of disagreement: the differing field and the operation kind where it shows."""

    field: str
    op_kind: str

    @staticmethod
    def of(div: Divergence, script: Script) -> Signature:
        kind = script.ops[div.step].kind if 0 <= div.step < len(script.ops) else ""
        return Signature(div.field, kind)


@dataclass
class Oracle:
    """Runs both executors on candidate scripts and says whether they still disagree."""

    a: Executor
    b: Executor
    fields: Collection[str] = ALL_FIELDS
    signature: Signature | None = None
    max_tests: int = 2000
    tests: int = 0
    last: tuple[Recording, Recording, Divergence] | None = None
    progress: Callable[[int, int], None] | None = None

    def divergence(self, script: Script) -> tuple[Recording, Recording, Divergence | None]:
        ra, rb = self.a.run(script), self.b.run(script)
        names = (self.a.name, self.b.name)
        return ra, rb, first_divergence(ra, rb, fields=self.fields, names=names)

    def __call__(self, script: Script) -> bool:
        if self.tests >= self.max_tests:
            return False
        self.tests += 1
        if self.progress is not None:
            self.progress(self.tests, self.max_tests)
        ra, rb, div = self.divergence(script)
        if div is None:
            return False
        if self.signature is not None and Signature.of(div, script) != self.signature:
            return False
        self.last = (ra, rb, div)
        return True


@dataclass
class ShrinkResult:
    script: Script
    original: Script
    divergence: Divergence
    recording_a: Recording
    recording_b: Recording
    tests: int
    history: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Rewriting operations when others are removed


def _rewrite_value(value: Any, index: dict[int, int], values: Sequence[int | None]) -> Any:
    if isinstance(value, Op):
        return _rewrite_op(value, index, values)
    if isinstance(value, dict) and "ref" in value:
        ref = int(value["ref"])
        if ref in index:
            out = dict(value)
            out["ref"] = index[ref]
            return out
        base = values[ref] if ref < len(values) else None
        if base is None:
            raise ScriptError(f"step {ref} has no value to make a reference concrete")
        return _num(check_u64(base + parse_int(value.get("add", 0))))
    return value


def _rewrite_op(op: Op, index: dict[int, int], values: Sequence[int | None]) -> Op:
    args = {k: _rewrite_value(v, index, values) for k, v in op.args.items()}
    return Op(op.kind, args, op.snapshot, op.note)


def _num(v: int) -> Any:
    if 0 <= v < 4096:
        return v
    return hex(v) if v >= 0 else "-" + hex(-v)


def subset(script: Script, keep: Sequence[int], values: Sequence[int | None]) -> Script:
    """The script with only the operations ``keep`` (ascending), references renumbered or,
    for removed targets, replaced by ``values[target] + add``."""
    index = {old: new for new, old in enumerate(keep)}
    ops = tuple(_rewrite_op(script.ops[old], index, values) for old in keep)
    return script.with_ops(ops)


def _valid(script: Script) -> bool:
    """Re-parses every operation (a simplification may produce a rejected combination)."""
    try:
        for i, op in enumerate(script.ops):
            parse_op(op.to_json(), index=i, header=script.header)
    except (ScriptError, ValueError, KeyError):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# ddmin over operations


def ddmin_ops(script: Script, test: Callable[[Script], bool], values: list[int | None]) -> Script:
    """Zeller's ddmin over the operation list (``test`` says "still disagrees")."""
    keep = list(range(len(script.ops)))
    cur = script
    n = 2
    while len(keep) >= 2:
        chunk = max(1, len(keep) // n)
        parts = [keep[i : i + chunk] for i in range(0, len(keep), chunk)]
        reduced = False
        for part in parts:
            rest = [k for k in keep if k not in part]
            if not rest:
                continue
            try:
                cand = subset(script, rest, values)
            except ScriptError:
                continue
            if _valid(cand) and test(cand):
                keep, cur, reduced = rest, cand, True
                n = max(n - 1, 2)
                break
        if not reduced:
            if n >= len(keep):
                break
            n = min(len(keep), n * 2)
    return cur


# ---------------------------------------------------------------------------------------------
# Argument simplification


def _smaller_ints(v: int) -> list[int]:
    out = [0]
    if abs(v) > PAGE:
        out += [PAGE, (v // 2) // PAGE * PAGE, v - PAGE]
    if v % PAGE:
        out.append(v // PAGE * PAGE)
    seen: list[int] = []
    for c in out:
        if c != v and abs(c) < abs(v) and c not in seen:
            seen.append(c)
    return seen


def _candidates(op: Op) -> Iterator[Op]:
    """Simpler variants of one operation, simplest-looking first."""
    if op.note is not None:
        yield Op(op.kind, op.args, op.snapshot, None)
    if op.snapshot is not None:
        yield Op(op.kind, op.args, None, op.note)
    for f in op.spec.fields:
        if f.name not in op.args:
            continue
        value = op.args[f.name]
        if not f.required:
            yield op.replace(**{f.name: None})
        if f.kind == "int":
            if isinstance(value, dict):
                add = parse_int(value.get("add", 0))
                for c in _smaller_ints(add):
                    yield op.replace(
                        **{
                            f.name: {"ref": value["ref"], "add": _num(c)}
                            if c
                            else {"ref": value["ref"]}
                        }
                    )
            else:
                v = parse_int(value)
                if op.kind == "repeat" and f.name == "count":
                    for c in sorted({v // 2, v - 1}):
                        if 1 <= c < v:
                            yield op.replace(count=c)
                    continue
                for c in _smaller_ints(v):
                    yield op.replace(**{f.name: _num(c)})
        elif f.kind == "flags":
            if isinstance(value, list) and len(value) > 0:
                for i in range(len(value)):
                    yield op.replace(**{f.name: value[:i] + value[i + 1 :]})
            elif isinstance(value, str) and "|" in value:
                names = value.split("|")
                for i in range(len(names)):
                    yield op.replace(**{f.name: "|".join(names[:i] + names[i + 1 :])})
            elif isinstance(value, int) and value:
                for bit in range(64):
                    if value >> bit & 1:
                        yield op.replace(**{f.name: value & ~(1 << bit)})
        elif f.kind == "choice" and f.default is not None and value != f.default:
            yield op.replace(**{f.name: f.default})
        elif f.kind == "body":
            assert isinstance(value, Op)
            for body in _candidates(value):
                yield op.replace(body=body)


def simplify_args(script: Script, test: Callable[[Script], bool]) -> Script:
    cur = script
    for i in range(len(cur.ops)):
        changed = True
        while changed:
            changed = False
            for cand_op in _candidates(cur.ops[i]):
                ops = list(cur.ops)
                ops[i] = cand_op
                cand = cur.with_ops(ops)
                if _valid(cand) and test(cand):
                    cur, changed = cand, True
                    break
        # a repeat of one iteration is just its body
        op = cur.ops[i]
        if op.kind == "repeat" and parse_int(op.args["count"]) == 1:
            body = op.args["body"]
            assert isinstance(body, Op)
            ops = list(cur.ops)
            ops[i] = Op(body.kind, body.args, op.snapshot, op.note)
            cand = cur.with_ops(ops)
            if _valid(cand) and test(cand):
                cur = cand
    return cur


def simplify_header(script: Script, test: Callable[[Script], bool]) -> Script:
    cur = script
    for name in list(cur.header.rlimits):
        limits = {k: v for k, v in cur.header.rlimits.items() if k != name}
        cand = Script(replace(cur.header, rlimits=limits), cur.ops)
        if test(cand):
            cur = cand
    used = {op.args.get("file") for op in cur.ops} | {
        b.args.get("file") for op in cur.ops if isinstance(b := op.args.get("body"), Op)
    }
    # Dropping a file renumbers the descriptors of the later ones: try it, do not assume it.
    for spec in list(cur.header.files):
        if spec.name in used:
            continue
        files = tuple(f for f in cur.header.files if f.name != spec.name)
        cand = Script(replace(cur.header, files=files), cur.ops)
        if test(cand):
            cur = cand
    return cur


# ---------------------------------------------------------------------------------------------


def shrink(
    script: Script,
    a: Executor,
    b: Executor,
    *,
    fields: Collection[str] = ALL_FIELDS,
    same_signature: bool = True,
    max_tests: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> ShrinkResult:
    """Reduces ``script`` to a minimal one on which ``a`` and ``b`` still disagree.

    Raises ``ValueError`` if they agree on ``script`` to begin with.
    """
    oracle = Oracle(a, b, fields, None, max_tests, progress=progress)
    ra, rb, div = oracle.divergence(script)
    if div is None:
        raise ValueError("the executors agree on this script: nothing to shrink")
    if same_signature:
        oracle.signature = Signature.of(div, script)
    oracle.last = (ra, rb, div)
    history = [f"start: {len(script.ops)} ops, {div.field} differs at step {div.step}"]

    def values_now() -> list[int | None]:
        assert oracle.last is not None
        return [s.ret for s in oracle.last[0].steps]

    cur = script
    if 0 <= div.step < len(cur.ops) - 1:
        cand = cur.with_ops(cur.ops[: div.step + 1])
        if oracle(cand):
            cur = cand
            history.append(f"cut after step {div.step}: {len(cur.ops)} ops")
    while True:
        before = cur.dumps()
        cur = ddmin_ops(cur, oracle, values_now())
        history.append(f"ddmin: {len(cur.ops)} ops ({oracle.tests} tests)")
        cur = simplify_args(cur, oracle)
        cur = simplify_header(cur, oracle)
        history.append(f"arguments simplified ({oracle.tests} tests)")
        if cur.dumps() == before or oracle.tests >= max_tests:
            break
    # The final recordings belong to the final script (the oracle's last success).
    ra, rb, final = oracle.divergence(cur)
    assert final is not None, "shrinking ended on a script without a disagreement"
    return ShrinkResult(cur, script, final, ra, rb, oracle.tests, history)


def save_fixture(result: ShrinkResult, directory: str | Path, name: str) -> Path:
    """Writes ``<directory>/<name>.jsonl``: executor A's recording of the minimal script, with
    what B did differently in the header (``"shrunk"``), for replay as a regression test."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header = replace(
        result.script.header,
        name=name,
        meta={**result.script.header.meta, "shrunk_from": result.original.header.name},
    )
    rec = result.recording_a
    rec = replace(
        rec,
        header=header,
        extra={
            **rec.extra,
            "shrunk": {
                "against": result.recording_b.executor,
                "divergence": result.divergence.to_json(),
                "original_ops": len(result.original.ops),
            },
        },
    )
    path = directory / f"{name}.jsonl"
    dump_recording(rec, path)
    return path


__all__ = [
    "Oracle",
    "ShrinkResult",
    "Signature",
    "save_fixture",
    "shrink",
    "subset",
]
