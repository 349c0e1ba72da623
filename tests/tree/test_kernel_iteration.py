"""Ports of the iteration and lookup tests of lib/test_maple_tree.c (Linux 7.0-rc6):
``next_prev_test``, ``check_find``, ``check_find_2``, ``check_rev_find``,
``check_next_entry``, ``check_prev_entry``, ``check_iteration``, ``check_root_expand``,
``check_store_null``, ``check_mas_store_gfp`` and ``check_forking``.

Each test starts from the tree flags the kernel's ``maple_tree_seed()`` gives it.  RCU
read locks and the tree lock are no-ops in the single-threaded model and are left out.
"""

from __future__ import annotations

from maplevm.kapi import (
    MA_STATE,
    MT_FLAGS_ALLOC_RANGE,
    MT_FLAGS_LOCK_EXTERN,
    ULONG_MAX,
    XA_ZERO_ENTRY,
    ma_none,
    ma_underflow,
    mas_erase,
    mas_find,
    mas_find_rev,
    mas_for_each,
    mas_next,
    mas_pause,
    mas_prev,
    mas_reset,
    mas_set,
    mas_set_range,
    mas_store,
    mas_store_gfp,
    mas_walk,
    mt_find,
    mt_for_each,
    mt_height,
    mt_init_flags,
    mt_validate,
    mtree_dup,
    mtree_empty,
    mtree_insert,
    mtree_store_range,
    xa_is_zero,
    xa_mk_value,
)

from .helpers import (
    LONG_MAX,
    Ptr,
    check_seq,
    kptr,
    mt_reinit,
    mtree_erase_index,
    mtree_insert_index,
    status_name,
)


def test_check_rev_find() -> None:
    """check_rev_find (lib/test_maple_tree.c): mas_find_rev() with limits on and between
    entries."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    for i in range(201):
        mtree_store_range(mt, i * 10, i * 10 + 5, xa_mk_value(i))

    mas_set(mas, 1000)
    assert mas_find_rev(mas, 1000) == xa_mk_value(100)
    assert mas_find_rev(mas, 1000) is None

    mas_set(mas, 999)
    assert mas_find_rev(mas, 997) is None

    mas_set(mas, 1000)
    assert mas_find_rev(mas, 900) == xa_mk_value(100)
    assert mas_find_rev(mas, 900) == xa_mk_value(99)

    mas_set(mas, 20)
    assert mas_find_rev(mas, 0) == xa_mk_value(2)
    assert mas_find_rev(mas, 0) == xa_mk_value(1)
    assert mas_find_rev(mas, 0) == xa_mk_value(0)
    assert mas_find_rev(mas, 0) is None


def test_check_find() -> None:
    """check_find (lib/test_maple_tree.c): powers of four with a zero entry at 64, found
    with mas_find, mas_for_each (with and without pauses), mt_for_each and mt_find, then
    the last entry found backwards."""
    mt = mt_init_flags(0)
    mas = MA_STATE(mt, 0, 0)
    top = 4398046511104
    count = 20

    # Insert 0, then 1, 4, 16, ... with XA_ZERO_ENTRY at 64.
    val = 0
    assert mtree_insert_index(mt, val) == 0
    val += 1
    for _ in range(count + 1):
        if val != 64:
            assert mtree_insert_index(mt, val) == 0
        else:
            assert mtree_insert(mt, val, XA_ZERO_ENTRY) == 0
        val <<= 2

    def step(v: int) -> int:
        v <<= 2
        return v or 1  # for the zero check

    val = 0
    mas_set(mas, val)
    while (entry := mas_find(mas, 268435456)) is not None:
        if val != 64:
            assert entry == xa_mk_value(val)
        else:
            assert entry == XA_ZERO_ENTRY
        val = step(val)

    val = 0
    mas_set(mas, val)
    for entry in mas_for_each(mas, ULONG_MAX):
        if val != 64:
            assert entry == xa_mk_value(val)
        else:
            assert entry == XA_ZERO_ENTRY
        val = step(val)

    # mas_pause between every entry
    val = 0
    mas_set(mas, val)
    for entry in mas_for_each(mas, ULONG_MAX):
        if val != 64:
            assert entry == xa_mk_value(val)
        else:
            assert entry == XA_ZERO_ENTRY
        val = step(val)
        mas_pause(mas)

    # mt_for_each skips the zero entry.
    val = 0
    for entry in mt_for_each(mt, 0, 300):
        assert entry == xa_mk_value(val)
        val <<= 2
        if val == 64:
            val <<= 2
        if not val:
            val = 1

    val = 0
    assert mtree_insert_index(mt, ULONG_MAX) == 0
    for seen, entry in enumerate(mt_for_each(mt, 0, ULONG_MAX), 1):
        if val == top:
            assert entry == xa_mk_value(LONG_MAX)
        else:
            assert entry == xa_mk_value(val)
        val = ULONG_MAX if (val << 2) & ULONG_MAX < val else val << 2
        if val == 64:
            val <<= 2
        if not val:
            val = 1
        assert seen <= 25
    mtree_erase_index(mt, ULONG_MAX)

    mas_reset(mas)
    entry, _index = mt_find(mt, 17, 512)
    assert entry == xa_mk_value(256)

    mas_reset(mas)
    entry, _index = mt_find(mt, 17, 20)
    assert entry is None

    # Range check: insert ULONG_MAX and walk everything with pauses.
    assert mtree_insert_index(mt, ULONG_MAX) == 0
    val = 0
    mas_set(mas, 0)
    for entry in mas_for_each(mas, ULONG_MAX):
        if val == 64:
            assert entry == XA_ZERO_ENTRY
        elif val == top:
            assert entry == xa_mk_value(LONG_MAX)
        else:
            assert entry == xa_mk_value(val)
        val = ULONG_MAX if (val << 2) & ULONG_MAX < val else val << 2
        if not val:
            val = 1
        mas_pause(mas)

    mas_set(mas, 1048576)
    assert mas_find(mas, 1048576) is not None

    # The last value: found from an end entry with prev, then found with prev from the
    # start state once the end entry is erased; both must agree.
    mas_reset(mas)
    mas.index = ULONG_MAX
    entry = mas_find(mas, ULONG_MAX)
    entry = mas_prev(mas, 0)
    index = mas.index
    last = mas.last

    mas_reset(mas)
    mas.index = ULONG_MAX
    mas.last = ULONG_MAX
    mas_erase(mas)

    mas_reset(mas)
    entry2 = mas_prev(mas, 0)
    assert entry == entry2
    assert index == mas.index
    assert last == mas.last

    mas.status = ma_none
    mas.index = ULONG_MAX
    mas.last = ULONG_MAX
    entry2 = mas_prev(mas, 0)
    assert entry == entry2

    mas_set(mas, 0)
    assert mas_prev(mas, 0) is None
    mt.destroy()


def test_check_find_2() -> None:
    """check_find_2 (lib/test_maple_tree.c): mas_for_each sees exactly the entries after
    each insert and after each erase."""
    mt = mt_init_flags(0)
    mas = MA_STATE(mt, 0, 0)
    for _entry in mas_for_each(mas, ULONG_MAX):
        raise AssertionError("entry in an empty tree")

    for i in range(256):
        mtree_insert_index(mt, i)
        j = 0
        mas_set(mas, 0)
        for entry in mas_for_each(mas, ULONG_MAX):
            assert entry == xa_mk_value(j)
            j += 1
        assert j == i + 1

    for i in range(256):
        mtree_erase_index(mt, i)
        j = i + 1
        mas_set(mas, 0)
        for entry in mas_for_each(mas, ULONG_MAX):
            if xa_is_zero(entry):
                continue
            assert entry == xa_mk_value(j)
            j += 1
        assert j == 256


def test_check_next_entry() -> None:
    """check_next_entry (lib/test_maple_tree.c): mas_next() through 0..30 and past the
    limit."""
    mt = mt_init_flags(0)
    limit = 30
    i = 0
    mas = MA_STATE(mt, i, i)
    assert mtree_empty(mt)
    check_seq(mt, limit)
    # The first one gets the state in place.
    assert mas_walk(mas) == xa_mk_value(i)
    i += 1
    while i <= limit + 1:
        entry = mas_next(mas, limit)
        if i > limit:
            assert entry is None
        else:
            assert entry == xa_mk_value(i)
        i += 1


def test_check_prev_entry() -> None:
    """check_prev_entry (lib/test_maple_tree.c): mas_prev() after mas_find(), and lower
    limits that fall between entries."""
    index = 16
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, index, index)
    assert mtree_empty(mt)
    check_seq(mt, 30)
    assert mas_find(mas, ULONG_MAX) == xa_mk_value(index)
    assert mas_prev(mas, 0) == xa_mk_value(index - 1)

    # Limits on prev.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    for i in range(index + 1):
        mas_set_range(mas, i * 10, i * 10 + 5)
        assert mas_store_gfp(mas, xa_mk_value(i)) == 0

    mas_set(mas, 20)
    assert mas_walk(mas) == xa_mk_value(2)
    assert mas_prev(mas, 19) is None

    mas_set(mas, 80)
    assert mas_walk(mas) == xa_mk_value(8)
    assert mas_prev(mas, 76) is None


def test_next_prev_test() -> None:
    """next_prev_test (lib/test_maple_tree.c): next/prev within a node, across leaves,
    across two levels, off the end and off the start, and a prev limit inside a gap."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    level2 = (707, 1000, 710, 715, 720, 725)
    nr_entries = 200
    last_index = 0x7D6

    for i in range(nr_entries + 1):
        mtree_store_range(mt, i * 10, i * 10 + 5, xa_mk_value(i))

    for _ in range(nr_entries // 2 + 1):
        mas_next(mas, 1000)
        if mas.status == ma_none:
            break
    mas_reset(mas)
    mas_set(mas, 0)
    n = sum(1 for _ in mas_for_each(mas, 1000))
    assert n == 101

    mas_reset(mas)
    mas_set(mas, 0)
    n = 0
    for _entry in mas_for_each(mas, 1000):
        mas_pause(mas)
        n += 1
    assert n == 101

    # Simple next/prev around a NULL: 680-685 value, 686-689 NULL, 690-695 value.
    mas_set(mas, 686)
    assert mas_walk(mas) is None

    assert mas_next(mas, 1000) == xa_mk_value(690 // 10)
    assert (mas.index, mas.last) == (690, 695)

    assert mas_prev(mas, 0) == xa_mk_value(680 // 10)
    assert (mas.index, mas.last) == (680, 685)

    assert mas_next(mas, 1000) == xa_mk_value(690 // 10)
    assert (mas.index, mas.last) == (690, 695)

    assert mas_next(mas, 1000) == xa_mk_value(700 // 10)
    assert (mas.index, mas.last) == (700, 705)

    # Across node boundaries.
    mas_set(mas, 70)
    assert mas_walk(mas) == xa_mk_value(70 // 10)
    assert (mas.index, mas.last) == (70, 75)

    assert mas_next(mas, 1000) == xa_mk_value(80 // 10)
    assert (mas.index, mas.last) == (80, 85)

    assert mas_prev(mas, 70) == xa_mk_value(70 // 10)
    assert (mas.index, mas.last) == (70, 75)

    # Across two levels of the tree.
    mas_reset(mas)
    mas_set(mas, level2[0])
    assert mas_walk(mas) is None
    assert mas_next(mas, level2[1]) == xa_mk_value(level2[2] // 10)
    assert (mas.index, mas.last) == (level2[2], level2[3])
    mn = mas.node

    assert mas_next(mas, level2[1]) == xa_mk_value(level2[4] // 10)
    assert (mas.index, mas.last) == (level2[4], level2[5])
    assert mn is not mas.node, "the next entry should be in another leaf"

    assert mas_prev(mas, 0) == xa_mk_value(level2[2] // 10)
    assert (mas.index, mas.last) == (level2[2], level2[3])

    # Off the end and back on.
    mas_set(mas, nr_entries * 10)
    assert mas_walk(mas) == xa_mk_value(nr_entries)
    assert (mas.index, mas.last) == (nr_entries * 10, nr_entries * 10 + 5)

    assert mas_next(mas, ULONG_MAX) is None
    assert (mas.index, mas.last) == (last_index, ULONG_MAX)

    assert mas_prev(mas, 0) == xa_mk_value(nr_entries)
    assert (mas.index, mas.last) == (nr_entries * 10, nr_entries * 10 + 5)

    # Off the start and back on.
    mas_reset(mas)
    mas_set(mas, 10)
    assert mas_walk(mas) == xa_mk_value(1)
    assert (mas.index, mas.last) == (10, 15)

    assert mas_prev(mas, 0) == xa_mk_value(0)
    assert (mas.index, mas.last) == (0, 5)

    assert mas_prev(mas, 0) is None
    assert (mas.index, mas.last) == (0, 5)
    assert mas.status == ma_underflow, status_name(mas)

    mas.index = 0
    mas.last = 5
    mas_store(mas, None)
    mas_reset(mas)
    mas_set(mas, 10)
    mas_walk(mas)

    assert mas_prev(mas, 0) is None
    assert (mas.index, mas.last) == (0, 9)

    mt_reinit(mt, 0)  # mt_init()
    mtree_store_range(mt, 0, 0, xa_mk_value(0))
    mtree_store_range(mt, 5, 5, xa_mk_value(5))
    mas_set(mas, 5)
    assert mas_prev(mas, 4) is None


def test_check_iteration() -> None:
    """check_iteration (lib/test_maple_tree.c): stores from inside a mas_for_each loop
    that overwrite the end or the start of the current entry, and where iteration
    resumes."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    for i in range(126):
        mtree_store_range(mt, i * 10, i * 10 + 9, xa_mk_value(i))

    i = 0
    for val in mas_for_each(mas, 925):
        assert (mas.index, mas.last) == (i * 10, i * 10 + 9)
        # Overwrite the end of entry 92.
        if i == 92:
            mas.index = 925
            mas.last = 929
            mas_store(mas, val)
        i += 1
    # mas_find() continues with the next value.
    assert mas_find(mas, ULONG_MAX) == xa_mk_value(i)

    mas_set(mas, 0)
    i = 0
    for val in mas_for_each(mas, 785):
        assert (mas.index, mas.last) == (i * 10, i * 10 + 9)
        # Overwrite the start of entry 78.
        if i == 78:
            mas.index = 780
            mas.last = 785
            mas_store(mas, val)
        else:
            i += 1
    assert mas_find(mas, ULONG_MAX) == xa_mk_value(i)

    mas_set(mas, 0)
    for i, val in enumerate(mas_for_each(mas, 765)):
        assert (mas.index, mas.last) == (i * 10, i * 10 + 9)
        # Overwrite the end of entry 76 and advance to the end.
        if i == 76:
            mas.index = 760
            mas.last = 765
            mas_store(mas, val)
    # The next find returns the remainder of entry 76, 766-769.
    assert mas_find(mas, ULONG_MAX) == xa_mk_value(76)


def test_check_mas_store_gfp() -> None:
    """check_mas_store_gfp (lib/test_maple_tree.c): copy a tree entry by entry with
    mas_store_gfp() into a new tree, which must validate."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    for i in range(136):
        mtree_store_range(mt, i * 10, i * 10 + 5, xa_mk_value(i))
    newmt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)
    newmas = MA_STATE(newmt, 0, 0)
    mas_reset(newmas)
    mas_set(mas, 0)
    for val in mas_for_each(mas, ULONG_MAX):
        newmas.index = mas.index
        newmas.last = mas.last
        assert mas_store_gfp(newmas, val) == 0
    mt_validate(newmt)
    assert list(newmt.ranges()) == list(mt.ranges())


def test_check_forking() -> None:
    """check_forking (lib/test_maple_tree.c): the fork sequence, __mt_dup() then
    mas_store() of every entry over itself in the copy, which must validate."""
    flags = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN
    mt = mt_init_flags(flags)
    newmt = mt_init_flags(flags)
    mas = MA_STATE(mt, 0, 0)
    newmas = MA_STATE(newmt, 0, 0)
    for i in range(135):
        mas_set_range(mas, i * 10, i * 10 + 5)
        assert mas_store_gfp(mas, xa_mk_value(i)) == 0

    assert mtree_dup(mt, newmt) == 0
    mas_set(newmas, 0)
    for val in mas_for_each(newmas, ULONG_MAX):
        mas_store(newmas, val)
    mt_validate(newmt)
    assert list(newmt.ranges()) == list(mt.ranges())


def test_check_root_expand() -> None:
    """check_root_expand (lib/test_maple_tree.c): a root entry expanding into a node, and
    root entries whose pointer bits make them value or internal entries."""
    fn_addr = 0xFFFFFFFF_81234560  # stands for &check_prev_entry
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, 0)

    mas_set(mas, 3)
    ptr = mas_walk(mas)
    assert mas.index == 0
    assert ptr is None
    assert (mas.index, mas.last) == (0, ULONG_MAX)

    ptr = Ptr(fn_addr)
    mas_set(mas, 1)
    assert mas_store_gfp(mas, ptr) == 0

    mas_set(mas, 0)
    assert mas_walk(mas) is None
    mas_set(mas, 1)
    assert mas_walk(mas) == Ptr(fn_addr)
    mas_set(mas, 2)
    assert mas_walk(mas) is None
    mt_reinit(mt, 0)
    mas_set(mas, 0)
    assert mas_store_gfp(mas, Ptr(fn_addr)) == 0

    mas_set(mas, 5)
    assert mas_walk(mas) is None
    assert (mas.index, mas.last) == (1, ULONG_MAX)

    mas_set_range(mas, 0, 100)
    assert mas_walk(mas) == Ptr(fn_addr)
    assert mas.last == 0
    # A root entry with the low bit set (a value entry).
    mt_reinit(mt, 0)
    mas_set(mas, 0)
    ptr = kptr(fn_addr | 1)
    assert mas_store_gfp(mas, ptr) == 0
    assert mas_next(mas, ULONG_MAX) is None
    assert not (mas.index != 1 and mas.last != ULONG_MAX)

    mas_set(mas, 1)
    ptr = mas_prev(mas, 0)
    assert not (mas.index != 0 and mas.last != 0)
    assert ptr == kptr(fn_addr | 1)
    # Low bits 10 (an internal entry): it cannot stay in the root pointer.  The state
    # is the one used since the start of the test: its cached data end (2, from the
    # walks of the first part) is what lets this mas_next() step to the NULL at
    # [1, ULONG_MAX] before overflowing.
    mt_reinit(mt, 0)
    mas_set(mas, 0)
    ptr = kptr(fn_addr | 2)
    assert mas_store_gfp(mas, ptr) == 0
    assert mt_height(mt) == 1
    assert mas_next(mas, ULONG_MAX) is None
    assert not (mas.index != ULONG_MAX and mas.last != ULONG_MAX)

    mas_set(mas, 1)
    ptr = mas_prev(mas, 0)
    assert not (mas.index != 0 and mas.last != 0)
    assert ptr == kptr(fn_addr | 2)


def test_check_store_null() -> None:
    """check_store_null (lib/test_maple_tree.c): NULL stores into empty, single-entry and
    node trees; which of them leave the tree empty."""
    mt = mt_init_flags(MT_FLAGS_ALLOC_RANGE)
    mas = MA_STATE(mt, 0, ULONG_MAX)
    entry = Ptr(0xFFFFC900_0000A000)  # stands for &mas

    # NULL over [0, ULONG_MAX] of an empty tree: still empty.
    assert mas_store_gfp(mas, None) == 0
    assert mtree_empty(mt)

    # NULL over any range of an empty tree: still empty.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    mas_set_range(mas, 3, 10)
    assert mas_store_gfp(mas, None) == 0
    assert mtree_empty(mt)

    # NULL over [0, ULONG_MAX] of a single-entry tree: empty.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    mas_set(mas, 0)
    assert mas_store_gfp(mas, entry) == 0
    mas_set_range(mas, 0, ULONG_MAX)
    assert mas_store_gfp(mas, None) == 0
    assert mtree_empty(mt)

    # NULL over [0, n] of a single-entry tree: empty.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    mas_set(mas, 0)
    assert mas_store_gfp(mas, entry) == 0
    mas_set_range(mas, 0, 5)
    assert mas_store_gfp(mas, None) == 0
    assert mtree_empty(mt)

    # NULL over [m, n], m > 0, of a single-entry tree: still a single entry.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    mas_set(mas, 0)
    assert mas_store_gfp(mas, entry) == 0
    mas_set_range(mas, 2, 5)
    assert mas_store_gfp(mas, None) == 0
    assert not mtree_empty(mt)

    # NULL over [0, ULONG_MAX] of a tree with a node: empty.
    mt_reinit(mt, MT_FLAGS_ALLOC_RANGE)
    mas_set_range(mas, 1, 3)
    assert mas_store_gfp(mas, entry) == 0
    mas_set_range(mas, 0, ULONG_MAX)
    assert mas_store_gfp(mas, None) == 0
    assert mtree_empty(mt)


def test_maple_tree_seed_basics() -> None:
    """maple_tree_seed (lib/test_maple_tree.c): the inline insert/load checks on the
    set[] indices (inserting into holes, duplicates, and the first leaf split)."""
    sets = (5015, 5014, 5017, 25, 1000, 1001, 1002, 1003, 1005, 0, 5003, 5002)
    mt = mt_init_flags(0)
    tree = Ptr(mt.addr)  # &tree
    ptr = Ptr(0xFFFFC900_00002000)  # &set

    def load(index: int, want: object) -> None:
        got = mt.load(index)
        assert got == want, f"load {index}: {got!r}, expected {want!r}"

    def insert(index: int, entry: object) -> None:
        assert mtree_insert(mt, index, entry) == 0, f"insert {index}"

    load(sets[0], None)
    insert(sets[9], tree)
    load(sets[9], tree)
    load(sets[0], None)
    insert(sets[10], ptr)
    load(sets[9], tree)
    load(sets[11], None)
    load(sets[10], ptr)
    mt.destroy()

    # Insert, insert a duplicate, load back.
    mt = mt_init_flags(0)
    insert(sets[0], tree)
    assert mtree_insert(mt, sets[0], tree) == -17
    load(sets[0], tree)
    load(sets[1], None)
    insert(sets[1], ptr)
    load(sets[1], ptr)
    load(sets[0], tree)
    insert(sets[6], ptr)
    insert(sets[7], tree)
    load(sets[0], tree)
    load(sets[1], ptr)
    load(sets[6], ptr)
    load(sets[7], tree)
    mt.destroy()

    # Insert into a NULL hole.
    mt = mt_init_flags(0)
    insert(sets[5], ptr)
    insert(sets[7], tree)
    insert(sets[6], ptr)
    load(sets[5], ptr)
    load(sets[6], ptr)
    load(sets[7], tree)
    mt.destroy()

    mt = mt_init_flags(0)
    entries = (ptr, tree)
    for k in range(4):
        insert(sets[k], entries[k % 2])
    for k in range(4):
        load(sets[k], entries[k % 2])
    insert(sets[4], ptr)  # 1000: should split
    for k in range(5):
        load(sets[k], entries[k % 2])
    insert(sets[5], tree)
    for k in range(6):
        load(sets[k], entries[k % 2])
    insert(sets[6], ptr)
    for k in range(7):
        load(sets[k], entries[k % 2])
    insert(sets[7], tree)
    load(sets[0], ptr)
    insert(sets[8], ptr)
    insert(sets[9], tree)
    for k in range(7):
        load(sets[k], entries[k % 2])
    load(sets[9], tree)
