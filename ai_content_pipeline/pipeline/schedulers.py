"""Schedulers by name: the core's sequential one, and whatever the
``ai_content_pipeline.schedulers`` entry-point group registers.

Why entry points: the core must not know the `parallel` package. A scheduler registers a
factory ``(clock) -> GroupScheduler`` under a name (``pyproject.toml``); ``true`` in the flag
means `DEFAULT_CONCURRENT`. A registered scheduler that cannot be imported (its package was
deleted) leaves groups running sequentially, as the core promises.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from importlib import metadata

from ..clock import Clock
from ..config.features import FlagState
from .groups import SEQUENTIAL, GroupScheduler, SequentialScheduler

logger = logging.getLogger("ai_content_pipeline")

ENTRY_POINT_GROUP = "ai_content_pipeline.schedulers"
DEFAULT_CONCURRENT = "async"

SchedulerFactory = Callable[[Clock], GroupScheduler]


@functools.cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    # Scanning installed distributions costs milliseconds; they do not change within a run.
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def registered_names() -> list[str]:
    """Every scheduler name a flag may give, the core's own first."""
    return [SEQUENTIAL, *sorted(n for n in _entry_points() if n != SEQUENTIAL)]


def is_registered(name: str) -> bool:
    return name == SEQUENTIAL or name in _entry_points()


def load_scheduler(name: str, clock: Clock) -> GroupScheduler:
    """The scheduler `name` on `clock`; sequential when `name` is not importable."""
    if name == SEQUENTIAL:
        return SequentialScheduler(clock)
    entry = _entry_points().get(name)
    if entry is None:
        logger.warning("scheduler %r is not registered; groups run sequentially", name)
        return SequentialScheduler(clock)
    try:
        factory: SchedulerFactory = entry.load()
    except ImportError as exc:
        logger.debug("scheduler %r cannot be imported (%s); groups run sequentially", name, exc)
        return SequentialScheduler(clock)
    return factory(clock)


def wanted_scheduler(flag: FlagState) -> str:
    """The scheduler name the flag asks for: its own name, `DEFAULT_CONCURRENT` for a bare
    ``true``, the core's sequential one when off."""
    if not flag.enabled:
        return SEQUENTIAL
    return flag.scheduler or DEFAULT_CONCURRENT
