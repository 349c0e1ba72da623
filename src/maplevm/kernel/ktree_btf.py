"""A small reader for the kernel's BTF (``/sys/kernel/btf/vmlinux``).

The tree reader needs a handful of struct member offsets (``task_struct.tasks``,
``mm_struct.mm_mt``, ``vm_area_struct.vm_start``, the maple node layout, ...).  They differ
between kernel builds, so they are taken from the running kernel's own type information
instead of being written down.  Only what that needs is decoded: the type table, struct and
union members (walking through anonymous members, which is where the kernel puts
``vm_start`` and ``mm_mt``), typedef/qualifier chains, arrays and integer sizes.

Format reference: the kernel's Documentation/bpf/btf.rst (header, ``struct btf_type``
followed by kind-specific data, string section of NUL-terminated names).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")

BTF_MAGIC = 0xEB9F

# BTF kinds (the ``info`` word's bits 24-28).
KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

# Kinds that only qualify another type: followed to reach the real one.
_QUALIFIERS = frozenset({KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG})


class BtfError(Exception):
    """The BTF blob is missing, malformed, or lacks a type or member we need."""


@dataclass(frozen=True)
class BtfMember:
    name_off: int  # string offset of the name; 0 for an anonymous struct/union member
    type_id: int
    bit_offset: int
    bitfield_size: int  # 0 when the member is not a bitfield


@dataclass(frozen=True)
class BtfType:
    type_id: int
    kind: int
    name: str
    size: int  # byte size for INT/STRUCT/UNION/ENUM/FLOAT/DATASEC, else 0
    ref: int  # referenced type for PTR/TYPEDEF/qualifiers/FUNC/VAR, else 0
    members: tuple[BtfMember, ...] = ()
    array_elem: int = 0  # ARRAY: element type id
    array_len: int = 0  # ARRAY: number of elements


@dataclass(frozen=True)
class FieldInfo:
    """Where a (possibly nested) member lives: byte offset and the resolved type."""

    offset: int
    type_id: int
    size: int  # byte size of the member's type
    array_len: int  # number of elements if the member is an array, else 0
    elem_size: int  # element size for arrays, else equal to size


class Btf:
    """Decoded BTF type table with member-offset lookups."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BtfError("BTF blob too short")
        magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != BTF_MAGIC:
            raise BtfError(f"bad BTF magic {magic:#x} (big-endian BTF is not supported)")
        if version != 1:
            raise BtfError(f"unsupported BTF version {version}")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        base = hdr_len
        self._strings = data[base + str_off : base + str_off + str_len]
        self._types: list[BtfType | None] = [None]  # type id 0 is "void"
        self._by_name: dict[tuple[int, str], list[int]] = {}
        self._parse_types(data[base + type_off : base + type_off + type_len])

    @classmethod
    def from_file(cls, path: Path = VMLINUX_BTF) -> Btf:
        try:
            return cls(path.read_bytes())
        except OSError as exc:
            raise BtfError(f"cannot read {path}: {exc.strerror}") from exc

    def _name(self, off: int) -> str:
        end = self._strings.find(b"\0", off)
        if end < 0:
            raise BtfError(f"unterminated BTF string at {off}")
        return self._strings[off:end].decode("utf-8", "replace")

    def _parse_types(self, blob: bytes) -> None:
        pos = 0
        while pos < len(blob):
            name_off, info, size_or_type = struct.unpack_from("<III", blob, pos)
            pos += 12
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            kflag = bool(info >> 31)
            type_id = len(self._types)
            name = self._name(name_off)
            members: tuple[BtfMember, ...] = ()
            size, ref, elem, nelems = 0, 0, 0, 0
            if kind == KIND_INT:
                size = size_or_type
                pos += 4
            elif kind in (KIND_STRUCT, KIND_UNION):
                size = size_or_type
                members, pos = self._parse_members(blob, pos, vlen, kflag)
            elif kind == KIND_ARRAY:
                elem, _index_type, nelems = struct.unpack_from("<III", blob, pos)
                pos += 12
            elif kind == KIND_ENUM:
                size = size_or_type
                pos += 8 * vlen
            elif kind == KIND_ENUM64:
                size = size_or_type
                pos += 12 * vlen
            elif kind == KIND_FUNC_PROTO:
                ref = size_or_type
                pos += 8 * vlen
            elif kind in (KIND_VAR, KIND_DECL_TAG):
                ref = size_or_type
                pos += 4
            elif kind == KIND_DATASEC:
                size = size_or_type
                pos += 12 * vlen
            elif kind in (KIND_FLOAT,):
                size = size_or_type
            elif kind in (KIND_PTR, KIND_FWD, KIND_FUNC) or kind in _QUALIFIERS:
                ref = size_or_type
            else:
                # An unknown kind has an unknown trailer: nothing after it can be decoded.
                raise BtfError(f"unknown BTF kind {kind} at type {type_id}")
            btype = BtfType(type_id, kind, name, size, ref, members, elem, nelems)
            self._types.append(btype)
            if name:
                self._by_name.setdefault((kind, name), []).append(type_id)

    @staticmethod
    def _parse_members(
        blob: bytes, pos: int, vlen: int, kflag: bool
    ) -> tuple[tuple[BtfMember, ...], int]:
        out: list[BtfMember] = []
        for _ in range(vlen):
            name_off, type_id, offset = struct.unpack_from("<III", blob, pos)
            pos += 12
            # With kflag set the offset word packs the bitfield size in its top byte.
            bit_offset, bf_size = (offset & 0xFFFFFF, offset >> 24) if kflag else (offset, 0)
            out.append(BtfMember(name_off, type_id, bit_offset, bf_size))
        return tuple(out), pos

    # -- lookups -------------------------------------------------------------------------

    def type(self, type_id: int) -> BtfType:
        if not 0 < type_id < len(self._types):
            raise BtfError(f"no BTF type {type_id}")
        btype = self._types[type_id]
        assert btype is not None
        return btype

    def member_name(self, member: BtfMember) -> str:
        # Member names stay string offsets until asked for: most are never looked at.
        return self._name(member.name_off)

    def resolve(self, type_id: int) -> BtfType:
        """Follow typedefs and qualifiers to the underlying type."""
        btype = self.type(type_id)
        for _ in range(64):
            if btype.kind not in _QUALIFIERS:
                return btype
            btype = self.type(btype.ref)
        raise BtfError(f"qualifier chain too long at type {type_id}")

    def find(self, name: str, kind: int = KIND_STRUCT) -> BtfType:
        """The named type of a kind; among duplicates the first complete (sized) one."""
        ids = self._by_name.get((kind, name))
        if not ids:
            raise BtfError(f"kernel BTF has no {_kind_word(kind)} {name}")
        for type_id in ids:
            btype = self.type(type_id)
            if btype.size or kind not in (KIND_STRUCT, KIND_UNION):
                return btype
        return self.type(ids[0])

    def sizeof(self, type_id: int) -> int:
        btype = self.resolve(type_id)
        if btype.kind == KIND_PTR:
            return 8
        if btype.kind == KIND_ARRAY:
            return btype.array_len * self.sizeof(btype.array_elem)
        if btype.size:
            return btype.size
        raise BtfError(f"type {type_id} ({btype.name or 'anonymous'}) has no size")

    def _find_member(self, btype: BtfType, name: str) -> tuple[int, BtfMember] | None:
        """Search ``btype``'s members, descending through anonymous struct/union members."""
        for member in btype.members:
            mname = self.member_name(member)
            if mname == name:
                return member.bit_offset, member
            if not mname:
                inner = self.resolve(member.type_id)
                if inner.kind in (KIND_STRUCT, KIND_UNION):
                    found = self._find_member(inner, name)
                    if found is not None:
                        return member.bit_offset + found[0], found[1]
        return None

    def field(self, struct_name: str, path: str, kind: int = KIND_STRUCT) -> FieldInfo:
        """Offset of ``path`` (``"a.b.c"``) inside ``struct struct_name``.

        Anonymous unions/structs on the way are transparent, as in C.
        """
        btype = self.find(struct_name, kind)
        offset_bits = 0
        member: BtfMember | None = None
        for part in path.split("."):
            if btype.kind not in (KIND_STRUCT, KIND_UNION):
                raise BtfError(f"{struct_name}.{path}: {part!r} is inside a non-struct")
            found = self._find_member(btype, part)
            if found is None:
                raise BtfError(f"kernel BTF: {_kind_word(kind)} {struct_name} has no {path}")
            bits, member = found
            if member.bitfield_size:
                raise BtfError(f"{struct_name}.{path} is a bitfield")
            offset_bits += bits
            btype = self.resolve(member.type_id)
        assert member is not None
        if offset_bits % 8:
            raise BtfError(f"{struct_name}.{path} is not byte aligned")
        size = self.sizeof(member.type_id)
        if btype.kind == KIND_ARRAY:
            elem_size = self.sizeof(btype.array_elem)
            return FieldInfo(offset_bits // 8, member.type_id, size, btype.array_len, elem_size)
        return FieldInfo(offset_bits // 8, member.type_id, size, 0, size)

    def offsetof(self, struct_name: str, path: str) -> int:
        return self.field(struct_name, path).offset


def _kind_word(kind: int) -> str:
    return {KIND_STRUCT: "struct", KIND_UNION: "union", KIND_ENUM: "enum"}.get(kind, f"kind {kind}")
