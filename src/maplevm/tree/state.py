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
    """

    __slots__ = (
        "depth",
        "end",
        "error",
        "index",
        "last",
        "mas_flags",
        "max",
        "min",
        "node",
        "node_request",
        "nodes_avail",
        "offset",
        "status",
        "store_type",
        "tree",
    )

    def __init__(self, tree: MapleTree, first: int, last: int) -> None:
        self.tree = tree
        self.index = first
        self.last = last
        self.node: MapleNode | None = None
        self.status: int = MapleStatus.ma_start
        self.min = 0
        self.max = ULONG_MAX
        self.depth = 0
        self.offset = 0
        self.mas_flags = 0
        self.end = 0
        self.store_type: int = StoreType.wr_invalid
        self.node_request = 0
        self.nodes_avail = 0
        self.error = 0

    def copy_from(self, other: MaStateFields) -> None:
        """C struct assignment ``*dst = *src`` (every field)."""
        self.tree = other.tree
        self.index = other.index
        self.last = other.last
        self.node = other.node
        self.status = other.status
        self.min = other.min
        self.max = other.max
        self.depth = other.depth
        self.offset = other.offset
        self.mas_flags = other.mas_flags
        self.end = other.end
        self.store_type = other.store_type
        self.node_request = other.node_request
        self.nodes_avail = other.nodes_avail
        self.error = other.error
