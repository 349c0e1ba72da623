"""Text for people: the replay summary, the first divergence, ``explain``, and a picture of
an address space for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from maplevm.trace.events import VmaLine
from maplevm.trace.format import Trace, TraceStep
from maplevm.trace.replay import Divergence, ReplayResult
from maplevm.trace.text import describe, describe_ret

KIB = 1024
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human(n: int) -> str:
    """4096 -> '4 KiB', 1536 KiB -> '1.5 MiB'."""
    size = float(n)
    for unit in UNITS:
        if size < 1024 or unit == UNITS[-1]:
            text = f"{size:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        size /= 1024
    return f"{n} B"


def _ratio(good: int, total: int) -> str:
    return f"{good}/{total}"


def command_text(trace: Trace) -> str:
    import shlex

    return " ".join(shlex.quote(x) for x in trace.command) or trace.name or "(trace)"


def summary(trace: Trace, res: ReplayResult) -> str:
    """The agreement in a few lines ("mmap without a fixed address: 184/184 placed
    exactly; final maps identical")."""
    threads = trace.info.get("threads", 1)
    procs = trace.info.get("processes", res.processes)
    lines = [
        f"{command_text(trace)}",
        f"  {procs} process{'es' if procs != 1 else ''}, {threads} thread"
        f"{'s' if threads != 1 else ''}; {len(trace.steps)} events, {res.calls} memory calls",
    ]
    lines.append(
        f"  mmap without a fixed address: {_ratio(res.placed_exactly, res.placements)} "
        "placed exactly"
    )
    if res.moves:
        lines.append(f"  mremap moves: {_ratio(res.moved_exactly, res.moves)} placed exactly")
    kinds = ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in sorted(res.by_kind.items()))
    lines.append(f"  return values: {_ratio(res.rets_equal, res.calls)} equal ({kinds})")
    lines.append(
        f"  address space after each call: {_ratio(res.checks_equal, res.checks)} identical"
    )
    if res.finals:
        same = sum(f.identical for f in res.finals)
        vmas = sum(f.vmas for f in res.finals)
        if same == len(res.finals):
            what = "identical" if len(res.finals) == 1 else f"all {len(res.finals)} identical"
            lines.append(f"  final maps: {what} ({vmas} VMAs)")
        else:
            lines.append(f"  final maps: {same}/{len(res.finals)} processes identical")
    else:
        lines.append("  final maps: not recorded (the process did not exit normally)")
    if res.unsupported:
        lines.append(
            "  not modelled: " + ", ".join(f"{k} x{v}" for k, v in res.unsupported.items())
        )
    if res.errors:
        lines.append(f"  the model raised {res.errors} time(s)")
    if res.divergence_count:
        lines.append(
            f"  divergences: {res.divergence_count} (the model continued from the kernel's "
            f"maps {res.resyncs} time(s))"
        )
    lines.append(f"  replayed in {res.seconds:.2f} s")
    return "\n".join(lines)


def verdict(res: ReplayResult) -> str:
    if res.exact and res.finals:
        return "the model predicted every address and every VMA the kernel chose"
    if res.exact:
        return "no divergence in what the trace shows (it has no final maps to compare)"
    return f"{res.divergence_count} divergence(s); the first one:"


def render_divergence(d: Divergence) -> str:
    head = f"step {d.step} (process {d.pid}): {d.call}"
    out = [head]
    if d.kind == "ret":
        out.append(f"  kernel returned {_ret(d.kernel)}, the model {_ret(d.model)}")
        if d.model_maps:
            out.append("  model after:\n    " + "\n    ".join(d.model_maps))
        if d.detail:
            out.append(d.detail)
    elif d.kind == "maps":
        when = f" (seen when step {d.seen_at} started)" if d.seen_at is not None else ""
        out.append(f"  the address space after this call differs{when}:")
        out.append("\n".join("    " + ln for ln in d.detail.splitlines()))
    elif d.kind == "final":
        out.append(f"  the final address space differs ({d.kernel} VMAs in the kernel):")
        out.append("\n".join("    " + ln for ln in d.detail.splitlines()))
    elif d.kind == "unsupported":
        out.append("  the model does not perform this call; it continued from the kernel's maps")
    else:
        out.append(f"  kernel returned {_ret(d.kernel)}; {d.model}")
        out.append("\n".join("    " + ln for ln in d.detail.splitlines()))
    return "\n".join(out)


def _ret(v: Any) -> str:
    if isinstance(v, int):
        return describe_ret("", v)
    return str(v)


# ---------------------------------------------------------------------------------------------
# The address-space picture


def _name(line: str) -> str:
    parts = line.split(None, 5)
    return parts[5].strip() if len(parts) > 5 else ""


def picture(vmas: Sequence[VmaLine], *, width: int = 100, color: bool = False) -> str:
    """An address space for the terminal: one row per mapping (a file's consecutive VMAs
    together), a bar that grows with the logarithm of the size, the holes between them.

        range                          size  prot           size (log)   name
        555555554000-555555559000    20 KiB  r|rx|r|r|rw    ██           /usr/bin/python3.11
                                   ··· 42.7 TiB free ···
    """
    rows: list[tuple[int, int, str, str, int]] = []  # start, end, perms, name, count
    for v in vmas:
        if v.start >= 1 << 63:
            continue
        perms = v.line.split()[1][:3].replace("-", "") or "-"
        name = _name(v.line) or "[anon]"
        if rows and rows[-1][3] == name and rows[-1][1] == v.start and name != "[anon]":
            s, _e, p, n, c = rows[-1]
            rows[-1] = (s, v.end, p + "|" + perms, n, c + 1)
        else:
            rows.append((v.start, v.end, perms, name, 1))
    out: list[str] = []
    bold = "\033[1m" if color else ""
    dim = "\033[2m" if color else ""
    reset = "\033[0m" if color else ""
    prev_end: int | None = None
    name_width = max(20, width - 66)
    out.append(f"{dim}{'range':<25} {'size':>9}  {'prot':<14} {'size (log)':<12} name{reset}")
    for start, end, perms, name, count in rows:
        if prev_end is not None and start > prev_end:
            out.append(f"{dim}{'':>27}··· {human(start - prev_end)} free ···{reset}")
        prev_end = end
        size = end - start
        bar = "█" * max(1, (size.bit_length() - 12) // 2 + 1)
        perm_text = perms if len(perms) <= 14 else f"{count} VMAs"
        label = name if len(name) <= name_width else "…" + name[-(name_width - 1) :]
        out.append(
            f"{start:012x}-{end:012x} {human(size):>9}  {perm_text:<14} {bold}{bar:<12}{reset}"
            f" {label}"
        )
    return "\n".join(out)


def explain_text(trace: Trace, found: dict[str, Any]) -> str:
    """Why the model did what it did for one step, in the kernel's function names."""
    step: TraceStep = found["step"]
    model_ret = found["model_ret"]
    out = [f"step {step.index} (process {step.pid}, thread {step.tid}): {describe(step)}"]
    agree = (
        "the same" if model_ret == step.ret else f"the model {describe_ret(step.kind, model_ret)}"
    )
    out.append(f"  kernel returned {describe_ret(step.kind, step.ret)}; {agree}")
    events = found["events"]
    if not events:
        out.append("  (the model recorded no decisions for this call)")
    for e in events:
        out.append("  " + _event_text(e.name, e.details))
    before, after = found["before"], found["after"] or []
    if before != after:
        import difflib

        diff = difflib.unified_diff(
            [f"{r[0].rstrip()}  [{r[1]}]" for r in before],
            [f"{r[0].rstrip()}  [{r[1]}]" for r in after],
            "before",
            "after",
            lineterm="",
            n=1,
        )
        out.append("  the model's maps:")
        out.extend("    " + ln for ln in diff)
    return "\n".join(out)


def _vma(v: Any) -> str:
    try:
        return f"[{v.vm_start:#x}, {v.vm_end:#x})"
    except AttributeError:
        return str(v)


def _event_text(name: str, d: dict[str, Any]) -> str:
    if name == "hint":
        used = "used" if d.get("used") else "not usable (taken, or too close to the next VMA)"
        return f"arch_get_unmapped_area_topdown: hint {d.get('addr', 0):#x} {used}"
    if name == "gap":
        how = d.get("how", "unmapped_area")
        text = f"{how}: the search for {d.get('length', 0):#x} bytes"
        if d.get("align_mask"):
            text += f" (+ alignment mask {d['align_mask']:#x})"
        if "gap_end" in d:
            text += f" found the highest gap ending at {d['gap_end']:#x}"
        return text + f"; the mapping goes at {d.get('addr', 0):#x}"
    if name == "thp_align":
        return (
            f"__thp_get_unmapped_area: the padded search returned {d.get('padded', 0):#x}; "
            f"aligned to 2 MiB -> {d.get('result', 0):#x}"
        )
    if name == "retry":
        return f"retry: {d.get('reason', '')} {_vma(d.get('vma'))}"
    if name == "fallback":
        return f"arch_get_unmapped_area_topdown: {d.get('reason', 'fallback')}"
    if name == "placed":
        fixed = " (MAP_FIXED)" if d.get("fixed") else ""
        return f"do_mmap: __get_unmapped_area chose {d.get('addr', 0):#x}{fixed}"
    if name == "merge":
        removed = ", ".join(_vma(v) for v in d.get("removed", [])) or "none"
        return (
            f"commit_merge: [{d.get('start', 0):#x}, {d.get('end', 0):#x}) merged into "
            f"{_vma(d.get('target'))}; VMAs removed: {removed}"
        )
    if name == "split":
        where = "below" if d.get("new_below") else "above"
        return f"__split_vma: split {_vma(d.get('vma'))} at {d.get('at', 0):#x} (new VMA {where})"
    if name == "new_vma":
        return f"__mmap_new_vma: a new VMA {_vma(d.get('vma'))} (no merge possible)"
    if name == "munmap":
        removed = ", ".join(_vma(v) for v in d.get("removed", [])) or "nothing"
        return (
            f"vms_complete_munmap_vmas: unmapped [{d.get('start', 0):#x}, "
            f"{d.get('end', 0):#x}): {removed}"
        )
    if name == "expand_downwards":
        return f"expand_downwards: the stack {_vma(d.get('vma'))} grew to {d.get('to', 0):#x}"
    if name == "mremap_copy":
        return (
            f"move_vma/copy_vma: moved {d.get('old', 0):#x} -> {d.get('new', 0):#x} "
            f"(new VMA {_vma(d.get('new_vma'))})"
        )
    if name == "mremap_expand":
        return f"vma_expand: grew {_vma(d.get('vma'))} in place by {d.get('delta', 0):#x}"
    details = ", ".join(f"{k}={v}" for k, v in d.items())
    return f"{name}: {details}"
