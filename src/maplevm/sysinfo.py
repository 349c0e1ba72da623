"""Facts about the machine and a process that change what the kernel's mm code does.

Everything here is deterministic for a given machine configuration (no times, no pids), so
that it can live in a recording's header without breaking byte-identical re-recordings.
It sits below every other layer: the kernel runner records these facts, and the model's
:class:`~maplevm.mm.profile.KernelProfile` is built from them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SYSCTLS = (
    "vm/max_map_count",
    "vm/mmap_min_addr",
    "vm/overcommit_memory",
    "vm/overcommit_ratio",
    "vm/overcommit_kbytes",
    "vm/legacy_va_layout",
    "vm/nr_hugepages",
    "kernel/randomize_va_space",
)
THP_DIR = Path("/sys/kernel/mm/transparent_hugepage")
THP_SETTINGS = ("enabled", "defrag", "shmem_enabled")
# /proc/PID/limits row titles for the limits that change mm behaviour.
LIMIT_ROWS = {
    "STACK": "Max stack size",
    "AS": "Max address space",
    "MEMLOCK": "Max locked memory",
    "DATA": "Max data size",
}
# /proc/PID/stat fields (1-based, see proc(5)) that describe the layout.
STAT_FIELDS = {
    "start_code": 26,
    "end_code": 27,
    "start_stack": 28,
    "start_data": 45,
    "end_data": 46,
    "start_brk": 47,
    "arg_start": 48,
    "arg_end": 49,
    "env_start": 50,
    "env_end": 51,
}


def read_text(path: str | Path) -> str | None:
    """The text of a (proc/sys) file, or None if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _int_or_text(text: str | None) -> int | str | None:
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def selected(setting: str | None) -> str | None:
    """'always [madvise] never' -> 'madvise'."""
    if setting is None:
        return None
    for word in setting.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return setting.strip()


def sysctls() -> dict[str, int | str | None]:
    return {
        name.replace("/", "."): _int_or_text(read_text(f"/proc/sys/{name}")) for name in SYSCTLS
    }


def thp() -> dict[str, str | None]:
    return {name: selected(read_text(THP_DIR / name)) for name in THP_SETTINGS}


def meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (read_text("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "SwapTotal"):
            out[key] = int(rest.split()[0])
    return out


def la57() -> bool:
    """Whether the CPU can do 5-level paging (it only matters if the kernel enabled it)."""
    for line in (read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith("flags"):
            return "la57" in line.split()
    return False


def process_limits(pid: int) -> dict[str, dict[str, int | str]]:
    """The helper's own RLIMIT_STACK/AS/MEMLOCK/DATA as {"soft": .., "hard": ..}."""
    rows = (read_text(f"/proc/{pid}/limits") or "").splitlines()
    out: dict[str, dict[str, int | str]] = {}
    for name, title in LIMIT_ROWS.items():
        for row in rows:
            if row.startswith(title):
                soft, hard = row[len(title) :].split()[:2]
                out[name] = {
                    "soft": soft if soft == "unlimited" else int(soft),
                    "hard": hard if hard == "unlimited" else int(hard),
                }
    return out


def process_layout(pid: int) -> dict[str, int]:
    stat = read_text(f"/proc/{pid}/stat") or ""
    # The command name (field 2) may contain spaces; fields after it follow the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return {name: int(fields[k - 3]) for name, k in STAT_FIELDS.items()}


def process_status(pid: int, keys: tuple[str, ...] = ("CapEff",)) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (read_text(f"/proc/{pid}/status") or "").splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            out[key] = value.strip()
    return out


def filesystem_of(path: str | Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/self/mountinfo)."""
    target = os.path.realpath(path)
    best, fstype = "", "unknown"
    for line in (read_text("/proc/self/mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        parts = left.split()
        if len(parts) < 5 or not right:
            continue
        mount = parts[4].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, fstype = mount, right.split()[0]
    return fstype


# Build options that change mm behaviour (from /proc/config.gz when the kernel exposes it).
KCONFIG_KEYS = (
    "CONFIG_ANON_VMA_NAME",
    "CONFIG_LSM_MMAP_MIN_ADDR",
    "CONFIG_MEM_SOFT_DIRTY",
    "CONFIG_TRANSPARENT_HUGEPAGE",
    "CONFIG_USERFAULTFD",
    "CONFIG_KSM",
    "CONFIG_X86_USER_SHADOW_STACK",
    "CONFIG_COMPAT_BRK",
)


def kconfig() -> dict[str, str | None]:
    """The KCONFIG_KEYS of the running kernel ("y", a value, or None when unset/unknown)."""
    import gzip

    try:
        with gzip.open("/proc/config.gz", "rt", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return {}
    values: dict[str, str | None] = dict.fromkeys(KCONFIG_KEYS)
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and key in values:
            values[key] = value.strip().strip('"')
    return values


def machine_facts() -> dict[str, Any]:
    u = os.uname()
    return {
        "kernel": {
            "sysname": u.sysname,
            "release": u.release,
            "version": u.version,
            "machine": u.machine,
        },
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "sysctl": sysctls(),
        "thp": thp(),
        "ksm_run": _int_or_text(read_text("/sys/kernel/mm/ksm/run")),
        "meminfo": meminfo(),
        "la57": la57(),
        "kconfig": kconfig(),
    }


# Facts that change what a script does; a fixture recorded where these differ is not
# expected to match.  Dotted paths into the env object (see also behaviour_differences).
BEHAVIOUR_KEYS = (
    "kernel.machine",
    "page_size",
    "sysctl.vm.max_map_count",
    "sysctl.vm.mmap_min_addr",
    "sysctl.vm.overcommit_memory",
    "sysctl.vm.legacy_va_layout",
    "sysctl.vm.nr_hugepages",
    "thp.enabled",
    "thp.shmem_enabled",
    "rlimits.STACK.soft",
    "rlimits.AS.soft",
    "rlimits.DATA.soft",
    "scratch_fs",
    "personality",
    "la57",
)
# Capabilities that change mm results: CAP_IPC_LOCK (mlock beyond RLIMIT_MEMLOCK) and
# CAP_SYS_RAWIO (mappings below mmap_min_addr).
CAP_IPC_LOCK = 14
CAP_SYS_RAWIO = 17


def lookup(env: dict[str, Any], dotted: str) -> Any:
    """env["sysctl"]["vm.max_map_count"] for "sysctl.vm.max_map_count" (keys may hold dots)."""
    node: Any = env
    rest = dotted
    while rest:
        if not isinstance(node, dict):
            return None
        for key in sorted(node, key=len, reverse=True):
            if rest == key or rest.startswith(key + "."):
                node, rest = node[key], rest[len(key) + 1 :]
                break
        else:
            return None
    return node


def behaviour_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Human-readable differences between two envs in the facts that change behaviour."""
    out = []
    for key in BEHAVIOUR_KEYS:
        va, vb = lookup(a, key), lookup(b, key)
        if va != vb:
            out.append(f"{key}: {va!r} vs {vb!r}")
    caps = []
    for env in (a, b):
        text = lookup(env, "capabilities.CapEff")
        caps.append(int(text, 16) if isinstance(text, str) else 0)
    for bit, name in ((CAP_IPC_LOCK, "CAP_IPC_LOCK"), (CAP_SYS_RAWIO, "CAP_SYS_RAWIO")):
        if (caps[0] >> bit & 1) != (caps[1] >> bit & 1):
            out.append(f"{name}: {bool(caps[0] >> bit & 1)} vs {bool(caps[1] >> bit & 1)}")
    if not (caps[0] >> CAP_IPC_LOCK & 1):
        va, vb = lookup(a, "rlimits.MEMLOCK.soft"), lookup(b, "rlimits.MEMLOCK.soft")
        if va != vb:
            out.append(f"rlimits.MEMLOCK.soft: {va!r} vs {vb!r}")
    ka = str(lookup(a, "kernel.release") or "").split(".")[:2]
    kb = str(lookup(b, "kernel.release") or "").split(".")[:2]
    if ka != kb:
        out.append(f"kernel version: {'.'.join(ka)} vs {'.'.join(kb)}")
    return out
