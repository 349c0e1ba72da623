"""The recorded fixtures of one family (``tests/fixtures/recordings/<prefix>-*.jsonl`` and
the shrunk fuzz regressions ``tests/fixtures/regressions/<prefix>-*.jsonl``).  Every one is
replayed on the model by test_recorded_fixtures.py and re-run on the kernel by
tests/kernel/test_runner_live.py; the family tests check that theirs are there."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def recordings(prefix: str) -> list[Path]:
    """The committed kernel recordings of a family, fixtures and regressions."""
    return sorted(
        [
            *FIXTURES.glob(f"recordings/{prefix}-*.jsonl"),
            *FIXTURES.glob(f"regressions/{prefix}-*.jsonl"),
        ]
    )


def scripts(prefix: str) -> list[Path]:
    """The hand-written scripts of a family (each has its recording)."""
    return sorted(FIXTURES.glob(f"scripts/{prefix}-*.jsonl"))
