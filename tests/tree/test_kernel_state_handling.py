"""Port of ``check_state_handling()`` from lib/test_maple_tree.c (Linux 7.0-rc6).

The kernel test walks a maple state through every status (start, pause, root, none,
active, overflow, underflow) with each read and move function, first on a tree holding a
single entry at 0 (kept in the root pointer) and then on a tree with a node, asserting the
returned entry, ``index``/``last`` and the resulting status after every call.  Each call
below carries a comment naming the transition it tests.
"""

from __future__ import annotations

from typing import Any

from maplevm.kapi import (
    MA_STATE,
    MT_FLAGS_ALLOC_RANGE,
    ULONG_MAX,
    ma_active,
    ma_none,
    ma_overflow,
    ma_root,
    ma_underflow,
    mas_find,
    mas_find_rev,
    mas_next,
    mas_pause,
    mas_prev,
    mas_set,
    mas_store_gfp,
    mas_walk,
    mt_init_flags,
    mtree_store_range,
    xa_mk_value,
)
from maplevm.tree.mapletree import MaState

from .helpers import Ptr, status_name


def expect(mas: MaState, entry: Any, want: Any, index: int, last: int, status: int) -> None:
    """The block of MT_BUG_ONs that follows each call in the kernel test."""
    assert entry == want, f"entry {entry!r}, expected {want!r}"
    assert mas.index == index, f"index {mas.index:#x}, expected {index:#x}"
    assert mas.last == last, f"last {mas.last:#x}, expected {last:#x}"
    assert mas.status == status, f"status {status_name(mas)}, expected {status}"


def test_check_state_handling_single_entry() -> None:
    """check_state_handling (lib/test_maple_tree.c): a single entry at 0 in the root."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    ptr = Ptr(0x1234500)
    assert mtree_store_range(mt, 0, 0, ptr) == 0

    # prev from start at 0: nothing below, underflow
    entry = mas_prev(mas, 0)
    assert entry is None
    assert mas.status == ma_underflow

    # prev from start above 0: the root entry
    mas_set(mas, 10)
    expect(mas, mas_prev(mas, 0), ptr, 0, 0, ma_root)

    # prev from pause: the root entry
    mas_set(mas, 10)
    mas_pause(mas)
    expect(mas, mas_prev(mas, 0), ptr, 0, 0, ma_root)

    # next from start at 0: nothing after the entry, none
    mas_set(mas, 0)
    expect(mas, mas_next(mas, ULONG_MAX), None, 1, ULONG_MAX, ma_none)

    # next from start above 0: none
    mas_set(mas, 10)
    expect(mas, mas_next(mas, ULONG_MAX), None, 1, ULONG_MAX, ma_none)

    # find from start at 0: the root entry
    mas_set(mas, 0)
    expect(mas, mas_find(mas, ULONG_MAX), ptr, 0, 0, ma_root)

    # find from root: none
    expect(mas, mas_find(mas, ULONG_MAX), None, 1, ULONG_MAX, ma_none)

    # find from none: stays none
    expect(mas, mas_find(mas, ULONG_MAX), None, 1, ULONG_MAX, ma_none)

    # find from start above 0: none
    mas_set(mas, 10)
    expect(mas, mas_find(mas, ULONG_MAX), None, 1, ULONG_MAX, ma_none)

    # find_rev from none: the root entry
    expect(mas, mas_find_rev(mas, 0), ptr, 0, 0, ma_root)

    # find_rev from start at 0: the root entry
    mas_set(mas, 0)
    expect(mas, mas_find_rev(mas, 0), ptr, 0, 0, ma_root)

    # find_rev from root: none
    expect(mas, mas_find_rev(mas, 0), None, 0, 0, ma_none)

    # find_rev from none: stays none
    expect(mas, mas_find_rev(mas, 0), None, 0, 0, ma_none)

    # find_rev from start above 0: the root entry
    mas_set(mas, 10)
    expect(mas, mas_find_rev(mas, 0), ptr, 0, 0, ma_root)

    # walk from start above 0: none
    mas_set(mas, 10)
    expect(mas, mas_walk(mas), None, 1, ULONG_MAX, ma_none)

    # walk from pause above 0: none
    mas_set(mas, 10)
    mas_pause(mas)
    expect(mas, mas_walk(mas), None, 1, ULONG_MAX, ma_none)

    # walk from none above 0: stays none
    mas.index = mas.last = 10
    expect(mas, mas_walk(mas), None, 1, ULONG_MAX, ma_none)

    # walk from none again: stays none
    expect(mas, mas_walk(mas), None, 1, ULONG_MAX, ma_none)

    # walk from start at 0: root
    mas_set(mas, 0)
    expect(mas, mas_walk(mas), ptr, 0, 0, ma_root)

    # walk from pause at 0: root
    mas_set(mas, 0)
    mas_pause(mas)
    expect(mas, mas_walk(mas), ptr, 0, 0, ma_root)

    # walk from none at 0: root
    mas.status = ma_none
    expect(mas, mas_walk(mas), ptr, 0, 0, ma_root)

    # walk from root at 0: stays root
    expect(mas, mas_walk(mas), ptr, 0, 0, ma_root)

    # walk from a reset state above 0: none
    mas_set(mas, 10)
    expect(mas, mas_walk(mas), None, 1, ULONG_MAX, ma_none)

    # walk from none back at 0: root
    mas.index = mas.last = 0
    expect(mas, mas_walk(mas), ptr, 0, 0, ma_root)


def _node_tree() -> tuple[Any, MaState, Ptr, Ptr, Ptr]:
    """The second half's tree: the root entry replaced by three ranges in a node."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    ptr, ptr2, ptr3 = Ptr(0x1234500), Ptr(0xFFFFC900_00001000), Ptr(0xFFFFC900_00001008)
    assert mtree_store_range(mt, 0, 0, ptr) == 0
    assert mtree_store_range(mt, 0, 0, None) == 0
    assert mtree_store_range(mt, 0x1000, 0x1500, ptr) == 0
    assert mtree_store_range(mt, 0x2000, 0x2500, ptr2) == 0
    assert mtree_store_range(mt, 0x3000, 0x3500, ptr3) == 0
    return mt, mas, ptr, ptr2, ptr3


def test_check_state_handling_node_tree() -> None:
    """check_state_handling (lib/test_maple_tree.c): a tree with a node."""
    _mt, mas, ptr, ptr2, ptr3 = _node_tree()

    # next from start: the first entry, active
    mas_set(mas, 0)
    expect(mas, mas_next(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # next from pause: the first entry, active
    mas_set(mas, 0)
    mas_pause(mas)
    expect(mas, mas_next(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # next from none: the first entry, active
    mas.index = mas.last = 0
    mas.offset = 0
    mas.status = ma_none
    expect(mas, mas_next(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # next from active with a limit inside the next entry: that entry
    expect(mas, mas_next(mas, 0x2100), ptr2, 0x2000, 0x2500, ma_active)

    # next from active with a limit short of any data: overflow on the gap
    expect(mas, mas_next(mas, 0x2999), None, 0x2501, 0x2FFF, ma_overflow)

    # next from overflow once the limit is raised: active again
    expect(mas, mas_next(mas, ULONG_MAX), ptr3, 0x3000, 0x3500, ma_active)

    # next from active past the last entry: overflow
    expect(mas, mas_next(mas, ULONG_MAX), None, 0x3501, ULONG_MAX, ma_overflow)

    # next from overflow: stays overflow
    expect(mas, mas_next(mas, ULONG_MAX), None, 0x3501, ULONG_MAX, ma_overflow)

    # prev from overflow: the last entry, active
    expect(mas, mas_prev(mas, 0), ptr3, 0x3000, 0x3500, ma_active)

    # next from none skips the entry at the state's position
    mas_set(mas, 0)
    mas_next(mas, ULONG_MAX)
    mas.status = ma_none
    mas.offset = 0
    expect(mas, mas_next(mas, ULONG_MAX), ptr2, 0x2000, 0x2500, ma_active)

    # prev from active: active
    expect(mas, mas_prev(mas, 0), ptr, 0x1000, 0x1500, ma_active)

    # prev from active with a limit inside the previous entry: still returned ...
    mas_next(mas, ULONG_MAX)
    expect(mas, mas_prev(mas, 0x1200), ptr, 0x1000, 0x1500, ma_active)
    # ... and the next prev underflows, keeping the range
    expect(mas, mas_prev(mas, 0x1200), None, 0x1000, 0x1500, ma_underflow)

    # prev from underflow with a lower limit: underflow over the range before the entry
    expect(mas, mas_prev(mas, 0x0100), None, 0, 0x0FFF, ma_underflow)

    # prev from underflow to 0: stays underflow
    expect(mas, mas_prev(mas, 0), None, 0, 0x0FFF, ma_underflow)

    # and again
    expect(mas, mas_prev(mas, 0), None, 0, 0x0FFF, ma_underflow)

    # next from underflow: the first entry, active
    expect(mas, mas_next(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # prev from the first entry with its start as the limit: underflow
    expect(mas, mas_prev(mas, 0x1000), None, 0x1000, 0x1500, ma_underflow)

    # find from underflow: the first entry again
    expect(mas, mas_find(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # prev from pause: active
    mas_set(mas, 0x3600)
    assert mas_prev(mas, 0) == ptr3
    mas_pause(mas)
    expect(mas, mas_prev(mas, 0), ptr2, 0x2000, 0x2500, ma_active)

    # prev from active with a limit inside the gap below: underflow over the gap
    expect(mas, mas_prev(mas, 0x1600), None, 0x1501, 0x1FFF, ma_underflow)

    # prev from underflow with the limit lowered: active
    expect(mas, mas_prev(mas, 0), ptr, 0x1000, 0x1500, ma_active)

    # find from start: active
    mas_set(mas, 0)
    expect(mas, mas_find(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # find from pause: active
    mas_set(mas, 0)
    mas_pause(mas)
    expect(mas, mas_find(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # find from start on an entry: that entry
    mas_set(mas, 1200)
    expect(mas, mas_find(mas, ULONG_MAX), ptr, 0x1000, 0x1500, ma_active)

    # find from active: the next entry
    expect(mas, mas_find(mas, ULONG_MAX), ptr2, 0x2000, 0x2500, ma_active)

    # find from active up to a limit in the gap: NULL, but still active
    expect(mas, mas_find(mas, 0x2700), None, 0x2501, 0x2FFF, ma_active)

    # find with a larger limit: the next entry
    expect(mas, mas_find(mas, 0x5000), ptr3, 0x3000, 0x3500, ma_active)

    # find from active past the end: NULL over the last range, still active
    expect(mas, mas_find(mas, ULONG_MAX), None, 0x3501, ULONG_MAX, ma_active)

    # find_rev from the end: the last entry
    expect(mas, mas_find_rev(mas, 0), ptr3, 0x3000, 0x3500, ma_active)

    # find_rev from active: the previous entry
    expect(mas, mas_find_rev(mas, 0), ptr2, 0x2000, 0x2500, ma_active)

    # find_rev from pause: active
    mas_pause(mas)
    expect(mas, mas_find_rev(mas, 0), ptr, 0x1000, 0x1500, ma_active)

    # find_rev from active below the first entry: underflow
    expect(mas, mas_find_rev(mas, 0), None, 0, 0x0FFF, ma_underflow)

    # find_rev from start inside an entry: that entry
    mas_set(mas, 0x1200)
    expect(mas, mas_find_rev(mas, 0), ptr, 0x1000, 0x1500, ma_active)

    # walk from start onto an entry: active
    mas_set(mas, 0x1200)
    expect(mas, mas_walk(mas), ptr, 0x1000, 0x1500, ma_active)

    # walk from start onto a gap: active, the NULL's range
    mas_set(mas, 0x1600)
    expect(mas, mas_walk(mas), None, 0x1501, 0x1FFF, ma_active)

    # walk from pause onto an entry: active
    mas_set(mas, 0x1200)
    mas_pause(mas)
    expect(mas, mas_walk(mas), ptr, 0x1000, 0x1500, ma_active)

    # walk from pause onto a gap: active
    mas_set(mas, 0x1600)
    mas_pause(mas)
    expect(mas, mas_walk(mas), None, 0x1501, 0x1FFF, ma_active)

    # walk from none onto an entry: active
    mas_set(mas, 0x1200)
    mas.status = ma_none
    expect(mas, mas_walk(mas), ptr, 0x1000, 0x1500, ma_active)

    # walk from none onto a gap: active
    mas_set(mas, 0x1600)
    mas.status = ma_none
    expect(mas, mas_walk(mas), None, 0x1501, 0x1FFF, ma_active)

    # walk from active onto an entry: active
    mas.index = 0x1200
    mas.last = 0x1200
    mas.offset = 0
    expect(mas, mas_walk(mas), ptr, 0x1000, 0x1500, ma_active)

    # walk from active onto a gap: active
    mas.index = 0x1600
    mas.last = 0x1600
    expect(mas, mas_walk(mas), None, 0x1501, 0x1FFF, ma_active)


def test_check_state_handling_underflow_overflow_restore() -> None:
    """check_state_handling (lib/test_maple_tree.c): the final part on 30 singletons,
    leaving underflow and overflow through find, next and prev."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    for count in range(30):
        mas_set(mas, count)
        assert mas_store_gfp(mas, xa_mk_value(count)) == 0

    # find works from underflow
    mas_set(mas, 0)
    entry = mas_walk(mas)
    mas_set(mas, 0)
    mas_prev(mas, 0)
    assert mas.status == ma_underflow
    assert mas_find(mas, ULONG_MAX) == entry

    # next makes an underflowed state active again
    entry = mas_next(mas, ULONG_MAX)
    index = mas.index
    mas_prev(mas, index)
    assert mas.status == ma_underflow
    assert mas_next(mas, ULONG_MAX) == entry

    # overflow returns to active
    mas_prev(mas, 0)
    mas_next(mas, index - 1)
    assert mas.status == ma_overflow
    assert mas_next(mas, ULONG_MAX) == entry
