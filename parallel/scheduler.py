"""Concurrent scheduling of parallel_group branches.

A chain run uses one thread pool for all of its groups. The pool belongs to the
`ParallelExtension` (one per executor) and outlives the run: on this class of machine a
thread start plus join costs 0.2-0.4 ms, which at zero model latency was most of the
difference between the flag on and off. Threads start on first use, so a chain without
groups never starts one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from typing import Any

from ai_content_pipeline.pipeline.groups import BranchTask

from .history import GroupHistory, group_key

# Threads are created on demand, so a generous ceiling costs nothing; each group is
# still bounded by its own max_workers (validation caps that at 64).
POOL_CEILING = 64

# Grain-size control. Pool threads join a group only if its branches are still running this
# long after the calling thread started them: branches that end at once (no model latency)
# never pay for hand-offs between threads, and a model call of seconds pays 3 ms once.
HELPER_GRACE_SECONDS = 0.003
THREAD_PREFIX = "aicp-branch"


class BranchPool:
    """A lazily created, shared thread pool; `close()` joins its threads."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=POOL_CEILING - 1, thread_name_prefix=THREAD_PREFIX
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class ThreadPoolScheduler:
    """Runs a group's branches concurrently, at most `max_workers` at a time.

    `max_workers` workers pull the next branch in declaration order whenever they are free
    (greedy list scheduling, which is what the harness's timing model assumes). The calling
    thread is one of those workers, so a group needs only `max_workers - 1` pool threads.
    Those join at once when `history` says this kind of group has long branches, otherwise
    only if the group is still running after `HELPER_GRACE_SECONDS`.

    Results are returned in declaration order whatever the completion order; the core merges
    them, so nothing downstream can tell this scheduler from the sequential one except by
    the clock.
    """

    def __init__(
        self, pool: Callable[[], ThreadPoolExecutor], history: GroupHistory | None = None
    ) -> None:
        self._pool = pool
        self._history = history if history is not None else GroupHistory()

    def run_branches(self, tasks: Sequence[BranchTask], max_workers: int) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(tasks)
        branch_seconds: list[float] = []
        waiting = iter(tasks)
        lock = threading.Lock()
        stopped = threading.Event()

        def take() -> BranchTask | None:
            with lock:
                return None if stopped.is_set() else next(waiting, None)

        def work() -> None:
            while (task := take()) is not None:
                started = time.perf_counter()
                results[task.index] = task.run()
                branch_seconds.append(time.perf_counter() - started)

        key = group_key(tasks)
        helper_count = min(max(1, max_workers), len(tasks)) - 1
        caller_done = threading.Event()
        helpers: list[Future[None]] = []
        joined = threading.Event()

        def join_group() -> None:
            """Runs in a pool thread: bring in the other helpers, then work."""
            pool = self._pool()
            with lock:
                if stopped.is_set() or caller_done.is_set():
                    return
                joined.set()
                helpers.extend(pool.submit(work) for _ in range(helper_count - 1))
            work()

        def scout() -> None:
            # Only if the caller is still busy after the grace do the helpers join; branches
            # that are over at once stay on the calling thread, which then waits for nobody.
            if not caller_done.wait(HELPER_GRACE_SECONDS):
                join_group()

        if helper_count:
            long_branches = self._history.branches_take_long(key, HELPER_GRACE_SECONDS)
            first = join_group if long_branches else scout
            helpers.append(self._pool().submit(first))
        try:
            work()
            with lock:
                caller_done.set()
            if joined.is_set():  # then the helper list is complete: it grew under the lock
                for helper in list(helpers):
                    helper.result()
        except BaseException:
            # Ctrl-C or a scheduler fault: branches not yet taken never start; the running
            # ones are joined here, so the failure report is written after every branch ended.
            with lock:
                stopped.set()
                caller_done.set()
            for helper in list(helpers):
                helper.cancel()
            if joined.is_set():
                wait_for(list(helpers))
            raise
        self._history.record(key, branch_seconds)
        return [result for result in results if result is not None]


@contextmanager
def thread_pool_scope(
    pool: BranchPool | None = None, history: GroupHistory | None = None
) -> Iterator[ThreadPoolScheduler]:
    """A scheduler for one chain run: on `pool` when given, else on a pool of its own that
    is joined on the way out (even on Ctrl-C). `history` carries what earlier runs of the
    same groups taught (a fresh one when omitted)."""
    if pool is not None:
        yield ThreadPoolScheduler(pool.get, history)
        return
    own = BranchPool()
    try:
        yield ThreadPoolScheduler(own.get, history)
    finally:
        own.close()
