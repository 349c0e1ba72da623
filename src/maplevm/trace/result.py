"""What a replay found: the counts of the summary and the divergences, kept in detail."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Divergence:
    """A place where the model and the kernel disagree.

    ``kind``: ``ret`` (a return value), ``maps`` (the address space after a call, seen
    when the next call of the same process starts), ``final`` (at exit or exec), ``error``
    (the model raised), ``unsupported`` (a call the model does not perform).
    """

    step: int
    kind: str
    pid: int
    call: str
    kernel: Any
    model: Any
    kernel_maps: list[str] = field(default_factory=list)
    model_maps: list[str] = field(default_factory=list)
    detail: str = ""
    seen_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "field": self.kind,
            "pid": self.pid,
            "call": self.call,
            "kernel": self.kernel,
            "model": self.model,
            "kernel_maps": self.kernel_maps,
            "model_maps": self.model_maps,
            "detail": self.detail,
            "seen_at": self.seen_at,
        }


@dataclass
class FinalCheck:
    pid: int
    step: int
    identical: bool
    vmas: int
    diff: list[str] = field(default_factory=list)


@dataclass
class ReplayResult:
    """What a replay found: counts for the summary, and the divergences."""

    name: str
    command: list[str]
    steps: int = 0
    calls: int = 0
    rets_equal: int = 0
    placements: int = 0
    placed_exactly: int = 0
    moves: int = 0
    moved_exactly: int = 0
    checks: int = 0
    checks_equal: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    finals: list[FinalCheck] = field(default_factory=list)
    unsupported: Counter[str] = field(default_factory=Counter)
    resyncs: int = 0
    errors: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    divergence_count: int = 0
    seconds: float = 0.0
    processes: int = 0

    @property
    def finals_identical(self) -> bool:
        return all(f.identical for f in self.finals)

    @property
    def exact(self) -> bool:
        """No divergence of any kind (final maps compared where the trace has them)."""
        return self.divergence_count == 0 and self.finals_identical

    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.command,
            "exact": self.exact,
            "steps": self.steps,
            "processes": self.processes,
            "calls": self.calls,
            "rets_equal": self.rets_equal,
            "placements": {"total": self.placements, "exact": self.placed_exactly},
            "mremap_moves": {"total": self.moves, "exact": self.moved_exactly},
            "maps_checks": {"total": self.checks, "equal": self.checks_equal},
            "by_kind": {k: {"total": v[0], "equal": v[1]} for k, v in sorted(self.by_kind.items())},
            "finals": [
                {"pid": f.pid, "step": f.step, "identical": f.identical, "vmas": f.vmas}
                for f in self.finals
            ],
            "unsupported": dict(self.unsupported),
            "resyncs": self.resyncs,
            "model_errors": self.errors,
            "divergences": self.divergence_count,
            "first_divergences": [d.to_json() for d in self.divergences],
            "seconds": round(self.seconds, 3),
        }
