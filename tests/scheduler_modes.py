"""Running a chain under either scheduler, for the tests that must hold under both.

`mode` is ``"sequential"`` (flag off: the core's scheduler) or ``"parallel"`` (flag on:
`parallel.AsyncScheduler`, registered as ``async``); the parallel case skips when `parallel` is
blocked. `clock` is the executor's clock (real by default; `VirtualClock` for exact, instant
waits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.clock import Clock
from ai_content_pipeline.models.registry import GeneratorRegistry
from ai_content_pipeline.pipeline.manager import AIPipelineManager

SEQUENTIAL = "sequential"
PARALLEL = "parallel"
SCHEDULER_NAME = {SEQUENTIAL: "sequential", PARALLEL: "async"}
MODES = [
    pytest.param(SEQUENTIAL, id=SEQUENTIAL),
    pytest.param(PARALLEL, id=PARALLEL, marks=pytest.mark.requires_parallel),
]


def make_manager(
    base: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    generators: GeneratorRegistry | None = None,
    clock: Clock | None = None,
) -> AIPipelineManager:
    """A manager whose executor uses the scheduler `mode` (flag read at construction)."""
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "true" if mode == PARALLEL else "false")
    manager = AIPipelineManager(base_dir=str(base), generators=generators, clock=clock)
    info = manager.executor.scheduler_info
    assert info.name == manager.executor.scheduler_name == SCHEDULER_NAME[mode]
    assert info.concurrent is (mode == PARALLEL)
    assert info.clock == (clock.name if clock is not None else "real")
    return manager


def step(type_: str, model: str, **params: Any) -> dict[str, Any]:
    """One step as a YAML mapping."""
    return {"type": type_, "model": model, "params": params}
