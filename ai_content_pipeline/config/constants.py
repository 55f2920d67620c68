"""The established constant tables (spec section 6) and the small helpers that read them.

Users' code imports these names directly, so the tables keep their shape: plain nested dicts
keyed by step type value, then model. The helpers exist so the executor, the estimates and the
validators all answer "what does this cost / how long / is this model known?" the same way.
"""

from __future__ import annotations

from typing import Any

from .step_io import STEP_IO

# Every StepType value, in the enum's fixed order (the step-type table's order).
ALL_STEP_TYPES: tuple[str, ...] = tuple(STEP_IO)

SUPPORTED_MODELS: dict[str, list[str]] = {
    "text_to_image": [
        "flux_dev",
        "flux_schnell",
        "imagen4",
        "seedream_v3",
        "seedream3",
        "gen4",
        "dalle3",
        "stable_diffusion",
    ],
    "image_understanding": [
        "gemini_describe",
        "gemini_detailed",
        "gemini_classify",
        "gemini_objects",
        "gemini_ocr",
        "gemini_composition",
        "gemini_qa",
    ],
    "prompt_generation": [
        "openrouter_video_prompt",
        "openrouter_video_cinematic",
        "openrouter_video_realistic",
        "openrouter_video_artistic",
        "openrouter_video_dramatic",
    ],
    "image_to_image": [
        "photon_flash",
        "photon_base",
        "flux_kontext",
        "flux_kontext_multi",
        "seededit_v3",
        "clarity_upscaler",
    ],
    "image_to_video": ["veo3", "veo3_fast", "veo2", "hailuo", "kling"],
    "text_to_speech": ["elevenlabs", "elevenlabs_turbo", "elevenlabs_v3"],
    "add_audio": ["thinksound"],
    "upscale_video": ["topaz"],
}

# The first eight step types: the ones a simple chain can be built from.
PIPELINE_STEPS: list[str] = list(ALL_STEP_TYPES[:8])

# USD per call.
COST_ESTIMATES: dict[str, dict[str, float]] = {
    "text_to_image": {
        "flux_dev": 0.003,
        "flux_schnell": 0.001,
        "imagen4": 0.004,
        "seedream_v3": 0.002,
        "seedream3": 0.003,
        "gen4": 0.08,
    },
    "text_to_speech": {
        "elevenlabs": 0.05,
        "elevenlabs_turbo": 0.03,
        "elevenlabs_v3": 0.08,
    },
    "image_understanding": {
        "gemini_describe": 0.001,
        "gemini_detailed": 0.002,
        "gemini_classify": 0.001,
        "gemini_objects": 0.002,
        "gemini_ocr": 0.001,
        "gemini_composition": 0.002,
        "gemini_qa": 0.001,
    },
    "prompt_generation": {
        "openrouter_video_prompt": 0.002,
        "openrouter_video_cinematic": 0.002,
        "openrouter_video_realistic": 0.002,
        "openrouter_video_artistic": 0.002,
        "openrouter_video_dramatic": 0.002,
    },
    "image_to_image": {
        "photon_flash": 0.02,
        "photon_base": 0.03,
        "flux_kontext": 0.025,
        "flux_kontext_multi": 0.04,
        "seededit_v3": 0.02,
        "clarity_upscaler": 0.05,
    },
    "image_to_video": {
        "veo3": 3.00,
        "veo3_fast": 2.00,
        "veo2": 2.50,
        "hailuo": 0.08,
        "kling": 0.10,
    },
    "add_audio": {"thinksound": 0.05},
    "upscale_video": {"topaz": 1.50},
}

# Seconds per call. seedream3 and gen4 are absent on purpose: they count as DEFAULT_STEP_SECONDS.
PROCESSING_TIME_ESTIMATES: dict[str, dict[str, float]] = {
    "text_to_image": {
        "flux_dev": 15,
        "flux_schnell": 5,
        "imagen4": 20,
        "seedream_v3": 10,
    },
    "text_to_speech": {
        "elevenlabs": 15,
        "elevenlabs_turbo": 8,
        "elevenlabs_v3": 20,
    },
    "image_understanding": {
        "gemini_describe": 3,
        "gemini_detailed": 5,
        "gemini_classify": 3,
        "gemini_objects": 4,
        "gemini_ocr": 3,
        "gemini_composition": 5,
        "gemini_qa": 4,
    },
    "prompt_generation": {
        "openrouter_video_prompt": 4,
        "openrouter_video_cinematic": 5,
        "openrouter_video_realistic": 4,
        "openrouter_video_artistic": 5,
        "openrouter_video_dramatic": 5,
    },
    "image_to_image": {
        "photon_flash": 8,
        "photon_base": 12,
        "flux_kontext": 15,
        "flux_kontext_multi": 25,
        "seededit_v3": 10,
        "clarity_upscaler": 30,
    },
    "image_to_video": {
        "veo3": 300,
        "veo3_fast": 180,
        "veo2": 240,
        "hailuo": 60,
        "kling": 90,
    },
    "add_audio": {"thinksound": 45},
    "upscale_video": {"topaz": 120},
}

# Criterion -> model, used by `recommend_model`.
MODEL_RECOMMENDATIONS: dict[str, dict[str, str]] = {
    "text_to_image": {
        "quality": "flux_dev",
        "speed": "flux_schnell",
        "cost_effective": "seedream_v3",
        "photorealistic": "imagen4",
        "high_resolution": "seedream3",
        "cinematic": "gen4",
        "reference_guided": "gen4",
    },
    "text_to_speech": {
        "quality": "elevenlabs_v3",
        "speed": "elevenlabs_turbo",
        "cost_effective": "elevenlabs",
        "professional": "elevenlabs",
    },
    "image_understanding": {
        "basic": "gemini_describe",
        "detailed": "gemini_detailed",
        "classification": "gemini_classify",
        "objects": "gemini_objects",
        "text_extraction": "gemini_ocr",
        "artistic": "gemini_composition",
        "interactive": "gemini_qa",
    },
    "prompt_generation": {
        "general": "openrouter_video_prompt",
        "cinematic": "openrouter_video_cinematic",
        "realistic": "openrouter_video_realistic",
        "artistic": "openrouter_video_artistic",
        "dramatic": "openrouter_video_dramatic",
    },
    "image_to_image": {
        "quality": "photon_base",
        "speed": "photon_flash",
        "cost_effective": "photon_flash",
        "creative": "photon_flash",
        "precise": "seededit_v3",
        "upscale": "clarity_upscaler",
    },
    "image_to_video": {
        "quality": "veo3",
        "speed": "hailuo",
        "cost_effective": "hailuo",
        "balanced": "veo3_fast",
        "cinematic": "veo3",
    },
}

SUPPORTED_FORMATS: dict[str, list[str]] = {
    "image": [".jpg", ".jpeg", ".png", ".webp"],
    "video": [".mp4", ".mov", ".avi", ".webm"],
    "audio": [".mp3", ".wav"],
}

DEFAULT_CHAIN_CONFIG: dict[str, Any] = {
    "steps": [
        {
            "type": "text_to_image",
            "model": "flux_dev",
            "params": {"aspect_ratio": "16:9", "style": "cinematic"},
        },
        {
            "type": "image_to_video",
            "model": "veo3",
            "params": {"duration": 8, "motion_level": "medium"},
        },
    ],
    "output_dir": "output",
    "temp_dir": "temp",
    "cleanup_temp": True,
}
"""The established release's example chain, kept exactly as it was (users read it), even though
``duration: 8`` is not a duration image_to_video accepts. The loader's defaults are
`CHAIN_SETTING_DEFAULTS`."""

CHAIN_SETTING_DEFAULTS: dict[str, Any] = {
    "output_dir": "output",
    "temp_dir": "temp",
    "cleanup_temp": True,
    "save_intermediates": False,
    "input_type": "auto",
}
"""What a pipeline file's top-level settings default to when it leaves them out."""

# What an estimate counts for a step whose model has no PROCESSING_TIME_ESTIMATES entry.
DEFAULT_STEP_SECONDS = 60.0

# Durations image_to_video accepts (as int or numeric string; spec section 8 #4).
IMAGE_TO_VIDEO_DURATIONS: tuple[int, ...] = (5, 6, 10)

# Step types outside SUPPORTED_MODELS and the models they accept. None means any model string
# (generate_subtitles ignores its model); the others take a fixed dummy name.
EXTRA_VALID_MODELS: dict[str, list[str] | None] = {
    "generate_subtitles": None,
    "parallel_group": ["parallel"],
    "replicate_multitalk": ["multitalk"],
}

AUTO_MODEL = "auto"


def _type_key(step_type: Any) -> str:
    """Accept a StepType member or its string value, so callers need not convert."""
    return str(getattr(step_type, "value", step_type))


def estimated_cost(step_type: Any, model: str, default: float = 0.0) -> float:
    """USD estimate for one call, `default` when the table has no entry (spec: missing -> 0.0)."""
    return float(COST_ESTIMATES.get(_type_key(step_type), {}).get(model, default))


def estimated_seconds(step_type: Any, model: str, default: float = DEFAULT_STEP_SECONDS) -> float:
    """Seconds estimate for one call, `default` when absent (spec: missing -> 60 s)."""
    return float(PROCESSING_TIME_ESTIMATES.get(_type_key(step_type), {}).get(model, default))


def is_known_model(step_type: Any, model: Any) -> bool:
    """Whether `model` may be used for `step_type` (spec section 8 #3: reject unknown models).

    Listed types accept their SUPPORTED_MODELS entries and "auto"; the extra types accept what
    EXTRA_VALID_MODELS allows. An unknown step type knows no models.
    """
    if not isinstance(model, str) or not model:
        return False
    key = _type_key(step_type)
    if key in SUPPORTED_MODELS:
        return model == AUTO_MODEL or model in SUPPORTED_MODELS[key]
    if key in EXTRA_VALID_MODELS:
        allowed = EXTRA_VALID_MODELS[key]
        return allowed is None or model in allowed
    return False
