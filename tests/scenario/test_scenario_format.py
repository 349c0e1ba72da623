"""The script format: parsing, defaults, references, round trips and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maplevm.scenario import flags as fl
from maplevm.scenario import format as sf
from maplevm.scenario import recording as sr
from maplevm.scenario.maps import Normaliser, parse_maps_line, parse_smaps, render_maps_line
from maplevm.scenario.ops import OP_SPECS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HEADER = '{"maplevm": "script", "version": 1, "files": [{"name": "f", "size": 8192}]}'


def script(*ops: str, header: str = HEADER) -> sf.Script:
    return sf.loads("\n".join([header, *ops]) + "\n", source="t.jsonl")


def error(*ops: str, header: str = HEADER) -> str:
    with pytest.raises(sf.ScriptError) as info:
        script(*ops, header=header)
    return str(info.value)


def test_flags_by_name_list_pipe_or_int_resolve_to_the_same_value() -> None:
    s = script(
        '{"op": "mmap", "len": 4096, "prot": ["PROT_READ", "PROT_WRITE"], '
        '"flags": ["MAP_PRIVATE", "MAP_ANONYMOUS"]}',
        '{"op": "mmap", "len": "0x1000", "prot": "PROT_READ|PROT_WRITE", '
        '"flags": "MAP_PRIVATE|MAP_ANONYMOUS"}',
        '{"op": "mmap", "len": 4096, "prot": 3, "flags": 34}',
    )
    resolved = [sf.resolve_args(op, []) for op in s.ops]
    assert resolved[0] == resolved[1] == resolved[2]
    assert resolved[0]["prot"] == 3 and resolved[0]["flags"] == 0x22
    assert resolved[0]["addr"] == 0 and resolved[0]["offset"] == 0  # defaults filled in


def test_references_resolve_against_earlier_results() -> None:
    s = script(
        '{"op": "mmap", "len": 8192, "prot": 3, "flags": 34}',
        '{"op": "munmap", "addr": {"ref": 0, "add": "0x1000"}, "len": 4096}',
        '{"op": "touch", "addr": {"ref": 0, "add": "-0x10"}}',
    )
    assert sf.resolve_args(s.ops[1], [0x7000_0000])["addr"] == 0x7000_1000
    assert sf.resolve_args(s.ops[2], [0x7000_0000, 0])["addr"] == 0x7000_0000 - 0x10
    assert s.ops[1].refs() == [0]


def test_script_round_trips_through_text() -> None:
    text = (FIXTURES / "scripts" / "files-stack-brk.jsonl").read_text()
    s = sf.loads(text)
    again = sf.loads(s.dumps())
    assert again == s
    assert again.dumps() == s.dumps()
    assert [f.name for f in s.header.files] == ["lib", "data"]
    assert s.header.files[1].size == 0x400000


def test_every_op_kind_parses_from_its_spec() -> None:
    examples = {
        "mmap": '{"op": "mmap", "len": 4096, "prot": 1, "flags": 2, "file": "f", "access": "ro"}',
        "munmap": '{"op": "munmap", "addr": 0, "len": 4096}',
        "mprotect": '{"op": "mprotect", "addr": 0, "len": 4096, "prot": "PROT_NONE"}',
        "mremap": '{"op": "mremap", "old_addr": 0, "old_len": 1, "new_len": 2, '
        '"flags": ["MREMAP_MAYMOVE", "MREMAP_DONTUNMAP"], "new_addr": 0}',
        "brk": '{"op": "brk", "addr": 0}',
        "madvise": '{"op": "madvise", "addr": 0, "len": 1, "advice": "MADV_GUARD_INSTALL"}',
        "mlock": '{"op": "mlock", "addr": 0, "len": 1}',
        "mlock2": '{"op": "mlock2", "addr": 0, "len": 1, "flags": ["MLOCK_ONFAULT"]}',
        "munlock": '{"op": "munlock", "addr": 0, "len": 1}',
        "mlockall": '{"op": "mlockall", "flags": ["MCL_CURRENT", "MCL_ONFAULT"]}',
        "munlockall": '{"op": "munlockall"}',
        "set_vma_anon_name": '{"op": "set_vma_anon_name", "addr": 0, "len": 1, "name": null}',
        "mseal": '{"op": "mseal", "addr": 0, "len": 1}',
        "touch": '{"op": "touch", "addr": 0, "access": "read"}',
        "truncate": '{"op": "truncate", "file": "f", "size": 0}',
        "fork": '{"op": "fork"}',
        "repeat": '{"op": "repeat", "count": 3, "stride": 4096, '
        '"body": {"op": "munmap", "addr": 0, "len": 4096}}',
    }
    # trace-only kinds (open, exec, ...) are exercised by tests/trace
    assert set(examples) == {k for k, spec in OP_SPECS.items() if not spec.trace_only}
    s = script(*examples.values())
    assert [op.kind for op in s.ops] == list(examples)
    assert sf.resolve_args(s.ops[9], [])["flags"] == fl.MCL["MCL_CURRENT"] | fl.MCL["MCL_ONFAULT"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"op": "mmap", "len": 1, "prot": ["PROT_RAED"], "flags": 2}',
         "t.jsonl:2: op 'mmap': field 'prot': unknown PROT_* name \"PROT_RAED\""),
        ('{"op": "mmapp"}', 't.jsonl:2: unknown op "mmapp"'),
        ('{"op": "munmap", "addr": 0}', "t.jsonl:2: op 'munmap': missing required field 'len'"),
        ('{"op": "munmap", "addr": 0, "len": 1, "size": 2}',
         "t.jsonl:2: op 'munmap': unknown field 'size'"),
        ('{"op": "munmap", "addr": {"ref": 0}, "len": 1}',
         "the first operation cannot refer to a step"),
        ('{"op": "munmap", "addr": "0xzz", "len": 1}', "field 'addr': \"0xzz\""),
        ('{"op": "munmap", "addr": 18446744073709551616, "len": 1}', "does not fit in 64 bits"),
        ('{"op": "mmap", "len": 1, "prot": 1, "flags": 2, "file": "nope"}',
         "no file \"nope\" in the header (f)"),
        ('{"op": "madvise", "addr": 0, "len": 1, "advice": "MADV_HWPOISON"}',
         "refused: MADV_HWPOISON poisons a physical page"),
        ('{"op": "madvise", "addr": 0, "len": 1, "advice": 101}', "MADV_SOFT_OFFLINE"),
        ('{"op": "touch", "addr": 0, "access": "exec"}',
         "\"exec\" is not one of ['read', 'write']"),
        ('{"op": "repeat", "count": 0, "body": {"op": "munmap", "addr": 0, "len": 1}}',
         "\"count\" must be a plain integer in [1, 10000000]"),
        ('{"op": "repeat", "count": 2, "body": {"op": "repeat"}}', "not a repeat"),
        ('{"op": "mmap", "len": 1, "prot": 1, "flags": 2, "fd": 3, "file": "f"}',
         "either \"file\" or \"fd\""),
        ('{"op": "munmap", "addr": 0, "len": 1, "snapshot": "all"}', '"snapshot": "all"'),
        ("{not json", "t.jsonl:2: not valid JSON"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_line_field_and_value(line: str, expected: str) -> None:
    assert expected in error(line)


def test_reference_must_point_backwards() -> None:
    msg = error('{"op": "brk", "addr": 0}', '{"op": "brk", "addr": {"ref": 1}}')
    assert "t.jsonl:3" in msg and '"ref": 1 must name an earlier step (0..0)' in msg


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('{"maplevm": "script", "version": 2}', "unsupported version 2"),
        ('{"op": "mmap"}', "the first line must be a header object"),
        ('{"maplevm": "script", "version": 1, "rlimits": {"NOFILE": 5}}', "rlimits.NOFILE"),
        (
            '{"maplevm": "script", "version": 1, "rlimits": {"STACK": {"soft": 9, "hard": 8}}}',
            "soft limit above hard limit",
        ),
        (
            '{"maplevm": "script", "version": 1, "files": [{"name": "../x", "size": 1}]}',
            'bad name "../x"',
        ),
        ('{"maplevm": "script", "version": 1, "nmae": "x"}', "header: unknown field 'nmae'"),
    ],
)
def test_header_errors(header: str, expected: str) -> None:
    assert expected in error(header=header)


def test_rlimits_forms() -> None:
    s = script(
        header='{"maplevm": "script", "version": 1, "rlimits": {"STACK": "unlimited", '
        '"AS": 1073741824, "DATA": {"soft": "0x1000000", "hard": "unlimited"}}}'
    )
    lim = s.header.rlimits
    assert lim["STACK"] == sf.RLimitSpec(None) and lim["STACK"].keep_hard
    assert lim["AS"].soft == 1 << 30
    assert lim["DATA"] == sf.RLimitSpec(0x1000000, None, keep_hard=False)
    assert sf.loads(s.dumps()).header == s.header


def test_comments_and_blank_lines_are_ignored() -> None:
    s = sf.loads("# a comment\n\n" + HEADER + "\n  # another\n" + '{"op": "munlockall"}\n')
    assert [op.kind for op in s.ops] == ["munlockall"]


def test_flag_names_for_people() -> None:
    assert fl.flag_names("MAP", 0x22) == "MAP_PRIVATE|MAP_ANONYMOUS"
    assert fl.flag_names("MAP", 0x3) == "MAP_SHARED_VALIDATE"
    assert fl.flag_names("PROT", 0x10) == "0x10"
    assert fl.errno_name(-12) == "ENOMEM" and fl.errno_name(5) == "5"


# -- recordings and maps text (from the committed live recordings) -----------------------------


def test_recordings_round_trip_byte_for_byte() -> None:
    for path in sorted((FIXTURES / "recordings").glob("*.jsonl")):
        text = path.read_text()
        rec = sr.loads(text, source=str(path))
        assert rec.dumps() == text, path.name
        assert rec.script.ops == sf.load(FIXTURES / "scripts" / path.name).ops


def test_recording_accessors() -> None:
    rec = sr.load(FIXTURES / "recordings" / "madvise-mlock-seal.jsonl")
    repeat = next(s for s in rec.steps if s.op.kind == "repeat")
    assert repeat.rets == ((0, 8),)
    # a "count" snapshot carries no lines: maps_after falls back to the last full snapshot
    last = len(rec.steps) - 1
    snap = rec.steps[last].snapshot
    assert snap is not None and snap.lines is None
    assert rec.maps_after(last) == rec.maps_after(last - 1)
    assert rec.maps_after(-1) == list(rec.initial.lines or ())
    assert rec.vmflags_after(0) is not None


def test_maps_lines_render_exactly_as_the_kernel_prints_them() -> None:
    rec = sr.load(FIXTURES / "recordings" / "anon-split-merge.jsonl")
    lines = [ln for s in rec.steps if s.snapshot and s.snapshot.lines for ln in s.snapshot.lines]
    assert any(ln.endswith("[vsyscall]") for ln in lines)
    assert any(ln.endswith(" 0 ") for ln in lines)  # unnamed: the space after the inode stays
    for ln in set(lines):
        assert parse_maps_line(ln).render() == ln


def test_normaliser_hides_paths_and_inode_numbers() -> None:
    n = Normaliser("/cache/maplevm-runner", "/tmp/run-1")
    raw = [
        "00400000-00401000 r--p 00000000 fe:00 2146637     /cache/maplevm-runner",
        "7ffff7ff0000-7ffff7ff2000 rw-s 00000000 fe:00 99 /tmp/run-1/data",
        "7ffff7fe0000-7ffff7fe2000 rw-s 00000000 00:01 5555 /dev/zero (deleted)",
        "7ffff7fd0000-7ffff7fd2000 rw-s 00000000 00:01 5555 /dev/zero (deleted)",
        "7ffff7fc0000-7ffff7fc2000 rw-p 00000000 00:00 0 ",
    ]
    out = [parse_maps_line(x) for x in n.lines(raw)]
    assert [(m.dev, m.inode, m.path) for m in out] == [
        ("00:00", 1, "$HELPER"),
        ("00:00", 2, "$SCRATCH/data"),
        ("00:01", 3, "/dev/zero (deleted)"),
        ("00:01", 3, "/dev/zero (deleted)"),
        ("00:00", 0, ""),
    ]


def test_smaps_parsing() -> None:
    text = (
        "7ffff7ff6000-7ffff7ff7000 rw-p 00000000 00:00 0 \n"
        "Size:                  4 kB\nAnonymous:             4 kB\n"
        "VmFlags: rd wr mr mw me ac \n"
        + render_maps_line(0x7FFFF7FF7000, 0x7FFFF7FFB000, "r--p", 0, "00:00", 0, "[vvar]")
        + "\nAnonymous:             0 kB\nVmFlags: rd mr pf io de dd \n"
    )
    entries = parse_smaps(text)
    assert [(e.vmflags, e.anon) for e in entries] == [
        ("rd wr mr mw me ac", True),
        ("rd mr pf io de dd", False),
    ]
    assert entries[1].line.endswith(" [vvar]")


def test_header_json_is_stable() -> None:
    s = script()
    assert json.loads(s.dumps().splitlines()[0]) == {
        "maplevm": "script",
        "version": 1,
        "files": [{"name": "f", "size": 8192}],
    }
