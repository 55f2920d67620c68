"""How a parallel_group scales with its width, on the REAL clock: N branches of latency
L = 20 ms, max_workers = N, flag off (sequential) against flag on (`parallel.AsyncScheduler`),
interleaved pairs, medians. Targets, from the issue:

* ``latency`` — a generator that is nothing but latency (waits L on the request's clock, or
  awaits it on the loop), every branch a full executor step: parallel time
  <= L + 1 ms + 0.1 ms x N and speedup >= 0.95 x N, for N = 2 ... 32. Asserted.
* ``api_understanding`` — through the public API (`ContentCreationChain.from_config`,
  `AIPipelineManager.execute_chain`), stub ``image_understanding`` branches on one input image,
  timed by the group step's ``processing_time``: speedup >= 0.9 x N up to N = 32. Asserted.
* ``api_speech`` — the same with stub ``text_to_speech`` branches, which write a media file
  each (own work no scheduler can overlap under the GIL). Reported.

Every row also shows the design's *floor*: N asyncio tasks that only await L on one loop,
against N such waits in a row.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _tables import add_row

from ai_content_pipeline.config.constants import estimated_seconds
from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.models.media import make_png
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry, build_registry
from ai_content_pipeline.models.stub import TIME_SCALE_ENV
from ai_content_pipeline.pipeline.chain import ContentCreationChain, PipelineStep, StepType
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.utils.file_manager import FileManager

LATENCY_S = 0.020
PAIRS = 11
WIDTHS = (2, 4, 8, 16, 32)
TABLE = "parallel_group scaling, real clock (branch latency L = 20 ms, max_workers = N)"
HEADER = [
    "branches", "N", "seq ms", "par ms", "target ms", "speedup", "target",
    "floor ms", "floor speedup",
]  # fmt: skip
API_KINDS = {
    "api_understanding": ("image_understanding", "gemini_objects", 0.9),
    "api_speech": ("text_to_speech", "elevenlabs_turbo", None),
}


@dataclass(frozen=True)
class Pairs:
    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def median_a(self) -> float:
        return statistics.median(self.a)

    @property
    def median_b(self) -> float:
        return statistics.median(self.b)

    @property
    def speedup(self) -> float:
        return self.median_a / self.median_b


def interleaved(
    run_a: Callable[[], float], run_b: Callable[[], float], pairs: int = PAIRS
) -> Pairs:
    """AB, BA, AB, ... after two warm-up pairs; each run returns its own duration."""
    for _ in range(2):
        run_a(), run_b()
    a, b = [], []
    for index in range(pairs):
        if index % 2 == 0:
            a.append(run_a())
            b.append(run_b())
        else:
            b.append(run_b())
            a.append(run_a())
    return Pairs(tuple(a), tuple(b))


class LatencyOnly:
    """A model call that is nothing but latency: waits L, then answers."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def generate(self, request: GenerationRequest) -> GenerationResult:
        if request.clock.sleep(self.latency, request.cancelled):
            return GenerationResult(success=False, error="cancelled")
        return self._answer(request)

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        await asyncio.sleep(self.latency)
        return self._answer(request)

    @staticmethod
    def _answer(request: GenerationRequest) -> GenerationResult:
        return GenerationResult(success=True, output_text=f"{request.label}: done", cost=0.001)


def latency_registry() -> GeneratorRegistry:
    registry = build_registry("stub")
    registry.register("image_understanding", "gemini_objects", LatencyOnly(LATENCY_S))
    return registry


def group(step_type: str, model: str, width: int) -> dict[str, Any]:
    branches = [{"type": step_type, "model": model, "params": {"seed": i}} for i in range(width)]
    return {
        "type": "parallel_group",
        "model": "parallel",
        "params": {
            "max_workers": width,
            "merge_strategy": "collect_all",
            "parallel_steps": branches,
        },
    }


def asyncio_floor(width: int) -> Pairs:
    """N sleeps of L in a row against N tasks awaiting L on one (warm) loop."""
    loop = asyncio.new_event_loop()

    def in_a_row() -> float:
        started = time.perf_counter()
        for _ in range(width):
            time.sleep(LATENCY_S)
        return time.perf_counter() - started

    async def together() -> None:
        await asyncio.gather(*(asyncio.sleep(LATENCY_S) for _ in range(width)))

    def on_tasks() -> float:
        started = time.perf_counter()
        loop.run_until_complete(together())
        return time.perf_counter() - started

    try:
        return interleaved(in_a_row, on_tasks)
    finally:
        loop.close()


def report(kind: str, width: int, ab: Pairs, benchmark: Any) -> tuple[float, float, float]:
    floor = asyncio_floor(width)
    seq_ms, par_ms = ab.median_a * 1000, ab.median_b * 1000
    target_ms = LATENCY_S * 1000 + 1.0 + 0.1 * width
    benchmark.extra_info.update(
        {
            "branches": kind,
            "n": width,
            "sequential_ms": round(seq_ms, 3),
            "parallel_ms": round(par_ms, 3),
            "parallel_target_ms": round(target_ms, 3),
            "speedup": round(ab.speedup, 3),
            "floor_ms": round(floor.median_b * 1000, 3),
            "floor_speedup": round(floor.speedup, 3),
        }
    )
    fraction = 0.95 if kind == "latency" else API_KINDS[kind][2] or 0.0
    add_row(
        TABLE,
        HEADER,
        [kind, width, f"{seq_ms:.1f}", f"{par_ms:.2f}",
         f"{target_ms:.1f}" if kind == "latency" else "-", f"{ab.speedup:.2f}",
         f"{fraction * width:.2f}" if fraction else "-", f"{floor.median_b * 1000:.2f}",
         f"{floor.speedup:.2f}"],
    )  # fmt: skip
    return par_ms, target_ms, fraction * width


@pytest.mark.parametrize("width", WIDTHS)
def test_latency_branches(
    benchmark: Any, stub_env: pytest.MonkeyPatch, tmp_path: Path, width: int
) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(make_png(b"\1" * 32))
    step = PipelineStep.from_dict(group("image_understanding", "gemini_objects", width))
    assert step.step_type is StepType.PARALLEL_GROUP
    executors = {}
    for flag in ("false", "true"):
        stub_env.setenv(PARALLEL_ENV_VAR, flag)
        executors[flag] = ChainExecutor(FileManager(str(tmp_path)), generators=latency_registry())
    runs = iter(range(1, 1_000_000))

    def timed(executor: ChainExecutor) -> Callable[[], float]:
        def run() -> float:
            started = time.perf_counter()
            result = executor._execute_step(
                step=step,
                input_data=str(image),
                input_type="image",
                chain_config={"output_dir": str(tmp_path / "runs" / f"{next(runs):05d}")},
                step_context={"step_label": "step1"},
            )
            elapsed = time.perf_counter() - started
            assert result["success"] and result["successful_steps"] == width
            return elapsed

        return run

    ab = benchmark.pedantic(
        interleaved, args=(timed(executors["false"]), timed(executors["true"])), rounds=1
    )
    par_ms, target_ms, speedup_target = report("latency", width, ab, benchmark)
    problems = []
    if par_ms > target_ms:
        problems.append(f"parallel {par_ms:.2f} ms > target {target_ms:.1f} ms")
    if ab.speedup < speedup_target:
        problems.append(f"speedup {ab.speedup:.2f}x < target {speedup_target:.2f}x")
    if problems:
        pytest.fail(f"latency x {width}: " + "; ".join(problems), pytrace=False)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", list(API_KINDS))
def test_public_api_branches(
    benchmark: Any, stub_env: pytest.MonkeyPatch, tmp_path: Path, kind: str, width: int
) -> None:
    step_type, model, fraction = API_KINDS[kind]
    stub_env.setenv(TIME_SCALE_ENV, repr(LATENCY_S / estimated_seconds(step_type, model)))
    image = tmp_path / "in.png"
    image.write_bytes(make_png(b"\2" * 32))
    config = {
        "name": f"scaling_{kind}_{width}",
        "input_type": "image" if step_type == "image_understanding" else "text",
        "steps": [group(step_type, model, width)],
    }
    input_data = str(image) if step_type == "image_understanding" else "Hello from the benchmark"
    managers = {}
    for flag in ("false", "true"):
        stub_env.setenv(PARALLEL_ENV_VAR, flag)
        managers[flag] = AIPipelineManager(base_dir=str(tmp_path / flag))
    runs = iter(range(1, 1_000_000))

    def timed(manager: AIPipelineManager) -> Callable[[], float]:
        def run() -> float:
            chain = ContentCreationChain.from_config(
                {**config, "output_dir": f"runs/{next(runs):05d}"}
            )
            result = manager.execute_chain(chain, input_data)
            assert result.success, result.error
            return float(result.step_results[0]["processing_time"])

        return run

    ab = benchmark.pedantic(
        interleaved, args=(timed(managers["false"]), timed(managers["true"])), rounds=1
    )
    _, _, speedup_target = report(kind, width, ab, benchmark)
    if fraction is not None and ab.speedup < speedup_target:
        pytest.fail(
            f"{kind} x {width}: speedup {ab.speedup:.2f}x < target {speedup_target:.2f}x",
            pytrace=False,
        )
