"""Faults the release gate exists to catch, ready to be monkeypatched in by
`tests/test_gate_selftest.py`.

Each factory returns the replacement for one real function; the test installs it with
`monkeypatch.setattr`, so the fault lives for one test only. Faults that concern the concurrent
scheduler act in the ``on`` state only: either they replace a `parallel` function (which only the
``on`` state calls), or they check the state themselves — `flag_on()` while the harness records
(its `activate` sets the flag variable for the whole recording), `runs_parallel()` inside the
executor (the perf gate sets the variable only while building its executors).

Several factories also log what the fault did (a completion order, a deleted file, a file-name
stamp), so a test can first show the fault really happened and then that the gate saw it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from ai_content_pipeline.config.features import PARALLEL_ENV_VAR, TRUE_SPELLINGS
from ai_content_pipeline.pipeline.chain import ChainResult, ContentCreationChain
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.pipeline.groups import BranchTask, GroupSettings

RunBranches = Callable[[Any, Sequence[BranchTask], int], list[dict[str, Any]]]
Merge = Callable[[GroupSettings, list[dict[str, Any]]], dict[str, Any]]
Execute = Callable[..., ChainResult]
PARALLEL_SCHEDULER = "ParallelExtension"


def flag_on() -> bool:
    """True while the parallel flag variable says ``on`` (how the harness enters that state)."""
    return os.environ.get(PARALLEL_ENV_VAR, "").strip().lower() in TRUE_SPELLINGS


def runs_parallel(executor: ChainExecutor) -> bool:
    """True for an executor whose groups go to the concurrent scheduler."""
    return executor.scheduler_name == PARALLEL_SCHEDULER


# -- completion order ------------------------------------------------------------------------------


def _in_completion_order(
    scheduler: Any, tasks: Sequence[BranchTask], max_workers: int
) -> list[tuple[int, dict[str, Any]]]:
    """(index, result) of every branch, in the order the branches finished.

    Same feeding as `ThreadPoolScheduler.run_branches` (at most `max_workers` in flight, the
    next branch submitted when one finishes); branches finishing in one `wait` round are taken
    in declaration order, so any reordering seen is a real one.
    """
    waiting = iter(tasks)
    in_flight: dict[Future[dict[str, Any]], int] = {}
    finished: list[tuple[int, dict[str, Any]]] = []
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:

        def submit_next() -> None:
            task = next(waiting, None)
            if task is not None:
                in_flight[pool.submit(task.run)] = task.index

        for _ in range(max(1, max_workers)):
            submit_next()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=in_flight.__getitem__):
                finished.append((in_flight.pop(future), future.result()))
                submit_next()
    return finished


def results_in_completion_order(orders: list[list[int]]) -> RunBranches:
    """`ThreadPoolScheduler.run_branches` handing results back as branches finish, not in
    declaration order: the merge then pairs branch i with whichever result came i-th.
    Each group's completion order is appended to `orders`."""

    def run_branches(
        self: Any, tasks: Sequence[BranchTask], max_workers: int
    ) -> list[dict[str, Any]]:
        finished = _in_completion_order(self, tasks, max_workers)
        orders.append([index for index, _ in finished])
        return [result for _, result in finished]

    return run_branches


def costs_in_completion_order(orders: list[list[int]]) -> tuple[RunBranches, Merge]:
    """(`run_branches`, `merge_results`) that sum a group's cost in completion order.

    Results still come back in declaration order (so everything else matches); the scheduler
    leaves the completion order for the merge of the same group (same thread), which re-adds the
    branch costs in that order. Floating-point addition is not associative, so the group's cost
    can change in the last bit. Each group's completion order is appended to `orders`.
    """
    from ai_content_pipeline.pipeline import groups

    real_merge = groups.merge_results
    pending = threading.local()

    def run_branches(
        self: Any, tasks: Sequence[BranchTask], max_workers: int
    ) -> list[dict[str, Any]]:
        finished = _in_completion_order(self, tasks, max_workers)
        pending.order = [index for index, _ in finished]
        orders.append(pending.order)
        return [result for _, result in sorted(finished, key=lambda item: item[0])]

    def merge_results(settings: GroupSettings, results: list[dict[str, Any]]) -> dict[str, Any]:
        merged = real_merge(settings, results)
        order = getattr(pending, "order", None)
        pending.order = None
        if order is not None:
            total = 0.0
            for index in order:
                total += float(results[index].get("cost") or 0.0)
            merged["cost"] = total
        return merged

    return run_branches, merge_results


# -- shared context --------------------------------------------------------------------------------


def shared_branch_context(real: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """`groups.branch_context` that, with the flag on, hands back its argument: every branch
    of a group then shares one mutable context (and ends with the last branch's label).
    Install as ``monkeypatch.setattr(groups, "branch_context", shared_branch_context(...))``.
    """

    def branch_context(step_context: dict[str, Any]) -> dict[str, Any]:
        return step_context if flag_on() else real(step_context)

    return branch_context


# -- the public API --------------------------------------------------------------------------------

EXECUTE_SIGNATURE = "def execute(self, chain: ContentCreationChain, input_data: str, **kwargs"
EXECUTE_WITHOUT_INPUT = "def execute(self, chain: ContentCreationChain, **kwargs"


def copy_without_execute_input(package_dir: Path, destination: Path) -> Path:
    """Copy the package to ``destination/<name>`` with ``input_data`` dropped from
    `ChainExecutor.execute`'s signature; returns `destination` (a griffe search path).
    Raises `AssertionError` when the signature is no longer where this fault expects it."""
    target = destination / package_dir.name
    shutil.copytree(package_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    executor = target / "pipeline" / "executor.py"
    source = executor.read_text(encoding="utf-8")
    assert source.count(EXECUTE_SIGNATURE) == 1, "ChainExecutor.execute changed; update the fault"
    executor.write_text(source.replace(EXECUTE_SIGNATURE, EXECUTE_WITHOUT_INPUT), encoding="utf-8")
    return destination


# -- performance -----------------------------------------------------------------------------------


def one_worker(real: RunBranches) -> RunBranches:
    """`ThreadPoolScheduler.run_branches` with every group's ``max_workers`` forced to 1."""

    def run_branches(
        self: Any, tasks: Sequence[BranchTask], max_workers: int
    ) -> list[dict[str, Any]]:
        return real(self, tasks, 1)

    return run_branches


def slower_execute(real: Execute, fraction: float) -> Execute:
    """`ChainExecutor.execute` that, with the concurrent scheduler, spends `fraction` of the
    run's own time once more (a 30 % slowdown for 0.3)."""

    def execute(
        self: ChainExecutor, chain: ContentCreationChain, input_data: str, **kwargs: Any
    ) -> ChainResult:
        started = time.perf_counter()
        result = real(self, chain, input_data, **kwargs)
        if runs_parallel(self):
            time.sleep(fraction * (time.perf_counter() - started))
        return result

    return execute


# -- files -----------------------------------------------------------------------------------------


def drop_branch_output(real: Execute, chain_name: str, branch: int, dropped: list[Path]) -> Execute:
    """`ChainExecutor.execute` that, with the concurrent scheduler and for `chain_name` only,
    deletes the file branch `branch` (1-based) of step 1 produced, after the run. Each deleted
    path is appended to `dropped`."""

    def execute(
        self: ChainExecutor, chain: ContentCreationChain, input_data: str, **kwargs: Any
    ) -> ChainResult:
        result = real(self, chain, input_data, **kwargs)
        if runs_parallel(self) and chain.name == chain_name:
            entry = result.step_results[0]["parallel_results"][branch - 1]
            path = Path(entry["result"]["output_path"])
            path.unlink()
            dropped.append(path)
        return result

    return execute


def timestamped_file_names(real: Callable[..., Any], stamps: list[str]) -> Callable[..., Any]:
    """`_FileGenerator._produce` that, with the flag on, puts ``time.time_ns()`` into the label
    a media file is named after: ``step1_branch2_<ns>_<hash>.png``. Stamps go to `stamps`."""

    def produce(self: Any, request: Any, seed: bytes, controls: Any) -> Any:
        if flag_on():
            stamp = str(time.time_ns())
            stamps.append(stamp)
            request = dataclasses.replace(request, label=f"{request.label}_{stamp}")
        return real(self, request, seed, controls)

    return produce


STAMP = re.compile(r"_(\d{16,})_")
"""A nanosecond timestamp inside a file name."""
