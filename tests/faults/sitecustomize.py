"""Fault injector for a real `harness gate` process: put this folder on PYTHONPATH.

``AICP_FAULT_CORE_SLOWDOWN=<fraction>`` (e.g. ``0.3``) makes every step the core executes
cost `fraction` more wall time, in every flag state: after `ChainExecutor._execute_step`
returns, the thread spins on the CPU for `fraction` of the time the step took. Nothing
observable changes (outputs, virtual-clock schedules): only a wall-clock measurement against a
baseline can see it.

Python imports `sitecustomize` at start-up, before the harness (or its state workers) import
the core, so the executor is patched when its module is first imported, by a finder that
watches for it; nothing is imported early (the ``absent`` state must be entered first).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import time
from pathlib import Path
from typing import Any

SLOWDOWN_ENV = "AICP_FAULT_CORE_SLOWDOWN"
TARGET = "ai_content_pipeline.pipeline.executor"
CHECKOUT = Path(__file__).resolve().parents[2]


def _spin(seconds: float) -> None:
    """Busy-wait (CPU, not sleep) for `seconds` of wall time."""
    ends = time.perf_counter() + seconds
    while time.perf_counter() < ends:
        pass


def _patch(module: Any, fraction: float) -> None:
    executor = module.ChainExecutor
    real = executor._execute_step

    def _execute_step(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(self, *args, **kwargs)
        finally:
            _spin(fraction * (time.perf_counter() - started))

    executor._execute_step = _execute_step
    executor._aicp_fault_core_slowdown = fraction


class _PatchOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, fraction: float) -> None:
        self.fraction = fraction
        self._inner: Any = None

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        self._inner = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        if _in_this_checkout(module):
            _patch(module, self.fraction)


def _in_this_checkout(module: Any) -> bool:
    """The fault is in this checkout's code only: an older release that the perf gate runs
    as its baseline (extracted elsewhere) stays as it was released."""
    return Path(module.__file__).resolve().is_relative_to(CHECKOUT)


def _install() -> None:
    text = os.environ.get(SLOWDOWN_ENV, "").strip()
    if not text:
        return
    fraction = float(text)
    if TARGET in sys.modules:
        if _in_this_checkout(sys.modules[TARGET]):
            _patch(sys.modules[TARGET], fraction)
    else:
        sys.meta_path.insert(0, _PatchOnImport(fraction))


_install()
