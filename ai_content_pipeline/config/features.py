"""Feature flags, read explicitly and on demand.

Why this module exists: the old pipeline loaded a `.env` at import time, so a stray file could
silently switch the parallel scheduler on (spec §8 #18). Here nothing happens at import; the flag
is resolved when asked, every source is named in the answer, and a value we cannot interpret is
an error rather than a guess.

Precedence for the parallel scheduler flag:

1. ``PIPELINE_PARALLEL_ENABLED`` when set and non-empty (an explicit ``false`` is the instant
   rollback and beats the features file);
2. ``$HOME/.ai_pipeline/features.json`` key ``parallel_execution`` (a JSON boolean);
3. disabled.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ai_content_pipeline.errors import FeatureFlagError, UsageError

from .known_keys import KeyWarning, unknown_mapping_keys

PARALLEL_ENV_VAR = "PIPELINE_PARALLEL_ENABLED"
FEATURES_FILE_RELATIVE = Path(".ai_pipeline/features.json")
PARALLEL_FILE_KEY = "parallel_execution"
FEATURES_FILE_KEYS: tuple[str, ...] = (PARALLEL_FILE_KEY,)
"""Every key the features file may hold; any other leaves its flag at the default."""

TRUE_SPELLINGS = ("true", "1", "yes", "on")
FALSE_SPELLINGS = ("false", "0", "no", "off")

SOURCE_ENVIRONMENT = "environment"
SOURCE_FILE = "file"
SOURCE_DEFAULT = "default"


@dataclass(frozen=True)
class FlagState:
    """A flag's value plus where it came from, so `aicp features` can explain it."""

    enabled: bool
    source: str
    """One of ``"environment"``, ``"file"``, ``"default"``."""
    detail: str
    """E.g. ``PIPELINE_PARALLEL_ENABLED=on`` or the features file path."""
    scheduler: str | None = None
    """A scheduler named by the flag (``PIPELINE_PARALLEL_ENABLED=async``); None: the default."""


def features_file_path() -> Path:
    """``$HOME/.ai_pipeline/features.json``; ``HOME`` first so tests and sandboxes can move it."""
    home = os.environ.get("HOME")
    base = Path(home) if home else Path.home()
    return base / FEATURES_FILE_RELATIVE


def _named_scheduler(value: str) -> str | None:
    """`value` if it names a registered concurrent scheduler, else None."""
    from ai_content_pipeline.pipeline.groups import SEQUENTIAL
    from ai_content_pipeline.pipeline.schedulers import is_registered

    return value if value != SEQUENTIAL and is_registered(value) else None


def _parse_env_value(raw: str) -> tuple[bool, str | None]:
    value = raw.strip().lower()
    if value in TRUE_SPELLINGS:
        return True, None
    if value in FALSE_SPELLINGS or value == "sequential":
        return False, None
    named = _named_scheduler(value)
    if named is not None:
        return True, named
    from ai_content_pipeline.pipeline.schedulers import registered_names

    raise FeatureFlagError(
        f"{PARALLEL_ENV_VAR}={raw!r} is not a recognised value; use one of "
        f"{', '.join(TRUE_SPELLINGS)} (enable) or {', '.join(FALSE_SPELLINGS)} (disable), "
        f"case-insensitive, a scheduler name ({', '.join(registered_names())}), or unset it"
    )


def _read_file_flag(path: Path) -> bool | None:
    """The file's boolean, or None when the file or the key is absent. Anything odd raises."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FeatureFlagError(f"cannot read features file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise FeatureFlagError(f"features file {path} is not valid UTF-8: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeatureFlagError(f"features file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise FeatureFlagError(
            f"features file {path} must hold a JSON object, not {type(data).__name__}"
        )
    if PARALLEL_FILE_KEY not in data:
        return None
    value = data[PARALLEL_FILE_KEY]
    if not isinstance(value, bool):
        raise FeatureFlagError(
            f"features file {path}: {PARALLEL_FILE_KEY!r} must be true or false "
            f"(a JSON boolean), not {json.dumps(value)}"
        )
    return value


def features_file_warnings(path: Path | None = None) -> list[KeyWarning]:
    """Unknown keys of the features file, with file and line: a misspelt key (say
    ``paralel_execution``) would otherwise leave the flag at its default without a word.

    ``[]`` when the file is absent or unreadable; the flag look-up reports those itself.
    """
    path = features_file_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    from .loader import key_lines

    lines = key_lines(text, str(path))
    return unknown_mapping_keys(
        data,
        FEATURES_FILE_KEYS,
        file=str(path),
        label="features file",
        line_of=lambda location: lines.get(location),
    )


class FeatureFlags:
    """Namespace for flag look-ups; static so callers need no instance (established API)."""

    @staticmethod
    def parallel_execution_state() -> FlagState:
        """Resolve the parallel scheduler flag and say which source decided it."""
        raw = os.environ.get(PARALLEL_ENV_VAR)
        if raw is not None and raw.strip():
            enabled, named = _parse_env_value(raw)
            return FlagState(
                enabled, SOURCE_ENVIRONMENT, f"{PARALLEL_ENV_VAR}={raw.strip()}", named
            )

        path = features_file_path()
        file_value = _read_file_flag(path)
        if file_value is not None:
            return FlagState(file_value, SOURCE_FILE, str(path))

        return FlagState(
            False,
            SOURCE_DEFAULT,
            f"{PARALLEL_ENV_VAR} unset and no {PARALLEL_FILE_KEY!r} in {path}",
        )

    @staticmethod
    def is_parallel_execution_enabled() -> bool:
        """True when the parallel scheduler may be used; raises `FeatureFlagError` on garbage."""
        return FeatureFlags.parallel_execution_state().enabled


# --- explicit .env support (only for `--env-file`) ---------------------------------------------

_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _parse_env_value_text(rest: str) -> str | None:
    """Value part of ``KEY=VALUE``; None when malformed (unterminated quote, trailing junk)."""
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = rest.find(quote, 1)
        if end == -1:
            return None
        tail = rest[end + 1 :].strip()
        if tail and not tail.startswith("#"):
            return None
        return rest[1:end]
    # Unquoted: an inline comment needs whitespace before '#', so `a#b` stays a value.
    match = re.search(r"\s#", rest)
    if match:
        rest = rest[: match.start()]
    return rest.strip()


def load_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a ``.env`` file the user named and export keys not already set.

    Why tiny and explicit: the environment already set by the user must win (so an explicit
    ``PIPELINE_PARALLEL_ENABLED=false`` stays a rollback), and the file is only read because the
    user asked for it. Lines: ``KEY=VALUE``, ``export KEY=VALUE``, blank lines and ``#`` comments;
    values may be wrapped in single or double quotes (taken literally, no escapes). The whole file
    is parsed before anything is set, so a malformed line changes nothing. Error messages name the
    file and line but never echo the line, which may hold a secret.
    """
    env_path = Path(path)
    try:
        text = env_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UsageError(f"env file not found: {env_path}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read env file {env_path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"env file {env_path} is not valid UTF-8: {exc}") from exc

    parsed: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if re.match(r"export\s", stripped):
            stripped = stripped[len("export") :].lstrip()
        key, sep, rest = stripped.partition("=")
        key = key.strip()
        value = _parse_env_value_text(rest) if sep else None
        # A NUL cannot go into the environment: os.environ would raise half-way through applying.
        if not sep or not _ENV_KEY.fullmatch(key) or value is None or "\0" in value:
            raise UsageError(
                f"{env_path}:{lineno}: malformed line; expected KEY=VALUE "
                "(optional 'export ' prefix, optional quotes)"
            )
        parsed[key] = value

    applied: dict[str, str] = {}
    for key, value in parsed.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied
