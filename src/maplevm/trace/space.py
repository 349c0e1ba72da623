"""One address space as a replay sees it: the model's MM beside the kernel's VMAs as the
trace shows them, and the rows (maps line, VmFlags) both are compared by."""

from __future__ import annotations

import difflib
from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any

from maplevm.mm.flags import PAGE_SIZE, VM_GROWSDOWN, vmflags_text
from maplevm.mm.mm_struct import MM
from maplevm.mm.proc_maps import maps_line, smaps_entries
from maplevm.mm.vm_area import VmArea
from maplevm.trace.events import Edit, VmaLine
from maplevm.trace.format import TraceStep
from maplevm.trace.result import Divergence
from maplevm.tree.normal import mt_find

Row = tuple[str, str]  # (maps line, VmFlags)
Range = tuple[int, int]
PAGE_MASK = ~(PAGE_SIZE - 1)


def page_range(start: int, length: int) -> Range:
    lo = start & PAGE_MASK
    hi = (start + length + PAGE_SIZE - 1) & PAGE_MASK
    return lo, max(hi, lo)


class Space:
    """One address space: the model's MM beside the kernel's maps as the trace shows them."""

    def __init__(self, mm: MM, kernel: Iterable[VmaLine]) -> None:
        self.mm = mm
        self.kernel: dict[int, VmaLine] = {}
        self.starts: list[int] = []
        for v in kernel:
            self.kernel[v.start] = v
        self.starts = sorted(self.kernel)
        # model ranges changed since the last check (None: anything may have changed)
        self.dirty: list[Range] | None = []
        self.last_step: int | None = None
        self.last_call: TraceStep | str | None = None
        self.needs_resync = False
        self.pending_after: Divergence | None = None
        self._rows: dict[int, tuple[tuple[Any, ...], Row]] = {}

    # -- the kernel's side ---------------------------------------------------------------

    def apply(self, edits: list[Edit]) -> tuple[list[Range], list[VmaLine]]:
        """Applies the kernel's maps changes.  Returns the ranges they touched and the VMAs
        that now start lower with the same end (a stack grown by faults, or a merge)."""
        touched: list[Range] = []
        added: list[VmaLine] = []
        removed: dict[int, int] = {}  # end -> start of VMAs this change removed
        for edit in edits:
            if isinstance(edit, int):
                old = self.kernel.pop(edit, None)
                if old is not None:
                    i = bisect_left(self.starts, edit)
                    del self.starts[i]
                    touched.append((old.start, old.end))
                    removed[old.end] = old.start
            else:
                start = edit.start
                if start not in self.kernel:
                    insort(self.starts, start)
                self.kernel[start] = edit
                touched.append((start, edit.end))
                added.append(edit)
        # (in address order the lower, new VMA comes before the removal of the old one)
        lowered = [v for v in added if removed.get(v.end, 0) > v.start]
        return touched, lowered

    def kernel_rows(self, lo: int, hi: int) -> list[Row]:
        """Kernel VMAs meeting [lo, hi] (touching ones included)."""
        out: list[Row] = []
        i = max(bisect_left(self.starts, lo) - 1, 0)
        while i < len(self.starts):
            v = self.kernel[self.starts[i]]
            i += 1
            if v.start > hi:
                break
            if v.end >= lo and v.start < (1 << 63):
                out.append((v.line, v.vmflags))
        return out

    def kernel_maps(self, lo: int, hi: int) -> list[str]:
        """The maps lines of :meth:`kernel_rows` (no VmFlags)."""
        out: list[str] = []
        starts = self.starts
        kernel = self.kernel
        n = len(starts)
        i = max(bisect_left(starts, lo) - 1, 0)
        while i < n:
            v = kernel[starts[i]]
            i += 1
            if v.start > hi:
                break
            if v.end >= lo and v.start < (1 << 63):
                out.append(v.line)
        return out

    def kernel_lines(self) -> list[VmaLine]:
        return [self.kernel[s] for s in self.starts]

    # -- the model's side ----------------------------------------------------------------

    def forget_rows(self) -> None:
        """Drops the rendered rows (a file's name or inode number changed)."""
        self._rows.clear()

    def model_rows(self, lo: int, hi: int) -> list[Row]:
        """Model VMAs meeting [lo - 1, hi]: touching neighbours included, as in kernel_rows."""
        mm = self.mm
        cache = self._rows
        if len(cache) > 4 * mm.map_count + 4096:
            cache.clear()  # entries of VMAs that are gone
        heap = (mm.brk, mm.start_brk, mm.start_stack)
        out: list[Row] = []
        mt = mm.mm_mt
        # mt_find from VMA to VMA: a window holds a few, and items() gathers whole leaves
        v = mt_find(mt, max(lo - 1, 0), hi)[0]
        while v is not None:
            # a VMA's line changes only with these (the name of an anonymous one also with
            # the break and the stack), so rendered rows are kept between checks
            file = v.vm_file
            ops = v.vm_ops
            key = (
                v.vm_start,
                v.vm_end,
                v.vm_flags,
                v.vm_pgoff,
                file,
                ops,
                v.anon_name,
                heap if file is None and ops is None else None,
            )
            hit = cache.get(id(v))
            if hit is not None and hit[0] == key:
                out.append(hit[1])
            else:
                row = (maps_line(v), flags_text(v.vm_flags))
                cache[id(v)] = (key, row)
                out.append(row)
            end = v.vm_end
            v = mt_find(mt, end, hi)[0] if end <= hi else None
        return out

    def model_maps(self, lo: int, hi: int) -> list[str]:
        """The maps lines of :meth:`model_rows` (no VmFlags)."""
        return [row[0] for row in self.model_rows(lo, hi)]

    def model_all(self) -> list[Row]:
        return [(line, flags) for line, flags, _anon in smaps_entries(self.mm)]


_FLAGS_TEXT: dict[int, str] = {}


def flags_text(flags: int) -> str:
    """``vmflags_text()``, memoised: a replay asks for the same few values all the time."""
    text = _FLAGS_TEXT.get(flags)
    if text is None:
        text = _FLAGS_TEXT[flags] = vmflags_text(flags)
    return text


def grow(mm: MM, low: VmaLine) -> VmArea | None:
    """Grows the model's VM_GROWSDOWN VMA ending at ``low.end`` down to ``low.start`` with a
    fault there (``expand_stack()``); returns the VMA now at ``low.start``, if any."""
    from maplevm.mm.mmap import find_vma

    vma = find_vma(mm, low.start)
    if (
        vma is not None
        and vma.vm_start > low.start
        and vma.vm_flags & VM_GROWSDOWN
        and vma.vm_end == low.end
    ):
        mm.fault(low.start, write=True)
        vma = find_vma(mm, low.start)
    return vma


def merge_ranges(ranges: list[Range]) -> list[Range]:
    if len(ranges) < 2:
        return ranges
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + PAGE_SIZE:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def same_rows(kernel: list[Row], model: list[Row]) -> bool:
    """Equal maps lines, and equal VmFlags where the kernel's are known (strace logs and
    plain maps files have none)."""
    if kernel == model:
        return True
    if len(kernel) != len(model):
        return False
    return all(
        k[0] == m[0] and (not k[1] or k[1] == m[1]) for k, m in zip(kernel, model, strict=True)
    )


def blank_unknown(kernel: list[Row], model: list[Row]) -> list[Row]:
    """The model's rows with VmFlags hidden when the kernel's are unknown (for diffs of
    strace logs and plain maps files)."""
    if all(k[1] for k in kernel):
        return model
    return [(m[0], "") for m in model]


def row_text(row: Row) -> str:
    return f"{row[0].rstrip()}  [{row[1]}]"


def rows_diff(kernel: list[Row], model: list[Row]) -> list[str]:
    a = [row_text(r) for r in kernel]
    b = [row_text(r) for r in model]
    return list(difflib.unified_diff(a, b, "kernel", "model", lineterm="", n=2))


def around(rows: list[Row], addrs: list[int], context: int = 3) -> list[str]:
    """Rows near the given addresses (for showing a divergence)."""
    if not rows:
        return []
    starts = [int(r[0].split("-", 1)[0], 16) for r in rows]
    keep: set[int] = set()
    for a in addrs:
        i = max(bisect_left(starts, a) - 1, 0)
        keep.update(range(max(i - context, 0), min(i + context + 2, len(rows))))
    return [row_text(rows[i]) for i in sorted(keep)]
