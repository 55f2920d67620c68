"""Flag states: entered for real, restored exactly, and checked on the executor."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ai_content_pipeline.config import features
from ai_content_pipeline.pipeline.executor import ChainExecutor, SchedulerInfo
from ai_content_pipeline.utils.file_manager import FileManager
from harness import states
from harness.states import (
    EXPECTED_SCHEDULERS,
    REFERENCE_STATE,
    STATES,
    activate,
    block_parallel_import,
    describe_state,
    detect_state,
    is_parallel_blocked,
)

REPO = Path(__file__).resolve().parents[2]
# Tests that need the real `parallel` package (skipped under AICP_BLOCK_PARALLEL=1).
needs_parallel = pytest.mark.requires_parallel


def _executor(tmp_path: Path) -> ChainExecutor:
    return ChainExecutor(FileManager(str(tmp_path)))


def test_constants() -> None:
    assert STATES == ("absent", "off", "on")
    assert REFERENCE_STATE == "off"
    assert states.PARALLEL_ENV_VAR == features.PARALLEL_ENV_VAR


def test_expected_schedulers_are_registered_names() -> None:
    from ai_content_pipeline.pipeline.schedulers import registered_names

    assert EXPECTED_SCHEDULERS == {"absent": "sequential", "off": "sequential", "on": "async"}
    assert set(EXPECTED_SCHEDULERS.values()) <= set(registered_names())
    assert set(EXPECTED_SCHEDULERS) == set(STATES)


@pytest.mark.parametrize(
    ("state", "flag", "concurrent", "loaded"),
    [
        ("absent", "false", False, False),
        pytest.param("off", "false", False, True, marks=needs_parallel),
        pytest.param("on", "true", True, True, marks=needs_parallel),
    ],
)
def test_each_state_takes_effect(
    tmp_path: Path, state: str, flag: str, concurrent: bool, loaded: bool
) -> None:
    with activate(state):
        assert os.environ[features.PARALLEL_ENV_VAR] == flag
        home = Path(os.environ["HOME"])
        assert home.is_dir() and not any(home.iterdir())
        executor = _executor(tmp_path)
        assert detect_state(executor) == state
        assert describe_state(executor, state) == EXPECTED_SCHEDULERS[state]
        info = executor.scheduler_info
        assert (info.name, info.concurrent, info.extension_loaded) == (
            EXPECTED_SCHEDULERS[state],
            concurrent,
            loaded,
        )
        assert info.flag_enabled is (flag == "true")
        executor.close()
    assert not home.exists()


@needs_parallel
def test_absent_blocks_parallel_and_restores_it() -> None:
    import parallel

    module = sys.modules["parallel"]
    meta_path = list(sys.meta_path)
    with activate("absent"):
        assert is_parallel_blocked()
        assert "parallel" not in sys.modules
        for name in ("parallel", "parallel.scheduler", states.REEXPORT_MODULE):
            with pytest.raises(ImportError):
                importlib.import_module(name)
        with pytest.raises(ImportError):
            from ai_content_pipeline.pipeline import parallel_extension  # noqa: F401
    assert sys.modules["parallel"] is module
    assert sys.meta_path == meta_path
    assert not is_parallel_blocked()
    assert importlib.import_module("parallel.extension").ParallelExtension is (
        parallel.ParallelExtension
    )


def test_features_file_in_home_cannot_leak_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".ai_pipeline").mkdir()
    (tmp_path / ".ai_pipeline" / "features.json").write_text(
        json.dumps({"parallel_execution": True})
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(features.PARALLEL_ENV_VAR, raising=False)
    assert features.FeatureFlags.is_parallel_execution_enabled()
    with activate("off"):
        os.environ.pop(features.PARALLEL_ENV_VAR)  # even without the variable, HOME is empty
        assert not features.FeatureFlags.is_parallel_execution_enabled()


@pytest.mark.parametrize("before", [None, "yes"])
def test_environment_restored_exactly(monkeypatch: pytest.MonkeyPatch, before: str | None) -> None:
    if before is None:
        monkeypatch.delenv(features.PARALLEL_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(features.PARALLEL_ENV_VAR, before)
    snapshot = dict(os.environ)
    with pytest.raises(KeyError), activate("on"):
        raise KeyError("boom")
    assert dict(os.environ) == snapshot


def test_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown flag state"), activate("maybe"):
        pass


@needs_parallel
def test_wrong_state_raises(tmp_path: Path) -> None:
    with activate("off"):
        executor = _executor(tmp_path)
    with pytest.raises(RuntimeError, match="'on' did not take effect"):
        describe_state(executor, "on")
    with pytest.raises(RuntimeError, match="'absent' did not take effect"):
        describe_state(executor, "absent")


def _info(**changes: object) -> SchedulerInfo:
    base = {
        "name": "sequential",
        "concurrent": False,
        "clock": "virtual",
        "flag_enabled": False,
        "extension_loaded": True,
    }
    return SchedulerInfo(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("info", "state"),
    [
        (_info(extension_loaded=False), "absent"),
        (_info(extension_loaded=False, flag_enabled=True), "absent"),  # asked, not installed
        (_info(), "off"),
        (_info(name="async", concurrent=True, flag_enabled=True), "on"),
        (_info(name="async", concurrent=True, flag_enabled=True, clock="real"), "on"),
    ],
)
def test_detect_state_reads_only_scheduler_info(info: SchedulerInfo, state: str) -> None:
    # Nothing but `scheduler_info`: private attributes that contradict it are ignored.
    executor = SimpleNamespace(
        scheduler_info=info, _parallel_extension=None, scheduler_name="bogus"
    )
    assert detect_state(executor) == state


@pytest.mark.parametrize(
    "info",
    [
        _info(flag_enabled=True),  # enabled, loaded, yet sequential
        _info(name="async", concurrent=True),  # concurrent although the flag is off
        _info(name="async", concurrent=True, flag_enabled=True, extension_loaded=False),
    ],
)
def test_inconsistent_executor_raises(info: SchedulerInfo) -> None:
    with pytest.raises(RuntimeError, match="no known flag state"):
        detect_state(SimpleNamespace(scheduler_info=info))


def test_block_parallel_import_standalone() -> None:
    """The worker's way: blocked for good, before the core is imported."""
    code = (
        "import os; os.environ['PIPELINE_PARALLEL_ENABLED'] = 'true'\n"
        "from harness.states import block_parallel_import, detect_state\n"
        "block_parallel_import(); block_parallel_import()\n"
        "from ai_content_pipeline.pipeline.executor import ChainExecutor\n"
        "from ai_content_pipeline.utils.file_manager import FileManager\n"
        "print(detect_state(ChainExecutor(FileManager('.', create_dirs=False))))\n"
        "try:\n    import parallel\nexcept ImportError:\n    print('blocked')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["absent", "blocked"]
    assert block_parallel_import.__doc__
