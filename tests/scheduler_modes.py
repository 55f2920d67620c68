"""Running a chain under either scheduler, for the tests that must hold under both.

`mode` is ``"sequential"`` (flag off: the core's scheduler) or ``"parallel"`` (flag on:
`parallel.AsyncScheduler`); the parallel case skips when `parallel` is blocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.models.registry import GeneratorRegistry
from ai_content_pipeline.pipeline.manager import AIPipelineManager

SEQUENTIAL = "sequential"
PARALLEL = "parallel"
SCHEDULER_CLASS = {SEQUENTIAL: "sequential", PARALLEL: "async"}
MODES = [
    pytest.param(SEQUENTIAL, id=SEQUENTIAL),
    pytest.param(PARALLEL, id=PARALLEL, marks=pytest.mark.requires_parallel),
]


def make_manager(
    base: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    generators: GeneratorRegistry | None = None,
) -> AIPipelineManager:
    """A manager whose executor uses the scheduler `mode` (flag read at construction)."""
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "true" if mode == PARALLEL else "false")
    manager = AIPipelineManager(base_dir=str(base), generators=generators)
    assert manager.executor.scheduler_name == SCHEDULER_CLASS[mode]
    return manager


def step(type_: str, model: str, **params: Any) -> dict[str, Any]:
    """One step as a YAML mapping."""
    return {"type": type_, "model": model, "params": params}
