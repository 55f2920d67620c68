"""Input validators shared by the CLI, the generators and the chain loader.

Each returns `(ok, error)` with `error == ""` when ok, so callers can report the problem in
their own words without catching exceptions; `validate_chain_config` returns every problem at
once so a user fixes a pipeline file in one pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config.constants import (
    ALL_STEP_TYPES,
    AUTO_MODEL,
    EXTRA_VALID_MODELS,
    SUPPORTED_MODELS,
    is_known_model,
)

ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
URL_SCHEMES: tuple[str, ...] = ("http", "https")

Result = tuple[bool, str]

_OK: Result = (True, "")


def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_pathlike(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


def _is_number(value: Any) -> bool:
    """Real numbers only: a bool is an int to Python but never a meaningful parameter value."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_prompt(prompt: Any, max_length: int = 1000) -> Result:
    """A prompt must be non-blank text no longer than `max_length` characters."""
    if not isinstance(prompt, str):
        return False, f"Prompt must be a string, got {_type_name(prompt)}"
    if not prompt.strip():
        return False, "Prompt is empty"
    if len(prompt) > max_length:
        return False, f"Prompt is too long: {len(prompt)} characters (maximum {max_length})"
    return _OK


def validate_file_path(file_path: Any) -> Result:
    """The path must name an existing regular file (not a directory)."""
    if not _is_pathlike(file_path):
        return False, f"File path must be a string, got {_type_name(file_path)}"
    if not str(file_path):
        return False, "File path is empty"
    path = Path(file_path)
    if not path.exists():
        return False, f"File not found: {file_path}"
    if not path.is_file():
        return False, f"Not a file: {file_path}"
    return _OK


def validate_url(url: Any) -> Result:
    """Only absolute http(s) URLs with a host: other schemes (file:, ftp:, …) are refused."""
    if not isinstance(url, str):
        return False, f"URL must be a string, got {_type_name(url)}"
    if not url.strip():
        return False, "URL is empty"
    if any(ch.isspace() for ch in url):
        return False, f"URL contains whitespace: {url!r}"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        return False, f"URL is malformed: {url} ({exc})"
    if parts.scheme.lower() not in URL_SCHEMES:
        shown = parts.scheme or "none"
        return False, f"URL scheme must be http or https, got {shown}: {url}"
    if not parts.hostname:
        return False, f"URL has no host: {url}"
    return _OK


def validate_aspect_ratio(aspect_ratio: Any) -> Result:
    """Exactly one of the ratios every image model accepts; no normalising of spacing."""
    if aspect_ratio in ASPECT_RATIOS and isinstance(aspect_ratio, str):
        return _OK
    return (
        False,
        f"Unsupported aspect ratio {aspect_ratio!r}; supported: {', '.join(ASPECT_RATIOS)}",
    )


def _listing(items: Iterable[Any]) -> str:
    values = sorted(items, key=str) if isinstance(items, set | frozenset) else list(items)
    return ", ".join(str(v) for v in values) if values else "none"


def validate_model_name(model: Any, available_models: Iterable[str]) -> Result:
    """`model` must be one of `available_models`; "auto" is always allowed (picks a default)."""
    if not isinstance(model, str):
        return False, f"Model name must be a string, got {_type_name(model)}"
    if not model.strip():
        return False, "Model name is empty"
    if model == AUTO_MODEL:
        return _OK
    available = (
        available_models
        if isinstance(available_models, set | frozenset)
        else list(available_models)  # may be a one-shot iterator: read it once
    )
    if model in available:
        return _OK
    return False, f"Model {model!r} is not available; available: {_listing(available)}"


def validate_output_directory(output_dir: Any) -> Result:
    """The directory exists and is writable, or could be created. Never creates anything."""
    if not _is_pathlike(output_dir):
        return False, f"Output directory must be a string, got {_type_name(output_dir)}"
    if not str(output_dir):
        return False, "Output directory is empty"
    path = Path(output_dir).absolute()
    if path.exists():
        if not path.is_dir():
            return False, f"Output path exists but is not a directory: {output_dir}"
        if not os.access(path, os.W_OK | os.X_OK):
            return False, f"Output directory is not writable: {output_dir}"
        return _OK
    # Find the nearest existing ancestor: it decides whether the directory can be created.
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return False, f"Output directory cannot be created, {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return False, f"Output directory cannot be created, {ancestor} is not writable"
    return _OK


def validate_file_size(file_path: Any, max_size_mb: float) -> Result:
    """The file exists and is at most `max_size_mb` MiB, so an upload is refused up front."""
    ok, error = validate_file_path(file_path)
    if not ok:
        return ok, error
    if not _is_number(max_size_mb) or math.isnan(max_size_mb) or max_size_mb < 0:
        return False, f"Maximum file size must be a non-negative number, got {max_size_mb!r}"
    size_mb = Path(file_path).stat().st_size / (1024 * 1024)
    if size_mb > max_size_mb:
        return False, f"File is too large: {size_mb:.2f} MB (maximum {max_size_mb} MB)"
    return _OK


def _normalise_extension(ext: str) -> str:
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else f".{ext}"


def validate_file_format(file_path: Any, allowed_formats: Iterable[str]) -> Result:
    """The file's extension (any case) is one of `allowed_formats` (given with or without dot)."""
    if not _is_pathlike(file_path):
        return False, f"File path must be a string, got {_type_name(file_path)}"
    allowed = [_normalise_extension(f) for f in allowed_formats]
    suffix = Path(file_path).suffix.lower()
    if not suffix:
        return False, f"File has no extension: {file_path}; allowed: {_listing(allowed)}"
    if suffix not in allowed:
        return (
            False,
            f"Unsupported file format {suffix} for {file_path}; allowed: {_listing(allowed)}",
        )
    return _OK


def validate_numeric_range(
    value: Any, min_val: float, max_val: float, param_name: str = "value"
) -> Result:
    """`min_val <= value <= max_val` for a real number (bools and NaN are refused)."""
    if not _is_number(value):
        return False, f"{param_name} must be a number, got {_type_name(value)}"
    if math.isnan(value):
        return False, f"{param_name} must be a number, got NaN"
    if value < min_val or value > max_val:
        return False, f"{param_name} must be between {min_val} and {max_val}, got {value}"
    return _OK


def validate_chain_config(config: Any) -> tuple[bool, list[str]]:
    """Structural check of a loaded pipeline file; returns every problem, not just the first.

    Checks shape (a mapping with a non-empty `steps` list of mappings), the required step keys,
    the step type and the model for that type. Type flow between steps is the chain's job.
    """
    if not isinstance(config, Mapping):
        return False, [f"Configuration must be a mapping, got {_type_name(config)}"]
    if "steps" not in config:
        return False, ["Configuration is missing required key 'steps'"]
    steps = config["steps"]
    if not isinstance(steps, list):
        return False, [f"'steps' must be a list, got {_type_name(steps)}"]
    if not steps:
        return False, ["Chain must have at least one step"]

    errors: list[str] = []
    for number, step in enumerate(steps, start=1):
        errors.extend(_step_errors(number, step))
    return not errors, errors


def _step_errors(number: int, step: Any) -> list[str]:
    if not isinstance(step, Mapping):
        return [f"Step {number} must be a mapping, got {_type_name(step)}"]
    errors: list[str] = []
    step_type = step.get("type")
    if "type" not in step:
        errors.append(f"Step {number} is missing required key 'type'")
    elif not isinstance(step_type, str) or step_type not in ALL_STEP_TYPES:
        errors.append(
            f"Step {number} has unknown type {step_type!r}; "
            f"valid types: {', '.join(ALL_STEP_TYPES)}"
        )
        step_type = None
    model = step.get("model")
    if "model" not in step:
        errors.append(f"Step {number} is missing required key 'model'")
    elif not isinstance(model, str) or not model.strip():
        errors.append(f"Step {number} 'model' must be a non-empty string, got {model!r}")
    elif step_type is not None and not is_known_model(step_type, model):
        errors.append(
            f"Step {number} ({step_type}) has unknown model {model!r}; "
            f"available: {_models_for(step_type)}"
        )
    if "params" in step and not isinstance(step["params"], Mapping):
        errors.append(f"Step {number} 'params' must be a mapping, got {_type_name(step['params'])}")
    return errors


def _models_for(step_type: str) -> str:
    if step_type in SUPPORTED_MODELS:
        return ", ".join([AUTO_MODEL, *SUPPORTED_MODELS[step_type]])
    allowed = EXTRA_VALID_MODELS.get(step_type)
    return "any name" if allowed is None else ", ".join(allowed)
