"""What every ported external test needs: the live kernel's recording of the ported script,
the model's run of the same script, and a way to check one upstream expectation on both.

A ported test reads like the upstream one::

    def test_mmap17() -> None:
        def expect(r: Run) -> None:
            assert r.err(1) == errno.EEXIST          # the call upstream checks
            assert r.vmas(1) == r.vmas(0)            # and what it leaves behind

        on_both("ltp-mmap17", expect)

``on_both`` runs ``expect`` on the committed kernel recording
(``tests/fixtures/ported/<name>.jsonl``) and on the model's run of its script, so the test
fails when either side stops doing what the upstream test demands.  Steps are numbered as
in the script (``tests/fixtures/ported/scripts/<name>.jsonl``); step -1 is the address space
before the first operation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from maplevm.mm.executor import ModelExecutor
from maplevm.scenario.compare import first_divergence
from maplevm.scenario.maps import parse_maps_line
from maplevm.scenario.recording import Fault, Recording, load

PORTED = Path(__file__).resolve().parents[2] / "fixtures" / "ported"
SCRIPTS = PORTED / "scripts"
PAGE = 0x1000
MAX_ERRNO = 4095


@dataclass(frozen=True)
class Vma:
    """One maps line of a snapshot, with its VmFlags and anon-pages bit when recorded."""

    start: int
    end: int
    perms: str
    offset: int
    inode: int
    path: str
    vmflags: frozenset[str] | None
    anon: bool | None

    @property
    def pages(self) -> int:
        return (self.end - self.start) // PAGE

    def file_offset(self, addr: int) -> int:
        """The file offset (or anonymous pgoff in bytes) that ``addr`` maps."""
        return self.offset + (addr - self.start)


class Run:
    """One executor's recording of a ported script (``side`` is "kernel" or "model")."""

    def __init__(self, side: str, rec: Recording) -> None:
        self.side = side
        self.rec = rec

    def step(self, label: str) -> int:
        """The index of the one step whose note starts with ``label`` (scripts label the
        steps their tests look at, e.g. ``"seal: munmap"``)."""
        found = [
            s.index
            for s in self.rec.steps
            if s.op.note is not None and (s.op.note == label or s.op.note.startswith(label + ":"))
        ]
        assert len(found) == 1, f"{len(found)} steps labelled {label!r}"
        return found[0]

    def ret(self, i: int) -> int:
        """Step i's raw return value (an address, 0, -errno, or the break for brk)."""
        return self.rec.steps[i].ret

    def ok(self, i: int) -> int:
        """Step i's return value, which must not be an error."""
        ret = self.ret(i)
        assert not -MAX_ERRNO <= ret < 0, f"step {i} failed with errno {-ret}"
        return ret

    def err(self, i: int) -> int:
        """Step i's errno (it must have failed)."""
        ret = self.ret(i)
        assert -MAX_ERRNO <= ret < 0, f"step {i} succeeded ({ret:#x})"
        return -ret

    def fault(self, i: int) -> Fault | None:
        """The signal a ``touch`` took, None if the access completed."""
        return self.rec.steps[i].fault

    def rets(self, i: int) -> tuple[tuple[int, int], ...]:
        """A ``repeat`` step's run-length encoded returns."""
        rets = self.rec.steps[i].rets
        assert rets is not None, f"step {i} is not a repeat"
        return rets

    def vmas(self, i: int) -> list[Vma]:
        """The address space after step i (-1: before the first), [vsyscall] included."""
        snap = self.rec.snapshot_after(i) if i >= 0 else self.rec.initial
        assert snap.lines is not None
        out: list[Vma] = []
        for k, line in enumerate(snap.lines):
            m = parse_maps_line(line)
            flags = None if snap.vmflags is None else frozenset(snap.vmflags[k].split())
            anon = None if snap.anon is None else snap.anon[k]
            out.append(Vma(m.start, m.end, m.perms, m.offset, m.inode, m.path, flags, anon))
        return out

    def vma_at(self, i: int, addr: int) -> Vma | None:
        """The VMA containing ``addr`` after step i."""
        for vma in self.vmas(i):
            if vma.start <= addr < vma.end:
                return vma
        return None

    def at(self, i: int, addr: int) -> Vma:
        """The VMA containing ``addr`` after step i (there must be one)."""
        vma = self.vma_at(i, addr)
        assert vma is not None, f"{addr:#x} is not mapped after step {i}"
        return vma

    def is_mapped(self, i: int, addr: int) -> bool:
        return self.vma_at(i, addr) is not None

    def span(self, i: int, addr: int) -> tuple[int, int]:
        """``[start, end)`` of the VMA containing ``addr`` (PROCMAP_QUERY's answer)."""
        vma = self.at(i, addr)
        return vma.start, vma.end

    def vmas_in(self, i: int, start: int, end: int) -> list[Vma]:
        """The VMAs meeting ``[start, end)`` after step i."""
        return [v for v in self.vmas(i) if v.start < end and v.end > start]

    def count(self, i: int) -> int:
        """The number of maps lines after step i ([vsyscall] included)."""
        snap = self.rec.snapshot_after(i) if i >= 0 else self.rec.initial
        return snap.count


@functools.cache
def recordings(name: str) -> tuple[Recording, Recording]:
    """The kernel's committed recording of ported script ``name`` and the model's run."""
    kernel = load(PORTED / f"{name}.jsonl")
    model = ModelExecutor(base=kernel).run(kernel.script)
    return kernel, model


def on_both(name: str, expect: Callable[[Run], None]) -> None:
    """Check ``expect`` on the kernel's recording and on the model's run of ``name``.

    Both sides are always checked; a failure names the side(s) and, when the model's run
    differs from the kernel's, shows the first difference.
    """
    kernel, model = recordings(name)
    failures: list[str] = []
    for side, rec in (("kernel", kernel), ("model", model)):
        try:
            expect(Run(side, rec))
        except AssertionError as exc:
            failures.append(f"{side}: {exc}")
    if failures:
        div = first_divergence(kernel, model, names=("kernel", "model"))
        detail = "" if div is None else "\n" + div.render()
        pytest.fail(f"{name}: " + "\n".join(failures) + detail)


def ported_names(prefix: str) -> list[str]:
    """The ported recordings whose names start with ``prefix``."""
    return sorted(p.stem for p in PORTED.glob(f"{prefix}*.jsonl"))
