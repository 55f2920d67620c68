"""The deterministic timing model: makespan and the per-run summary."""

from __future__ import annotations

from typing import Any

import pytest

from ai_content_pipeline.pipeline import groups
from harness.timing import DEFAULT_MAX_WORKERS, call_latency, makespan, timing_model


@pytest.mark.parametrize(
    ("latencies", "workers", "expected"),
    [
        ([5, 5, 5], 3, 5),
        ([5, 5, 5], 1, 15),
        ([10, 1, 1, 1], 2, 10),
        ([3, 3, 3, 3], 3, 6),
        ([1, 1, 10], 2, 11),  # declaration order, not longest-first
        ([], 4, 0),
        ([2, 2], 0, 4),  # < 1 worker counts as one, like the scheduler
        ([7], 64, 7),
    ],
)
def test_makespan(latencies: list[float], workers: int, expected: float) -> None:
    assert makespan(latencies, workers) == expected


def test_default_workers_match_the_core() -> None:
    assert DEFAULT_MAX_WORKERS == groups.DEFAULT_MAX_WORKERS


def _step(number: int, step_type: str, model: str, model_time: Any, **meta: Any) -> dict:
    metadata = {"model_time": model_time, **meta} if model_time is not None else {}
    return {"step_number": number, "step_type": step_type, "model": model, "metadata": metadata}


def _group(number: int, times: list[float], max_workers: int | None = None) -> dict:
    params = {} if max_workers is None else {"max_workers": max_workers}
    return {
        "step_number": number,
        "step_type": "parallel_group",
        "model": "parallel",
        "params": params,
        "metadata": {"model_time": 999.0},  # the selected branch's copy: must not count
        "parallel_results": [
            {"step_index": i, "model": f"m{i}", "result": {"metadata": {"model_time": t}}}
            for i, t in enumerate(times)
        ],
    }


def test_timing_model_shape_and_numbers() -> None:
    results = [
        _step(1, "text_to_image", "flux_schnell", 5.0),
        _group(2, [10.0, 1.0, 1.0, 1.0], max_workers=2),
        _step(3, "image_to_image", "flux_kontext", 15.0, attempts=3),
    ]
    model = timing_model(results)
    assert model == {
        "steps": [
            {"step": "1_text_to_image", "model": "flux_schnell", "latency": 5.0},
            {
                "step": "2_parallel_group",
                "max_workers": 2,
                "branches": [
                    {"branch": 1, "model": "m0", "latency": 10.0},
                    {"branch": 2, "model": "m1", "latency": 1.0},
                    {"branch": 3, "model": "m2", "latency": 1.0},
                    {"branch": 4, "model": "m3", "latency": 1.0},
                ],
                "makespan": 10.0,
            },
            {"step": "3_image_to_image", "model": "flux_kontext", "latency": 45.0},
        ],
        "sequential_seconds": 63.0,
        "critical_path_seconds": 60.0,
        "ideal_speedup": 1.05,
    }


def test_group_without_max_workers_uses_the_default() -> None:
    model = timing_model([_group(1, [4.0, 4.0, 4.0, 4.0])])
    assert model["steps"][0]["max_workers"] == 3
    assert model["critical_path_seconds"] == 8.0
    assert model["ideal_speedup"] == 2.0


def test_missing_model_time_counts_zero_and_empty_runs_have_speedup_one() -> None:
    assert call_latency({"metadata": {}}) == 0.0
    assert call_latency({}) == 0.0
    assert call_latency({"metadata": {"model_time": True}}) == 0.0
    empty = timing_model([])
    assert empty == {
        "steps": [],
        "sequential_seconds": 0.0,
        "critical_path_seconds": 0.0,
        "ideal_speedup": 1.0,
    }
    linear = timing_model([_step(1, "text_to_image", "x", 5.0)])
    assert linear["ideal_speedup"] == 1.0


def test_rounded_to_six_decimals() -> None:
    model = timing_model([_step(1, "t", "m", 1 / 3), _step(2, "t", "m", 1 / 3)])
    assert model["steps"][0]["latency"] == 0.333333
    assert model["sequential_seconds"] == 0.666667
    assert model["ideal_speedup"] == 1.0
