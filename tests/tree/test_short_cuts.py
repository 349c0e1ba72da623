"""The write short cuts give exactly the tree the kernel-shaped general paths give.

``write.py`` has short cuts for its hottest slow paths (``mas_wr_split_fast`` for a leaf
split, ``_mas_wr_spanning_null_fast`` for an erase ending a leaf, ``_mas_erase_walk`` for
the two walks of ``mas_erase``).  Each must leave the same tree, node for node, as the
general path it skips, and the maple state where the kernel leaves it: the same
operations run on two trees, one with the short cut turned off; the normalised
``mt_dump`` texts (types, pivots, slots, gaps, metadata, parent links) must be equal after
the run, both trees must pass ``validate()``, and every ``MaState`` erase or store must
leave the same state (index, last, node, min, max, offset, end, status, depth, nodes).

The workload is VMA-like (packed ranges with small holes), so that erases, NULL stores
ending leaves and splits are all common; the test checks that the short cut did run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

import maplevm.tree.write as write
from maplevm.tree import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, MapleTree, MaState, xa_mk_value
from maplevm.tree.dump import normalize_dump

# short cut -> what it returns when it declines (the general path then runs)
SHORT_CUTS: dict[str, Any] = {
    "_mas_wr_spanning_null_fast": False,
    "mas_wr_split_fast": False,
    "_mas_erase_walk": write._DECLINED,
}
FLAGS = {
    "alloc": MT_FLAGS_ALLOC_RANGE,
    "plain": 0,
    "alloc+rcu": MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU,
}


def _state(mas: MaState) -> tuple[Any, ...]:
    """What a caller of the maple state sees after an operation."""
    node = mas.node
    where = None if node is None else (node.type, tuple(node.pivot), node.meta_end)
    fields = (mas.index, mas.last, mas.min, mas.max, mas.offset, mas.end, mas.depth)
    return (*fields, int(mas.status), mas.node_request, mas.nodes_avail, where)


def _run(seed: int, flags: int, ranges: int = 1500, ops: int = 2500) -> tuple[str, list[Any]]:
    """The tree's normalised dump after the workload, and the maple states it left."""
    rnd = random.Random(seed)
    mt = MapleTree(flags)
    spans = []
    addr = rnd.randrange(0, 3)
    for i in range(ranges):
        addr += rnd.randrange(0, 9) * 16
        length = rnd.randrange(1, 17) * 16
        mt.store_range(addr, addr + length - 1, xa_mk_value(i))
        spans.append((addr, addr + length - 1))
        addr += length
    top = addr
    states: list[Any] = []
    for k in range(ops):
        r = rnd.random()
        if r < 0.3:
            mt.erase(rnd.choice(spans)[0])
        elif r < 0.5:
            mas = mt.state(rnd.choice(spans)[0])
            states.append((mas.erase(), _state(mas)))
        elif r < 0.6:
            # A NULL from inside a range to the end of a later one (a leaf end, at times).
            i = rnd.randrange(ranges - 4)
            first, last = spans[i]
            mas = mt.state(0)
            mas.set_range(rnd.randrange(first, last + 1), spans[i + rnd.randrange(4)][1])
            mas.store(None)
            states.append(_state(mas))
        elif r < 0.75:
            first = rnd.randrange(0, top)
            mt.store_range(first, first + rnd.randrange(0, 300), None)
        else:
            first = rnd.randrange(0, top)
            mt.store_range(first, first + rnd.randrange(0, 40), xa_mk_value(ranges + k))
    mt.validate()
    return normalize_dump(mt.dump()), states


@pytest.mark.parametrize("flags", FLAGS.values(), ids=FLAGS.keys())
@pytest.mark.parametrize("name", SHORT_CUTS)
def test_short_cut_leaves_the_general_paths_tree(
    name: str, flags: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[..., Any] = getattr(write, name)
    declined = SHORT_CUTS[name]
    taken = 0

    def counted(*args: Any) -> Any:
        nonlocal taken
        result = real(*args)
        if result is not declined:
            taken += 1
        return result

    for seed in range(2):
        monkeypatch.setattr(write, name, counted)
        tree, states = _run(seed, flags)
        monkeypatch.setattr(write, name, lambda *args: declined)
        tree_without, states_without = _run(seed, flags)
        assert tree == tree_without, f"{name} changed the tree (seed {seed})"
        assert states == states_without, f"{name} left another maple state (seed {seed})"
    assert taken > 100, f"{name} ran only {taken} times: the workload misses it"
