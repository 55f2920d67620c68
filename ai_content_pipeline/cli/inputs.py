"""Which input a `run-chain` gets: first match of flags, then the pipeline file (spec §3, §8 #8).

Why here and not in the manager: every failure to find an input is a usage error that must stop
the run before anything is spent, with a message naming the flag or key to give.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UsageError

CONFIG_KEYS = {"text": "prompt", "any": "prompt", "image": "input_image", "video": "input_video"}
MEDIA_TYPES = ("image", "video")


def resolve_input(args: argparse.Namespace, input_type: str, config: Mapping[str, Any]) -> str:
    """The run's input: --input-text, --input, --prompt-file, then the config key."""
    if args.input_text is not None:
        return _nonblank(args.input_text, "--input-text")
    if args.input is not None:
        return _checked(args.input, input_type, "--input")
    if args.prompt_file is not None:
        return read_prompt_file(args.prompt_file)
    key = CONFIG_KEYS.get(input_type)
    if key is None:
        raise UsageError(f"Unknown input type: {input_type}")
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UsageError(_missing_message(input_type, key, args.config))
    if not isinstance(value, str):
        raise UsageError(f"'{key}' in {args.config} must be a string")
    return _checked(value, input_type, f"'{key}' in {args.config}")


def read_prompt_file(path: str) -> str:
    """The prompt file's text, stripped; a missing, unreadable or empty file is a usage error."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig").strip()
    except FileNotFoundError:
        raise UsageError(f"prompt file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read prompt file {path}: {exc}") from None
    if not text:
        raise UsageError(f"prompt file is empty: {path}")
    return text


def _checked(value: str, input_type: str, origin: str) -> str:
    """Media inputs: URLs pass; a local path must exist, relative to the current directory.

    The value is returned as written (Python resolves relative paths against the current
    directory, where users run from), so reports show the path the user gave.
    """
    value = _nonblank(value, origin)
    if input_type not in MEDIA_TYPES or "://" in value:
        return value
    path = Path(value)
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to the current directory {Path.cwd()})"
        raise UsageError(f"input {input_type} not found: {value}{where}; given by {origin}")
    return value


def _nonblank(value: str, origin: str) -> str:
    if not value.strip():
        raise UsageError(f"{origin} is empty")
    return value


def _missing_message(input_type: str, key: str, config_path: str) -> str:
    if key == "prompt":
        return (
            f"no input prompt: give --input-text TEXT, --input TEXT or --prompt-file FILE, "
            f"or set 'prompt' in {config_path}"
        )
    return f"no input {input_type}: give --input PATH_OR_URL, or set '{key}' in {config_path}"
