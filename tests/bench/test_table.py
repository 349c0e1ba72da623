"""The benchmark programs' shared table layout."""

from __future__ import annotations

from maplevm.bench.table import render_table


def test_render_table_aligns_names_left_and_numbers_right() -> None:
    text = render_table([["name", "kind", "ops/s"], ["a", "load", "1.5M"], ["bb", "x", "20"]], 2)
    assert text.splitlines() == [
        "name  kind  ops/s",
        "----  ----  -----",
        "a     load   1.5M",
        "bb    x        20",
    ]
