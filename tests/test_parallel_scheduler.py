"""The concurrent scheduler on its own: `parallel.AsyncScheduler` and the clock it runs on.

Outputs are defined by the core (`pipeline.groups`) and covered by the group-semantics and
golden tests. These tests pin down *when* branches run: greedy list scheduling onto
`max_workers` workers, exactly, on the virtual clock (where a 60 s branch costs no wall time);
real concurrency on the real clock; one event loop per scheduler, reused until `close()`;
groups run from code that already has a running loop; sync generators on worker threads; and
Ctrl-C (cancel what is in flight, start nothing new).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.clock import RealClock, VirtualClock
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry
from ai_content_pipeline.pipeline.chain import ContentCreationChain, PipelineStep
from ai_content_pipeline.pipeline.executor import ChainExecutor, SchedulerInfo
from ai_content_pipeline.pipeline.groups import (
    BranchesInterrupted,
    BranchOutcome,
    BranchTask,
    SequentialScheduler,
    branch_tasks,
)
from ai_content_pipeline.pipeline.schedule import InFlight, ScheduleTrace
from ai_content_pipeline.pipeline.schedulers import load_scheduler, registered_names
from ai_content_pipeline.utils.file_manager import FileManager
from harness.timing import makespan
from parallel import AsyncScheduler, ParallelExtension

pytestmark = pytest.mark.requires_parallel

WALL_LIMIT = 2.0  # seconds of wall time a virtual-clock test may take, on a loaded machine


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "0")
    monkeypatch.delenv("AICP_STUB_JITTER_SEED", raising=False)
    monkeypatch.delenv("PIPELINE_PARALLEL_ENABLED", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def step(type_: str, model: str, **params: Any) -> dict[str, Any]:
    return {"type": type_, "model": model, "params": params}


def group(branches: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    return step("parallel_group", "parallel", parallel_steps=branches, **params)


def make_tasks(count: int) -> list[BranchTask]:
    """`count` text_to_image branch tasks of one group labelled ``g``."""
    group_step = PipelineStep.from_dict(
        group([step("text_to_image", "flux_schnell", n=i) for i in range(count)])
    )
    return branch_tasks(group_step, "a prompt", "text", {}, {"step_label": "g"}, {})


def greedy(latencies: Sequence[float], workers: int) -> list[tuple[float, float]]:
    """(start, end) of each branch under greedy list scheduling in declaration order."""
    free = [0.0] * min(max(1, workers), len(latencies))
    spans = []
    for latency in latencies:
        start = heapq.heappop(free)
        spans.append((start, start + latency))
        heapq.heappush(free, start + latency)
    return spans


class TimedRunner:
    """A `BranchRunner` whose branch i waits ``seconds[i]`` on the running loop.

    It notes which loop and thread ran each branch; a cancelled wait gives an interrupted
    outcome, as the core's `StepRunner` does. `on_start` runs as a branch starts.
    """

    def __init__(
        self,
        clock: Any,
        seconds: Sequence[float],
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        self.clock = clock
        self.in_flight = InFlight()
        self.seconds = list(seconds)
        self.on_start = on_start
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.threads: set[str] = set()
        self.started: list[int] = []

    def run(self, task: BranchTask) -> BranchOutcome:  # the sequential scheduler's way
        self.in_flight.enter()
        began = self.clock.now()
        try:
            self.clock.sleep(self.seconds[task.index])
        finally:
            self.in_flight.leave()
        return BranchOutcome(task.index, {"success": True}, {}, began, self.clock.now())

    async def arun(self, task: BranchTask) -> BranchOutcome:
        self.loops.append(asyncio.get_running_loop())
        self.threads.add(threading.current_thread().name)
        self.started.append(task.index)
        self.in_flight.enter()
        began = self.clock.now()
        try:
            if self.on_start is not None:
                self.on_start(task.index)
            await asyncio.sleep(self.seconds[task.index])
        except asyncio.CancelledError:
            result = {"success": False, "error": "cancelled"}
            return BranchOutcome(task.index, result, {}, began, self.clock.now(), True)
        finally:
            self.in_flight.leave()
        return BranchOutcome(task.index, {"success": True}, {}, began, self.clock.now())


# ---------------------------------------------------------------------------------------------
# fake generators for executor-level runs
# ---------------------------------------------------------------------------------------------


class SyncWaiter:
    """text_to_image without `agenerate`: waits ``params.seconds`` on the request's clock,
    so an async scheduler must run it on a worker thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: set[str] = set()
        self.current = 0
        self.peak = 0

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.current += 1
            self.peak = max(self.peak, self.current)
        try:
            seconds = float(request.params.get("seconds", 0))
            if request.clock.sleep(seconds, request.cancelled):
                return GenerationResult(success=False, error="cancelled")
        finally:
            with self.lock:
                self.current -= 1
        return self.result(request)

    @staticmethod
    def result(request: GenerationRequest) -> GenerationResult:
        params = request.params
        return GenerationResult(
            success=True,
            output_url=f"https://example.invalid/{request.label}.png",
            cost=float(params.get("cost", 0.01)),
            metadata={"quality_score": params["q"]} if "q" in params else {},
        )


class AsyncWaiter(SyncWaiter):
    """The same, awaitable: waits with ``asyncio.sleep`` on the scheduler's loop."""

    def __init__(self) -> None:
        super().__init__()
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        self.loops.append(asyncio.get_running_loop())
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.current += 1
            self.peak = max(self.peak, self.current)
        try:
            await asyncio.sleep(float(request.params.get("seconds", 0)))
        finally:
            with self.lock:
                self.current -= 1
        return self.result(request)


def executor_with(
    tmp_path: Path,
    generator: Any,
    *,
    clock: Any = None,
    scheduler: str = "async",
    models: Sequence[str] = ("flux_schnell",),
) -> ChainExecutor:
    registry = GeneratorRegistry("fake")
    for model in models:
        registry.register("text_to_image", model, generator)
    executor = ChainExecutor(
        FileManager(str(tmp_path)), generators=registry, clock=clock, scheduler=scheduler
    )
    executor.schedule_trace = ScheduleTrace()
    return executor


def waiting_group(seconds: Sequence[float], workers: int, **params: Any) -> dict[str, Any]:
    branches = [
        step("text_to_image", "flux_schnell", seconds=s, n=i) for i, s in enumerate(seconds)
    ]
    return {"name": "sched", "steps": [group(branches, max_workers=workers, **params)]}


def execute(executor: ChainExecutor, config: dict[str, Any], text: str = "a prompt") -> Any:
    return executor.execute(ContentCreationChain.from_config(config), text)


def execute_timed(executor: ChainExecutor, config: dict[str, Any]) -> tuple[Any, float]:
    """Run `config` once, then close the executor: the result and the wall seconds it took."""
    try:
        started = time.perf_counter()
        result = execute(executor, config)
        return result, time.perf_counter() - started
    finally:
        executor.close()


# ---------------------------------------------------------------------------------------------
# registration and identity
# ---------------------------------------------------------------------------------------------


def test_async_is_registered_by_name_and_built_on_the_given_clock() -> None:
    assert registered_names()[0] == "sequential"
    assert "async" in registered_names()
    virtual = VirtualClock()
    scheduler = load_scheduler("async", virtual)
    assert isinstance(scheduler, AsyncScheduler)
    assert scheduler.clock is virtual
    assert (scheduler.name, scheduler.concurrent) == ("async", True)
    sequential = load_scheduler("sequential", virtual)
    assert isinstance(sequential, SequentialScheduler)
    assert (sequential.name, sequential.concurrent) == ("sequential", False)
    assert isinstance(AsyncScheduler().clock, RealClock)  # no clock given: real time


def test_an_unregistered_name_falls_back_to_sequential(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ai_content_pipeline"):
        scheduler = load_scheduler("thread_pool", RealClock())
    assert isinstance(scheduler, SequentialScheduler)
    assert "'thread_pool' is not registered" in caplog.text


def test_executor_reports_the_scheduler_and_clock_it_runs(tmp_path: Path) -> None:
    virtual = VirtualClock()
    executor = ChainExecutor(FileManager(str(tmp_path)), clock=virtual, scheduler="async")
    try:
        assert executor.clock is virtual
        assert executor.scheduler_name == "async"
        assert executor.scheduler_info == SchedulerInfo(
            name="async",
            concurrent=True,
            clock="virtual",
            flag_enabled=False,  # the flag is off; the keyword chose the scheduler
            extension_loaded=True,
        )
        assert executor._parallel_extension.enabled is True
    finally:
        executor.close()


def test_an_empty_group_of_tasks_needs_no_loop() -> None:
    scheduler = AsyncScheduler(VirtualClock())
    assert scheduler.run_branches([], 3, TimedRunner(scheduler.clock, [])) == []
    assert scheduler._loop is None
    scheduler.close()


# ---------------------------------------------------------------------------------------------
# the virtual clock: exact schedules, no wall time
# ---------------------------------------------------------------------------------------------


def test_a_60_s_branch_costs_no_wall_time() -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, [60.0])
    try:
        started = time.perf_counter()
        (outcome,) = scheduler.run_branches(make_tasks(1), 3, runner)
        took = time.perf_counter() - started
    finally:
        scheduler.close()
    assert (outcome.started, outcome.ended) == (0.0, 60.0)
    assert virtual.now() == 60.0
    assert took < WALL_LIMIT


@pytest.mark.parametrize(
    ("count", "workers"),
    [(1, 1), (4, 1), (4, 2), (5, 2), (6, 3), (7, 3), (10, 4), (8, 8), (3, 10), (12, 5)],
)
def test_n_branches_of_20_s_take_the_greedy_makespan_exactly(count: int, workers: int) -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, [20.0] * count)
    try:
        outcomes = scheduler.run_branches(make_tasks(count), workers, runner)
    finally:
        scheduler.close()
    assert [o.index for o in outcomes] == list(range(count))
    assert virtual.now() == 20.0 * math.ceil(count / workers)
    for o in outcomes:  # each wave of `workers` branches starts when the previous one ends
        wave = o.index // workers
        assert (o.started, o.ended) == (20.0 * wave, 20.0 * (wave + 1))
    assert runner.in_flight.peak == min(workers, count)
    assert runner.started == list(range(count))  # started in declaration order


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_mixed_latencies_follow_greedy_list_scheduling(workers: int) -> None:
    latencies = [7.0, 3.0, 11.0, 2.0, 5.0, 13.0, 1.0, 4.0]
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, latencies)
    try:
        outcomes = scheduler.run_branches(make_tasks(len(latencies)), workers, runner)
    finally:
        scheduler.close()
    assert [(o.started, o.ended) for o in outcomes] == greedy(latencies, workers)
    assert virtual.now() == makespan(latencies, workers)  # the harness's timing model


def test_outcomes_come_back_in_declaration_order_whatever_finishes_first() -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, [50.0, 40.0, 30.0, 20.0, 10.0])
    try:
        outcomes = scheduler.run_branches(make_tasks(5), 5, runner)
    finally:
        scheduler.close()
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert [o.ended for o in outcomes] == [50.0, 40.0, 30.0, 20.0, 10.0]


@pytest.mark.parametrize(("workers", "peak", "total"), [(0, 1, 30.0), (-2, 1, 30.0), (64, 3, 10.0)])
def test_max_workers_is_clamped_to_one_and_to_the_branch_count(
    workers: int, peak: int, total: float
) -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, [10.0] * 3)
    try:
        scheduler.run_branches(make_tasks(3), workers, runner)
    finally:
        scheduler.close()
    assert runner.in_flight.peak == peak
    assert virtual.now() == total


def test_executor_groups_on_the_virtual_clock_are_exact(tmp_path: Path) -> None:
    virtual = VirtualClock()
    waiter = AsyncWaiter()
    executor = executor_with(tmp_path, waiter, clock=virtual)
    result, took = execute_timed(executor, waiting_group([20.0] * 5, workers=2))
    assert result.success, result.error
    assert result.total_time == 60.0  # ceil(5 / 2) waves of 20 s
    (schedule,) = executor.schedule_trace.groups
    assert [(s.start, s.end) for s in schedule.branches] == greedy([20.0] * 5, 2)
    assert (schedule.peak_in_flight, schedule.makespan) == (2, 60.0)
    assert waiter.peak == 2
    assert result.step_results[0]["processing_time"] == 60.0  # measured on the clock
    assert took < WALL_LIMIT


def test_a_sync_generator_sleeping_on_the_clock_from_a_thread_is_waited_for(
    tmp_path: Path,
) -> None:
    """Under the virtual loop a sync generator runs on a worker thread; its
    `request.clock.sleep` becomes a timer on the loop, so the schedule is still exact."""
    virtual = VirtualClock()
    waiter = SyncWaiter()
    executor = executor_with(tmp_path, waiter, clock=virtual)
    latencies = [20.0, 5.0, 20.0, 12.0, 20.0]
    result, took = execute_timed(executor, waiting_group(latencies, workers=2))
    assert result.success, result.error
    (schedule,) = executor.schedule_trace.groups
    assert [(s.start, s.end) for s in schedule.branches] == greedy(latencies, 2)
    assert result.total_time == makespan(latencies, 2) == 45.0
    assert waiter.peak == 2
    assert threading.current_thread().name not in waiter.threads  # on worker threads
    assert all(name.startswith("aicp-call") for name in waiter.threads), waiter.threads
    assert took < WALL_LIMIT


def test_sync_and_async_generators_share_one_time_line(tmp_path: Path) -> None:
    virtual = VirtualClock()
    sync, awaitable = SyncWaiter(), AsyncWaiter()
    registry = GeneratorRegistry("fake")
    registry.register("text_to_image", "flux_schnell", sync)
    registry.register("text_to_image", "imagen4", awaitable)
    executor = ChainExecutor(
        FileManager(str(tmp_path)), generators=registry, clock=virtual, scheduler="async"
    )
    executor.schedule_trace = ScheduleTrace()
    branches = [
        step("text_to_image", "flux_schnell", seconds=30),
        step("text_to_image", "imagen4", seconds=10),
        step("text_to_image", "imagen4", seconds=10, n=1),
        step("text_to_image", "flux_schnell", seconds=15, n=2),
    ]
    try:
        result = execute(executor, {"name": "mixed", "steps": [group(branches, max_workers=2)]})
    finally:
        executor.close()
    assert result.success, result.error
    (schedule,) = executor.schedule_trace.groups
    assert [(s.start, s.end) for s in schedule.branches] == greedy([30, 10, 10, 15], 2)
    assert schedule.makespan == 35.0


def test_a_hung_sync_call_times_out_at_exactly_its_timeout(tmp_path: Path) -> None:
    virtual = VirtualClock()
    executor = executor_with(tmp_path, SyncWaiter(), clock=virtual)
    branches = [
        step("text_to_image", "flux_schnell", seconds=3),
        step("text_to_image", "flux_schnell", seconds=3600, timeout=7.5),
    ]
    result, took = execute_timed(executor, {"name": "hung", "steps": [group(branches)]})
    assert result.success, result.error
    hung = result.step_results[0]["parallel_results"][1]["result"]
    assert (hung["success"], hung["error"], hung["cost"]) == (False, "Timed out after 7.5 s", 0.0)
    (schedule,) = executor.schedule_trace.groups
    assert [(s.start, s.end) for s in schedule.branches] == [(0.0, 3.0), (0.0, 7.5)]
    assert took < WALL_LIMIT


@pytest.mark.parametrize("generator", [SyncWaiter, AsyncWaiter], ids=["sync", "async"])
def test_a_call_ending_exactly_at_its_timeout_is_judged_alike_by_both_schedulers(
    tmp_path: Path, generator: type
) -> None:
    """The boundary case (latency == timeout) must not depend on the scheduler."""
    outcomes = {}
    for name in ("sequential", "async"):
        executor = executor_with(tmp_path / name, generator(), clock=VirtualClock(), scheduler=name)
        branches = [step("text_to_image", "flux_schnell", seconds=5, timeout=5)] * 2
        try:
            result = execute(executor, {"name": "edge", "steps": [group(branches)]})
        finally:
            executor.close()
        outcomes[name] = [
            (e["result"]["success"], e["result"]["error"])
            for e in result.step_results[0]["parallel_results"]
        ]
    assert outcomes["sequential"] == outcomes["async"]


# ---------------------------------------------------------------------------------------------
# the real clock: really concurrent
# ---------------------------------------------------------------------------------------------


def test_branches_run_concurrently_under_the_real_clock() -> None:
    real = RealClock()
    scheduler = AsyncScheduler(real)
    runner = TimedRunner(real, [0.1] * 6)
    try:
        started = time.perf_counter()
        outcomes = scheduler.run_branches(make_tasks(6), 6, runner)
        took = time.perf_counter() - started
    finally:
        scheduler.close()
    assert runner.in_flight.peak == 6
    assert took < 0.35, f"six 0.1 s branches took {took:.2f} s"
    assert all(o.ended - o.started >= 0.09 for o in outcomes)
    assert runner.threads == {threading.current_thread().name}  # tasks, not threads


def test_max_workers_is_respected_under_the_real_clock(tmp_path: Path) -> None:
    executor = executor_with(tmp_path, AsyncWaiter(), clock=RealClock())
    waiter = executor.generators.get("text_to_image", "flux_schnell")
    try:
        result = execute(executor, waiting_group([0.03] * 6, workers=2))
    finally:
        executor.close()
    assert result.success, result.error
    assert waiter.peak == 2
    assert executor.schedule_trace.groups[0].peak_in_flight == 2


def test_sync_generators_run_concurrently_on_threads_under_the_real_clock(
    tmp_path: Path,
) -> None:
    waiter = SyncWaiter()
    executor = executor_with(tmp_path, waiter, clock=RealClock())
    result, took = execute_timed(executor, waiting_group([0.1] * 4, workers=4))
    assert result.success, result.error
    assert waiter.peak == 4
    assert len(waiter.threads) == 4
    assert threading.current_thread().name not in waiter.threads
    assert took < 0.35, f"four 0.1 s sync branches took {took:.2f} s"


# ---------------------------------------------------------------------------------------------
# one loop per scheduler
# ---------------------------------------------------------------------------------------------


def test_one_loop_is_kept_between_groups_until_close() -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, [1.0] * 3)
    scheduler.run_branches(make_tasks(3), 3, runner)
    scheduler.run_branches(make_tasks(3), 2, runner)
    first = runner.loops[0]
    assert all(loop is first for loop in runner.loops)
    assert not first.is_closed()

    scheduler.close()
    assert first.is_closed()
    scheduler.close()  # twice is fine

    runner.loops.clear()
    scheduler.run_branches(make_tasks(2), 2, runner)  # still usable: a fresh loop
    assert runner.loops[0] is not first and not runner.loops[0].is_closed()
    assert runner.loops[0].time() == virtual.now()  # made by the same clock
    scheduler.close()
    assert runner.loops[0].is_closed()


def test_an_executor_reuses_its_loop_across_runs_and_close_releases_it(tmp_path: Path) -> None:
    waiter = AsyncWaiter()
    executor = executor_with(tmp_path, waiter, clock=VirtualClock())
    for _ in range(2):  # two runs through one executor, one group of two branches each
        result = execute(executor, waiting_group([1.0, 2.0], workers=2))
        assert result.success, result.error
    assert len(waiter.loops) == 4
    assert len({id(loop) for loop in waiter.loops}) == 1
    executor.close()
    assert waiter.loops[0].is_closed()

    other_waiter = AsyncWaiter()
    other = executor_with(tmp_path / "other", other_waiter, clock=VirtualClock())
    try:
        assert execute(other, waiting_group([1.0], workers=1)).success
    finally:
        other.close()
    assert other_waiter.loops[0] is not waiter.loops[0]  # one loop per executor


def test_parallel_extension_front_runs_concurrently_and_closes(tmp_path: Path) -> None:
    virtual = VirtualClock()
    executor = executor_with(tmp_path, AsyncWaiter(), clock=virtual, scheduler="sequential")
    extension = ParallelExtension(executor)
    assert extension.enabled is False  # the executor decides; this one runs sequentially
    group_step = PipelineStep.from_dict(waiting_group([10.0, 10.0, 10.0], workers=3)["steps"][0])
    context = {"step_label": "step1"}
    result = extension.execute_parallel_group(group_step, "a prompt", "text", {}, context)
    assert result["successful_steps"] == 3
    assert virtual.now() == 10.0  # concurrently, although the executor is sequential
    sequential = executor._execute_step(group_step, "a prompt", "text", {}, {"step_label": "step1"})
    assert virtual.now() == 40.0
    assert without_times(result) == without_times(sequential)
    loop = extension._scheduler._loop
    extension.close()
    assert loop is not None and loop.is_closed()
    executor.close()


# ---------------------------------------------------------------------------------------------
# called from code that already runs an event loop
# ---------------------------------------------------------------------------------------------


def test_run_branches_works_inside_a_running_event_loop() -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(virtual, [20.0] * 4)

    async def notebook_cell() -> tuple[list[BranchOutcome], asyncio.AbstractEventLoop]:
        return scheduler.run_branches(make_tasks(4), 2, runner), asyncio.get_running_loop()

    try:
        outcomes, outer = asyncio.run(notebook_cell())
    finally:
        scheduler.close()
    assert [(o.started, o.ended) for o in outcomes] == greedy([20.0] * 4, 2)
    assert all(loop is not outer for loop in runner.loops)
    assert runner.threads == {"aicp-group-loop"}


def test_an_executor_runs_groups_from_inside_a_running_event_loop(tmp_path: Path) -> None:
    waiter = AsyncWaiter()
    executor = executor_with(tmp_path, waiter, clock=VirtualClock())

    async def app() -> Any:
        first = execute(executor, waiting_group([20.0] * 3, workers=3))
        second = execute(executor, waiting_group([20.0] * 3, workers=1))
        return first, second

    try:
        first, second = asyncio.run(app())
    finally:
        executor.close()
    assert first.success and second.success, (first.error, second.error)
    assert (first.total_time, second.total_time) == (20.0, 60.0)
    assert [g.peak_in_flight for g in executor.schedule_trace.groups] == [3, 1]


# ---------------------------------------------------------------------------------------------
# two threads, one scheduler
# ---------------------------------------------------------------------------------------------


def test_two_threads_running_groups_on_one_scheduler_both_finish_correctly() -> None:
    real = RealClock()
    scheduler = AsyncScheduler(real)
    outcomes: dict[str, list[list[int]]] = {"a": [], "b": []}
    failures: list[BaseException] = []
    runners = {name: TimedRunner(real, [0.01] * 6) for name in outcomes}

    def work(name: str) -> None:
        try:
            for _ in range(5):
                got = scheduler.run_branches(make_tasks(6), 4, runners[name])
                outcomes[name].append([o.index for o in got])
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert not any(thread.is_alive() for thread in threads), "a group hung"
        assert failures == []
        for name in outcomes:
            assert outcomes[name] == [list(range(6))] * 5
            assert runners[name].in_flight.peak <= 4
        loops = {id(loop) for runner in runners.values() for loop in runner.loops}
        assert len(loops) >= 1
    finally:
        scheduler.close()
    # a group that found the shared loop busy ran on a loop of its own, closed afterwards
    own = [
        loop for runner in runners.values() for loop in runner.loops if loop is not scheduler._loop
    ]
    assert all(loop.is_closed() for loop in own)


# ---------------------------------------------------------------------------------------------
# cancellation
# ---------------------------------------------------------------------------------------------


def test_an_interrupted_branch_stops_the_group_before_any_new_branch_starts() -> None:
    """A runner reporting an interrupted outcome (its call was stopped) ends the group: no
    waiting branch starts, and the outcomes so far come back in `BranchesInterrupted`."""
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)

    class StopsAtTwo(TimedRunner):
        async def arun(self, task: BranchTask) -> BranchOutcome:
            outcome = await super().arun(task)
            if task.index == 2:
                return BranchOutcome(task.index, {"success": False}, {}, 0.0, 0.0, True)
            return outcome

    runner = StopsAtTwo(virtual, [10.0, 30.0, 5.0, 1.0, 1.0, 1.0])
    try:
        with pytest.raises(BranchesInterrupted) as stop:
            scheduler.run_branches(make_tasks(6), 2, runner)
    finally:
        scheduler.close()
    got = {o.index: o for o in stop.value.outcomes}
    assert sorted(got) == [0, 1, 2]
    assert got[2].interrupted and not got[0].interrupted
    assert runner.started == [0, 1, 2]  # 3, 4 and 5 never started
    assert isinstance(stop.value, KeyboardInterrupt)


def sigint() -> None:
    signal.raise_signal(signal.SIGINT)


def test_ctrl_c_cancels_what_is_in_flight_and_starts_nothing_more() -> None:
    """On the virtual clock, Ctrl-C at exactly t=10 (when branch 3 starts): branch 1 has
    finished, branches 2 and 3 are cancelled then and there, branch 4 never starts."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    runner = TimedRunner(
        virtual, [10.0, 30.0, 20.0, 20.0], on_start=lambda i: sigint() if i == 2 else None
    )
    try:
        with pytest.raises(BranchesInterrupted) as stop:
            scheduler.run_branches(make_tasks(4), 2, runner)
    finally:
        scheduler.close()
    got = {o.index: o for o in stop.value.outcomes}
    assert sorted(got) == [0, 1, 2]
    assert not got[0].interrupted and got[0].ended == 10.0
    assert got[1].interrupted and got[2].interrupted
    assert got[1].ended == got[2].ended == 10.0  # stopped at once, not at 30 or 40
    assert runner.started == [0, 1, 2]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


MAIN = threading.main_thread().ident


def test_ctrl_c_under_the_real_clock_returns_promptly() -> None:
    real = RealClock()
    scheduler = AsyncScheduler(real)
    runner = TimedRunner(real, [5.0] * 6)
    timer = threading.Timer(0.05, lambda: signal.pthread_kill(MAIN, signal.SIGINT))
    try:
        started = time.perf_counter()
        timer.start()
        with pytest.raises(BranchesInterrupted) as stop:
            scheduler.run_branches(make_tasks(6), 3, runner)
        took = time.perf_counter() - started
    finally:
        timer.cancel()
        scheduler.close()
    assert took < WALL_LIMIT  # not the 5 s the branches would have taken
    assert [o.index for o in stop.value.outcomes] == [0, 1, 2]
    assert all(o.interrupted for o in stop.value.outcomes)
    assert runner.started == [0, 1, 2]


def test_a_second_ctrl_c_raises_at_once() -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)

    def twice(index: int) -> None:
        if index == 1:
            sigint()  # the first cancels the group...
            sigint()  # ...the second does not wait for the cancellation to finish

    runner = TimedRunner(virtual, [10.0, 10.0, 10.0], on_start=twice)
    try:
        with pytest.raises(KeyboardInterrupt) as stop:
            scheduler.run_branches(make_tasks(3), 2, runner)
    finally:
        scheduler.close()
    assert not isinstance(stop.value, BranchesInterrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_is_left_to_a_handler_someone_else_installed() -> None:
    virtual = VirtualClock()
    scheduler = AsyncScheduler(virtual)
    heard: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: heard.append(signum))
    runner = TimedRunner(virtual, [10.0] * 3, on_start=lambda i: sigint() if i == 1 else None)
    try:
        outcomes = scheduler.run_branches(make_tasks(3), 3, runner)
    finally:
        signal.signal(signal.SIGINT, previous)
        scheduler.close()
    assert heard == [signal.SIGINT]
    assert [o.interrupted for o in outcomes] == [False, False, False]  # the group went on


def test_a_cancelled_async_call_is_not_charged_and_the_report_accounts_for_every_branch(
    tmp_path: Path,
) -> None:
    """Executor level, virtual clock: Ctrl-C as branch 3 starts (t=10)."""
    virtual = VirtualClock()

    class InterruptsOnThird(AsyncWaiter):
        async def agenerate(self, request: GenerationRequest) -> GenerationResult:
            if request.label.endswith("branch3"):
                sigint()
            return await super().agenerate(request)

    executor = executor_with(tmp_path, InterruptsOnThird(), clock=virtual)
    config = waiting_group([10.0, 30.0, 20.0, 20.0], workers=2, merge_strategy="collect_all")
    try:
        with pytest.raises(KeyboardInterrupt):
            execute(executor, config)
    finally:
        executor.close()
    (record,) = _report(tmp_path)["step_execution_details"]
    branches = record["parallel_branches"]
    assert [b["status"] for b in branches] == ["success", "failed", "failed", "failed"]
    assert [b["error"] for b in branches] == [
        None,
        "Execution interrupted by user",
        "Execution interrupted by user",
        "not started: execution interrupted by user",
    ]
    assert [b["cost"] for b in branches] == [0.01, 0.0, 0.0, 0.0]
    assert record["cost"] == 0.01
    assert virtual.now() == 10.0  # nothing waited for the cancelled calls' latencies


def _report(base: Path) -> dict[str, Any]:
    import json

    (path,) = sorted((base / "output" / "reports").glob("*_report.json"))
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# ties and merges: the completion order changes nothing
# ---------------------------------------------------------------------------------------------


def without_times(value: Any) -> Any:
    """`value` without the measured ``processing_time`` / ``total_time`` keys, at any depth."""
    if isinstance(value, dict):
        return {
            k: without_times(v)
            for k, v in value.items()
            if k not in ("processing_time", "total_time")
        }
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


@pytest.mark.parametrize("strategy", ["collect_all", "first_success", "best_quality"])
def test_merge_and_ties_are_the_sequential_ones_whatever_the_completion_order(
    tmp_path: Path, strategy: str
) -> None:
    # Branch 1 is the slowest; branches 2 and 4 tie on the best score and 4 finishes first.
    branches = [
        step("text_to_image", "flux_schnell", seconds=40, q=0.1, cost=0.1),
        step("text_to_image", "flux_schnell", seconds=30, q=0.9, cost=0.2),
        step("text_to_image", "flux_schnell", seconds=20, q=0.5, cost=0.3),
        step("text_to_image", "flux_schnell", seconds=10, q=0.9, cost=0.4),
    ]
    config = {"name": "ties", "steps": [group(branches, max_workers=4, merge_strategy=strategy)]}
    results = {}
    for name in ("sequential", "async"):
        executor = executor_with(
            tmp_path / name, AsyncWaiter(), clock=VirtualClock(), scheduler=name
        )
        try:
            result = execute(executor, config)
        finally:
            executor.close()
        assert result.success, result.error
        ends = [s.end for s in executor.schedule_trace.groups[0].branches]
        results[name] = (without_times(result.step_results[0]), ends)
    (sequential, seq_ends), (concurrent, async_ends) = results["sequential"], results["async"]
    assert seq_ends == [40.0, 70.0, 90.0, 100.0]
    assert async_ends == [40.0, 30.0, 20.0, 10.0]  # precondition: the reverse order
    assert concurrent == sequential
    assert concurrent["selected_branch"] == (2 if strategy == "best_quality" else 1)
    assert concurrent["cost"] == ((0.1 + 0.2) + 0.3) + 0.4  # declaration order
