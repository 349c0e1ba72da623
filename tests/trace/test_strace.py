"""strace logs: the parser's pieces, and a committed log replayed against its maps."""

from __future__ import annotations

import pytest

from maplevm.trace.replay import replay
from maplevm.trace.strace import (
    StraceError,
    infer_mmap_base,
    read_maps_file,
    read_strace,
    split_args,
    value,
)

from .helpers import TRACES


def test_split_args_and_values() -> None:
    args = split_args('AT_FDCWD, "/a, b", O_RDONLY|O_CLOEXEC, {st_mode=S_IFREG, st_size=9}')
    assert args == ["AT_FDCWD", '"/a, b"', "O_RDONLY|O_CLOEXEC", "{st_mode=S_IFREG, st_size=9}"]
    assert value("NULL") == 0
    assert value("0x7fff0000") == 0x7FFF0000
    assert value("PROT_READ|PROT_WRITE") == 3
    assert value("MAP_PRIVATE|MAP_ANONYMOUS|0x80000000") == 0x80000022
    assert value("3</etc/ld.so.cache>") == 3
    assert value("flags=CLONE_VM|CLONE_VFORK|SIGCHLD") == 0x4111
    with pytest.raises(StraceError):
        value("MAP_BOGUS")


def _maps() -> list:  # type: ignore[type-arg]
    return read_maps_file(TRACES / "ls.maps")


def test_lines_unfinished_resumed_and_errors() -> None:
    log = "\n".join(
        [
            '7 execve("/bin/x", ["x", "-v"], 0x7ffc /* 3 vars */) = 0',
            "7 brk(NULL)                         = 0x55555557a000",
            "8 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 "
            "<unfinished ...>",
            "7 munmap(0x1000, 4096)              = -1 EINVAL (Invalid argument)",
            "8 <... mmap resumed>)               = 0x7ffff7fc0000",
            "7 +++ exited with 3 +++",
        ]
    )
    t = read_strace(log, _maps())
    assert t.command == ["x", "-v"]
    kinds = [(s.kind, s.pid, s.tid, s.ret) for s in t.steps]
    assert kinds == [
        ("exec", 1, 1, 0),
        ("brk", 1, 1, 0x55555557A000),
        ("munmap", 1, 1, -22),
        ("mmap", 1, 2, 0x7FFFF7FC0000),
        ("exit", 1, 1, 3),
    ]
    assert t.steps[3].args["flags"] == 0x22


def test_committed_log_replays_exactly() -> None:
    t = read_strace(
        (TRACES / "ls.strace").read_text(),
        _maps(),
        final=read_maps_file(TRACES / "ls.final.maps"),
    )
    assert t.command == ["ls", "-la", "/usr/lib"]
    res = replay(t)
    assert res.rets_equal == res.calls > 30
    assert res.placed_exactly == res.placements > 10
    assert res.finals and res.finals_identical


def test_mmap_base_from_the_layout() -> None:
    assert infer_mmap_base(_maps()) == 0x7FFFF7FFF000


def test_empty_log() -> None:
    with pytest.raises(StraceError, match="no system calls"):
        read_strace("nothing here\n", _maps())
