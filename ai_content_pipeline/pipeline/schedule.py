"""When each branch of a group ran, on the executor's clock: what the release gate checks.

Recorded only when someone asks (`ChainExecutor.schedule_trace`); under the virtual clock the
times are model seconds, exact and the same on every machine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


class _Timed(Protocol):
    index: int
    started: float
    ended: float


@dataclass(frozen=True)
class BranchSpan:
    """One branch's run: its 0-based index, start and end."""

    index: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class GroupSchedule:
    """One group's run: its label, `max_workers`, branch spans and the peak in flight."""

    step_label: str
    max_workers: int
    branches: tuple[BranchSpan, ...]
    peak_in_flight: int
    start: float
    end: float

    @classmethod
    def of(
        cls,
        step_label: str,
        max_workers: int,
        outcomes: Iterable[_Timed],
        peak_in_flight: int,
        start: float,
        end: float,
    ) -> GroupSchedule:
        spans = tuple(
            sorted(
                (BranchSpan(o.index, o.started, o.ended) for o in outcomes),
                key=lambda span: span.index,
            )
        )
        return cls(step_label, max_workers, spans, peak_in_flight, start, end)

    @property
    def makespan(self) -> float:
        return self.end - self.start

    def completion_order(self) -> list[int]:
        """Branch indices by end time (ties by index): what a replay names."""
        return [s.index for s in sorted(self.branches, key=lambda s: (s.end, s.index))]

    def to_dict(self, origin: float = 0.0, decimals: int = 6) -> dict[str, Any]:
        def at(value: float) -> float:
            return round(value - origin, decimals)

        return {
            "step": self.step_label,
            "max_workers": self.max_workers,
            "peak_in_flight": self.peak_in_flight,
            "start": at(self.start),
            "end": at(self.end),
            "branches": [
                {"branch": s.index + 1, "start": at(s.start), "end": at(s.end)}
                for s in self.branches
            ],
        }


@dataclass
class ScheduleTrace:
    """Collects the schedule of every group of the runs it is attached to."""

    groups: list[GroupSchedule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, schedule: GroupSchedule) -> None:
        with self._lock:
            self.groups.append(schedule)

    def clear(self) -> None:
        with self._lock:
            self.groups.clear()


class InFlight:
    """Counts branches in flight and remembers the peak (shared by a group's workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1
