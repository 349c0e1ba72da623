"""A small progress bar on stderr, shown only on a terminal (or when asked for)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``with Progress(100, "record") as p: p.update(i)``; silent unless enabled.

    Redraws at most ten times a second so that fast loops are not slowed down by it.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        width: int = 30,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = max(total, 1)
        self.label = label
        self.width = width
        self.done = 0
        self.note = ""
        self._last = 0.0
        self._drawn = -1
        self._start = time.monotonic()

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        if note:
            self.note = note
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        self._drawn = done
        frac = min(1.0, done / self.total)
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = now - self._start
        self.stream.write(
            f"\r{self.label} [{bar}] {done}/{self.total} {elapsed:5.1f}s {self.note}"[:120]
        )
        self.stream.flush()

    def callback(self, done: int, total: int) -> None:
        """For APIs that report (done, total)."""
        self.total = max(total, 1)
        self.update(done)

    def close(self) -> None:
        if self.enabled:
            if self._drawn != self.done:
                self._last = 0.0
                self.update(self.done)
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
