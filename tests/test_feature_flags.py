"""Parallel-scheduler flag: precedence, spellings, file errors, explicit .env loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ai_content_pipeline.config.features import (
    FEATURES_FILE_RELATIVE,
    PARALLEL_ENV_VAR,
    FeatureFlags,
    FlagState,
    features_file_path,
    load_env_file,
)
from ai_content_pipeline.errors import FeatureFlagError, UsageError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME with no flag in the environment."""
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    monkeypatch.setenv("HOME", str(home_dir))
    monkeypatch.delenv(PARALLEL_ENV_VAR, raising=False)
    return home_dir


def write_features(home: Path, content: str) -> Path:
    path = home / FEATURES_FILE_RELATIVE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


FILE_CONTENT = {
    "true": json.dumps({"parallel_execution": True}),
    "false": json.dumps({"parallel_execution": False}),
    "malformed": "{not json",
    "missing": None,
}

# (env, file) -> expected (enabled, source) or "error:env" / "error:file"
PRECEDENCE = [
    ("true", "true", (True, "environment")),
    ("true", "false", (True, "environment")),
    ("true", "malformed", (True, "environment")),
    ("true", "missing", (True, "environment")),
    ("false", "true", (False, "environment")),
    ("false", "false", (False, "environment")),
    ("false", "malformed", (False, "environment")),
    ("false", "missing", (False, "environment")),
    ("garbage", "true", "error:env"),
    ("garbage", "false", "error:env"),
    ("garbage", "malformed", "error:env"),
    ("garbage", "missing", "error:env"),
    (None, "true", (True, "file")),
    (None, "false", (False, "file")),
    (None, "malformed", "error:file"),
    (None, "missing", (False, "default")),
]


@pytest.mark.parametrize(("env", "file", "expected"), PRECEDENCE)
def test_precedence_table(
    home: Path, monkeypatch: pytest.MonkeyPatch, env: str | None, file: str, expected: object
) -> None:
    if env is not None:
        monkeypatch.setenv(PARALLEL_ENV_VAR, env)
    path = None
    if FILE_CONTENT[file] is not None:
        path = write_features(home, FILE_CONTENT[file])

    if expected == "error:env":
        with pytest.raises(FeatureFlagError) as info:
            FeatureFlags.parallel_execution_state()
        message = str(info.value)
        assert PARALLEL_ENV_VAR in message
        for accepted in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            assert accepted in message
        with pytest.raises(FeatureFlagError):
            FeatureFlags.is_parallel_execution_enabled()
        return
    if expected == "error:file":
        with pytest.raises(FeatureFlagError, match="not valid JSON") as info:
            FeatureFlags.parallel_execution_state()
        assert str(path) in str(info.value)
        return

    enabled, source = expected  # type: ignore[misc]
    state = FeatureFlags.parallel_execution_state()
    assert (state.enabled, state.source) == (enabled, source)
    assert FeatureFlags.is_parallel_execution_enabled() is enabled
    if source == "environment":
        assert state.detail == f"{PARALLEL_ENV_VAR}={env}"
    elif source == "file":
        assert state.detail == str(path)
    else:
        assert str(features_file_path()) in state.detail


@pytest.mark.parametrize(
    ("raw", "enabled"),
    [
        ("TRUE", True),
        ("True", True),
        (" yes ", True),
        ("1", True),
        ("ON", True),
        ("0", False),
        ("Off", False),
        ("NO", False),
        ("\tfalse\n", False),
    ],
)
def test_env_spellings(
    home: Path, monkeypatch: pytest.MonkeyPatch, raw: str, enabled: bool
) -> None:
    monkeypatch.setenv(PARALLEL_ENV_VAR, raw)
    state = FeatureFlags.parallel_execution_state()
    assert state == FlagState(enabled, "environment", f"{PARALLEL_ENV_VAR}={raw.strip()}")


@pytest.mark.parametrize("raw", ["2", "enabled", "tru", "y", "true!", "null"])
def test_env_garbage_raises(home: Path, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(PARALLEL_ENV_VAR, raw)
    with pytest.raises(FeatureFlagError, match=PARALLEL_ENV_VAR) as info:
        FeatureFlags.parallel_execution_state()
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "enabled", "scheduler"),
    [("async", True, "async"), (" ASYNC ", True, "async"), ("sequential", False, None)],
)
def test_env_may_name_a_registered_scheduler(
    home: Path, monkeypatch: pytest.MonkeyPatch, raw: str, enabled: bool, scheduler: str | None
) -> None:
    monkeypatch.setenv(PARALLEL_ENV_VAR, raw)
    state = FeatureFlags.parallel_execution_state()
    assert state == FlagState(
        enabled, "environment", f"{PARALLEL_ENV_VAR}={raw.strip()}", scheduler
    )
    assert FeatureFlags.is_parallel_execution_enabled() is enabled


def test_true_spellings_leave_the_scheduler_to_the_default(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PARALLEL_ENV_VAR, "true")
    assert FeatureFlags.parallel_execution_state().scheduler is None
    write_features(home, json.dumps({"parallel_execution": True}))
    monkeypatch.delenv(PARALLEL_ENV_VAR)
    assert FeatureFlags.parallel_execution_state().scheduler is None  # the file is a boolean


def test_an_unregistered_scheduler_name_is_garbage_listing_the_registered_ones(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_content_pipeline.pipeline.schedulers import registered_names

    monkeypatch.setenv(PARALLEL_ENV_VAR, "thread_pool")
    with pytest.raises(FeatureFlagError, match=PARALLEL_ENV_VAR) as info:
        FeatureFlags.parallel_execution_state()
    assert "'thread_pool'" in str(info.value)
    assert ", ".join(registered_names()) in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("raw", ["true", "async"])
def test_a_named_scheduler_that_cannot_be_imported_runs_groups_sequentially(
    home: Path, monkeypatch: pytest.MonkeyPatch, parallel_blocked: object, tmp_path: Path, raw: str
) -> None:
    """The name is registered (package metadata) but `parallel` is gone: the flag still reads
    as enabled, and the executor falls back to the core's sequential scheduler."""
    from ai_content_pipeline.pipeline.executor import ChainExecutor
    from ai_content_pipeline.utils.file_manager import FileManager

    monkeypatch.setenv(PARALLEL_ENV_VAR, raw)
    assert FeatureFlags.is_parallel_execution_enabled() is True
    executor = ChainExecutor(FileManager(str(tmp_path)))
    info = executor.scheduler_info
    assert (info.name, info.concurrent, info.flag_enabled, info.extension_loaded) == (
        "sequential",
        False,
        True,
        False,
    )


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_env_var_is_unset(home: Path, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(PARALLEL_ENV_VAR, raw)
    write_features(home, json.dumps({"parallel_execution": True}))
    assert FeatureFlags.parallel_execution_state().source == "file"
    assert FeatureFlags.is_parallel_execution_enabled() is True


@pytest.mark.parametrize("value", [1, 0, "true", None, [True], {"on": True}])
def test_non_boolean_file_value_raises(home: Path, value: object) -> None:
    path = write_features(home, json.dumps({"parallel_execution": value}))
    with pytest.raises(FeatureFlagError, match="parallel_execution") as info:
        FeatureFlags.parallel_execution_state()
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", ["[true]", "true", '"parallel_execution"', "null"])
def test_non_object_file_raises(home: Path, content: str) -> None:
    path = write_features(home, content)
    with pytest.raises(FeatureFlagError, match="JSON object") as info:
        FeatureFlags.parallel_execution_state()
    assert str(path) in str(info.value)


def test_missing_key_falls_through_to_default(home: Path) -> None:
    write_features(home, json.dumps({"something_else": True}))
    state = FeatureFlags.parallel_execution_state()
    assert (state.enabled, state.source) == (False, "default")


def test_unreadable_file_raises(home: Path) -> None:
    path = write_features(home, json.dumps({"parallel_execution": True}))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that ignore file permissions")
        with pytest.raises(FeatureFlagError, match="cannot read") as info:
            FeatureFlags.parallel_execution_state()
        assert str(path) in str(info.value)
    finally:
        path.chmod(0o600)


def test_features_path_is_a_directory_raises(home: Path) -> None:
    """An unreadable 'file' that fails even for root: the path is a directory."""
    path = home / FEATURES_FILE_RELATIVE
    path.mkdir(parents=True)
    with pytest.raises(FeatureFlagError, match="cannot read") as info:
        FeatureFlags.parallel_execution_state()
    assert str(path) in str(info.value)


def test_features_file_path_uses_home(home: Path) -> None:
    assert features_file_path() == home / ".ai_pipeline" / "features.json"


def test_features_file_path_falls_back_to_path_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/fallback/home")))
    assert features_file_path() == Path("/fallback/home/.ai_pipeline/features.json")


def test_flag_state_is_frozen() -> None:
    state = FlagState(True, "default", "x")
    with pytest.raises(AttributeError):
        state.enabled = False  # type: ignore[misc]


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    """Importing next to a .env that enables the flag must not change the environment."""
    (tmp_path / ".env").write_text(f"{PARALLEL_ENV_VAR}=true\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != PARALLEL_ENV_VAR}
    env["HOME"] = str(tmp_path)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    code = (
        "import os, ai_content_pipeline.config.features as f; "
        f"print(os.environ.get({PARALLEL_ENV_VAR!r}), f.FeatureFlags.parallel_execution_state())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("None FlagState(enabled=False, source='default'")


# --- load_env_file ------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in ("AICP_A", "AICP_B", "AICP_C", "AICP_D", "AICP_E", "AICP_F", "AICP_G"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_env_file_parsing(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "test.env"
    env_file.write_text(
        "# a comment\n"
        "\n"
        "AICP_A=plain\n"
        "export AICP_B = spaced value \n"
        'AICP_C="double # not a comment"  # trailing comment\n'
        "AICP_D='single'\n"
        "AICP_E=\n"
        "AICP_F=a#b # comment\n"
        "  AICP_G=x=y\n",
        encoding="utf-8",
    )
    clean_env.setenv("AICP_A", "already set")
    applied = load_env_file(env_file)
    assert applied == {
        "AICP_B": "spaced value",
        "AICP_C": "double # not a comment",
        "AICP_D": "single",
        "AICP_E": "",
        "AICP_F": "a#b",
        "AICP_G": "x=y",
    }
    assert os.environ["AICP_A"] == "already set"
    for key, value in applied.items():
        assert os.environ[key] == value


def test_env_file_never_overrides_explicit_flag(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"{PARALLEL_ENV_VAR}=true\n", encoding="utf-8")
    monkeypatch.setenv(PARALLEL_ENV_VAR, "false")
    assert load_env_file(env_file) == {}
    assert FeatureFlags.is_parallel_execution_enabled() is False


def test_env_file_can_enable_flag_when_unset(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"{PARALLEL_ENV_VAR}=yes\n", encoding="utf-8")
    assert load_env_file(str(env_file)) == {PARALLEL_ENV_VAR: "yes"}
    assert FeatureFlags.parallel_execution_state().source == "environment"


def test_env_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(UsageError, match="not found") as info:
        load_env_file(missing)
    assert str(missing) in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "bad_line",
    [
        "NO_EQUALS_SIGN",
        "1BAD=x",
        "BAD KEY=x",
        "=value",
        'AICP_X="unterminated',
        "AICP_X='a' junk",
        "export",
    ],
)
def test_env_file_malformed_line(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, bad_line: str
) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text(f"AICP_A=ok\n# comment\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_env_file(env_file)
    assert f"{env_file}:3:" in str(info.value)
    # Parsed fully before applying: nothing was set.
    assert "AICP_A" not in os.environ
