"""The tracer's event stream: every event kind parses, blobs attach to their exec."""

from __future__ import annotations

import pytest

from maplevm.trace import events as ev

LINE = "7ffff7fc0000-7ffff7fc2000 rw-p 00000000 00:00 0 "
SMAPS = f"{LINE}\nSize:      8 kB\nAnonymous:      4 kB\nVmFlags: rd wr mr mw me ac \n"


def stream(*parts: str | bytes) -> bytes:
    out = b""
    for p in parts:
        out += p if isinstance(p, bytes) else p.encode()
    return out


def blob(tid: int, name: str, data: str) -> str:
    return f"B {tid:x} {name} {len(data.encode()):x}\n{data}\n"


def test_every_event_kind() -> None:
    data = stream(
        "V 2\n",
        "R 10\n",
        "E 10 10\n",
        blob(0x10, "smaps", SMAPS),
        blob(0x10, "stat", "1 (x) R 0"),
        "S 10 9 0 2000 3 22 -1 0 7ffff7fc0000\n",
        "I 10 3 fe:00 2a1 86f3 81a4 88000 ef53 7 /etc/a file\n",
        "I 10 4 fe:00 2a1 86f3 81a4 88000 ef53 -1 /etc/a\n",
        "C 10 5\n",
        "A 10 6869\n",
        "D 10 2\n",
        "-7ffff7fc0000\n",
        f"+1 {LINE}\n",
        "=rd wr mr mw me ac\n",
        "T 11 10 11\n",
        blob(0x11, "forksmaps", SMAPS),
        "W something odd\n",
        "Z 10\n",
        "X 10 e 3\n",
        "X 11 s 9\n",
    )
    got = list(ev.parse_events(data))
    kinds = [e.kind for e in got]
    assert kinds == ["R", "E", "S", "I", "I", "C", "A", "D", "T", "B", "W", "Z", "X", "X"]
    exe = got[1]
    assert isinstance(exe, ev.Exec) and set(exe.blobs) == {"smaps", "stat"}
    sc = got[2]
    assert isinstance(sc, ev.Syscall)
    assert sc.nr == 9 and sc.args[4] == -1 and sc.ret == 0x7FFFF7FC0000
    fd = got[3]
    assert isinstance(fd, ev.FdInfo)
    assert (fd.fd, fd.dev, fd.inode, fd.size, fd.fs_magic) == (3, "fe:00", 0x2A1, 0x86F3, 0xEF53)
    assert fd.path == "/etc/a file" and fd.ofd == 7
    unknown = got[4]
    assert isinstance(unknown, ev.FdInfo) and unknown.ofd is None and unknown.path == "/etc/a"
    closed = got[5]
    assert isinstance(closed, ev.FdClosed) and closed.fd == 5
    got = got[:4] + got[6:]
    assert isinstance(got[4], ev.StrArg) and got[4].value == "hi"
    d = got[5]
    assert isinstance(d, ev.Delta) and d.edits[0] == 0x7FFFF7FC0000
    added = d.edits[1]
    assert isinstance(added, ev.VmaLine)
    assert (added.start, added.end, added.anon, added.vmflags) == (
        0x7FFFF7FC0000,
        0x7FFFF7FC2000,
        True,
        "rd wr mr mw me ac",
    )
    assert isinstance(got[7], ev.Blob) and got[7].name == "forksmaps"
    gone = got[11]
    assert isinstance(gone, ev.Gone) and gone.signal and gone.code == 9


def test_smaps_vmas() -> None:
    (v,) = ev.parse_smaps_vmas(SMAPS)
    assert v.line == LINE and v.anon and v.vmflags == "rd wr mr mw me ac"


def test_an_exec_at_the_end_is_not_lost() -> None:
    got = list(ev.parse_events(stream("E 5 5\n", blob(5, "exe", "/bin/true"))))
    assert len(got) == 1 and isinstance(got[0], ev.Exec) and got[0].blobs["exe"] == "/bin/true"


def test_bad_input() -> None:
    with pytest.raises(ev.EventError, match="unknown event"):
        list(ev.parse_events(b"Q 1\n"))
    with pytest.raises(ev.EventError, match="version"):
        list(ev.parse_events(b"V 9\n"))
