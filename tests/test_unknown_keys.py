"""Unknown keys: warned about with file, line and a "did you mean" by `validate` and
`run-chain`, errors under `--strict` and in the harness; every bundled YAML has none."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

from ai_content_pipeline.__main__ import main
from ai_content_pipeline.cli import run_chain
from ai_content_pipeline.config.features import (
    FEATURES_FILE_RELATIVE,
    PARALLEL_ENV_VAR,
    features_file_warnings,
)
from ai_content_pipeline.config.known_keys import KeyWarning, unknown_keys
from ai_content_pipeline.config.loader import load_config_file
from ai_content_pipeline.errors import ConfigError
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from harness.record import check_pipeline_file, record_each

REPO = Path(__file__).resolve().parents[1]
BUNDLED = sorted([*(REPO / "input").glob("*.yaml"), *(REPO / "tests/fault_corpus").glob("*.yaml")])

ENABLE_TYPO = """\
name: typo_enable
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_schnell
    enable: false
"""

MODEL_TYPO = """\
name: typo_model
prompt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    modle: flux_schnell
"""

PROMPT_TYPO = """\
name: typo_prompt
promt: "A lighthouse at dawn"
steps:
  - type: text_to_image
    model: flux_schnell
"""

GROUP_TYPOS = """\
name: typo_group
prompt: "A lighthouse at dawn"
steps:
  - type: parallel_group
    model: parallel
    params:
      max_worker: 2
      parallel_steps:
        - type: text_to_image
          model: flux_schnell
          retry_cout: 1
        - type: text_to_image
          model: seedream_v3
          enabled: false
          paramz: {}
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own HOME (no user features file), no flag in the env, cwd = tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(PARALLEL_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def aicp(tmp_path: Path, *args: str) -> int:
    return main(["--base-dir", str(tmp_path / "project"), *args])


def reports(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "project" / "output" / "reports").glob("*_report.json"))


def err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def features_file(home: Path, text: str) -> Path:
    path = home / FEATURES_FILE_RELATIVE
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the core function


def test_warnings_are_typed_with_file_line_field_and_message(tmp_path: Path) -> None:
    config = write(tmp_path, "enable.yaml", ENABLE_TYPO)
    assert unknown_keys(load_config_file(config)) == [
        KeyWarning(
            file=config,
            line=6,
            field="steps[0].enable",
            message="step 1 field 'enable': unknown key; did you mean 'enabled'?",
        )
    ]


def test_group_params_branches_and_disabled_branches_are_checked(tmp_path: Path) -> None:
    config = write(tmp_path, "group.yaml", GROUP_TYPOS)
    found = unknown_keys(load_config_file(config))
    assert [(w.line, w.field, w.message) for w in found] == [
        (
            7,
            "steps[0].params.max_worker",
            "step 1 field 'params.max_worker': unknown key; did you mean 'max_workers'?",
        ),
        (
            11,
            "steps[0].params.parallel_steps[0].retry_cout",
            "step 1 branch 1 field 'retry_cout': unknown key; did you mean 'retry_count'?",
        ),
        (
            15,
            "steps[0].params.parallel_steps[1].paramz",
            "step 1 branch at position 2 field 'paramz': unknown key; did you mean 'params'?",
        ),
    ]


def test_generator_params_stay_open(tmp_path: Path) -> None:
    """Generator steps forward every param to their model, so none is unknown."""
    text = ENABLE_TYPO.replace("    enable: false\n", "    params: {aspect_ratio: '1:1', x: 1}\n")
    assert unknown_keys(load_config_file(write(tmp_path, "open.yaml", text))) == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_no_bundled_yaml_has_an_unknown_key(path: Path) -> None:
    assert unknown_keys(load_config_file(path)) == []


def test_no_example_file_has_an_unknown_key(tmp_path: Path) -> None:
    written = AIPipelineManager(str(tmp_path)).create_example_configs(str(tmp_path / "ex"))
    assert written
    for path in written:
        assert unknown_keys(load_config_file(path)) == [], path


# --------------------------------------------------------------------------- validate


def test_enable_typo_warns_and_still_validates(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, "enable.yaml", ENABLE_TYPO)
    assert aicp(tmp_path, "validate", "--config", config) == 0
    out, err = capsys.readouterr()
    assert f"{config}: valid (1 steps" in out
    assert err.splitlines() == [
        f"{config}:6: warning: step 1 field 'enable': unknown key; did you mean 'enabled'?"
    ]


def test_model_typo_is_named_in_the_missing_model_error(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, "modle.yaml", MODEL_TYPO)
    assert aicp(tmp_path, "validate", "--config", config) == 2
    assert err_lines(capsys) == [
        f"{config}:5: warning: step 1 field 'modle': unknown key; did you mean 'model'?",
        f"{config}:5: Step 1 (text_to_image) is missing required field 'model' "
        "(unknown key 'modle'; did you mean 'model'?)",
    ]


def test_type_typo_is_named_in_the_missing_type_error(tmp_path: Path, capsys) -> None:
    text = MODEL_TYPO.replace("type:", "tpye:").replace("modle:", "model:")
    config = write(tmp_path, "tpye.yaml", text)
    assert aicp(tmp_path, "validate", "--config", config) == 2
    assert any(
        "missing required field 'type' (unknown key 'tpye'; did you mean 'type'?)" in line
        for line in err_lines(capsys)
    )


def test_top_level_prompt_typo_warns(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, "promt.yaml", PROMPT_TYPO)
    aicp(tmp_path, "validate", "--config", config)  # the prompt itself may be missing, too
    assert err_lines(capsys)[0] == (
        f"{config}:2: warning: top-level field 'promt': unknown key; did you mean 'prompt'?"
    )


def test_bundled_yaml_validates_without_warnings_under_strict(capsys) -> None:
    config = str(REPO / "input" / "11_group_collect_all_then_video.yaml")
    assert main(["validate", "--strict", "--config", config]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("command", ["validate", "run-chain"])
def test_strict_makes_warnings_errors(tmp_path: Path, capsys, command: str) -> None:
    config = write(tmp_path, "enable.yaml", ENABLE_TYPO)
    extra = ["--no-confirm"] if command == "run-chain" else []
    assert aicp(tmp_path, command, "--strict", "--config", config, *extra) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"{config}:6: step 1 field 'enable': unknown key; did you mean 'enabled'?"
    ]
    assert "valid" not in out
    assert not (tmp_path / "project" / "output").exists()  # nothing was run or spent


# --------------------------------------------------------------------------- run-chain


def test_run_chain_warns_then_runs_and_charges_the_step(tmp_path: Path, capsys) -> None:
    """Existing files keep running: the misspelt key is ignored, as before, but said."""
    config = write(tmp_path, "enable.yaml", ENABLE_TYPO)
    assert aicp(tmp_path, "run-chain", "--config", config, "--no-confirm") == 0
    assert f"{config}:6: warning: step 1 field 'enable'" in capsys.readouterr().err
    [report] = reports(tmp_path)
    summary = json.loads(report.read_text(encoding="utf-8"))["execution_summary"]
    assert summary["completed_steps"] == 1 and summary["total_cost_usd"] > 0


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_run_chain_prints_warnings_before_the_confirmation(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def confirm(question: str) -> bool:
        seen.append(capsys.readouterr().err)
        return False

    monkeypatch.setattr(sys, "stdin", _Tty(""))
    monkeypatch.setattr(run_chain, "confirm", confirm)
    config = write(tmp_path, "promt.yaml", PROMPT_TYPO)
    assert aicp(tmp_path, "run-chain", "--config", config, "--input-text", "a fox") == 0
    assert seen == [
        f"{config}:2: warning: top-level field 'promt': unknown key; did you mean 'prompt'?\n"
    ]
    assert not reports(tmp_path)


# --------------------------------------------------------------------------- features.json


def test_features_file_typo_warns_with_file_and_line(tmp_path: Path, capsys, isolated) -> None:
    path = features_file(isolated, '{\n  "paralel_execution": true\n}\n')
    expected = (
        f"{path}:2: warning: features file field 'paralel_execution': unknown key; "
        "did you mean 'parallel_execution'?"
    )
    assert [str(w) for w in features_file_warnings()] == [expected]
    config = write(tmp_path, "ok.yaml", PROMPT_TYPO.replace("promt", "prompt"))
    assert aicp(tmp_path, "validate", "--config", config) == 0
    assert err_lines(capsys) == [expected]
    assert aicp(tmp_path, "features") == 0
    out, err = capsys.readouterr()
    assert "source: default" in out and err.splitlines() == [expected]
    assert aicp(tmp_path, "run-chain", "--strict", "--config", config, "--no-confirm") == 2
    assert err_lines(capsys) == [expected.replace(": warning:", ":")]
    assert not reports(tmp_path)


def test_features_file_known_or_broken_gives_no_warning(isolated) -> None:
    path = features_file(isolated, '{"parallel_execution": false}')
    assert features_file_warnings() == []
    path.write_text("not json", encoding="utf-8")
    assert features_file_warnings() == []  # the flag look-up reports that one itself


# --------------------------------------------------------------------------- harness


def test_harness_fails_a_yaml_with_an_unknown_key(tmp_path: Path) -> None:
    config = Path(write(tmp_path, "90_typo.yaml", ENABLE_TYPO))
    strict_line = f"{config}:6: step 1 field 'enable': unknown key; did you mean 'enabled'?"
    with pytest.raises(ConfigError) as raised:
        check_pipeline_file(config)
    assert str(raised.value) == strict_line  # what `aicp validate --strict` prints
    outcome = record_each([config])
    assert outcome.records == {}
    assert outcome.errors["90_typo"] == f"ConfigError: {strict_line}"
