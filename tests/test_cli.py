"""The CLI contract: exit codes, one-line errors, input precedence, reports, flags (spec §3, §8)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ai_content_pipeline.__main__ import main
from ai_content_pipeline.cli import app
from ai_content_pipeline.config.features import FEATURES_FILE_RELATIVE, PARALLEL_ENV_VAR
from ai_content_pipeline.errors import ReportWriteError

REPO_ROOT = Path(__file__).resolve().parents[1]

TWO_STEPS = """\
name: cli_two_steps
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_schnell
  - type: image_to_video
    model: hailuo
    params:
      duration: 6
"""

ONE_STEP_NO_PROMPT = """\
name: cli_no_prompt
steps:
  - type: text_to_image
    model: flux_schnell
"""

FAILING = """\
name: cli_failing
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_schnell
  - type: image_to_video
    model: hailuo
    params:
      stub_fail: "boom"
"""

UNKNOWN_MODEL = """\
name: cli_typo
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_devv
"""

SYNTAX_ERROR = """\
name: cli_broken
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
   model: flux_schnell
"""

IMAGE_INPUT = """\
name: cli_image
input_type: image
steps:
  - type: image_to_video
    model: hailuo
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own HOME (no user features file), no flag or stub timing in the env, cwd = tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (PARALLEL_ENV_VAR, "AICP_STUB_TIME_SCALE", "AICP_STUB_JITTER_SEED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def run(base: Path, *args: str) -> int:
    return main(["--base-dir", str(base), *args])


def reports(base: Path) -> list[Path]:
    return sorted((base / "output" / "reports").glob("*_report.json"))


def only_report(base: Path) -> dict:
    found = reports(base)
    assert len(found) == 1, found
    return json.loads(found[0].read_text(encoding="utf-8"))


def stderr_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# --------------------------------------------------------------------------- run-chain


def test_valid_run_exits_0_and_writes_report(tmp_path, base, capsys):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 0
    out = capsys.readouterr().out
    assert "Estimated cost: $0.0810" in out
    assert "1. text_to_image (flux_schnell)" in out
    assert "✓ step_1_text_to_image  flux_schnell  $0.0010" in out
    assert "✓ step_2_image_to_video  hailuo  $0.0800" in out
    assert "Run succeeded: 2/2 steps" in out
    report = only_report(base)
    assert report["execution_summary"]["status"] == "success"
    assert report["execution_summary"]["input_data"] == "A lighthouse at dawn"


def test_failing_step_exits_1(tmp_path, base, capsys):
    config = write(tmp_path, "fail.yaml", FAILING)
    assert run(base, "run-chain", "--config", config) == 1
    captured = capsys.readouterr()
    assert "✗ step_2_image_to_video  hailuo" in captured.out
    assert "error: Step 2 failed: boom" in captured.err
    assert only_report(base)["execution_summary"]["status"] == "failed"


def test_unknown_model_exits_2_with_file_line_and_hint(tmp_path, base, capsys):
    config = write(tmp_path, "typo.yaml", UNKNOWN_MODEL)
    assert run(base, "run-chain", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith(f"{config}:5: ")
    assert "did you mean 'flux_dev'" in lines[0]
    assert not (base / "output").exists(), "nothing may run for an invalid pipeline"


def test_yaml_syntax_error_exits_2_with_file_line(tmp_path, base, capsys):
    config = write(tmp_path, "broken.yaml", SYNTAX_ERROR)
    assert run(base, "run-chain", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {config}:5: invalid YAML")


def test_missing_config_file_exits_2(tmp_path, base, capsys):
    assert run(base, "run-chain", "--config", str(tmp_path / "nope.yaml")) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert lines == [f"error: Configuration file not found: {tmp_path / 'nope.yaml'}"]


def test_missing_input_exits_2_naming_flag_and_key(tmp_path, base, capsys):
    config = write(tmp_path, "noprompt.yaml", ONE_STEP_NO_PROMPT)
    assert run(base, "run-chain", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert "--input-text" in lines[0] and "'prompt'" in lines[0]
    assert not reports(base)


def test_input_text_wins_over_config_prompt(tmp_path, base):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    args = ["run-chain", "--config", config, "--input-text", "from flag", "--input", "other"]
    assert run(base, *args) == 0
    assert only_report(base)["execution_summary"]["input_data"] == "from flag"


def test_input_flag_gives_prompt(tmp_path, base):
    config = write(tmp_path, "noprompt.yaml", ONE_STEP_NO_PROMPT)
    assert run(base, "run-chain", "--config", config, "--input", "a red fox") == 0
    assert only_report(base)["execution_summary"]["input_data"] == "a red fox"


def test_prompt_file_is_read_and_stripped(tmp_path, base):
    config = write(tmp_path, "noprompt.yaml", ONE_STEP_NO_PROMPT)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("\n  a snowy owl  \n", encoding="utf-8")
    assert run(base, "run-chain", "--config", config, "--prompt-file", str(prompt)) == 0
    assert only_report(base)["execution_summary"]["input_data"] == "a snowy owl"


def test_missing_prompt_file_exits_2(tmp_path, base, capsys):
    config = write(tmp_path, "noprompt.yaml", ONE_STEP_NO_PROMPT)
    assert run(base, "run-chain", "--config", config, "--prompt-file", "missing.txt") == 2
    assert stderr_lines(capsys.readouterr().err) == ["error: prompt file not found: missing.txt"]


def test_image_input_flag_path_must_exist(tmp_path, base, capsys):
    config = write(tmp_path, "image.yaml", IMAGE_INPUT)
    assert run(base, "run-chain", "--config", config, "--input", "nope.png") == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "nope.png" in lines[0]


def test_image_input_from_config_resolves_against_cwd(tmp_path, base, capsys):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "in.png").write_bytes(b"\x89PNG fake")
    config = write(tmp_path, "image.yaml", IMAGE_INPUT + "input_image: pics/in.png\n")
    assert run(base, "run-chain", "--config", config) == 0
    summary = only_report(base)["execution_summary"]
    assert summary["input_data"] == "pics/in.png"
    assert summary["input_type"] == "image"


def test_image_input_missing_key_names_flag(tmp_path, base, capsys):
    config = write(tmp_path, "image.yaml", IMAGE_INPUT)
    assert run(base, "run-chain", "--config", config) == 2
    err = capsys.readouterr().err
    assert "--input" in err and "'input_image'" in err


def test_unknown_input_type_exits_2(tmp_path, base, capsys):
    text = (
        "name: x\ninput_type: audio\nsteps:\n  - type: replicate_multitalk\n    model: multitalk\n"
    )
    config = write(tmp_path, "audio.yaml", text)
    assert run(base, "run-chain", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith(f"{config}:2: Unknown input type: audio")
    assert "'input_type'" in lines[0]
    assert not (base / "output").exists()


def test_save_json_contents(tmp_path, base):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config, "--save-json", "result.json") == 0
    data = json.loads((base / "output" / "result.json").read_text(encoding="utf-8"))
    assert set(data) == {
        "success",
        "steps_completed",
        "total_steps",
        "total_cost",
        "total_time",
        "outputs",
        "error",
    }
    assert data["success"] is True
    assert data["steps_completed"] == data["total_steps"] == 2
    assert data["total_cost"] == pytest.approx(0.081)
    assert data["error"] is None
    assert set(data["outputs"]) == {"step_1_text_to_image", "step_2_image_to_video"}


@pytest.mark.parametrize("name", ["../escape.json", "sub/result.json", "..", ""])
def test_save_json_rejects_paths(tmp_path, base, capsys, name):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config, "--save-json", name) == 2
    assert len(stderr_lines(capsys.readouterr().err)) == 1
    assert not (base / "output").exists()
    assert not (tmp_path / "escape.json").exists()


def test_quiet_prints_only_totals(tmp_path, base, capsys):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert main(["-q", "--base-dir", str(base), "run-chain", "--config", config]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines() == [out.strip()]
    assert out.startswith("Run succeeded: 2/2 steps")


def test_report_write_failure_exits_1(tmp_path, base, capsys, monkeypatch):
    def refuse(path, data):
        raise ReportWriteError(f"Could not write report {path}: disk full")

    monkeypatch.setattr("ai_content_pipeline.pipeline.reports.write_report", refuse)
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 1
    assert "disk full" in capsys.readouterr().err


# --------------------------------------------------------------------------- confirmation


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_prompt_declined_runs_nothing(tmp_path, base, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty("n\n"))
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 0
    assert "Proceed? [y/N]" in capsys.readouterr().out
    assert not reports(base)


def test_terminal_prompt_accepted_runs(tmp_path, base, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty("y\n"))
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 0
    assert len(reports(base)) == 1


def test_no_confirm_skips_prompt_on_terminal(tmp_path, base, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty(""))
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("must not prompt"))
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config, "--no-confirm") == 0


def test_non_terminal_never_prompts(tmp_path, base, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("must not prompt"))
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 0


# --------------------------------------------------------------------------- validate


def test_validate_ok(tmp_path, base, capsys):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "validate", "--config", config) == 0
    assert capsys.readouterr().out.strip() == (
        f"{config}: valid (2 steps, est. $0.0810, est. 65s model time)"
    )


def test_validate_bad_lists_every_problem_with_lines(tmp_path, base, capsys):
    text = UNKNOWN_MODEL + "  - type: image_to_video\n    model: hailuo\n    params:\n"
    text += "      duration: 7\n"
    config = write(tmp_path, "bad.yaml", text)
    assert run(base, "validate", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 2
    assert lines[0].startswith(f"{config}:5: ") and "flux_dev" in lines[0]
    assert lines[1].startswith(f"{config}:9: ") and "duration" in lines[1]


def test_validate_load_error_is_one_line(tmp_path, base, capsys):
    config = write(tmp_path, "nosteps.yaml", "name: x\n")
    assert run(base, "validate", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "steps" in lines[0]


# --------------------------------------------------------------------------- global options


def test_no_subcommand_exits_2(capsys):
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_flag_exits_2(capsys):
    assert main(["run-chain"]) == 2
    assert "--config" in capsys.readouterr().err


def test_backend_live_exits_2_with_one_line(tmp_path, base, capsys):
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert (
        main(["--backend", "live", "--base-dir", str(base), "run-chain", "--config", config]) == 2
    )
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("error: backend 'live' is not available")
    assert not (base / "output").exists()


def test_garbage_flag_exits_2_naming_variable(tmp_path, base, capsys, monkeypatch):
    monkeypatch.setenv(PARALLEL_ENV_VAR, "maybe")
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1 and PARALLEL_ENV_VAR in lines[0]
    assert run(base, "features") == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1 and PARALLEL_ENV_VAR in lines[0]


def test_unexpected_exception_is_one_line(base, capsys, monkeypatch):
    def explode(args, session):
        raise RuntimeError("kaput")

    monkeypatch.setitem(app.COMMANDS, "features", explode)
    assert run(base, "features") == 1
    err = capsys.readouterr().err
    assert stderr_lines(err) == [
        "error: unexpected RuntimeError: kaput (run with --debug for a traceback)"
    ]
    assert main(["--debug", "--base-dir", str(base), "features"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_keyboard_interrupt_exits_130_and_names_report(tmp_path, base, capsys, monkeypatch):
    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(
        "ai_content_pipeline.pipeline.executor.ChainExecutor._execute_step", interrupt
    )
    config = write(tmp_path, "ok.yaml", TWO_STEPS)
    assert run(base, "run-chain", "--config", config) == 130
    lines = stderr_lines(capsys.readouterr().err)
    assert lines == [f"interrupted: report written to {reports(base)[0]}"]
    report = only_report(base)
    assert report["interrupted"] is True
    assert report["files_present"] == []  # nothing was produced before the interrupt
    assert report["execution_summary"]["error"] == "Execution interrupted by user"


# --------------------------------------------------------------------------- features


def test_features_default(base, capsys):
    assert run(base, "features") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "parallel execution: disabled"
    assert lines[1] == "source: default"
    assert lines[2] in ("parallel package: importable", "parallel package: not installed")
    assert lines[3].startswith("scheduler: ")
    assert len(lines) == 4


@pytest.mark.parametrize("value", ["on", "async"])  # a truthy word, a registered scheduler
def test_features_environment(base, capsys, monkeypatch, value):
    monkeypatch.setenv(PARALLEL_ENV_VAR, value)
    assert run(base, "features") == 0
    out = capsys.readouterr().out
    assert "parallel execution: enabled" in out
    assert f"source: environment ({PARALLEL_ENV_VAR}={value})" in out


def _executor_scheduler_name() -> str:
    from ai_content_pipeline.pipeline.executor import ChainExecutor
    from ai_content_pipeline.utils.file_manager import FileManager

    executor = ChainExecutor(FileManager(".", create_dirs=False))
    try:
        return executor.scheduler_name
    finally:
        executor.close()


@pytest.mark.parametrize("flag", [None, "on", "off", "async"])
def test_features_names_the_scheduler_the_executor_uses(base, capsys, monkeypatch, flag):
    if flag is not None:
        monkeypatch.setenv(PARALLEL_ENV_VAR, flag)
    assert run(base, "features") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == f"scheduler: {_executor_scheduler_name()}"


def test_features_file(base, capsys, isolated):
    path = isolated / FEATURES_FILE_RELATIVE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"parallel_execution": True}), encoding="utf-8")
    assert run(base, "features") == 0
    out = capsys.readouterr().out
    assert "parallel execution: enabled" in out
    assert f"source: file ({path})" in out


def test_env_file_is_read_only_when_given(tmp_path, base, capsys, monkeypatch):
    # setenv-then-delenv makes monkeypatch restore the variable's absence afterwards.
    monkeypatch.setenv(PARALLEL_ENV_VAR, "x")
    monkeypatch.delenv(PARALLEL_ENV_VAR)
    env_file = tmp_path / ".env"
    env_file.write_text(f"{PARALLEL_ENV_VAR}=true\n", encoding="utf-8")
    assert run(base, "features") == 0
    assert "source: default" in capsys.readouterr().out
    assert main(["--env-file", str(env_file), "--base-dir", str(base), "features"]) == 0
    assert f"source: environment ({PARALLEL_ENV_VAR}=true)" in capsys.readouterr().out


def test_missing_env_file_exits_2(tmp_path, base, capsys):
    assert main(["--env-file", str(tmp_path / "none.env"), "features"]) == 2
    assert len(stderr_lines(capsys.readouterr().err)) == 1


# --------------------------------------------------------------------------- other commands


def test_list_models(base, capsys):
    assert run(base, "list-models") == 0
    out = capsys.readouterr().out
    assert "text_to_image:" in out
    assert "flux_schnell" in out and "$0.0010" in out and "~5s" in out


def test_setup_and_create_examples(base, capsys):
    assert run(base, "setup") == 0
    assert (base / "output").is_dir()
    assert (base / "input" / "simple_chain.yaml").is_file()
    assert run(base, "create-examples", "--output-dir", "examples") == 0
    assert (base / "examples" / "full_chain.yaml").is_file()
    # the written examples are valid pipelines
    capsys.readouterr()
    assert run(base, "validate", "--config", str(base / "examples" / "simple_chain.yaml")) == 0


def test_generate_image(base, capsys):
    args = ["generate-image", "--text", "a cat", "--model", "flux_schnell", "--save-json", "r.json"]
    assert run(base, *args) == 0
    data = json.loads((base / "output" / "r.json").read_text(encoding="utf-8"))
    assert data["success"] is True
    assert data["outputs"]["step_1_text_to_image"]["model"] == "flux_schnell"


def test_generate_image_auto_model(base, capsys):
    assert run(base, "generate-image", "--text", "a cat") == 0
    assert "✓ step_1_text_to_image" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags", [["--aspect-ratio", "5:4"], ["--model", "flux_devv"], ["--text", "  "]]
)
def test_generate_image_usage_errors(base, capsys, flags):
    args = ["generate-image", "--text", "a cat", *flags]
    assert run(base, *args) == 2
    assert len(stderr_lines(capsys.readouterr().err)) == 1
    assert not (base / "output").exists()


def test_create_video(base, capsys):
    args = ["create-video", "--text", "a cat", "--image-model", "flux_schnell"]
    assert run(base, *args, "--video-model", "hailuo") == 0
    out = capsys.readouterr().out
    assert "Run succeeded: 2/2 steps" in out
    assert run(base, *args, "--video-model", "hailo") == 2
    assert "did you mean 'hailuo'" in capsys.readouterr().err


# --------------------------------------------------------------------------- subprocess


def _subprocess(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != PARALLEL_ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["HOME"] = str(tmp_path / "home")
    return subprocess.run(
        [sys.executable, "-m", "ai_content_pipeline", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


def test_subprocess_help(tmp_path):
    done = _subprocess(tmp_path, "--help")
    assert done.returncode == 0
    assert "run-chain" in done.stdout and "--base-dir" in done.stdout


def test_subprocess_bad_config_has_no_traceback(tmp_path):
    config = write(tmp_path, "typo.yaml", UNKNOWN_MODEL)
    done = _subprocess(tmp_path, "--base-dir", str(tmp_path), "run-chain", "--config", config)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert stderr_lines(done.stderr) == [line for line in done.stderr.splitlines() if line]
    assert f"{config}:5:" in done.stderr
