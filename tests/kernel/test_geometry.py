"""The model's maple tree has the live kernel's node geometry (maplevm.kernel.geometry).

Each test runs seeded scripts of tree stores (non-merging fixed mmaps, whole-mapping
munmaps) on this machine's kernel, reads the kernel's own VMA tree after every operation
with BPF, and compares it with the model that started from the kernel's initial tree.
"""

from __future__ import annotations

import pytest

from maplevm.kernel.geometry import check_geometry, geometry_script
from maplevm.kernel.ktree import kernel_tree_available
from maplevm.kernel.runner import kernel_unavailable_reason


def _need_live() -> None:
    for reason in (kernel_unavailable_reason(), kernel_tree_available()):
        if reason is not None:
            pytest.skip(reason)


def test_geometry_script_is_seeded_and_non_merging() -> None:
    a = geometry_script(3, 80)
    b = geometry_script(3, 80)
    assert a.dumps() == b.dumps()
    assert a.dumps() != geometry_script(4, 80).dumps()
    kinds = {op.kind for op in a.ops}
    assert kinds == {"mmap", "munmap"}


@pytest.mark.live
def test_model_tree_matches_kernel_tree_after_every_store() -> None:
    _need_live()
    seen: set[str] = set()
    for seed in (1, 2):
        report = check_geometry(seed, 150)
        assert report.ok, report.divergence
        assert report.ops_checked == 150
        seen |= set(report.store_types)
    # The run must exercise the interesting write paths, or it proves little.
    assert {"wr_node_store", "wr_split_store", "wr_spanning_store"} <= seen


@pytest.mark.live
@pytest.mark.slow
def test_model_tree_matches_kernel_tree_campaign() -> None:
    """Bounded campaign: dense mappings, trees of height 3 and more."""
    _need_live()
    heights = []
    for seed in (101, 102):
        report = check_geometry(seed, 1200, pages=6000, unmap_ratio=0.15)
        assert report.ok, report.divergence
        heights.append(report.max_height)
    assert max(heights) >= 3
