"""What a parallel_group means, defined once for every scheduler.

A group hands its branches to a scheduler as independent tasks and gets their
results back *in declaration order*. Everything that shapes the output — branch
inputs and labels, context copies, merge, cost sums, the next step's input,
error texts — happens here, before or after scheduling. The sequential
scheduler below and `parallel.ThreadPoolScheduler` only decide *when* each task
runs, so their outputs are identical by construction.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from .chain import PipelineStep, StepType, branch_steps

if TYPE_CHECKING:
    from .executor import ChainExecutor

DEFAULT_MAX_WORKERS = 3
NO_SUCCESS_MESSAGE = "No successful results from parallel execution"


class MergeStrategy(Enum):
    """How a group's branch results become the group's result."""

    COLLECT_ALL = "collect_all"
    FIRST_SUCCESS = "first_success"
    BEST_QUALITY = "best_quality"


@dataclass(frozen=True)
class BranchTask:
    """One branch, ready to run: `run()` never raises and returns the branch's result dict."""

    index: int
    step: PipelineStep
    label: str
    run: Callable[[], dict[str, Any]]


class GroupScheduler(Protocol):
    """Runs branch tasks and returns their results in the order of `tasks`."""

    def run_branches(
        self, tasks: Sequence[BranchTask], max_workers: int
    ) -> list[dict[str, Any]]: ...


class SchedulerProvider(Protocol):
    """Hands out a scheduler for the span of one chain run (one pool per run)."""

    def run_scope(self) -> Any:
        """A context manager yielding a `GroupScheduler`."""
        ...


class SequentialScheduler:
    """The core's scheduler: branches one after another, in declaration order."""

    def run_branches(self, tasks: Sequence[BranchTask], max_workers: int) -> list[dict[str, Any]]:
        return [task.run() for task in tasks]

    @contextmanager
    def run_scope(self) -> Iterator[SequentialScheduler]:
        yield self


@dataclass(frozen=True)
class GroupSettings:
    """A group's parameters, read once with their defaults."""

    branches: list[PipelineStep]
    max_workers: int
    strategy: MergeStrategy

    @classmethod
    def of(cls, step: PipelineStep) -> GroupSettings:
        return cls(
            branches=branch_steps(step),
            max_workers=int(step.params.get("max_workers", DEFAULT_MAX_WORKERS)),
            strategy=MergeStrategy(step.params.get("merge_strategy", "collect_all")),
        )


def branch_label(group_label: str, index: int) -> str:
    """File-name prefix of branch `index` (0-based) — stable across schedulers."""
    return f"{group_label}_branch{index + 1}"


_IMMUTABLE = (str, int, float, bool, type(None))


def branch_context(step_context: dict[str, Any]) -> dict[str, Any]:
    """A branch's own copy of the step context, so no branch sees another's changes.

    Contexts normally hold only strings (labels, a generated prompt); those need no deep
    copy, which would cost more than the rest of a branch's setup.
    """
    if all(type(value) in _IMMUTABLE for value in step_context.values()):
        return dict(step_context)
    return copy.deepcopy(step_context)


def quality_score(result: dict[str, Any]) -> float:
    """best_quality's score: the generator's `metadata.quality_score`, 0.0 when absent."""
    score = (result.get("metadata") or {}).get("quality_score", 0.0)
    return float(score) if isinstance(score, int | float) and not isinstance(score, bool) else 0.0


def run_group(
    executor: ChainExecutor,
    step: PipelineStep,
    input_data: Any,
    input_type: str,
    chain_config: dict[str, Any],
    step_context: dict[str, Any],
    scheduler: GroupScheduler,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run a group's branches through `scheduler` and merge them. Never raises for a branch."""
    settings = GroupSettings.of(step)
    group_label = step_context.get("step_label", "group")
    contexts = [branch_context(step_context) for _ in settings.branches]
    tasks = []
    for index, (branch, context) in enumerate(zip(settings.branches, contexts, strict=True)):
        context["step_label"] = branch_label(group_label, index)
        tasks.append(
            BranchTask(
                index=index,
                step=branch,
                label=context["step_label"],
                run=_branch_runner(
                    executor, branch, input_data, input_type, chain_config, context, kwargs
                ),
            )
        )
    started = time.perf_counter()
    results = scheduler.run_branches(tasks, settings.max_workers)
    elapsed = time.perf_counter() - started
    merged = merge_results(settings, results)
    selected = merged.get("selected_branch")
    if selected:
        # The chosen branch's context changes (e.g. a generated prompt) carry on, as a
        # plain step's would; the other branches' copies are discarded.
        step_context.update(contexts[selected - 1])
        step_context["step_label"] = group_label
    merged["total_time"] = elapsed
    merged["processing_time"] = elapsed
    merged["model"] = step.model
    return merged


def _branch_runner(
    executor: ChainExecutor,
    branch: PipelineStep,
    input_data: Any,
    input_type: str,
    chain_config: dict[str, Any],
    context: dict[str, Any],
    kwargs: dict[str, Any],
) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        try:
            return executor._execute_step(
                step=branch,
                input_data=input_data,
                input_type=input_type,
                chain_config=chain_config,
                step_context=context,
                **kwargs,
            )
        except Exception as exc:  # a branch that raises is a failed branch, never a crash
            return failed_result(branch, f"Step execution failed: {exc}")

    return run


def failed_result(step: PipelineStep, error: str, cost: float = 0.0) -> dict[str, Any]:
    return {
        "success": False,
        "output_path": None,
        "output_url": None,
        "output_text": None,
        "extracted_prompt": None,
        "processing_time": 0.0,
        "cost": cost,
        "model": step.model,
        "metadata": {},
        "error": error,
    }


def merge_results(settings: GroupSettings, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge branch results given in declaration order. Pure: same input, same output."""
    entries = [
        {
            "step_index": index,
            "step_type": branch.step_type.value,
            "model": branch.model,
            "result": result,
        }
        for index, (branch, result) in enumerate(zip(settings.branches, results, strict=True))
    ]
    successes = [e for e in entries if e["result"].get("success")]
    total_cost = 0.0
    for entry in entries:  # declaration order: float sums must not depend on completion order
        total_cost += float(entry["result"].get("cost") or 0.0)
    chosen = _select(settings.strategy, successes)
    base: dict[str, Any] = {
        "parallel_execution": True,
        "merge_strategy": settings.strategy.value,
        "total_parallel_steps": len(entries),
        "successful_steps": len(successes),
        "failed_steps": len(entries) - len(successes),
        "parallel_results": entries,
        "cost": total_cost,
    }
    if chosen is None:
        return {
            **base,
            "success": False,
            "output_path": None,
            "output_url": None,
            "output_text": None,
            "extracted_prompt": None,
            "metadata": {},
            "selected_branch": None,
            "error": _no_success_message(settings.strategy, entries),
        }
    result = chosen["result"]
    merged = {
        "success": True,
        "output_path": result.get("output_path"),
        "output_url": result.get("output_url"),
        "output_text": result.get("output_text"),
        "extracted_prompt": result.get("extracted_prompt"),
        "metadata": dict(result.get("metadata") or {}),
        "error": None,
        **base,
        "selected_branch": chosen["step_index"] + 1,
        "selected_step_type": chosen["step_type"],
    }
    if "subtitle_path" in result:
        merged["subtitle_path"] = result["subtitle_path"]
    if settings.strategy is MergeStrategy.COLLECT_ALL:
        merged["output_data"] = "parallel_results"
        merged["successful_results"] = successes
    return merged


def _select(strategy: MergeStrategy, successes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """collect_all and first_success pass on the lowest-index success; best_quality the
    highest `quality_score`, ties going to the lowest index."""
    if not successes:
        return None
    if strategy is MergeStrategy.BEST_QUALITY:
        best = successes[0]
        for entry in successes[1:]:
            if quality_score(entry["result"]) > quality_score(best["result"]):
                best = entry
        return best
    return successes[0]


def _no_success_message(strategy: MergeStrategy, entries: list[dict[str, Any]]) -> str:
    details = "; ".join(
        f"branch {e['step_index'] + 1} ({e['step_type']}/{e['model']}): "
        f"{e['result'].get('error') or 'Unknown error'}"
        for e in entries
    )
    if strategy is MergeStrategy.COLLECT_ALL:
        return f"All {len(entries)} parallel branches failed: {details}"
    return f"{NO_SUCCESS_MESSAGE}: {details}"


def is_group(step: PipelineStep) -> bool:
    return step.step_type is StepType.PARALLEL_GROUP
