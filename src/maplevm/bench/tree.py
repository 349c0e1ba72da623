"""``python -m maplevm.bench tree``: the maple tree against Python range maps.

For each size (number of ranges) and workload, every structure runs the same operations
on the same data, in the same run; the number printed is the median of several timed
repetitions, in operations per second, with the maple tree's ratio to each peer: the
median of its ratios within each repetition, where the structures run back to back.

The layout is VMA-like: ranges of 1 to 16 pages separated by gaps of 0 to 8 pages, so no
gap above the first range holds 64 KiB (as in a packed mmap area, where the highest-gap
search of a non-gap-tracking structure has to scan).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from maplevm.bench.peers import BisectRangeMap, SortedDictRangeMap
from maplevm.bench.table import render_table
from maplevm.tree import MT_FLAGS_ALLOC_RANGE, MapleTree

PAGE = 4096
BASE = 0x1_0000_0000
GAP_SIZE = 64 * 1024
SIZES = (1_000, 10_000, 100_000, 1_000_000)
STRUCTURES = ("maplevm", "SortedDict", "bisect")


@dataclass
class Layout:
    ranges: list[tuple[int, int]]
    top: int
    rnd: random.Random

    @classmethod
    def make(cls, count: int, seed: int = 1) -> Layout:
        rnd = random.Random(seed)
        out = []
        addr = BASE
        for _ in range(count):
            addr += rnd.randrange(0, 9) * PAGE
            length = rnd.randrange(1, 17) * PAGE
            out.append((addr, addr + length - 1))
            addr += length
        return cls(out, addr, rnd)


class MapleAdapter:
    """The maple tree behind the workloads' common interface."""

    def __init__(self) -> None:
        self.mt = MapleTree(MT_FLAGS_ALLOC_RANGE)
        self.store = self.mt.store_range
        self.load = self.mt.load
        self.erase = self.mt.erase
        self.next = self.mt.next
        self.items = self.mt.items

    def copy(self) -> MapleAdapter:
        new = MapleAdapter.__new__(MapleAdapter)
        MapleAdapter.__init__(new)
        new.mt = self.mt.dup()
        new.store, new.load, new.erase = new.mt.store_range, new.mt.load, new.mt.erase
        new.next, new.items = new.mt.next, new.mt.items
        return new

    def highest_gap(self, lo: int, hi: int, size: int) -> int | None:
        mas = self.mt.state()
        try:
            mas.empty_area_rev(lo, hi, size)
        except OSError:
            return None
        return mas.last


def make(name: str) -> Any:
    if name == "maplevm":
        return MapleAdapter()
    if name == "SortedDict":
        return SortedDictRangeMap()
    return BisectRangeMap()


def build(name: str, layout: Layout) -> Any:
    m = make(name)
    store = m.store
    for i, (first, last) in enumerate(layout.ranges):
        store(first, last, i)
    return m


@dataclass
class Workload:
    """One workload: ``prepare(layout)`` makes its inputs, ``run(structure, inputs,
    deadline)`` the timed part, returning the number of operations done before the inputs
    ran out or the clock passed the deadline."""

    name: str
    run: Callable[[Any, Any, float], int]
    prepare: Callable[[Layout], Any]
    mutates: bool = False
    fresh: bool = False  # builds its own structure (the timed part starts from empty)


def _points(layout: Layout, count: int, hit: bool) -> list[int]:
    rnd = random.Random(7)
    rs = layout.ranges
    out: list[int] = []
    while len(out) < count:
        i = rnd.randrange(len(rs))
        if hit:
            first, last = rs[i]
            out.append(rnd.randrange(first, last + 1))
        else:
            # A gap before range i, or beyond the layout.
            prev_end = rs[i - 1][1] if i else BASE - 1
            if rs[i][0] - prev_end > 1:
                out.append(rnd.randrange(prev_end + 1, rs[i][0]))
            elif rnd.random() < 0.1:
                out.append(layout.top + rnd.randrange(1, 1 << 30))
    return out


def _random_ranges(layout: Layout, count: int) -> list[tuple[int, int]]:
    rnd = random.Random(11)
    out = []
    for _ in range(count):
        first = BASE + rnd.randrange(0, (layout.top - BASE) // PAGE) * PAGE
        out.append((first, first + rnd.randrange(1, 5) * PAGE - 1))
    return out


CHUNK = 64  # operations between two looks at the clock


def _chunks(items: Sequence[Any], deadline: float) -> Iterable[Sequence[Any]]:
    """``items`` in chunks until they run out or the clock passes ``deadline``."""
    clock = time.perf_counter
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
        if clock() > deadline:
            return


def _seq_store(m: Any, ranges: list[tuple[int, int]], deadline: float) -> int:
    store = m.store
    done = 0
    for chunk in _chunks(ranges, float("inf")):  # a build always completes
        for first, last in chunk:
            store(first, last, done)
            done += 1
    return done


def _random_store(m: Any, ranges: list[tuple[int, int]], deadline: float) -> int:
    store = m.store
    done = 0
    for chunk in _chunks(ranges, deadline):
        for first, last in chunk:
            store(first, last, -done - 1)
            done += 1
    return done


def _per_point(method: str) -> Callable[[Any, list[int], float], int]:
    """A workload calling ``structure.method(point)`` for each point (load, next, erase)."""

    def run(m: Any, points: list[int], deadline: float) -> int:
        op = getattr(m, method)  # bound once, outside the timed loop's body
        done = 0
        for chunk in _chunks(points, deadline):
            for p in chunk:
                op(p)
            done += len(chunk)
        return done

    return run


def _iterate(m: Any, _inputs: Any, deadline: float) -> int:
    n = 0
    for _ in m.items():
        n += 1
    return n


def _gaps(m: Any, his: list[int], deadline: float) -> int:
    find = m.highest_gap
    done = 0
    clock = time.perf_counter
    for hi in his:  # a scan can be slow: look at the clock after every search
        if find(0, hi, GAP_SIZE) is None:
            raise AssertionError("a 64 KiB gap exists below the layout")
        done += 1
        if clock() > deadline:
            break
    return done


def _erase_points(layout: Layout, ops: int) -> list[int]:
    chosen = random.Random(5).sample(layout.ranges, min(ops, len(layout.ranges)))
    return [first for first, _last in chosen]


def workloads(ops: int) -> list[Workload]:
    """The workloads, with at most ``ops`` operations each (iteration: the whole map)."""
    return [
        Workload("sequential store", _seq_store, lambda lay: lay.ranges, fresh=True),
        Workload(
            "random store",
            _random_store,
            lambda lay: _random_ranges(lay, min(ops, len(lay.ranges))),
            mutates=True,
        ),
        Workload("load (hit)", _per_point("load"), lambda lay: _points(lay, ops, True)),
        Workload("load (miss)", _per_point("load"), lambda lay: _points(lay, ops, False)),
        Workload("ordered iteration", _iterate, lambda lay: None),
        Workload("next from random point", _per_point("next"), lambda lay: _points(lay, ops, True)),
        Workload(
            "empty_area_rev 64 KiB",
            _gaps,
            lambda lay: [lay.top + random.Random(3).randrange(0, 4) * PAGE for _ in range(ops)],
        ),
        Workload("erase", _per_point("erase"), lambda lay: _erase_points(lay, ops), mutates=True),
    ]


@dataclass
class Result:
    """Median ops/s per structure, and per peer the median of the maple tree's ratio to it
    within each repetition (``paired``: the structures of one repetition run back to back,
    so a slow phase of the machine falls on both sides of each ratio)."""

    size: int
    workload: str
    rates: dict[str, float] = field(default_factory=dict)
    paired: dict[str, float] = field(default_factory=dict)

    def ratio(self, peer: str) -> float | None:
        if peer in self.paired:
            return self.paired[peer]
        a = self.rates.get("maplevm")
        b = self.rates.get(peer)
        if not a or not b:
            return None
        return a / b


def _paired(samples: dict[str, list[float]]) -> dict[str, float]:
    """The median over repetitions of maplevm's rate divided by each peer's."""
    own = samples.get("maplevm")
    if not own:
        return {}
    return {
        name: statistics.median(a / b for a, b in zip(own, rates, strict=True) if b)
        for name, rates in samples.items()
        if name != "maplevm" and any(rates)
    }


def _bind(
    run: Callable[[Any, Any, float], int], target: Any, inputs: Any
) -> Callable[[float], int]:
    def timed(deadline: float) -> int:
        return run(target, inputs, deadline)

    return timed


def _time(fn: Callable[[float], int], budget: float) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        n = fn(t0 + budget)
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    return n / dt if dt > 0 else float("inf")


def measure(
    sizes: Sequence[int],
    structures: Sequence[str] = STRUCTURES,
    ops: int = 20_000,
    repeats: int = 5,
    budget: float = 1.0,
    only: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Run every workload at every size on every structure; median ops/s of ``repeats``,
    and the median of the per-repetition ratios.

    Structures are measured in turn within each repetition (interleaved), so that the
    machine's noise falls on all of them alike.  A timed run stops after ``budget``
    seconds (builds and iteration always complete).
    """
    chosen = set(only) if only else None
    results = []
    for size in sizes:
        layout = Layout.make(size)
        reps = repeats if size < 1_000_000 else max(1, repeats // 2)
        built = {name: build(name, layout) for name in structures}
        for wl in workloads(ops):
            if chosen is not None and wl.name not in chosen:
                continue
            inputs = wl.prepare(layout)
            samples: dict[str, list[float]] = {name: [] for name in structures}
            for _rep in range(reps):
                for name in structures:
                    if progress:
                        progress(f"{size:>9,} ranges  {wl.name:<24} {name}")
                    if wl.fresh:
                        target = make(name)
                    elif wl.mutates:
                        target = built[name].copy()
                    else:
                        target = built[name]
                    samples[name].append(_time(_bind(wl.run, target, inputs), budget))
            medians = {n: statistics.median(v) for n, v in samples.items()}
            results.append(Result(size, wl.name, medians, _paired(samples)))
    return results


def format_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.1f}"


def format_table(results: Sequence[Result], structures: Sequence[str] = STRUCTURES) -> str:
    """A plain-text table: ops/s per structure and the maple tree's ratios."""
    peers = [s for s in structures if s != "maplevm"]
    head = ["ranges", "workload"] + [f"{s} ops/s" for s in structures]
    head += [f"vs {p}" for p in peers]
    rows = [head]
    for r in results:
        row = [f"{r.size:,}", r.workload]
        row += [format_rate(r.rates[s]) if s in r.rates else "-" for s in structures]
        for p in peers:
            ratio = r.ratio(p)
            row.append("-" if ratio is None else f"{ratio:.2f}x")
        rows.append(row)
    return render_table(rows, left=2)
