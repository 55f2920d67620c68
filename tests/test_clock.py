"""The clock seam on its own: real and virtual time, deadlines, the autojump loop, busy threads.

Every wait of a run goes through one `Clock`. These tests pin what each clock promises: the real
one really waits (briefly here), the virtual one moves a time line instead of the wall clock, a
deadline cuts a sync wait at exactly its end, and a loop from `VirtualClock.new_event_loop`
jumps straight to its next timer unless a worker thread it runs is still computing.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from ai_content_pipeline.clock import (
    REAL,
    VIRTUAL,
    Clock,
    RealClock,
    StepTimeout,
    VirtualClock,
    default_clock,
)

T = TypeVar("T")

# Generous for a loaded 2-core machine, still far below every virtual wait used here.
WALL_LIMIT = 2.0


def wall(fn: Callable[[], T]) -> tuple[T, float]:
    """`fn()` and the wall seconds it took."""
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def run_virtual(clock: VirtualClock, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = clock.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.fixture
def threads() -> Any:
    pool = ThreadPoolExecutor(4, thread_name_prefix="test-clock")
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# both clocks
# ---------------------------------------------------------------------------------------------


def test_both_clocks_satisfy_the_protocol_and_name_themselves() -> None:
    assert isinstance(RealClock(), Clock)
    assert isinstance(VirtualClock(), Clock)
    assert (RealClock().name, VirtualClock().name) == (REAL, VIRTUAL) == ("real", "virtual")
    assert isinstance(default_clock(), RealClock)
    assert repr(RealClock()) == "RealClock()"
    assert repr(VirtualClock(2.5)) == "VirtualClock(now=2.5)"


# ---------------------------------------------------------------------------------------------
# RealClock
# ---------------------------------------------------------------------------------------------


def test_real_clock_is_monotonic_time() -> None:
    real = RealClock()
    before = time.monotonic()
    now = real.now()
    after = time.monotonic()
    assert before <= now <= after


def test_real_sleep_really_waits() -> None:
    real = RealClock()
    cancelled, took = wall(lambda: real.sleep(0.03))
    assert cancelled is False
    assert took >= 0.025
    assert real.sleep(0) is False
    assert real.sleep(-1) is False  # a negative wait is no wait


def test_real_sleep_ends_early_when_cancelled() -> None:
    real = RealClock()
    flag = threading.Event()
    threading.Timer(0.02, flag.set).start()
    cancelled, took = wall(lambda: real.sleep(30, flag))
    assert cancelled is True
    assert took < WALL_LIMIT
    assert real.sleep(30, flag) is True  # already set: no wait at all


def test_real_deadline_cuts_a_wait_at_its_end() -> None:
    real = RealClock()
    with real.deadline(0.05):
        started = time.perf_counter()
        with pytest.raises(StepTimeout):
            real.sleep(30)
        took = time.perf_counter() - started
    assert 0.04 <= took < WALL_LIMIT
    with real.deadline(5):
        assert real.sleep(0.01) is False  # well inside the deadline
    with real.deadline(None):
        assert real.sleep(0.01) is False  # None: no deadline


def test_real_deadline_lets_cancel_win() -> None:
    real = RealClock()
    flag = threading.Event()
    threading.Timer(0.02, flag.set).start()
    with real.deadline(10):
        assert real.sleep(30, flag) is True  # cancelled before the deadline: no StepTimeout


def test_real_clock_loop_is_a_plain_event_loop() -> None:
    real = RealClock()
    loop = real.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert not hasattr(loop, "run_in_thread")  # only a virtual loop counts busy threads
        assert abs(loop.time() - time.monotonic()) < 1.0

        async def nap() -> float:
            started = loop.time()
            await asyncio.sleep(0.02)
            return loop.time() - started

        assert loop.run_until_complete(nap()) >= 0.015
    finally:
        loop.close()


# ---------------------------------------------------------------------------------------------
# VirtualClock, sequential waits
# ---------------------------------------------------------------------------------------------


def test_virtual_time_starts_where_asked_and_only_moves_forward() -> None:
    virtual = VirtualClock(start=5)
    assert virtual.now() == 5.0
    virtual.advance(3)
    assert virtual.now() == 8.0
    virtual.advance(-10)
    virtual.advance(0)
    assert virtual.now() == 8.0


def test_virtual_sleep_moves_the_time_line_not_the_wall_clock() -> None:
    virtual = VirtualClock()
    cancelled, took = wall(lambda: virtual.sleep(3600))
    assert cancelled is False
    assert virtual.now() == 3600.0
    assert took < WALL_LIMIT
    virtual.sleep(-5)
    assert virtual.now() == 3600.0


def test_virtual_sleep_already_cancelled_does_not_wait() -> None:
    virtual = VirtualClock()
    flag = threading.Event()
    flag.set()
    assert virtual.sleep(60, flag) is True
    assert virtual.now() == 0.0
    assert virtual.sleep(60, threading.Event()) is False
    assert virtual.now() == 60.0


def test_virtual_deadline_is_exact() -> None:
    virtual = VirtualClock()
    with virtual.deadline(10):
        assert virtual.sleep(4) is False
        assert virtual.now() == 4.0
        with pytest.raises(StepTimeout):
            virtual.sleep(30)
        assert virtual.now() == 10.0  # waited until the deadline, not a second longer
        with pytest.raises(StepTimeout):
            virtual.sleep(1)  # past the deadline: raises at once
        assert virtual.now() == 10.0
    virtual.sleep(30)  # the block is over: no deadline any more
    assert virtual.now() == 40.0


def test_nested_deadlines_keep_the_earlier_end() -> None:
    virtual = VirtualClock()
    with virtual.deadline(5), virtual.deadline(100):
        with pytest.raises(StepTimeout):
            virtual.sleep(60)
        assert virtual.now() == 5.0
    with virtual.deadline(100), virtual.deadline(3):
        with pytest.raises(StepTimeout):
            virtual.sleep(60)
        assert virtual.now() == 8.0
        # the inner block ended; the outer deadline (at 105) still holds
    with virtual.deadline(100):
        virtual.sleep(50)
        assert virtual.now() == 58.0


def test_a_deadline_belongs_to_its_context_not_to_other_threads() -> None:
    virtual = VirtualClock()
    outcome: dict[str, Any] = {}

    def elsewhere() -> None:
        try:
            virtual.sleep(20)
            outcome["other"] = "slept"
        except StepTimeout:
            outcome["other"] = "timed out"

    with virtual.deadline(1):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join(WALL_LIMIT)
        # a copied context carries it, as the executor's worker threads do
        copied = contextvars.copy_context()
    assert outcome["other"] == "slept"
    with pytest.raises(StepTimeout):
        copied.run(virtual.sleep, 1000)


def test_concurrent_sequential_sleeps_add_up_exactly() -> None:
    virtual = VirtualClock()

    def naps() -> None:
        for _ in range(200):
            virtual.sleep(0.5)

    workers = [threading.Thread(target=naps) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WALL_LIMIT * 5)
    assert virtual.now() == 200.0  # 400 advances of 0.5 s, none lost to a race


# ---------------------------------------------------------------------------------------------
# the autojump loop
# ---------------------------------------------------------------------------------------------


def test_virtual_loop_time_is_the_clock() -> None:
    virtual = VirtualClock(start=7)
    loop = virtual.new_event_loop()
    try:
        assert loop.time() == 7.0
        virtual.advance(1)
        assert loop.time() == 8.0
        assert hasattr(loop, "run_in_thread")
    finally:
        loop.close()


def test_autojump_a_long_sleep_costs_no_wall_time() -> None:
    virtual = VirtualClock()

    async def main() -> float:
        await asyncio.sleep(60)
        return virtual.now()

    ended, took = wall(lambda: run_virtual(virtual, main))
    assert ended == 60.0
    assert took < WALL_LIMIT


def test_autojump_concurrent_sleeps_overlap_and_wake_in_order() -> None:
    virtual = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, virtual.now()))

    async def main() -> None:
        await asyncio.gather(nap("c", 30), nap("a", 10), nap("b", 20), nap("a2", 10))

    _, took = wall(lambda: run_virtual(virtual, main))
    assert [t for _, t in woke] == [10.0, 10.0, 20.0, 30.0]
    assert {name for name, _ in woke[:2]} == {"a", "a2"}
    assert [name for name, _ in woke[2:]] == ["b", "c"]
    assert virtual.now() == 30.0  # overlapping waits: the longest, not the sum
    assert took < WALL_LIMIT


def test_autojump_timeouts_fire_at_their_exact_time() -> None:
    virtual = VirtualClock()

    async def main() -> tuple[str, float]:
        try:
            async with asyncio.timeout(2.5):
                await asyncio.sleep(100)
        except TimeoutError:
            return "timed out", virtual.now()
        return "finished", virtual.now()

    assert run_virtual(virtual, main) == ("timed out", 2.5)


def test_autojump_call_later_and_call_at() -> None:
    virtual = VirtualClock(start=100)
    seen: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_later(3, lambda: seen.append(virtual.now()))
        loop.call_at(104.5, lambda: (seen.append(virtual.now()), done.set_result(None)))
        await done

    run_virtual(virtual, main)
    assert seen == [103.0, 104.5]


def test_a_virtual_loop_with_nothing_scheduled_still_serves_real_io() -> None:
    """No timer: the loop waits for real I/O (here a thread's callback) instead of jumping."""
    virtual = VirtualClock()

    async def main() -> str:
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        threading.Timer(0.05, lambda: loop.call_soon_threadsafe(answer.set_result, "hi")).start()
        return await answer

    assert run_virtual(virtual, main) == "hi"
    assert virtual.now() == 0.0


# ---------------------------------------------------------------------------------------------
# worker threads of a virtual loop
# ---------------------------------------------------------------------------------------------


def test_a_busy_worker_thread_holds_virtual_time(threads: ThreadPoolExecutor) -> None:
    """While a thread computes, the loop must not jump ahead to a pending timer."""
    virtual = VirtualClock()
    seen: dict[str, float] = {}

    def compute() -> str:
        time.sleep(0.15)  # real work, not a wait on the clock
        seen["thread done"] = virtual.now()
        return "computed"

    async def timer() -> None:
        await asyncio.sleep(100)
        seen["timer"] = virtual.now()

    async def main() -> str:
        loop = asyncio.get_running_loop()
        result, _ = await asyncio.gather(loop.run_in_thread(threads, compute), timer())
        return result

    assert run_virtual(virtual, main) == "computed"
    assert seen == {"thread done": 0.0, "timer": 100.0}


def test_a_worker_threads_clock_sleep_is_a_loop_timer(threads: ThreadPoolExecutor) -> None:
    """A thread's `clock.sleep` waits on the loop's time line, interleaved with its tasks."""
    virtual = VirtualClock()
    events: list[tuple[str, float]] = []
    lock = threading.Lock()

    def note(name: str) -> None:
        with lock:
            events.append((name, virtual.now()))

    def worker(name: str, naps: list[float]) -> float:
        for seconds in naps:
            assert virtual.sleep(seconds) is False
            note(name)
        return virtual.now()

    async def task(naps: list[float]) -> None:
        for seconds in naps:
            await asyncio.sleep(seconds)
            note("task")

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        ends = await asyncio.gather(
            loop.run_in_thread(threads, lambda: worker("w1", [5, 5, 5])),
            loop.run_in_thread(threads, lambda: worker("w2", [12])),
            task([3, 3, 3, 3]),
        )
        return ends[:2]

    (ends, took) = wall(lambda: run_virtual(virtual, main))
    assert ends == [15.0, 12.0]
    assert sorted((t, n) for n, t in events) == [
        (3.0, "task"),
        (5.0, "w1"),
        (6.0, "task"),
        (9.0, "task"),
        (10.0, "w1"),
        (12.0, "task"),
        (12.0, "w2"),
        (15.0, "w1"),
    ]
    assert virtual.now() == 15.0
    assert took < WALL_LIMIT * 2


def test_a_worker_threads_sleep_can_be_cancelled(threads: ThreadPoolExecutor) -> None:
    """The thread looks at its cancel flag every `_BUSY_POLL_SECONDS` of real time and then
    reports the cancel. (Its timer stays on the loop: with nothing else to wait for, the loop
    may jump to it first, so the virtual time it ends at is not pinned here.)"""
    virtual = VirtualClock()
    flag = threading.Event()

    def worker() -> bool:
        return virtual.sleep(1000, flag)

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        call = asyncio.ensure_future(loop.run_in_thread(threads, worker))
        await asyncio.sleep(2)
        assert not call.done()  # still asleep at 2 s
        flag.set()
        return await call

    cancelled, took = wall(lambda: run_virtual(virtual, main))
    assert cancelled is True
    assert took < WALL_LIMIT


def test_a_worker_threads_deadline_is_exact(threads: ThreadPoolExecutor) -> None:
    virtual = VirtualClock()

    def worker() -> str:
        with virtual.deadline(7):
            try:
                virtual.sleep(50)
            except StepTimeout:
                return f"timed out at {virtual.now():g}"
        return "slept"

    async def main() -> str:
        return await asyncio.get_running_loop().run_in_thread(threads, worker)

    assert run_virtual(virtual, main) == "timed out at 7"


def test_after_the_thread_returns_its_sleeps_advance_time_directly() -> None:
    """`serving` ties a thread to a loop only while it runs the loop's work."""
    virtual = VirtualClock()
    loop = virtual.new_event_loop()
    try:
        fn = virtual.serving(loop, lambda: getattr(virtual._local, "loop", None))
        assert fn() is loop
        assert getattr(virtual._local, "loop", None) is None
        virtual.sleep(3)  # no loop on this thread: a plain advance
        assert virtual.now() == 3.0
    finally:
        loop.close()


def test_an_abandoned_sleeping_thread_does_not_let_time_jump_past_a_busy_one(
    threads: ThreadPoolExecutor,
) -> None:
    virtual = VirtualClock()
    seen: dict[str, float] = {}
    abandoned = threading.Event()

    def hung() -> bool:
        return virtual.sleep(10, abandoned)  # cut at 1 s by the caller's timeout

    def busy() -> float:
        virtual.sleep(1)  # wakes at 1.0, the same instant the other call times out
        woke = virtual.now()
        time.sleep(0.3)  # then computes: virtual time must stand still meanwhile
        seen["busy woke"], seen["busy done"] = woke, virtual.now()
        return virtual.now()

    async def with_timeout() -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(1):
                await loop.run_in_thread(threads, hung)
        except TimeoutError:
            abandoned.set()

    async def other_timer() -> None:
        await asyncio.sleep(5)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(with_timeout(), loop.run_in_thread(threads, busy), other_timer())

    run_virtual(virtual, main)
    assert seen == {"busy woke": 1.0, "busy done": 1.0}
