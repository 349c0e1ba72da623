"""Errors raised by the Pythonic API: ``OSError`` subclasses carrying the kernel errno.

The kernel-named API (:mod:`maplevm.kapi`) returns ``-errno`` instead, as the C functions do.
"""

from __future__ import annotations

import errno
import os


class MapleError(OSError):
    """A maple tree operation failed; ``errno`` is the kernel's, ``values`` the offending ones."""

    kernel_errno = errno.EIO

    def __init__(self, message: str, **values: object) -> None:
        detail = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        text = f"{message} ({detail})" if detail else message
        super().__init__(self.kernel_errno, text)
        self.values = values

    def __str__(self) -> str:
        name = errno.errorcode.get(self.kernel_errno, str(self.kernel_errno))
        return f"[{name}] {self.strerror}: {os.strerror(self.kernel_errno)}"


class InvalidArgument(MapleError):
    """-EINVAL: a bad range, size, bound or reserved entry."""

    kernel_errno = errno.EINVAL


class EntryExists(MapleError):
    """-EEXIST: an insert found part of its range occupied."""

    kernel_errno = errno.EEXIST


class NoSpace(MapleError):
    """-EBUSY: no gap of the requested size in the window."""

    kernel_errno = errno.EBUSY


class OutOfMemory(MapleError):
    """-ENOMEM: a node allocation failed (only through fault injection in the model)."""

    kernel_errno = errno.ENOMEM


class MapleBug(AssertionError):
    """An internal invariant the kernel would BUG()/WARN() on was violated."""


_BY_ERRNO: dict[int, type[MapleError]] = {
    errno.EINVAL: InvalidArgument,
    errno.EEXIST: EntryExists,
    errno.EBUSY: NoSpace,
    errno.ENOMEM: OutOfMemory,
}


def error_for(err: int, message: str, **values: object) -> MapleError:
    """The exception for a negative kernel errno ``err``."""
    cls = _BY_ERRNO.get(-err, MapleError)
    exc = cls(message, **values)
    if cls is MapleError:
        exc.errno = -err
    return exc


def _fmt(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 9:
        return f"{value:#x}"
    return repr(value)
