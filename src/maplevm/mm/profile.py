"""``KernelProfile``: every machine fact and knob the VMA layer's decisions depend on.

One object holds the layout constants (x86_64: TASK_SIZE, the mmap base from RLIMIT_STACK
and randomisation, the legacy layout switch, stack_guard_gap, the effective mmap_min_addr),
the limits (vm.max_map_count, rlimits), memory accounting (overcommit policy and memory
size), THP and shmem settings, build options (CONFIG_ANON_VMA_NAME, ...), capabilities and
which filesystems place file mappings on huge-page boundaries.

:meth:`KernelProfile.detect` reads this machine; :meth:`KernelProfile.from_env` reads the
facts a recording stores (``Recording.env``), so a recording made elsewhere replays with the
profile of the machine it was made on.
"""

from __future__ import annotations

import os
import random
import resource
from dataclasses import dataclass, field, replace
from typing import Any

from maplevm.mm.flags import PAGE_ALIGN, PAGE_SIZE

RLIM_INFINITY = (1 << 64) - 1
DEFAULT_MAP_WINDOW = (1 << 47) - PAGE_SIZE  # x86_64 TASK_SIZE with 4-level paging
TASK_SIZE_MAX_LA57 = (1 << 56) - PAGE_SIZE
SIZE_128M = 128 << 20
# Filesystems whose file_operations.get_unmapped_area is thp_get_unmapped_area (6.18).
THP_ALIGNED_FILESYSTEMS = ("ext4", "xfs", "btrfs", "erofs", "bcachefs", "fuse")
CAP_IPC_LOCK = 14
CAP_SYS_RAWIO = 17
CAP_SYS_RESOURCE = 24
CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class RLimit:
    """A resource limit; ``RLIM_INFINITY`` for "unlimited"."""

    soft: int = RLIM_INFINITY
    hard: int = RLIM_INFINITY


def _rlimit_from_json(value: Any, default: RLimit) -> RLimit:
    def num(v: Any) -> int:
        return RLIM_INFINITY if v in (None, "unlimited") else int(v)

    if value is None:
        return default
    if isinstance(value, dict):
        return RLimit(num(value.get("soft")), num(value.get("hard")))
    return RLimit(num(value), default.hard)


@dataclass(frozen=True)
class KernelProfile:
    """The machine as the mm code sees it (x86_64)."""

    release: str = "6.18"
    arch: str = "x86_64"
    page_size: int = PAGE_SIZE
    la57: bool = False
    # layout
    randomize: bool = False
    random_seed: int = 0
    legacy_va_layout: bool = False
    compat_layout_personality: bool = False
    stack_guard_gap: int = 256 * PAGE_SIZE
    dac_mmap_min_addr: int = 4096
    lsm_mmap_min_addr: int = 65536
    # limits
    max_map_count: int = 65530
    rlimit_stack: RLimit = RLimit(8 << 20, RLIM_INFINITY)
    rlimit_as: RLimit = RLimit()
    rlimit_memlock: RLimit = RLimit(8 << 20, 8 << 20)
    rlimit_data: RLimit = RLimit()
    # memory accounting
    overcommit_memory: int = 0
    overcommit_ratio: int = 50
    overcommit_kbytes: int = 0
    totalram_pages: int = (24 << 30) // PAGE_SIZE
    total_swap_pages: int = 0
    nr_hugepages: int = 0
    # THP / shmem / KSM
    thp_enabled: str = "madvise"
    thp_defrag: str = "madvise"
    shmem_enabled: str = "never"
    ksm_run: int = 0
    # build options
    config_anon_vma_name: bool = False
    config_mem_soft_dirty: bool = False
    config_userfaultfd: bool = True
    config_thp: bool = True
    config_ksm: bool = True
    config_memory_failure: bool = False  # MADV_HWPOISON / MADV_SOFT_OFFLINE
    # privileges (bits of CapEff)
    cap_eff: int = 0x1FFFEFFFFFF
    # which filesystems align file mappings to PMDs, and the scratch files' filesystem
    thp_filesystems: tuple[str, ...] = THP_ALIGNED_FILESYSTEMS
    scratch_fs: str = "ext4"
    # Page offsets of the special mappings that a read fault maps; the others raise
    # SIGBUS (vvar_fault(), vvar_vclock_fault()).  Probed by the kernel runner; the
    # default is what a 6.18 x86_64 KVM guest with kvm-clock shows: the time data and
    # getrandom pages of [vvar], the pvclock page of [vvar_vclock].
    special_pages: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"[vvar]": (0, 2), "[vvar_vclock]": (0,)}
    )
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    # -- derived values -----------------------------------------------------------------

    @property
    def task_size(self) -> int:
        """``TASK_SIZE`` for 64-bit tasks (the default map window)."""
        return DEFAULT_MAP_WINDOW

    @property
    def mmap_min_addr(self) -> int:
        """The effective ``mmap_min_addr``: the sysctl raised to the LSM's minimum."""
        return max(self.dac_mmap_min_addr, self.lsm_mmap_min_addr)

    @property
    def legacy_layout(self) -> bool:
        """``mmap_is_legacy()`` on x86: ADDR_COMPAT_LAYOUT or vm.legacy_va_layout."""
        return self.compat_layout_personality or self.legacy_va_layout

    def capable(self, cap: int) -> bool:
        return bool(self.cap_eff >> cap & 1)

    def _rnd(self, bits: int, salt: int) -> int:
        if not self.randomize:
            return 0
        rng = random.Random(self.random_seed * 1000003 + salt)
        return (rng.getrandbits(64) & ((1 << bits) - 1)) << 12

    def stack_maxrandom_size(self) -> int:
        return (0x3FFFFF << 12) if self.randomize else 0

    def mmap_base(self) -> int:
        """``arch_pick_mmap_layout()``'s ``mm->mmap_base``."""
        rnd = self._rnd(28, 1)
        if self.legacy_layout:
            return self.mmap_legacy_base()
        task_size = self.task_size
        gap = self.rlimit_stack.soft
        pad = self.stack_maxrandom_size() + self.stack_guard_gap
        if gap + pad <= RLIM_INFINITY and gap + pad > gap:
            gap += pad
        gap = min(max(gap, SIZE_128M), (task_size // 6) * 5)
        return PAGE_ALIGN(task_size - gap - rnd)

    def mmap_legacy_base(self) -> int:
        """``mmap_legacy_base()``: ``__TASK_UNMAPPED_BASE`` + randomisation."""
        return PAGE_ALIGN(self.task_size // 3) + self._rnd(28, 1)

    def map_32bit_begin(self) -> int:
        """Start of the MAP_32BIT window (randomised by up to 32 MiB with ASLR)."""
        begin = 0x40000000
        if self.randomize:
            rng = random.Random(self.random_seed * 7 + 3)
            begin += rng.randrange(0, 0x02000000 // PAGE_SIZE) * PAGE_SIZE
        return begin

    def with_rlimits(self, **limits: RLimit) -> KernelProfile:
        """A copy with some of ``stack``, ``as_``, ``memlock``, ``data`` changed."""
        names = {"stack": "rlimit_stack", "as_": "rlimit_as", "memlock": "rlimit_memlock"}
        names["data"] = "rlimit_data"
        changes: dict[str, Any] = {names[k]: v for k, v in limits.items()}
        return replace(self, **changes)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: dict[str, Any]) -> KernelProfile:
        """The profile described by a recording's environment facts."""
        sysctl = env.get("sysctl", {})
        thp = env.get("thp", {})
        mem = env.get("meminfo", {})
        kconf = env.get("kconfig", {})
        rl = env.get("rlimits", {})
        personality = int(str(env.get("personality") or "0"), 16)
        base = cls()
        caps = env.get("capabilities", {}).get("CapEff")
        lsm = kconf.get("CONFIG_LSM_MMAP_MIN_ADDR")
        return replace(
            base,
            release=str(env.get("kernel", {}).get("release", base.release)),
            page_size=int(env.get("page_size", PAGE_SIZE)),
            la57=bool(env.get("la57", False)),
            randomize=not (personality & 0x0040000)
            and int(sysctl.get("kernel.randomize_va_space", 0) or 0) > 0,
            compat_layout_personality=bool(personality & 0x0200000),
            legacy_va_layout=bool(sysctl.get("vm.legacy_va_layout", 0)),
            dac_mmap_min_addr=int(sysctl.get("vm.mmap_min_addr", base.dac_mmap_min_addr)),
            lsm_mmap_min_addr=int(lsm) if lsm not in (None, "") else base.lsm_mmap_min_addr,
            max_map_count=int(sysctl.get("vm.max_map_count", base.max_map_count)),
            overcommit_memory=int(sysctl.get("vm.overcommit_memory", 0) or 0),
            overcommit_ratio=int(sysctl.get("vm.overcommit_ratio", 50) or 50),
            overcommit_kbytes=int(sysctl.get("vm.overcommit_kbytes", 0) or 0),
            nr_hugepages=int(sysctl.get("vm.nr_hugepages", 0) or 0),
            totalram_pages=int(mem.get("MemTotal", base.totalram_pages * 4)) // 4,
            total_swap_pages=int(mem.get("SwapTotal", 0)) // 4,
            thp_enabled=str(thp.get("enabled") or base.thp_enabled),
            thp_defrag=str(thp.get("defrag") or base.thp_defrag),
            shmem_enabled=str(thp.get("shmem_enabled") or base.shmem_enabled),
            ksm_run=int(env.get("ksm_run") or 0),
            config_anon_vma_name=kconf.get("CONFIG_ANON_VMA_NAME") == "y",
            config_mem_soft_dirty=kconf.get("CONFIG_MEM_SOFT_DIRTY") == "y",
            config_userfaultfd=kconf.get("CONFIG_USERFAULTFD", "y") == "y",
            config_ksm=kconf.get("CONFIG_KSM", "y") == "y",
            config_memory_failure=kconf.get("CONFIG_MEMORY_FAILURE") == "y",
            cap_eff=int(caps, 16) if caps else base.cap_eff,
            rlimit_stack=_rlimit_from_json(rl.get("STACK"), base.rlimit_stack),
            rlimit_as=_rlimit_from_json(rl.get("AS"), base.rlimit_as),
            rlimit_memlock=_rlimit_from_json(rl.get("MEMLOCK"), base.rlimit_memlock),
            rlimit_data=_rlimit_from_json(rl.get("DATA"), base.rlimit_data),
            scratch_fs=str(env.get("scratch_fs") or base.scratch_fs),
            special_pages={
                str(k): tuple(int(p) for p in v)
                for k, v in (env.get("special_pages") or base.special_pages).items()
            },
            extra={"layout": env.get("layout", {})},
        )

    @classmethod
    def detect(cls, randomize: bool | None = None, seed: int = 0) -> KernelProfile:
        """The profile of this machine and this process (rlimits, capabilities).

        ``randomize`` defaults to what a new process here would get (ASLR on unless
        kernel.randomize_va_space is 0); pass False to model ``setarch -R``.
        """
        from maplevm import sysinfo

        env: dict[str, Any] = sysinfo.machine_facts()
        env["capabilities"] = sysinfo.process_status(os.getpid())
        limits: dict[str, Any] = {}
        for name, res in (
            ("STACK", resource.RLIMIT_STACK),
            ("AS", resource.RLIMIT_AS),
            ("MEMLOCK", resource.RLIMIT_MEMLOCK),
            ("DATA", resource.RLIMIT_DATA),
        ):
            soft, hard = resource.getrlimit(res)
            limits[name] = {
                "soft": "unlimited" if soft == resource.RLIM_INFINITY else soft,
                "hard": "unlimited" if hard == resource.RLIM_INFINITY else hard,
            }
        env["rlimits"] = limits
        profile = cls.from_env(env)
        if randomize is not None:
            profile = replace(profile, randomize=randomize)
        return replace(profile, random_seed=seed)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (for recordings and ``--json`` output)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "extra":
                continue
            value = getattr(self, name)
            if isinstance(value, RLimit):
                value = {"soft": value.soft, "hard": value.hard}
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out
