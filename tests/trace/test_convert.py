"""From events to trace steps: processes, threads, file tables, snapshots, numbering."""

from __future__ import annotations

from maplevm.trace import events as ev
from maplevm.trace.convert import convert, parse_limits, parse_stat_layout
from maplevm.trace.format import Trace

HEAP = "555555559000-55555557a000 rw-p 00000000 00:00 0                          [heap]"
ANON = "7ffff7fc0000-7ffff7fc2000 rw-p 00000000 00:00 0 "
FILE = "7ffff7fb7000-7ffff7fc0000 r--p 00000000 fe:00 673                        /etc/ld.so.cache"
SMAPS = f"{HEAP}\nAnonymous: 4 kB\nVmFlags: rd wr mr mw me ac\n"
STAT = "1 (x) R " + " ".join(str(i) for i in range(4, 53))
LIMITS = "Max stack size            8388608              unlimited            bytes\n"
VL = ev.VmaLine


def exec_event(tid: int, **extra: str) -> ev.Exec:
    blobs = {"smaps": SMAPS, "stat": STAT, "limits": LIMITS, "personality": "00040000\n"}
    blobs.update({"exe": "/bin/prog", "fds": "0 1 2 ", **extra})
    return ev.Exec("E", tid, tid, blobs)


def sc(tid: int, nr: int, ret: int, *args: int) -> ev.Syscall:
    a = (*args, 0, 0, 0, 0, 0, 0)[:6]
    return ev.Syscall("S", tid, nr, (a[0], a[1], a[2], a[3], a[4], a[5]), ret)


def fdinfo(tid: int, fd: int, size: int = 0x86F3) -> ev.FdInfo:
    return ev.FdInfo("I", tid, fd, "fe:00", 673, size, 0o100644, 0o100000, 0xEF53, "/etc/c")


def run(events: list[ev.Event]) -> Trace:
    return convert(events, ["prog"], {}, {"tracer": "ptrace"})


def test_exec_open_mmap_dup_close() -> None:
    t = run(
        [
            ev.Root("R", 900),
            exec_event(900),
            sc(900, 12, 0x555555559000, 0),  # brk(0): no snapshot was taken
            sc(900, 257, 3, -100, 0, 0),  # openat -> 3
            fdinfo(900, 3),
            ev.Delta("D", 900, []),
            fdinfo(900, 3),
            sc(900, 9, 0x7FFFF7FB7000, 0, 0x86F3, 1, 2, 3, 0),
            sc(900, 32, 5, 3),  # dup(3) = 5
            sc(900, 3, 0, 3),  # close(3)
            ev.Delta("D", 900, [VL(FILE, "rd mr mw me", False)]),
            sc(900, 11, 0, 0x7FFFF7FB7000, 0x86F3),
            ev.Final("Z", 900),
            ev.Gone("X", 900, False, 7),
        ]
    )
    kinds = [s.kind for s in t.steps]
    assert kinds == ["exec", "brk", "open", "mmap", "dup", "close", "munmap", "exit"]
    assert all(s.pid == 1 and s.tid == 1 for s in t.steps)
    exe, brk, opened, mmap, dup, close, munmap, exit_ = t.steps
    assert exe.args["path"] == "/bin/prog" and exe.snapshot == [VL(HEAP, "rd wr mr mw me ac", True)]
    assert exe.process is not None and exe.process["rlimits"]["STACK"]["soft"] == 8388608
    assert brk.before is None  # the tracer took no snapshot for brk(0)
    assert opened.args["path"] == "/etc/c" and opened.args["access"] == "r"
    assert opened.args["fs"] == "ext4" and opened.ret == 3
    assert mmap.before == [] and mmap.args["fd"] == 3 and mmap.fsize is None
    assert (dup.args["fd"], dup.args["newfd"]) == (3, 5)
    assert close.args["fd"] == 3
    assert munmap.before == [VL(FILE, "rd mr mw me", False)]
    assert exit_.args["code"] == 7 and exit_.snapshot is not None
    assert [v.line for v in exit_.snapshot] == [HEAP, FILE]
    assert t.env["personality"] == "00040000"
    assert t.info["processes"] == 1 and t.info["exit_code"] == 7


def test_an_inherited_fd_gets_an_open_step_and_sizes_are_tracked() -> None:
    t = run(
        [
            ev.Root("R", 7),
            exec_event(7),
            fdinfo(7, 4, size=100),
            sc(7, 9, 0x7FFFF7FB7000, 0, 4096, 1, 2, 4, 0),
            sc(7, 2, 5, 0),
            fdinfo(7, 5, size=100),
            fdinfo(7, 5, size=9000),  # the file grew before the mmap
            sc(7, 9, 0x7FFFF7FB6000, 0, 4096, 1, 2, 5, 0),
        ]
    )
    kinds = [s.kind for s in t.steps]
    assert kinds == ["exec", "open", "mmap", "open", "mmap"]
    assert t.steps[1].note is not None and "inherited" in t.steps[1].note
    assert t.steps[4].fsize == 9000


def test_a_duplicated_fd_first_seen_at_the_dup_shares_its_open_file() -> None:
    """Opens are not traced: the tracer describes the descriptor a dup copies (I at the dup's
    entry), so both numbers refer to one open file (one struct file: their mappings merge)."""
    t = run(
        [
            ev.Root("R", 7),
            exec_event(7),
            fdinfo(7, 4, size=100),
            sc(7, 33, 9, 4, 9),  # dup2(4, 9) -> 9
            sc(7, 3, 0, 4),  # close(4)
            fdinfo(7, 9, size=100),
            sc(7, 9, 0x7FFFF7FB7000, 0, 4096, 1, 2, 9, 0),  # mmap of fd 9
        ]
    )
    kinds = [s.kind for s in t.steps]
    assert kinds == ["exec", "open", "dup", "close", "mmap"]
    assert t.steps[1].args["fd"] == 4 and t.steps[2].args == {"fd": 4, "newfd": 9}


def test_processes_threads_and_forks() -> None:
    t = run(
        [
            ev.Root("R", 50),
            exec_event(50),
            ev.NewTask("T", 51, 50, 0x3D0F00),  # a thread (CLONE_THREAD|CLONE_VM|...)
            ev.Delta("D", 50, []),
            ev.NewTask("T", 60, 51, 0x11),  # fork from the thread
            ev.Blob("B", 60, "forksmaps", SMAPS),
            ev.NewTask("T", 70, 50, 0x4111),  # vfork: shares the mm
            sc(60, 9, 0x7FFFF7FB7000, 0, 4096, 3, 0x22, -1, 0),
            sc(51, 9, 0x7FFFF7FB6000, 0, 4096, 3, 0x22, -1, 0),
            ev.Gone("X", 60, True, 9),
        ]
    )
    steps = t.steps
    assert [s.kind for s in steps] == ["exec", "clone", "clone", "mmap", "mmap", "exit"]
    fork, vfork = steps[1], steps[2]
    assert (fork.pid, fork.tid, fork.args["child"], fork.ret) == (1, 2, 2, 2)
    assert fork.before == [] and fork.snapshot is not None and len(fork.snapshot) == 1
    assert vfork.args["child"] == 3 and vfork.before is None and vfork.snapshot is None
    assert (steps[3].pid, steps[3].tid) == (2, 3)
    assert (steps[4].pid, steps[4].tid) == (1, 2)
    assert steps[5].pid == 2 and steps[5].args["code"] == -9
    # the vfork child (process 3) has no events of its own: not counted
    assert t.info["processes"] == 2 and t.info["threads"] == 3


def test_exec_closes_close_on_exec_descriptors() -> None:
    t = run(
        [
            ev.Root("R", 1),
            exec_event(1),
            sc(1, 257, 3, 0),
            fdinfo(1, 3),
            sc(1, 257, 4, 0),
            fdinfo(1, 4),
            exec_event(1, fds="0 1 2 4 "),
        ]
    )
    assert [s.kind for s in t.steps] == ["exec", "open", "open", "exec", "close"]
    assert t.steps[-1].args["fd"] == 3 and t.steps[-1].note == "close-on-exec"


def test_numbering_does_not_depend_on_real_pids() -> None:
    def events(base: int) -> list[ev.Event]:
        return [
            ev.Root("R", base),
            exec_event(base),
            ev.NewTask("T", base + 3, base, 0x11),
            sc(base + 3, 12, 0x1000, 0),
        ]

    a, b = run(events(100)), run(events(31337))
    assert a.dumps() == b.dumps()


def test_proc_text_parsers() -> None:
    layout = parse_stat_layout(STAT)
    assert layout["start_brk"] == 47 and layout["start_stack"] == 28
    assert parse_limits(LIMITS) == {"STACK": {"soft": 8388608, "hard": "unlimited"}}
