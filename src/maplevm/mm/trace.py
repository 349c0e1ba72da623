"""Why the model did what it did: an optional recorder of decisions (``maplevm explain``).

Code in the VMA layer calls :func:`trace` at decision points (the gap found, an alignment,
a retry forced by a guard gap, a merge, a split); with no tracer attached it costs one
attribute test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM


@dataclass
class TraceEvent:
    name: str
    details: dict[str, Any]


@dataclass
class Tracer:
    """Collects :class:`TraceEvent` records while attached to an MM (``mm.tracer``)."""

    events: list[TraceEvent] = field(default_factory=list)

    def event(self, name: str, **details: Any) -> None:
        self.events.append(TraceEvent(name, details))

    def clear(self) -> None:
        self.events.clear()


def trace(mm: MM, name: str, **details: Any) -> None:
    """Record a decision if ``mm`` has a tracer."""
    if mm.tracer is not None:
        mm.tracer.event(name, **details)
