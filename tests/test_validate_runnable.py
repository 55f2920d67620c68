"""`validate` means runnable, and the CLI never spends or overwrites by surprise.

Whatever `run-chain` refuses before spending, `validate` refuses with the same line and exit 2;
pipeline files write only inside --base-dir; example files survive without --force; every
command that spends shows its plan and cost and asks on a terminal; global options work after
the subcommand too.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

from ai_content_pipeline.__main__ import main
from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.pipeline.validation import find_problems

TEXT_PIPELINE = """\
name: text_pipeline
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_schnell
"""

NO_PROMPT = """\
name: no_prompt
steps:
  - type: text_to_image
    model: flux_schnell
"""

IMAGE_FIRST = """\
name: image_first
steps:
  - type: image_to_video
    model: hailuo
"""

SUBTITLES_WITHOUT_TEXT = """\
name: subtitles_without_text
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_schnell
  - type: image_to_video
    model: hailuo
  - type: generate_subtitles
    model: any
    params:
      format: srt
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own HOME, no flag or stub timing in the environment, cwd = tmp_path, stdin not a tty."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (PARALLEL_ENV_VAR, "AICP_STUB_TIME_SCALE", "AICP_STUB_JITTER_SEED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def run(base: Path, *args: str) -> int:
    return main(["--base-dir", str(base), *args])


def err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def validate_and_run(
    base: Path, capsys: pytest.CaptureFixture[str], config: str, *flags: str
) -> list[str]:
    """Both commands refuse with exit 2 and the same single line; nothing is written."""
    assert run(base, "validate", "--config", config, *flags) == 2
    validate_lines = err_lines(capsys)
    assert run(base, "run-chain", "--config", config, *flags) == 2
    run_lines = err_lines(capsys)
    assert validate_lines == run_lines
    assert len(run_lines) == 1, run_lines
    assert "Traceback" not in run_lines[0]
    assert list(base.iterdir()) == [], "nothing may be written before a refusal"
    return run_lines


# --------------------------------------------------------------------------- inputs


def test_missing_input_image_file(tmp_path, base, capsys):
    text = IMAGE_FIRST.replace("steps:", "input_image: pics/missing.png\nsteps:")
    config = write(tmp_path, "image.yaml", text)
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:2: input image not found: pics/missing.png")
    assert "'input_image'" in line


def test_image_pipeline_without_input_names_the_flag(tmp_path, base, capsys):
    config = write(tmp_path, "image.yaml", IMAGE_FIRST)
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:3: no input image: ")  # the line of the first step
    assert "image_to_video" in line and "--input PATH_OR_URL" in line and "'input_image'" in line


def test_text_pipeline_without_prompt(tmp_path, base, capsys):
    config = write(tmp_path, "noprompt.yaml", NO_PROMPT)
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:3: no input prompt: ")
    assert "--input-text" in line and "'prompt'" in line


def test_unknown_input_type(tmp_path, base, capsys):
    text = (
        "name: x\ninput_type: audio\nsteps:\n  - type: replicate_multitalk\n    model: multitalk\n"
    )
    config = write(tmp_path, "audio.yaml", text)
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:2: Unknown input type: audio")


@pytest.mark.parametrize("flag", ["--input-text", "--prompt-file"])
def test_text_flags_refused_for_an_image_pipeline(tmp_path, base, capsys, flag):
    (tmp_path / "prompt.txt").write_text("hello", encoding="utf-8")
    config = write(tmp_path, "image.yaml", IMAGE_FIRST)
    value = "hello" if flag == "--input-text" else "prompt.txt"
    [line] = validate_and_run(base, capsys, config, flag, value)
    assert line.startswith(f"error: {flag} gives text, but this pipeline starts with image")
    assert "--input PATH_OR_URL" in line


@pytest.mark.parametrize("value", ["photo.png", "notes.txt", "https://example.org/cat"])
def test_file_or_url_refused_as_a_prompt(tmp_path, base, capsys, value):
    (tmp_path / "photo.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "notes.txt").write_text("a prompt in a file", encoding="utf-8")
    config = write(tmp_path, "text.yaml", NO_PROMPT)
    [line] = validate_and_run(base, capsys, config, "--input", value)
    assert line.startswith(f"error: --input {value} looks like a file or URL")
    assert "--prompt-file" in line and "--input-text" in line


def test_media_of_the_other_kind_refused(tmp_path, base, capsys):
    (tmp_path / "clip.mp4").write_bytes(b"fake mp4")
    config = write(tmp_path, "image.yaml", IMAGE_FIRST)
    [line] = validate_and_run(base, capsys, config, "--input", "clip.mp4")
    assert line.startswith("error: --input clip.mp4 is a video file, but this pipeline starts")
    config = write(tmp_path, "image2.yaml", "input_image: clip.mp4\n" + IMAGE_FIRST)
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:1: field 'input_image' clip.mp4 is a video file")


def test_good_inputs_validate_and_run(tmp_path, base, capsys):
    (tmp_path / "photo.png").write_bytes(b"\x89PNG fake")
    image = write(tmp_path, "image.yaml", IMAGE_FIRST)
    text = write(tmp_path, "text.yaml", NO_PROMPT)
    for config, flags in (
        (image, ["--input", "photo.png"]),
        (text, ["--input", "a red fox in snow"]),
        (text, ["--input-text", "photo.png"]),  # --input-text is always literal text
    ):
        assert run(base, "validate", "--config", config, *flags) == 0
        assert "valid" in capsys.readouterr().out
        assert run(base, "run-chain", "--config", config, *flags) == 0


# --------------------------------------------------------------------------- subtitles


def test_subtitles_without_text_refused_before_paid_steps(tmp_path, base, capsys):
    config = write(tmp_path, "subs.yaml", SUBTITLES_WITHOUT_TEXT)
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:10: Step 3 (generate_subtitles) field 'params.subtitle_text'")
    assert "prompt_generation" in line


def test_subtitles_without_text_refused_by_the_manager(tmp_path):
    """The rule is the chain's own validation, so Python callers are not charged either."""
    manager = AIPipelineManager(str(tmp_path / "api"))
    target = tmp_path / "subs.yaml"
    target.write_text(SUBTITLES_WITHOUT_TEXT, encoding="utf-8")
    result = manager.execute_chain(manager.create_chain_from_config(str(target)), "a fox")
    assert result.success is False
    assert result.error.startswith("Chain validation failed: Step 3 (generate_subtitles)")
    assert result.total_cost == 0.0
    assert not (tmp_path / "api" / "output" / "reports").exists()


def _steps(*steps: dict) -> dict:
    return {"name": "x", "input_type": "image", "steps": list(steps)}


PROMPT_GEN = {"type": "prompt_generation", "model": "openrouter_video_cinematic"}
TO_VIDEO = {"type": "image_to_video", "model": "kling"}
SUBS = {"type": "generate_subtitles", "model": "any"}


@pytest.mark.parametrize(
    ("steps", "ok"),
    [
        ([TO_VIDEO, SUBS], False),
        ([TO_VIDEO, {**SUBS, "params": {"subtitle_text": "  "}}], False),
        ([TO_VIDEO, {**SUBS, "params": {"subtitle_text": "hello"}}], True),
        ([PROMPT_GEN, TO_VIDEO, SUBS], True),
        ([{**PROMPT_GEN, "enabled": False}, TO_VIDEO, SUBS], False),
        ([TO_VIDEO, SUBS, PROMPT_GEN], False),
        (
            [
                {
                    "type": "parallel_group",
                    "model": "parallel",
                    "params": {"parallel_steps": [PROMPT_GEN, PROMPT_GEN]},
                },
                TO_VIDEO,
                SUBS,
            ],
            True,
        ),
        (
            [
                TO_VIDEO,
                {
                    "type": "parallel_group",
                    "model": "parallel",
                    "params": {"parallel_steps": [SUBS]},
                },
            ],
            False,
        ),
    ],
)
def test_subtitle_text_rule(steps, ok):
    messages = [p.message for p in find_problems(_steps(*steps)) if "subtitle_text" in p.message]
    assert (messages == []) is ok, messages


# --------------------------------------------------------------------------- output_dir


@pytest.mark.parametrize("value", ["../escaped", "/tmp/aicp_abs_out", "out/../../escaped"])
def test_output_dir_outside_base_dir_refused(tmp_path, base, capsys, value):
    config = write(tmp_path, "esc.yaml", TEXT_PIPELINE + f"output_dir: {value}\n")
    [line] = validate_and_run(base, capsys, config)
    assert line.startswith(f"{config}:6: top-level field 'output_dir'")
    assert value in line and "--base-dir" in line
    assert not (tmp_path / "escaped").exists()
    assert not Path("/tmp/aicp_abs_out").exists()


def test_output_dir_inside_base_dir_runs(tmp_path, base):
    config = write(tmp_path, "in.yaml", TEXT_PIPELINE + "output_dir: results/run1\n")
    assert run(base, "validate", "--config", config) == 0
    assert run(base, "run-chain", "--config", config) == 0
    assert list((base / "results" / "run1" / "reports").glob("*_report.json"))


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("command", ["setup", "create-examples"])
def test_examples_never_overwritten_without_force(base, capsys, command):
    simple = base / "input" / "simple_chain.yaml"
    assert run(base, command) == 0
    simple.write_text(simple.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    capsys.readouterr()
    assert run(base, command) == 2
    [line] = err_lines(capsys)
    assert str(simple) in line and "--force" in line
    assert simple.read_text(encoding="utf-8").endswith("# my edit\n")
    assert run(base, command, "--force") == 0
    assert "# my edit" not in simple.read_text(encoding="utf-8")


def test_examples_refusal_writes_nothing(base, capsys):
    folder = base / "examples"
    folder.mkdir()
    (folder / "full_chain.yaml").write_text("mine\n", encoding="utf-8")
    assert run(base, "create-examples", "--output-dir", "examples") == 2
    [line] = err_lines(capsys)
    assert str(folder / "full_chain.yaml") in line and "simple_chain" not in line
    assert sorted(p.name for p in folder.iterdir()) == ["full_chain.yaml"]
    assert (folder / "full_chain.yaml").read_text(encoding="utf-8") == "mine\n"


# --------------------------------------------------------------------------- plans and asking


def test_create_video_shows_plan_cost_and_auto_choice(base, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty("n\n"))
    assert run(base, "create-video", "--text", "a cat") == 0
    out = capsys.readouterr().out
    assert "1. text_to_image (flux_schnell)  $0.0010" in out
    assert "2. image_to_video (veo3)  $3.0000" in out
    assert "Estimated cost: $3.0010" in out
    assert "--video-model auto chose veo3 ($3.0000); the cheapest is hailuo ($0.0800)" in out
    assert "Proceed? [y/N]" in out and "Cancelled; nothing was run." in out
    assert not (base / "output" / "reports").exists()


def test_create_video_runs_what_the_plan_showed(base, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty("y\n"))
    args = ["create-video", "--text", "a cat", "--video-model", "hailuo", "--save-json", "r.json"]
    assert run(base, *args) == 0
    assert "2. image_to_video (hailuo)  $0.0800" in capsys.readouterr().out
    data = json.loads((base / "output" / "r.json").read_text(encoding="utf-8"))
    assert data["outputs"]["step_2_image_to_video"]["model"] == "hailuo"
    assert data["total_cost"] == pytest.approx(0.081)


@pytest.mark.parametrize(
    "command", [["generate-image", "--text", "a cat"], ["create-video", "--text", "a cat"]]
)
@pytest.mark.parametrize("skip", ["-y", "--no-confirm"])
def test_spending_commands_skip_the_question(base, monkeypatch, command, skip):
    monkeypatch.setattr(sys, "stdin", FakeTty(""))
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("must not prompt"))
    assert run(base, *command, skip) == 0
    assert list((base / "output" / "reports").glob("*_report.json"))


def test_generate_image_declined_on_a_terminal_runs_nothing(base, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty("n\n"))
    assert run(base, "generate-image", "--text", "a cat") == 0
    out = capsys.readouterr().out
    assert "Estimated cost:" in out and "Proceed? [y/N]" in out
    assert not (base / "output" / "reports").exists()


def test_spending_commands_never_ask_without_a_terminal(tmp_path, base, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("must not prompt"))
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    assert run(base, "generate-image", "--text", "a cat") == 0
    assert run(base, "create-video", "--text", "a cat", "--video-model", "hailuo") == 0
    assert run(base, "run-chain", "--config", config) == 0


def test_run_chain_y_is_no_confirm(tmp_path, base, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeTty(""))
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("must not prompt"))
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    assert run(base, "run-chain", "--config", config, "-y") == 0


# --------------------------------------------------------------------------- global options


def test_global_options_after_the_subcommand(tmp_path, base, capsys):
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    assert (
        main(["run-chain", "--config", config, "--backend", "stub", "--base-dir", str(base)]) == 0
    )
    assert list((base / "output" / "reports").glob("*_report.json"))
    capsys.readouterr()
    assert main(["validate", "--config", config, "-q", "--debug", "--base-dir", str(base)]) == 0


def test_global_options_before_the_subcommand_still_work(tmp_path, base):
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    assert (
        main(["--backend", "stub", "--base-dir", str(base), "run-chain", "--config", config]) == 0
    )
    assert list((base / "output" / "reports").glob("*_report.json"))


def test_global_option_after_the_subcommand_wins(tmp_path, base):
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    other = tmp_path / "other"
    args = ["--base-dir", str(other), "run-chain", "--config", config, "--base-dir", str(base)]
    assert main(args) == 0
    assert list((base / "output" / "reports").glob("*_report.json"))
    assert not other.exists()


def test_global_option_left_out_after_the_subcommand_keeps_the_earlier_value(
    tmp_path, base, capsys
):
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    assert main(["-q", "--base-dir", str(base), "run-chain", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("Run succeeded")


def test_bad_backend_after_the_subcommand_is_a_usage_error(tmp_path, capsys):
    config = write(tmp_path, "ok.yaml", TEXT_PIPELINE)
    assert main(["run-chain", "--config", config, "--backend", "nope"]) == 2
    assert "--backend" in capsys.readouterr().err
