"""Shared pytest configuration: the ``slow`` marker and its ``--runslow`` switch."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="run the long campaigns marked 'slow' (bounded sizes; see docs/testing.md)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="long campaign: run with --runslow (make campaign)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
