"""Concurrent scheduling of parallel_group branches.

Every group of every run of one executor uses the same parked worker threads (`BranchPool`,
owned by the `ParallelExtension`): starting threads costs more than scheduling a group.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ai_content_pipeline.pipeline.groups import BranchTask

from .history import GroupHistory, group_key
from .pool import BranchPool, Latch

# Grain-size control. Pool threads join a group only if its branches are still running this
# long after the calling thread started them: branches that end at once (no model latency)
# never pay for hand-offs between threads, and a model call of seconds pays 3 ms once.
HELPER_GRACE_SECONDS = 0.003


class ThreadPoolScheduler:
    """Runs a group's branches concurrently, at most `max_workers` at a time.

    `max_workers` workers pull the next branch in declaration order whenever they are free
    (greedy list scheduling, which is what the harness's timing model assumes). The calling
    thread is one of those workers, so a group needs only `max_workers - 1` pool threads.
    Those start at once when `history` says this kind of group has long branches; otherwise
    one pool thread looks after `HELPER_GRACE_SECONDS` and brings the others in only if the
    caller is still busy.

    Results are returned in declaration order whatever the completion order; the core merges
    them, so nothing downstream can tell this scheduler from the sequential one except by
    the clock.
    """

    def __init__(self, pool: BranchPool, history: GroupHistory | None = None) -> None:
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

        escaped: list[BaseException] = []

        def help_out() -> None:
            # A branch turns exceptions into failed results; anything else (a KeyboardInterrupt
            # raised in branch code) stops the group and is re-raised by the calling thread.
            try:
                work()
            except BaseException as exc:
                with lock:
                    stopped.set()
                escaped.append(exc)

        key = group_key(tasks)
        helper_count = min(max(1, max_workers), len(tasks)) - 1
        helpers = Latch()
        caller_done = threading.Event()
        joined = threading.Event()

        def scout() -> None:
            # Branches that are over at once stay on the calling thread, which then waits for
            # nobody: this pool thread brings the others in only if the caller is still busy.
            if caller_done.wait(HELPER_GRACE_SECONDS):
                return
            with lock:
                if stopped.is_set() or caller_done.is_set():
                    return
                joined.set()
                self._pool.launch(help_out, helper_count - 1, helpers)
            help_out()

        if helper_count and self._history.branches_take_long(key, HELPER_GRACE_SECONDS):
            joined.set()
            self._pool.launch(help_out, helper_count, helpers)
        elif helper_count:
            self._pool.launch(scout, 1, helpers)
        try:
            work()
        except BaseException:
            # Ctrl-C or a scheduler fault: branches not yet taken never start; the running
            # ones are waited for, so the failure report is written after every branch ended.
            with lock:
                stopped.set()
                caller_done.set()
            if joined.is_set():
                helpers.wait()
            raise
        with lock:
            caller_done.set()
        if joined.is_set():  # then every helper was launched, under the lock, before this
            helpers.wait()
        if escaped:
            raise escaped[0]
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
        yield ThreadPoolScheduler(pool, history)
        return
    own = BranchPool()
    try:
        yield ThreadPoolScheduler(own, history)
    finally:
        own.close()
