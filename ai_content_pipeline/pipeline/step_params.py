"""How a step's YAML params become a generator's effective params (spec section 5).

Kept apart from the executor so the rules per step type read as one table.
"""

from __future__ import annotations

from typing import Any

from .chain import PipelineStep, StepType

# Keys the executor consumes itself; generators never see them.
CONTROL_PARAMS = ("timeout", "output_dir")

DEFAULTS: dict[StepType, dict[str, Any]] = {
    StepType.IMAGE_TO_IMAGE: {"prompt": "modify this image"},
    StepType.IMAGE_TO_VIDEO: {"prompt": "Create a cinematic video from this image"},
    StepType.UPSCALE_VIDEO: {"upscale_factor": 2},
    StepType.GENERATE_SUBTITLES: {"format": "srt", "words_per_second": 2.0},
    StepType.REPLICATE_MULTITALK: {"num_frames": 81, "turbo": True, "sampling_steps": 40},
}


def resolve_params(step: PipelineStep, input_data: Any, context: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the step's params, then what earlier steps put in the context."""
    params = {**DEFAULTS.get(step.step_type, {})}
    params.update({k: v for k, v in step.params.items() if k not in CONTROL_PARAMS})
    generated = context.get("generated_prompt")
    if step.step_type is StepType.IMAGE_TO_VIDEO:
        if generated:
            # A prompt_generation step earlier in the run overrides every later video prompt.
            params["prompt"] = generated
        if "duration" in params:
            params["duration"] = int(str(params["duration"]).strip())
    elif step.step_type is StepType.GENERATE_SUBTITLES:
        if not params.get("subtitle_text") and generated:
            params["subtitle_text"] = generated
    elif step.step_type is StepType.TEXT_TO_SPEECH:
        params["text"] = params.pop("text_override", None) or input_data
    return params
