"""Builds the C helper (runner.c) on first use, into a per-user cache keyed by its source hash.

The helper is linked statically so that its own address space (text, data, bss, heap) is
small and identical from run to run.  Everything that can stop us is reported by
:class:`KernelUnavailable` with a sentence saying what is missing.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

# No -Werror: a newer compiler's new warning must not make the live kernel "unavailable".
CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-fno-pie", "-no-pie")
BINARY_NAME = "maplevm-runner"


class KernelUnavailable(RuntimeError):
    """The live kernel cannot be used here; ``str(e)`` says why (for messages and skips)."""


def runner_source() -> str:
    return resources.files("maplevm.kernel").joinpath("runner.c").read_text(encoding="utf-8")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "maplevm"


def check_platform() -> None:
    """Raises KernelUnavailable unless this is Linux on x86_64."""
    if sys.platform != "linux":
        raise KernelUnavailable(
            f"the kernel runner needs Linux; this is {sys.platform} "
            "(recordings can still be read and compared)"
        )
    machine = platform.machine()
    if machine != "x86_64":
        raise KernelUnavailable(
            f"the kernel runner supports x86_64 only (system call numbers, MAP_32BIT, the "
            f"layout); this machine is {machine}"
        )


def find_compiler() -> str:
    """$CC, else cc or gcc on PATH; raises KernelUnavailable naming what was looked for."""
    candidates = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise KernelUnavailable(
        f"no C compiler found (looked for {', '.join(candidates)} on PATH); install gcc and "
        "a static C library (Debian/Ubuntu: apt-get install gcc libc6-dev; Fedora: "
        "dnf install gcc glibc-static), or set CC"
    )


def source_hash(source: str, compiler_id: str) -> str:
    h = hashlib.sha256()
    h.update(source.encode())
    h.update("\0".join(CFLAGS).encode())
    h.update(compiler_id.encode())
    return h.hexdigest()[:16]


def _compiler_id(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise KernelUnavailable(f"cannot run the C compiler {cc}: {e}") from None
    first = out.stdout.splitlines()[0] if out.stdout else cc
    return first


def build_runner(force: bool = False) -> Path:
    """The path of the built helper, building it if the cache has no binary for this source."""
    return build_c_program(
        BINARY_NAME, runner_source(), CFLAGS, force=force, what="the kernel runner"
    )


def build_c_program(
    name: str,
    source: str,
    cflags: tuple[str, ...] = CFLAGS,
    *,
    force: bool = False,
    what: str | None = None,
) -> Path:
    """Build a C program shipped with maplevm into the cache (keyed by source, flags and
    compiler); returns the binary's path.  Raises KernelUnavailable saying what is missing."""
    check_platform()
    cc = find_compiler()
    h = hashlib.sha256()
    h.update(source_hash(source, _compiler_id(cc)).encode())
    h.update("\0".join(cflags).encode())
    digest = h.hexdigest()[:16]
    target_dir = cache_root() / digest
    target = target_dir / name
    if target.exists() and not force:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so concurrent builds never see a partial binary.
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        src = Path(tmp) / f"{name}.c"
        src.write_text(source, encoding="utf-8")
        out = Path(tmp) / name
        cmd = [cc, *cflags, "-o", str(out), str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except OSError as e:
            raise KernelUnavailable(f"cannot run the C compiler {cc}: {e}") from None
        if proc.returncode != 0:
            hint = ""
            if "cannot find -lc" in proc.stderr or "static" in proc.stderr:
                hint = (
                    " (a static C library is needed: Debian/Ubuntu libc6-dev, Fedora glibc-static)"
                )
            raise KernelUnavailable(
                f"building {what or name} failed{hint}: {' '.join(cmd)}\n{proc.stderr.strip()}"
            )
        os.replace(out, target)
    return target
