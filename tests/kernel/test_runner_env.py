"""Environment facts: which differences make a recorded fixture incomparable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from maplevm.kernel.env import behaviour_differences, lookup, selected
from maplevm.scenario import recording as sr

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recordings" / "errnos.jsonl"


def env() -> dict[str, Any]:
    return copy.deepcopy(dict(sr.load(FIXTURE).env))


def test_dotted_lookup_handles_keys_with_dots() -> None:
    e = env()
    assert lookup(e, "sysctl.vm.max_map_count") == e["sysctl"]["vm.max_map_count"]
    assert lookup(e, "rlimits.STACK.soft") == e["rlimits"]["STACK"]["soft"]
    assert lookup(e, "no.such.key") is None


def test_only_behaviour_relevant_differences_count() -> None:
    a, b = env(), env()
    assert behaviour_differences(a, b) == []
    b["meminfo"]["MemTotal"] += 1
    b["kernel"]["version"] = "#2 SMP"
    b["kernel"]["release"] = a["kernel"]["release"] + "-other"
    b["rlimits"]["MEMLOCK"]["hard"] = "unlimited"
    assert behaviour_differences(a, b) == []
    b["thp"]["enabled"] = "never"
    b["kernel"]["release"] = "7.0.0"
    assert behaviour_differences(a, b) == [
        f"thp.enabled: {a['thp']['enabled']!r} vs 'never'",
        f"kernel version: {'.'.join(a['kernel']['release'].split('.')[:2])} vs 7.0",
    ]


def test_memlock_matters_only_without_cap_ipc_lock() -> None:
    a, b = env(), env()
    b["rlimits"]["MEMLOCK"]["soft"] = 65536
    with_cap = int(a["capabilities"]["CapEff"], 16) >> 14 & 1
    assert (behaviour_differences(a, b) == []) == bool(with_cap)
    for e in (a, b):
        e["capabilities"]["CapEff"] = "0000000000000000"
    before = a["rlimits"]["MEMLOCK"]["soft"]
    assert behaviour_differences(a, b) == [f"rlimits.MEMLOCK.soft: {before!r} vs 65536"]


def test_selected_thp_setting() -> None:
    assert selected("always [madvise] never") == "madvise"
    assert selected("[never]") == "never"
    assert selected(None) is None
