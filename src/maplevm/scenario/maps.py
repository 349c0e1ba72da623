"""The text of /proc/PID/maps and /proc/PID/smaps: parse, render, normalise.

Recordings keep the kernel's maps lines, with the few parts that differ from run to run or
machine to machine replaced (see :class:`Normaliser`), so the same script recorded twice gives
byte-identical recordings and a model can be compared line by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# fs/proc/task_mmu.c pads the header to 25 + 6 * sizeof(void *) - 1 columns before the name.
_NAME_COLUMN = 25 + 6 * 8 - 1
_LINE = re.compile(
    r"^(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+) (?P<perms>[-r][-w][-x][ps]) "
    r"(?P<offset>[0-9a-f]+) (?P<dev>[0-9a-f]+:[0-9a-f]+) (?P<inode>\d+) ?(?P<rest>.*)$"
)
HELPER_PATH = "$HELPER"
SCRATCH_PREFIX = "$SCRATCH/"


@dataclass(frozen=True)
class MapsLine:
    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    path: str

    def render(self) -> str:
        return render_maps_line(
            self.start, self.end, self.perms, self.offset, self.dev, self.inode, self.path
        )


def render_maps_line(
    start: int, end: int, perms: str, offset: int, dev: str, inode: int, path: str
) -> str:
    """One line exactly as show_map_vma() prints it (no trailing newline).

    Lines without a name keep the single space that follows the inode.
    """
    head = f"{start:08x}-{end:08x} {perms} {offset:08x} {dev} {inode} "
    if not path:
        return head
    return head.ljust(_NAME_COLUMN) + " " + path


def parse_maps_line(line: str) -> MapsLine:
    m = _LINE.match(line)
    if not m:
        raise ValueError(f"not a maps line: {line!r}")
    return MapsLine(
        int(m["start"], 16),
        int(m["end"], 16),
        m["perms"],
        int(m["offset"], 16),
        m["dev"],
        int(m["inode"]),
        m["rest"].lstrip(" "),
    )


def is_header_line(line: str) -> bool:
    return _LINE.match(line) is not None


@dataclass(frozen=True)
class SmapsEntry:
    line: str
    vmflags: str
    anon: bool


def parse_smaps(text: str) -> list[SmapsEntry]:
    """Each VMA's maps line, its VmFlags (space separated) and whether Anonymous > 0."""
    entries: list[SmapsEntry] = []
    line: str | None = None
    vmflags = ""
    anon = False
    for raw in text.split("\n"):
        if not raw:
            continue
        if _LINE.match(raw) and not raw.startswith(("VmFlags:", "Anonymous:")):
            if line is not None:
                entries.append(SmapsEntry(line, vmflags, anon))
            line, vmflags, anon = raw, "", False
        elif raw.startswith("VmFlags:"):
            vmflags = " ".join(raw[len("VmFlags:") :].split())
        elif raw.startswith("Anonymous:"):
            anon = int(raw.split()[1]) > 0
    if line is not None:
        entries.append(SmapsEntry(line, vmflags, anon))
    return entries


class Normaliser:
    """Rewrites maps lines so they do not depend on where files live or on inode numbers.

    - the helper binary's path becomes ``$HELPER`` and a scratch file's ``$SCRATCH/<name>``;
      for those two the device becomes ``00:00`` (it names the disk of this machine);
    - every non-zero inode becomes its order of first appearance in the recording
      (1, 2, ...), which keeps "same object / different object" (shared anonymous memory gets
      a fresh inode per mapping) but not the number itself.

    One instance is used for a whole recording, so the numbering is consistent across steps.
    """

    def __init__(self, helper_path: str = "", scratch_dir: str = "") -> None:
        self.helper_path = helper_path
        self.scratch_dir = scratch_dir.rstrip("/") + "/" if scratch_dir else ""
        self._inodes: dict[tuple[str, int], int] = {}

    def line(self, raw: str) -> str:
        m = parse_maps_line(raw)
        path, dev = m.path, m.dev
        if self.helper_path and path == self.helper_path:
            path, dev = HELPER_PATH, "00:00"
        elif self.scratch_dir and path.startswith(self.scratch_dir):
            path, dev = SCRATCH_PREFIX + path[len(self.scratch_dir) :], "00:00"
        inode = m.inode
        if inode:
            key = (m.dev, m.inode)
            inode = self._inodes.setdefault(key, len(self._inodes) + 1)
        return render_maps_line(m.start, m.end, m.perms, m.offset, dev, inode, path)

    def lines(self, raws: Iterable[str]) -> list[str]:
        return [self.line(r) for r in raws]
