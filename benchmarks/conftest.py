"""pytest-benchmark benchmarks: figures to watch, with the issue's targets asserted.

Not part of the test suite (``testpaths = ["tests"]``, and these files are named
``bench_*.py``). Run them explicitly, serially, from the repository root::

    PYTHONPATH=. .venv/bin/pytest benchmarks -p no:xdist --benchmark-only \
        -o python_files='bench_*.py'

Add ``-k executor``, ``-k group`` or ``-k xdist`` to run one file. Every benchmark prints its
figures in a table at the end of the run and stores them in ``extra_info`` (see
``--benchmark-json``). Under a pytest-xdist worker they refuse to run: concurrent workers on a
2-core machine would measure each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from _tables import TABLES, render

from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.models.stub import JITTER_SEED_ENV, TIME_SCALE_ENV


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title in TABLES:
        terminalreporter.write_sep("-", title)
        for line in render(title):
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _serial_only() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            "benchmarks must run serially: use `-p no:xdist` (they refuse to run in an "
            "xdist worker)",
            pytrace=False,
        )


@pytest.fixture
def stub_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No jitter, no latency and the flag off unless a benchmark says otherwise."""
    monkeypatch.delenv(JITTER_SEED_ENV, raising=False)
    monkeypatch.setenv(TIME_SCALE_ENV, "0")
    monkeypatch.setenv(PARALLEL_ENV_VAR, "false")
    yield monkeypatch
