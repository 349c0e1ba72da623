"""The Pythonic face of the maple tree: :class:`MapleTree` and :class:`MaState`.

Methods drop the ``mtree_``/``mas_`` prefixes and raise :class:`~maplevm.tree.errors.MapleError`
subclasses (``OSError`` with the kernel errno and the offending values) where the kernel
returns ``-errno``.  Each method names the kernel function it mirrors; the kernel-style
functions themselves are in :mod:`maplevm.kapi`.

>>> from maplevm.tree import MapleTree, MT_FLAGS_ALLOC_RANGE
>>> mt = MapleTree(MT_FLAGS_ALLOC_RANGE)
>>> mt.store_range(0x1000, 0x1fff, "a")
>>> mt.load(0x1800)
'a'
>>> mt.alloc_rrange("b", 0x1000, 0, 0x9fff)
36864
>>> [(hex(f), hex(l), e) for f, l, e in mt]
[('0x1000', '0x1fff', 'a'), ('0x9000', '0x9fff', 'b')]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from maplevm.tree import fast as _fast
from maplevm.tree import gap as _gap
from maplevm.tree import normal as _normal
from maplevm.tree import walk as _walk
from maplevm.tree import write as _write
from maplevm.tree.constants import (
    MT_FLAGS_ALLOC_RANGE,
    MT_FLAGS_HEIGHT_MASK,
    MT_FLAGS_HEIGHT_OFFSET,
    MT_FLAGS_USE_RCU,
    ULONG_MAX,
    MapleStatus,
    StoreType,
)
from maplevm.tree.entry import XaInternal, mt_is_reserved, xa_is_advanced
from maplevm.tree.errors import InvalidArgument, MapleError, error_for
from maplevm.tree.node import MapleNode
from maplevm.tree.state import MaStateFields
from maplevm.tree.walk import __mas_set_range as _mas_set_range_here

_TREE_BASE = 0xFFFF_8881_0000_0000
_tree_count = 0


def _check_index(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= ULONG_MAX:
        raise InvalidArgument(f"{name} must be an integer in [0, 2**64 - 1]", **{name: value})


def _check_range(first: int, last: int) -> None:
    _check_index("first", first)
    _check_index("last", last)
    if first > last:
        raise InvalidArgument("range start is above its end", first=first, last=last)


def _check_entry(entry: Any) -> None:
    if xa_is_advanced(entry):
        raise InvalidArgument("entry is a reserved internal value", entry=entry)


class MapleTree:
    """``struct maple_tree``: a range B-tree mapping ``[0, 2**64 - 1]`` to entries.

    ``flags`` are the kernel's ``MT_FLAGS_*``; with ``MT_FLAGS_ALLOC_RANGE`` internal nodes
    are ``maple_arange_64`` and track gaps, which the ``alloc_*`` and ``empty_area*``
    searches need.  ``None`` is NULL: storing it erases.
    """

    __slots__ = ("addr", "alloc_failures", "ma_flags", "ma_root", "nodes_allocated", "zero_entries")

    def __init__(self, flags: int = 0) -> None:
        """Mirror of ``mt_init_flags()``."""
        global _tree_count
        self.ma_flags = flags
        self.ma_root: Any = None
        self.alloc_failures = 0
        self.nodes_allocated = 0
        # Not in the kernel: set once an XA_ZERO_ENTRY is written (never cleared), so that
        # whole-tree iteration can skip looking for zero entries in trees that never had one.
        self.zero_entries = False
        self.addr = _TREE_BASE + (_tree_count << 8)
        _tree_count += 1

    # -- properties --------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Mirror of ``mt_height()``."""
        return (self.ma_flags & MT_FLAGS_HEIGHT_MASK) >> MT_FLAGS_HEIGHT_OFFSET

    @property
    def alloc_range_tree(self) -> bool:
        """Does the tree track gaps (``MT_FLAGS_ALLOC_RANGE``)?"""
        return bool(self.ma_flags & MT_FLAGS_ALLOC_RANGE)

    @property
    def in_rcu(self) -> bool:
        """Mirror of ``mt_in_rcu()``."""
        return bool(self.ma_flags & MT_FLAGS_USE_RCU)

    def set_in_rcu(self, on: bool = True) -> None:
        """Mirror of ``mt_set_in_rcu()`` / ``mt_clear_in_rcu()``."""
        if on:
            self.ma_flags |= MT_FLAGS_USE_RCU
        else:
            self.ma_flags &= ~MT_FLAGS_USE_RCU

    @property
    def empty(self) -> bool:
        """Mirror of ``mtree_empty()``."""
        return self.ma_root is None

    def inject_alloc_failures(self, count: int = 1) -> None:
        """Make the next ``count`` node allocations fail with -ENOMEM (testing aid)."""
        self.alloc_failures = count

    # -- normal API ---------------------------------------------------------------------

    # Mirror of mtree_load(): the fast path itself is the method (no wrapper call per load).
    load = _fast.load

    def store_range(self, first: int, last: int, entry: Any) -> None:
        """Mirror of ``mtree_store_range()``: map ``[first, last]`` (inclusive) to ``entry``."""
        if (
            first.__class__ is int
            and last.__class__ is int
            and 0 <= first <= last <= ULONG_MAX
            and entry.__class__ is not XaInternal
        ):
            # The checks below, and mtree_store_range()'s, all pass: its body directly.
            ret = _write.mas_store_gfp(MaStateFields(self, first, last), entry)
            if ret:
                raise error_for(ret, "store failed", first=first, last=last)
            return
        _check_range(first, last)
        _check_entry(entry)
        ret = _normal.mtree_store_range(self, first, last, entry)
        if ret:
            raise error_for(ret, "store failed", first=first, last=last)

    def store(self, index: int, entry: Any) -> None:
        """Mirror of ``mtree_store()``."""
        self.store_range(index, index, entry)

    def insert_range(self, first: int, last: int, entry: Any) -> None:
        """Mirror of ``mtree_insert_range()``: like store_range, but EEXIST if occupied."""
        _check_range(first, last)
        _check_entry(entry)
        ret = _normal.mtree_insert_range(self, first, last, entry)
        if ret:
            raise error_for(ret, "insert failed", first=first, last=last)

    def insert(self, index: int, entry: Any) -> None:
        """Mirror of ``mtree_insert()``."""
        self.insert_range(index, index, entry)

    def erase(self, index: int) -> Any:
        """Mirror of ``mtree_erase()``: remove the whole range holding ``index``; its entry."""
        if index.__class__ is not int or not 0 <= index <= ULONG_MAX:
            _check_index("index", index)
        return _write.mtree_erase(self, index)

    def _alloc(self, entry: Any, size: int, lo: int, hi: int, rev: bool) -> int:
        if not self.alloc_range_tree:
            raise InvalidArgument(
                "allocation needs an MT_FLAGS_ALLOC_RANGE tree", flags=self.ma_flags
            )
        if mt_is_reserved(entry):
            raise InvalidArgument("entry is a reserved internal value", entry=entry)
        _check_index("size", size)
        _check_index("min", lo)
        _check_index("max", hi)
        fn = _normal.mtree_alloc_rrange if rev else _normal.mtree_alloc_range
        ret, start = fn(self, entry, size, lo, hi)
        if ret:
            raise error_for(ret, "no room for the allocation", size=size, min=lo, max=hi)
        return start

    def alloc_range(self, entry: Any, size: int, lo: int, hi: int) -> int:
        """Mirror of ``mtree_alloc_range()``: store at the lowest gap of ``size`` in
        ``[lo, hi]`` (inclusive); returns the start."""
        return self._alloc(entry, size, lo, hi, False)

    def alloc_rrange(self, entry: Any, size: int, lo: int, hi: int) -> int:
        """Mirror of ``mtree_alloc_rrange()``: like alloc_range, but the highest gap."""
        return self._alloc(entry, size, lo, hi, True)

    def alloc_cyclic(self, entry: Any, lo: int, hi: int, nxt: int) -> tuple[int, int, bool]:
        """Mirror of ``mtree_alloc_cyclic()``: store at the first free index at or after
        ``nxt`` in ``[lo, hi]``, wrapping to ``lo``.  Returns ``(start, next, wrapped)``."""
        if not self.alloc_range_tree:
            raise InvalidArgument(
                "allocation needs an MT_FLAGS_ALLOC_RANGE tree", flags=self.ma_flags
            )
        if mt_is_reserved(entry):
            raise InvalidArgument("entry is a reserved internal value", entry=entry)
        for name, value in (("lo", lo), ("hi", hi), ("next", nxt)):
            _check_index(name, value)
        ret, start, new_next = _normal.mtree_alloc_cyclic(self, entry, lo, hi, nxt)
        if ret < 0:
            raise error_for(ret, "no free index", lo=lo, hi=hi, next=nxt)
        return start, new_next, ret == 1

    def find(self, index: int, hi: int = ULONG_MAX) -> tuple[Any, int]:
        """Mirror of ``mt_find()``: ``(entry, next_index)`` of the first entry in
        ``[index, hi]``; ``(None, index)`` if there is none."""
        _check_index("index", index)
        _check_index("max", hi)
        return _normal.mt_find(self, index, hi)

    # Mirror of mt_next(): the entry after the one holding index (the fast path is the method).
    next = _fast.next_entry

    def prev(self, index: int, lo: int = 0) -> Any:
        """Mirror of ``mt_prev()``: the entry before the one holding ``index``."""
        return _normal.mt_prev(self, index, lo)

    def items(self, first: int = 0, last: int = ULONG_MAX) -> Iterator[tuple[int, int, Any]]:
        """``(first, last, entry)`` of every entry meeting ``[first, last]``, in order.

        Like ``mt_for_each()``, zero entries are skipped.
        """
        return _fast.iter_entries(self, first, last)

    def ranges(self) -> Iterator[tuple[int, int, Any]]:
        """Every range of the tree, NULL ranges included, as ``(first, last, entry)``."""
        mas = MaStateFields(self, 0, 0)
        entry = _walk.mas_walk(mas)
        while True:
            yield mas.index, mas.last, entry
            if mas.last == ULONG_MAX:
                return
            entry = _walk.mas_next_range(mas, ULONG_MAX)

    def __iter__(self) -> Iterator[tuple[int, int, Any]]:
        return self.items()

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and 0 <= index <= ULONG_MAX and self.load(index) is not None

    def __repr__(self) -> str:
        return (
            f"MapleTree(flags={self.ma_flags & ~MT_FLAGS_HEIGHT_MASK:#x}, "
            f"height={self.height}, entries={len(self)})"
        )

    def state(self, first: int = 0, last: int | None = None) -> MaState:
        """``MA_STATE(mas, mt, first, last)``: a maple state on this tree."""
        return MaState(self, first, first if last is None else last)

    def dup(self) -> MapleTree:
        """Mirror of ``mtree_dup()``: a copy with the same node structure."""
        new = MapleTree(self.ma_flags & ~MT_FLAGS_HEIGHT_MASK)
        ret = _normal.mtree_dup(self, new)
        if ret:
            raise error_for(ret, "duplication failed")
        return new

    def destroy(self) -> None:
        """Mirror of ``mtree_destroy()``: empty the tree."""
        _normal.mtree_destroy(self)

    def validate(self) -> None:
        """Mirror of ``mt_validate()``: raise :class:`MapleBug` listing every broken invariant."""
        from maplevm.tree.validate import mt_validate

        mt_validate(self)

    def dump(self, fmt: str = "hex") -> str:
        """Mirror of ``mt_dump()``: the kernel's dump text, ``fmt`` ``"hex"`` or ``"dec"``."""
        from maplevm.tree.dump import mt_dump

        return mt_dump(self, fmt)


class MaState(MaStateFields):
    """``struct ma_state`` with the advanced API as methods.

    ``index``/``last`` are inclusive.  Reads and moves return the entry (None for NULL) and
    leave ``index``/``last`` on its range; ``status`` follows the kernel's state machine
    (:class:`MapleStatus`), including ``ma_overflow``/``ma_underflow`` at the limits.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        status = MapleStatus(self.status).name
        node = f"{self.node.addr:#x}" if isinstance(self.node, MapleNode) else "NULL"
        return (
            f"<MaState {status} index={self.index:#x} last={self.last:#x} node={node} "
            f"min={self.min:#x} max={self.max:#x} offset={self.offset} end={self.end} "
            f"depth={self.depth} store_type={StoreType(self.store_type).name}>"
        )

    @property
    def status_name(self) -> str:
        """The ``maple_status`` name of ``status``."""
        return MapleStatus(self.status).name

    def _raise_if_error(self, what: str) -> None:
        if self.status == MapleStatus.ma_error:
            raise error_for(self.error, f"{what} failed", index=self.index, last=self.last)

    # position
    def set(self, index: int) -> None:
        """Mirror of ``mas_set()``: restart at ``index`` from the root."""
        _check_index("index", index)
        _walk.mas_set(self, index)

    def set_range(self, first: int, last: int) -> None:
        """Mirror of ``mas_set_range()``: restart for ``[first, last]`` from the root."""
        _check_range(first, last)
        _walk.mas_set_range(self, first, last)

    def set_range_here(self, first: int, last: int) -> None:
        """Mirror of ``__mas_set_range()``: change the range, keep the position.

        Raises ``AssertionError`` where the kernel WARNs: an active state whose current
        slot does not contain ``first``.
        """
        _check_range(first, last)
        _mas_set_range_here(self, first, last)

    def reset(self) -> None:
        """Mirror of ``mas_reset()``."""
        _walk.mas_reset(self)

    def pause(self) -> None:
        """Mirror of ``mas_pause()``."""
        _walk.mas_pause(self)

    # reads
    def walk(self) -> Any:
        """Mirror of ``mas_walk()``: the entry at ``index``; ``index``/``last`` its range."""
        return _walk.mas_walk(self)

    def find(self, hi: int = ULONG_MAX) -> Any:
        """Mirror of ``mas_find()``: first call at or after ``index``, then the next entry."""
        return _walk.mas_find(self, hi)

    def find_range(self, hi: int = ULONG_MAX) -> Any:
        """Mirror of ``mas_find_range()``."""
        return _walk.mas_find_range(self, hi)

    def find_rev(self, lo: int = 0) -> Any:
        """Mirror of ``mas_find_rev()``."""
        return _walk.mas_find_rev(self, lo)

    def find_range_rev(self, lo: int = 0) -> Any:
        """Mirror of ``mas_find_range_rev()``."""
        return _walk.mas_find_range_rev(self, lo)

    def next(self, hi: int = ULONG_MAX) -> Any:
        """Mirror of ``mas_next()``: the next non-NULL entry after the current range."""
        return _walk.mas_next(self, hi)

    def next_range(self, hi: int = ULONG_MAX) -> Any:
        """Mirror of ``mas_next_range()``: the next range, NULL or not."""
        return _walk.mas_next_range(self, hi)

    def prev(self, lo: int = 0) -> Any:
        """Mirror of ``mas_prev()``."""
        return _walk.mas_prev(self, lo)

    def prev_range(self, lo: int = 0) -> Any:
        """Mirror of ``mas_prev_range()``."""
        return _walk.mas_prev_range(self, lo)

    def __iter__(self) -> Iterator[Any]:
        """``mas_for_each(mas, entry, ULONG_MAX)``."""
        while True:
            entry = _walk.mas_find(self, ULONG_MAX)
            if entry is None:
                return
            yield entry

    # writes
    def store(self, entry: Any) -> Any:
        """Mirror of ``mas_store()``: store over ``[index, last]``; the first entry replaced."""
        _check_range(self.index, self.last)
        _check_entry(entry)
        old = _write.mas_store(self, entry)
        self._raise_if_error("store")
        return old

    def store_gfp(self, entry: Any) -> None:
        """Mirror of ``mas_store_gfp()``."""
        _check_range(self.index, self.last)
        _check_entry(entry)
        ret = _write.mas_store_gfp(self, entry)
        if ret:
            raise error_for(ret, "store failed", index=self.index, last=self.last)

    def preallocate(self, entry: Any) -> None:
        """Mirror of ``mas_preallocate()``: after it, ``store_prealloc`` cannot fail."""
        _check_range(self.index, self.last)
        _check_entry(entry)
        ret = _write.mas_preallocate(self, entry)
        if ret:
            raise error_for(ret, "preallocation failed", index=self.index, last=self.last)

    def store_prealloc(self, entry: Any) -> None:
        """Mirror of ``mas_store_prealloc()``."""
        _write.mas_store_prealloc(self, entry)

    def destroy(self) -> None:
        """Mirror of ``mas_destroy()``: release unused preallocated nodes."""
        _write.mas_destroy(self)

    def erase(self) -> Any:
        """Mirror of ``mas_erase()``: erase the range holding ``index``; its entry."""
        entry = _write.mas_erase(self)
        self._raise_if_error("erase")
        return entry

    def insert(self, entry: Any) -> None:
        """``mas_insert()`` (internal in the kernel): store only into an empty range."""
        _check_range(self.index, self.last)
        _check_entry(entry)
        _write.mas_insert(self, entry)
        self._raise_if_error("insert")
        _write.mas_destroy(self)

    # gap search
    def empty_area(self, lo: int, hi: int, size: int) -> None:
        """Mirror of ``mas_empty_area()``: ``index`` becomes the lowest start of a gap of
        ``size`` in ``[lo, hi]`` and ``last = index + size - 1``."""
        for name, value in (("min", lo), ("max", hi), ("size", size)):
            _check_index(name, value)
        ret = _gap.mas_empty_area(self, lo, hi, size)
        if ret:
            raise error_for(ret, "no gap", min=lo, max=hi, size=size)

    def empty_area_rev(self, lo: int, hi: int, size: int) -> None:
        """Mirror of ``mas_empty_area_rev()``: ``last`` becomes the end of the highest gap
        that fits (clipped to ``hi``) and ``index = last - size + 1``."""
        for name, value in (("min", lo), ("max", hi), ("size", size)):
            _check_index(name, value)
        ret = _gap.mas_empty_area_rev(self, lo, hi, size)
        if ret:
            raise error_for(ret, "no gap", min=lo, max=hi, size=size)


__all__ = ["MaState", "MapleError", "MapleTree"]
