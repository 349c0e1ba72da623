"""``maplevm gen``, ``check``, ``show``, ``compare``, ``shrink`` and ``fuzz``.

(``maplevm record``, which needs the live kernel, is in :mod:`maplevm.kernel.cli`.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from maplevm.scenario import format as sformat
from maplevm.scenario import recording as srec
from maplevm.scenario.compare import ALL_FIELDS, first_divergence
from maplevm.scenario.executor import EXECUTORS, get_executor
from maplevm.scenario.generator import KINDS, generate
from maplevm.scenario.progress import Progress
from maplevm.scenario.shrink import save_fixture, shrink
from maplevm.scenario.text import describe_op, render_recording

_RAW = argparse.RawDescriptionHelpFormatter


def _ops_range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX like 5-40, got {text!r}") from None
    if not 1 <= a <= b:
        raise argparse.ArgumentTypeError(f"need 1 <= MIN <= MAX, got {text!r}")
    return a, b


def _fields(text: str) -> tuple[str, ...]:
    names = tuple(x for x in text.split(",") if x)
    bad = [n for n in names if n not in ALL_FIELDS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown field(s) {', '.join(bad)} (known: {', '.join(ALL_FIELDS)})"
        )
    return names


def _emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _load_any(path: str) -> srec.Recording | sformat.Script:
    text = Path(path).read_text(encoding="utf-8")
    head = text.lstrip()[:200]
    if '"recording"' in head.split("\n", 1)[0]:
        return srec.loads(text, source=path)
    return sformat.loads(text, source=path)


# ---------------------------------------------------------------------------------------------


def cmd_gen(args: argparse.Namespace) -> int:
    out = Path(args.out or f"gen-seed{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    with Progress(args.count, "gen", enabled=args.progress or None) as bar:
        for i in range(args.count):
            script = generate(
                args.seed,
                i,
                kind=args.kind,
                ops=args.ops,
                max_map_count=args.max_map_count,
                map_count_chance=args.map_count_chance,
            )
            path = out / f"{script.header.name}.jsonl"
            sformat.dump(script, path)
            kinds: dict[str, int] = {}
            for op in script.ops:
                kinds[op.kind] = kinds.get(op.kind, 0) + 1
            written.append({"path": str(path), "ops": len(script.ops), "op_kinds": kinds})
            bar.update(i + 1)
    if args.json:
        _emit_json({"seed": args.seed, "kind": args.kind, "dir": str(out), "scripts": written})
    else:
        total = sum(w["ops"] for w in written)
        print(f"wrote {len(written)} {args.kind} scripts ({total} operations) to {out}/")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    failures = 0
    results = []
    for path in args.scripts:
        try:
            obj = _load_any(path)
        except (sformat.ScriptError, OSError) as e:
            failures += 1
            results.append({"path": path, "ok": False, "error": str(e)})
            if not args.json:
                print(f"error: {e}", file=sys.stderr)
            continue
        n = len(obj.steps) if isinstance(obj, srec.Recording) else len(obj.ops)
        what = "recording" if isinstance(obj, srec.Recording) else "script"
        results.append({"path": path, "ok": True, "kind": what, "ops": n})
        if not args.json:
            print(f"{path}: valid {what}, {n} operations")
    if args.json:
        _emit_json(results)
    return 1 if failures else 0


def cmd_show(args: argparse.Namespace) -> int:
    try:
        obj = _load_any(args.file)
    except (sformat.ScriptError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if isinstance(obj, srec.Recording):
        sys.stdout.write(render_recording(obj, maps=not args.no_maps))
    else:
        print(
            f"# {obj.header.name or '(unnamed)'}: {len(obj.ops)} operations ($i = result of step i)"
        )
        for i, op in enumerate(obj.ops):
            print(f"[{i}] {describe_op(op)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    try:
        a, b = srec.load(args.a), srec.load(args.b)
    except (sformat.ScriptError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    div = first_divergence(a, b, fields=args.fields, names=(args.a, args.b))
    if args.json:
        _emit_json({"same": div is None, "divergence": div and div.to_json()})
    elif div is None:
        print(f"same: {len(a.steps)} steps agree on {', '.join(args.fields)}")
    else:
        print(div.render())
    return 0 if div is None else 1


def cmd_shrink(args: argparse.Namespace) -> int:
    try:
        script = sformat.load(args.script)
        ea, eb = get_executor(args.a), get_executor(args.b)
    except (sformat.ScriptError, OSError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with Progress(args.max_tests, "shrink", enabled=args.progress or None) as bar:
        try:
            result = shrink(
                script,
                ea,
                eb,
                fields=args.fields,
                max_tests=args.max_tests,
                progress=bar.callback,
            )
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    name = args.name or f"{Path(args.script).stem}-min"
    path = save_fixture(result, args.out, name)
    if args.json:
        _emit_json(
            {
                "fixture": str(path),
                "ops_before": len(result.original.ops),
                "ops_after": len(result.script.ops),
                "tests": result.tests,
                "divergence": result.divergence.to_json(),
                "script": [op.to_json() for op in result.script.ops],
            }
        )
    else:
        print(
            f"shrunk {len(result.original.ops)} -> {len(result.script.ops)} operations in "
            f"{result.tests} runs; fixture: {path}"
        )
        sys.stdout.write(result.script.dumps())
        print(result.divergence.render())
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    try:
        ea, eb = get_executor(args.a), get_executor(args.b)
    except LookupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failures: list[dict[str, Any]] = []
    with Progress(args.count, "fuzz", enabled=args.progress or None) as bar:
        for i in range(args.count):
            script = generate(
                args.seed, i, kind=args.kind, ops=args.ops, map_count_chance=args.map_count_chance
            )
            ra, rb = ea.run(script), eb.run(script)
            div = first_divergence(ra, rb, fields=args.fields, names=(ea.name, eb.name))
            if div is not None:
                entry: dict[str, Any] = {"script": script.header.name, "divergence": div.to_json()}
                if args.shrink_to:
                    result = shrink(script, ea, eb, fields=args.fields)
                    entry["fixture"] = str(
                        save_fixture(result, args.shrink_to, f"{script.header.name}-min")
                    )
                    entry["ops_after"] = len(result.script.ops)
                failures.append(entry)
            bar.update(i + 1, f"{len(failures)} diverged")
    if args.json:
        _emit_json({"count": args.count, "diverged": failures})
    else:
        print(f"{args.count} scripts, {len(failures)} diverged ({ea.name} vs {eb.name})")
        for f in failures:
            where = f" -> {f['fixture']}" if "fixture" in f else ""
            print(
                f"  {f['script']}: step {f['divergence']['step']} {f['divergence']['field']}{where}"
            )
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gen",
        help="write random operation scripts (seeded, reproducible)",
        formatter_class=_RAW,
        description="""\
Write COUNT random operation scripts, reproducibly: the same --seed, --kind and --ops always
give the same scripts (script i of a series does not depend on --count).

kinds:  realistic    programs and loaders: heaps, splits and re-merges, stacks, ld.so-like
                     file mappings, mremap growth, THP-sized areas, brk
        adversarial  invalid arguments of every kind, ranges across mappings, FIXED_NOREPLACE
                     collisions, special mappings, sometimes vm.max_map_count
        mixed        both (the default)

examples:
  maplevm gen --seed 1 --count 100                 # ./gen-seed1/gen-mixed-1-*.jsonl
  maplevm gen --seed 7 --count 20 --kind adversarial --ops 10-60 --out scripts/
  maplevm gen --seed 1 --count 5 --json | jq '.scripts[].path'""",
    )
    p.add_argument("--seed", type=int, required=True, help="series seed (an integer)")
    p.add_argument("--count", type=int, default=10, help="number of scripts (default 10)")
    p.add_argument("--out", help="output directory (default ./gen-seed<SEED>)")
    p.add_argument("--kind", choices=KINDS, default="mixed")
    p.add_argument(
        "--ops",
        type=_ops_range,
        default=(5, 40),
        metavar="MIN-MAX",
        help="operations per script (default 5-40)",
    )
    p.add_argument(
        "--max-map-count",
        type=int,
        default=65530,
        help="vm.max_map_count the adversarial scripts aim at (default 65530)",
    )
    p.add_argument(
        "--map-count-chance",
        type=float,
        default=0.02,
        help="probability that an adversarial script approaches max_map_count",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--progress", action="store_true", help="progress bar even when piped")
    p.set_defaults(func=cmd_gen)

    p = sub.add_parser(
        "check",
        help="validate scripts or recordings",
        formatter_class=_RAW,
        description="""\
Check that files follow the script / recording format; errors name the file, line, field
and value.

examples:
  maplevm check my-script.jsonl
  maplevm check gen-seed1/*.jsonl --json""",
    )
    p.add_argument("scripts", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "show",
        help="print a script or a recording readably",
        formatter_class=_RAW,
        description="""\
Print a script as calls, or a recording as calls, results and the maps after each step.

examples:
  maplevm show tests/fixtures/recordings/basic-layout.jsonl
  maplevm show rec.jsonl --no-maps      # calls and results only""",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--no-maps", action="store_true", help="omit the address space listings")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "compare",
        help="first divergence between two recordings of one script",
        formatter_class=_RAW,
        description="""\
Compare two recordings op by op and report the first difference (exit status 1) or none
(exit status 0).

examples:
  maplevm compare fixture.jsonl new.jsonl
  maplevm compare kernel.jsonl model.jsonl --fields ret,maps --json""",
    )
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument(
        "--fields",
        type=_fields,
        default=ALL_FIELDS,
        help=f"comma-separated subset of {','.join(ALL_FIELDS)}",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    executors = ", ".join(EXECUTORS)
    p = sub.add_parser(
        "shrink",
        help="reduce a script on which two executors disagree, save a fixture",
        formatter_class=_RAW,
        description=f"""\
Run SCRIPT on executors A and B; if they disagree, reduce it to a minimal script that still
disagrees the same way (delta debugging over operations, then over arguments) and save
executor A's recording of it as a regression fixture OUT/NAME.jsonl.

executors: {executors}

examples:
  maplevm shrink failing.jsonl --a kernel --b model --out tests/fixtures/regressions
  maplevm shrink failing.jsonl --a kernel --b model --fields ret,maps --name mprotect-merge""",
    )
    p.add_argument("script", metavar="SCRIPT")
    p.add_argument("--a", default="kernel", help="reference executor (default kernel)")
    p.add_argument("--b", default="model", help="executor under test (default model)")
    p.add_argument("--out", default="tests/fixtures/regressions", help="fixture directory")
    p.add_argument("--name", help="fixture name (default <script>-min)")
    p.add_argument("--fields", type=_fields, default=ALL_FIELDS)
    p.add_argument("--max-tests", type=int, default=2000, help="give up after this many runs")
    p.add_argument("--json", action="store_true")
    p.add_argument("--progress", action="store_true")
    p.set_defaults(func=cmd_shrink)

    p = sub.add_parser(
        "fuzz",
        help="random scripts on two executors; report (and shrink) divergences",
        formatter_class=_RAW,
        description=f"""\
Generate COUNT scripts (as 'maplevm gen' would), run each on executors A and B, compare
them op by op; with --shrink-to, shrink every divergence and save it as a fixture.
Exit status 1 if anything diverged.

executors: {executors}   (kernel vs kernel checks that recordings are deterministic)

examples:
  maplevm fuzz --seed 1 --count 200 --a kernel --b kernel
  maplevm fuzz --seed 3 --count 500 --b model --shrink-to tests/fixtures/regressions""",
    )
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--kind", choices=KINDS, default="mixed")
    p.add_argument("--ops", type=_ops_range, default=(5, 40), metavar="MIN-MAX")
    p.add_argument(
        "--map-count-chance",
        type=float,
        default=0.0,
        help="probability of a max_map_count script (default 0: they are slow)",
    )
    p.add_argument("--a", default="kernel")
    p.add_argument("--b", default="model")
    p.add_argument("--fields", type=_fields, default=ALL_FIELDS)
    p.add_argument("--shrink-to", metavar="DIR", help="shrink divergences into fixtures here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--progress", action="store_true")
    p.set_defaults(func=cmd_fuzz)
