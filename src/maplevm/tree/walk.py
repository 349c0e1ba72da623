"""The read side of lib/maple_tree.c: starting, walking, stepping between slots and nodes.

Every function mirrors the kernel function of the same name and takes the maple state as
its first argument.  Dead-node checks are kept: a state that outlives a write to the tree
finds its node dead and re-walks, as an RCU reader does.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from maplevm.tree.constants import (
    MAPLE_NODE_SLOTS,
    ULONG_MAX,
    maple_arange_64,
    mt_pivots,
)
from maplevm.tree.entry import xa_is_zero
from maplevm.tree.node import MapleNode, ma_data_end
from maplevm.tree.state import MaStateFields

# Local aliases of the status values: plain ints are faster to compare than enum members.
ACTIVE = 0
START = 1
ROOT = 2
NONE = 3
PAUSE = 4
OVERFLOW = 5
UNDERFLOW = 6
ERROR = 7


def mas_safe_pivot(mas: MaStateFields, pivots: list[int], piv: int, node_type: int) -> int:
    """Mirror of ``mas_safe_pivot()``: the pivot at ``piv``, or ``mas.max`` past the array."""
    if piv >= mt_pivots[node_type]:
        return mas.max
    return pivots[piv]


def mas_safe_min(mas: MaStateFields, pivots: list[int], offset: int) -> int:
    """Mirror of ``mas_safe_min()``: the lowest index covered by slot ``offset``."""
    if offset:
        return pivots[offset - 1] + 1
    return mas.min


def mas_data_end(mas: MaStateFields) -> int:
    """Mirror of ``mas_data_end()``: the data end of ``mas.node`` using ``mas.max``."""
    node = mas.node
    assert node is not None
    node_type = node.type
    if node_type == maple_arange_64:
        return node.meta_end
    pivots = node.pivot
    if node.dead:
        return 0
    offset = mt_pivots[node_type] - 1
    last_piv = pivots[offset]
    if not last_piv:
        return node.meta_end
    if last_piv == mas.max:
        return offset
    return mt_pivots[node_type]


def mas_start(mas: MaStateFields) -> Any:
    """Mirror of ``mas_start()``: set up a state in ``ma_start`` at the root.

    Returns the root entry for a single-entry tree walked at index 0, otherwise None;
    the status becomes ``ma_active`` (tree of nodes), ``ma_none`` (empty) or ``ma_root``.
    """
    if mas.status == START:
        mas.min = 0
        mas.max = ULONG_MAX
        mas.depth = 0
        root = mas.tree.ma_root
        if root.__class__ is MapleNode:
            mas.status = ACTIVE
            mas.node = root
            mas.offset = 0
            return None
        mas.node = None
        if root is None:
            mas.status = NONE
            mas.offset = MAPLE_NODE_SLOTS
            return None
        mas.status = ROOT
        mas.offset = MAPLE_NODE_SLOTS
        if mas.index > 0:
            return None
        return root
    return None


def mas_descend(mas: MaStateFields) -> None:
    """Mirror of ``mas_descend()``: move into the child at ``mas.offset``."""
    node = mas.node
    assert node is not None
    pivots = node.pivot
    offset = mas.offset
    if offset:
        mas.min = pivots[offset - 1] + 1
    mas.max = mas_safe_pivot(mas, pivots, offset, node.type)
    mas.node = node.slot[offset]


def mas_ascend(mas: MaStateFields) -> int:
    """Mirror of ``mas_ascend()``: move to the parent and recompute its implied min/max.

    Returns 1 on a dead node, 0 otherwise.
    """
    a_node = mas.node
    assert a_node is not None
    if a_node.is_root:
        mas.offset = 0
        return 0
    p_node = a_node.parent
    if p_node is a_node or p_node is None:
        return 1
    mas.offset = a_node.parent_slot
    mas.node = p_node
    if p_node.is_root:
        mas.max = ULONG_MAX
        mas.min = 0
        return 0

    lo = 0
    hi = ULONG_MAX
    set_min = False
    set_max = False
    # Slot 0 shares its parent's minimum; otherwise walk up until some ancestor has a
    # pivot on each side.
    if not mas.offset:
        lo = mas.min
        set_min = True
    if mas.max == ULONG_MAX:
        set_max = True

    a_enode = p_node
    while True:
        p_enode = a_enode
        parent = p_enode.parent
        if parent is None or parent is p_enode:
            return 1
        a_slot = p_enode.parent_slot
        a_enode = parent
        pivots = parent.pivot
        if parent.dead:
            return 1
        if not set_min and a_slot:
            set_min = True
            lo = pivots[a_slot - 1] + 1
        if not set_max and a_slot < mt_pivots[parent.type]:
            set_max = True
            hi = pivots[a_slot]
        if parent.is_root:
            break
        if set_min and set_max:
            break
    mas.max = hi
    mas.min = lo
    return 0


def mtree_range_walk(mas: MaStateFields) -> Any:
    """Mirror of ``mtree_range_walk()``: walk to the leaf slot holding ``mas.index``.

    Sets ``index``/``last`` to the slot's range (even for NULL), ``node``/``min``/``max`` to
    the leaf, ``offset`` and ``end``.  Returns the slot's entry.
    """
    index = mas.index
    nxt: Any = mas.node
    lo = mas.min
    hi = mas.max
    while True:
        last = nxt
        node = nxt
        node_type = node.type
        pivots = node.pivot
        # ma_data_end(), inlined: this loop runs at every level of every walk.
        if node_type == maple_arange_64 or not pivots[-1]:
            end = node.meta_end
        elif pivots[-1] == hi:
            end = len(pivots) - 1
        else:
            end = len(pivots)
        prev_min = lo
        prev_max = hi
        offset = bisect_left(pivots, index, 0, end)
        if offset < end:
            hi = pivots[offset]
        if offset:
            lo = pivots[offset - 1] + 1
        nxt = node.slot[offset]
        if node.parent is node:
            mas.status = START
            mas.node = None
            return None
        if node_type < 2:
            break
    mas.end = end
    mas.offset = offset
    mas.index = lo
    mas.last = hi
    mas.min = prev_min
    mas.max = prev_max
    mas.node = last
    return nxt


def mtree_lookup_walk(mas: MaStateFields) -> Any:
    """Mirror of ``mtree_lookup_walk()``: the entry at ``mas.index``; the state is left stale.

    The kernel scans every pivot for the first one >= index; trailing pivots are zero, so
    a bisection bounded by the data end finds the same slot.
    """
    index = mas.index
    node: Any = mas.node
    while True:
        pivots = node.pivot
        node_type = node.type
        if node_type == maple_arange_64 or not pivots[-1]:
            hi = node.meta_end
        else:
            hi = len(pivots)
        nxt = node.slot[bisect_left(pivots, index, 0, hi)]
        if node.parent is node:
            mas.status = START
            mas.node = None
            return None
        if node_type < 2:
            return nxt
        node = nxt


def mas_state_walk(mas: MaStateFields) -> Any:
    """Mirror of ``mas_state_walk()``."""
    entry = mas_start(mas)
    if mas.status == NONE:
        return None
    if mas.status == ROOT:
        return entry
    return mtree_range_walk(mas)


def mas_walk(mas: MaStateFields) -> Any:
    """Mirror of ``mas_walk()``: the entry at ``mas.index``; ``index``/``last`` become its range.

    NULL ranges are reported at their full extent.  Empty tree: ``[0, ULONG_MAX]``; a
    single entry at 0 walked elsewhere: ``[1, ULONG_MAX]`` with status ``ma_none``.
    """
    if mas.status != ACTIVE and mas.status != START:
        mas.status = START
    while True:
        entry = mas_state_walk(mas)
        if mas.status != START:
            break
    if mas.status == NONE:
        mas.index = 0
        mas.last = ULONG_MAX
    elif mas.status == ROOT:
        if not mas.index:
            mas.last = 0
            return entry
        mas.index = 1
        mas.last = ULONG_MAX
        mas.status = NONE
        return None
    return entry


def mas_rewalk(mas: MaStateFields, index: int) -> None:
    """Mirror of ``mas_rewalk()``: restart from the root at ``index``."""
    while True:
        mas_set(mas, index)
        mas_state_walk(mas)
        if mas.status != START:
            return


def mas_rewalk_if_dead(mas: MaStateFields, node: MapleNode, index: int) -> bool:
    """Mirror of ``mas_rewalk_if_dead()``."""
    if node.parent is node:
        mas_rewalk(mas, index)
        return True
    return False


def mas_reset(mas: MaStateFields) -> None:
    """Mirror of ``mas_reset()``: the next operation walks from the root."""
    mas.status = START
    mas.node = None


def __mas_set_range(mas: MaStateFields, start: int, last: int) -> None:
    """Mirror of ``__mas_set_range()``: change the range but keep the position.

    The kernel WARNs (MAS_WARN_ON) when an active state's current slot does not contain
    ``start``; the model raises, so a ported caller cannot silently misuse it.
    """
    if mas.status == ACTIVE and (mas.index > start or mas.last < start):
        raise AssertionError(
            f"__mas_set_range: start {start:#x} is outside the current slot "
            f"[{mas.index:#x}, {mas.last:#x}] of an active state"
        )
    mas.index = start
    mas.last = last


def mas_set_range(mas: MaStateFields, start: int, last: int) -> None:
    """Mirror of ``mas_set_range()``: reset to ``ma_start`` for the range ``[start, last]``."""
    mas_reset(mas)
    __mas_set_range(mas, start, last)


def mas_set(mas: MaStateFields, index: int) -> None:
    """Mirror of ``mas_set()``."""
    mas_reset(mas)
    mas.index = index
    mas.last = index


def mas_pause(mas: MaStateFields) -> None:
    """Mirror of ``mas_pause()``: the next find/next resumes after ``mas.last``."""
    mas.status = PAUSE
    mas.node = None


def mas_prev_node(mas: MaStateFields, lo: int) -> int:
    """Mirror of ``mas_prev_node()``: move to the previous node at the same level.

    On success ``mas.node`` is that node and ``offset`` its data end; without one the
    status becomes ``ma_underflow``.  Returns 1 on a dead node.
    """
    node = mas.node
    assert node is not None
    if not mas.min:
        return _prev_no_entry(mas, node)
    hi = mas.min - 1
    if hi < lo:
        return _prev_no_entry(mas, node)
    level = 0
    while True:
        if node.is_root:
            return _prev_no_entry(mas, node)
        if mas_ascend(mas):
            return 1
        offset = mas.offset
        level += 1
        node = mas.node
        assert node is not None
        if offset:
            break
    offset -= 1
    while level > 1:
        level -= 1
        child = node.slot[offset]
        mas.node = child
        if node.dead:
            return 1
        node = child
        offset = ma_data_end(node, node.type, node.pivot, hi)
        if node.dead:
            return 1
    child = node.slot[offset]
    mas.node = child
    pivots = node.pivot
    if node.dead:
        return 1
    if offset:
        mas.min = pivots[offset - 1] + 1
    mas.max = hi
    mas.offset = mas_data_end(mas)
    if child.dead:
        return 1
    mas.end = mas.offset
    return 0


def _prev_no_entry(mas: MaStateFields, node: MapleNode) -> int:
    if node.dead:
        return 1
    mas.status = UNDERFLOW
    return 0


def mas_prev_slot(mas: MaStateFields, lo: int, empty: bool) -> Any:
    """Mirror of ``mas_prev_slot()``: the entry of the previous slot (NULL too if ``empty``)."""
    save_point = mas.index
    while True:  # retry
        node = mas.node
        assert node is not None
        pivots = node.pivot
        if mas_rewalk_if_dead(mas, node, save_point):
            continue
        if mas.min <= lo:
            pivot = mas_safe_min(mas, pivots, mas.offset)
            if pivot <= lo:
                mas.status = UNDERFLOW
                return None
        retry = False
        while True:  # again
            if mas.offset:
                mas.offset -= 1
                mas.last = mas.index - 1
                mas.index = mas_safe_min(mas, pivots, mas.offset)
            else:
                if mas.index <= lo:
                    mas.status = UNDERFLOW
                    return None
                if mas_prev_node(mas, lo):
                    mas_rewalk(mas, save_point)
                    retry = True
                    break
                if mas.status == UNDERFLOW:
                    # WARN_ON_ONCE in the kernel: mas_prev_node() found nothing.
                    return None
                mas.last = mas.max
                node = mas.node
                assert node is not None
                pivots = node.pivot
                mas.index = pivots[mas.offset - 1] + 1
            entry = node.slot[mas.offset]
            if mas_rewalk_if_dead(mas, node, save_point):
                retry = True
                break
            if entry is not None:
                return entry
            if not empty:
                if mas.index <= lo:
                    mas.status = UNDERFLOW
                    return None
                continue
            return entry
        if retry:
            continue


def mas_next_node(mas: MaStateFields, node: MapleNode, hi: int) -> int:
    """Mirror of ``mas_next_node()``: move to the next node at the same level.

    On success ``mas.node`` is that node with ``min``/``max``/``end`` set (the caller sets
    ``offset``); past ``hi`` or the end of the tree the status becomes ``ma_overflow``.
    Returns 1 on a dead node.
    """
    if mas.max >= hi:
        return _next_overflow(mas, node)
    lo = mas.max + 1
    level = 0
    while True:
        if node.is_root:
            return _next_overflow(mas, node)
        if mas_ascend(mas):
            return 1
        level += 1
        parent = mas.node
        assert parent is not None
        node = parent
        node_type = node.type
        pivots = node.pivot
        node_end = ma_data_end(node, node_type, pivots, mas.max)
        if node.dead:
            return 1
        if mas.offset != node_end:
            break
    mas.offset += 1
    enode = node.slot[mas.offset]
    if node.dead:
        return 1
    if level > 1:
        mas.offset = 0
    while level > 1:
        level -= 1
        mas.node = enode
        node = enode
        node_type = node.type
        enode = node.slot[0]
        if node.dead:
            return 1
    if not mas.offset:
        pivots = node.pivot
    mas.max = mas_safe_pivot(mas, pivots, mas.offset, node_type)
    mas.end = ma_data_end(enode, enode.type, enode.pivot, mas.max)
    if node.dead:
        return 1
    mas.node = enode
    mas.min = lo
    return 0


def _next_overflow(mas: MaStateFields, node: MapleNode) -> int:
    if node.dead:
        return 1
    mas.status = OVERFLOW
    return 0


def mas_next_slot(mas: MaStateFields, hi: int, empty: bool) -> Any:
    """Mirror of ``mas_next_slot()``: the entry of the next slot (NULL too if ``empty``)."""
    save_point = mas.last
    while True:  # retry
        node = mas.node
        assert node is not None
        pivots = node.pivot
        if mas_rewalk_if_dead(mas, node, save_point):
            continue
        if mas.max >= hi:
            pivot = pivots[mas.offset] if mas.offset < mas.end else mas.max
            if pivot >= hi:  # was at the limit, the next slot lies beyond it
                mas.status = OVERFLOW
                return None
        if mas.offset < mas.end:
            mas.index = pivots[mas.offset] + 1
            step = True
        else:
            if mas.last >= hi:
                mas.status = OVERFLOW
                return None
            if mas_next_node(mas, node, hi):
                mas_rewalk(mas, save_point)
                continue
            if mas.status == OVERFLOW:  # WARN_ON_ONCE in the kernel
                return None
            mas.offset = 0
            mas.index = mas.min
            node = mas.node
            assert node is not None
            pivots = node.pivot
            mas.last = pivots[0]
            step = False
        while True:  # the kernel's "again" label
            if step:
                mas.offset += 1
                mas.last = pivots[mas.offset] if mas.offset < mas.end else mas.max
            entry = node.slot[mas.offset]
            if mas_rewalk_if_dead(mas, node, save_point):
                break
            if entry is not None or empty:
                return entry
            if mas.last >= hi:
                mas.status = OVERFLOW
                return None
            mas.index = mas.last + 1
            step = True


def mas_may_activate(mas: MaStateFields) -> None:
    """Mirror of ``mas_may_activate()`` (7.0): active only if the node still covers index."""
    if mas.node is None or mas.index > mas.max or mas.index < mas.min:
        mas.status = START
    else:
        mas.status = ACTIVE


def mas_next_setup(mas: MaStateFields, hi: int) -> tuple[bool, Any]:
    """Mirror of ``mas_next_setup()``; returns ``(done, entry)``."""
    was_none = mas.status == NONE
    entry: Any = None
    if mas.last >= hi:
        mas.status = OVERFLOW
        return True, None
    status = mas.status
    if status == ACTIVE:
        return False, None
    if status in (NONE, PAUSE, START):
        mas.status = START
        mas_walk(mas)
    elif status == OVERFLOW:
        mas_may_activate(mas)
    elif status == UNDERFLOW:
        mas_may_activate(mas)
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif status == ROOT:
        pass
    elif status == ERROR:
        return True, None
    if mas.status == ACTIVE:
        return False, None
    if mas.status == ROOT:
        if was_none and mas.index == 0:
            mas.index = mas.last = 0
            return True, None
        mas.index = 1
        mas.last = ULONG_MAX
        mas.status = NONE
        return True, None
    if mas.status == NONE:
        return True, None
    return False, None


def mas_next(mas: MaStateFields, hi: int) -> Any:
    """Mirror of ``mas_next()``: the next non-NULL entry after the current range, up to ``hi``."""
    done, entry = mas_next_setup(mas, hi)
    if done:
        return entry
    return mas_next_slot(mas, hi, False)


def mas_next_range(mas: MaStateFields, hi: int) -> Any:
    """Mirror of ``mas_next_range()``: advance exactly one range, NULL or not."""
    done, entry = mas_next_setup(mas, hi)
    if done:
        return entry
    return mas_next_slot(mas, hi, True)


def mas_prev_setup(mas: MaStateFields, lo: int) -> tuple[bool, Any]:
    """Mirror of ``mas_prev_setup()``; returns ``(done, entry)``."""
    if mas.index <= lo:
        mas.status = UNDERFLOW
        return True, None
    status = mas.status
    if status == ACTIVE:
        return False, None
    if status == START:
        pass
    elif status in (NONE, PAUSE):
        mas.status = START
    elif status == UNDERFLOW:
        mas_may_activate(mas)
    elif status == OVERFLOW:
        mas_may_activate(mas)
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif status == ROOT:
        pass
    elif status == ERROR:
        return True, None
    if mas.status == START:
        mas_walk(mas)
    if mas.status == ROOT:
        if not mas.index:
            mas.status = NONE
            return True, None
        mas.index = mas.last = 0
        return True, mas.tree.ma_root
    if mas.status == NONE:
        if mas.index:
            mas.index = mas.last = 0
            mas.status = ROOT
            return True, mas.tree.ma_root
        return True, None
    return False, None


def mas_prev(mas: MaStateFields, lo: int) -> Any:
    """Mirror of ``mas_prev()``: the previous non-NULL entry, down to ``lo``."""
    done, entry = mas_prev_setup(mas, lo)
    if done:
        return entry
    return mas_prev_slot(mas, lo, False)


def mas_prev_range(mas: MaStateFields, lo: int) -> Any:
    """Mirror of ``mas_prev_range()``: step back exactly one range, NULL or not."""
    done, entry = mas_prev_setup(mas, lo)
    if done:
        return entry
    return mas_prev_slot(mas, lo, True)


def mas_find_setup(mas: MaStateFields, hi: int) -> tuple[bool, Any]:
    """Mirror of ``mas_find_setup()``; returns ``(done, entry)``."""
    status = mas.status
    entry: Any = None
    if status == ACTIVE:
        if mas.last < hi:
            return False, None
        return True, None
    if status == START:
        pass
    elif status == PAUSE:
        if mas.last >= hi:
            return True, None
        mas.last += 1
        mas.index = mas.last
        mas.status = START
    elif status == NONE:
        if mas.last >= hi:
            return True, None
        mas.index = mas.last
        mas.status = START
    elif status == UNDERFLOW:
        if mas.index >= hi:
            mas.status = OVERFLOW
            return True, None
        mas_may_activate(mas)
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif status == OVERFLOW:
        if mas.last >= hi:
            return True, None
        mas_may_activate(mas)
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif status == ROOT:
        pass
    elif status == ERROR:
        return True, None

    if mas.status == START:
        if mas.index > hi:
            return True, None
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    if mas.status == ROOT:
        mas.status = NONE
        mas.index = 1
        mas.last = ULONG_MAX
        return True, None
    if mas.status == NONE:
        return True, None
    if mas.index == hi:
        return True, None
    return False, None


def mas_find(mas: MaStateFields, hi: int) -> Any:
    """Mirror of ``mas_find()``: first call: the entry at or after ``index``; then the next one.

    Skips NULL ranges; ``hi`` is inclusive.  Running off the end leaves the status
    ``ma_active`` (the kernel's "Ignore overflow"), so a following ``mas_prev`` works.
    """
    done, entry = mas_find_setup(mas, hi)
    if done:
        return entry
    entry = mas_next_slot(mas, hi, False)
    mas.status = ACTIVE
    return entry


def mas_find_range(mas: MaStateFields, hi: int) -> Any:
    """Mirror of ``mas_find_range()``: like mas_find, but later calls also return NULL ranges."""
    done, entry = mas_find_setup(mas, hi)
    if done:
        return entry
    return mas_next_slot(mas, hi, True)


def mas_find_rev_setup(mas: MaStateFields, lo: int) -> tuple[bool, Any]:
    """Mirror of ``mas_find_rev_setup()``; returns ``(done, entry)``."""
    status = mas.status
    entry: Any = None
    if status == ACTIVE:
        return (True, None) if mas.index < lo else (False, None)
    if status == START:
        pass
    elif status == PAUSE:
        if mas.index <= lo:
            mas.status = UNDERFLOW
            return True, None
        mas.index -= 1
        mas.last = mas.index
        mas.status = START
    elif status == NONE:
        if mas.index <= lo:
            mas.status = NONE
            return True, None
        mas.last = mas.index
        mas.status = START
    elif status == OVERFLOW:
        if mas.index <= lo:
            mas.status = UNDERFLOW
            return True, None
        mas.status = ACTIVE
    elif status == UNDERFLOW:
        if mas.index <= lo:
            return True, None
        mas.status = ACTIVE
    elif status == ROOT:
        pass
    elif status == ERROR:
        return True, None

    if mas.status == START:
        if mas.index < lo:
            return True, None
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    if mas.status == ROOT:
        mas.status = NONE
        return True, None
    if mas.status == NONE:
        # Walked to the location and found nothing: the previous location is 0.
        mas.last = mas.index = 0
        mas.status = ROOT
        return True, mas.tree.ma_root
    if mas.index < lo:
        return True, None
    return False, None


def mas_find_rev(mas: MaStateFields, lo: int) -> Any:
    """Mirror of ``mas_find_rev()``: first non-NULL entry at or below ``index`` down to ``lo``."""
    done, entry = mas_find_rev_setup(mas, lo)
    if done:
        return entry
    return mas_prev_slot(mas, lo, False)


def mas_find_range_rev(mas: MaStateFields, lo: int) -> Any:
    """Mirror of ``mas_find_range_rev()``: like mas_find_rev, later calls return NULLs too."""
    done, entry = mas_find_rev_setup(mas, lo)
    if done:
        return entry
    return mas_prev_slot(mas, lo, True)


def mt_find_walk(mas: MaStateFields, hi: int) -> Any:
    """The body of ``mt_find()`` after its argument check; zero entries read as NULL."""
    while True:
        entry = mas_state_walk(mas)
        if mas.status != START:
            break
    if xa_is_zero(entry):
        entry = None
    if entry is not None:
        return entry
    while mas.status == ACTIVE and mas.last < hi:
        entry = mas_next_slot(mas, hi, False)
        if entry is not None and not xa_is_zero(entry):
            break
    if xa_is_zero(entry):
        entry = None
    return entry
