"""The random script generator: reproducible, valid, covering, bounded."""

from __future__ import annotations

from collections import Counter

import pytest

from maplevm.scenario import flags as fl
from maplevm.scenario import format as sf
from maplevm.scenario.generator import (
    ARENA,
    KINDS,
    LOCK_MAX,
    POPULATE_MAX,
    TOUCH_SPAN,
    generate,
    generate_many,
)
from maplevm.scenario.ops import OP_SPECS


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_script_and_index_independent_of_count(kind: str) -> None:
    a = [s.dumps() for s in generate_many(42, 5, kind=kind)]  # type: ignore[arg-type]
    b = [s.dumps() for s in generate_many(42, 8, kind=kind)]  # type: ignore[arg-type]
    assert a == b[:5]
    c = [s.dumps() for s in generate_many(43, 5, kind=kind)]  # type: ignore[arg-type]
    assert a != c


@pytest.mark.parametrize("kind", KINDS)
def test_scripts_are_valid_and_sized(kind: str) -> None:
    for script in generate_many(7, 60, kind=kind, ops=(3, 25)):  # type: ignore[arg-type]
        assert 3 <= len(script.ops) <= 25
        again = sf.loads(script.dumps(), source=script.header.name)  # re-validates everything
        assert again.dumps() == script.dumps()
        assert script.header.meta["seed"] == 7


def test_every_op_kind_is_generated() -> None:
    seen: Counter[str] = Counter()
    for kind in KINDS:
        for script in generate_many(1, 150, kind=kind, map_count_chance=0.05):
            seen.update(op.kind for op in script.ops)
    wanted = {k for k, spec in OP_SPECS.items() if not spec.trace_only}
    assert set(seen) == wanted, wanted - set(seen)


def test_map_count_scripts_approach_the_limit() -> None:
    s = generate(3, 0, kind="adversarial", ops=(20, 30), max_map_count=1000, map_count_chance=1.0)
    rep = next(op for op in s.ops if op.kind == "repeat")
    count = sf.parse_int(rep.args["count"])
    assert 1000 // 2 - 20 <= count <= 1000 // 2 + 20
    assert rep.snapshot == "count"  # tens of thousands of VMAs are counted, not listed


def _args(script: sf.Script) -> list[tuple[str, dict[str, int | str | None]]]:
    # Resolve references as if every earlier step returned a top-down address.
    fake = [0x7FFF_0000_0000] * len(script.ops)
    out = []
    for i, op in enumerate(script.ops):
        if op.kind == "repeat":
            body = op.args["body"]
            assert isinstance(body, sf.Op)
            out.append((body.kind, sf.resolve_args(body, fake[:i])))
        else:
            out.append((op.kind, sf.resolve_args(op, fake[:i])))
    return out


def test_nothing_can_populate_or_lock_much_memory() -> None:
    # Lengths of 2**63 and more are overflow probes: the kernel rejects them (or rounds them
    # to 0) before touching anything.
    for kind in KINDS:
        for script in generate_many(9, 200, kind=kind):
            for op_kind, a in _args(script):
                if op_kind in ("mlock", "mlock2") and int(a["len"] or 0) < 1 << 63:
                    assert int(a["len"] or 0) <= LOCK_MAX
                if op_kind == "madvise" and a["advice"] in (
                    fl.MADV["MADV_POPULATE_READ"],
                    fl.MADV["MADV_POPULATE_WRITE"],
                ):
                    assert int(a["len"] or 0) <= POPULATE_MAX
                if op_kind == "mmap" and int(a["flags"] or 0) & (
                    fl.MAP["MAP_POPULATE"] | fl.MAP["MAP_LOCKED"]
                ):
                    assert int(a["len"] or 0) <= POPULATE_MAX


def test_fixed_mappings_never_target_the_helper_image() -> None:
    # The helper's own text/data/bss/heap sit at 0x400000 and up; MAP_FIXED and
    # MREMAP_FIXED destinations must stay clear of them (they would kill the helper).
    for kind in KINDS:
        for script in generate_many(11, 200, kind=kind):
            for i, op in enumerate(script.ops):
                fixed = None
                if op.kind == "mmap":
                    flags = sf.resolve_args(op, [0] * i)["flags"]
                    if int(flags or 0) & fl.MAP["MAP_FIXED"] and "addr" in op.args:
                        fixed = op.args["addr"]
                if op.kind == "mremap" and "new_addr" in op.args:
                    fixed = op.args["new_addr"]
                if fixed is None or isinstance(fixed, dict):
                    continue  # relative to a kernel-placed mapping
                addr = sf.parse_int(fixed)
                assert addr >= ARENA or addr >= 0x7FFF_0000_0000, (script.header.name, i)


def test_touch_offsets_stay_within_the_touch_span() -> None:
    for script in generate_many(5, 200, kind="realistic"):
        for op in script.ops:
            if op.kind == "touch" and isinstance(op.args["addr"], dict):
                add = sf.parse_int(op.args["addr"].get("add", 0))
                assert add < TOUCH_SPAN + 4096


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        generate(1, kind="chaotic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bad ops range"):
        generate(1, ops=(5, 2))
