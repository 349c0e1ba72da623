"""maplevm: the Linux kernel's maple tree and VMA layer in Python, checked against the live kernel.

Layers (data flows down; nothing below imports from above)::

    tree/      the maple tree (lib/maple_tree.c): nodes, walks, write paths, the maple state
    kapi       kernel-named free functions returning kernel-style values
    mm/        the VMA layer (mm/vma.c, mm/mmap.c, ...) and the memory syscalls
    scenario/  the operation-script format, the random generator and the shrinker
    kernel/    the live kernel: C helpers that run scripts and record what the kernel did
    trace/     real programs: ptrace tracing, strace logs, replay and prediction
    cli        the ``maplevm`` command
"""

__version__ = "0.1.0"
