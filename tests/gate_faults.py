"""Faults the release gate exists to catch, installed by `tests/test_gate_selftest.py`.

Every fault is a replacement for one real function or method, installed with
`monkeypatch.setattr` (so it lives for one test only) through the seams of the current design:

* `GroupFault` re-implements `parallel.scheduler._group` (the async scheduler's group
  coroutine) with hooks; a subclass overrides one hook to be one scheduler fault. Only the ``on``
  state runs `_group`, so these faults act in ``on`` only. With no override it is the same
  policy as the original (greedy list scheduling in declaration order), which a test checks.
* Call-path faults replace `executor.acall_with_timeout` or wrap
  `ChainExecutor._call_with_retries` for `CallMode.ASYNC`: only the concurrent scheduler calls
  generators that way.
* Core faults (`groups._select`, `schedule.InFlight`, the stub) act in every state.
* Faults that need the scheduler's completion order in the merge get it from `COMPLETION`,
  which `CompletionOrder` (a `GroupFault`) fills for the group the core merges next.

Each fault logs what it did where that matters (`Log`), so a test can show the fault really
happened before it shows that the gate saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import shutil
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import parallel.scheduler as scheduler_module
from ai_content_pipeline.models import stub
from ai_content_pipeline.models.protocol import GenerationResult
from ai_content_pipeline.pipeline import executor as executor_module
from ai_content_pipeline.pipeline import groups
from ai_content_pipeline.pipeline.chain import PipelineStep
from ai_content_pipeline.pipeline.executor import CallMode, ChainExecutor
from ai_content_pipeline.pipeline.groups import (
    BranchOutcome,
    BranchRunner,
    BranchTask,
    GroupSettings,
    MergeStrategy,
)


@dataclass
class Log:
    """What a fault did, for the test to show it happened."""

    events: list[Any] = field(default_factory=list)

    def add(self, event: Any) -> None:
        self.events.append(event)

    def __bool__(self) -> bool:
        return bool(self.events)


# == the async scheduler's group coroutine, with hooks =========================================


@dataclass
class GroupRun:
    """One call of `_group`: its arguments and room for a fault's per-group state."""

    tasks: list[BranchTask]
    workers: int
    runner: BranchRunner
    finished: list[BranchOutcome] = field(default_factory=list)
    """Outcomes in the order the branches finished."""
    scratch: dict[str, Any] = field(default_factory=dict)


class GroupFault:
    """`parallel.scheduler._group` re-implemented: `workers` workers take the next task of
    `order(...)` whenever they are free; a cancelled group cancels its branches and returns
    the outcomes it has. Override one hook to inject one fault."""

    def __init__(self) -> None:
        self.log = Log()

    # -- hooks (the defaults are the original's behaviour) -----------------------------------

    def workers(self, run: GroupRun) -> int:
        return run.workers

    def order(self, run: GroupRun) -> Sequence[BranchTask]:
        return run.tasks

    def outcomes_store(self, run: GroupRun) -> dict[int, BranchOutcome]:
        return {}

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        return await run.runner.arun(task)

    async def wait_crew(self, run: GroupRun, crew: list[asyncio.Future[None]]) -> None:
        await asyncio.gather(*crew)

    def collect(self, run: GroupRun, outcomes: dict[int, BranchOutcome]) -> list[BranchOutcome]:
        return [outcomes[index] for index in sorted(outcomes)]

    # -- the coroutine -----------------------------------------------------------------------

    async def group(
        self, tasks: Sequence[BranchTask], workers: int, runner: BranchRunner
    ) -> list[BranchOutcome]:
        run = GroupRun(list(tasks), workers, runner)
        waiting: Iterator[BranchTask] = iter(self.order(run))
        outcomes = self.outcomes_store(run)
        stopped = False

        async def work() -> None:
            nonlocal stopped
            for task in waiting:
                if stopped:
                    return
                outcome = await self.run_branch(run, task)
                outcomes[task.index] = outcome
                run.finished.append(outcome)
                if outcome.interrupted:
                    stopped = True
                    return

        crew = [asyncio.ensure_future(work()) for _ in range(self.workers(run))]
        try:
            await self.wait_crew(run, crew)
        except asyncio.CancelledError:
            stopped = True
            for member in crew:
                member.cancel()
            await asyncio.gather(*crew, return_exceptions=True)
        return self.collect(run, outcomes)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> GroupFault:
        monkeypatch.setattr(scheduler_module, "_group", self.group)
        return self


# -- scheduling policy ------------------------------------------------------------------------


class EveryBranchAtOnce(GroupFault):
    """`max_workers` ignored: one worker per branch."""

    def workers(self, run: GroupRun) -> int:
        return len(run.tasks)


class OneWorker(GroupFault):
    """Parallelism lost: one worker whatever `max_workers` says."""

    def workers(self, run: GroupRun) -> int:
        return 1


class ReversedStart(GroupFault):
    """Branches started last-declared first (results still keyed by index): a greedy-order
    violation, visible as a different makespan when there are fewer workers than branches."""

    def order(self, run: GroupRun) -> Sequence[BranchTask]:
        return run.tasks[::-1]


class ExtraWait(GroupFault):
    """A slower parallel path: after each branch its worker waits `fraction` of the branch's
    time more on the loop clock (bookkeeping that costs time), before taking the next one."""

    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = fraction

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        outcome = await run.runner.arun(task)
        extra = self.fraction * (outcome.ended - outcome.started)
        self.log.add(extra)
        await asyncio.sleep(extra)
        return outcome


# -- which branch runs ------------------------------------------------------------------------


class RunTwice(GroupFault):
    """Every branch is run twice (a retry of a branch that had succeeded); the second
    outcome is kept."""

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        await run.runner.arun(task)
        self.log.add(task.label)
        return await run.runner.arun(task)


class SkipBranch(GroupFault):
    """Branch `index` (0-based) is never run; the scheduler reports it as a failed branch of
    its own making instead."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        if task.index != self.index or len(run.tasks) <= self.index:
            return await run.runner.arun(task)
        self.log.add(task.label)
        now = run.runner.clock.now()
        result = groups.failed_result(task.step, "skipped by the scheduler")
        return BranchOutcome(task.index, result, {}, now, now)


class AnotherBranchsTask(GroupFault):
    """Branch 2 is run with branch 1's step (model and params), under its own label: a branch
    given another branch's input."""

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        if task.index == 1:
            self.log.add(task.label)
            task = dataclasses.replace(task, step=run.tasks[0].step)
        return await run.runner.arun(task)


class ChainedInput(GroupFault):
    """Each worker hands the output of the branch it ran last to the next branch it takes
    (a loop variable reused as the input), instead of the group's input: with fewer workers
    than branches, a branch gets another branch's output instead of the previous step's."""

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        worker = asyncio.current_task()
        previous = run.scratch.get(worker)
        if previous is not None:
            self.log.add(task.label)
            task = dataclasses.replace(task, input_data=previous)
        outcome = await run.runner.arun(task)
        run.scratch[worker] = outcome.result.get("output_path")
        return outcome


# -- which outcomes come back -----------------------------------------------------------------


class CompletionIndexed(GroupFault):
    """Results handed back in completion order: the i-th outcome to finish is reported as
    branch i's (the merge then pairs branch 1 with whichever result came first)."""

    def collect(self, run: GroupRun, outcomes: dict[int, BranchOutcome]) -> list[BranchOutcome]:
        self.log.add([o.index for o in run.finished])
        return [dataclasses.replace(o, index=i) for i, o in enumerate(run.finished)]


class ReturnedReversed(GroupFault):
    """Outcomes returned last-declared first, each with its own index (the protocol asks for
    declaration order; the core keys outcomes by index)."""

    def collect(self, run: GroupRun, outcomes: dict[int, BranchOutcome]) -> list[BranchOutcome]:
        self.log.add(len(outcomes))
        return [outcomes[index] for index in sorted(outcomes, reverse=True)]


class DropOutcome(GroupFault):
    """The outcome of branch `index` (0-based; -1 = the last) is lost after the branch ran."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def collect(self, run: GroupRun, outcomes: dict[int, BranchOutcome]) -> list[BranchOutcome]:
        drop = len(run.tasks) - 1 if self.index < 0 else self.index
        kept = [outcomes[i] for i in sorted(outcomes) if i != drop]
        if len(kept) < len(outcomes):
            self.log.add(run.tasks[drop].label)
        return kept


class DuplicateOutcome(GroupFault):
    """Branch 1's outcome is also returned as branch 2's (branch 2's own one is lost)."""

    def collect(self, run: GroupRun, outcomes: dict[int, BranchOutcome]) -> list[BranchOutcome]:
        if len(outcomes) >= 2:
            self.log.add(run.tasks[1].label)
            outcomes = {**outcomes, 1: dataclasses.replace(outcomes[0], index=1)}
        return [outcomes[index] for index in sorted(outcomes)]


# -- state kept between groups and runs -------------------------------------------------------


class OutcomesNotCleared(GroupFault):
    """The outcome table belongs to the executor's scheduler (its clock), not to one group:
    a smaller group after a bigger one returns the bigger one's leftovers too."""

    def __init__(self) -> None:
        super().__init__()
        self._tables: weakref.WeakKeyDictionary[Any, dict[int, BranchOutcome]] = (
            weakref.WeakKeyDictionary()
        )

    def outcomes_store(self, run: GroupRun) -> dict[int, BranchOutcome]:
        table = self._tables.setdefault(run.runner.clock, {})
        if len(table) > len(run.tasks):
            self.log.add(sorted(table))
        return table


class ReusesPreviousOutcomes(GroupFault):
    """The scheduler remembers outcomes by branch label for its executor and hands a branch
    seen before its earlier outcome instead of running it again: state leaking from one run
    to the next through the shared executor and loop."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: weakref.WeakKeyDictionary[Any, dict[str, BranchOutcome]] = (
            weakref.WeakKeyDictionary()
        )

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        memo = self._memo.setdefault(run.runner.clock, {})
        if task.label in memo:
            self.log.add(task.label)
            return dataclasses.replace(memo[task.label], index=task.index)
        outcome = await run.runner.arun(task)
        memo[task.label] = outcome
        return outcome


# -- hangs --------------------------------------------------------------------------------------


class _Escape:
    """A hang that gives up after `seconds` of wall time from the moment it first hangs, and
    never hangs again: the safety net that keeps a test from hanging when the gate does not
    cut the pipeline (`escaped` says whether it was needed)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: float | None = None
        self.escaped = False

    def left(self) -> float:
        if self.started is None:
            self.started = time.monotonic()
        return max(0.0, self.started + self.seconds - time.monotonic())

    @property
    def over(self) -> bool:
        return self.escaped or (self.started is not None and self.left() == 0.0)


class WorkersWaitForEachOther(GroupFault):
    """After its branch each worker waits until *every branch* has finished before taking
    the next (a barrier sized by branches, not workers): with fewer workers than branches
    nobody ever gets past it, and the loop has nothing left to wait for. Gives up after
    `escape_after` wall seconds (see `_Escape`)."""

    def __init__(self, escape_after: float) -> None:
        super().__init__()
        self.escape = _Escape(escape_after)

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        barrier = run.scratch.setdefault("barrier", asyncio.Barrier(len(run.tasks)))
        outcome = await run.runner.arun(task)
        if self.escape.over:
            return outcome
        if barrier.n_waiting + 1 < len(run.tasks) and "timer" not in run.scratch:
            self.log.add(task.label)
            loop = asyncio.get_running_loop()
            timer = threading.Timer(self.escape.left(), self._give_up, (loop, barrier))
            timer.daemon = True
            timer.start()
            run.scratch["timer"] = timer
        with contextlib.suppress(asyncio.BrokenBarrierError):
            await barrier.wait()
        return outcome

    def _give_up(self, loop: asyncio.AbstractEventLoop, barrier: asyncio.Barrier) -> None:
        self.escape.escaped = True
        with contextlib.suppress(RuntimeError):  # the loop may be closed by now
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(barrier.abort()))


class LockAcrossAwait(GroupFault):
    """A thread lock held across the branch's await: the second worker blocks the loop's
    thread on it while the holder can never resume (a deadlock). Gives up after
    `escape_after` wall seconds (see `_Escape`)."""

    def __init__(self, escape_after: float) -> None:
        super().__init__()
        self.escape = _Escape(escape_after)

    async def run_branch(self, run: GroupRun, task: BranchTask) -> BranchOutcome:
        if self.escape.over:
            return await run.runner.arun(task)
        lock = run.scratch.setdefault("lock", threading.Lock())
        if lock.locked():
            self.log.add(task.label)
        if not lock.acquire(timeout=self.escape.left() if lock.locked() else -1):
            self.escape.escaped = True
            return await run.runner.arun(task)
        try:
            return await run.runner.arun(task)
        finally:
            lock.release()


# -- Ctrl-C -------------------------------------------------------------------------------------


class SwallowsCancellation(GroupFault):
    """Ctrl-C does not stop the group: the crew is shielded, and a cancelled group waits for
    every branch to finish (each charged) instead of cancelling them."""

    async def wait_crew(self, run: GroupRun, crew: list[asyncio.Future[None]]) -> None:
        everyone = asyncio.gather(*crew)
        try:
            await asyncio.shield(everyone)
        except asyncio.CancelledError:
            self.log.add("cancellation swallowed")
            await everyone


def interrupt_when_starting(monkeypatch: pytest.MonkeyPatch, label: str) -> Log:
    """Ctrl-C (a real SIGINT to this process) the moment the async call of `label` starts."""
    log = Log()
    real = stub._StubGenerator.agenerate

    async def agenerate(self: Any, request: Any) -> GenerationResult:
        if request.label == label and not log:
            log.add(label)
            signal.raise_signal(signal.SIGINT)
        return await real(self, request)

    monkeypatch.setattr(stub._StubGenerator, "agenerate", agenerate)
    return log


# == the completion order, for merges that (wrongly) use it ====================================

COMPLETION = threading.local()
"""``COMPLETION.order``: branch indices of the group just scheduled, in completion order."""


class CompletionOrder(GroupFault):
    """The original policy; it leaves the completion order for the merge of the same group."""

    def collect(self, run: GroupRun, outcomes: dict[int, BranchOutcome]) -> list[BranchOutcome]:
        COMPLETION.order = [o.index for o in run.finished]
        self.log.add(COMPLETION.order)
        return super().collect(run, outcomes)


def _take_completion_order() -> list[int] | None:
    order = getattr(COMPLETION, "order", None)
    COMPLETION.order = None
    return order


Merge = Callable[[GroupSettings, list[dict[str, Any]]], dict[str, Any]]


def _reselect(merged: dict[str, Any], chosen: dict[str, Any]) -> None:
    """Make `chosen` (a parallel_results entry) the merged result's selected branch."""
    result = chosen["result"]
    for key in ("output_path", "output_url", "output_text", "extracted_prompt"):
        merged[key] = result.get(key)
    merged["metadata"] = dict(result.get("metadata") or {})
    merged["selected_branch"] = chosen["step_index"] + 1
    merged["selected_step_type"] = chosen["step_type"]


def costs_in_completion_order(real: Merge, log: Log) -> Merge:
    """`merge_results` that re-adds the branch costs in completion order (float addition is
    not associative: the group's cost can change in the last bit)."""

    def merge_results(settings: GroupSettings, results: list[dict[str, Any]]) -> dict[str, Any]:
        merged = real(settings, results)
        order = _take_completion_order()
        if order is not None:
            total = 0.0
            for index in order:
                total += float(results[index].get("cost") or 0.0)
            log.add((order, total))
            merged["cost"] = total
        return merged

    return merge_results


def first_success_by_completion(real: Merge, log: Log) -> Merge:
    """`merge_results` whose first_success is the first branch to *finish* successfully."""

    def merge_results(settings: GroupSettings, results: list[dict[str, Any]]) -> dict[str, Any]:
        merged = real(settings, results)
        order = _take_completion_order()
        if order is not None and settings.strategy is MergeStrategy.FIRST_SUCCESS:
            entries = merged["parallel_results"]
            winners = [i for i in order if entries[i]["result"].get("success")]
            if winners:
                log.add(winners[0] + 1)
                _reselect(merged, entries[winners[0]])
        return merged

    return merge_results


def ties_by_completion(real: Merge, log: Log) -> Merge:
    """`merge_results` whose best_quality breaks a tie for the best score in favour of the
    branch that finished first (instead of the lowest index)."""

    def merge_results(settings: GroupSettings, results: list[dict[str, Any]]) -> dict[str, Any]:
        merged = real(settings, results)
        order = _take_completion_order()
        if order is not None and settings.strategy is MergeStrategy.BEST_QUALITY:
            entries = merged["parallel_results"]
            ok = [i for i in order if entries[i]["result"].get("success")]
            if ok:
                best = max(groups.quality_score(entries[i]["result"]) for i in ok)
                first = next(i for i in ok if groups.quality_score(entries[i]["result"]) == best)
                log.add(first + 1)
                _reselect(merged, entries[first])
        return merged

    return merge_results


# == merge and context faults of the core ======================================================


def select_ties_to_highest_index(real: Callable[..., Any], log: Log) -> Callable[..., Any]:
    """`groups._select` whose best_quality ties go to the highest index (``>=``, not ``>``)."""

    def _select(strategy: MergeStrategy, successes: list[dict[str, Any]]) -> Any:
        if strategy is not MergeStrategy.BEST_QUALITY or not successes:
            return real(strategy, successes)
        best = successes[0]
        for entry in successes[1:]:
            if groups.quality_score(entry["result"]) >= groups.quality_score(best["result"]):
                best = entry
        log.add(best["step_index"] + 1)
        return best

    return _select


RunGroup = Callable[..., dict[str, Any]]


def shared_branch_context(real: Callable[..., Any], log: Log) -> Callable[..., Any]:
    """`ChainExecutor._run_group` that, on the concurrent scheduler, hands every branch task
    ONE context dict (each task's label written into it in turn, so all end with the last)."""

    def _run_group(
        self: ChainExecutor,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: Any,
        context: dict[str, Any],
        options: Any,
    ) -> dict[str, Any]:
        if not self.scheduler_info.concurrent:
            return real(self, step, input_data, input_type, chain_config, context, options)
        tasks = groups.branch_tasks(step, input_data, input_type, chain_config, context, options)
        shared: dict[str, Any] = dict(context)
        for task in tasks:
            shared["step_label"] = task.label
        log.add(shared["step_label"])
        tasks = [dataclasses.replace(task, context=shared) for task in tasks]
        return executor_module.run_group(
            step,
            tasks,
            self._scheduler,
            executor_module.StepRunner(self),
            context,
            self.schedule_trace,
        )

    return _run_group


def disabled_branches_run(real: Callable[..., Any], log: Log) -> Callable[..., Any]:
    """`ChainExecutor._run_group` that, on the concurrent scheduler, reads the group's branches
    without the ``enabled`` filter: a disabled branch runs (and is merged)."""

    def _run_group(
        self: ChainExecutor,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: Any,
        context: dict[str, Any],
        options: Any,
    ) -> dict[str, Any]:
        if self.scheduler_info.concurrent:
            raw = step.params.get("parallel_steps") or []
            if any(not item.get("enabled", True) for item in raw):
                log.add(context.get("step_label"))
                params = {
                    **step.params,
                    "parallel_steps": [{**item, "enabled": True} for item in raw],
                }
                step = dataclasses.replace(step, params=params)
        return real(self, step, input_data, input_type, chain_config, context, options)

    return _run_group


def group_cost_rounded(real: RunGroup, log: Log, decimals: int = 6) -> RunGroup:
    """`executor.run_group` that, on the concurrent scheduler, rounds the group's cost to
    `decimals` places (micro-dollars) while the sequential one keeps the exact float sum."""

    def run_group(
        step: Any, tasks: Any, scheduler: Any, runner: Any, context: Any, trace: Any = None
    ) -> dict[str, Any]:
        merged = real(step, tasks, scheduler, runner, context, trace)
        if scheduler.concurrent:
            rounded = round(merged["cost"], decimals)
            if rounded != merged["cost"]:
                log.add((merged["cost"], rounded))
            merged["cost"] = rounded
        return merged

    return run_group


# == the call path =============================================================================

AsyncCall = Callable[..., Any]


def timeout_ignored(real: AsyncCall, log: Log) -> AsyncCall:
    """`acall_with_timeout` (the concurrent scheduler's call path) that drops the timeout."""

    async def acall_with_timeout(generator: Any, request: Any, timeout: Any) -> GenerationResult:
        if timeout:
            log.add(request.label)
        return await real(generator, request, None)

    return acall_with_timeout


def exception_reported_as_success(real: AsyncCall, log: Log) -> AsyncCall:
    """`acall_with_timeout` that turns a generator's exception into a successful result."""

    async def acall_with_timeout(generator: Any, request: Any, timeout: Any) -> GenerationResult:
        try:
            return await real(generator, request, timeout)
        except Exception as exc:
            log.add(str(exc))
            return GenerationResult(success=True)

    return acall_with_timeout


def exception_message_lost(real: AsyncCall, log: Log) -> AsyncCall:
    """`acall_with_timeout` that turns a generator's exception into a failure without its
    message (reported as 'Unknown error')."""

    async def acall_with_timeout(generator: Any, request: Any, timeout: Any) -> GenerationResult:
        try:
            return await real(generator, request, timeout)
        except Exception as exc:
            log.add(str(exc))
            return GenerationResult(success=False)

    return acall_with_timeout


def retries_ignored(real: Callable[..., Any], log: Log) -> Callable[..., Any]:
    """`ChainExecutor._call_with_retries` that, in the async call mode (the concurrent
    scheduler's), calls once whatever ``retry_count`` says."""

    async def _call_with_retries(
        self: ChainExecutor, generator: Any, request: Any, step: PipelineStep, mode: CallMode
    ) -> Any:
        if mode is CallMode.ASYNC and step.retry_count:
            log.add(request.label)
            step = dataclasses.replace(step, retry_count=0)
        return await real(self, generator, request, step, mode)

    return _call_with_retries


# == the stub and the counters =================================================================


def file_names_from_clock(real: Callable[..., Any], log: Log) -> Callable[..., Any]:
    """`_FileGenerator._produce` that puts the executor clock's time into every media file's
    name: ``step1_t60_<hash>.png`` (every state; the time is each state's own)."""

    def _produce(self: Any, request: Any, seed: bytes, controls: Any) -> Any:
        stamp = f"t{request.clock.now():g}"
        log.add(stamp)
        request = dataclasses.replace(request, label=f"{request.label}_{stamp}")
        return real(self, request, seed, controls)

    return _produce


def sync_calls_skip_latency(log: Log) -> Callable[..., Any]:
    """`_StubGenerator.generate` (the sync call, what the sequential core uses) that never
    waits its simulated model latency."""

    def generate(self: Any, request: Any) -> GenerationResult:
        call = self._plan(request)
        if isinstance(call, GenerationResult):
            return call
        log.add(request.label)
        return self._complete(request, call)

    return generate


GROUP_COMPLETIONS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "gate_faults_group_completions", default=None
)


def count_group_completions(real: RunGroup) -> RunGroup:
    """`executor.run_group` giving each group a fresh completion counter (a context variable,
    inherited by the branch tasks and the call threads)."""

    def run_group(*args: Any, **kwargs: Any) -> dict[str, Any]:
        token = GROUP_COMPLETIONS.set([0])
        try:
            return real(*args, **kwargs)
        finally:
            GROUP_COMPLETIONS.reset(token)

    return run_group


def outputs_numbered_by_completion(real: Callable[..., Any], log: Log) -> Callable[..., Any]:
    """`_StubGenerator._complete` that writes into each branch's metadata how many calls of
    its group completed before it (``variant``): the output depends on the completion order.
    Install together with `count_group_completions`."""

    def _complete(self: Any, request: Any, call: Any) -> Any:
        counter = GROUP_COMPLETIONS.get()
        result = real(self, request, call)
        if counter is not None and result.success:
            result.metadata = {**result.metadata, "variant": counter[0]}
            log.add((request.label, counter[0]))
            counter[0] += 1
        return result

    return _complete


class ForgetfulInFlight:
    """`schedule.InFlight` whose `leave` is lost: it counts branches started, not in flight."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        pass


class UnlockedInFlight:
    """`schedule.InFlight` without its lock, with a yield point between read and write."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        now = self.now
        time.sleep(0)  # a thread switch here loses another thread's update
        self.now = now + 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        now = self.now
        time.sleep(0)
        self.now = now - 1


CALL_COUNTER: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "gate_faults_call_counter", default=None
)


def count_in_flight_on_call_threads(monkeypatch: pytest.MonkeyPatch, log: Log) -> None:
    """Move the runner's in-flight count to where the call runs, with an unlocked counter:
    each `StepRunner` gets an `UnlockedInFlight` (its own enter/leave become no-ops), hands it
    to the call through a context variable, and the stub counts around the call: on the loop
    for an awaited generator, on a worker thread for a sync one (what `--stress` makes every
    call). The group's peak is read from that counter."""
    real_init = executor_module.StepRunner.__init__
    real_run = executor_module.StepRunner._run
    real_generate = stub._StubGenerator.generate
    real_agenerate = stub._StubGenerator.agenerate

    def __init__(self: Any, executor: Any) -> None:
        real_init(self, executor)
        self.in_flight = _QuietInFlight(UnlockedInFlight())

    async def _run(self: Any, task: BranchTask, mode: CallMode) -> BranchOutcome:
        token = CALL_COUNTER.set(self.in_flight.counter)
        try:
            return await real_run(self, task, mode)
        finally:
            CALL_COUNTER.reset(token)

    def generate(self: Any, request: Any) -> GenerationResult:
        counter = CALL_COUNTER.get()
        if counter is None:
            return real_generate(self, request)
        counter.enter()
        try:
            return real_generate(self, request)
        finally:
            counter.leave()
            log.add(threading.current_thread().name)

    async def agenerate(self: Any, request: Any) -> GenerationResult:
        counter = CALL_COUNTER.get()
        if counter is None:
            return await real_agenerate(self, request)
        counter.enter()
        try:
            return await real_agenerate(self, request)
        finally:
            counter.leave()

    monkeypatch.setattr(executor_module.StepRunner, "__init__", __init__)
    monkeypatch.setattr(executor_module.StepRunner, "_run", _run)
    monkeypatch.setattr(stub._StubGenerator, "generate", generate)
    monkeypatch.setattr(stub._StubGenerator, "agenerate", agenerate)


class _QuietInFlight:
    """The runner's counter while the call counts: enter/leave do nothing, `peak` is the
    call counter's."""

    def __init__(self, counter: UnlockedInFlight) -> None:
        self.counter = counter

    def enter(self) -> None:
        pass

    def leave(self) -> None:
        pass

    @property
    def peak(self) -> int:
        return self.counter.peak


# == the public API ============================================================================

EXECUTE_SIGNATURE = "def execute(self, chain: ContentCreationChain, input_data: str, **kwargs"
EXECUTE_WITHOUT_INPUT = "def execute(self, chain: ContentCreationChain, **kwargs"


def copy_without_execute_input(package_dir: Path, destination: Path) -> Path:
    """Copy the package to ``destination/<name>`` with ``input_data`` dropped from
    `ChainExecutor.execute`'s signature; returns `destination` (a griffe search path).
    Raises `AssertionError` when the signature is no longer where this fault expects it."""
    target = destination / package_dir.name
    shutil.copytree(package_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    executor = target / "pipeline" / "executor.py"
    source = executor.read_text(encoding="utf-8")
    assert source.count(EXECUTE_SIGNATURE) == 1, "ChainExecutor.execute changed; update the fault"
    executor.write_text(source.replace(EXECUTE_SIGNATURE, EXECUTE_WITHOUT_INPUT), encoding="utf-8")
    return destination
