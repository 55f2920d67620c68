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
    When they start depends on what `history` knows of this kind of group (grain-size
    control): branches that took `HELPER_GRACE_SECONDS` or more last time, at once; instant
    ones, only if the calling thread finds the group still going after the grace between two
    branches (no thread is woken otherwise); a group never seen, when one pool thread finds
    the caller still busy after the grace.

    Results are returned in declaration order whatever the completion order; the core merges
    them, so nothing downstream can tell this scheduler from the sequential one except by
    the clock.
    """

    def __init__(self, pool: BranchPool, history: GroupHistory | None = None) -> None:
        self._pool = pool
        self._history = history if history is not None else GroupHistory()

    def run_branches(self, tasks: Sequence[BranchTask], max_workers: int) -> list[dict[str, Any]]:
        key = group_key(tasks)
        group = _GroupRun(tasks, min(max(1, max_workers), len(tasks)) - 1, self._pool)
        known = self._history.median_branch_seconds(key)
        watch_clock = False
        if group.helper_count:
            if known is None:
                group.launch_scout()
            elif known >= HELPER_GRACE_SECONDS:
                group.bring_in_helpers(group.helper_count)
            else:
                watch_clock = True
        group.run_as_caller(watch_clock)
        self._history.record(key, group.branch_seconds)
        return group.results_in_order()


class _GroupRun:
    """The state of one group while it runs, shared by the calling thread and its helpers."""

    def __init__(self, tasks: Sequence[BranchTask], helper_count: int, pool: BranchPool) -> None:
        self.helper_count = helper_count
        self.branch_seconds: list[float] = []
        self._results: list[dict[str, Any] | None] = [None] * len(tasks)
        self._waiting = iter(tasks)
        self._left = len(tasks)
        self._pool = pool
        self._lock = threading.Lock()
        self._stopped = False
        self._caller_done = threading.Event()
        self._joined = False  # helpers were launched; set under the lock
        self._helpers = Latch()
        self._escaped: list[BaseException] = []

    # -- the calling thread ------------------------------------------------------------------

    def launch_scout(self) -> None:
        self._pool.launch(self._scout, 1, self._helpers)

    def results_in_order(self) -> list[dict[str, Any]]:
        return [result for result in self._results if result is not None]

    def run_as_caller(self, watch_clock: bool) -> None:
        try:
            self._work(watch_clock)
        except BaseException:
            # Ctrl-C or a scheduler fault: branches not yet taken never start; the running
            # ones are waited for (below), so the failure report is written after they end.
            with self._lock:
                self._stopped = True
            raise
        finally:
            with self._lock:
                self._caller_done.set()
                joined = self._joined
            if joined:  # every helper was launched, under the lock, before this
                self._helpers.wait()
        if self._escaped:
            raise self._escaped[0]

    # -- the workers ---------------------------------------------------------------------------

    def _take(self) -> BranchTask | None:
        with self._lock:
            if self._stopped:
                return None
            task = next(self._waiting, None)
            if task is not None:
                self._left -= 1
            return task

    def _work(self, watch_clock: bool = False) -> None:
        group_started = time.perf_counter()
        while (task := self._take()) is not None:
            started = time.perf_counter()
            self._results[task.index] = task.run()
            ended = time.perf_counter()
            self.branch_seconds.append(ended - started)
            if watch_clock and ended - group_started >= HELPER_GRACE_SECONDS:
                # Known as instant, yet still going: this run is not like the last one.
                self.bring_in_helpers(self.helper_count)
                watch_clock = False

    def _help_out(self) -> None:
        # A branch turns exceptions into failed results; anything else (a KeyboardInterrupt
        # raised in branch code) stops the group and is re-raised by the calling thread.
        try:
            self._work()
        except BaseException as exc:
            with self._lock:
                self._stopped = True
            self._escaped.append(exc)

    def bring_in_helpers(self, count: int) -> bool:
        """Launch up to `count` helpers unless the group is over, stopped or already joined."""
        with self._lock:
            if self._joined or self._stopped or self._caller_done.is_set() or not self._left:
                return False
            self._joined = True
            self._pool.launch(self._help_out, min(count, self._left), self._helpers)
            return True

    def _scout(self) -> None:
        # Branches that are over at once stay on the calling thread, which then waits for
        # nobody: this pool thread brings the others in only if the caller is still busy.
        if self._caller_done.wait(HELPER_GRACE_SECONDS):
            return
        if self.bring_in_helpers(self.helper_count - 1):
            self._help_out()


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
