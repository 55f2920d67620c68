"""Every validator: an ok case, each error case, and an error text that names the problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ai_content_pipeline.utils import validators as v

needs_non_root = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits"
)


# -- validate_prompt ------------------------------------------------------------------------------


def test_prompt_ok() -> None:
    assert v.validate_prompt("a red fox") == (True, "")
    assert v.validate_prompt("x" * 1000) == (True, "")
    assert v.validate_prompt("abc", max_length=3) == (True, "")


@pytest.mark.parametrize(
    ("prompt", "kwargs", "needle"),
    [
        (None, {}, "must be a string"),
        (42, {}, "must be a string"),
        ("", {}, "empty"),
        ("   \n\t", {}, "empty"),
        ("x" * 1001, {}, "too long"),
        ("abcd", {"max_length": 3}, "too long"),
    ],
)
def test_prompt_errors(prompt: object, kwargs: dict, needle: str) -> None:
    ok, error = v.validate_prompt(prompt, **kwargs)
    assert not ok
    assert needle in error


def test_prompt_too_long_reports_lengths() -> None:
    _, error = v.validate_prompt("x" * 12, max_length=10)
    assert "12" in error and "10" in error


# -- validate_file_path ---------------------------------------------------------------------------


def test_file_path_ok(tmp_path: Path) -> None:
    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    assert v.validate_file_path(str(f)) == (True, "")
    assert v.validate_file_path(f) == (True, "")


def test_file_path_errors(tmp_path: Path) -> None:
    ok, error = v.validate_file_path(str(tmp_path / "missing.png"))
    assert not ok and "not found" in error and "missing.png" in error
    ok, error = v.validate_file_path(str(tmp_path))
    assert not ok and "Not a file" in error
    ok, error = v.validate_file_path("")
    assert not ok and "empty" in error
    ok, error = v.validate_file_path(None)
    assert not ok and "must be a string" in error


# -- validate_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://example.com/a/b.png?x=1",
        "HTTPS://Example.com:8443/path",
        "https://127.0.0.1/img.jpg",
    ],
)
def test_url_ok(url: str) -> None:
    assert v.validate_url(url) == (True, "")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://example.com/file", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("example.com/image.png", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http://", "no host"),
        ("https:///path/only", "no host"),
        ("https://exa mple.com", "whitespace"),
        ("http://example.com:notaport/", "malformed"),
        ("", "empty"),
        (None, "must be a string"),
    ],
)
def test_url_errors(url: object, needle: str) -> None:
    ok, error = v.validate_url(url)
    assert not ok
    assert needle in error


# -- validate_aspect_ratio ------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"])
def test_aspect_ratio_ok(ratio: str) -> None:
    assert v.validate_aspect_ratio(ratio) == (True, "")


@pytest.mark.parametrize("ratio", ["5:4", "16:10", " 16:9", "16/9", "16 : 9", "", None, 1.78])
def test_aspect_ratio_errors(ratio: object) -> None:
    ok, error = v.validate_aspect_ratio(ratio)
    assert not ok
    assert "Unsupported aspect ratio" in error and "16:9" in error


# -- validate_model_name --------------------------------------------------------------------------


def test_model_name_ok() -> None:
    assert v.validate_model_name("flux_dev", ["flux_dev", "imagen4"]) == (True, "")
    assert v.validate_model_name("auto", []) == (True, "")
    assert v.validate_model_name("imagen4", {"imagen4": 1}) == (True, "")
    assert v.validate_model_name("b", iter(["a", "b"])) == (True, "")


def test_model_name_errors() -> None:
    ok, error = v.validate_model_name("veo3", ["flux_dev", "imagen4"])
    assert not ok
    assert "'veo3'" in error and "not available" in error and "flux_dev, imagen4" in error
    ok, error = v.validate_model_name("x", [])
    assert not ok and "available: none" in error
    ok, error = v.validate_model_name("", ["flux_dev"])
    assert not ok and "empty" in error
    ok, error = v.validate_model_name(None, ["flux_dev"])
    assert not ok and "must be a string" in error


# -- validate_output_directory --------------------------------------------------------------------


def test_output_directory_ok(tmp_path: Path) -> None:
    assert v.validate_output_directory(str(tmp_path)) == (True, "")
    target = tmp_path / "new" / "nested"
    assert v.validate_output_directory(target) == (True, "")
    assert not (tmp_path / "new").exists(), "validation must not create directories"


def test_output_directory_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    ok, error = v.validate_output_directory(str(blocker))
    assert not ok and "not a directory" in error
    ok, error = v.validate_output_directory(str(blocker / "sub" / "dir"))
    assert not ok and "cannot be created" in error
    ok, error = v.validate_output_directory("")
    assert not ok and "empty" in error
    ok, error = v.validate_output_directory(3)
    assert not ok and "must be a string" in error


@needs_non_root
def test_output_directory_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        ok, error = v.validate_output_directory(str(locked))
        assert not ok and "not writable" in error
        ok, error = v.validate_output_directory(str(locked / "child"))
        assert not ok and "cannot be created" in error
    finally:
        locked.chmod(0o700)


# -- validate_file_size ---------------------------------------------------------------------------


def test_file_size(tmp_path: Path) -> None:
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"\0" * (1024 * 1024))  # exactly 1 MiB
    assert v.validate_file_size(str(f), 1) == (True, "")
    assert v.validate_file_size(str(f), 2.5) == (True, "")
    ok, error = v.validate_file_size(str(f), 0.5)
    assert not ok and "too large" in error and "1.00 MB" in error and "0.5" in error
    ok, error = v.validate_file_size(str(tmp_path / "missing.mp4"), 10)
    assert not ok and "not found" in error
    ok, error = v.validate_file_size(str(f), -1)
    assert not ok and "non-negative number" in error


# -- validate_file_format -------------------------------------------------------------------------


def test_file_format() -> None:
    allowed = [".jpg", ".png"]
    assert v.validate_file_format("a/b/photo.JPG", allowed) == (True, "")
    assert v.validate_file_format("photo.png", ["PNG"]) == (True, "")
    assert v.validate_file_format(Path("x.png"), allowed) == (True, "")
    ok, error = v.validate_file_format("clip.mp4", allowed)
    assert not ok and "Unsupported file format .mp4" in error and ".jpg, .png" in error
    ok, error = v.validate_file_format("README", allowed)
    assert not ok and "no extension" in error
    ok, error = v.validate_file_format(None, allowed)
    assert not ok and "must be a string" in error


# -- validate_numeric_range -----------------------------------------------------------------------


def test_numeric_range_ok() -> None:
    assert v.validate_numeric_range(5, 1, 10) == (True, "")
    assert v.validate_numeric_range(1, 1, 10) == (True, "")
    assert v.validate_numeric_range(10.0, 1, 10) == (True, "")


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (0, "between 1 and 10, got 0"),
        (10.5, "between 1 and 10, got 10.5"),
        ("5", "must be a number, got str"),
        (None, "must be a number"),
        (True, "must be a number, got bool"),
        (float("nan"), "NaN"),
    ],
)
def test_numeric_range_errors(value: object, needle: str) -> None:
    ok, error = v.validate_numeric_range(value, 1, 10, param_name="speed")
    assert not ok
    assert error.startswith("speed ")
    assert needle in error


def test_numeric_range_default_name() -> None:
    _, error = v.validate_numeric_range(99, 0, 1)
    assert error.startswith("value must be between")


# -- validate_chain_config ------------------------------------------------------------------------


def _config(*steps: object) -> dict:
    return {"name": "t", "steps": list(steps)}


def test_chain_config_ok() -> None:
    config = _config(
        {"type": "text_to_image", "model": "flux_dev", "params": {"aspect_ratio": "16:9"}},
        {"type": "image_to_video", "model": "auto"},
        {"type": "generate_subtitles", "model": "anything"},
        {"type": "parallel_group", "model": "parallel", "params": {"parallel_steps": []}},
        {"type": "replicate_multitalk", "model": "multitalk"},
    )
    assert v.validate_chain_config(config) == (True, [])


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (["not", "a", "mapping"], "must be a mapping, got list"),
        (None, "must be a mapping"),
        ({"name": "x"}, "missing required key 'steps'"),
        ({"steps": {"type": "text_to_image"}}, "'steps' must be a list, got dict"),
        ({"steps": []}, "at least one step"),
        (_config("text_to_image"), "Step 1 must be a mapping, got str"),
        (_config({"model": "flux_dev"}), "Step 1 is missing required key 'type'"),
        (_config({"type": "text_to_image"}), "Step 1 is missing required key 'model'"),
        (_config({"type": "make_coffee", "model": "x"}), "Step 1 has unknown type 'make_coffee'"),
        (_config({"type": None, "model": "x"}), "unknown type None"),
        (_config({"type": "text_to_image", "model": "veo3"}), "unknown model 'veo3'"),
        (_config({"type": "parallel_group", "model": "auto"}), "unknown model 'auto'"),
        (_config({"type": "text_to_image", "model": ""}), "'model' must be a non-empty string"),
        (_config({"type": "text_to_image", "model": "flux_dev", "params": []}), "'params'"),
    ],
)
def test_chain_config_errors(config: object, needle: str) -> None:
    ok, errors = v.validate_chain_config(config)
    assert not ok
    assert any(needle in e for e in errors), errors


def test_chain_config_reports_every_problem_with_step_numbers() -> None:
    config = _config(
        {"type": "text_to_image", "model": "flux_dev"},
        {"model": "veo3"},
        {"type": "image_to_video"},
        {"type": "bogus", "model": "x"},
    )
    ok, errors = v.validate_chain_config(config)
    assert not ok
    assert len(errors) == 3
    assert errors[0].startswith("Step 2 ") and "'type'" in errors[0]
    assert errors[1].startswith("Step 3 ") and "'model'" in errors[1]
    assert errors[2].startswith("Step 4 ") and "unknown type 'bogus'" in errors[2]
    assert "generate_subtitles" in errors[2]  # lists the valid types


def test_unknown_model_error_lists_alternatives() -> None:
    _, errors = v.validate_chain_config(_config({"type": "upscale_video", "model": "esrgan"}))
    assert errors == [
        "Step 1 (upscale_video) has unknown model 'esrgan'; available: auto, topaz",
    ]


def test_utils_package_exports() -> None:
    import ai_content_pipeline.utils as utils

    for name in ("FileManager", "validate_prompt", "validate_file_path"):
        assert hasattr(utils, name)
        assert name in utils.__all__
