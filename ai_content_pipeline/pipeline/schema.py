"""A JSON Schema (draft 2020-12) of the pipeline file format, for editors and CI linters.

Why generated: the keys come from `config.known_keys` and the allowed values from the same
tables validation uses, so the schema cannot drift from what the loader warns about or what
`aicp validate` accepts. `aicp schema` prints it; ``docs/pipeline.schema.json`` is the same text
(a test keeps them equal). ``additionalProperties: false`` stands exactly where the loader warns
about unknown keys; step params stay open except a group's. Checks that need the data flow
(input and output types along the chain) stay in `validation`.
"""

from __future__ import annotations

import json
from typing import Any

from ..config.constants import AUTO_MODEL, EXTRA_VALID_MODELS, SUPPORTED_MODELS
from ..config.known_keys import GROUP_PARAM_KEYS, STEP_KEYS, TOP_LEVEL_KEYS
from .validation import MAX_RETRIES, MAX_WORKERS_RANGE, MERGE_STRATEGY_VALUES, STEP_TYPE_VALUES

__all__ = ["SCHEMA_DIALECT", "pipeline_schema", "schema_text"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_DISABLED = {"required": ["enabled"], "properties": {"enabled": {"const": False}}}
"""A step or branch with ``enabled: false``: skipped, so only its shape is checked."""

_TOP_LEVEL: dict[str, dict[str, Any]] = {
    "name": {**_STRING, "description": "Chain and report name (default unnamed_chain)."},
    "description": {**_STRING, "description": "What the pipeline is for (report metadata)."},
    "prompt": {**_STRING, "description": "Input of a text pipeline."},
    "input_type": {
        **_STRING,
        "description": "auto (default: from the first enabled step), text, image or video.",
        "examples": ["auto", "text", "image", "video"],
    },
    "input_image": {**_STRING, "description": "Input of an image pipeline: a path or URL."},
    "input_video": {**_STRING, "description": "Input of a video pipeline: a path or URL."},
    "output_dir": {
        **_STRING,
        "description": "Relative to --base-dir (default output); every file stays inside.",
    },
    "save_intermediates": {
        **_BOOLEAN,
        "description": "Intermediate reports, downloads of URL-only results (default false).",
    },
    "temp_dir": {**_STRING, "description": "Inside output_dir (default temp)."},
    "cleanup_temp": {**_BOOLEAN, "description": "Remove temp_dir after the run (default true)."},
    "steps": {
        "type": "array",
        "description": "The steps, run in order; disabled steps are skipped and not numbered.",
        "items": {"$ref": "#/$defs/step"},
        "minItems": 1,
        "contains": {"not": _DISABLED},
    },
}

_STEP: dict[str, dict[str, Any]] = {
    "type": {"enum": STEP_TYPE_VALUES, "description": "The step type."},
    "model": {**_STRING, "description": "A supported model of the step type."},
    "params": {
        "type": ["object", "null"],
        "description": "Step parameters; a generator step forwards them to its model.",
        "properties": {
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Seconds; a call still running then is a failure.",
            },
            "output_dir": {**_STRING, "description": "Sub-folder of the chain's output_dir."},
        },
    },
    "enabled": {**_BOOLEAN, "description": "false: skipped and not numbered (default true)."},
    "retry_count": {
        "type": "integer",
        "description": "Retries after a failure; every attempt is charged (default 0).",
    },
}

_GROUP_PARAMS: dict[str, dict[str, Any]] = {
    "parallel_steps": {
        "type": "array",
        "description": "The branches: steps that all get the group's input.",
        "items": {"$ref": "#/$defs/step"},
    },
    "max_workers": {"type": "integer", "description": "Branches in flight at once (default 3)."},
    "merge_strategy": {
        "enum": list(MERGE_STRATEGY_VALUES),
        "description": "How branch results merge (default collect_all).",
    },
}


def _closed(properties: dict[str, dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """An object of exactly `keys` (a KeyError here means a known key has no schema entry)."""
    return {
        "type": "object",
        "properties": {key: properties[key] for key in keys},
        "additionalProperties": False,
    }


def _is_type(step_type: str) -> dict[str, Any]:
    return {"required": ["type"], "properties": {"type": {"const": step_type}}}


def _models_of(step_type: str) -> list[str] | None:
    """The models validation accepts for `step_type`; None: any non-empty string."""
    if step_type in SUPPORTED_MODELS:
        return [*SUPPORTED_MODELS[step_type], AUTO_MODEL]
    if step_type in EXTRA_VALID_MODELS:
        allowed = EXTRA_VALID_MODELS[step_type]
        return None if allowed is None else list(allowed)
    return None


def _enabled_step() -> dict[str, Any]:
    """What validation requires of a step or branch that will run."""
    low, high = MAX_WORKERS_RANGE
    rules: list[dict[str, Any]] = []
    for step_type in STEP_TYPE_VALUES:
        models = _models_of(step_type)
        if models is not None:
            rules.append(
                {"if": _is_type(step_type), "then": {"properties": {"model": {"enum": models}}}}
            )
    rules.append(
        {
            "if": _is_type("parallel_group"),
            "then": {
                "required": ["params"],
                "properties": {
                    "params": {
                        "type": "object",
                        "required": ["parallel_steps"],
                        "properties": {
                            "parallel_steps": {"contains": {"not": _DISABLED}},
                            "max_workers": {"minimum": low, "maximum": high},
                        },
                    }
                },
            },
        }
    )
    return {
        "properties": {
            "model": {"pattern": r"\S"},
            "retry_count": {"minimum": 0, "maximum": MAX_RETRIES},
        },
        "allOf": rules,
    }


def pipeline_schema() -> dict[str, Any]:
    """The schema as a fresh dict (callers may change it)."""
    step = _closed(_STEP, STEP_KEYS)
    step["required"] = ["type", "model"]
    step["allOf"] = [
        {
            "if": _is_type("parallel_group"),
            "then": {"properties": {"params": {"$ref": "#/$defs/group_params"}}},
        },
        {"if": _DISABLED, "else": {"$ref": "#/$defs/enabled_step"}},
    ]
    group_params = _closed(_GROUP_PARAMS, GROUP_PARAM_KEYS)
    group_params["type"] = ["object", "null"]
    schema = {
        "$schema": SCHEMA_DIALECT,
        "title": "AI content pipeline file",
        "description": "A pipeline for `aicp run-chain`. Unknown keys are ignored when the file "
        "runs, with a warning (an error under --strict).",
        **_closed(_TOP_LEVEL, TOP_LEVEL_KEYS),
        "required": ["steps"],
        "$defs": {
            "step": step,
            "enabled_step": _enabled_step(),
            "group_params": group_params,
        },
    }
    fresh: dict[str, Any] = json.loads(json.dumps(schema))
    return fresh


def schema_text() -> str:
    """The schema as `aicp schema` prints it and the repository stores it."""
    return json.dumps(pipeline_schema(), indent=2) + "\n"
