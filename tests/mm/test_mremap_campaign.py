"""A live campaign of mremap-heavy random scripts: the live kernel against the model.

``maplevm fuzz`` draws about one mremap per script; this generator makes half of every
script mremap calls aimed at what the script mapped (partial ranges, ranges across VMAs,
destinations next to, inside and over other mappings, FIXED/DONTUNMAP/MAYMOVE mixes, odd
lengths), among faults, mprotect, munmap, mseal, guard regions and mlock.  It is marked
``slow`` and ``live``: ``pytest --runslow -m live tests/mm/test_mremap_campaign.py``.

Two known differences that are not mremap's are set aside: touching one of the [vvar]
pages the kernel leaves unbacked (SIGBUS on this machine; the model has no per-page
special-mapping faults), and a script killing the helper by unmapping its own text or
stack.  Any other divergence fails with a shrunk script to turn into a regression fixture.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from maplevm.mm.executor import ModelExecutor
from maplevm.scenario.compare import first_divergence
from maplevm.scenario.format import Script, script_from_json
from maplevm.scenario.recording import Recording

pytestmark = [pytest.mark.slow, pytest.mark.live]

P = 0x1000
ARENA = 0x2_0000_0000
NPAGES = 64
FILES = [{"name": "f0", "size": 16 * P}, {"name": "f1", "size": 40 * P}]
RW = ["PROT_READ", "PROT_WRITE"]
MREMAP_FLAGS: list[Any] = [
    [],
    ["MREMAP_MAYMOVE"],
    ["MREMAP_MAYMOVE", "MREMAP_FIXED"],
    ["MREMAP_MAYMOVE", "MREMAP_DONTUNMAP"],
    ["MREMAP_MAYMOVE", "MREMAP_FIXED", "MREMAP_DONTUNMAP"],
    ["MREMAP_FIXED"],
    8,
]
MREMAP_WEIGHTS = [20, 25, 30, 13, 6, 3, 3]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"mremap-campaign:{seed}")
        self.ops: list[dict[str, Any]] = []
        self.mapped: list[tuple[int, int]] = []  # MAP_FIXED requests: (start, length)

    def page(self) -> int:
        return ARENA + self.rng.randrange(NPAGES) * P

    def prot(self) -> list[str]:
        return self.rng.choice([RW, RW, RW, ["PROT_READ"], ["PROT_NONE"]])

    def somewhere_mapped(self) -> tuple[int, int] | None:
        return self.rng.choice(self.mapped) if self.mapped else None

    def mmap(self) -> None:
        rng = self.rng
        addr, length = self.page(), rng.randrange(1, 13) * P
        op: dict[str, Any] = {"op": "mmap", "addr": hex(addr), "len": hex(length)}
        op["prot"] = self.prot()
        kind = rng.random()
        if kind < 0.55:
            flags = ["MAP_PRIVATE", "MAP_ANONYMOUS"]
        elif kind < 0.7:
            flags = ["MAP_SHARED", "MAP_ANONYMOUS"]
        else:
            flags = [rng.choice(["MAP_PRIVATE", "MAP_SHARED"])]
            op["file"] = rng.choice(["f0", "f1"])
            op["offset"] = hex(rng.randrange(0, 20) * P)
        for extra, chance in (("MAP_NORESERVE", 0.1), ("MAP_LOCKED", 0.1), ("MAP_POPULATE", 0.1)):
            if rng.random() < chance:
                flags.append(extra)
        if rng.random() < 0.9:
            flags.append("MAP_FIXED")
            self.mapped.append((addr, length))
        else:
            op["addr"] = "0"
        op["flags"] = flags
        self.ops.append(op)

    def touch(self) -> None:
        target = self.somewhere_mapped()
        addr = target[0] + self.rng.randrange(target[1] // P) * P if target else self.page()
        access = self.rng.choice(["read", "write", "write"])
        self.ops.append({"op": "touch", "addr": hex(addr), "access": access})

    def mremap(self) -> None:
        rng = self.rng
        flags = rng.choices(MREMAP_FLAGS, MREMAP_WEIGHTS)[0]
        old, old_len, new_len = self.page(), rng.randrange(0, 17) * P, rng.randrange(1, 17) * P
        target = self.somewhere_mapped()
        if target and rng.random() < 0.7:
            k = rng.randrange(target[1] // P)
            old = target[0] + k * P
            old_len = rng.randrange(1, target[1] // P - k + 1) * P
            new_len = rng.randrange(1, 2 * (old_len // P) + 2) * P
        if flags and rng.random() < 0.6:
            new_len = old_len
        if rng.random() < 0.05:
            new_len = rng.choice([0, 1, P + 1, (1 << 64) - 1, 1 << 47])
        op: dict[str, Any] = {"op": "mremap", "old_addr": hex(old)}
        op |= {"old_len": hex(old_len), "new_len": hex(new_len), "flags": flags}
        if isinstance(flags, list) and {"MREMAP_FIXED", "MREMAP_DONTUNMAP"} & set(flags):
            dest = self.page()
            near = self.somewhere_mapped()
            if near and rng.random() < 0.5:
                start, length = near
                dest = rng.choice(
                    [
                        start + length,
                        max(ARENA, start - new_len),
                        start + rng.randrange(length // P) * P,
                    ]
                )
            op["new_addr"] = hex(dest)
        self.ops.append(op)

    def other(self) -> None:
        rng = self.rng
        addr, length = hex(self.page()), hex(rng.randrange(1, 8) * P)
        kind = rng.choice(["mprotect", "munmap", "mseal", "madvise", "mlock", "munlock"])
        op: dict[str, Any] = {"op": kind, "addr": addr, "len": length}
        if kind == "mprotect":
            op["prot"] = self.prot()
        if kind == "madvise":
            op["advice"] = rng.choice(["MADV_GUARD_INSTALL", "MADV_DONTNEED", "MADV_NORMAL"])
        self.ops.append(op)

    def script(self, seed: int, n_ops: int) -> Script:
        while len(self.ops) < n_ops:
            r = self.rng.random()
            if r < 0.25 or len(self.ops) < 3:
                self.mmap()
            elif r < 0.4:
                self.touch()
            elif r < 0.5:
                self.other()
            else:
                self.mremap()
        header = {"maplevm": "script", "version": 1, "name": f"mremap-campaign-{seed}"}
        return script_from_json({**header, "files": FILES}, self.ops)


def mremap_campaign_script(seed: int, n_ops: int = 40) -> Script:
    """The campaign's script number ``seed`` (reproducible)."""
    return _Gen(seed).script(seed, n_ops)


def set_aside(kernel: Recording, step: int) -> str | None:
    """Why a divergence at ``step`` is not mremap's (see the module docstring), or None."""
    st = kernel.steps[step]
    if st.died is not None:
        return "the helper died"
    if st.op.kind == "touch" and step > 0:
        addr = int(st.args["addr"] or 0)
        snap = kernel.steps[step - 1].snapshot
        for line in (snap.lines or ()) if snap is not None else ():
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi and line.rstrip().endswith(("[vvar]", "[vvar_vclock]")):
                return "an unbacked [vvar] page"
    return None


def test_scripts_are_reproducible() -> None:
    assert mremap_campaign_script(7).dumps() == mremap_campaign_script(7).dumps()
    kinds = [op.kind for op in mremap_campaign_script(7).ops]
    assert kinds.count("mremap") >= 10


def test_live_mremap_campaign() -> None:
    from maplevm.kernel.runner import KernelExecutor, kernel_unavailable_reason

    reason = kernel_unavailable_reason()
    if reason:
        pytest.skip(f"needs the live kernel: {reason}")
    count = int(os.environ.get("MAPLEVM_MREMAP_CAMPAIGN", "100"))
    kernel = KernelExecutor()
    failures = []
    for seed in range(count):
        script = mremap_campaign_script(seed)
        kr = kernel.run(script)
        mr = ModelExecutor(base=kr).run(script)
        div = first_divergence(kr, mr, names=("kernel", "model"))
        if div is not None and set_aside(kr, div.step) is None:
            failures.append(f"seed {seed}:\n{div.render()}\n{script.dumps()}")
    assert not failures, "\n\n".join(failures[:3])
