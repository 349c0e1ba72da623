"""The benchmark's peers do the same work as the maple tree (else the ratios mean nothing)."""

from __future__ import annotations

import random

import pytest

from maplevm.bench.peers import BisectRangeMap, SortedDictRangeMap
from maplevm.bench.tree import Layout, Result, _paired, format_table, measure
from maplevm.tree import MT_FLAGS_ALLOC_RANGE, MapleTree, NoSpace


@pytest.mark.parametrize("seed", range(12))
def test_peers_answer_like_the_maple_tree(seed: int) -> None:
    rnd = random.Random(seed)
    mt = MapleTree(MT_FLAGS_ALLOC_RANGE)
    peers: list[SortedDictRangeMap | BisectRangeMap] = [SortedDictRangeMap(), BisectRangeMap()]
    for step in range(250):
        first = rnd.randrange(1, 300)
        last = first + rnd.choice([0, 1, 5, 30])
        if rnd.random() < 0.7:
            entry = rnd.choice([None, step, step])
            mt.store_range(first, last, entry)
            for p in peers:
                p.store(first, last, entry)
        else:
            gone = mt.erase(first)
            assert [p.erase(first) for p in peers] == [gone, gone]
        want = list(mt.items())
        assert [list(p.items()) for p in peers] == [want, want]
        for point in range(0, 340, 11):
            assert [p.load(point) for p in peers] == [mt.load(point)] * 2
            assert [p.next(point) for p in peers] == [mt.next(point)] * 2
        lo = rnd.randrange(0, 200)
        hi = lo + rnd.randrange(0, 200)
        size = rnd.randrange(1, 20)
        if hi - lo + 1 >= size:
            mas = mt.state()
            try:
                mas.empty_area_rev(lo, hi, size)
                expect: int | None = mas.last
            except NoSpace:
                expect = None
            assert [p.highest_gap(lo, hi, size) for p in peers] == [expect, expect]


def test_layout_has_no_64k_gap_above_its_first_range() -> None:
    layout = Layout.make(2000)
    gaps = [b[0] - a[1] - 1 for a, b in zip(layout.ranges, layout.ranges[1:], strict=False)]
    assert max(gaps) < 64 * 1024


def test_measure_reports_every_structure() -> None:
    results = measure([200], ops=200, repeats=1, budget=0.05, only=["load (hit)", "erase"])
    assert [r.workload for r in results] == ["load (hit)", "erase"]
    for r in results:
        assert set(r.rates) == {"maplevm", "SortedDict", "bisect"}
        assert all(rate > 0 for rate in r.rates.values())
        assert set(r.paired) == {"SortedDict", "bisect"}
    table = format_table(results)
    assert "vs SortedDict" in table and "load (hit)" in table


def test_ratios_are_paired_within_each_repetition() -> None:
    # Rates drifting between repetitions: the ratio of the medians (20/20 = 1.0) pairs the
    # tree's second repetition with the peer's; the per-repetition ratios (0.5, 1.0, 0.5)
    # give 0.5.
    samples = {"maplevm": [10.0, 20.0, 30.0], "SortedDict": [20.0, 20.0, 60.0]}
    paired = _paired(samples)
    assert paired == {"SortedDict": 0.5}
    result = Result(100, "load (hit)", {"maplevm": 20.0, "SortedDict": 20.0}, paired)
    assert result.ratio("SortedDict") == 0.5
    assert (
        Result(100, "load (hit)", {"maplevm": 20.0, "SortedDict": 40.0}).ratio("SortedDict") == 0.5
    )
