"""Exact checks of a run's schedule on the virtual clock, and the completion orders replayed.

Why exact: on the virtual clock a branch takes precisely its model latency, so what a group
took is what the scheduling policy achieved, with no noise. Every check here is an equality.

Expected call time (the stub's rule, in model seconds): per attempt
``nominal x factor + stub_delay``, cut at ``params.timeout``; a step takes that once per
attempt. ``factor`` is 1 unless an order replay gives the branch another latency.

Invariants of a group run in state `state` with `W` = ``max_workers`` and `n` branches:

* every branch took its expected time;
* peak in flight <= W; it equals ``min(W, n)`` in ``on`` and 1 in ``off``/``absent``;
* the makespan equals greedy list scheduling of the branch times in declaration order onto W
  workers (``on``) or their sum (``off``/``absent``);
* the run's total virtual time equals the sum of its steps' expected times, groups counting
  their modelled makespan: nothing waits between steps.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai_content_pipeline.models.stub import call_seconds
from ai_content_pipeline.pipeline.chain import PipelineStep, StepType, branch_steps
from ai_content_pipeline.pipeline.schedule import GroupSchedule

from .timing import makespan

TOLERANCE = 1e-6  # model seconds; sums of binary floats, nothing else
ALL_ORDERS_UP_TO = 5  # every permutation for groups this small (5! = 120 replays)
SEEDED_SHUFFLES = 6
CONCURRENT_STATES = ("on",)


@dataclass(frozen=True)
class Order:
    """A replay of one group: branch ``ranks[i]`` finishes i-th among equal latencies.

    Branch at rank k gets latency factor ``0.5 + k / n`` (in [0.5, 1.5)), so when the
    branches' nominal latencies are equal they complete in exactly this order."""

    step_label: str
    kind: str
    ranks: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.step_label}:{self.kind}:{','.join(str(i + 1) for i in self.ranks)}"

    def factors(self) -> dict[str, float]:
        count = len(self.ranks)
        return {
            f"{self.step_label}_branch{index + 1}": 0.5 + rank / count
            for rank, index in enumerate(self.ranks)
        }


def orders_for(step_label: str, branches: int, state: str) -> Iterator[Order]:
    """The replays of one group. Concurrent states: every order of up to
    `ALL_ORDERS_UP_TO` branches, else declaration, reversed, rotations and seeded shuffles.
    Sequential states complete in declaration order whatever the latencies, so two replays
    (declaration, reversed latencies) cover them."""
    identity = tuple(range(branches))
    if branches < 2:
        return
    if state not in CONCURRENT_STATES:
        yield Order(step_label, "declared", identity)
        yield Order(step_label, "reversed", identity[::-1])
        return
    if branches <= ALL_ORDERS_UP_TO:
        for ranks in itertools.permutations(identity):
            yield Order(step_label, "perm", ranks)
        return
    seen = set()
    candidates = [("declared", identity), ("reversed", identity[::-1])]
    candidates += [("rotate", identity[k:] + identity[:k]) for k in range(1, branches)]
    shuffler = random.Random(f"{step_label}:{branches}")
    for _ in range(SEEDED_SHUFFLES):
        ranks = list(identity)
        shuffler.shuffle(ranks)
        candidates.append(("shuffle", tuple(ranks)))
    for kind, ranks in candidates:
        if ranks not in seen:
            seen.add(ranks)
            yield Order(step_label, kind, ranks)


def parse_order(text: str) -> tuple[str, tuple[int, ...]]:
    """``step2:perm:3,1,2`` -> (``step2``, (2, 0, 1)): the form failures print, for replays."""
    try:
        label, _kind, ranks = text.split(":")
        return label, tuple(int(r) - 1 for r in ranks.split(","))
    except ValueError:
        raise ValueError(
            f"cannot read the order {text!r}; expected e.g. step2:perm:3,1,2"
        ) from None


# -- expected times ---------------------------------------------------------------------------


def _number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        return float(value)
    except ValueError:
        return default


def _attempts(result: Mapping[str, Any]) -> int:
    attempts = (result.get("metadata") or {}).get("attempts", 1)
    return attempts if isinstance(attempts, int) and attempts >= 1 else 1


def expected_seconds(step: PipelineStep, result: Mapping[str, Any], factor: float) -> float:
    """Model seconds the stub call(s) of `step` take on the virtual clock."""
    params = step.params
    per_attempt = call_seconds(step.step_type.value, step.model) * factor
    per_attempt += _number(params.get("stub_delay"))
    timeout = _number(params.get("timeout"))
    if timeout > 0:
        per_attempt = min(per_attempt, timeout)
    return per_attempt * _attempts(result)


def group_branch_seconds(
    group: PipelineStep, result: Mapping[str, Any], label: str, factors: Mapping[str, float]
) -> list[float]:
    entries = result.get("parallel_results") or []
    seconds = []
    for index, branch in enumerate(branch_steps(group)):
        branch_result = entries[index].get("result") or {} if index < len(entries) else {}
        factor = factors.get(f"{label}_branch{index + 1}", 1.0)
        seconds.append(expected_seconds(branch, branch_result, factor))
    return seconds


# -- checks -----------------------------------------------------------------------------------


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def check_group(schedule: GroupSchedule, expected: Sequence[float], state: str) -> list[str]:
    """What differs between a group's recorded schedule and the policy of `state`."""
    problems = []
    where = f"{schedule.step_label} (parallel_group)"
    count = len(expected)
    workers = max(1, schedule.max_workers)
    if len(schedule.branches) != count:
        problems.append(f"{where}: {len(schedule.branches)} branches ran, expected {count}")
        return problems
    for span, seconds in zip(schedule.branches, expected, strict=True):
        if not _close(span.seconds, seconds):
            problems.append(
                f"{where}: branch {span.index + 1} took {span.seconds:g} s, expected {seconds:g}"
            )
    concurrent = state in CONCURRENT_STATES
    want_peak = min(workers, count) if concurrent else min(1, count)
    if schedule.peak_in_flight > workers:
        problems.append(
            f"{where}: {schedule.peak_in_flight} branches in flight, max_workers is {workers}"
        )
    elif schedule.peak_in_flight != want_peak:
        problems.append(f"{where}: peak in flight {schedule.peak_in_flight}, expected {want_peak}")
    actual_spans = [span.seconds for span in schedule.branches]
    model = makespan(actual_spans, workers) if concurrent else sum(actual_spans)
    if not _close(schedule.makespan, model):
        policy = f"greedy list schedule on {workers} workers" if concurrent else "sequential sum"
        problems.append(f"{where}: makespan {schedule.makespan:g} s, the {policy} gives {model:g}")
    return problems


@dataclass(frozen=True)
class RunTiming:
    """A run's modelled total and the per-group expectations the checks need."""

    total: float
    groups: dict[str, list[float]]


def model_run(
    steps: Sequence[PipelineStep],
    step_results: Sequence[Mapping[str, Any]],
    state: str,
    factors: Mapping[str, float],
) -> RunTiming:
    """The expected virtual time of a run from its executed steps."""
    total = 0.0
    groups: dict[str, list[float]] = {}
    for number, (step, result) in enumerate(zip(steps, step_results, strict=False), start=1):
        label = f"step{number}"
        if step.step_type is StepType.PARALLEL_GROUP:
            seconds = group_branch_seconds(step, result, label, factors)
            groups[label] = seconds
            workers = int(_number(step.params.get("max_workers"), 3))
            total += makespan(seconds, workers) if state in CONCURRENT_STATES else sum(seconds)
        else:
            total += expected_seconds(step, result, factors.get(label, 1.0))
    return RunTiming(total, groups)


def check_run(
    steps: Sequence[PipelineStep],
    step_results: Sequence[Mapping[str, Any]],
    schedules: Sequence[GroupSchedule],
    total_seconds: float,
    state: str,
    factors: Mapping[str, float] | None = None,
) -> list[str]:
    """Every schedule problem of one run (empty: the run did exactly what the policy says)."""
    factors = factors or {}
    timing = model_run(steps, step_results, state, factors)
    problems = []
    recorded = {schedule.step_label: schedule for schedule in schedules}
    for label, expected in timing.groups.items():
        schedule = recorded.get(label)
        if schedule is None:
            problems.append(f"{label} (parallel_group): no schedule was recorded")
            continue
        problems.extend(check_group(schedule, expected, state))
    if not _close(total_seconds, timing.total):
        problems.append(f"run took {total_seconds:g} virtual s, its model says {timing.total:g}")
    return problems
