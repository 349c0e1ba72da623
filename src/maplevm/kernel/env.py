"""The facts a recording keeps about the machine and the helper (see :mod:`maplevm.sysinfo`)."""

from maplevm.sysinfo import (
    BEHAVIOUR_KEYS,
    CAP_IPC_LOCK,
    CAP_SYS_RAWIO,
    behaviour_differences,
    filesystem_of,
    kconfig,
    lookup,
    machine_facts,
    process_layout,
    process_limits,
    process_status,
    read_text,
    selected,
)

__all__ = [
    "BEHAVIOUR_KEYS",
    "CAP_IPC_LOCK",
    "CAP_SYS_RAWIO",
    "behaviour_differences",
    "filesystem_of",
    "kconfig",
    "lookup",
    "machine_facts",
    "process_layout",
    "process_limits",
    "process_status",
    "read_text",
    "selected",
]
