"""Which input a `run-chain` gets: first match of flags, then the pipeline file (spec §3, §8 #8).

Why here and not in the manager: every failure to find an input is a usage error that must stop
the run before anything is spent, with a message naming the flag or key to give. `validate` asks
the same question with the same flags, so it passes exactly the inputs `run-chain` accepts.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from ..config.constants import SUPPORTED_FORMATS
from ..config.loader import MAX_FILE_BYTES
from ..errors import UsageError

CONFIG_KEYS = {"text": "prompt", "any": "prompt", "image": "input_image", "video": "input_video"}
MEDIA_TYPES = ("image", "video")

Location = tuple[str | int, ...]


class InputProblem(UsageError):
    """An input `run-chain` cannot use. `location` points into the pipeline file when the
    problem is there (so the CLI prints `FILE:LINE: message`); None when a flag is to blame."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.location = location


def resolve_input(args: argparse.Namespace, input_type: str, config: Mapping[str, Any]) -> str:
    """The run's input: --input-text, --input, --prompt-file, then the config key.

    Each source must give the kind of data the pipeline starts with: text flags never feed an
    image or video pipeline, and a file or URL given to `--input` never becomes a prompt.
    """
    if args.input_text is not None:
        _check_text_source("--input-text", input_type, config)
        return _nonblank(args.input_text, "--input-text")
    if args.input is not None:
        if input_type == "text":
            _check_not_media(args.input, config)
        return _checked(args.input, input_type, "--input", config)
    if args.prompt_file is not None:
        _check_text_source("--prompt-file", input_type, config)
        return read_prompt_file(args.prompt_file)
    key = CONFIG_KEYS.get(input_type)
    if key is None:
        raise InputProblem(
            f"Unknown input type: {input_type} (field 'input_type' must be auto, text, image "
            "or video)",
            ("input_type",),
        )
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputProblem(
            _missing_message(input_type, key, args.config, config), _start_location(config)
        )
    if not isinstance(value, str):
        raise InputProblem(f"field '{key}' must be a string", (key,))
    return _checked(value, input_type, f"field '{key}'", config, (key,))


def read_prompt_file(path: str) -> str:
    """The prompt file's text, stripped; a missing, unreadable, empty or oversized file (the
    pipeline file's limit, `MAX_FILE_BYTES`: more is never read) is a usage error."""
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise UsageError(
                f"prompt file {path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                "refusing to read it"
            )
        text = raw.decode("utf-8-sig").strip()
    except FileNotFoundError:
        raise UsageError(f"prompt file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read prompt file {path}: {exc}") from None
    if not text:
        raise UsageError(f"prompt file is empty: {path}")
    return text


def _checked(
    value: str,
    input_type: str,
    origin: str,
    config: Mapping[str, Any],
    location: Location | None = None,
) -> str:
    """Media inputs: a URL or an existing local file (relative to the current directory) of
    the pipeline's media kind.

    The value is returned as written (Python resolves relative paths against the current
    directory, where users run from), so reports show the path the user gave.
    """
    value = _nonblank(value, origin, location)
    if input_type not in MEDIA_TYPES:
        return value
    kind = _media_kind(value)
    if kind is not None and kind != input_type:
        raise InputProblem(
            f"{origin} {value} is {_a(kind)} file, but {_start_phrase(input_type, config)}",
            location,
        )
    if "://" in value:
        return value
    path = Path(value)
    if not _is_file(value):
        where = "" if path.is_absolute() else f" (relative to the current directory {Path.cwd()})"
        raise InputProblem(
            f"input {input_type} not found: {value}{where}; given by {origin}", location
        )
    return value


def _check_text_source(flag: str, input_type: str, config: Mapping[str, Any]) -> None:
    """A text flag given to an image or video pipeline would be used as that file's path."""
    if input_type in MEDIA_TYPES:
        key = CONFIG_KEYS[input_type]
        raise InputProblem(
            f"{flag} gives text, but {_start_phrase(input_type, config)}: give --input "
            f"PATH_OR_URL, or set '{key}' in the pipeline file"
        )


def _check_not_media(value: str, config: Mapping[str, Any]) -> None:
    """A path or URL given to a text pipeline would silently become its prompt."""
    token = value.strip()
    looks_like_file = " " not in token and ("://" in token or _media_kind(token) is not None)
    if looks_like_file or _is_file(token):
        raise InputProblem(
            f"--input {token} looks like a file or URL, but {_start_phrase('text', config)}: "
            "use --prompt-file FILE to read the prompt from a file, or --input-text TEXT to "
            "use these words as the prompt"
        )


def _is_file(value: str) -> bool:
    """Path.is_file for any string: a prompt too long or odd for a file name is no file."""
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def _media_kind(value: str) -> str | None:
    """image / video / audio by the path's (or URL path's) suffix; None when unknown."""
    path = urlsplit(value).path if "://" in value else value
    suffix = PurePosixPath(path.replace("\\", "/")).suffix.lower()
    for kind, suffixes in SUPPORTED_FORMATS.items():
        if suffix in suffixes:
            return kind
    return None


def _start_location(config: Mapping[str, Any]) -> Location:
    """What makes the pipeline need its input: `input_type`, else the first enabled step."""
    if config.get("input_type", "auto") != "auto":
        return ("input_type",)
    for index, step in enumerate(config.get("steps") or []):
        if isinstance(step, Mapping) and step.get("enabled", True):
            return ("steps", index, "type")
    return ()


def _start_phrase(input_type: str, config: Mapping[str, Any]) -> str:
    """'this pipeline starts with image input (its first step is image_to_video)'."""
    location = _start_location(config)
    if location == ("input_type",):
        reason = f"input_type: {config['input_type']}"
    elif location:
        reason = f"its first step is {config['steps'][location[1]].get('type')}"
    else:
        reason = "it has no enabled steps"
    return f"this pipeline starts with {input_type} input ({reason})"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _nonblank(value: str, origin: str, location: Location | None = None) -> str:
    if not value.strip():
        raise InputProblem(f"{origin} is empty", location)
    return value


def _missing_message(input_type: str, key: str, config_path: str, config: Mapping[str, Any]) -> str:
    if key == "prompt":
        return (
            f"no input prompt: give --input-text TEXT, --input TEXT or --prompt-file FILE, "
            f"or set 'prompt' in {config_path}"
        )
    return (
        f"no input {input_type}: {_start_phrase(input_type, config)}; give --input "
        f"PATH_OR_URL, or set '{key}' in {config_path}"
    )
