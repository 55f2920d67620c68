"""The concurrent scheduler on its own: when pool threads join a group, and what it remembers.

Outputs are covered by the group-semantics and golden tests; these tests pin down the
scheduling decisions that only show in which thread ran a branch and when it started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import parallel.history as history_module
import parallel.scheduler as scheduler_module
from ai_content_pipeline.pipeline.chain import PipelineStep, StepType
from ai_content_pipeline.pipeline.groups import BranchTask
from parallel.history import GroupHistory, group_key
from parallel.pool import THREAD_PREFIX, BranchPool, Latch
from parallel.scheduler import ThreadPoolScheduler

pytestmark = pytest.mark.requires_parallel


class Recorder:
    """Branch bodies that note when (after `origin`) and on which thread they started."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.origin = 0.0
        self.started: dict[int, tuple[float, str]] = {}

    def body(self, index: int) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            self.started[index] = (
                time.perf_counter() - self.origin,
                threading.current_thread().name,
            )
            if self.hold:
                time.sleep(self.hold)
            return {"success": True, "index": index}

        return run

    def tasks(self, count: int, model: str = "flux_schnell") -> list[BranchTask]:
        step = PipelineStep(StepType.TEXT_TO_IMAGE, model, {})
        return [BranchTask(i, step, f"g_branch{i + 1}", self.body(i)) for i in range(count)]


@pytest.fixture
def pool() -> Any:
    own = BranchPool()
    yield own
    own.close()


def run_group(
    scheduler: ThreadPoolScheduler, recorder: Recorder, count: int
) -> list[dict[str, Any]]:
    recorder.started.clear()
    recorder.origin = time.perf_counter()
    return scheduler.run_branches(recorder.tasks(count), max_workers=count)


def test_history_keeps_the_median_branch_time_per_kind_of_group() -> None:
    history = GroupHistory()
    slow, fast = ("a",), ("b",)
    history.record(slow, [0.001, 0.005, 0.004])
    history.record(fast, [0.0001])
    assert history.median_branch_seconds(slow) == 0.004
    assert history.median_branch_seconds(fast) == 0.0001
    assert history.median_branch_seconds(("never seen",)) is None
    history.record(slow, [0.0002, 0.0001])  # the latest run counts, not the first
    assert history.median_branch_seconds(slow) == pytest.approx(0.00015)
    history.record(fast, [])  # a group that ran nothing teaches nothing
    assert history.median_branch_seconds(fast) == 0.0001


def test_history_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_module, "HISTORY_LIMIT", 2)
    history = GroupHistory()
    history.record(("a",), [1.0])
    history.record(("b",), [1.0])
    history.record(("a",), [1.0])  # a known kind never evicts
    assert history.median_branch_seconds(("b",)) == 1.0
    history.record(("c",), [1.0])
    assert history.median_branch_seconds(("a",)) is None
    assert history.median_branch_seconds(("c",)) == 1.0


def test_group_key_is_the_branch_types_and_models_in_order() -> None:
    recorder = Recorder(hold=0)
    assert group_key(recorder.tasks(2)) == (
        ("text_to_image", "flux_schnell"),
        ("text_to_image", "flux_schnell"),
    )
    assert group_key(recorder.tasks(2)) != group_key(recorder.tasks(3))
    assert group_key(recorder.tasks(2)) != group_key(recorder.tasks(2, model="imagen4"))


def test_a_new_slow_group_waits_the_grace_then_a_repeat_starts_helpers_at_once(
    pool: BranchPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    grace = 0.2
    monkeypatch.setattr(scheduler_module, "HELPER_GRACE_SECONDS", grace)
    scheduler = ThreadPoolScheduler(pool, GroupHistory())
    recorder = Recorder(hold=0.3)

    first = run_group(scheduler, recorder, 2)
    assert [r["index"] for r in first] == [0, 1]
    helper_start, helper_thread = recorder.started[1]
    assert helper_start >= grace  # nothing known yet: the pool thread waited the grace
    assert helper_thread.startswith(THREAD_PREFIX)

    second = run_group(scheduler, recorder, 2)
    assert [r["index"] for r in second] == [0, 1]
    helper_start, helper_thread = recorder.started[1]
    assert helper_start < grace  # the history said these branches take 0.3 s
    assert helper_thread.startswith(THREAD_PREFIX)


def test_instant_branches_stay_on_the_calling_thread(
    pool: BranchPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler_module, "HELPER_GRACE_SECONDS", 5.0)  # no scheduling luck
    scheduler = ThreadPoolScheduler(pool, GroupHistory())
    recorder = Recorder(hold=0)
    for _ in range(3):  # the history keeps saying "instant": no run hands branches out
        results = run_group(scheduler, recorder, 8)
        assert [r["index"] for r in results] == list(range(8))
        threads = {name for _, name in recorder.started.values()}
        assert threads == {threading.current_thread().name}


def test_a_known_instant_group_wakes_no_pool_thread(pool: BranchPool) -> None:
    history = GroupHistory()
    recorder = Recorder(hold=0)
    history.record(group_key(recorder.tasks(6)), [0.00001])  # it ran before, instantly
    scheduler = ThreadPoolScheduler(pool, history)
    for _ in range(3):
        results = run_group(scheduler, recorder, 6)
        assert [r["index"] for r in results] == list(range(6))
    assert pool.thread_count == 0  # not even a scout was started


def test_a_known_instant_group_that_turns_slow_brings_helpers_in(
    pool: BranchPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    grace = 0.05
    monkeypatch.setattr(scheduler_module, "HELPER_GRACE_SECONDS", grace)
    history = GroupHistory()
    recorder = Recorder(hold=0.1)  # slower than the grace, this time
    history.record(group_key(recorder.tasks(4)), [0.00001])
    scheduler = ThreadPoolScheduler(pool, history)

    results = run_group(scheduler, recorder, 4)
    assert [r["index"] for r in results] == list(range(4))
    caller = threading.current_thread().name
    assert recorder.started[0][1] == caller  # the caller found out after its first branch
    later = [recorder.started[i] for i in (1, 2, 3)]
    assert any(name.startswith(THREAD_PREFIX) for _, name in later)
    assert max(start for start, _ in later) < 0.1 + 0.1  # the rest ran side by side
    assert history.median_branch_seconds(group_key(recorder.tasks(4))) >= grace


def test_schedulers_of_one_extension_share_what_they_learnt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from parallel import ParallelExtension

    grace = 0.2
    monkeypatch.setattr(scheduler_module, "HELPER_GRACE_SECONDS", grace)
    extension = ParallelExtension(base_executor=None)
    recorder = Recorder(hold=0.3)
    try:
        starts = []
        for _ in range(2):  # two chain runs, each with its own run scope
            with extension.run_scope() as scheduler:
                run_group(scheduler, recorder, 2)
            starts.append(recorder.started[1][0])
    finally:
        extension.close()
    assert starts[0] >= grace
    assert starts[1] < grace


# ---------------------------------------------------------------------------------------------
# the worker pool
# ---------------------------------------------------------------------------------------------


def test_latch_waits_for_every_job_added() -> None:
    latch = Latch()
    latch.wait()  # nothing added: returns at once
    latch.add(2)
    done = threading.Event()

    def waiter() -> None:
        latch.wait()
        done.set()

    threading.Thread(target=waiter).start()
    latch.count_down()
    assert not done.wait(0.05)
    latch.count_down()
    assert done.wait(5)


def run_jobs(pool: BranchPool, count: int, job: Callable[[], None]) -> int:
    latch = Latch()
    started = pool.launch(job, count, latch)
    latch.wait()
    return started


def test_parked_workers_are_reused(pool: BranchPool) -> None:
    names: list[str] = []

    def job() -> None:
        names.append(threading.current_thread().name)

    assert run_jobs(pool, 4, job) == 4
    first = set(names)
    names.clear()
    assert run_jobs(pool, 4, job) == 4
    assert set(names) == first  # the same four threads, no new ones
    assert pool.thread_count == 4
    assert all(name.startswith(THREAD_PREFIX) for name in first)


def test_launch_stops_at_the_ceiling() -> None:
    small = BranchPool(ceiling=2)
    try:
        hold = threading.Event()
        latch = Latch()
        assert small.launch(hold.wait, 5, latch) == 2
        assert small.launch(hold.wait, 1, latch) == 0  # both workers busy, none may start
        hold.set()
        latch.wait()
        assert small.thread_count == 2
    finally:
        small.close()


def test_a_job_that_raises_still_counts_down(
    pool: BranchPool, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    assert run_jobs(pool, 2, broken) == 2  # returns: the latch reached zero
    assert "job raised" in caplog.text
    assert run_jobs(pool, 2, lambda: None) == 2  # the workers survived


def test_close_joins_the_workers_and_the_pool_still_works(pool: BranchPool) -> None:
    threads: list[threading.Thread] = []
    run_jobs(pool, 3, lambda: threads.append(threading.current_thread()))
    pool.close()
    assert pool.thread_count == 0
    assert not any(thread.is_alive() for thread in threads)
    assert run_jobs(pool, 2, lambda: None) == 2


def test_close_waits_for_a_busy_worker(pool: BranchPool) -> None:
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.1)
        finished.set()

    pool.launch(slow, 1, Latch())
    pool.close()
    assert finished.is_set()


def test_a_dropped_pool_lets_its_workers_go() -> None:
    import gc

    dropped = BranchPool()
    threads: list[threading.Thread] = []
    run_jobs(dropped, 2, lambda: threads.append(threading.current_thread()))
    del dropped
    gc.collect()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)


def test_an_escaping_base_exception_stops_the_group_and_reaches_the_caller(
    pool: BranchPool,
) -> None:
    scheduler = ThreadPoolScheduler(pool, GroupHistory())
    recorder = Recorder(hold=0.1)

    def interrupted() -> dict[str, Any]:
        time.sleep(0.02)
        raise KeyboardInterrupt

    slow_done = threading.Event()

    def slow() -> dict[str, Any]:
        time.sleep(0.1)
        slow_done.set()
        return {"success": True}

    step = PipelineStep(StepType.TEXT_TO_IMAGE, "flux_schnell", {})
    tasks = [BranchTask(0, step, "g_branch1", slow), BranchTask(1, step, "g_branch2", interrupted)]
    tasks += [BranchTask(i, step, f"g_branch{i + 1}", recorder.body(i)) for i in range(2, 6)]
    with pytest.raises(KeyboardInterrupt):
        scheduler.run_branches(tasks, max_workers=2)
    assert slow_done.is_set()  # the running sibling ended before the interrupt came through
    assert not recorder.started  # and no waiting branch started after it


def test_groups_of_concurrent_runs_share_a_small_pool_correctly() -> None:
    """Two runs on one executor share its pool; past the ceiling a group runs on fewer
    threads (never waits for a thread), and every result still lands in its own slot."""
    small = BranchPool(ceiling=3)
    history = GroupHistory()
    outcomes: dict[str, list[dict[str, Any]]] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        try:
            scheduler = ThreadPoolScheduler(small, history)
            step = PipelineStep(StepType.TEXT_TO_IMAGE, "flux_schnell", {})

            def body(index: int) -> Callable[[], dict[str, Any]]:
                def branch() -> dict[str, Any]:
                    time.sleep(0.01)
                    return {"run": name, "index": index}

                return branch

            for _ in range(5):  # later rounds start helpers at once (the history learnt)
                tasks = [BranchTask(i, step, f"{name}{i}", body(i)) for i in range(6)]
                outcomes[name] = scheduler.run_branches(tasks, max_workers=4)
        except BaseException as exc:  # surfaced below, with the thread's name
            failures.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads), "a group hung"
        assert failures == []
        for name in ("a", "b"):
            assert outcomes[name] == [{"run": name, "index": i} for i in range(6)]
        assert small.thread_count <= 3
    finally:
        small.close()


def test_close_between_groups_never_loses_a_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "HELPER_GRACE_SECONDS", 0.0)
    own = BranchPool()
    scheduler = ThreadPoolScheduler(own, GroupHistory())
    recorder = Recorder(hold=0.001)
    try:
        for round_ in range(40):
            results = run_group(scheduler, recorder, 5)
            assert [r["index"] for r in results] == list(range(5))
            if round_ % 3 == 0:
                own.close()  # the next group starts fresh threads
    finally:
        own.close()
    assert own.thread_count == 0
