"""The deterministic timing model of a run: nominal model seconds, never measured wall time.

Why a model: wall times vary with the machine and the jitter, so snapshots cannot hold them. The
stub reports each call's nominal ``metadata.model_time`` (seconds, unscaled), which is enough to
say what a run *should* take sequentially and on a perfect concurrent scheduler.

* A step's latency is ``metadata.model_time x metadata.attempts`` (attempts default 1, every
  retry sleeps again); a step without ``model_time`` (e.g. one whose generator raised) counts 0.
* A parallel_group's branches each get a latency the same way, from
  ``parallel_results[i].result.metadata``; the group contributes their `makespan` on its
  ``max_workers`` workers to the critical path and their sum to the sequential time.
* ``ideal_speedup = sequential / critical`` (1.0 when the critical path is 0).

Numbers are rounded to 6 decimals on output only; sums use the exact values.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_MAX_WORKERS = 3  # groups.DEFAULT_MAX_WORKERS; kept equal by a test
DECIMALS = 6


def makespan(latencies: Sequence[float], workers: int) -> float:
    """Finish time of greedy list scheduling in declaration order onto `workers` workers.

    Each branch goes to the earliest-free worker, exactly how `parallel.ThreadPoolScheduler`
    feeds branches (it submits the next one whenever one finishes). ``workers < 1`` counts as 1,
    as in the scheduler.
    """
    if not latencies:
        return 0.0
    finish = [0.0] * min(max(1, int(workers)), len(latencies))
    for latency in latencies:
        start = heapq.heappop(finish)
        heapq.heappush(finish, start + float(latency))
    return max(finish)


def call_latency(result: Mapping[str, Any]) -> float:
    """Nominal seconds a step or branch spent in model calls: model_time x attempts."""
    metadata = result.get("metadata") or {}
    model_time = metadata.get("model_time", 0.0)
    attempts = metadata.get("attempts", 1)
    if not _is_number(model_time):
        model_time = 0.0
    if not _is_number(attempts):
        attempts = 1
    return float(model_time) * int(attempts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_group(result: Mapping[str, Any]) -> bool:
    return result.get("step_type") == "parallel_group" or "parallel_results" in result


def _max_workers(result: Mapping[str, Any]) -> int:
    value = (result.get("params") or {}).get("max_workers", DEFAULT_MAX_WORKERS)
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_WORKERS


def timing_model(step_results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON-ready timing model of one run's step results (executed steps only)."""
    steps: list[dict[str, Any]] = []
    sequential = 0.0
    critical = 0.0
    for index, result in enumerate(step_results):
        number = result.get("step_number", index + 1)
        label = f"{number}_{result.get('step_type', 'unknown')}"
        if _is_group(result):
            workers = _max_workers(result)
            branches = []
            latencies = []
            for position, entry in enumerate(result.get("parallel_results") or []):
                latency = call_latency(entry.get("result") or {})
                latencies.append(latency)
                branches.append(
                    {
                        "branch": int(entry.get("step_index", position)) + 1,
                        "model": entry.get("model"),
                        "latency": round(latency, DECIMALS),
                    }
                )
            span = makespan(latencies, workers)
            sequential += sum(latencies)
            critical += span
            steps.append(
                {
                    "step": label,
                    "max_workers": workers,
                    "branches": branches,
                    "makespan": round(span, DECIMALS),
                }
            )
        else:
            latency = call_latency(result)
            sequential += latency
            critical += latency
            steps.append(
                {"step": label, "model": result.get("model"), "latency": round(latency, DECIMALS)}
            )
    speedup = sequential / critical if critical > 0 else 1.0
    return {
        "steps": steps,
        "sequential_seconds": round(sequential, DECIMALS),
        "critical_path_seconds": round(critical, DECIMALS),
        "ideal_speedup": round(speedup, DECIMALS),
    }
