"""The three flag states a pipeline is recorded in, and how to enter each one for real.

``absent``  the `parallel` package cannot be imported (as if deleted): the core runs groups
            with its own `SequentialScheduler` and never sees a `ParallelExtension`.
``off``     `parallel` is importable, ``PIPELINE_PARALLEL_ENABLED=false``: the extension is
            loaded but disabled, groups still run sequentially.
``on``      ``PIPELINE_PARALLEL_ENABLED=true``: the registered default concurrent scheduler
            (`parallel`'s ``async``) runs the groups.

Every state sets ``HOME`` to an empty temporary folder so a user's
``~/.ai_pipeline/features.json`` cannot decide the flag. A harness that silently records the
wrong state is worse than none, so `describe_state` checks what an executor actually got and
raises `RuntimeError` on any mismatch.

This module must not import `ai_content_pipeline` at import time: the worker enters a state
before the core (and through it `parallel`) is imported.
"""

from __future__ import annotations

import importlib.abc
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from .environ import patched_env

STATES: tuple[str, ...] = ("absent", "off", "on")
REFERENCE_STATE = "off"

# Same name as `ai_content_pipeline.config.features.PARALLEL_ENV_VAR` (a test keeps them equal);
# not imported from there so entering a state imports nothing from the core.
PARALLEL_ENV_VAR = "PIPELINE_PARALLEL_ENABLED"
HOME_ENV_VAR = "HOME"

FLAG_VALUES = {"absent": "false", "off": "false", "on": "true"}
EXPECTED_SCHEDULERS = {"absent": "sequential", "off": "sequential", "on": "async"}

BLOCKED_PACKAGE = "parallel"
# The core's re-export of `parallel`; it would hand out a cached `ParallelExtension`.
REEXPORT_MODULE = "ai_content_pipeline.pipeline.parallel_extension"


def check_state(state: str) -> str:
    """`state` if it is one of `STATES`, else `ValueError`."""
    if state not in STATES:
        raise ValueError(f"unknown flag state {state!r}; expected one of {', '.join(STATES)}")
    return state


# --- blocking `parallel` ----------------------------------------------------------------------


def _is_parallel(name: str) -> bool:
    return name == BLOCKED_PACKAGE or name.startswith(BLOCKED_PACKAGE + ".")


def _is_cached_parallel(name: str) -> bool:
    return _is_parallel(name) or name == REEXPORT_MODULE


class ParallelImportBlocker(importlib.abc.MetaPathFinder):
    """A `sys.meta_path` finder that makes `parallel` and `parallel.*` unimportable."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if _is_parallel(fullname):
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (blocked by the harness state 'absent')",
                name=fullname,
            )
        return None


def is_parallel_blocked() -> bool:
    """True while a `ParallelImportBlocker` is installed."""
    return any(isinstance(finder, ParallelImportBlocker) for finder in sys.meta_path)


def _drop_cached() -> None:
    """Forget imported `parallel` modules: a cached module would bypass the finder."""
    for name in [n for n in sys.modules if _is_cached_parallel(n)]:
        del sys.modules[name]
    parent_name, _, attr = REEXPORT_MODULE.rpartition(".")
    parent = sys.modules.get(parent_name)
    if parent is not None and attr in vars(parent):
        delattr(parent, attr)


def block_parallel_import() -> None:
    """Make `parallel` unimportable for the rest of this process (the worker's ``absent``).

    Idempotent. Also drops already-imported `parallel` modules and the core's re-export.
    """
    if not is_parallel_blocked():
        sys.meta_path.insert(0, ParallelImportBlocker())
    _drop_cached()


@contextmanager
def parallel_blocked() -> Iterator[None]:
    """`block_parallel_import` for a `with` block; finder and modules are restored on exit."""
    parent_name, _, attr = REEXPORT_MODULE.rpartition(".")
    saved_modules = {n: m for n, m in sys.modules.items() if _is_cached_parallel(n)}
    parent = sys.modules.get(parent_name)
    saved_attr = vars(parent).get(attr) if parent is not None else None
    blocker = ParallelImportBlocker()
    sys.meta_path.insert(0, blocker)
    _drop_cached()
    try:
        yield
    finally:
        if blocker in sys.meta_path:
            sys.meta_path.remove(blocker)
        for name in [n for n in sys.modules if _is_cached_parallel(n)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        parent = sys.modules.get(parent_name)
        if parent is not None:
            if saved_attr is not None:
                setattr(parent, attr, saved_attr)
            elif attr in vars(parent):
                delattr(parent, attr)


# --- entering a state -------------------------------------------------------------------------


@contextmanager
def activate(state: str) -> Iterator[None]:
    """Enter `state` in this process for the `with` block; the environment is restored exactly.

    Only executors constructed inside the block are affected: the flag is read, and `parallel`
    imported, when a `ChainExecutor` is created.
    """
    check_state(state)
    with ExitStack() as stack:
        home = stack.enter_context(tempfile.TemporaryDirectory(prefix="harness-home-"))
        stack.enter_context(patched_env({PARALLEL_ENV_VAR: FLAG_VALUES[state], HOME_ENV_VAR: home}))
        if state == "absent":
            stack.enter_context(parallel_blocked())
        yield


# --- checking a state -------------------------------------------------------------------------


def detect_state(executor: Any) -> str:
    """Which of `STATES` a constructed `ChainExecutor` is in, from its public
    `scheduler_info` only; `RuntimeError` if none fits."""
    info = executor.scheduler_info
    if not info.extension_loaded and not info.concurrent:
        return "absent"
    if info.extension_loaded and not info.flag_enabled and not info.concurrent:
        return "off"
    if info.extension_loaded and info.flag_enabled and info.concurrent:
        return "on"
    raise RuntimeError(f"executor is in no known flag state: {info}")


def describe_state(executor: Any, expected: str | None = None) -> str:
    """The executor's scheduler name; with `expected`, `RuntimeError` unless in that state."""
    actual = detect_state(executor)
    if expected is not None and actual != check_state(expected):
        raise RuntimeError(
            f"flag state {expected!r} did not take effect: the executor is in state {actual!r} "
            f"({executor.scheduler_info})"
        )
    return str(executor.scheduler_info.name)
