"""Start an address space from what /proc shows: a maps (and smaps) listing.

``/proc/PID/maps`` gives ranges, permissions, offsets and names; smaps adds the VM flags
and which VMAs hold anonymous pages (hence have an anon_vma).  What neither shows is
guessed the way the kernel would have set it: anonymous ``vm_pgoff`` is ``vm_start >> 12``
(as mmap and brk set it), a VMA with anonymous pages has its own anon_vma with all its
pages present, VMAs of one file path share one open file, special mappings ([vdso],
[vvar], ...) get the special-mapping hooks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from maplevm.mm.flags import (
    PAGE_SHIFT,
    VM_ACCOUNT,
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_IO,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_PFNMAP,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    vmflags_from_text,
)
from maplevm.mm.mm_struct import MM
from maplevm.mm.mmap import vm_stat_account
from maplevm.mm.profile import KernelProfile
from maplevm.mm.vm_area import AnonVma, Inode, OpenFile, VmArea, VmOps
from maplevm.mm.vma import anon_vma_compatible
from maplevm.tree.state import MaStateFields
from maplevm.tree.write import mas_store_gfp

_LINE = re.compile(
    r"^(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+) (?P<perms>[-r][-w][-x][ps]) "
    r"(?P<offset>[0-9a-f]+) (?P<dev>[0-9a-f]+:[0-9a-f]+) (?P<inode>\d+) ?(?P<rest>.*)$"
)
SPECIAL_OPS = {
    "[vdso]": VmOps(name="[vdso]", close=True, split_errno=22, special=True),
    # No vm_ops->mremap refuses on 6.18 x86_64: a whole [vvar] or [vvar_vclock] moves
    # with MREMAP_FIXED (recorded in tests/fixtures/recordings/mremap-special.jsonl).
    "[vvar]": VmOps(name="[vvar]", close=True, split_errno=22, special=True),
    "[vvar_vclock]": VmOps(name="[vvar_vclock]", close=True, split_errno=22, special=True),
    "[uprobes]": VmOps(name="[uprobes]", close=True, split_errno=22, special=True),
}
VSYSCALL_START = 0xFFFFFFFFFF600000


def _guess_flags(perms: str, name: str, has_file: bool) -> int:
    flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    if perms[0] == "r":
        flags |= VM_READ
    if perms[1] == "w":
        flags |= VM_WRITE
    if perms[2] == "x":
        flags |= VM_EXEC
    if perms[3] == "s":
        flags |= VM_MAYSHARE | VM_SHARED
    if name == "[stack]":
        flags |= VM_GROWSDOWN | VM_ACCOUNT
    elif name.startswith("[vvar"):
        flags = VM_READ | VM_MAYREAD | VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP
    elif name == "[vdso]":
        flags = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_DONTEXPAND
    elif perms[1] == "w" and perms[3] == "p":
        # accountable_mapping(): private writable memory, file-backed or not
        flags |= VM_ACCOUNT
    return flags


def mm_from_entries(
    entries: Iterable[tuple[str, str | None, bool | None]],
    *,
    profile: KernelProfile | None = None,
    start_brk: int | None = None,
    brk: int | None = None,
    start_stack: int | None = None,
    end_data: int = 0,
    start_data: int = 0,
) -> MM:
    """An MM holding one VMA per ``(maps line, VmFlags or None, has anon pages or None)``."""
    mm = MM(profile)
    files: dict[tuple[str, int, str], OpenFile] = {}
    vmas: list[VmArea] = []
    heap: VmArea | None = None
    for line, vmflags, anon in entries:
        m = _LINE.match(line.rstrip("\n"))
        if m is None:
            raise ValueError(f"not a maps line: {line!r}")
        start, end = int(m["start"], 16), int(m["end"], 16)
        if start >= VSYSCALL_START:
            continue  # the gate page is not a VMA
        name = m["rest"].strip()
        ino = int(m["inode"])
        has_file = ino != 0
        flags = vmflags_from_text(vmflags) if vmflags is not None else None
        if flags is None:
            flags = _guess_flags(m["perms"], name, has_file)
        file: OpenFile | None = None
        pgoff = start >> PAGE_SHIFT
        if has_file:
            deleted = name.endswith(" (deleted)")
            path = name[: -len(" (deleted)")] if deleted else name
            key = (m["dev"], ino, path)
            if key not in files:
                shmem = m["dev"] == "00:01"
                inode = Inode(dev=m["dev"], ino=ino, path=path, shmem=shmem, deleted=deleted)
                inode.size = 1 << 40  # unknown: large enough for every page shown
                files[key] = OpenFile(inode)
            file = files[key]
            pgoff = int(m["offset"], 16) >> PAGE_SHIFT
        elif name in SPECIAL_OPS:
            pgoff = 0
        vma = VmArea(mm, start, end, flags, pgoff, file)
        if name in SPECIAL_OPS:
            vma.vm_ops = SPECIAL_OPS[name]
        if anon:
            # The second of two adjacent compatible VMAs to fault took the first one's
            # anon_vma (find_mergeable_anon_vma()): e.g. bss and [heap], or the halves of
            # a data segment split by RELRO; so later merges between them are allowed.
            last = vmas[-1] if vmas else None
            if last is not None and last.anon_vma is not None and anon_vma_compatible(last, vma):
                anon_vma = last.anon_vma
            else:
                anon_vma = AnonVma()
            vma.anon_vma = anon_vma
            vma.anon_vma_chain = (anon_vma,)
            mm.add_anon_pages(start, end)
        if name == "[stack]" and start_stack is None:
            start_stack = end - 1
        if name == "[heap]" and heap is None:
            heap = vma
        vmas.append(vma)
    for vma in vmas:
        mas = MaStateFields(mm.mm_mt, vma.vm_start, vma.vm_end - 1)
        if mas_store_gfp(mas, vma):
            raise MemoryError("seeding the maple tree failed")
        vma.attached = True
        mm.map_count += 1
        vm_stat_account(mm, vma.vm_flags, vma.pages())
    if start_brk is None and heap is not None:
        start_brk = heap.vm_start
    if brk is None and heap is not None:
        brk = heap.vm_end
    mm.start_brk = start_brk or 0
    mm.brk = brk if brk is not None else mm.start_brk
    mm.start_stack = start_stack or 0
    mm.end_data = end_data
    mm.start_data = start_data
    return mm


def from_proc_maps(
    maps_text: str,
    *,
    smaps_text: str | None = None,
    start_brk: int | None = None,
    brk: int | None = None,
    profile: KernelProfile | None = None,
) -> MM:
    """``MM.from_proc_maps()``: an MM from any process's maps (and smaps) text."""
    lines = [ln for ln in maps_text.splitlines() if ln.strip()]
    flags: Sequence[str | None] = [None] * len(lines)
    anon: Sequence[bool | None] = [None] * len(lines)
    if smaps_text is not None:
        parsed = _parse_smaps(smaps_text)
        by_range = {_range_key(ln): (f, a) for ln, f, a in parsed}
        flags = [by_range.get(_range_key(ln), (None, None))[0] for ln in lines]
        anon = [by_range.get(_range_key(ln), (None, None))[1] for ln in lines]
    heap = next((ln for ln in lines if ln.rstrip().endswith("[heap]")), None)
    if heap is not None:
        h = _LINE.match(heap)
        assert h is not None
        if start_brk is None:
            start_brk = int(h["start"], 16)
        if brk is None:
            brk = int(h["end"], 16)
    return mm_from_entries(
        zip(lines, flags, anon, strict=True), profile=profile, start_brk=start_brk, brk=brk
    )


def _range_key(line: str) -> str:
    return line.split(" ", 1)[0]


def _parse_smaps(text: str) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    current: list[object] | None = None
    for raw in text.splitlines():
        if _LINE.match(raw) and not raw.startswith(("VmFlags:", "Anonymous:")):
            if current is not None:
                out.append((str(current[0]), str(current[1]), bool(current[2])))
            current = [raw, "", False]
        elif current is not None and raw.startswith("VmFlags:"):
            current[1] = " ".join(raw[len("VmFlags:") :].split())
        elif current is not None and raw.startswith("Anonymous:"):
            current[2] = int(raw.split()[1]) > 0
    if current is not None:
        out.append((str(current[0]), str(current[1]), bool(current[2])))
    return out
