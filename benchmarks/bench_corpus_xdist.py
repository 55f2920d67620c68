"""Golden recording of a 1,000-YAML corpus under ``pytest -n 1`` vs ``-n 2`` (see
`xdist_scaling.py` for how the corpus is made and why the time scale is 0.0002).

No target is asserted beyond both passes succeeding: the figures (wall times, scaling factor)
go to ``extra_info`` and the summary table. About a minute on 2 cores.
"""

from __future__ import annotations

import pytest
from _tables import add_row
from xdist_scaling import DEFAULT_COUNT, DEFAULT_TIME_SCALE, XdistScaling, run_scaling

pytest.importorskip("xdist")


def test_corpus_recording_xdist_scaling(benchmark) -> None:
    result: XdistScaling = benchmark.pedantic(
        run_scaling, args=(DEFAULT_COUNT, DEFAULT_TIME_SCALE), rounds=1, iterations=1
    )
    benchmark.extra_info.update(result.to_dict())
    add_row(
        "golden recording of a generated corpus under pytest-xdist",
        ["YAMLs", "time scale", "latency/pass s", "-n 1 s", "-n 2 s", "scaling"],
        [result.count, f"{result.time_scale:g}", f"{result.model_seconds_per_pass:.1f}",
         f"{result.n1_seconds:.1f}", f"{result.n2_seconds:.1f}", f"{result.scaling:.2f}x"],
    )  # fmt: skip
    assert result.n1_seconds > 0 and result.n2_seconds > 0
