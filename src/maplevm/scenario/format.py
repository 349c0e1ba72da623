"""Operation scripts: JSON Lines, a header line then one operation per line.

    {"maplevm": "script", "version": 1, "name": "split", "files": [{"name": "f", "size": 65536}]}
    {"op": "mmap", "len": "0x4000", "prot": ["PROT_READ", "PROT_WRITE"],
     "flags": ["MAP_PRIVATE", "MAP_ANONYMOUS"]}
    {"op": "mprotect", "addr": {"ref": 0, "add": "0x1000"}, "len": 4096, "prot": "PROT_READ"}

(each operation on one line in a real file).  docs/scenario-format.md is the full reference;
:data:`maplevm.scenario.ops.OP_SPECS` is the machine-readable one.  Parsing checks everything
it can without a kernel and raises :class:`ScriptError` naming the line, the field and the
offending value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maplevm.scenario import flags as fl
from maplevm.scenario.ops import OP_SPECS, SNAPSHOT_MODES, FieldSpec, OpSpec

FORMAT_VERSION = 1
RLIMIT_NAMES = ("STACK", "AS", "MEMLOCK", "DATA")
UNLIMITED = "unlimited"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_U64 = 1 << 64
_MAX_NAME = 1024


class ScriptError(ValueError):
    """A script (or recording) that does not follow the format; says where and why."""

    def __init__(self, message: str, *, source: str = "<script>", line: int | None = None):
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class FileSpec:
    """A scratch file created (sparse, zero-filled) before the initial snapshot."""

    name: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size}


@dataclass(frozen=True)
class RLimitSpec:
    """A resource limit to set before the helper starts; None means RLIM_INFINITY.

    ``hard`` may be omitted (``keep_hard``): the hard limit stays what it was.
    """

    soft: int | None
    hard: int | None = None
    keep_hard: bool = True

    def to_json(self) -> Any:
        soft: Any = UNLIMITED if self.soft is None else self.soft
        if self.keep_hard:
            return soft
        return {"soft": soft, "hard": UNLIMITED if self.hard is None else self.hard}


@dataclass(frozen=True)
class Header:
    name: str = ""
    description: str = ""
    files: tuple[FileSpec, ...] = ()
    rlimits: Mapping[str, RLimitSpec] = field(default_factory=dict)
    snapshot: str = "full"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"maplevm": "script", "version": FORMAT_VERSION}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        if self.files:
            out["files"] = [f.to_json() for f in self.files]
        if self.rlimits:
            out["rlimits"] = {k: v.to_json() for k, v in self.rlimits.items()}
        if self.snapshot != "full":
            out["snapshot"] = self.snapshot
        if self.meta:
            out["meta"] = dict(self.meta)
        return out

    def file_index(self, name: str) -> int:
        for i, f in enumerate(self.files):
            if f.name == name:
                return i
        raise KeyError(name)


@dataclass(frozen=True)
class Op:
    """One operation as written: its kind and its fields (JSON values, names kept)."""

    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)
    snapshot: str | None = None
    note: str | None = None

    @property
    def spec(self) -> OpSpec:
        return OP_SPECS[self.kind]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.kind}
        for f in self.spec.fields:
            if f.name in self.args:
                value = self.args[f.name]
                out[f.name] = value.to_json() if isinstance(value, Op) else value
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot
        if self.note is not None:
            out["note"] = self.note
        return out

    def replace(self, **args: Any) -> Op:
        """A copy with some fields changed; a value of None removes an optional field."""
        new = dict(self.args)
        for k, v in args.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
        return Op(self.kind, new, self.snapshot, self.note)

    def refs(self) -> list[int]:
        """The step indices this operation's fields refer to."""
        found: list[int] = []
        for value in self.args.values():
            if isinstance(value, Op):
                found.extend(value.refs())
            elif isinstance(value, dict) and "ref" in value:
                found.append(int(value["ref"]))
        return found


@dataclass(frozen=True)
class Script:
    header: Header
    ops: tuple[Op, ...]

    def dumps(self) -> str:
        lines = [dump_json(self.header.to_json())]
        lines.extend(dump_json(op.to_json()) for op in self.ops)
        return "\n".join(lines) + "\n"

    def with_ops(self, ops: Iterable[Op]) -> Script:
        return Script(self.header, tuple(ops))

    def snapshot_mode(self, i: int) -> str:
        return self.ops[i].snapshot or self.header.snapshot


def dump_json(obj: Any) -> str:
    """One compact, deterministic JSON line (key order as built, no trailing spaces)."""
    return json.dumps(obj, separators=(", ", ": "), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Values


def parse_int(value: Any) -> int:
    """An int, or a string "0x1000" / "4096" / "-1"; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.replace("_", ""), 0)
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def check_u64(value: int) -> int:
    """Accepts [-2**63, 2**64); the kernel sees the same 64 bits either way."""
    if not -(1 << 63) <= value < _U64:
        raise ValueError(f"{value} does not fit in 64 bits")
    return value


def to_signed64(value: int) -> int:
    value %= _U64
    return value - _U64 if value >= 1 << 63 else value


def resolve_value(f: FieldSpec, value: Any, results: Sequence[int]) -> int | str | None:
    """A field's value as the kernel will get it: refs resolved, flag names turned into ints."""
    if f.kind == "int":
        if isinstance(value, dict):
            base = results[int(value["ref"])]
            return check_u64(base + parse_int(value.get("add", 0)))
        return parse_int(value)
    if f.kind in ("flags", "enum"):
        assert f.table is not None
        return fl.flag_value(f.table, value)
    if f.kind in ("name", "file", "choice"):
        return None if value is None else str(value)
    raise TypeError(f"field {f.name} of kind {f.kind} has no scalar value")


def resolve_args(op: Op, results: Sequence[int]) -> dict[str, int | str | None]:
    """Every field of ``op`` (defaults filled in) with refs resolved against ``results``.

    ``results[i]`` is the return value of step i.  A ``repeat``'s body is not resolved here.
    """
    out: dict[str, int | str | None] = {}
    for f in op.spec.fields:
        if f.kind == "body":
            continue
        if f.name in op.args:
            out[f.name] = resolve_value(f, op.args[f.name], results)
        elif f.default is not None:
            out[f.name] = resolve_value(f, f.default, results)
        else:
            out[f.name] = None
    return out


# ---------------------------------------------------------------------------------------------
# Parsing


class _Ctx:
    def __init__(self, source: str, line: int | None) -> None:
        self.source = source
        self.line = line

    def error(self, message: str) -> ScriptError:
        return ScriptError(message, source=self.source, line=self.line)


def _check_int(ctx: _Ctx, where: str, value: Any, index: int | None) -> None:
    if isinstance(value, dict):
        extra = set(value) - {"ref", "add"}
        if "ref" not in value or extra:
            raise ctx.error(
                f'{where}: a reference is {{"ref": STEP, "add": N}}, got {dump_json(value)}'
            )
        ref = value["ref"]
        if isinstance(ref, bool) or not isinstance(ref, int):
            raise ctx.error(f'{where}: "ref" must be a step number, got {dump_json(ref)}')
        if index is None:
            raise ctx.error(f"{where}: references are only allowed inside operations")
        if not 0 <= ref < index:
            raise ctx.error(
                f'{where}: "ref": {ref} must name an earlier step (0..{index - 1})'
                if index
                else f"{where}: the first operation cannot refer to a step"
            )
        try:
            parse_int(value.get("add", 0))
        except ValueError as e:
            raise ctx.error(f'{where}: "add": {dump_json(value.get("add"))}: {e}') from None
        return
    try:
        check_u64(parse_int(value))
    except ValueError as e:
        raise ctx.error(f"{where}: {dump_json(value)}: {e}") from None


def _check_flags(ctx: _Ctx, where: str, f: FieldSpec, value: Any) -> None:
    assert f.table is not None
    table = fl.TABLES[f.table]
    names: list[Any]
    if isinstance(value, bool):
        raise ctx.error(f"{where}: expected names or an integer, got {dump_json(value)}")
    if isinstance(value, int):
        _check_int(ctx, where, value, None)
        return
    if isinstance(value, str):
        names = value.split("|") if f.kind == "flags" else [value]
    elif isinstance(value, list) and f.kind == "flags":
        names = value
    else:
        kind = "a name or an integer" if f.kind == "enum" else "a list of names or an integer"
        raise ctx.error(f"{where}: expected {kind}, got {dump_json(value)}")
    for name in names:
        if not isinstance(name, str) or name not in table:
            known = ", ".join(table)
            raise ctx.error(f"{where}: unknown {f.table}_* name {dump_json(name)} (known: {known})")


def parse_op(
    obj: Any, *, index: int, header: Header, source: str = "<script>", line: int | None = None
) -> Op:
    """Checks one operation object (step ``index``) and returns it as an :class:`Op`."""
    ctx = _Ctx(source, line)
    if not isinstance(obj, dict):
        raise ctx.error(f"an operation must be a JSON object, got {dump_json(obj)}")
    kind = obj.get("op")
    if kind not in OP_SPECS:
        known = ", ".join(OP_SPECS)
        raise ctx.error(f"unknown op {dump_json(kind)} (known: {known})")
    spec = OP_SPECS[kind]
    allowed = {f.name for f in spec.fields} | {"op", "snapshot", "note"}
    for key in obj:
        if key not in allowed:
            names = ", ".join(f.name for f in spec.fields) or "(none)"
            raise ctx.error(f"op {kind!r}: unknown field {key!r} (fields: {names})")
    args: dict[str, Any] = {}
    for f in spec.fields:
        where = f"op {kind!r}: field {f.name!r}"
        if f.name not in obj:
            if f.required:
                raise ctx.error(f"op {kind!r}: missing required field {f.name!r}")
            continue
        value = obj[f.name]
        if f.kind == "int":
            _check_int(ctx, where, value, index)
        elif f.kind in ("flags", "enum"):
            _check_flags(ctx, where, f, value)
        elif f.kind == "name":
            if value is not None and not isinstance(value, str):
                raise ctx.error(f"{where}: expected a string or null, got {dump_json(value)}")
            if isinstance(value, str) and len(value.encode()) >= _MAX_NAME:
                raise ctx.error(f"{where}: longer than {_MAX_NAME - 1} bytes")
        elif f.kind == "file":
            declared = [fs.name for fs in header.files]
            if value not in declared:
                known = ", ".join(declared) or "none declared"
                raise ctx.error(f"{where}: no file {dump_json(value)} in the header ({known})")
        elif f.kind == "choice":
            if value not in f.choices:
                raise ctx.error(f"{where}: {dump_json(value)} is not one of {list(f.choices)}")
        elif f.kind == "body":
            if not isinstance(value, dict) or value.get("op") in ("repeat", None):
                raise ctx.error(f"{where}: expected one operation object that is not a repeat")
            body = parse_op(value, index=index, header=header, source=source, line=line)
            if body.spec.trace_only:
                raise ctx.error(f"{where}: op {body.kind!r} only appears in traces")
            if body.snapshot is not None:
                raise ctx.error(f'{where}: the body of a repeat takes no "snapshot"')
            if body.spec.addr_field is None and parse_int(obj.get("stride", 0)) != 0:
                raise ctx.error(f"{where}: op {body.kind!r} has no address to advance by stride")
            value = body
        args[f.name] = value
    snapshot = obj.get("snapshot")
    if snapshot is not None and snapshot not in SNAPSHOT_MODES:
        raise ctx.error(f'"snapshot": {dump_json(snapshot)} is not one of {list(SNAPSHOT_MODES)}')
    note = obj.get("note")
    if note is not None and not isinstance(note, str):
        raise ctx.error(f'"note" must be a string, got {dump_json(note)}')
    op = Op(kind, args, snapshot, note)
    _check_semantics(ctx, op)
    return op


def _check_semantics(ctx: _Ctx, op: Op) -> None:
    """Rules that involve more than one field, or that protect the machine."""
    if op.kind == "mmap" and "file" in op.args and "fd" in op.args:
        raise ctx.error('op \'mmap\': give either "file" or "fd", not both')
    if op.kind == "mmap" and "access" in op.args and "file" not in op.args:
        raise ctx.error('op \'mmap\': "access" only applies with "file"')
    if op.kind == "madvise":
        advice = fl.flag_value("MADV", op.args["advice"])
        if advice in fl.FORBIDDEN_ADVICE:
            raise ctx.error(f"op 'madvise': refused: {fl.FORBIDDEN_ADVICE[advice]}")
    if op.kind == "repeat":
        count = op.args["count"]
        if isinstance(count, dict) or not 1 <= parse_int(count) <= 10_000_000:
            raise ctx.error("op 'repeat': \"count\" must be a plain integer in [1, 10000000]")
        if isinstance(op.args.get("stride", 0), dict):
            raise ctx.error("op 'repeat': \"stride\" must be a plain integer")


def _parse_rlimit_value(ctx: _Ctx, where: str, value: Any) -> int | None:
    if value == UNLIMITED:
        return None
    try:
        v = parse_int(value)
    except ValueError as e:
        raise ctx.error(f'{where}: {dump_json(value)}: {e} (or "unlimited")') from None
    if not 0 <= v < _U64 - 1:
        raise ctx.error(f"{where}: {v} is out of range")
    return v


def parse_header(obj: Any, *, source: str = "<script>", line: int | None = 1) -> Header:
    ctx = _Ctx(source, line)
    if not isinstance(obj, dict) or obj.get("maplevm") != "script":
        raise ctx.error(
            'the first line must be a header object {"maplevm": "script", "version": 1, ...}'
        )
    if obj.get("version") != FORMAT_VERSION:
        raise ctx.error(
            f"unsupported version {dump_json(obj.get('version'))} (this maplevm reads "
            f"{FORMAT_VERSION})"
        )
    allowed = {
        "maplevm",
        "version",
        "name",
        "description",
        "files",
        "rlimits",
        "snapshot",
        "meta",
    }
    for key in obj:
        if key not in allowed:
            raise ctx.error(f"header: unknown field {key!r} (fields: {', '.join(sorted(allowed))})")
    for key in ("name", "description"):
        if not isinstance(obj.get(key, ""), str):
            raise ctx.error(f"header: {key!r} must be a string")
    files: list[FileSpec] = []
    raw_files = obj.get("files", [])
    if not isinstance(raw_files, list):
        raise ctx.error('header: "files" must be a list of {"name": ..., "size": ...}')
    for i, entry in enumerate(raw_files):
        where = f"header: files[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"name", "size"}:
            raise ctx.error(f'{where}: expected {{"name": NAME, "size": BYTES}}')
        name = entry["name"]
        if not isinstance(name, str) or not _FILE_NAME.match(name):
            raise ctx.error(f"{where}: bad name {dump_json(name)} (letters, digits, . _ -)")
        if any(f.name == name for f in files):
            raise ctx.error(f"{where}: duplicate file name {name!r}")
        try:
            size = parse_int(entry["size"])
        except ValueError as e:
            raise ctx.error(f"{where}: size {dump_json(entry['size'])}: {e}") from None
        if not 0 <= size <= 1 << 40:
            raise ctx.error(f"{where}: size {size} must be in [0, 2**40]")
        files.append(FileSpec(name, size))
    rlimits: dict[str, RLimitSpec] = {}
    raw_limits = obj.get("rlimits", {})
    if not isinstance(raw_limits, dict):
        raise ctx.error('header: "rlimits" must be an object like {"STACK": 8388608}')
    for name, value in raw_limits.items():
        where = f"header: rlimits.{name}"
        if name not in RLIMIT_NAMES:
            raise ctx.error(f"{where}: unknown limit (known: {', '.join(RLIMIT_NAMES)})")
        if isinstance(value, dict):
            if set(value) - {"soft", "hard"} or "soft" not in value:
                raise ctx.error(f'{where}: expected {{"soft": N, "hard": N}}')
            soft = _parse_rlimit_value(ctx, where + ".soft", value["soft"])
            if "hard" in value:
                hard = _parse_rlimit_value(ctx, where + ".hard", value["hard"])
                if soft is not None and (hard is None or soft <= hard):
                    rlimits[name] = RLimitSpec(soft, hard, keep_hard=False)
                elif soft is None and hard is None:
                    rlimits[name] = RLimitSpec(None, None, keep_hard=False)
                else:
                    raise ctx.error(f"{where}: soft limit above hard limit")
            else:
                rlimits[name] = RLimitSpec(soft)
        else:
            rlimits[name] = RLimitSpec(_parse_rlimit_value(ctx, where, value))
    snapshot = obj.get("snapshot", "full")
    if snapshot not in SNAPSHOT_MODES:
        raise ctx.error(f'header: "snapshot" must be one of {list(SNAPSHOT_MODES)}')
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise ctx.error('header: "meta" must be an object')
    return Header(
        name=obj.get("name", ""),
        description=obj.get("description", ""),
        files=tuple(files),
        rlimits=rlimits,
        snapshot=snapshot,
        meta=meta,
    )


def iter_json_lines(text: str, source: str) -> Iterable[tuple[int, Any]]:
    """(line number, parsed object) for each non-blank line that is not a ``#`` comment."""
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield number, json.loads(stripped)
        except json.JSONDecodeError as e:
            raise ScriptError(
                f"not valid JSON: {e.msg} at column {e.colno}", source=source, line=number
            ) from None


def loads(text: str, source: str = "<script>") -> Script:
    """Parses and checks a whole script."""
    header: Header | None = None
    ops: list[Op] = []
    for number, obj in iter_json_lines(text, source):
        if header is None:
            header = parse_header(obj, source=source, line=number)
            continue
        ops.append(parse_op(obj, index=len(ops), header=header, source=source, line=number))
    if header is None:
        raise ScriptError("empty script: no header line", source=source)
    return Script(header, tuple(ops))


def load(path: str | Path) -> Script:
    p = Path(path)
    return loads(p.read_text(encoding="utf-8"), source=str(p))


def dump(script: Script, path: str | Path) -> None:
    Path(path).write_text(script.dumps(), encoding="utf-8")


def script_from_json(header: Mapping[str, Any], ops: Sequence[Mapping[str, Any]]) -> Script:
    """Builds and checks a script from JSON-like objects (handy in tests and generators)."""
    h = parse_header(dict(header), line=None)
    return Script(
        h, tuple(parse_op(dict(o), index=i, header=h, line=None) for i, o in enumerate(ops))
    )
