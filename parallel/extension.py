"""The established `ParallelExtension` API, now a thin front for `ThreadPoolScheduler`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ai_content_pipeline.pipeline.chain import PipelineStep, StepType, branch_steps
from ai_content_pipeline.pipeline.groups import run_group

from .history import GroupHistory
from .pool import BranchPool
from .scheduler import ThreadPoolScheduler, thread_pool_scope


class ParallelExtension:
    """Optional concurrent execution of parallel_group steps.

    The executor constructs it when this package is importable and sets `enabled`
    from the feature flag; only an enabled extension replaces the core scheduler.
    """

    def __init__(self, base_executor: Any) -> None:
        self.base_executor = base_executor
        self.enabled = False
        self._pool = BranchPool()
        self._history = GroupHistory()

    def is_parallel_step(self, step_data: dict) -> bool:
        return step_data.get("type") == StepType.PARALLEL_GROUP.value

    def can_execute_parallel(self, step: PipelineStep) -> bool:
        return (
            self.enabled
            and step.step_type is StepType.PARALLEL_GROUP
            and len(branch_steps(step)) > 0
        )

    def run_scope(self) -> AbstractContextManager[ThreadPoolScheduler]:
        """Scheduler for one chain run (the executor's scheduler seam); every group of every
        run shares this extension's worker threads and what they learnt about its groups."""
        return thread_pool_scope(self._pool, self._history)

    def close(self) -> None:
        """Join the pool's threads (they also end with the interpreter)."""
        self._pool.close()

    def execute_parallel_group(
        self,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: dict[str, Any],
        step_context: dict[str, Any],
    ) -> dict[str, Any]:
        """Run one group concurrently; same result as the core's sequential run."""
        with self.run_scope() as scheduler:
            return run_group(
                self.base_executor,
                step,
                input_data,
                input_type,
                chain_config,
                step_context if step_context is not None else {},
                scheduler,
            )
