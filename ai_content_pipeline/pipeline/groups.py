"""What a parallel_group means, defined once for every scheduler.

A group hands its branches to a scheduler as independent tasks and gets their
results back *in declaration order*. Everything that shapes the output — branch
inputs and labels, context copies, merge, cost sums, the next step's input,
error texts — happens here, before or after scheduling. The sequential
scheduler below and `parallel.AsyncScheduler` only decide *when* each task
runs, so their outputs are identical by construction.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from ..clock import Clock
from .chain import PipelineStep, StepType, branch_steps
from .schedule import GroupSchedule, InFlight, ScheduleTrace

DEFAULT_MAX_WORKERS = 3
NO_SUCCESS_MESSAGE = "No successful results from parallel execution"
INTERRUPTED_MESSAGE = "Execution interrupted by user"
NOT_STARTED_MESSAGE = "not started: execution interrupted by user"
SEQUENTIAL = "sequential"


class MergeStrategy(Enum):
    """How a group's branch results become the group's result."""

    COLLECT_ALL = "collect_all"
    FIRST_SUCCESS = "first_success"
    BEST_QUALITY = "best_quality"


@dataclass(frozen=True)
class BranchTask:
    """One branch as plain data: everything a runner needs, nothing that points back at the
    executor, so any scheduler (another loop, another process) can hand it to a runner."""

    index: int
    step: PipelineStep
    label: str
    input_data: Any
    input_type: str
    chain_config: Mapping[str, Any]
    context: Mapping[str, Any]
    """The branch's own copy of the step context (its label included)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of `ChainExecutor.execute`, forwarded to the generator."""


@dataclass(frozen=True)
class BranchOutcome:
    """What running a branch gave: its result, what it changed in its context, and when it
    ran on the executor's clock (for the schedule the harness checks)."""

    index: int
    result: dict[str, Any]
    context_updates: Mapping[str, Any]
    started: float
    ended: float
    interrupted: bool = False
    """The branch was stopped by Ctrl-C while its call was in flight (not charged)."""


class BranchRunner(Protocol):
    """Runs one branch task; never raises for a branch's failure."""

    clock: Clock
    in_flight: InFlight

    def run(self, task: BranchTask) -> BranchOutcome: ...

    async def arun(self, task: BranchTask) -> BranchOutcome: ...


class GroupScheduler(Protocol):
    """Decides *when* each branch runs; returns one outcome per task, in the order of `tasks`.

    Registered by name in the ``ai_content_pipeline.schedulers`` entry-point group as a
    factory ``(clock) -> GroupScheduler``. On Ctrl-C (or after an outcome with
    ``interrupted``) it starts no further branch and raises `BranchesInterrupted` with the
    outcomes it has (branches never started have none).
    """

    name: str
    concurrent: bool

    def run_branches(
        self, tasks: Sequence[BranchTask], max_workers: int, runner: BranchRunner
    ) -> list[BranchOutcome]: ...

    def close(self) -> None: ...


class SequentialScheduler:
    """The core's scheduler: branches one after another, in declaration order."""

    name = SEQUENTIAL
    concurrent = False

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock

    def run_branches(
        self, tasks: Sequence[BranchTask], max_workers: int, runner: BranchRunner
    ) -> list[BranchOutcome]:
        outcomes = []
        for task in tasks:
            outcome = runner.run(task)
            outcomes.append(outcome)
            if outcome.interrupted:
                raise BranchesInterrupted(outcomes)
        return outcomes

    def close(self) -> None:
        pass


class BranchesInterrupted(KeyboardInterrupt):
    """Raised by a scheduler that Ctrl-C stopped, with the outcomes it has."""

    def __init__(self, outcomes: Sequence[BranchOutcome]) -> None:
        super().__init__("branches interrupted")
        self.outcomes = list(outcomes)


class GroupInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a group: carries the group's result so far, so the report accounts for
    every branch that ran, was cancelled or never started."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("parallel_group interrupted")
        self.result = result


@dataclass(frozen=True)
class GroupSettings:
    """A group's parameters, read once with their defaults."""

    branches: list[PipelineStep]
    max_workers: int
    strategy: MergeStrategy

    @classmethod
    def of(cls, step: PipelineStep, branches: list[PipelineStep] | None = None) -> GroupSettings:
        """`branches`: the group's parsed enabled branches, when the caller has them."""
        return cls(
            branches=branch_steps(step) if branches is None else branches,
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


def branch_tasks(
    step: PipelineStep,
    input_data: Any,
    input_type: str,
    chain_config: Mapping[str, Any],
    step_context: Mapping[str, Any],
    options: Mapping[str, Any],
) -> list[BranchTask]:
    """The group's enabled branches as tasks: same input, own context copy, own label."""
    group_label = step_context.get("step_label", "group")
    tasks = []
    for index, branch in enumerate(branch_steps(step)):
        context = branch_context(dict(step_context))
        context["step_label"] = branch_label(group_label, index)
        tasks.append(
            BranchTask(
                index=index,
                step=branch,
                label=context["step_label"],
                input_data=input_data,
                input_type=input_type,
                chain_config=chain_config,
                context=context,
                options=dict(options),
            )
        )
    return tasks


def run_group(
    step: PipelineStep,
    tasks: Sequence[BranchTask],
    scheduler: GroupScheduler,
    runner: BranchRunner,
    step_context: dict[str, Any],
    trace: ScheduleTrace | None = None,
) -> dict[str, Any]:
    """Run a group's tasks through `scheduler` and merge them. Never raises for a branch;
    raises `GroupInterrupted` (with the merged result so far) when Ctrl-C stopped it."""
    settings = GroupSettings.of(step, [task.step for task in tasks])
    clock = runner.clock
    started = clock.now()
    stopped = False
    try:
        outcomes = scheduler.run_branches(tasks, settings.max_workers, runner)
    except BranchesInterrupted as stop:
        outcomes, stopped = stop.outcomes, True
    ended = clock.now()
    elapsed = ended - started
    by_index = {outcome.index: outcome for outcome in outcomes}
    interrupted = stopped or any(o.interrupted for o in outcomes)
    complete = sorted(by_index) == list(range(len(tasks)))
    # After an interrupt, only a prefix of the branches may have run; otherwise all of them.
    prefix = sorted(by_index) == list(range(len(by_index))) and len(by_index) <= len(tasks)
    if len(outcomes) != len(by_index) or not (complete or (interrupted and prefix)):
        raise RuntimeError(
            f"scheduler {scheduler.name!r} returned outcomes for branches {sorted(by_index)} "
            f"of {len(tasks)}"
        )
    interrupted = interrupted or not complete
    results = [
        by_index[task.index].result
        if task.index in by_index
        else failed_result(task.step, NOT_STARTED_MESSAGE)
        for task in tasks
    ]
    merged = merge_results(settings, results)
    if trace is not None:
        label = step_context.get("step_label", "group")
        peak = runner.in_flight.peak
        trace.add(GroupSchedule.of(label, settings.max_workers, outcomes, peak, started, ended))
    selected = merged.get("selected_branch")
    if selected and not interrupted:
        # The chosen branch's context changes (e.g. a generated prompt) carry on, as a
        # plain step's would; the other branches' changes are discarded.
        step_context.update(by_index[selected - 1].context_updates)
    merged["total_time"] = elapsed
    merged["processing_time"] = elapsed
    merged["model"] = step.model
    if interrupted:
        merged["success"] = False
        merged["error"] = INTERRUPTED_MESSAGE
        raise GroupInterrupted(merged)
    return merged


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
