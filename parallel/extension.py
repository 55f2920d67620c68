"""The established `ParallelExtension` API, now a thin front for `AsyncScheduler`."""

from __future__ import annotations

from typing import Any

from ai_content_pipeline.pipeline.chain import PipelineStep, StepType, branch_steps
from ai_content_pipeline.pipeline.groups import branch_tasks, run_group

from .scheduler import AsyncScheduler


class ParallelExtension:
    """Optional concurrent execution of parallel_group steps.

    The executor constructs it when this package is importable and sets `enabled` when it
    runs groups on a concurrent scheduler. `execute_parallel_group` always runs concurrently.
    """

    def __init__(self, base_executor: Any) -> None:
        self.base_executor = base_executor
        self.enabled = False
        self._scheduler = AsyncScheduler(getattr(base_executor, "clock", None))

    def is_parallel_step(self, step_data: dict[str, Any]) -> bool:
        return step_data.get("type") == StepType.PARALLEL_GROUP.value

    def can_execute_parallel(self, step: PipelineStep) -> bool:
        return (
            self.enabled
            and step.step_type is StepType.PARALLEL_GROUP
            and len(branch_steps(step)) > 0
        )

    def close(self) -> None:
        self._scheduler.close()

    def execute_parallel_group(
        self,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: dict[str, Any],
        step_context: dict[str, Any],
    ) -> dict[str, Any]:
        """Run one group concurrently; same result as the core's sequential run."""
        from ai_content_pipeline.pipeline.executor import StepRunner

        context = step_context if step_context is not None else {}
        tasks = branch_tasks(step, input_data, input_type, chain_config, context, {})
        runner = StepRunner(self.base_executor)
        return run_group(step, tasks, self._scheduler, runner, context)
