"""A tiny eBPF assembler: just the instructions the kernel-memory reader uses.

Writing the bytecode by hand keeps clang/libbpf out of the picture (they are not present
everywhere the tests run).  Instruction encoding follows the kernel's documented eBPF ISA
(Documentation/bpf/standardization/instruction-set.rst): 8 bytes each,
``opcode:8 dst:4 src:4 off:16 imm:32``, little-endian; a 64-bit immediate load takes two
slots.  Jumps are written against named labels and resolved when the program is assembled.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# Register numbers.  r0 return value, r1-r5 arguments (clobbered by calls),
# r6-r9 callee-saved, r10 read-only frame pointer.
R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)

# Opcode pieces.
_LD, _LDX, _ST, _STX, _ALU64, _JMP = 0x00, 0x01, 0x02, 0x03, 0x07, 0x05
_W, _DW = 0x00, 0x18  # size field: 32-bit, 64-bit
_IMM, _MEM = 0x00, 0x60  # mode field
_K, _X = 0x00, 0x08  # source: immediate / register
_ADD, _RSH, _MOV = 0x00, 0x70, 0xB0
_JA, _JEQ, _JNE = 0x00, 0x10, 0x50
_CALL, _EXIT = 0x80, 0x90

PSEUDO_MAP_FD = 1  # src_reg of a 64-bit immediate load that names a map by fd

# Helper function ids (include/uapi/linux/bpf.h, ___BPF_FUNC_MAPPER order).
HELPER_MAP_LOOKUP_ELEM = 1
HELPER_GET_CURRENT_PID_TGID = 14
HELPER_GET_CURRENT_TASK = 35
HELPER_PROBE_READ_KERNEL = 113


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


@dataclass
class Assembler:
    """Collects instructions; ``jump`` targets are label names resolved by ``assemble``."""

    _items: list[tuple[bytes, str | None]] = field(default_factory=list)
    _labels: dict[str, int] = field(default_factory=dict)

    def _emit(self, raw: bytes, target: str | None = None) -> None:
        self._items.append((raw, target))

    def label(self, name: str) -> None:
        if name in self._labels:
            raise ValueError(f"duplicate label {name}")
        self._labels[name] = len(self._items)

    def mov_reg(self, dst: int, src: int) -> None:
        self._emit(_insn(_ALU64 | _MOV | _X, dst, src))

    def mov_imm(self, dst: int, imm: int) -> None:
        self._emit(_insn(_ALU64 | _MOV | _K, dst, imm=imm))

    def add_imm(self, dst: int, imm: int) -> None:
        self._emit(_insn(_ALU64 | _ADD | _K, dst, imm=imm))

    def rsh_imm(self, dst: int, imm: int) -> None:
        self._emit(_insn(_ALU64 | _RSH | _K, dst, imm=imm))

    def load64(self, dst: int, src: int, off: int) -> None:
        """dst = *(u64 *)(src + off)"""
        self._emit(_insn(_LDX | _MEM | _DW, dst, src, off))

    def store64(self, dst: int, off: int, src: int) -> None:
        """*(u64 *)(dst + off) = src"""
        self._emit(_insn(_STX | _MEM | _DW, dst, src, off))

    def store32_imm(self, dst: int, off: int, imm: int) -> None:
        """*(u32 *)(dst + off) = imm"""
        self._emit(_insn(_ST | _MEM | _W, dst, off=off, imm=imm))

    def load_map_fd(self, dst: int, map_fd: int) -> None:
        """dst = the map with file descriptor ``map_fd`` (two instruction slots)."""
        self._emit(_insn(_LD | _IMM | _DW, dst, PSEUDO_MAP_FD, imm=map_fd))
        self._emit(_insn(0))

    def jeq_imm(self, reg: int, imm: int, target: str) -> None:
        self._emit(_insn(_JMP | _JEQ | _K, reg, imm=imm), target)

    def jne_imm(self, reg: int, imm: int, target: str) -> None:
        self._emit(_insn(_JMP | _JNE | _K, reg, imm=imm), target)

    def jne_reg(self, reg: int, src: int, target: str) -> None:
        self._emit(_insn(_JMP | _JNE | _X, reg, src), target)

    def call(self, helper: int) -> None:
        self._emit(_insn(_JMP | _CALL, imm=helper))

    def exit(self) -> None:
        self._emit(_insn(_JMP | _EXIT))

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (raw, target) in enumerate(self._items):
            if target is None:
                out += raw
                continue
            if target not in self._labels:
                raise ValueError(f"undefined label {target}")
            # Jump offsets count instructions from the one after the jump.
            rel = self._labels[target] - index - 1
            code, regs, _off, imm = struct.unpack("<BBhi", raw)
            out += struct.pack("<BBhi", code, regs, rel, imm)
        return bytes(out)
