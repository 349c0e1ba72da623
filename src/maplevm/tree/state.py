"""``struct ma_state``: the maple state, the cursor of every maple tree operation.

Only the fields live here; the operations are the kernel's functions in ``walk``, ``gap``
and ``write`` (taking the state as their first argument, as in C), and
:class:`maplevm.tree.MaState` wraps them as methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maplevm.tree.constants import ULONG_MAX, MapleStatus, StoreType

if TYPE_CHECKING:
    from maplevm.tree.mapletree import MapleTree
    from maplevm.tree.node import MapleNode


class MaStateFields:
    """The fields of ``struct ma_state`` (plus the model of its node allocations).

    ``index``/``last`` are the inclusive range of interest; ``node``/``min``/``max`` the node
    the state points at and its implied range; ``offset`` the slot of interest; ``end`` the
    cached data end of ``node``; ``status`` one of :class:`MapleStatus`.

    The kernel keeps preallocated nodes in ``sheaf``/``alloc`` and an error code in ``node``;
    here ``nodes_avail`` counts preallocated nodes and ``error`` holds the negative errno
    while ``status`` is ``ma_error``.

    The defaults are class attributes (the values ``MA_STATE()`` sets), so making a state
    sets three fields and copying one (``*dst = *src``) is one dictionary copy: the write
    paths make and copy many short-lived states.
    """

    tree: MapleTree
    index: int
    last: int
    node: MapleNode | None = None
    status: int = int(MapleStatus.ma_start)
    min: int = 0
    max: int = ULONG_MAX
    depth: int = 0
    offset: int = 0
    mas_flags: int = 0
    end: int = 0
    store_type: int = int(StoreType.wr_invalid)
    node_request: int = 0
    nodes_avail: int = 0
    error: int = 0

    def __init__(self, tree: MapleTree, first: int, last: int) -> None:
        self.tree = tree
        self.index = first
        self.last = last

    def copy_from(self, other: MaStateFields) -> None:
        """C struct assignment ``*dst = *src`` (every field)."""
        self.__dict__ = other.__dict__.copy()

    def clone(self) -> MaStateFields:
        """A new state equal to this one (``struct ma_state copy = *mas``)."""
        copy = MaStateFields.__new__(MaStateFields)
        copy.__dict__ = self.__dict__.copy()
        return copy
