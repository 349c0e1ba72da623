"""``maplevm verify``: the model against the live kernel, on generated scripts.

Each script runs on this machine's kernel (the C runner) and on the model, which starts
from the kernel's initial address space; every return value, fault, maps line, VmFlags and
anon-pages bit is compared.  A divergence is shrunk to a minimal script that still
diverges, saved as a regression fixture (script + kernel recording) and shown as a diff.

    maplevm verify --seed 1 --count 200 --jobs 2
    maplevm verify --seed 7 --count 50 --kind adversarial --shrink-to tests/fixtures/regressions
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maplevm.scenario.compare import ALL_FIELDS, first_divergence
from maplevm.scenario.format import Script
from maplevm.scenario.generator import KINDS, generate
from maplevm.scenario.progress import Progress
from maplevm.scenario.recording import Recording

DEFAULT_SHRINK_DIR = Path("tests/fixtures/regressions")


@dataclass
class Outcome:
    """One script's verdict."""

    index: int
    name: str
    ops: int
    divergence: dict[str, Any] | None = None
    rendered: str = ""
    fixture: str | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Summary:
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def diverged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.divergence is not None or o.error]

    @property
    def ops(self) -> int:
        return sum(o.ops for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "scripts": len(self.outcomes),
            "operations": self.ops,
            "diverged": len(self.diverged),
            "divergences": [
                {
                    "index": o.index,
                    "script": o.name,
                    "divergence": o.divergence,
                    "error": o.error,
                    "fixture": o.fixture,
                }
                for o in self.diverged
            ],
        }


def run_pair(script: Script) -> tuple[Recording, Recording]:
    """The kernel's and the model's recordings of ``script``."""
    from maplevm.kernel.runner import KernelExecutor
    from maplevm.mm.executor import ModelExecutor

    kernel = KernelExecutor().run(script)
    model = ModelExecutor(base=kernel).run(script)
    return kernel, model


def check_script(
    index: int, script: Script, shrink_to: Path | None, fields: Sequence[str] = ALL_FIELDS
) -> Outcome:
    """Run one script on both, compare, and shrink a divergence if asked."""
    t0 = time.monotonic()
    outcome = Outcome(index, script.header.name or f"script-{index}", len(script.ops))
    try:
        kernel, model = run_pair(script)
    except Exception as exc:  # a model crash is a divergence too: report it, keep going
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.seconds = time.monotonic() - t0
        return outcome
    div = first_divergence(kernel, model, fields=fields, names=("kernel", "model"))
    if div is not None:
        outcome.divergence = div.to_json()
        outcome.rendered = div.render()
        if shrink_to is not None:
            outcome.fixture = _shrink(script, shrink_to, fields)
    outcome.seconds = time.monotonic() - t0
    return outcome


def _shrink(script: Script, directory: Path, fields: Sequence[str]) -> str | None:
    from maplevm.kernel.runner import KernelExecutor
    from maplevm.mm.executor import ModelExecutor
    from maplevm.scenario.shrink import save_fixture, shrink

    try:
        result = shrink(script, KernelExecutor(), ModelExecutor(), fields=fields, max_tests=400)
    except Exception as exc:
        return f"(shrinking failed: {type(exc).__name__}: {exc})"
    return str(save_fixture(result, directory, f"{script.header.name}-min"))


def scripts(
    seed: int, count: int, kind: str, ops: tuple[int, int], start: int = 0
) -> Iterator[tuple[int, Script]]:
    for i in range(start, start + count):
        yield i, generate(seed, i, kind=kind, ops=ops)  # type: ignore[arg-type]


def _worker(job: tuple[int, int, str, tuple[int, int], str | None]) -> Outcome:
    seed, index, kind, ops, shrink_to = job
    script = generate(seed, index, kind=kind, ops=ops)  # type: ignore[arg-type]
    return check_script(index, script, Path(shrink_to) if shrink_to else None)


def verify(
    seed: int,
    count: int,
    *,
    kind: str = "mixed",
    ops: tuple[int, int] = (30, 200),
    jobs: int = 1,
    shrink_to: Path | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Check ``count`` generated scripts of series ``seed``."""
    summary = Summary(seed)
    work = [(seed, i, kind, ops, str(shrink_to) if shrink_to else None) for i in range(count)]
    done = 0
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for outcome in pool.imap_unordered(_worker, work):
                summary.outcomes.append(outcome)
                done += 1
                if progress:
                    progress.update(done, f"{len(summary.diverged)} diverged")
    else:
        for job in work:
            summary.outcomes.append(_worker(job))
            done += 1
            if progress:
                progress.update(done, f"{len(summary.diverged)} diverged")
    summary.outcomes.sort(key=lambda o: o.index)
    return summary


def _ops_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def cmd_verify(args: argparse.Namespace) -> int:
    from maplevm.kernel.runner import kernel_unavailable_reason

    reason = kernel_unavailable_reason()
    if reason is not None:
        print(f"maplevm verify: the live kernel cannot be used here: {reason}", file=sys.stderr)
        return 2
    shrink_to = None if args.no_shrink else Path(args.shrink_to)
    with Progress(args.count, "verify", enabled=args.progress) as bar:
        summary = verify(
            args.seed,
            args.count,
            kind=args.kind,
            ops=args.ops,
            jobs=args.jobs,
            shrink_to=shrink_to,
            progress=bar,
        )
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        bad = summary.diverged
        print(
            f"{len(summary.outcomes)} scripts ({summary.ops} operations, seed {args.seed}, "
            f"{args.kind}): {len(summary.outcomes) - len(bad)} identical, {len(bad)} diverged"
        )
        for o in bad:
            print(f"\n--- {o.name} (script {o.index}, {o.ops} ops)")
            print(o.error or o.rendered)
            if o.fixture:
                print(f"  shrunk: {o.fixture}")
    return 1 if summary.diverged else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="run generated scripts on the live kernel and the model; report divergences",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=1, help="series of scripts (default 1)")
    p.add_argument("--count", type=int, default=100, help="number of scripts (default 100)")
    p.add_argument("--kind", choices=KINDS, default="mixed", help="generator flavour")
    p.add_argument(
        "--ops", type=_ops_range, default=(30, 200), help="operations per script, MIN-MAX"
    )
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (the machine has 2)")
    p.add_argument(
        "--shrink-to",
        default=str(DEFAULT_SHRINK_DIR),
        help="where shrunk divergences are saved (default tests/fixtures/regressions)",
    )
    p.add_argument("--no-shrink", action="store_true", help="report divergences unshrunk")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(func=cmd_verify)
