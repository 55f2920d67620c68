"""What earlier runs of a kind of group taught the scheduler: how long its branches take."""

from __future__ import annotations

import statistics
from collections.abc import Hashable, Sequence

from ai_content_pipeline.pipeline.groups import BranchTask

GroupKey = Hashable

# Kinds of group remembered by `GroupHistory`; past this many it starts afresh.
HISTORY_LIMIT = 1024


def group_key(tasks: Sequence[BranchTask]) -> GroupKey:
    """What makes two groups alike for scheduling: their branches' step types and models."""
    return tuple((task.step.step_type.value, task.step.model) for task in tasks)


class GroupHistory:
    """The median branch time of each kind of group, the last time it ran.

    The scheduler compares it with its grace period. A group whose branches took at least
    that long would have outlived the grace anyway, so its pool threads start at once; a
    group of instant branches runs on the calling thread without waking any pool thread; a
    group never seen gets the grace. Only *when* threads start depends on this, never what
    a branch produces.
    """

    def __init__(self) -> None:
        self._median_seconds: dict[GroupKey, float] = {}

    def median_branch_seconds(self, key: GroupKey) -> float | None:
        """The median branch time of this kind of group's last run; None if it never ran."""
        return self._median_seconds.get(key)

    def record(self, key: GroupKey, branch_seconds: Sequence[float]) -> None:
        if not branch_seconds:
            return
        if len(self._median_seconds) >= HISTORY_LIMIT and key not in self._median_seconds:
            self._median_seconds.clear()
        self._median_seconds[key] = statistics.median(branch_seconds)
