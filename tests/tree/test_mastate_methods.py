"""MaState methods that wrap kernel functions with reserved-looking names."""

from __future__ import annotations

import pytest

from maplevm.tree import MT_FLAGS_ALLOC_RANGE, ULONG_MAX, MapleTree


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


@pytest.mark.parametrize("dup", [False, True])
def test_items_skip_zero_entries_like_mt_for_each(dup: bool) -> None:
    """``items()`` reads leaves directly and skips XA_ZERO_ENTRY only in trees that have
    had one written (``MapleTree.zero_entries``): a zero entry stored through the advanced
    API into a tree of several levels, and kept by ``dup()``, must still be skipped, as
    ``mt_for_each()`` skips it."""
    from maplevm.kapi import MA_STATE, XA_ZERO_ENTRY, mas_store, mt_for_each

    mt = MapleTree(MT_FLAGS_ALLOC_RANGE)
    for i in range(2000):
        mt.store_range(i * 40, i * 40 + 29, i)
    assert mt.height >= 3 and not mt.zero_entries
    assert [e for _f, _l, e in mt.items()] == list(range(2000))
    for index in (0, 400, 40_000, 79_960):
        mas = MA_STATE(mt, index, index + 29)
        mas_store(mas, XA_ZERO_ENTRY)
    if dup:
        mt = mt.dup()
    assert mt.zero_entries
    skipped = {0, 10, 1000, 1999}
    expected = [i for i in range(2000) if i not in skipped]
    assert [e for _f, _l, e in mt.items()] == expected == list(mt_for_each(mt, 0, ULONG_MAX))
    assert [(f, last) for f, last, _e in mt.items(400, 1200)] == [
        (i * 40, i * 40 + 29) for i in range(11, 31)
    ]
