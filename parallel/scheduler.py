"""Concurrent scheduling of parallel_group branches on one thread pool per chain run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from ai_content_pipeline.pipeline.groups import BranchTask

# Threads are created on demand, so a generous ceiling costs nothing; each group is
# still bounded by its own max_workers (validation caps that at 64).
POOL_CEILING = 64


class ThreadPoolScheduler:
    """Runs a group's branches concurrently, at most `max_workers` at a time.

    Results are returned in declaration order whatever the completion order; the
    core merges them, so nothing downstream can tell this scheduler from the
    sequential one except by the clock.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool

    def run_branches(self, tasks: Sequence[BranchTask], max_workers: int) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(tasks)
        waiting = iter(tasks)
        in_flight: dict[Future[dict[str, Any]], int] = {}

        def submit_next() -> None:
            task = next(waiting, None)
            if task is not None:
                in_flight[self._pool.submit(task.run)] = task.index

        try:
            for _ in range(max(1, max_workers)):
                submit_next()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    results[in_flight.pop(future)] = future.result()
                    submit_next()
        except BaseException:
            # Ctrl-C or a scheduler fault: pending branches never start; running ones are
            # joined by the run scope before the failure report is written.
            for future in in_flight:
                future.cancel()
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
