"""mm/util.c: commit accounting (``__vm_enough_memory``) as the overcommit policy sets it.

The model keeps the committed page count per address space (the kernel's counter is
system-wide; the rest of the system is assumed idle).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from maplevm.mm.profile import CAP_SYS_ADMIN

if TYPE_CHECKING:
    from maplevm.mm.mm_struct import MM

OVERCOMMIT_GUESS = 0
OVERCOMMIT_ALWAYS = 1
OVERCOMMIT_NEVER = 2
ADMIN_RESERVE_KBYTES = 8192
USER_RESERVE_KBYTES = 131072


def vm_acct_memory(mm: MM, pages: int) -> None:
    mm.committed_pages += pages


def vm_unacct_memory(mm: MM, pages: int) -> None:
    mm.committed_pages -= pages


def vm_commit_limit(mm: MM) -> int:
    """``vm_commit_limit()``: the CommitLimit for overcommit "never"."""
    prof = mm.profile
    if prof.overcommit_kbytes:
        allowed = prof.overcommit_kbytes >> 2
    else:
        allowed = prof.totalram_pages * prof.overcommit_ratio // 100
    return allowed + prof.total_swap_pages


def __vm_enough_memory(mm: MM, pages: int, cap_sys_admin: bool) -> int:
    """``__vm_enough_memory()``: 0 or -ENOMEM; accounts ``pages`` on success."""
    prof = mm.profile
    vm_acct_memory(mm, pages)
    if prof.overcommit_memory == OVERCOMMIT_ALWAYS:
        return 0
    if prof.overcommit_memory == OVERCOMMIT_GUESS:
        if pages > prof.totalram_pages + prof.total_swap_pages:
            vm_unacct_memory(mm, pages)
            return -errno.ENOMEM
        return 0
    allowed = vm_commit_limit(mm)
    if not cap_sys_admin:
        allowed -= ADMIN_RESERVE_KBYTES >> 2
    allowed -= min(mm.total_vm // 32, USER_RESERVE_KBYTES >> 2)
    if mm.committed_pages < allowed:
        return 0
    vm_unacct_memory(mm, pages)
    return -errno.ENOMEM


def security_vm_enough_memory_mm(mm: MM, pages: int) -> int:
    """``security_vm_enough_memory_mm()``: CAP_SYS_ADMIN gets the admin reserve."""
    return __vm_enough_memory(mm, pages, mm.profile.capable(CAP_SYS_ADMIN))
