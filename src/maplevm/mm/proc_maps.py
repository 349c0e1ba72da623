"""fs/proc/task_mmu.c: /proc/PID/maps and the smaps facts the recordings keep.

Each line is ``show_map_vma()``'s: the range, ``rwxp``/``rwxs`` (``s`` when VM_MAYSHARE),
the file offset, device, inode, then, padded to column 73, the name: the file's path, the
special mapping's name, ``[heap]`` for a VMA meeting ``[start_brk, brk)``, ``[stack]`` for
the VMA holding ``start_stack``, or ``[anon:name]``.  The x86_64 ``[vsyscall]`` page is
listed last although it is no VMA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maplevm.mm.flags import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE, vmflags_text
from maplevm.mm.vm_area import VmArea

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

NAME_COLUMN = 25 + 6 * 8 - 1
VSYSCALL_START = 0xFFFFFFFFFF600000
VSYSCALL_LINE = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 ".ljust(NAME_COLUMN) + (
    " [vsyscall]"
)


def get_vma_name(vma: VmArea) -> str:
    """``get_vma_name()``: the name column of a maps line ("" for none)."""
    mm = vma.vm_mm
    if vma.vm_file is not None:
        if vma.anon_name is not None:
            return f"[anon_shmem:{vma.anon_name}]"
        return vma.vm_file.inode.maps_path
    if vma.vm_ops is not None and vma.vm_ops.name:
        return vma.vm_ops.name
    if vma.vm_start < mm.brk and vma.vm_end > mm.start_brk:
        return "[heap]"
    if vma.vm_start <= mm.start_stack <= vma.vm_end:
        return "[stack]"
    if vma.anon_name is not None:
        return f"[anon:{vma.anon_name}]"
    return ""


def maps_line(vma: VmArea) -> str:
    """``show_map_vma()``: one line of /proc/PID/maps (no newline)."""
    flags = vma.vm_flags
    perms = (
        ("r" if flags & VM_READ else "-")
        + ("w" if flags & VM_WRITE else "-")
        + ("x" if flags & VM_EXEC else "-")
        + ("s" if flags & VM_MAYSHARE else "p")
    )
    dev = "00:00"
    ino = 0
    pgoff = 0
    if vma.vm_file is not None:
        dev = vma.vm_file.inode.dev
        ino = vma.vm_file.inode.ino
        pgoff = vma.vm_pgoff << 12
    head = f"{vma.vm_start:08x}-{vma.vm_end:08x} {perms} {pgoff:08x} {dev} {ino} "
    name = get_vma_name(vma)
    if not name:
        return head
    return head.ljust(NAME_COLUMN) + " " + name


def proc_maps(mm: MM) -> str:
    """The whole /proc/PID/maps text."""
    lines = [maps_line(vma) for vma in mm.vmas()]
    if mm.gate_vma:
        lines.append(VSYSCALL_LINE)
    return "".join(line + "\n" for line in lines)


def smaps_entries(mm: MM) -> list[tuple[str, str, bool]]:
    """Per VMA (and the gate page): ``(maps line, VmFlags, has anonymous pages)``."""
    out = [
        (maps_line(vma), vmflags_text(vma.vm_flags), mm.has_anon_pages(vma.vm_start, vma.vm_end))
        for vma in mm.vmas()
    ]
    if mm.gate_vma:
        out.append((VSYSCALL_LINE, "ex", False))
    return out
