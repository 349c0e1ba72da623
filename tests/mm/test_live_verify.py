"""The model against the live kernel on freshly generated scripts (``maplevm verify``).

The default run is small; the campaign (``--runslow``, run by CI's ``make campaign``) is a
bounded version of the acceptance run ``maplevm verify --count 2000``.
"""

from __future__ import annotations

import pytest

from maplevm.kernel.runner import kernel_unavailable_reason
from maplevm.verify import verify


def _need_kernel() -> None:
    reason = kernel_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.live
def test_generated_scripts_agree_with_the_live_kernel() -> None:
    _need_kernel()
    summary = verify(9001, 6, ops=(20, 60))
    assert len(summary.outcomes) == 6
    problems = [o.error or o.rendered for o in summary.diverged]
    assert not problems, "\n\n".join(problems)


@pytest.mark.live
@pytest.mark.slow
def test_verify_campaign() -> None:
    _need_kernel()
    summary = verify(9100, 120, ops=(30, 200), jobs=2)
    problems = [o.error or o.rendered for o in summary.diverged]
    assert not problems, "\n\n".join(problems[:5])
