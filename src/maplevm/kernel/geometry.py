"""Prove the model's maple tree geometry against the live kernel's own tree.

A process's VMA tree is a maple tree (``mm->mm_mt``, MM_MT_FLAGS).  When a mapping that
merges with nothing is created at a fixed address, the kernel makes exactly one tree
store, ``[addr, addr + len - 1] -> vma`` (``vma_iter_store_new``); when whole mappings are
unmapped, exactly one NULL store over the range (``vma_iter_clear_gfp``).  So a script of
such operations is, to the maple tree, a known sequence of stores.

:func:`check_geometry` runs a seeded script of them through the kernel runner, reads the
kernel's tree with BPF (:mod:`maplevm.kernel.ktree`) before the first operation and after
every one, starts the model from the kernel's initial layout
(:func:`~maplevm.kernel.ktree_model.model_from_kernel_tree`), applies the same stores, and
compares the two trees node by node (type, implied range, depth, data end, pivots, gaps,
gap offset and the entry of every slot) and then their ``mt_dump`` texts with pointers
replaced by labels.  Any difference stops the run with both trees.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from maplevm.kernel.ktree import read_mm_tree
from maplevm.kernel.ktree_model import (
    compare_geometry,
    kernel_dump,
    kernel_shapes,
    model_from_kernel_tree,
    model_shapes,
    shapes_text,
)
from maplevm.kernel.ktree_walk import KernelTree
from maplevm.kernel.runner import KernelExecutor
from maplevm.scenario.format import Script, script_from_json
from maplevm.scenario.recording import Step
from maplevm.tree import MapleTree, StoreType
from maplevm.tree.dump import normalize_dump
from maplevm.tree.state import MaStateFields
from maplevm.tree.write import mas_store_gfp

PAGE = 4096
REGION = 0x1_0000_0000  # 4 GiB: far from the helper's own mappings
PROTS = ("PROT_NONE", "PROT_READ", "PROT_READ|PROT_WRITE")


class GeometryVma:
    """The model's stand-in for a ``struct vm_area_struct``: just its range."""

    __slots__ = ("vm_end", "vm_start")

    def __init__(self, vm_start: int, vm_end: int) -> None:
        self.vm_start = vm_start
        self.vm_end = vm_end

    def __repr__(self) -> str:
        return f"vma {self.vm_start:#x}-{self.vm_end:#x}"


def geometry_script(seed: int, ops: int, pages: int = 3000, unmap_ratio: float = 0.3) -> Script:
    """A seeded script of non-merging fixed mmaps and whole-mapping munmaps.

    New mappings are placed in a region of ``pages`` pages with MAP_FIXED_NOREPLACE and get
    a protection different from any neighbour they touch (so nothing merges); munmaps cover
    ranges whose ends fall outside every mapping (so nothing is split): half of them one
    whole mapping (an erase, which at times ends its leaf), the others often spanning
    several mappings and the gaps between them.
    """
    rnd = random.Random(seed)
    mapped: dict[int, tuple[int, int]] = {}  # first page -> (pages, prot index)
    out: list[dict[str, object]] = []

    def inside(pg: int) -> bool:
        return any(s < pg < s + n for s, (n, _p) in mapped.items())

    def occupied(pg: int) -> bool:
        return any(s <= pg < s + n for s, (n, _p) in mapped.items())

    while len(out) < ops:
        if mapped and rnd.random() < unmap_ratio:
            if rnd.random() < 0.5:
                # Exactly one mapping: an erase of one entry, which ends its leaf at times
                # (a spanning store of its own, with its own short cut in the model).
                first = rnd.choice(list(mapped))
                last = first + mapped[first][0]
            else:
                first = rnd.randrange(pages)
                last = min(pages, first + rnd.choice((1, 2, 5, 20, 80, 300)))
            if last == first or inside(first) or inside(last):
                continue
            for s in [s for s in mapped if first <= s < last]:
                del mapped[s]
            out.append(
                {"op": "munmap", "addr": REGION + first * PAGE, "len": (last - first) * PAGE}
            )
            continue
        first = rnd.randrange(pages)
        n = rnd.choice((1, 1, 2, 3, 5, 8))
        if first + n > pages or any(occupied(pg) for pg in range(first, first + n)):
            continue
        touching = [p for s, (m, p) in mapped.items() if s + m == first or s == first + n]
        prot = rnd.choice([p for p in range(len(PROTS)) if p not in touching])
        mapped[first] = (n, prot)
        out.append(
            {
                "op": "mmap",
                "addr": REGION + first * PAGE,
                "len": n * PAGE,
                "prot": PROTS[prot],
                "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE",
            }
        )
    header = {
        "maplevm": "script",
        "version": 1,
        "name": f"geometry-{seed}",
        "snapshot": "none",
        "meta": {"generator": "maplevm.kernel.geometry", "seed": seed, "pages": pages},
    }
    return script_from_json(header, out)


@dataclass
class GeometryReport:
    """What :func:`check_geometry` found."""

    seed: int
    ops_checked: int = 0
    nodes_compared: int = 0
    max_height: int = 0
    store_types: dict[str, int] = field(default_factory=dict)
    divergence: str | None = None

    @property
    def ok(self) -> bool:
        return self.divergence is None


def check_geometry(
    seed: int,
    ops: int,
    pages: int = 3000,
    unmap_ratio: float = 0.3,
    executor: KernelExecutor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GeometryReport:
    """Run a geometry script on the kernel and the model; compare trees after every op."""
    script = geometry_script(seed, ops, pages, unmap_ratio)
    report = GeometryReport(seed)
    state: dict[str, MapleTree] = {}

    def compare(kt: KernelTree, mt: MapleTree, where: str) -> None:
        problems = compare_geometry(kt, mt)
        if not problems:
            # The whole mt_dump text too: raw slot words, parent encodings, metadata bytes.
            kd = normalize_dump(kernel_dump(kt)).splitlines()
            md = normalize_dump(mt.dump()).splitlines()
            for n, (a, b) in enumerate(zip(kd, md, strict=False)):
                if a != b:
                    problems.append(f"mt_dump line {n + 1} differs:\n  kernel: {a}\n  model:  {b}")
                    break
            if not problems and len(kd) != len(md):
                problems.append(f"mt_dump: kernel {len(kd)} lines, model {len(md)}")
        report.nodes_compared += len(kernel_shapes(kt))
        report.max_height = max(report.max_height, kt.height)
        if problems and report.divergence is None:
            report.divergence = (
                f"{where}\n"
                + "\n".join(problems)
                + "\n--- kernel tree\n"
                + shapes_text(kernel_shapes(kt))
                + "\n--- model tree\n"
                + shapes_text(model_shapes(mt))
            )

    def observer(i: int, step: Step | None, pid: int) -> None:
        if report.divergence is not None:
            return
        kt = read_mm_tree(pid)
        if i < 0:
            state["mt"] = model_from_kernel_tree(kt, GeometryVma)
            compare(kt, state["mt"], "initial layout")
            return
        assert step is not None
        mt = state["mt"]
        op = step.op
        addr = int(step.args["addr"] or 0)
        length = int(step.args["len"] or 0)
        if op.kind == "mmap":
            if step.ret != addr:
                report.divergence = f"step {i}: mmap at {addr:#x} returned {step.ret:#x}"
                return
            entry: GeometryVma | None = GeometryVma(addr, addr + length)
        else:
            if step.ret != 0:
                report.divergence = f"step {i}: munmap returned {step.ret}"
                return
            entry = None
        mas = MaStateFields(mt, addr, addr + length - 1)
        ret = mas_store_gfp(mas, entry)
        assert ret == 0
        kind = StoreType(mas.store_type).name
        report.store_types[kind] = report.store_types.get(kind, 0) + 1
        mt.validate()
        report.ops_checked += 1
        compare(kt, mt, f"after step {i}: {op.kind} {addr:#x}+{length:#x}")

    (executor or KernelExecutor()).run(script, progress=progress, observer=observer)
    return report
