"""Seeded random operation scripts, realistic and adversarial.

A script is built from *episodes*: short sequences that look like what programs and loaders
do (map a heap, split it with mprotect and merge it back, grow a stack, map a library the way
ld.so does, realloc with mremap, move the break...) or that attack the edges (invalid
arguments of every kind, ranges across several mappings, FIXED_NOREPLACE collisions, many
VMAs near ``vm.max_map_count``).  Mappings placed by the kernel are addressed through
references to the step that created them (``{"ref": i, "add": n}``), so no placement model is
needed to aim later operations at them.

The same (seed, index, kind, ops range) always gives the same script.  Sizes are bounded so a
script cannot exhaust the machine: nothing populates or locks more than a few tens of MiB.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from maplevm.scenario.format import Script, script_from_json

Kind = Literal["realistic", "adversarial", "mixed"]
KINDS: tuple[Kind, ...] = ("realistic", "adversarial", "mixed")

PAGE = 4096
MIB = 1 << 20
THP = 2 * MIB
TASK_SIZE = 0x7FFFFFFFF000
# Fixed-address work area: above the helper's image and the MAP_32BIT window, far below the
# top-down area, so MAP_FIXED there never hits the helper itself.
ARENA = 0x200000000
ARENA_SIZE = 1 << 30
# The main stack's initial lowest page with ASLR off on 4-level x86_64 (observed layout).
MAIN_STACK_BOTTOM = 0x7FFFFFFDE000
VSYSCALL = 0xFFFFFFFFFF600000
VDSO_AREA = 0x7FFFF7FF7000
# Ceilings that keep scripts from consuming the machine's memory.
LOCK_MAX = 16 * MIB
POPULATE_MAX = 32 * MIB
BIG = 64 * MIB
# A region's offsets used by touch stay below this, so a touch relative to a failed mmap
# (whose "address" is -errno) lands below the helper's image at 0x400000, never inside it.
TOUCH_SPAN = 0x3F0000

RW = ["PROT_READ", "PROT_WRITE"]
PRIVATE_ANON = ["MAP_PRIVATE", "MAP_ANONYMOUS"]


@dataclass
class Region:
    """A mapping the generator expects to exist: where (a ref or an absolute address) and how."""

    ref: int | None
    addr: int
    pages: int
    shared: bool = False
    file: str | None = None
    growsdown: bool = False
    locked: bool = False

    def at(self, page: int, extra: int = 0) -> Any:
        off = page * PAGE + extra
        if self.ref is None:
            return _hex(self.addr + off)
        return {"ref": self.ref, "add": _hex(off)} if off else {"ref": self.ref}


def _hex(v: int) -> Any:
    if 0 <= v < 4096:
        return v
    return hex(v) if v >= 0 else "-" + hex(-v)


@dataclass
class _Builder:
    rng: random.Random
    kind: Kind
    max_map_count: int
    ops: list[dict[str, Any]] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    rlimits: dict[str, Any] = field(default_factory=dict)
    brk_ref: int | None = None
    brk_pages: int = 0
    big: bool = False
    mapped_pages: int = 0
    arena_next: int = ARENA
    forks: int = 0

    # -- helpers -------------------------------------------------------------------------

    def emit(self, op: str, **fields: Any) -> int:
        self.ops.append({"op": op, **fields})
        return len(self.ops) - 1

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pages(self) -> int:
        r = self.rng.random()
        if r < 0.55:
            return self.rng.choice([1, 1, 2, 3, 4, 5, 8])
        if r < 0.85:
            return self.rng.randint(9, 64)
        if r < 0.95:
            return self.rng.choice([256, 511, 512, 513, 1024, 1536])
        return self.rng.randint(65, 4096)

    def region(self) -> Region | None:
        return self.rng.choice(self.regions) if self.regions else None

    def sub_range(self, r: Region, spill: float = 0.1) -> tuple[int, int]:
        """(first page, page count) inside r, sometimes running past its end."""
        first = self.rng.randrange(r.pages)
        count = self.rng.randint(1, r.pages - first)
        if self.chance(spill):
            count += self.rng.randint(1, 8)
        return first, count

    def file(self) -> str:
        if not self.files or (len(self.files) < 3 and self.chance(0.2)):
            size = self.rng.choice([PAGE, 5 * PAGE, 16 * PAGE, 64 * 1024, 3 * MIB, 5 * MIB + PAGE])
            self.files.append((f"f{len(self.files)}", size))
        return self.rng.choice(self.files)[0]

    def file_size(self, name: str) -> int:
        return dict(self.files)[name]

    def add_region(self, ref: int | None, addr: int, pages: int, **kw: Any) -> Region:
        r = Region(ref, addr, pages, **kw)
        self.regions.append(r)
        self.mapped_pages += pages
        if pages * PAGE >= BIG:
            self.big = True
        return r

    def arena(self, pages: int) -> int:
        """A fresh fixed address in the arena (consecutive calls are adjacent or near)."""
        if self.chance(0.3):
            self.arena_next += self.rng.randint(1, 16) * PAGE
        addr = self.arena_next
        self.arena_next += pages * PAGE
        if self.arena_next >= ARENA + ARENA_SIZE:
            self.arena_next = ARENA
        return addr

    def populating(self, length: int) -> bool:
        return length <= POPULATE_MAX

    # -- episodes: realistic -----------------------------------------------------------------

    def ep_anon(self) -> None:
        n = self.pages()
        flags = list(PRIVATE_ANON)
        prot: list[str] = list(RW)
        if self.chance(0.15):
            prot = self.rng.choice([["PROT_READ"], ["PROT_NONE"], ["PROT_READ", "PROT_EXEC"]])
        if self.chance(0.15):
            flags.append("MAP_NORESERVE")
        if self.chance(0.1) and self.populating(n * PAGE):
            flags.append(self.rng.choice(["MAP_POPULATE", "MAP_LOCKED"]))
        if self.chance(0.05):
            flags.append("MAP_STACK")
        hint = self.hint(n)
        if hint is not None:
            if hint in (0x1000, _hex(0x10000)):
                # Low hints land just above mmap_min_addr; kept small so the mapping (and
                # anything later placed right after it) stays far below the helper's image.
                n = min(n, 16)
        fields: dict[str, Any] = {"len": _hex(n * PAGE), "prot": prot, "flags": flags}
        if hint is not None:
            fields = {"addr": hint, **fields}
        i = self.emit("mmap", **fields)
        self.add_region(i, 0, n, locked="MAP_LOCKED" in flags)
        if prot == RW and self.chance(0.5):
            self.touch_in(self.regions[-1])

    def hint(self, pages: int) -> Any:
        if not self.chance(0.2):
            return None
        r = self.region()
        choice = self.rng.random()
        if r is not None and choice < 0.4:
            return r.at(r.pages)  # right after an existing mapping: merges if compatible
        if r is not None and choice < 0.6:
            return r.at(0)  # occupied: falls back to top-down
        if choice < 0.8:
            return _hex(self.arena(pages))
        return _hex(self.rng.choice([0x1000, 0x10000, 0x100064001, TASK_SIZE, 1 << 47]))

    def ep_file(self) -> None:
        name = self.file()
        size = self.file_size(name)
        max_pages = max(1, (size + PAGE - 1) // PAGE)
        n = self.rng.randint(1, max_pages + (1 if self.chance(0.2) else 0))
        off = self.rng.randrange(max(1, max_pages - n + 1)) if self.chance(0.4) else 0
        shared = self.chance(0.4)
        access = "ro" if self.chance(0.3) else "rw"
        prot = (
            ["PROT_READ"]
            if access == "ro" and shared
            else self.rng.choice([["PROT_READ"], RW, ["PROT_READ", "PROT_EXEC"]])
        )
        flags = ["MAP_SHARED" if shared else "MAP_PRIVATE"]
        i = self.emit(
            "mmap",
            len=_hex(n * PAGE),
            prot=prot,
            flags=flags,
            file=name,
            access=access,
            offset=_hex(off * PAGE),
        )
        self.add_region(i, 0, n, shared=shared, file=name)
        if self.chance(0.3):
            self.touch_in(self.regions[-1], write="PROT_WRITE" in prot)

    def ep_loader(self) -> None:
        """ld.so style: map a file read-only, then MAP_FIXED its segments over the range."""
        name = self.file()
        size = self.file_size(name)
        total = max(3, (size + PAGE - 1) // PAGE)
        i = self.emit(
            "mmap",
            len=_hex(total * PAGE),
            prot=["PROT_READ"],
            flags=["MAP_PRIVATE"],
            file=name,
            access="ro",
        )
        r = self.add_region(i, 0, total, file=name)
        text = self.rng.randint(1, total - 2)
        self.emit(
            "mmap",
            addr=r.at(1),
            len=_hex(text * PAGE),
            prot=["PROT_READ", "PROT_EXEC"],
            flags=["MAP_PRIVATE", "MAP_FIXED"],
            file=name,
            access="ro",
            offset=_hex(PAGE),
        )
        data = total - 1 - text
        self.emit(
            "mmap",
            addr=r.at(1 + text),
            len=_hex(data * PAGE),
            prot=RW,
            flags=["MAP_PRIVATE", "MAP_FIXED"],
            file=name,
            access="ro",
            offset=_hex((1 + text) * PAGE),
        )
        if self.chance(0.5):
            # bss right after the file-backed part
            self.emit(
                "mmap",
                addr=r.at(total),
                len=_hex(self.rng.randint(1, 4) * PAGE),
                prot=RW,
                flags=["MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_FIXED"],
            )

    def ep_split_merge(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        first, count = self.sub_range(r, spill=0.05)
        other = self.rng.choice([["PROT_READ"], ["PROT_NONE"], ["PROT_READ", "PROT_EXEC"], RW])
        self.emit("mprotect", addr=r.at(first), len=_hex(count * PAGE), prot=other)
        if self.chance(0.3):
            self.touch_in(r)
        if self.chance(0.7):
            back = RW if not r.file or self.chance(0.5) else ["PROT_READ"]
            self.emit("mprotect", addr=r.at(first), len=_hex(count * PAGE), prot=back)

    def ep_munmap(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        shape = self.rng.random()
        if shape < 0.25:
            first, count = 0, r.pages
        elif shape < 0.5:
            first, count = 0, self.rng.randint(1, r.pages)
        elif shape < 0.75:
            count = self.rng.randint(1, r.pages)
            first = r.pages - count
        else:
            first, count = self.sub_range(r)
        self.emit("munmap", addr=r.at(first), len=_hex(count * PAGE))
        if first == 0 and count >= r.pages:
            self.regions.remove(r)

    def ep_mremap(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        old = r.pages
        shape = self.rng.random()
        new = max(1, old + self.rng.choice([-2, -1, 1, 2, 8, old]))
        if new * PAGE > BIG:
            new = old
        fields: dict[str, Any] = {"old_addr": r.at(0), "old_len": _hex(old * PAGE)}
        if shape < 0.3:
            i = self.emit("mremap", **fields, new_len=_hex(new * PAGE))
            if new < old:
                r.pages = new
        elif shape < 0.6:
            i = self.emit("mremap", **fields, new_len=_hex(new * PAGE), flags=["MREMAP_MAYMOVE"])
            self.regions.remove(r)
            self.add_region(i, 0, new, shared=r.shared, file=r.file)
        elif shape < 0.8:
            dest: Any = _hex(self.arena(new))
            other = self.region()
            if other is not None and other is not r and self.chance(0.4):
                dest = other.at(other.pages)
            i = self.emit(
                "mremap",
                **fields,
                new_len=_hex(new * PAGE),
                flags=["MREMAP_MAYMOVE", "MREMAP_FIXED"],
                new_addr=dest,
            )
            self.regions.remove(r)
            self.add_region(i, 0, new, shared=r.shared, file=r.file)
        elif shape < 0.9 and not r.file:
            i = self.emit(
                "mremap",
                **fields,
                new_len=_hex(old * PAGE),
                flags=["MREMAP_MAYMOVE", "MREMAP_DONTUNMAP"],
            )
            self.add_region(i, 0, old)
        elif r.shared:
            i = self.emit(
                "mremap",
                old_addr=r.at(0),
                old_len=0,
                new_len=_hex(old * PAGE),
                flags=["MREMAP_MAYMOVE"],
            )
            self.add_region(i, 0, old, shared=True, file=r.file)
        else:
            first, count = self.sub_range(r, spill=0)
            keep = max(1, count // 2)
            self.emit(
                "mremap",
                old_addr=r.at(first),
                old_len=_hex(count * PAGE),
                new_len=_hex(keep * PAGE),
            )

    def ep_madvise(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        first, count = self.sub_range(r)
        pairs = [
            ("MADV_DONTFORK", "MADV_DOFORK"),
            ("MADV_RANDOM", "MADV_NORMAL"),
            ("MADV_SEQUENTIAL", "MADV_NORMAL"),
            ("MADV_RANDOM", "MADV_SEQUENTIAL"),
            ("MADV_DONTDUMP", "MADV_DODUMP"),
            ("MADV_WIPEONFORK", "MADV_KEEPONFORK"),
            ("MADV_MERGEABLE", "MADV_UNMERGEABLE"),
            ("MADV_HUGEPAGE", "MADV_NOHUGEPAGE"),
            ("MADV_DONTNEED", "MADV_FREE"),
            ("MADV_COLD", "MADV_PAGEOUT"),
            ("MADV_WILLNEED", "MADV_DONTNEED_LOCKED"),
            ("MADV_REMOVE", "MADV_NORMAL"),
        ]
        do, undo = self.rng.choice(pairs)
        length = _hex(count * PAGE)
        self.emit("madvise", addr=r.at(first), len=length, advice=do)
        if self.chance(0.2) and self.populating(count * PAGE):
            advice = self.rng.choice(["MADV_POPULATE_READ", "MADV_POPULATE_WRITE"])
            self.emit("madvise", addr=r.at(first), len=length, advice=advice)
        if self.chance(0.6):
            self.emit("madvise", addr=r.at(first), len=length, advice=undo)

    def ep_mlock(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        first, count = self.sub_range(r)
        count = min(count, LOCK_MAX // PAGE)
        extra = self.rng.choice([0, 0, 0, 100])  # mlock rounds the start down
        length = _hex(count * PAGE)
        if self.chance(0.3):
            flags = self.rng.choice([0, ["MLOCK_ONFAULT"]])
            self.emit("mlock2", addr=r.at(first, extra), len=length, flags=flags)
        else:
            self.emit("mlock", addr=r.at(first, extra), len=length)
        if self.chance(0.6):
            self.emit("munlock", addr=r.at(first), len=length)

    def ep_mlockall(self) -> None:
        # MCL_CURRENT populates and locks everything mapped: only with little mapped.
        if self.big or self.mapped_pages * PAGE > 256 * MIB:
            return self.ep_mlock()
        flags = self.rng.choice(
            [
                ["MCL_CURRENT"],
                ["MCL_FUTURE"],
                ["MCL_CURRENT", "MCL_FUTURE"],
                ["MCL_CURRENT", "MCL_ONFAULT"],
                ["MCL_FUTURE", "MCL_ONFAULT"],
            ]
        )
        self.emit("mlockall", flags=flags)
        for _ in range(self.rng.randint(0, 2)):
            n = self.rng.randint(1, 16)
            i = self.emit("mmap", len=_hex(n * PAGE), prot=RW, flags=PRIVATE_ANON)
            self.add_region(i, 0, n)
        self.emit("munlockall")

    def ep_brk(self) -> None:
        if self.brk_ref is None:
            self.brk_ref = self.emit("brk", addr=0)
            self.brk_pages = 0
        steps = self.rng.randint(1, 3)
        for _ in range(steps):
            if self.brk_pages and self.chance(0.35):
                self.brk_pages = self.rng.randint(0, self.brk_pages - 1)
            else:
                self.brk_pages += self.rng.randint(1, 40)
            extra = self.rng.choice([0, 0, 0, 1, 100])
            self.emit("brk", addr={"ref": self.brk_ref, "add": _hex(self.brk_pages * PAGE + extra)})
        if self.brk_pages and self.chance(0.4):
            heap = Region(self.brk_ref, 0, self.brk_pages)
            self.emit("touch", addr=heap.at(self.rng.randrange(self.brk_pages)))

    def ep_stack(self) -> None:
        n = self.rng.randint(1, 16)
        fields: dict[str, Any] = {
            "len": _hex(n * PAGE),
            "prot": RW,
            "flags": [*PRIVATE_ANON, "MAP_GROWSDOWN"],
        }
        if self.chance(0.3):
            fields = {"addr": _hex(self.arena(n + 300) + 300 * PAGE), **fields}
        i = self.emit("mmap", **fields)
        r = self.add_region(i, 0, n, growsdown=True)
        for _ in range(self.rng.randint(1, 3)):
            below = self.rng.choice([1, 2, 16, 40, 255, 256, 300])
            self.emit("touch", addr=r.at(0, -below * PAGE))

    def ep_thread_stack(self) -> None:
        n = self.rng.choice([16, 256, 2048])
        i = self.emit(
            "mmap",
            len=_hex(n * PAGE),
            prot=RW,
            flags=[*PRIVATE_ANON, "MAP_STACK", "MAP_NORESERVE"],
        )
        r = self.add_region(i, 0, n)
        self.emit("mprotect", addr=r.at(0), len=PAGE, prot=["PROT_NONE"])
        self.touch_in(r)

    def ep_main_stack(self) -> None:
        below = self.rng.choice([1, 8, 64, 1024, 2100])
        self.emit("touch", addr=_hex(MAIN_STACK_BOTTOM - below * PAGE))

    def ep_thp(self) -> None:
        size = self.rng.choice([THP, 2 * THP, 3 * THP, THP + PAGE, 2 * THP - PAGE, 3 * MIB])
        i = self.emit("mmap", len=_hex(size), prot=RW, flags=PRIVATE_ANON)
        r = self.add_region(i, 0, size // PAGE)
        if self.chance(0.5):
            self.emit("madvise", addr=r.at(0), len=_hex(size), advice="MADV_HUGEPAGE")
        if self.chance(0.6):
            self.emit("touch", addr=r.at(0))
        if self.chance(0.2):
            self.emit("madvise", addr=r.at(0), len=_hex(size), advice="MADV_COLLAPSE")

    def ep_fixed(self) -> None:
        n = self.pages() if self.chance(0.5) else self.rng.randint(1, 8)
        r = self.region()
        if r is not None and r.ref is None and self.chance(0.4):
            first, _ = self.sub_range(r)
            addr = r.addr + first * PAGE  # over an arena mapping: replaces part of it
        else:
            addr = self.arena(n)
        prot = RW if self.chance(0.7) else ["PROT_READ"]
        flags = [*PRIVATE_ANON, "MAP_FIXED"]
        self.emit("mmap", addr=_hex(addr), len=_hex(n * PAGE), prot=prot, flags=flags)
        self.add_region(None, addr, n)

    def ep_noreplace(self) -> None:
        r = self.region()
        n = self.rng.randint(1, 8)
        flags = [*PRIVATE_ANON, "MAP_FIXED_NOREPLACE"]
        if r is not None and self.chance(0.6):
            first = self.rng.randrange(r.pages)
            self.emit("mmap", addr=r.at(first), len=_hex(n * PAGE), prot=RW, flags=flags)
        else:
            addr = self.arena(n)
            self.emit("mmap", addr=_hex(addr), len=_hex(n * PAGE), prot=RW, flags=flags)
            self.add_region(None, addr, n)

    def ep_32bit(self) -> None:
        n = self.rng.choice([1, 4, 512, 1024])
        i = self.emit("mmap", len=_hex(n * PAGE), prot=RW, flags=[*PRIVATE_ANON, "MAP_32BIT"])
        self.add_region(i, 0, n)

    def ep_guard(self) -> None:
        r = self.region()
        if r is None or r.file:
            return self.ep_anon()
        first, count = self.sub_range(r, spill=0)
        if first >= TOUCH_SPAN // PAGE:  # the touches below stay within the touch span
            first = self.rng.randrange(TOUCH_SPAN // PAGE)
            count = max(1, min(count, r.pages - first))
        self.emit("madvise", addr=r.at(first), len=_hex(count * PAGE), advice="MADV_GUARD_INSTALL")
        self.emit("touch", addr=r.at(first), access=self.rng.choice(["read", "write"]))
        self.emit("madvise", addr=r.at(first), len=_hex(count * PAGE), advice="MADV_GUARD_REMOVE")
        self.emit("touch", addr=r.at(first))

    def ep_truncate(self) -> None:
        name = self.file()
        size = self.file_size(name)
        pages = max(2, (size + PAGE - 1) // PAGE)
        i = self.emit("mmap", len=_hex(pages * PAGE), prot=RW, flags=["MAP_SHARED"], file=name)
        r = self.add_region(i, 0, pages, shared=True, file=name)
        self.emit("truncate", file=name, size=PAGE)
        self.emit("touch", addr=r.at(min(pages - 1, 1)), access="read")
        self.emit("truncate", file=name, size=_hex(size))
        self.emit("touch", addr=r.at(min(pages - 1, 1)), access="read")

    def ep_shared_anon(self) -> None:
        n = self.rng.randint(1, 16)
        i = self.emit("mmap", len=_hex(n * PAGE), prot=RW, flags=["MAP_SHARED", "MAP_ANONYMOUS"])
        self.add_region(i, 0, n, shared=True)
        if self.chance(0.4):
            self.touch_in(self.regions[-1])

    def ep_seal(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        first, count = self.sub_range(r, spill=0)
        self.emit("mseal", addr=r.at(first), len=_hex(count * PAGE))
        self.emit("mprotect", addr=r.at(first), len=_hex(count * PAGE), prot=["PROT_READ"])
        self.regions.remove(r)  # sealed: later unmaps and moves would only fail

    def ep_anon_name(self) -> None:
        r = self.region()
        if r is None:
            return self.ep_anon()
        first, count = self.sub_range(r)
        name = self.rng.choice(["heap", "jit code", None, "x" * 81, "bad[name"])
        self.emit("set_vma_anon_name", addr=r.at(first), len=_hex(count * PAGE), name=name)

    def ep_fork(self) -> None:
        """fork, and carry on in the child: VMAs copied without their locks, DONTFORK ones
        gone, WIPEONFORK ones empty, written ones fork children that refuse to merge with
        a new neighbour (LTP vma01)."""
        if self.forks >= 3:  # each fork leaves a waiting parent behind
            return self.ep_split_merge()
        r = self.region()
        if r is not None and not r.shared and self.chance(0.4):
            first, count = self.sub_range(r)
            advice = self.rng.choice(["MADV_DONTFORK", "MADV_WIPEONFORK"])
            self.emit("madvise", addr=r.at(first), len=_hex(count * PAGE), advice=advice)
        if r is not None and self.chance(0.5):
            self.touch_in(r)
        self.emit("fork")
        self.forks += 1
        if r is not None and r.ref is not None and self.chance(0.6):
            # A new anonymous neighbour right after the region, written or not.
            n = self.rng.randint(1, 8)
            i = self.emit(
                "mmap",
                addr=r.at(r.pages),
                len=_hex(n * PAGE),
                prot=RW,
                flags=[*PRIVATE_ANON, "MAP_FIXED_NOREPLACE"],
            )
            self.add_region(i, 0, n)
            if self.chance(0.5):
                self.touch_in(self.regions[-1])

    def touch_in(self, r: Region, write: bool = True) -> None:
        page = self.rng.randrange(min(r.pages, TOUCH_SPAN // PAGE))
        access = "write" if write and self.chance(0.8) else "read"
        self.emit("touch", addr=r.at(page, self.rng.choice([0, 0, 123])), access=access)

    # -- episodes: adversarial ---------------------------------------------------------------

    def ep_invalid(self) -> None:
        self.rng.choice(self._invalid_cases())()

    def _invalid_cases(self) -> list[Callable[[], None]]:
        r = self.region()
        base: Any = r.at(0) if r else _hex(self.arena(1))
        huge = ["0x800000000000", "0xffffffffffffffff", "-0x1000", _hex(TASK_SIZE)]
        e = self.emit
        rng = self.rng
        anon = PRIVATE_ANON

        def mmap_bad() -> None:
            case = rng.randrange(14)
            if case == 0:
                e("mmap", len=0, prot=RW, flags=anon)
            elif case == 1:
                e("mmap", len=rng.choice(huge), prot=RW, flags=anon)
            elif case == 2:
                e("mmap", addr=_hex(ARENA + 123), len=PAGE, prot=RW, flags=[*anon, "MAP_FIXED"])
            elif case == 3:
                e("mmap", len=PAGE, prot=RW, flags=["MAP_ANONYMOUS"])
            elif case == 4:
                e("mmap", len=PAGE, prot=RW, flags=["MAP_SHARED_VALIDATE", "MAP_ANONYMOUS"])
            elif case == 5:
                e("mmap", len=PAGE, prot=RW, flags=["MAP_PRIVATE"], fd=rng.choice([99, -1]))
            elif case == 6:
                e(
                    "mmap",
                    len=PAGE,
                    prot=["PROT_READ"],
                    flags=["MAP_PRIVATE"],
                    file=self.file(),
                    offset=rng.choice([100, "0x7ffffffffffff000", "0xfffffffffffff000"]),
                )
            elif case == 7:
                e(
                    "mmap",
                    addr=rng.choice([_hex(TASK_SIZE), _hex(TASK_SIZE - PAGE)]),
                    len=_hex(2 * PAGE),
                    prot=RW,
                    flags=[*anon, "MAP_FIXED"],
                )
            elif case == 8:
                e(
                    "mmap",
                    len=PAGE,
                    prot=rng.choice([0x10, 0x20, ["PROT_GROWSDOWN", "PROT_READ"]]),
                    flags=anon,
                )
            elif case == 9:
                e("mmap", len=PAGE, prot=RW, flags=rng.choice([0x80000022, 0x40022, 0x4000022]))
            elif case == 10:
                e("mmap", len=PAGE, prot=RW, flags=["MAP_SHARED", "MAP_ANONYMOUS", "MAP_GROWSDOWN"])
            elif case == 11:
                e("mmap", len=PAGE, prot=RW, flags=["MAP_SHARED"], file=self.file(), access="ro")
            elif case == 12:
                e(
                    "mmap",
                    len=PAGE,
                    prot=["PROT_READ"],
                    flags=["MAP_SHARED_VALIDATE", "MAP_SYNC"],
                    file=self.file(),
                )
            else:
                e(
                    "mmap",
                    len=PAGE,
                    prot=RW,
                    flags=["MAP_PRIVATE", "MAP_DROPPABLE"],
                    file=self.file(),
                )

        def range_bad(op: str, **extra: Any) -> Callable[[], None]:
            def go() -> None:
                case = rng.randrange(7)
                addr: Any
                length: Any
                if case == 0:
                    addr, length = base, 0
                elif case == 1:
                    addr, length = rng.choice([_hex(ARENA + 1), {"ref": 0, "add": 7}]), PAGE
                    if not self.ops:
                        addr = _hex(ARENA + 1)
                elif case == 2:
                    addr, length = _hex(TASK_SIZE), PAGE
                elif case == 3:
                    addr, length = _hex(TASK_SIZE - PAGE), _hex(2 * PAGE)
                elif case == 4:
                    addr, length = _hex(VSYSCALL), PAGE
                elif case == 5:
                    addr, length = base, rng.choice(huge[1:3])
                else:
                    addr, length = _hex(ARENA + ARENA_SIZE + self.rng.randrange(64) * PAGE), PAGE
                e(op, addr=addr, len=length, **extra)

            return go

        def mprotect_bad() -> None:
            prot = rng.choice(
                [
                    0x10,
                    ["PROT_GROWSDOWN", "PROT_READ"],
                    ["PROT_GROWSUP"],
                    ["PROT_GROWSDOWN", "PROT_GROWSUP"],
                ]
            )
            e("mprotect", addr=base, len=PAGE, prot=prot)

        def mremap_bad() -> None:
            case = rng.randrange(10)
            old: dict[str, Any] = {"old_addr": base, "old_len": PAGE}
            if case == 0:
                e("mremap", old_addr=_hex(ARENA + 5), old_len=PAGE, new_len=PAGE)
            elif case == 1:
                e("mremap", **old, new_len=0)
            elif case == 2:
                e("mremap", **old, new_len=PAGE, flags=["MREMAP_FIXED"], new_addr=_hex(ARENA))
            elif case == 3:
                e("mremap", **old, new_len=PAGE, flags=["MREMAP_DONTUNMAP"])
            elif case == 4:
                e(
                    "mremap",
                    **old,
                    new_len=_hex(2 * PAGE),
                    flags=["MREMAP_MAYMOVE", "MREMAP_DONTUNMAP"],
                )
            elif case == 5:
                e("mremap", **old, new_len=PAGE, flags=8)
            elif case == 6:
                e(
                    "mremap",
                    **old,
                    new_len=PAGE,
                    flags=["MREMAP_MAYMOVE", "MREMAP_FIXED"],
                    new_addr=_hex(ARENA + 17),
                )
            elif case == 7:
                e(
                    "mremap",
                    **old,
                    new_len=_hex(2 * PAGE),
                    flags=["MREMAP_MAYMOVE", "MREMAP_FIXED"],
                    new_addr=base,
                )
            elif case == 8:
                e("mremap", old_addr=_hex(ARENA + ARENA_SIZE), old_len=PAGE, new_len=PAGE)
            else:
                e(
                    "mremap",
                    **old,
                    new_len=rng.choice(["0x800000000000", _hex(TASK_SIZE)]),
                    flags=["MREMAP_MAYMOVE"],
                )

        def madvise_bad() -> None:
            advice = rng.choice(
                [
                    5,
                    6,
                    7,
                    26,
                    99,
                    104,
                    -1,
                    "MADV_COLLAPSE",
                    "MADV_REMOVE",
                    "MADV_WIPEONFORK",
                    "MADV_DONTNEED",
                ]
            )
            e("madvise", addr=base, len=_hex(4 * PAGE), advice=advice)

        def brk_bad() -> None:
            if self.brk_ref is None:
                self.brk_ref = e("brk", addr=0)
            e(
                "brk",
                addr=rng.choice(
                    [
                        {"ref": self.brk_ref, "add": "-0x40000000"},
                        _hex(TASK_SIZE),
                        "0xfffffffffffff000",
                    ]
                ),
            )

        def touch_bad() -> None:
            addr = rng.choice(
                [
                    0,
                    _hex(TASK_SIZE),
                    "0x800000000000",
                    _hex(VSYSCALL),
                    "0xffff888000000000",
                    _hex(VDSO_AREA),
                ]
            )
            e("touch", addr=addr, access=rng.choice(["read", "write"]))

        def mseal_bad() -> None:
            e("mseal", addr=rng.choice([base, _hex(ARENA + 1)]), len=PAGE, flags=rng.choice([0, 1]))

        def lock_bad() -> None:
            e(
                rng.choice(["mlock", "munlock"]),
                addr=rng.choice([_hex(TASK_SIZE), _hex(VSYSCALL), _hex(ARENA + ARENA_SIZE)]),
                len=rng.choice([0, PAGE, huge[1]]),
            )

        def special() -> None:
            op = rng.choice(["mprotect", "madvise", "mremap", "munmap", "mlock", "touch"])
            if op == "mprotect":
                e(op, addr=_hex(VDSO_AREA + 6 * PAGE), len=_hex(2 * PAGE), prot=["PROT_READ"])
            elif op == "madvise":
                e(op, addr=_hex(VDSO_AREA), len=_hex(4 * PAGE), advice="MADV_DONTFORK")
            elif op == "mremap":
                e(
                    op,
                    old_addr=_hex(VDSO_AREA + 6 * PAGE),
                    old_len=_hex(2 * PAGE),
                    new_len=_hex(3 * PAGE),
                )
            elif op in ("munmap", "mlock"):
                e(op, addr=_hex(VSYSCALL), len=PAGE)
            else:
                e(op, addr=_hex(VSYSCALL), access="read")

        return [
            mmap_bad, mmap_bad, mmap_bad,
            range_bad("munmap"), range_bad("mprotect", prot=RW),
            range_bad("madvise", advice="MADV_RANDOM"), range_bad("mlock"),
            mprotect_bad, mremap_bad, mremap_bad, madvise_bad, brk_bad, touch_bad,
            mseal_bad, lock_bad, special,
        ]  # fmt: skip

    def ep_across(self) -> None:
        """One range from inside one mapping to inside another: holes and several VMAs."""
        if len(self.regions) < 2:
            return self.ep_anon()
        a, b = self.rng.sample(self.regions, 2)
        if a.ref != b.ref and (a.ref is None) != (b.ref is None):
            return self.ep_split_merge()
        # Both absolute (arena) or both kernel-placed: a span from a's first page onward.
        span = self.rng.randint(a.pages, a.pages + b.pages + 64)
        op = self.rng.choice(["mprotect", "madvise", "munmap", "mlock", "munlock"])
        fields: dict[str, Any] = {
            "addr": a.at(self.rng.randrange(a.pages)),
            "len": _hex(min(span, LOCK_MAX // PAGE) * PAGE),
        }
        if op == "mprotect":
            fields["prot"] = ["PROT_READ"]
        if op == "madvise":
            fields["advice"] = self.rng.choice(["MADV_DONTFORK", "MADV_RANDOM", "MADV_DONTNEED"])
        self.emit(op, **fields)

    def ep_map_count(self) -> None:
        """Approach vm.max_map_count: alternate the protection of every other page."""
        calls = (self.max_map_count - 16) // 2 + self.rng.randint(-8, 8)
        pages = 2 * calls + 16
        i = self.emit(
            "mmap",
            len=_hex(pages * PAGE),
            prot=RW,
            flags=[*PRIVATE_ANON, "MAP_NORESERVE"],
            snapshot="count",
        )
        self.big = True
        self.emit(
            "repeat",
            count=calls,
            stride=2 * PAGE,
            body={
                "op": "mprotect",
                "addr": {"ref": i, "add": PAGE},
                "len": PAGE,
                "prot": ["PROT_READ"],
            },
            snapshot="count",
        )
        r = Region(i, 0, pages)
        tail = [
            lambda: self.emit(
                "mmap", len=PAGE, prot=["PROT_READ"], flags=PRIVATE_ANON, snapshot="count"
            ),
            lambda: self.emit("munmap", addr=r.at(2 * calls + 4), len=PAGE, snapshot="count"),
            lambda: self.emit("munmap", addr=r.at(pages - 1), len=PAGE, snapshot="count"),
            lambda: self.emit("mprotect", addr=r.at(1), len=PAGE, prot=RW, snapshot="count"),
            lambda: self.emit(
                "mremap",
                old_addr=r.at(2 * calls + 8),
                old_len=PAGE,
                new_len=PAGE,
                flags=["MREMAP_MAYMOVE", "MREMAP_FIXED"],
                new_addr=_hex(self.arena(1)),
                snapshot="count",
            ),
        ]
        for _ in range(self.rng.randint(2, 5)):
            self.rng.choice(tail)()
        self.emit("munmap", addr=r.at(0), len=_hex(pages * PAGE), snapshot="count")

    def set_rlimits(self) -> None:
        which = self.rng.choice(["STACK", "STACK", "AS", "DATA", "MEMLOCK"])
        options: dict[str, list[Any]] = {
            "STACK": [2 * MIB, 16 * MIB, 64 * MIB, "unlimited"],
            "AS": [512 * MIB, 4096 * MIB],
            "DATA": [32 * MIB, 1024 * MIB],
            "MEMLOCK": [0, 64 * 1024, MIB],
        }
        self.rlimits[which] = self.rng.choice(options[which])


_REALISTIC: list[tuple[str, float]] = [
    ("ep_anon", 14), ("ep_file", 6), ("ep_loader", 3), ("ep_split_merge", 10),
    ("ep_munmap", 7), ("ep_mremap", 6), ("ep_madvise", 7), ("ep_mlock", 4),
    ("ep_mlockall", 1), ("ep_brk", 4), ("ep_stack", 3), ("ep_thread_stack", 2),
    ("ep_main_stack", 1), ("ep_thp", 4), ("ep_fixed", 5), ("ep_noreplace", 3),
    ("ep_32bit", 1.5), ("ep_guard", 1.5), ("ep_truncate", 1), ("ep_shared_anon", 2),
    ("ep_seal", 1), ("ep_anon_name", 1), ("ep_fork", 1.5),
]  # fmt: skip
_ADVERSARIAL: list[tuple[str, float]] = [
    ("ep_invalid", 30), ("ep_across", 10), ("ep_fixed", 8), ("ep_noreplace", 8),
    ("ep_anon", 10), ("ep_split_merge", 6), ("ep_munmap", 6), ("ep_mremap", 8),
    ("ep_madvise", 4), ("ep_stack", 4), ("ep_main_stack", 2), ("ep_brk", 3),
    ("ep_thp", 3), ("ep_32bit", 2), ("ep_guard", 2), ("ep_seal", 2),
    ("ep_mlock", 2), ("ep_truncate", 1), ("ep_fork", 1),
]  # fmt: skip


def generate(
    seed: int,
    index: int = 0,
    *,
    kind: Kind = "mixed",
    ops: tuple[int, int] = (5, 40),
    max_map_count: int = 65530,
    map_count_chance: float = 0.02,
) -> Script:
    """Script number ``index`` of the series ``seed``: same arguments, same script.

    ``ops`` bounds the number of operations (inclusive; a ``repeat`` counts as one).
    ``map_count_chance`` is the probability that an adversarial script pushes the number of
    VMAs up to ``max_map_count`` (such a script takes seconds on the kernel).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    lo, hi = ops
    if not 1 <= lo <= hi:
        raise ValueError(f"bad ops range {lo}-{hi}")
    rng = random.Random(f"maplevm-gen:{seed}:{index}:{kind}:{lo}-{hi}")
    b = _Builder(rng, kind, max_map_count)
    target = rng.randint(lo, hi)
    effective: Kind = kind if kind != "mixed" else rng.choice(["realistic", "adversarial"])
    table = _REALISTIC if effective == "realistic" else _ADVERSARIAL
    if kind == "mixed":
        table = _REALISTIC + [(n, w * 0.5) for n, w in _ADVERSARIAL]
    if rng.random() < 0.15:
        b.set_rlimits()
    if effective != "realistic" and target >= 12 and rng.random() < map_count_chance:
        b.ep_map_count()
    names = [n for n, _ in table]
    weights = [w for _, w in table]
    while len(b.ops) < target:
        getattr(b, rng.choices(names, weights)[0])()
    del b.ops[target:]
    header: dict[str, Any] = {
        "maplevm": "script",
        "version": 1,
        "name": f"gen-{kind}-{seed}-{index}",
        "meta": {"generator": 1, "seed": seed, "index": index, "kind": kind, "ops": f"{lo}-{hi}"},
    }
    if b.files:
        header["files"] = [{"name": n, "size": s} for n, s in b.files]
    if b.rlimits:
        header["rlimits"] = b.rlimits
    return script_from_json(header, b.ops)


def generate_many(
    seed: int,
    count: int,
    *,
    kind: Kind = "mixed",
    ops: tuple[int, int] = (5, 40),
    max_map_count: int = 65530,
    map_count_chance: float = 0.02,
) -> Iterator[Script]:
    for i in range(count):
        yield generate(
            seed,
            i,
            kind=kind,
            ops=ops,
            max_map_count=max_map_count,
            map_count_chance=map_count_chance,
        )
