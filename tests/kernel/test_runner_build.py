"""Building the C helper: platform checks, compiler discovery, the hash-keyed cache, and the
messages that say what is missing."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

from maplevm.kernel import build
from maplevm.kernel.build import KernelUnavailable


def test_not_linux_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(KernelUnavailable, match="needs Linux; this is darwin"):
        build.build_runner()


def test_not_x86_64_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    with pytest.raises(KernelUnavailable, match=r"x86_64 only .* this machine is aarch64"):
        build.build_runner()


def test_missing_compiler_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(KernelUnavailable, match=r"no C compiler found \(looked for cc, gcc"):
        build.find_compiler()
    monkeypatch.setenv("CC", "/no/such/cc")
    with pytest.raises(KernelUnavailable, match="looked for /no/such/cc"):
        build.find_compiler()


def test_hash_depends_on_source_and_compiler() -> None:
    src = build.runner_source()
    assert "maplevm-runner" in src  # the helper's source ships inside the package
    h = build.source_hash(src, "gcc 12")
    assert h == build.source_hash(src, "gcc 12") and len(h) == 16
    assert h != build.source_hash(src + "\n", "gcc 12")
    assert h != build.source_hash(src, "gcc 13")


def _compiler_or_skip() -> None:
    try:
        build.check_platform()
        build.find_compiler()
    except KernelUnavailable as e:
        pytest.skip(f"cannot build the helper here: {e}")


def test_build_is_cached_per_source_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _compiler_or_skip()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = build.build_runner()
    assert first.parent.parent == tmp_path / "maplevm"
    assert first.name == "maplevm-runner" and os.access(first, os.X_OK)
    stamp = first.stat().st_mtime_ns
    assert build.build_runner() == first
    assert first.stat().st_mtime_ns == stamp  # reused, not rebuilt
    # static: no program interpreter, so the layout does not depend on the dynamic loader
    assert b"ld-linux" not in first.read_bytes()[:4096]


def test_compile_errors_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _compiler_or_skip()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(build, "runner_source", lambda: "int main(void) { return x; }\n")
    with pytest.raises(KernelUnavailable, match="building the kernel runner failed"):
        build.build_runner()
