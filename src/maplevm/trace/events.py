"""The tracer's event stream (tracer.c), parsed into small records.

The C helper writes one event per line, integers in lowercase hex; blobs carry a byte count.
The format is described at the top of tracer.c.  This module only parses; turning events into
a trace (steps, processes, files) is :mod:`maplevm.trace.convert`'s job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

EVENTS_VERSION = 2


def _num(text: str) -> int:
    return -int(text[1:], 16) if text.startswith("-") else int(text, 16)


class VmaLine:
    """One VMA as smaps shows it: the maps line, its VmFlags and whether it has anon pages
    (``start`` and ``end`` are parsed once, from the line)."""

    __slots__ = ("anon", "end", "line", "start", "vmflags")

    def __init__(self, line: str, vmflags: str, anon: bool) -> None:
        self.line = line
        self.vmflags = vmflags
        self.anon = anon
        dash = line.index("-")
        self.start = int(line[:dash], 16)
        self.end = int(line[dash + 1 : line.index(" ", dash)], 16)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, VmaLine)
            and self.line == other.line
            and self.vmflags == other.vmflags
            and self.anon == other.anon
        )

    def __hash__(self) -> int:
        return hash((self.line, self.vmflags, self.anon))

    def __repr__(self) -> str:
        return f"VmaLine({self.line!r}, {self.vmflags!r}, {self.anon!r})"


# A maps change: a removal (the VMA starting at this address) or a new/replaced VMA.
Edit = int | VmaLine


@dataclass(slots=True)
class Event:
    kind: str
    tid: int


@dataclass(slots=True)
class Root(Event):
    pass


@dataclass(slots=True)
class NewTask(Event):
    parent: int
    flags: int


@dataclass(slots=True)
class Exec(Event):
    former: int
    blobs: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Blob(Event):
    name: str
    data: str


@dataclass(slots=True)
class Syscall(Event):
    nr: int
    args: tuple[int, int, int, int, int, int]
    ret: int


@dataclass(slots=True)
class FdInfo(Event):
    fd: int
    dev: str
    inode: int
    size: int
    mode: int
    flags: int
    fs_magic: int
    path: str
    ofd: int | None = None  # which open file (equal ids: the same struct file); None: unknown


@dataclass(slots=True)
class FileIdentity(Event):
    """Whether the tracer tells open files apart (kcmp) instead of tracing closes."""

    enabled: bool


@dataclass(slots=True)
class FdClosed(Event):
    """The descriptor an mmap or dup names is not open (closes are not traced)."""

    fd: int


@dataclass(slots=True)
class StrArg(Event):
    value: str


@dataclass(slots=True)
class Delta(Event):
    edits: list[Edit]


@dataclass(slots=True)
class Final(Event):
    pass


@dataclass(slots=True)
class Gone(Event):
    signal: bool
    code: int


@dataclass(slots=True)
class Warning(Event):
    text: str


class EventError(ValueError):
    """The event stream is not what tracer.c writes."""


def parse_smaps_vmas(text: str) -> list[VmaLine]:
    """Every VMA of an smaps text: maps line, VmFlags, Anonymous > 0."""
    out: list[VmaLine] = []
    line: str | None = None
    flags = ""
    anon = False
    for raw in text.split("\n"):
        if not raw:
            continue
        c = raw[0]
        if "0" <= c <= "9" or "a" <= c <= "f":
            if line is not None:
                out.append(VmaLine(line, flags, anon))
            line, flags, anon = raw, "", False
        elif raw.startswith("Anonymous:"):
            anon = int(raw.split()[1]) > 0
        elif raw.startswith("VmFlags:"):
            flags = " ".join(raw[8:].split())
    if line is not None:
        out.append(VmaLine(line, flags, anon))
    return out


def parse_events(data: bytes) -> Iterator[Event]:
    """Every event of a tracer output file, in order.  Blobs that follow an exec are
    attached to its :class:`Exec` record."""
    pos = 0
    n = len(data)
    last_exec: Exec | None = None
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = n  # a truncated last line (the tracer was killed): parse what is there
        raw = data[pos:nl].decode("utf-8", "surrogateescape")
        pos = nl + 1
        if not raw:
            continue
        kind = raw[0]
        parts = raw.split(" ")
        if last_exec is not None and kind != "B":
            # an exec's blobs end at the first event that is not one of them
            yield last_exec
            last_exec = None
        if kind == "S":
            tid = int(parts[1], 16)
            a = [_num(x) for x in parts[3:10]]
            yield Syscall("S", tid, int(parts[2], 16), (a[0], a[1], a[2], a[3], a[4], a[5]), a[6])
        elif kind == "D":
            tid, count = int(parts[1], 16), int(parts[2], 16)
            edits: list[Edit] = []
            for _ in range(count):
                nl = data.find(b"\n", pos)
                row = data[pos:nl].decode("utf-8", "surrogateescape")
                pos = nl + 1
                if row.startswith("-"):
                    edits.append(int(row[1:], 16))
                    continue
                nl = data.find(b"\n", pos)
                flags = data[pos:nl].decode("utf-8", "surrogateescape")
                pos = nl + 1
                if not row.startswith("+") or not flags.startswith("="):
                    raise EventError(f"bad maps change {row!r} / {flags!r}")
                edits.append(VmaLine(row[3:], flags[1:], row[1] == "1"))
            yield Delta("D", tid, edits)
        elif kind == "I":
            head = raw.split(" ", 10)
            ofd = _num(head[9])
            yield FdInfo(
                "I",
                int(head[1], 16),
                int(head[2], 16),
                head[3],
                int(head[4], 16),
                int(head[5], 16),
                int(head[6], 16),
                _num(head[7]),
                int(head[8], 16),
                head[10] if len(head) > 10 else "",
                ofd if ofd >= 0 else None,
            )
        elif kind == "O":
            yield FileIdentity("O", 0, parts[1] == "1")
        elif kind == "C":
            yield FdClosed("C", int(parts[1], 16), int(parts[2], 16))
        elif kind == "B":
            tid, name, size = int(parts[1], 16), parts[2], int(parts[3], 16)
            blob = data[pos : pos + size].decode("utf-8", "surrogateescape")
            pos += size + 1
            if last_exec is not None and last_exec.tid == tid and name != "forksmaps":
                last_exec.blobs[name] = blob
                continue
            if last_exec is not None:
                yield last_exec
                last_exec = None
            yield Blob("B", tid, name, blob)
        elif kind == "E":
            if last_exec is not None:
                yield last_exec
            last_exec = Exec("E", int(parts[1], 16), int(parts[2], 16))
        elif kind == "T":
            yield NewTask("T", int(parts[1], 16), int(parts[2], 16), int(parts[3], 16))
        elif kind == "A":
            text = bytes.fromhex(parts[2] if len(parts) > 2 else "")
            yield StrArg("A", int(parts[1], 16), text.decode("utf-8", "surrogateescape"))
        elif kind == "Z":
            yield Final("Z", int(parts[1], 16))
        elif kind == "X":
            yield Gone("X", int(parts[1], 16), parts[2] == "s", int(parts[3], 16))
        elif kind == "R":
            yield Root("R", int(parts[1], 16))
        elif kind == "W":
            yield Warning("W", 0, raw[2:])
        elif kind == "V":
            version = int(parts[1], 16)
            if version != EVENTS_VERSION:
                raise EventError(f"tracer event version {version}, expected {EVENTS_VERSION}")
        else:
            raise EventError(f"unknown event line {raw[:80]!r}")
    if last_exec is not None:
        yield last_exec
