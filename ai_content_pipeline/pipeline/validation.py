"""Everything that makes a pipeline config unrunnable, found before anything is spent.

Works on the raw config mapping (not on built steps) so that a malformed step is
reported with its location instead of crashing `PipelineStep.from_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from ..config.constants import IMAGE_TO_VIDEO_DURATIONS, SUPPORTED_MODELS, is_known_model
from ..config.known_keys import STEP_KEYS, misspelling_of
from ..config.known_keys import did_you_mean as did_you_mean  # re-exported: callers import it here
from . import step_types
from .chain import StepType

Location = tuple[str | int, ...]

STEP_TYPE_VALUES = [member.value for member in StepType]
MERGE_STRATEGY_VALUES = ("collect_all", "first_success", "best_quality")
MAX_WORKERS_RANGE = (1, 64)
MAX_RETRIES = 10
PATH_PARAMS = ("output_dir", "output_file")
"""Step params a run writes to, inside the chain's output_dir (like top-level `temp_dir`)."""

# Paths only a pipeline file is held to (`find_problems(..., pipeline_file=True)`, as `aicp`
# and the harness call it): a Python caller may hand a chain any folder or input, but a file
# must not make a run write outside --base-dir, nor read (and send to a provider) a file
# outside the current directory. Every other path-valued field is in PATH_PARAMS or temp_dir.
FILE_OUTPUT_DIR = "output_dir"
INPUT_PATH_FIELDS = ("input_image", "input_video")
INPUT_PATH_PARAMS: dict[str, tuple[str, ...]] = {
    "replicate_multitalk": ("image", "first_audio", "second_audio"),
}
INPUT_PATH_RULE = "must be a relative path inside the current directory, or a URL"


@dataclass(frozen=True)
class Problem:
    """One reason a config cannot run, and where in the file it is."""

    location: Location
    message: str


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _escapes(path_value: object) -> bool:
    """True when a path parameter would write outside the chain's output_dir."""
    text = str(path_value)
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute():
        return True
    return ".." in PurePosixPath(text.replace("\\", "/")).parts


def _input_escapes(path_value: object) -> bool:
    """True when an input path of a pipeline file names a file outside the current directory
    (a ``file:`` URL always does: it is an absolute path)."""
    text = str(path_value)
    return _escapes(text) or text.strip().lower().startswith("file:")


def initial_input_type(config: Mapping[str, Any]) -> str:
    """The established rule: explicit `input_type`, else the first enabled step's input."""
    explicit = config.get("input_type", "auto")
    if explicit and explicit != "auto":
        return str(explicit)
    for step in config.get("steps") or []:
        if not isinstance(step, Mapping) or not step.get("enabled", True):
            continue
        step_type = step.get("type")
        if step_type == "parallel_group":
            branches = _enabled_branches(step)
            if branches and isinstance(branches[0][1], Mapping):
                step_type = branches[0][1].get("type")
            else:
                return "text"
        expected = step_types.input_type_of(str(step_type))
        return "text" if expected in (step_types.ANY, "unknown") else expected
    return "text"


def _enabled_branches(step: Mapping[str, Any]) -> list[tuple[int, Any]]:
    params = step.get("params") or {}
    raw = params.get("parallel_steps") if isinstance(params, Mapping) else None
    if not isinstance(raw, list):
        return []
    return [
        (j, b) for j, b in enumerate(raw) if not isinstance(b, Mapping) or b.get("enabled", True)
    ]


class _Checker:
    """Walks a config once, collecting problems and tracking the available data type."""

    def __init__(self, pipeline_file: bool = False) -> None:
        self.problems: list[Problem] = []
        self.pipeline_file = pipeline_file
        # Whether an earlier enabled prompt_generation can give later subtitles their text.
        self.prompt_generated = False

    def add(self, location: Location, message: str) -> None:
        self.problems.append(Problem(location, message))

    def check_config(self, config: Any) -> list[Problem]:
        if not isinstance(config, Mapping):
            self.add((), "Configuration must be a mapping with a 'steps' list")
            return self.problems
        steps = config.get("steps")
        if "steps" not in config:
            self.add((), "Configuration has no 'steps' list")
            return self.problems
        if not isinstance(steps, list):
            self.add(("steps",), "'steps' must be a list of step mappings")
            return self.problems
        if not steps:
            self.add(("steps",), "Chain must have at least one step")
            return self.problems
        self._check_top_level(config)
        available = initial_input_type(config)
        number = 0
        for index, raw in enumerate(steps):
            location: Location = ("steps", index)
            if isinstance(raw, Mapping) and not raw.get("enabled", True):
                self._check_enabled_flag(raw, location, f"Step at position {index + 1}")
                continue
            number += 1
            label = f"Step {number}"
            if not self._check_step_fields(raw, location, label):
                continue
            step_type = raw["type"]
            if step_type == "prompt_generation":
                self.prompt_generated = True
            if step_type == "parallel_group":
                available = self._check_group(raw, location, label, available)
                continue
            available = self._check_flow(step_type, location, label, number, available)
        if number == 0:
            self.add(("steps",), "Chain has no enabled steps")
        return self.problems

    def _check_top_level(self, config: Mapping[str, Any]) -> None:
        for key in ("name", "output_dir", "temp_dir", "input_type"):
            if key in config and not isinstance(config[key], str):
                self.add((key,), f"top-level field '{key}' must be a string")
        if isinstance(config.get("temp_dir"), str) and _escapes(config["temp_dir"]):
            self.add(
                ("temp_dir",),
                f"top-level field 'temp_dir' must be a relative path inside output_dir, "
                f"got '{config['temp_dir']}'",
            )
        for key in ("save_intermediates", "cleanup_temp"):
            if key in config and not isinstance(config[key], bool):
                self.add((key,), f"top-level field '{key}' must be true or false")
        if self.pipeline_file:
            self._check_file_paths(config)

    def _check_file_paths(self, config: Mapping[str, Any]) -> None:
        """Where a pipeline file may make a run write (inside --base-dir) and read from; its
        inputs are strings (a `!!binary` prompt is bytes)."""
        for key in ("prompt", *INPUT_PATH_FIELDS):
            if config.get(key) is not None and not isinstance(config[key], str):
                self.add((key,), f"top-level field '{key}' must be a string")
        value = config.get(FILE_OUTPUT_DIR)
        if isinstance(value, str) and _escapes(value):
            self.add(
                (FILE_OUTPUT_DIR,),
                f"top-level field 'output_dir' must be a relative path inside --base-dir, got "
                f"'{value}'; to write elsewhere, pass --base-dir DIR (output_dir is relative "
                "to it)",
            )
        for key in INPUT_PATH_FIELDS:
            value = config.get(key)
            if isinstance(value, str) and _input_escapes(value):
                self.add(
                    (key,),
                    f"top-level field '{key}' {INPUT_PATH_RULE}, got '{value}'; to use a file "
                    "elsewhere, give it with --input PATH",
                )

    def _check_flow(
        self, step_type: str, location: Location, label: str, number: int, available: str
    ) -> str:
        expected = step_types.input_type_of(step_type)
        if not step_types.accepts(expected, available):
            if number == 1:
                message = (
                    f"First step expects {expected} input, but pipeline starts with {available}"
                )
            else:
                message = f"{label} expects {expected} but available data is {available}"
            self.add((*location, "type"), message)
        return step_types.next_type(step_type, available)

    def _check_enabled_flag(self, raw: Mapping[str, Any], location: Location, label: str) -> None:
        if not isinstance(raw.get("enabled", True), bool):
            self.add((*location, "enabled"), f"{label} field 'enabled' must be true or false")

    def _check_step_fields(self, raw: Any, location: Location, label: str) -> bool:
        """Field-level checks; False when the step is too broken to follow the data flow."""
        if not isinstance(raw, Mapping):
            self.add(location, f"{label} must be a mapping with 'type' and 'model'")
            return False
        ok = True
        step_type = raw.get("type")
        if "type" not in raw:
            self._missing(raw, location, label, "type")
            ok = False
        elif step_type not in STEP_TYPE_VALUES:
            hint = did_you_mean(step_type, STEP_TYPE_VALUES)
            self.add(
                (*location, "type"), f"{label} field 'type': unknown step type '{step_type}'{hint}"
            )
            ok = False
        named = f"{label} ({step_type})" if ok else label
        if "model" not in raw:
            self._missing(raw, location, named, "model")
        elif not isinstance(raw["model"], str) or not raw["model"].strip():
            self.add((*location, "model"), f"{named} field 'model' must be a non-empty string")
        elif ok and not is_known_model(step_type, raw["model"]):
            choices = _model_choices(step_type)
            hint = did_you_mean(raw["model"], choices)
            self.add(
                (*location, "model"),
                f"{named} field 'model': unknown model '{raw['model']}' for {step_type}{hint}",
            )
        self._check_enabled_flag(raw, location, named)
        retry = raw.get("retry_count", 0)
        if not _is_int(retry) or not 0 <= retry <= MAX_RETRIES:
            self.add(
                (*location, "retry_count"),
                f"{named} field 'retry_count' must be an integer from 0 to {MAX_RETRIES}",
            )
        params = raw.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            self.add((*location, "params"), f"{named} field 'params' must be a mapping")
            return ok
        if ok:
            self._check_params(step_type, params, (*location, "params"), named)
        return ok

    def _missing(self, raw: Mapping[str, Any], location: Location, named: str, key: str) -> None:
        """A missing required key; a misspelling of it in the step is named and pointed at."""
        typo = misspelling_of(key, raw, STEP_KEYS)
        if typo is None:
            self.add(location, f"{named} is missing required field '{key}'")
            return
        self.add(
            (*location, typo),
            f"{named} is missing required field '{key}' "
            f"(unknown key '{typo}'; did you mean '{key}'?)",
        )

    def _check_params(
        self, step_type: str, params: Mapping[str, Any], location: Location, named: str
    ) -> None:
        for key in PATH_PARAMS:
            if key in params and _escapes(params[key]):
                self.add(
                    (*location, key),
                    f"{named} field 'params.{key}' must be a relative path inside the "
                    f"chain's output_dir, got '{params[key]}'",
                )
        for key in INPUT_PATH_PARAMS.get(step_type, ()) if self.pipeline_file else ():
            value = params.get(key)
            if isinstance(value, str) and _input_escapes(value):
                self.add(
                    (*location, key),
                    f"{named} field 'params.{key}' {INPUT_PATH_RULE}, got '{value}'",
                )
        if "timeout" in params:
            timeout = params["timeout"]
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
                self.add(
                    (*location, "timeout"),
                    f"{named} field 'params.timeout' must be a positive number of seconds",
                )
        if step_type == "image_to_video" and "duration" in params:
            duration = params["duration"]
            allowed = [str(d) for d in IMAGE_TO_VIDEO_DURATIONS]
            if isinstance(duration, bool) or str(duration).strip() not in allowed:
                self.add(
                    (*location, "duration"),
                    f"{named} field 'params.duration' must be one of "
                    f"{', '.join(allowed)} seconds, got '{duration}'",
                )
        subtitle_format = params.get("format", "srt")
        if step_type == "generate_subtitles" and subtitle_format not in ("srt", "vtt"):
            self.add(
                (*location, "format"),
                f"{named} field 'params.format' must be 'srt' or 'vtt', got '{subtitle_format}'",
            )
        if step_type == "generate_subtitles":
            self._check_subtitle_text(params, location, named)

    def _check_subtitle_text(
        self, params: Mapping[str, Any], location: Location, named: str
    ) -> None:
        """Subtitles without text fail only when reached, after the paid steps before them ran.

        The text is `params.subtitle_text`, else the prompt of an earlier prompt_generation
        (spec section 5); a group counts when any of its branches is one, since it may be chosen.
        """
        text = params.get("subtitle_text")
        if self.prompt_generated or (text is not None and str(text).strip()):
            return
        self.add(
            (*location, "subtitle_text"),  # the line of the key, else of params or the step
            f"{named} field 'params.subtitle_text' is missing or empty: set it, or run a "
            "prompt_generation step before this one (its prompt becomes the subtitles)",
        )

    def _check_group(
        self, raw: Mapping[str, Any], location: Location, label: str, available: str
    ) -> str:
        """Check a parallel_group; return the data type the next step receives."""
        params = raw.get("params") or {}
        params_location = (*location, "params")
        named = f"{label} (parallel_group)"
        strategy = params.get("merge_strategy", "collect_all")
        if strategy not in MERGE_STRATEGY_VALUES:
            hint = did_you_mean(strategy, list(MERGE_STRATEGY_VALUES))
            self.add(
                (*params_location, "merge_strategy"),
                f"{named} field 'params.merge_strategy': unknown merge strategy '{strategy}'{hint}",
            )
        workers = params.get("max_workers", 3)
        low, high = MAX_WORKERS_RANGE
        if not _is_int(workers) or not low <= workers <= high:
            self.add(
                (*params_location, "max_workers"),
                f"{named} field 'params.max_workers' must be an integer from {low} to {high}, "
                f"got '{workers}'",
            )
        raw_branches = params.get("parallel_steps")
        if not isinstance(raw_branches, list):
            self.add(
                (*params_location, "parallel_steps"),
                f"{named} field 'params.parallel_steps' must be a list of steps",
            )
            return available
        branches = _enabled_branches(raw)
        if not branches:
            self.add(
                (*params_location, "parallel_steps"),
                f"{named} has no enabled branches in 'params.parallel_steps'",
            )
            return available
        outputs: dict[str, int] = {}
        output_files: dict[str, int] = {}
        for position, (j, branch) in enumerate(branches, start=1):
            branch_location = (*params_location, "parallel_steps", j)
            branch_label = f"{label} branch {position}"
            if not self._check_step_fields(branch, branch_location, branch_label):
                continue
            branch_type = branch["type"]
            if branch_type == "parallel_group":
                self.add(
                    (*branch_location, "type"),
                    f"{branch_label}: nested parallel_group is not supported",
                )
                continue
            expected = step_types.input_type_of(branch_type)
            if not step_types.accepts(expected, available):
                self.add(
                    (*branch_location, "type"),
                    f"{branch_label} ({branch_type}) expects {expected} but available data is "
                    f"{available}",
                )
            outputs.setdefault(step_types.next_type(branch_type, available), position)
            out_file = (branch.get("params") or {}).get("output_file")
            if out_file is not None:
                if str(out_file) in output_files:
                    self.add(
                        (*branch_location, "params", "output_file"),
                        f"{branch_label} writes the same output_file '{out_file}' as branch "
                        f"{output_files[str(out_file)]}",
                    )
                output_files.setdefault(str(out_file), position)
        if any(
            isinstance(b, Mapping) and b.get("type") == "prompt_generation" for _, b in branches
        ):
            self.prompt_generated = True
        if len(outputs) > 1:
            kinds = ", ".join(f"branch {p} gives {t}" for t, p in outputs.items())
            self.add(
                (*params_location, "parallel_steps"),
                f"{named} branches must share one output type ({kinds})",
            )
            return available
        return next(iter(outputs), available)


def _model_choices(step_type: str) -> list[str]:
    if step_type == "parallel_group":
        return ["parallel"]
    if step_type == "replicate_multitalk":
        return ["multitalk"]
    return [*SUPPORTED_MODELS.get(step_type, []), "auto"]


def find_problems(config: Any, *, pipeline_file: bool = False) -> list[Problem]:
    """All problems in a config mapping, in file order; ``[]`` means it can run.

    With `pipeline_file` (a config read from a file, as `aicp` and the harness read it), also
    the path rules only a file is held to: its output_dir inside --base-dir, its inputs
    (`INPUT_PATH_FIELDS`, `INPUT_PATH_PARAMS`) inside the current directory or URLs.
    """
    return _Checker(pipeline_file).check_config(config)


def group_output_type(config_step: Mapping[str, Any], available: str) -> str:
    """Data type after a valid group: the branches' shared output type."""
    for _, branch in _enabled_branches(config_step):
        return step_types.next_type(branch["type"], available)
    return available
