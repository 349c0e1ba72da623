"""Entries as the XArray encodes them: plain pointers, value entries and internal entries.

In C an entry is a ``void *`` whose low bits classify it.  Here any Python object is an
entry and ``None`` is NULL; the two encodings the maple tree cares about get classes of
their own so that they behave (and dump) exactly as in the kernel:

* :class:`XaValue` -- ``xa_mk_value(n)``: an integer stored in the tree; pointer bits
  ``(n << 1) | 1``.
* :class:`XaInternal` -- ``xa_mk_internal(n)``: reserved values with low bits ``10``;
  ``XA_ZERO_ENTRY`` is ``xa_mk_internal(257)``.  Such entries can never live in the root
  pointer, and the normal API reads a zero entry as NULL.
"""

from __future__ import annotations

from typing import Final

from maplevm.tree.constants import MAPLE_RESERVED_RANGE


class XaValue:
    """A value entry, ``xa_mk_value(value)``; compares equal to another with the same value."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        if not 0 <= value <= (1 << 63) - 1:
            raise ValueError(f"xa_mk_value: {value} is outside [0, LONG_MAX]")
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, XaValue) and other.value == self.value

    def __hash__(self) -> int:
        return hash((XaValue, self.value))

    def __repr__(self) -> str:
        return f"xa_mk_value({self.value})"

    @property
    def bits(self) -> int:
        """The pointer bits the kernel would hold for this entry."""
        return (self.value << 1) | 1


class XaInternal:
    """An internal entry, ``xa_mk_internal(value)`` (pointer bits ``(value << 2) | 2``)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, XaInternal) and other.value == self.value

    def __hash__(self) -> int:
        return hash((XaInternal, self.value))

    def __repr__(self) -> str:
        if self.value == 257:
            return "XA_ZERO_ENTRY"
        return f"xa_mk_internal({self.value})"

    @property
    def bits(self) -> int:
        return (self.value << 2) | 2


XA_RETRY_ENTRY: Final = XaInternal(256)
XA_ZERO_ENTRY: Final = XaInternal(257)


def xa_mk_value(v: int) -> XaValue:
    """Mirror of ``xa_mk_value()``: wrap an integer so it can be stored as an entry."""
    return XaValue(v)


def xa_to_value(entry: object) -> int:
    """Mirror of ``xa_to_value()``: the integer held by a value entry."""
    if not isinstance(entry, XaValue):
        raise TypeError(f"xa_to_value: {entry!r} is not a value entry")
    return entry.value


def xa_is_value(entry: object) -> bool:
    """Mirror of ``xa_is_value()``."""
    return isinstance(entry, XaValue)


def xa_mk_internal(v: int) -> XaInternal:
    """Mirror of ``xa_mk_internal()``."""
    return XaInternal(v)


def xa_is_internal(entry: object) -> bool:
    """Mirror of ``xa_is_internal()``: low bits ``10``."""
    return isinstance(entry, XaInternal)


def xa_is_zero(entry: object) -> bool:
    """Mirror of ``xa_is_zero()``: is this ``XA_ZERO_ENTRY``?"""
    return isinstance(entry, XaInternal) and entry.value == 257


def xa_is_advanced(entry: object) -> bool:
    """Mirror of ``xa_is_advanced()``: internal entries up to ``XA_RETRY_ENTRY``."""
    return isinstance(entry, XaInternal) and entry.value <= 256


def mt_is_reserved(entry: object) -> bool:
    """Mirror of ``mt_is_reserved()``: internal entries below ``MAPLE_RESERVED_RANGE``."""
    return isinstance(entry, XaInternal) and entry.bits < MAPLE_RESERVED_RANGE


def entry_low_bits_are_internal(entry: object) -> bool:
    """``((unsigned long)entry & 3) == 2``: such entries cannot sit in the root pointer."""
    return isinstance(entry, XaInternal)
