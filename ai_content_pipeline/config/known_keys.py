"""Every key the pipeline format knows, per level, and the warnings for the ones it does not.

Why one place: the loader keeps loading files with unknown keys (newer files must still run),
so a misspelt key (`enable: false`, `modle:`, `promt:`) would otherwise be ignored in silence.
The warnings here, the `--strict` errors of the CLI, the harness and the JSON Schema
(`ai_content_pipeline.pipeline.schema`) all read these sets, so they cannot drift apart.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import LoadedConfig

__all__ = [
    "DECLARED_PARAMS",
    "GROUP_PARAM_KEYS",
    "STEP_KEYS",
    "TOP_LEVEL_KEYS",
    "KeyWarning",
    "did_you_mean",
    "misspelling_of",
    "unknown_keys",
    "unknown_mapping_keys",
]

Location = tuple[str | int, ...]

TOP_LEVEL_KEYS: tuple[str, ...] = (
    "name",
    "description",
    "prompt",
    "input_type",
    "input_image",
    "input_video",
    "output_dir",
    "save_intermediates",
    "temp_dir",
    "cleanup_temp",
    "steps",
)
"""Top-level keys of a pipeline file (interface spec section 4)."""

STEP_KEYS: tuple[str, ...] = ("type", "model", "params", "enabled", "retry_count")
"""Keys of a step and of a group branch."""

GROUP_PARAM_KEYS: tuple[str, ...] = ("parallel_steps", "max_workers", "merge_strategy")
"""What a `parallel_group` reads from its params; nothing else there has any effect."""

DECLARED_PARAMS: dict[str, tuple[str, ...]] = {"parallel_group": GROUP_PARAM_KEYS}
"""Step types whose params are a closed set. Generator steps forward every param to their
provider (spec section 5: "+ rest"), so their params are open and never warned about."""

_CUTOFF = 0.6


def did_you_mean(value: object, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    matches = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=_CUTOFF)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def misspelling_of(wanted: str, mapping: Mapping[Any, Any], known: Sequence[str]) -> str | None:
    """The unknown key of `mapping` that is closest to the missing key `wanted`, if any."""
    unknown = [str(k) for k in mapping if str(k) not in known]
    matches = difflib.get_close_matches(wanted, unknown, n=1, cutoff=_CUTOFF)
    return matches[0] if matches else None


@dataclass(frozen=True)
class KeyWarning:
    """One key the loader does not know: ignored when the file runs, an error under --strict."""

    file: str
    line: int | None
    field: str
    """Path of the key in the file, e.g. ``steps[0].enable``."""
    message: str
    """Without the location, e.g. ``step 1 field 'enable': unknown key; did you mean ...``."""
    key: str = dataclass_field(default="", compare=False)
    """The unknown key itself, e.g. ``enable``."""

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def as_error(self) -> str:
        """``FILE:LINE: message``, as every other pipeline problem is printed."""
        return f"{self.where()}: {self.message}"

    def __str__(self) -> str:
        return f"{self.where()}: warning: {self.message}"


def _field(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def unknown_mapping_keys(
    mapping: Mapping[Any, Any],
    known: Sequence[str],
    *,
    file: str,
    location: Location = (),
    label: str,
    line_of: Callable[[Location], int | None] = lambda _location: None,
    prefix: str = "",
) -> list[KeyWarning]:
    """Warnings for the keys of one mapping that are not in `known`, in file order.

    `label` names the mapping in messages ("top-level", "step 2"); `prefix` goes before the
    key in the message (``params.``).
    """
    found = []
    for key in mapping:
        if isinstance(key, str) and key in known:
            continue
        where = (*location, key)
        found.append(
            KeyWarning(
                file=file,
                line=line_of(where),
                field=_field(where),
                message=f"{label} field '{prefix}{key}': unknown key{did_you_mean(key, known)}",
                key=str(key),
            )
        )
    return found


class _Walker:
    """Walks a pipeline once; steps are named as validation names them (enabled ones counted)."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.file = loaded.source or str(loaded.path)
        self.found: list[KeyWarning] = []

    def keys(
        self, mapping: Mapping[Any, Any], known: Sequence[str], location: Location, label: str
    ) -> None:
        prefix = "params." if location and location[-1] == "params" else ""
        self.found += unknown_mapping_keys(
            mapping,
            known,
            file=self.file,
            location=location,
            label=label,
            line_of=self.loaded.line_of,
            prefix=prefix,
        )

    def steps(self, steps: Any, location: Location, label: str) -> None:
        """Each step (or branch) of a list; `label` is "step" or "step 2 branch"."""
        if not isinstance(steps, list):
            return
        number = 0
        for index, step in enumerate(steps):
            if not isinstance(step, Mapping):
                continue
            if step.get("enabled", True):
                number += 1
                named = f"{label} {number}"
            else:
                named = f"{label} at position {index + 1}"
            self.step(step, (*location, index), named)

    def step(self, step: Mapping[Any, Any], location: Location, named: str) -> None:
        self.keys(step, STEP_KEYS, location, named)
        params = step.get("params")
        declared = DECLARED_PARAMS.get(str(step.get("type")))
        if declared is None or not isinstance(params, Mapping):
            return
        params_location = (*location, "params")
        self.keys(params, declared, params_location, named)
        if step.get("type") == "parallel_group":
            branches = (*params_location, "parallel_steps")
            self.steps(params.get("parallel_steps"), branches, f"{named} branch")


def unknown_keys(loaded: LoadedConfig) -> list[KeyWarning]:
    """Every unknown key of a loaded pipeline file: top level, steps, branches, group params.

    Disabled steps are checked too (a typo there is as silent); their label is their position.
    """
    walker = _Walker(loaded)
    data = loaded.data
    if not isinstance(data, Mapping):
        return []
    walker.keys(data, TOP_LEVEL_KEYS, (), "top-level")
    walker.steps(data.get("steps"), ("steps",), "step")
    return walker.found
