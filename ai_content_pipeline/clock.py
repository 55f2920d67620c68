"""The one clock every wait of a run goes through: real by default, virtual in the harness.

Why a seam: a model call's latency, `stub_delay`, a step's timeout and (later) a live backend's
polling and back-off are all *waits*. When they all ask the executor's clock, the release gate
can run the real scheduler on virtual time: time advances only when every branch in flight is
waiting, straight to the next wake-up, so a 60 s model call costs no wall time and every
schedule is exact and the same on any machine.

Two ways of waiting, one time line:

* sync code (the sequential core, sync generators) calls `Clock.sleep`;
* async code (the `parallel` scheduler, async generators) awaits `asyncio.sleep` on a loop made
  by `Clock.new_event_loop`, whose ``time()`` is this clock's.

A sync generator run on a worker thread by an async scheduler under the virtual clock is
counted as *busy* while it computes (the loop then does not jump ahead of it) and as waiting
while it sleeps (its sleep becomes a timer on the loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import select
import selectors
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

REAL = "real"
VIRTUAL = "virtual"

# How long a virtual loop waits in real time for a busy worker thread before looking again
# (a thread normally wakes it at once through the loop's self-pipe).
_BUSY_POLL_SECONDS = 0.05


class StepTimeout(Exception):
    """A wait would pass the deadline of the step that is running (see `Clock.deadline`)."""


@runtime_checkable
class Clock(Protocol):
    """What the executor, its schedulers and generators wait on."""

    name: str
    """``"real"`` or ``"virtual"``: what the harness asks to know which time it sees."""

    def now(self) -> float:
        """Seconds on this clock's time line (monotonic; the origin means nothing)."""
        ...

    def sleep(self, seconds: float, cancelled: threading.Event | None = None) -> bool:
        """Wait `seconds`; True when `cancelled` was set first (the wait then ends early).

        Raises `StepTimeout` when the wait would pass the current thread's deadline (after
        waiting until the deadline)."""
        ...

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """An event loop whose ``time()`` is this clock's: async waits share the time line."""
        ...

    @contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        """Within the block, a sync wait that would end more than `seconds` from now raises
        `StepTimeout` at that point instead (None: no deadline)."""
        ...


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aicp_deadline", default=None
)


@contextmanager
def _deadline(clock: Clock, seconds: float | None) -> Iterator[None]:
    if seconds is None:
        yield
        return
    outer = _DEADLINE.get()
    ends = clock.now() + float(seconds)
    token = _DEADLINE.set(ends if outer is None else min(outer, ends))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _clip(clock: Clock, seconds: float) -> tuple[float, bool]:
    """(seconds to wait, whether the wait hits the deadline)."""
    ends = _DEADLINE.get()
    if ends is None:
        return seconds, False
    left = max(0.0, ends - clock.now())
    return (left, True) if seconds >= left else (seconds, False)


class RealClock:
    """Wall time (`time.monotonic`); waits really wait."""

    name = REAL

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, cancelled: threading.Event | None = None) -> bool:
        wait, hits_deadline = _clip(self, max(0.0, float(seconds)))
        event = cancelled if cancelled is not None else threading.Event()
        if wait > 0 and event.wait(wait):
            return True
        if hits_deadline:
            raise StepTimeout()
        return event.is_set()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.SelectorEventLoop(_PreciseSelector())

    def deadline(self, seconds: float | None) -> Any:
        return _deadline(self, seconds)

    def __repr__(self) -> str:
        return "RealClock()"


# select() can wait on one descriptor below this; above it only the coarse wait is safe.
_SELECT_FD_LIMIT = 1024


class _PreciseSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's selector (epoll, kqueue), waiting with microsecond precision.

    Why: epoll and poll take their timeout in whole milliseconds, rounded up, which made
    every 20 ms model wait end 0.5-1 ms late. The selector's own descriptor becomes
    readable when it has events, so `select.select` on it waits precisely; the events are
    then collected without waiting.
    """

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0 and self.fileno() < _SELECT_FD_LIMIT:
            select.select([self.fileno()], [], [], timeout)
            return super().select(0)
        return super().select(timeout)


class VirtualClock:
    """Simulated time: a wait advances the time line instead of the wall clock.

    Sequential waits advance it directly. A loop from `new_event_loop` advances it when it has
    nothing to do but wait for its next timer and no worker thread of its is computing.
    """

    name = VIRTUAL

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._interrupt_at: float | None = None
        self._local = threading.local()  # .loop: the virtual loop this worker thread serves

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward (never back); stops at a pending `interrupt_at` and delivers it."""
        if seconds <= 0:
            return
        with self._lock:
            target = self._now + seconds
            due = self._interrupt_at is not None and target >= self._interrupt_at
            if due:
                assert self._interrupt_at is not None
                target = max(self._now, self._interrupt_at)
                self._interrupt_at = None
            self._now = target
        if due:
            # As a real Ctrl-C: the process's SIGINT handler decides what happens.
            signal.raise_signal(signal.SIGINT)

    def interrupt_at(self, when: float | None) -> None:
        """Deliver one Ctrl-C (SIGINT to this process) when time reaches `when`; None: none.
        How the release gate interrupts a run at an exact moment of model time."""
        with self._lock:
            self._interrupt_at = when

    def sleep(self, seconds: float, cancelled: threading.Event | None = None) -> bool:
        if cancelled is not None and cancelled.is_set():
            return True
        wait, hits_deadline = _clip(self, max(0.0, float(seconds)))
        loop: _VirtualLoop | None = getattr(self._local, "loop", None)
        if loop is not None:
            woken_by_cancel = loop.wait_from_thread(wait, cancelled)
            if woken_by_cancel:
                return True
        else:
            self.advance(wait)
        if hits_deadline:
            raise StepTimeout()
        return cancelled is not None and cancelled.is_set()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _VirtualLoop(self)

    def deadline(self, seconds: float | None) -> Any:
        return _deadline(self, seconds)

    def serving(self, loop: asyncio.AbstractEventLoop, fn: Callable[[], T]) -> Callable[[], T]:
        """`fn` wrapped to run on a worker thread of `loop`: its sleeps become loop timers."""

        def run() -> T:
            self._local.loop = loop
            try:
                return fn()
            finally:
                self._local.loop = None

        return run

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"


class _AutojumpSelector(selectors.BaseSelector):
    """The loop's selector: when the loop would block for `timeout` with nothing ready and no
    busy worker thread, time jumps by `timeout` instead (trio's autojump clock)."""

    def __init__(self, inner: selectors.BaseSelector, loop: _VirtualLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if self._loop.busy_threads > 0:
            # A worker thread is computing: it will wake us; its time is not ours to skip.
            return self._inner.select(_BUSY_POLL_SECONDS)
        if timeout is None:
            return self._inner.select(None)  # nothing scheduled: wait for real I/O
        self._loop.clock.advance(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()


class _VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on a `VirtualClock`'s time line."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.busy_threads = 0  # changed on the loop's thread only
        self._thread_waits: dict[int, set[asyncio.Task[None]]] = {}
        # Worker threads blocked in `wait_from_thread`; released by `close`, so a thread whose
        # loop ends before its timer never waits forever.
        self._blocked: set[concurrent.futures.Future[None]] = set()
        self._blocked_lock = threading.Lock()
        super().__init__(_AutojumpSelector(selectors.DefaultSelector(), self))
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self.clock.now()

    async def run_in_thread(self, executor: Any, fn: Callable[[], T]) -> T:
        """Run sync `fn` on `executor`, counted busy until the thread's call really ends
        (also when the awaiting task gave up on it), except while it sleeps on the clock."""
        self.busy_threads += 1
        future = executor.submit(self.clock.serving(self, fn))
        try:
            result: T = await asyncio.wrap_future(future, loop=self)
        except BaseException:
            if future.done():
                self.busy_threads -= 1
            else:  # given up on (timeout, cancel): counted until the thread really ends
                future.add_done_callback(self._thread_ended)
            raise
        # Only now: counted out as the result arrives, time cannot jump in between.
        self.busy_threads -= 1
        return result

    def _thread_ended(self, _future: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop was closed after giving up on it
            self.call_soon_threadsafe(self._count_thread_out)

    def _count_thread_out(self) -> None:
        self.busy_threads -= 1

    async def _thread_wait(self, seconds: float, cancelled: threading.Event | None) -> None:
        task = asyncio.current_task()
        key = id(cancelled)  # every wait is listed (`close` ends them); None is never woken
        if task is not None:
            self._thread_waits.setdefault(key, set()).add(task)
        self.busy_threads -= 1
        try:
            await asyncio.sleep(seconds)
        finally:
            self.busy_threads += 1
            if task is not None and key in self._thread_waits:
                self._thread_waits[key].discard(task)
                if not self._thread_waits[key]:
                    del self._thread_waits[key]

    def wake_cancelled(self, cancelled: threading.Event) -> None:
        """End at once the clock waits of worker threads whose call `cancelled` stops
        (on the loop's thread), so time never jumps to a wake-up nobody waits for."""
        for task in list(self._thread_waits.get(id(cancelled), ())):
            task.cancel()

    def wait_from_thread(self, seconds: float, cancelled: threading.Event | None) -> bool:
        """A worker thread's sleep: a timer on this loop. True if `cancelled` ended it."""
        with self._blocked_lock:
            if self.is_closed():
                return True
            future = asyncio.run_coroutine_threadsafe(self._thread_wait(seconds, cancelled), self)
            self._blocked.add(future)
        try:
            future.result()
        except concurrent.futures.CancelledError:
            return True
        finally:
            with self._blocked_lock:
                self._blocked.discard(future)
        return cancelled is not None and cancelled.is_set()

    def close(self) -> None:
        """Close the loop and release every worker thread still blocked on one of its timers
        (as if cancelled): nothing is left to wake them."""
        pending = [task for waits in self._thread_waits.values() for task in waits]
        if pending and not self.is_running() and not self.is_closed():
            for task in pending:  # as `asyncio.run` does with the tasks left over
                task.cancel()
            self.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        with self._blocked_lock:
            super().close()
            blocked, self._blocked = self._blocked, set()
        for future in blocked:
            future.cancel()


def default_clock() -> Clock:
    return RealClock()
