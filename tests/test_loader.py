"""`config.loader`: located safe loading, limits, and one-line errors with file:line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ai_content_pipeline.config.loader import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    LoadedConfig,
    load_config_file,
)
from ai_content_pipeline.errors import ConfigError

NESTED = """\
name: nested_lines
description: line numbers for nested keys
steps:
  - type: text_to_image
    model: flux_schnell
  - type: image_to_image
    model: photon_flash
    enabled: false
  - type: parallel_group
    model: parallel
    params:
      max_workers: 2
      parallel_steps:
        - type: image_to_video
          model: hailuo
        - type: image_to_video
          params:
            duration: 5
          model: kling
  - {type: add_audio, model: thinksound}
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    return info.value


# --------------------------------------------------------------------------- success


def test_data_is_what_safe_load_gives(tmp_path: Path) -> None:
    import yaml

    path = write(tmp_path, "p.yaml", NESTED)
    loaded = load_config_file(path)
    assert isinstance(loaded, LoadedConfig)
    assert loaded.path == path
    assert loaded.data == yaml.safe_load(NESTED)


def test_line_of_nested_keys(tmp_path: Path) -> None:
    loaded = load_config_file(write(tmp_path, "p.yaml", NESTED))
    assert loaded.line_of(("name",)) == 1
    assert loaded.line_of(("steps",)) == 3
    assert loaded.line_of(("steps", 0)) == 4
    assert loaded.line_of(("steps", 1, "enabled")) == 8
    assert loaded.line_of(("steps", 2, "params", "parallel_steps")) == 13
    assert loaded.line_of(("steps", 2, "params", "parallel_steps", 0, "model")) == 15
    assert loaded.line_of(("steps", 2, "params", "parallel_steps", 1)) == 16
    assert loaded.line_of(("steps", 2, "params", "parallel_steps", 1, "model")) == 19
    assert loaded.line_of(("steps", 2, "params", "parallel_steps", 1, "params", "duration")) == 18
    assert loaded.line_of(("steps", 3, "model")) == 20  # flow mapping


def test_line_of_falls_back_to_nearest_ancestor(tmp_path: Path) -> None:
    loaded = load_config_file(write(tmp_path, "p.yaml", NESTED))
    assert loaded.line_of(("steps", 0, "params", "prompt")) == 4  # no params: the item's line
    assert loaded.line_of(("steps", 2, "params", "nope", 7)) == 11
    assert loaded.line_of(("steps", 99)) == 3
    assert loaded.line_of(("unknown",)) == 1
    assert loaded.line_of(()) == 1


def test_where_uses_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "p.yaml", NESTED)
    monkeypatch.chdir(tmp_path)
    loaded = load_config_file("p.yaml")
    assert loaded.where(("steps", 2, "params", "parallel_steps", 1, "model")) == "p.yaml:19"
    assert loaded.where(("steps", 2, "model")) == "p.yaml:10"


def test_aliases_and_merge_keys_are_located_and_unshared(tmp_path: Path) -> None:
    text = """\
defaults: &defaults
  model: flux_schnell
  params: {aspect_ratio: "1:1"}
steps:
  - <<: *defaults
    type: text_to_image
  - *defaults
"""
    loaded = load_config_file(write(tmp_path, "a.yaml", text))
    steps = loaded.data["steps"]
    assert steps[0] == {
        "model": "flux_schnell",
        "params": {"aspect_ratio": "1:1"},
        "type": "text_to_image",
    }
    steps[0]["params"]["aspect_ratio"] = "16:9"
    assert steps[1]["params"] == {"aspect_ratio": "1:1"}, "aliased parts must not be shared"
    assert loaded.line_of(("steps", 0, "type")) == 6
    assert loaded.line_of(("steps", 0, "model")) == 2  # merged: the anchor's definition
    assert loaded.line_of(("steps", 1)) == 7  # the alias itself, not the anchor


def test_yml_extension_and_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yml", "\ufeffname: bom\nsteps: []\n".encode())
    assert load_config_file(path).data == {"name": "bom", "steps": []}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("name: a\nsteps:\n  - type: x\n   model: y\n", 4, "invalid YAML"),
        ("name: a\nsteps: [1, 2\n", 3, "invalid YAML"),
        ("name: a\n\tsteps: []\n", 2, "invalid YAML"),
        ("steps: []\n---\nsteps: []\n", 2, "single document"),
        ("name: a\nsteps: []\nx: !!python/object/apply:os.system [id]\n", 3, "constructor"),
        ("name: a\nsteps: []\nx: *nowhere\n", 3, "undefined alias"),
    ],
)
def test_yaml_syntax_errors_have_the_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, "bad.yaml", text)
    err = error_of(path)
    assert err.location == f"{path}:{line}"
    assert fragment in err.message
    assert "\n" not in str(err)
    assert err.__cause__ is None and err.__suppress_context__, "no chained yaml traceback"


def test_duplicate_key_names_the_key_and_line(tmp_path: Path) -> None:
    text = (
        "name: a\nsteps:\n  - type: text_to_image\n    model: flux_dev\n    model: flux_schnell\n"
    )
    path = write(tmp_path, "dup.yaml", text)
    err = error_of(path)
    assert err.location == f"{path}:5"
    assert "'model'" in err.message and "line 4" in err.message


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.yaml", "name: a\nsteps: []\nname: b\n")
    assert error_of(path).location == f"{path}:3"


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(tmp_path / "absent.yaml")
    assert err.message == f"Configuration file not found: {tmp_path / 'absent.yaml'}"


def test_directory_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    err = error_of(folder)
    assert err.location == str(folder)
    assert "cannot read" in err.message


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "locked.yaml", "steps: []\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    err = error_of(path)
    assert err.location == str(path)
    assert err.message == "cannot read configuration file: Permission denied"


def test_not_utf8_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.yaml", b"name: a\nsteps: []\ndescription: caf\xe9\n")
    err = error_of(path)
    assert err.location == f"{path}:3"
    assert "UTF-8" in err.message


def test_unacceptable_character_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nul.yaml", "name: a\nsteps: []\nx: \x00\n")
    assert error_of(path).location == f"{path}:3"


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n", "~\n"])
def test_empty_document(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "empty.yaml", text)
    err = error_of(path)
    assert err.location == f"{path}:1"
    assert "empty" in err.message


@pytest.mark.parametrize(
    ("text", "kind", "line"), [("\n- a\n- b\n", "list", 2), ("\n\nhello\n", "string", 3)]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, kind: str, line: int) -> None:
    path = write(tmp_path, "top.yaml", text)
    err = error_of(path)
    assert err.location == f"{path}:{line}"
    assert "mapping" in err.message and kind in err.message


def test_missing_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "nosteps.yaml", "# header\n\nname: a\ndescription: b\n")
    err = error_of(path)
    assert err.location == f"{path}:3"
    assert "'steps'" in err.message


@pytest.mark.parametrize("value", ["{a: 1}", "hello", "3", "null"])
def test_steps_not_a_list(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "steps.yaml", f"name: a\ndescription: b\nsteps: {value}\n")
    err = error_of(path)
    assert err.location == f"{path}:3"
    assert "'steps' must be a list" in err.message


def test_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", "steps = []\n")
    assert "Unsupported configuration format: .toml" in error_of(path).message


def test_file_over_one_mib_is_refused_without_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", b"steps: []\n" + b"#" * MAX_FILE_BYTES)
    err = error_of(path)
    assert err.location == f"{path}:2"  # the line that passes the limit
    assert "1 MiB" in err.message


def test_file_of_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    head = b"steps: []\n#"
    path = write(tmp_path, "edge.yaml", head + b"x" * (MAX_FILE_BYTES - len(head)))
    assert load_config_file(path).data == {"steps": []}


# --------------------------------------------------------------------------- alias bombs


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['a0: &a0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("steps: []")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_rejected_quickly(tmp_path: Path) -> None:
    text = billion_laughs()  # 72 aliases (under the alias limit), 9**9 nodes expanded
    assert text.count("*") <= MAX_ALIASES
    path = write(tmp_path, "lol.yaml", text)
    started = time.perf_counter()
    err = error_of(path)
    assert time.perf_counter() - started < 1.0
    assert "100,000 nodes" in err.message
    assert err.location is not None and err.location.startswith(f"{path}:")


def test_too_many_aliases_is_rejected_at_the_offending_line(tmp_path: Path) -> None:
    body = "".join("  - *x\n" for _ in range(MAX_ALIASES + 1))
    path = write(tmp_path, "aliases.yaml", "x: &x 1\nsteps:\n" + body)
    err = error_of(path)
    assert "too many YAML aliases" in err.message
    assert err.location == f"{path}:{3 + MAX_ALIASES}"


def test_exactly_the_alias_limit_is_fine(tmp_path: Path) -> None:
    body = "".join("  - *x\n" for _ in range(MAX_ALIASES))
    loaded = load_config_file(write(tmp_path, "ok.yaml", "x: &x 1\nsteps:\n" + body))
    assert loaded.data["steps"] == [1] * MAX_ALIASES


def test_recursive_alias_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "rec.yaml", "name: a\nsteps: &s [1, *s]\n")
    err = error_of(path)
    assert "recursive" in err.message
    assert err.location == f"{path}:2"


def test_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.yaml", "steps: " + "[" * 3000 + "]" * 3000 + "\n")
    err = error_of(path)
    assert err.message == (
        f"configuration is nested more than {MAX_DEPTH} levels deep; refusing to load it"
    )
    assert err.location == f"{path}:1"


# --------------------------------------------------------------------------- JSON

JSON_TEXT = """\
{
  "name": "json_pipeline",
  "steps": [
    {"type": "text_to_image", "model": "flux_schnell"},
    {
      "type": "image_to_video",
      "model": "hailuo",
      "params": {"duration": 6}
    }
  ]
}
"""


def test_json_loading(tmp_path: Path) -> None:
    import json

    path = write(tmp_path, "p.json", JSON_TEXT)
    loaded = load_config_file(path)
    assert loaded.data == json.loads(JSON_TEXT)
    assert loaded.format == "json"
    # Best effort, but for ordinary JSON the lines are right.
    assert loaded.line_of(("steps", 1, "params", "duration")) == 8
    assert loaded.where(("steps", 0)) == f"{path}:4"


def test_json_syntax_error_has_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{\n  "name": "x",\n  "steps": [1,]\n}\n')
    err = error_of(path)
    assert err.location == f"{path}:3"
    assert err.message.startswith("invalid JSON")


def test_json_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.json", '{\n  "steps": [],\n  "steps": []\n}\n')
    err = error_of(path)
    assert "'steps'" in err.message
    assert err.location == f"{path}:3"


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("", "empty", 1),
        ("null", "empty", 1),
        ("[1, 2]", "mapping", 1),
        ('{\n  "name": "x"\n}', "'steps'", 1),
        ('{\n  "name": "x",\n  "steps": {}\n}', "must be a list", 3),
    ],
)
def test_json_shape_errors(tmp_path: Path, text: str, fragment: str, line: int) -> None:
    path = write(tmp_path, "shape.json", text)
    err = error_of(path)
    assert fragment in err.message
    assert err.location == f"{path}:{line}"


def test_where_without_a_line_is_just_the_path() -> None:
    loaded = LoadedConfig(path=Path("x.json"), data={"steps": []})
    assert loaded.line_of(("steps", 0)) is None
    assert loaded.where(("steps", 0)) == "x.json"


def test_unterminated_quote_points_at_the_line_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "quote.yaml"
    path.write_text('name: x\nprompt: "abc\nsteps:\n  - type: text_to_image\n    model: flux_dev\n')
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert info.value.location == f"{path}:2"
