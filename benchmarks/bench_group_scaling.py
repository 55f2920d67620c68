"""How a parallel_group scales with its width: N branches of L = 20 ms each, max_workers = N.

The group step alone is run through `ChainExecutor._execute_step` by two executors built in
the two flag states (sequential scheduler vs `parallel.ThreadPoolScheduler`), as interleaved
A/B pairs (`harness.perf.measure_ab`). Targets, from the issue:

* parallel time <= L + 1 ms + 0.1 ms x N (scheduling overhead stays small and linear);
* speedup = median(sequential) / median(parallel) >= 0.95 x N.

Two branch kinds, both with a model latency of exactly 20 ms:

* ``flux_schnell`` (5 s x scale 0.004): text_to_image, so every branch also makes and writes a
  PNG in the stub — the realistic case;
* ``gemini_objects`` (4 s x scale 0.005): image_understanding, text out and no file, so the
  figure isolates the scheduler from the stub's media generation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _tables import add_row

from ai_content_pipeline.config.constants import estimated_seconds
from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.models.media import make_png
from ai_content_pipeline.models.stub import TIME_SCALE_ENV
from ai_content_pipeline.pipeline.chain import PipelineStep, StepType
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.utils.file_manager import FileManager
from harness.perf import ABResult, measure_ab

LATENCY_S = 0.020
PAIRS = 7
WIDTHS = (2, 4, 8, 16, 32)
BRANCHES = {
    # model -> (step type, group input type)
    "flux_schnell": ("text_to_image", "text"),
    "gemini_objects": ("image_understanding", "image"),
}
TABLE = "parallel_group scaling (branch model latency L = 20 ms, max_workers = N)"
HEADER = ["branch", "N", "seq ms", "par ms", "par target ms", "speedup", "target", "noise"]


def group_step(model: str, width: int) -> PipelineStep:
    step_type, _ = BRANCHES[model]
    branches = [{"type": step_type, "model": model, "params": {"seed": i}} for i in range(width)]
    return PipelineStep(
        StepType.PARALLEL_GROUP,
        "parallel",
        {"max_workers": width, "merge_strategy": "collect_all", "parallel_steps": branches},
    )


def executor_in(monkeypatch: pytest.MonkeyPatch, base: Path, parallel_on: bool) -> ChainExecutor:
    """The flag is read when the executor is constructed."""
    monkeypatch.setenv(PARALLEL_ENV_VAR, "true" if parallel_on else "false")
    executor = ChainExecutor(FileManager(str(base)))
    expected = "ParallelExtension" if parallel_on else "SequentialScheduler"
    assert executor.scheduler_name == expected
    return executor


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("model", list(BRANCHES))
def test_group_scaling(
    benchmark, stub_env: pytest.MonkeyPatch, tmp_path: Path, model: str, width: int
) -> None:
    step_type, input_type = BRANCHES[model]
    stub_env.setenv(TIME_SCALE_ENV, repr(LATENCY_S / estimated_seconds(step_type, model)))
    if input_type == "image":
        image = tmp_path / "in.png"
        image.write_bytes(make_png(b"\1" * 32))
        input_data: Any = str(image)
    else:
        input_data = "A tiny astronaut exploring a giant mushroom forest"
    step = group_step(model, width)
    sequential = executor_in(stub_env, tmp_path, parallel_on=False)
    parallel = executor_in(stub_env, tmp_path, parallel_on=True)
    runs = iter(range(1, 1_000_000))

    def runner(executor: ChainExecutor):
        def run() -> None:
            result = executor._execute_step(
                step=step,
                input_data=input_data,
                input_type=input_type,
                chain_config={"output_dir": str(tmp_path / "runs" / f"{next(runs):05d}")},
                step_context={"step_label": "step1"},
            )
            assert result["success"] and result["successful_steps"] == width

        return run

    ab: ABResult = benchmark.pedantic(
        measure_ab,
        args=(runner(sequential), runner(parallel), PAIRS),
        kwargs={"warmup": 1},
        rounds=1,
        iterations=1,
    )
    seq_ms, par_ms = ab.median_a * 1000, ab.median_b * 1000
    par_target_ms = LATENCY_S * 1000 + 1.0 + 0.1 * width
    speedup, speedup_target = ab.speedup, 0.95 * width
    benchmark.extra_info.update(
        {
            "branch_model": model,
            "n": width,
            "latency_ms": LATENCY_S * 1000,
            "sequential_ms": round(seq_ms, 3),
            "parallel_ms": round(par_ms, 3),
            "parallel_target_ms": round(par_target_ms, 3),
            "speedup": round(speedup, 3),
            "speedup_target": round(speedup_target, 3),
            "noise": round(ab.noise, 4),
            "pairs": PAIRS,
        }
    )
    add_row(
        TABLE,
        HEADER,
        [model, width, f"{seq_ms:.1f}", f"{par_ms:.2f}", f"{par_target_ms:.1f}",
         f"{speedup:.2f}", f"{speedup_target:.2f}", f"{ab.noise:.3f}"],
    )  # fmt: skip
    problems = []
    if par_ms > par_target_ms:
        problems.append(f"parallel {par_ms:.2f} ms > target {par_target_ms:.1f} ms")
    if speedup < speedup_target:
        problems.append(f"speedup {speedup:.2f}x < target {speedup_target:.2f}x")
    if problems:
        pytest.fail(f"{model} x {width}: " + "; ".join(problems), pytrace=False)
