"""Parked worker threads that a parallel_group sets going with one lock release each.

Why not `concurrent.futures.ThreadPoolExecutor`: what a group costs beyond its slowest branch
is the Python each branch runs before it starts waiting, one branch at a time under the GIL,
plus one thread hand-off per branch. Per task the executor adds a Future, a work item, a
queue hand-off and semaphore round trips; measured on this project's machines, N threads
that only wait 20 ms took 22.8-23.6 ms through it for N = 32, against 21.9 ms here.

Each worker waits on a lock of its own. `BranchPool.launch` hands a job to idle workers
(starting threads only when none is idle, up to a ceiling); a worker runs the job, parks
itself, then counts the job's `Latch` down. The caller waits on the latch, not on threads.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

logger = logging.getLogger("ai_content_pipeline")

THREAD_PREFIX = "aicp-branch"
# A group uses at most max_workers - 1 pool threads, and validation caps max_workers at 64.
POOL_CEILING = 63

Job = Callable[[], None]


class Latch:
    """Counts launched jobs down; `wait()` returns once every job added so far has ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._zero = threading.Lock()  # held while the count is above zero

    def add(self, count: int) -> None:
        with self._lock:
            if count > 0 and self._count == 0:
                self._zero.acquire()
            self._count += count

    def count_down(self) -> None:
        with self._lock:
            self._count -= 1
            if self._count == 0:
                self._zero.release()

    def wait(self) -> None:
        with self._zero:
            pass


class _Worker:
    __slots__ = ("assignment", "go", "retired", "thread")

    def __init__(self, name: str, crew: _Crew) -> None:
        self.go = threading.Lock()  # free: the first job is set before the thread starts
        self.assignment: tuple[Job, Latch] | None = None
        self.retired = False
        self.thread = threading.Thread(target=_serve, args=(self, crew), name=name, daemon=True)

    def hand(self, assignment: tuple[Job, Latch] | None) -> None:
        """Give a parked worker its next job (None: exit). Only ever once per parking."""
        self.assignment = assignment
        self.go.release()


class _Crew:
    """The pool's shared state. Workers hold this rather than the pool, so a pool nobody
    uses any more can be garbage-collected, which lets its parked workers go."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.workers: list[_Worker] = []
        self.started = 0

    def park(self, worker: _Worker) -> bool:
        """Back on the idle list; False if the pool was closed meanwhile (the worker exits)."""
        with self.lock:
            if worker.retired:
                return False
            self.idle.append(worker)
            return True

    def retire(self) -> list[_Worker]:
        """Send idle workers away now and busy ones after their job; returns them all."""
        with self.lock:
            workers, self.workers = self.workers, []
            idle, self.idle = self.idle, []
            for worker in workers:
                worker.retired = True
        for worker in idle:
            worker.hand(None)
        return workers


def _serve(worker: _Worker, crew: _Crew) -> None:
    while True:
        worker.go.acquire()
        assignment, worker.assignment = worker.assignment, None
        if assignment is None:
            return
        job, latch = assignment
        try:
            job()
        except BaseException:  # jobs (branch loops) do not raise; if one does, say so
            logger.exception("parallel_group worker %s: job raised", worker.thread.name)
        finally:
            stays = crew.park(worker)
            latch.count_down()
        if not stays:
            return


class BranchPool:
    """Worker threads shared by every group of every run of one `ParallelExtension`.

    Threads start on first use, so a chain without groups never starts one, and stay parked
    between groups: starting a thread costs 0.1-0.4 ms here, more than scheduling a whole
    group. `close()` joins them; a pool that is garbage-collected lets them exit.
    """

    def __init__(self, ceiling: int = POOL_CEILING) -> None:
        self._crew = _Crew()
        self._ceiling = ceiling
        weakref.finalize(self, _Crew.retire, self._crew)

    def launch(self, job: Job, count: int, latch: Latch) -> int:
        """Run `job` on up to `count` workers; each counts `latch` down when its job ends.

        Returns how many started. That is fewer than `count` only at the ceiling (groups of
        other runs sharing this pool hold the rest); a group then runs on fewer threads.
        """
        crew = self._crew
        with crew.lock:
            woken = [crew.idle.pop() for _ in range(min(count, len(crew.idle)))]
            fresh = []
            for _ in range(min(count - len(woken), self._ceiling - len(crew.workers))):
                crew.started += 1
                worker = _Worker(f"{THREAD_PREFIX}-{crew.started}", crew)
                crew.workers.append(worker)
                fresh.append(worker)
        latch.add(len(woken) + len(fresh))
        for worker in woken:
            worker.hand((job, latch))
        started = len(woken)
        for worker in fresh:
            worker.assignment = (job, latch)
            try:
                worker.thread.start()
            except RuntimeError:  # the system would not start another thread: do with fewer
                with crew.lock:
                    crew.workers.remove(worker)
                latch.count_down()
                continue
            started += 1
        return started

    def close(self) -> None:
        """Join every worker (a busy one once its job ends). The next `launch` starts new
        threads, so a closed pool still works."""
        for worker in self._crew.retire():
            if worker.thread is not threading.current_thread():
                worker.thread.join()

    @property
    def thread_count(self) -> int:
        """Worker threads alive or starting (for tests and diagnostics)."""
        with self._crew.lock:
            return len(self._crew.workers)
