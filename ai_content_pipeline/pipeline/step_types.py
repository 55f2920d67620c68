"""The single table of what each step type consumes and produces.

Validation, the executor and the cost/time estimates all read this table, so
there is exactly one answer to "what does the next step get?".
"""

from __future__ import annotations

ANY = "any"

# step type value -> (input type, output type). "passthrough" keeps the input type.
PASSTHROUGH = "passthrough"
GROUP = "group"

STEP_IO: dict[str, tuple[str, str]] = {
    "text_to_image": ("text", "image"),
    "image_understanding": ("image", "text"),
    "prompt_generation": ("image", PASSTHROUGH),
    "image_to_image": ("image", "image"),
    "image_to_video": ("image", "video"),
    "text_to_speech": ("text", "audio"),
    "add_audio": ("video", "video"),
    "upscale_video": ("video", "video"),
    "generate_subtitles": ("video", "video"),
    "parallel_group": (ANY, GROUP),
    "replicate_multitalk": (ANY, "video"),
}


def input_type_of(step_type: str) -> str:
    return STEP_IO.get(step_type, ("unknown", "unknown"))[0]


def output_type_of(step_type: str) -> str:
    """Declared output type; `passthrough`/`group` are resolved by the caller, see below."""
    return STEP_IO.get(step_type, ("unknown", "unknown"))[1]


def accepts(expected: str, available: str) -> bool:
    return ANY in (expected, available) or expected == available


def next_type(step_type: str, available: str, group_output: str | None = None) -> str:
    """Type of the data after a step, given the type that was available before it."""
    out = output_type_of(step_type)
    if out == PASSTHROUGH:
        return available
    if out == GROUP:
        return group_output if group_output is not None else available
    return out
