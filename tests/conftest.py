"""Shared pytest configuration. Sections are delimited; append new ones, never remove others."""

# ============================================================================================
# BEGIN section: parallel-package blocking (AICP_BLOCK_PARALLEL) -- owned by the core-suite
# tests (test_public_interface / test_group_semantics / test_determinism /
# test_executor_behaviour). Other conftest sections live outside these markers; keep both.
#
# With env AICP_BLOCK_PARALLEL=1 the whole session runs as if the optional top-level
# `parallel` package were not installed: a sys.meta_path finder makes every import of
# `parallel` / `parallel.*` raise ImportError, and already-imported modules are evicted.
# Tests that need the concurrent scheduler carry `@pytest.mark.requires_parallel` and are
# skipped under the block. The `parallel_blocked` fixture gives the same block to one test.
# Hooks use `specname` so they never clash with same-named hooks in other sections.
# ============================================================================================
import importlib.abc as _aicp_importlib_abc
import os as _aicp_os
import sys as _aicp_sys

import pytest as _aicp_pytest

AICP_BLOCK_PARALLEL_ENV = "AICP_BLOCK_PARALLEL"
AICP_BLOCKED_MARK = "(blocked for tests)"
# Modules that hold references to `parallel` and must be re-imported under a block.
_AICP_PARALLEL_DEPENDENTS = ("ai_content_pipeline.pipeline.parallel_extension",)


def aicp_parallel_blocked_by_env() -> bool:
    """True when the session runs with the `parallel` package blocked."""
    return _aicp_os.environ.get(AICP_BLOCK_PARALLEL_ENV, "").strip() == "1"


class AicpParallelBlocker(_aicp_importlib_abc.MetaPathFinder):
    """Makes `import parallel` (and its submodules) fail as if the package were absent."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "parallel" or fullname.startswith("parallel."):
            raise ImportError(f"No module named {fullname!r} {AICP_BLOCKED_MARK}", name=fullname)
        return None


def _aicp_is_parallel_module(name: str) -> bool:
    return name == "parallel" or name.startswith("parallel.") or name in _AICP_PARALLEL_DEPENDENTS


def aicp_evict_parallel_modules() -> dict:
    """Remove `parallel` and modules re-exporting it from sys.modules; return what was removed."""
    evicted = {
        name: module
        for name, module in list(_aicp_sys.modules.items())
        if _aicp_is_parallel_module(name)
    }
    for name in evicted:
        del _aicp_sys.modules[name]
    return evicted


_aicp_session_blocker = None


@_aicp_pytest.hookimpl(specname="pytest_configure", tryfirst=True)
def pytest_configure_aicp_block_parallel(config):
    global _aicp_session_blocker
    config.addinivalue_line(
        "markers",
        "requires_parallel: needs the optional `parallel` package "
        f"(skipped when {AICP_BLOCK_PARALLEL_ENV}=1)",
    )
    if aicp_parallel_blocked_by_env() and _aicp_session_blocker is None:
        _aicp_session_blocker = AicpParallelBlocker()
        _aicp_sys.meta_path.insert(0, _aicp_session_blocker)
        aicp_evict_parallel_modules()


@_aicp_pytest.hookimpl(specname="pytest_unconfigure")
def pytest_unconfigure_aicp_block_parallel(config):
    global _aicp_session_blocker
    if _aicp_session_blocker is not None:
        if _aicp_session_blocker in _aicp_sys.meta_path:
            _aicp_sys.meta_path.remove(_aicp_session_blocker)
        _aicp_session_blocker = None


@_aicp_pytest.hookimpl(specname="pytest_runtest_setup")
def pytest_runtest_setup_aicp_requires_parallel(item):
    if aicp_parallel_blocked_by_env() and item.get_closest_marker("requires_parallel"):
        _aicp_pytest.skip(f"`parallel` package blocked ({AICP_BLOCK_PARALLEL_ENV}=1)")


@_aicp_pytest.hookimpl(specname="pytest_make_collect_report", wrapper=True)
def pytest_make_collect_report_aicp_block_parallel(collector):
    """Under the block, a test module that imports `parallel` at module level is skipped
    (like `pytest.importorskip`), instead of failing collection."""
    report = yield
    if (
        aicp_parallel_blocked_by_env()
        and report.failed
        and AICP_BLOCKED_MARK in str(report.longrepr)
    ):
        report.outcome = "skipped"
        report.longrepr = (
            str(collector.path),
            None,
            f"Skipped: imports the `parallel` package ({AICP_BLOCK_PARALLEL_ENV}=1)",
        )
    return report


@_aicp_pytest.fixture
def parallel_blocked():
    """Block `parallel` for one test (ImportError on import), then restore sys.modules."""
    blocker = AicpParallelBlocker()
    _aicp_sys.meta_path.insert(0, blocker)
    evicted = aicp_evict_parallel_modules()
    try:
        yield blocker
    finally:
        _aicp_sys.meta_path.remove(blocker)
        aicp_evict_parallel_modules()  # anything half-imported while blocked
        _aicp_sys.modules.update(evicted)


# ============================================================================================
# END section: parallel-package blocking (AICP_BLOCK_PARALLEL)
# ============================================================================================


# ============================================================================================
# BEGIN section: golden records (harness) -- owned by tests/test_golden.py.
#
# Options choose the corpus and the golden folder the golden tests use (defaults: the repo's
# `input/` and `snapshots/`), and `golden_snapshot` is syrupy's `snapshot` fixture bound to
# `harness.syrupy_ext.GoldenRecordExtension`, so `pytest --snapshot-update` writes exactly the
# files `harness update` writes. Hooks use `specname` so they never clash with other sections.
# ============================================================================================
_GOLDEN_REPO = _aicp_os.path.dirname(_aicp_os.path.dirname(_aicp_os.path.realpath(__file__)))


@_aicp_pytest.hookimpl(specname="pytest_addoption")
def pytest_addoption_harness_golden(parser):
    group = parser.getgroup("golden", "harness golden records")
    group.addoption(
        "--golden-input",
        default=_aicp_os.path.join(_GOLDEN_REPO, "input"),
        help="folder of pipeline YAMLs for tests/test_golden.py (default: input/)",
    )
    group.addoption(
        "--golden-snapshots",
        default=_aicp_os.path.join(_GOLDEN_REPO, "snapshots"),
        help="golden record folder for tests/test_golden.py (default: snapshots/)",
    )
    group.addoption(
        "--golden-time-scale",
        type=float,
        default=1.0,
        help=(
            "stub latency scale for golden recordings, on the virtual clock (default 1: model "
            "seconds, as `harness update` records; they cost no wall time)"
        ),
    )


@_aicp_pytest.hookimpl(specname="pytest_configure")
def pytest_configure_harness_golden(config):
    # A golden record's syrupy name is its YAML stem, not the test's name; syrupy warns that it
    # "can not relate" the two on every update. That is the design, not a problem.
    config.addinivalue_line("filterwarnings", r"ignore:\s*Can not relate snapshot name:UserWarning")


@_aicp_pytest.fixture(scope="session")
def golden_input_dir(pytestconfig):
    from pathlib import Path

    return Path(pytestconfig.getoption("golden_input")).resolve()


@_aicp_pytest.fixture(scope="session")
def golden_snapshots_dir(pytestconfig):
    from pathlib import Path

    return Path(pytestconfig.getoption("golden_snapshots")).resolve()


@_aicp_pytest.fixture(scope="session")
def golden_updating(pytestconfig):
    """True under `pytest --snapshot-update`."""
    return bool(getattr(pytestconfig.option, "update_snapshots", False))


@_aicp_pytest.fixture
def golden_snapshot(snapshot, golden_snapshots_dir):
    """syrupy's `snapshot`, storing `<golden-snapshots>/<name>.json` in the golden format."""
    from harness.syrupy_ext import GoldenRecordExtension

    return snapshot.use_extension(GoldenRecordExtension.for_dir(golden_snapshots_dir))


# ============================================================================================
# END section: golden records (harness)
# ============================================================================================


# ---- BEGIN: environment isolation -------------------------------------------------------------
# `harness update` refuses to run when CI is set; the suite itself runs under CI, so tests that
# need that behaviour set CI themselves (monkeypatch) and every other test sees it unset.
@_aicp_pytest.fixture(scope="session", autouse=True)
def _no_ci_variable():  # type: ignore[no-untyped-def]
    saved = _aicp_os.environ.pop("CI", None)
    try:
        yield
    finally:
        if saved is not None:
            _aicp_os.environ["CI"] = saved


# ---- END: environment isolation ---------------------------------------------------------------
