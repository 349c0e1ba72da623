"""Executors: anything that runs a script and says what happened, as a :class:`Recording`.

The live kernel (:class:`maplevm.kernel.runner.KernelExecutor`) is one; the model is the next.
Comparing two executors' recordings op by op (``compare``) and shrinking the scripts on which
they disagree (``shrink``) only need this protocol.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from maplevm.scenario.format import Script
from maplevm.scenario.recording import Recording


@runtime_checkable
class Executor(Protocol):
    """Runs a script; ``name`` says which executor made a recording."""

    name: str

    def run(self, script: Script) -> Recording: ...


# Executors the command line can name: name -> "module:factory".  Factories take no
# arguments; a module that cannot be imported (the model before it exists) is reported as such.
EXECUTORS: dict[str, str] = {
    "kernel": "maplevm.kernel.runner:KernelExecutor",
    "model": "maplevm.mm.executor:ModelExecutor",
}


def get_executor(name: str) -> Executor:
    """Builds the executor called ``name``; raises ``LookupError`` saying why it cannot."""
    target = EXECUTORS.get(name)
    if target is None:
        raise LookupError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise LookupError(f"executor {name!r} is not available: {e}") from None
    factory: Callable[[], Executor] = getattr(module, attr)
    return factory()
