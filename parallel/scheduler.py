"""Concurrent scheduling of parallel_group branches on one thread pool per chain run."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from ai_content_pipeline.pipeline.groups import BranchTask

# Threads are created on demand, so a generous ceiling costs nothing; each group is
# still bounded by its own max_workers (validation caps that at 64).
POOL_CEILING = 64


class ThreadPoolScheduler:
    """Runs a group's branches concurrently, at most `max_workers` at a time.

    `max_workers` workers pull the next branch in declaration order whenever they are free
    (greedy list scheduling, which is what the harness's timing model assumes). The calling
    thread is one of those workers, so a group needs only `max_workers - 1` pool threads and
    short branches do not pay a thread hand-off each.

    Results are returned in declaration order whatever the completion order; the core merges
    them, so nothing downstream can tell this scheduler from the sequential one except by
    the clock.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool

    def run_branches(self, tasks: Sequence[BranchTask], max_workers: int) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(tasks)
        waiting = iter(tasks)
        lock = threading.Lock()
        stopped = threading.Event()

        def take() -> BranchTask | None:
            with lock:
                return None if stopped.is_set() else next(waiting, None)

        def work() -> None:
            while (task := take()) is not None:
                results[task.index] = task.run()

        helpers: list[Future[None]] = [
            self._pool.submit(work) for _ in range(min(max(1, max_workers), len(tasks)) - 1)
        ]
        try:
            work()
            for helper in helpers:
                helper.result()
        except BaseException:
            # Ctrl-C or a scheduler fault: branches not yet taken never start; running ones
            # finish and are joined by the run scope before the failure report is written.
            stopped.set()
            for helper in helpers:
                helper.cancel()
            raise
        return [result for result in results if result is not None]


@contextmanager
def thread_pool_scope() -> Iterator[ThreadPoolScheduler]:
    """One pool for the span of a chain run, joined on the way out, even on Ctrl-C."""
    pool = ThreadPoolExecutor(max_workers=POOL_CEILING, thread_name_prefix="aicp-branch")
    try:
        yield ThreadPoolScheduler(pool)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
