"""The JSON Schema of the pipeline format: `aicp schema` prints the committed file, every bundled
pipeline passes it, and a misspelt key fails it wherever the loader warns about one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ai_content_pipeline.__main__ import main
from ai_content_pipeline.config.known_keys import GROUP_PARAM_KEYS, STEP_KEYS, TOP_LEVEL_KEYS
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.pipeline.schema import SCHEMA_DIALECT, pipeline_schema, schema_text

jsonschema = pytest.importorskip("jsonschema")  # the dev extra; the tox envs install harness only

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "docs" / "pipeline.schema.json"
CORPUS = sorted([*(REPO / "input").glob("*.yaml"), *(REPO / "tests/fault_corpus").glob("*.yaml")])

GROUP = {
    "name": "g",
    "prompt": "a fox",
    "steps": [
        {
            "type": "parallel_group",
            "model": "parallel",
            "params": {
                "max_workers": 2,
                "parallel_steps": [{"type": "text_to_image", "model": "flux_schnell"}],
            },
        }
    ],
}


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = pipeline_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: Any, data: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


def test_committed_file_is_what_aicp_schema_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == schema_text()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed, (
        "docs/pipeline.schema.json is stale: regenerate it with "
        "`aicp schema > docs/pipeline.schema.json`"
    )


def test_schema_is_draft_2020_12_and_lists_every_known_key() -> None:
    schema = pipeline_schema()
    assert schema["$schema"] == SCHEMA_DIALECT
    assert list(schema["properties"]) == list(TOP_LEVEL_KEYS)
    assert list(schema["$defs"]["step"]["properties"]) == list(STEP_KEYS)
    assert list(schema["$defs"]["group_params"]["properties"]) == list(GROUP_PARAM_KEYS)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bundled_pipeline_passes(validator: Any, path: Path) -> None:
    assert errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_example_files_pass(validator: Any, tmp_path: Path) -> None:
    written = AIPipelineManager(str(tmp_path)).create_example_configs(str(tmp_path / "ex"))
    assert written
    for path in written:
        assert errors(validator, yaml.safe_load(Path(path).read_text(encoding="utf-8"))) == []


def _typo(where: str) -> dict[str, Any]:
    data = copy.deepcopy(GROUP)
    group = data["steps"][0]
    if where == "top":
        data["promt"] = data.pop("prompt")
    elif where == "step":
        group["enable"] = False
    elif where == "group_params":
        group["params"]["max_worker"] = group["params"].pop("max_workers")
    elif where == "branch":
        group["params"]["parallel_steps"][0]["retry_cout"] = 1
    return data


@pytest.mark.parametrize("where", ["top", "step", "group_params", "branch"])
def test_misspelt_key_fails(validator: Any, where: str) -> None:
    assert errors(validator, _typo("none")) == []
    messages = errors(validator, _typo(where))
    assert messages and all("was unexpected" in m for m in messages), messages


def test_generator_params_are_open_but_values_validation_rejects_are_not(validator: Any) -> None:
    data = copy.deepcopy(GROUP)
    branch = data["steps"][0]["params"]["parallel_steps"][0]
    branch["params"] = {"aspect_ratio": "1:1", "anything": [1, 2]}
    assert errors(validator, data) == []
    branch["model"] = "flux_devv"
    assert errors(validator, data)
    branch["model"] = "flux_dev"
    data["steps"][0]["params"]["merge_strategy"] = "first_sucess"
    assert errors(validator, data)


def test_a_disabled_step_is_checked_for_shape_only(validator: Any) -> None:
    data = copy.deepcopy(GROUP)
    data["steps"].append({"type": "text_to_image", "model": "not_a_model", "enabled": False})
    assert errors(validator, data) == []
    data["steps"][1]["enable"] = True
    assert errors(validator, data)
