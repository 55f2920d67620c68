"""Questions about the step-type table (`config.step_io.STEP_IO`, the only copy).

Validation, the executor and the cost/time estimates all ask them here, so there is
exactly one answer to "what does the next step get?".
"""

from __future__ import annotations

from ..config.step_io import ANY, GROUP, PASSTHROUGH, STEP_IO

__all__ = [
    "ANY",
    "GROUP",
    "PASSTHROUGH",
    "STEP_IO",
    "accepts",
    "input_type_of",
    "next_type",
    "output_type_of",
]


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
