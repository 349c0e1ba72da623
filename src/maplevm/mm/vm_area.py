"""``struct vm_area_struct`` and what it points to: files, anon_vmas, special-mapping ops.

Only what decides kernel behaviour is modelled:

* ``vm_file`` is an :class:`OpenFile` (a ``struct file``: merges need the *same* open
  file, not just the same inode) over an :class:`Inode` (device, number, path, size,
  filesystem).
* ``anon_vma`` is an :class:`AnonVma` identity, and ``anon_vma_chain`` the anon_vmas the VMA
  is linked to: one for a VMA that faulted itself, more for a fork child, which is what
  ``vma_is_fork_child()`` tests (``!list_is_singular(&vma->anon_vma_chain)``).
* ``vm_ops`` (:class:`VmOps`) stands for the driver hooks that change VMA operations:
  special mappings ([vdso], [vvar], ...) have a ``close`` hook (so a merge may not remove
  them), refuse ``may_split``, and name themselves.
* userfaultfd context, NUMA policy and the anon name are kept as values that block
  merges when they differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any

from maplevm.mm.flags import PAGE_SHIFT, VM_MAYWRITE, VM_SHARED

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

_addr = count()
_VMA_BASE = 0xFFFF_8883_0000_0000


@dataclass(eq=False)
class Inode:
    """An inode as /proc/PID/maps shows it: device, number and path; plus size and fs."""

    dev: str
    ino: int
    path: str
    size: int = 0
    fs: str = "ext4"
    shmem: bool = False
    deleted: bool = False

    @property
    def maps_path(self) -> str:
        return self.path + (" (deleted)" if self.deleted else "")


@dataclass(eq=False)
class OpenFile:
    """A ``struct file``: one open of an inode, with its access mode."""

    inode: Inode
    readable: bool = True
    writable: bool = True
    noexec: bool = False

    def __repr__(self) -> str:
        mode = ("r" if self.readable else "") + ("w" if self.writable else "")
        return f"<file {self.inode.path} {mode}>"


class AnonVma:
    """An ``anon_vma``: only its identity matters to merging."""

    __slots__ = ("serial",)
    _serials = count(1)

    def __init__(self) -> None:
        self.serial = next(AnonVma._serials)

    def __repr__(self) -> str:
        return f"<anon_vma #{self.serial}>"


@dataclass(frozen=True)
class VmOps:
    """The ``vm_operations_struct`` behaviours the VMA code consults.

    ``name``: what /proc/PID/maps prints (``vm_ops->name``); ``close``: has a close hook
    (no merge may remove the VMA); ``split_errno``: ``may_split`` refuses with this errno;
    ``mremap_errno``: moving the mapping is refused with this errno (``vm_ops->mremap``).
    """

    name: str | None = None
    close: bool = False
    split_errno: int = 0
    mremap_errno: int = 0
    special: bool = False

    def may_split(self, vma: VmArea, addr: int) -> int:
        return -self.split_errno if self.split_errno else 0


class VmArea:
    """``struct vm_area_struct``: the range ``[vm_start, vm_end)`` (exclusive end) and its
    properties.  ``vm_pgoff`` is in pages: the file offset, or for private anonymous
    memory ``vm_start >> PAGE_SHIFT`` at creation (what makes neighbours mergeable)."""

    __slots__ = (
        "anon_name",
        "anon_vma",
        "anon_vma_chain",
        "attached",
        "dump_addr",
        "vm_end",
        "vm_file",
        "vm_flags",
        "vm_mm",
        "vm_ops",
        "vm_pgoff",
        "vm_policy",
        "vm_start",
        "vm_userfaultfd_ctx",
    )

    def __init__(
        self,
        mm: MM,
        vm_start: int,
        vm_end: int,
        vm_flags: int,
        vm_pgoff: int = 0,
        vm_file: OpenFile | None = None,
    ) -> None:
        self.vm_mm = mm
        self.vm_start = vm_start
        self.vm_end = vm_end
        self.vm_flags = vm_flags
        self.vm_pgoff = vm_pgoff
        self.vm_file = vm_file
        self.anon_vma: AnonVma | None = None
        self.anon_vma_chain: tuple[AnonVma, ...] = ()
        self.anon_name: str | None = None
        self.vm_userfaultfd_ctx: Any = None
        self.vm_policy: Any = None
        self.vm_ops: VmOps | None = None
        self.attached = False
        self.dump_addr = _VMA_BASE + (next(_addr) << 8)

    def __repr__(self) -> str:
        return f"<VmArea {self.vm_start:#x}-{self.vm_end:#x} flags {self.vm_flags:#x}>"

    def pages(self) -> int:
        """``vma_pages()``."""
        return (self.vm_end - self.vm_start) >> PAGE_SHIFT

    def dup(self) -> VmArea:
        """``vm_area_dup()``: a copy (the anon_vma chain is cloned by the caller)."""
        new = VmArea.__new__(VmArea)
        new.vm_mm = self.vm_mm
        new.vm_start = self.vm_start
        new.vm_end = self.vm_end
        new.vm_flags = self.vm_flags
        new.vm_pgoff = self.vm_pgoff
        new.vm_file = self.vm_file
        new.anon_vma = self.anon_vma
        new.anon_vma_chain = self.anon_vma_chain
        new.anon_name = self.anon_name
        new.vm_userfaultfd_ctx = self.vm_userfaultfd_ctx
        new.vm_policy = self.vm_policy
        new.vm_ops = self.vm_ops
        new.attached = False
        new.dump_addr = _VMA_BASE + (next(_addr) << 8)
        return new

    def set_range(self, start: int, end: int, pgoff: int) -> None:
        """``vma_set_range()``."""
        self.vm_start = start
        self.vm_end = end
        self.vm_pgoff = pgoff

    @property
    def is_anonymous(self) -> bool:
        """``vma_is_anonymous()``: no vm_ops (shared anonymous memory has shmem's)."""
        return self.vm_ops is None and self.vm_file is None

    @property
    def is_fork_child(self) -> bool:
        """``vma_is_fork_child()``: an anon_vma reached through more than one link."""
        return self.anon_vma is not None and len(self.anon_vma_chain) != 1

    @property
    def is_accessible(self) -> bool:
        """``vma_is_accessible()``: any of read/write/exec."""
        return bool(self.vm_flags & 0x7)

    @property
    def is_shared_maywrite(self) -> bool:
        """``vma_is_shared_maywrite()``: VM_SHARED and VM_MAYWRITE both set."""
        return self.vm_flags & (VM_SHARED | VM_MAYWRITE) == VM_SHARED | VM_MAYWRITE


def vma_pgoff_offset(vma: VmArea, addr: int) -> int:
    """``vma_pgoff_offset()``: the pgoff of ``addr`` inside ``vma``."""
    return vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT)


def anon_vma_name_eq(a: str | None, b: str | None) -> bool:
    """``anon_vma_name_eq()``."""
    return a == b


def anon_vma_clone(dst: VmArea, src: VmArea) -> None:
    """``anon_vma_clone()``: link ``dst`` to every anon_vma ``src`` is linked to."""
    dst.anon_vma_chain = src.anon_vma_chain


def unlink_anon_vmas(vma: VmArea) -> None:
    """Mirror of ``unlink_anon_vmas()``: drop the VMA's anon_vma links (and the anon_vma)."""
    vma.anon_vma = None
    vma.anon_vma_chain = ()


def anon_vma_prepare(vma: VmArea) -> None:
    """``anon_vma_prepare()``: give a VMA its anon_vma on its first anonymous fault,
    reusing a compatible neighbour's (``find_mergeable_anon_vma()``) when possible."""
    if vma.anon_vma is not None:
        return
    from maplevm.mm.vma import find_mergeable_anon_vma

    anon = find_mergeable_anon_vma(vma)
    if anon is None:
        anon = AnonVma()
    vma.anon_vma = anon
    vma.anon_vma_chain = (anon,)
