"""MaState methods that wrap kernel functions with reserved-looking names."""

from __future__ import annotations

import pytest

from maplevm.tree import MapleTree


def test_set_range_here_keeps_the_position() -> None:
    """``MaState.set_range_here`` is ``__mas_set_range()`` (a double-underscore name that a
    class body would mangle): the range changes, the walk position stays."""
    mt = MapleTree()
    mt.store_range(10, 19, "a")
    mas = mt.state(12)
    assert mas.walk() == "a"
    assert (mas.index, mas.last) == (10, 19)
    node = mas.node
    mas.set_range_here(12, 15)
    assert (mas.index, mas.last, mas.node) == (12, 15, node)
    mas.store("b")
    assert mt.load(11) == "a" and mt.load(13) == "b" and mt.load(17) == "a"


def test_set_range_here_outside_the_slot_warns() -> None:
    mt = MapleTree()
    mt.store_range(10, 19, "a")
    mas = mt.state(12)
    mas.walk()
    with pytest.raises(AssertionError):
        mas.set_range_here(30, 40)
