"""Sequential executor overhead per step at zero simulated latency.

What it measures: `ChainExecutor.execute` over a 10-step linear chain (text_to_image
flux_schnell, then image_to_image photon_flash x 9) with ``AICP_STUB_TIME_SCALE=0``: everything
the executor and the stub do around a model call — validation, parameter resolution, the stub's
media generation and atomic file write, the execution report. Target: <= 0.5 ms per step.
When the target is missed the assertion message carries a cProfile breakdown.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable
from pathlib import Path

import pytest
from _tables import add_row

from ai_content_pipeline.models.media import make_png
from ai_content_pipeline.pipeline.chain import ContentCreationChain
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.utils.file_manager import FileManager

STEPS = 10
TARGET_MS_PER_STEP = 0.5
ROUNDS = 30
TABLE = "executor overhead (sequential, AICP_STUB_TIME_SCALE=0, 10 steps)"
HEADER = ["chain", "median ms/run", "ms/step", "target ms/step"]


def linear_chain() -> ContentCreationChain:
    steps = [{"type": "text_to_image", "model": "flux_schnell"}]
    steps += [
        {"type": "image_to_image", "model": "photon_flash", "params": {"prompt": f"pass {i}"}}
        for i in range(1, STEPS)
    ]
    return ContentCreationChain.from_config(
        {"name": "overhead_chain", "steps": steps, "save_intermediates": False}
    )


def profile_top(run: Callable[[], None], runs: int = 5, limit: int = 12) -> str:
    """Where the time goes: the top functions by own time over a few profiled runs."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def test_sequential_executor_overhead_per_step(
    benchmark, stub_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    executor = ChainExecutor(FileManager(str(tmp_path)))
    assert executor.scheduler_name == "SequentialScheduler"
    chain = linear_chain()
    runs = iter(range(1, 1_000_000))

    def fresh_output() -> tuple[tuple, dict]:
        # Untimed: each round writes into a new folder, as a real run would.
        chain.config["output_dir"] = str(tmp_path / "runs" / f"{next(runs):05d}")
        return (), {}

    def run() -> None:
        result = executor.execute(chain, "A lighthouse on a cliff at dawn")
        assert result.success and result.steps_completed == STEPS

    benchmark.pedantic(run, setup=fresh_output, rounds=ROUNDS, iterations=1, warmup_rounds=2)
    median_s = benchmark.stats.stats.median
    ms_per_step = median_s * 1000 / STEPS
    benchmark.extra_info.update(
        {"ms_per_step": round(ms_per_step, 3), "target_ms_per_step": TARGET_MS_PER_STEP}
    )
    add_row(
        TABLE,
        HEADER,
        [
            "flux_schnell + 9 x photon_flash",
            f"{median_s * 1000:.2f}",
            f"{ms_per_step:.3f}",
            TARGET_MS_PER_STEP,
        ],
    )
    if ms_per_step > TARGET_MS_PER_STEP:

        def profiled() -> None:
            fresh_output()
            run()

        pytest.fail(
            f"executor overhead {ms_per_step:.3f} ms/step > target {TARGET_MS_PER_STEP} ms/step; "
            f"where the time goes:\n{profile_top(profiled)}",
            pytrace=False,
        )


def test_executor_overhead_without_media_generation(
    benchmark, stub_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Informational: 10 prompt_generation steps (image in, text out, no media file written),
    i.e. the executor without the stub's media generation, so a regression can be placed in
    the core or in the stub."""
    image = tmp_path / "in.png"
    image.write_bytes(make_png(b"\0" * 32))
    chain = ContentCreationChain.from_config(
        {
            "name": "text_only_chain",
            "input_type": "image",
            "save_intermediates": False,
            "steps": [
                {
                    "type": "prompt_generation",
                    "model": "openrouter_video_prompt",
                    "params": {"style": f"pass {i}"},
                }
                for i in range(STEPS)
            ],
        }
    )
    executor = ChainExecutor(FileManager(str(tmp_path)))
    runs = iter(range(1, 1_000_000))

    def fresh_output() -> tuple[tuple, dict]:
        chain.config["output_dir"] = str(tmp_path / "runs" / f"{next(runs):05d}")
        return (), {}

    def run() -> None:
        result = executor.execute(chain, str(image))
        assert result.success and result.steps_completed == STEPS, result.error

    benchmark.pedantic(run, setup=fresh_output, rounds=ROUNDS, iterations=1, warmup_rounds=2)
    median_s = benchmark.stats.stats.median
    ms_per_step = median_s * 1000 / STEPS
    benchmark.extra_info["ms_per_step"] = round(ms_per_step, 3)
    add_row(
        TABLE,
        HEADER,
        [
            "10 x prompt_generation (no media)",
            f"{median_s * 1000:.2f}",
            f"{ms_per_step:.3f}",
            "(info)",
        ],
    )
