"""The constant tables are public API (spec section 6): exact values, order and absences."""

from __future__ import annotations

import math
from enum import Enum

import pytest

from ai_content_pipeline.config import constants as c

STEP_TYPES_11 = [
    "text_to_image",
    "image_understanding",
    "prompt_generation",
    "image_to_image",
    "image_to_video",
    "text_to_speech",
    "add_audio",
    "upscale_video",
    "generate_subtitles",
    "parallel_group",
    "replicate_multitalk",
]


def test_supported_models_types_and_order() -> None:
    assert list(c.SUPPORTED_MODELS) == STEP_TYPES_11[:8]
    assert c.SUPPORTED_MODELS["text_to_image"] == [
        "flux_dev",
        "flux_schnell",
        "imagen4",
        "seedream_v3",
        "seedream3",
        "gen4",
        "dalle3",
        "stable_diffusion",
    ]
    assert c.SUPPORTED_MODELS["image_to_video"] == ["veo3", "veo3_fast", "veo2", "hailuo", "kling"]
    assert c.SUPPORTED_MODELS["image_understanding"][-1] == "gemini_qa"
    assert len(c.SUPPORTED_MODELS["image_understanding"]) == 7
    assert c.SUPPORTED_MODELS["prompt_generation"][0] == "openrouter_video_prompt"
    assert c.SUPPORTED_MODELS["image_to_image"][-1] == "clarity_upscaler"
    assert c.SUPPORTED_MODELS["text_to_speech"] == [
        "elevenlabs",
        "elevenlabs_turbo",
        "elevenlabs_v3",
    ]
    assert c.SUPPORTED_MODELS["add_audio"] == ["thinksound"]
    assert c.SUPPORTED_MODELS["upscale_video"] == ["topaz"]


def test_pipeline_steps_are_first_eight_values() -> None:
    pipeline_steps = c.PIPELINE_STEPS
    assert pipeline_steps == STEP_TYPES_11[:8]
    assert list(c.ALL_STEP_TYPES) == STEP_TYPES_11


@pytest.mark.parametrize(
    ("step_type", "model", "cost"),
    [
        ("text_to_image", "flux_dev", 0.003),
        ("text_to_image", "flux_schnell", 0.001),
        ("text_to_image", "seedream3", 0.003),
        ("text_to_image", "gen4", 0.08),
        ("text_to_speech", "elevenlabs_turbo", 0.03),
        ("image_understanding", "gemini_objects", 0.002),
        ("prompt_generation", "openrouter_video_dramatic", 0.002),
        ("image_to_image", "flux_kontext", 0.025),
        ("image_to_image", "clarity_upscaler", 0.05),
        ("image_to_video", "veo3", 3.00),
        ("image_to_video", "veo2", 2.50),
        ("image_to_video", "kling", 0.10),
        ("add_audio", "thinksound", 0.05),
        ("upscale_video", "topaz", 1.50),
    ],
)
def test_cost_estimates(step_type: str, model: str, cost: float) -> None:
    assert c.COST_ESTIMATES[step_type][model] == cost
    assert c.estimated_cost(step_type, model) == cost


@pytest.mark.parametrize(
    ("step_type", "model", "seconds"),
    [
        ("text_to_image", "flux_dev", 15),
        ("text_to_image", "seedream_v3", 10),
        ("text_to_speech", "elevenlabs_v3", 20),
        ("image_understanding", "gemini_qa", 4),
        ("prompt_generation", "openrouter_video_artistic", 5),
        ("image_to_image", "flux_kontext_multi", 25),
        ("image_to_video", "veo3_fast", 180),
        ("image_to_video", "hailuo", 60),
        ("add_audio", "thinksound", 45),
        ("upscale_video", "topaz", 120),
    ],
)
def test_time_estimates(step_type: str, model: str, seconds: float) -> None:
    assert c.PROCESSING_TIME_ESTIMATES[step_type][model] == seconds
    assert c.estimated_seconds(step_type, model) == seconds


def test_absent_entries() -> None:
    # Marked as a dash in the spec: priced but without a time estimate.
    assert "seedream3" not in c.PROCESSING_TIME_ESTIMATES["text_to_image"]
    assert "gen4" not in c.PROCESSING_TIME_ESTIMATES["text_to_image"]
    # Not in the cost table at all.
    assert "dalle3" not in c.COST_ESTIMATES["text_to_image"]
    assert "stable_diffusion" not in c.COST_ESTIMATES["text_to_image"]
    assert set(c.PROCESSING_TIME_ESTIMATES["text_to_image"]) == {
        "flux_dev",
        "flux_schnell",
        "imagen4",
        "seedream_v3",
    }


def test_tables_only_name_supported_models() -> None:
    for table in (c.COST_ESTIMATES, c.PROCESSING_TIME_ESTIMATES, c.MODEL_RECOMMENDATIONS):
        for step_type, entries in table.items():
            names = entries.values() if table is c.MODEL_RECOMMENDATIONS else entries
            for model in names:
                assert model in c.SUPPORTED_MODELS[step_type], (step_type, model)


def test_estimate_defaults() -> None:
    assert c.DEFAULT_STEP_SECONDS == 60.0
    assert c.estimated_seconds("text_to_image", "gen4") == 60.0
    assert c.estimated_seconds("text_to_image", "gen4", default=7.5) == 7.5
    assert c.estimated_cost("text_to_image", "dalle3") == 0.0
    assert c.estimated_cost("generate_subtitles", "whatever", default=0.25) == 0.25
    assert c.estimated_seconds("no_such_type", "x") == 60.0
    assert isinstance(c.estimated_seconds("text_to_image", "flux_dev"), float)


def test_helpers_accept_enum_members() -> None:
    class FakeStepType(Enum):
        IMAGE_TO_VIDEO = "image_to_video"
        PARALLEL_GROUP = "parallel_group"

    assert c.estimated_cost(FakeStepType.IMAGE_TO_VIDEO, "veo3") == 3.0
    assert c.estimated_seconds(FakeStepType.IMAGE_TO_VIDEO, "kling") == 90.0
    assert c.is_known_model(FakeStepType.PARALLEL_GROUP, "parallel")


def test_model_recommendations() -> None:
    r = c.MODEL_RECOMMENDATIONS
    assert r["text_to_image"] == {
        "quality": "flux_dev",
        "speed": "flux_schnell",
        "cost_effective": "seedream_v3",
        "photorealistic": "imagen4",
        "high_resolution": "seedream3",
        "cinematic": "gen4",
        "reference_guided": "gen4",
    }
    assert r["text_to_speech"] == {
        "quality": "elevenlabs_v3",
        "speed": "elevenlabs_turbo",
        "cost_effective": "elevenlabs",
        "professional": "elevenlabs",
    }
    assert r["image_understanding"]["text_extraction"] == "gemini_ocr"
    assert r["image_understanding"]["artistic"] == "gemini_composition"
    assert r["prompt_generation"]["general"] == "openrouter_video_prompt"
    for style in ("cinematic", "realistic", "artistic", "dramatic"):
        assert r["prompt_generation"][style] == f"openrouter_video_{style}"
    assert r["image_to_image"] == {
        "quality": "photon_base",
        "speed": "photon_flash",
        "cost_effective": "photon_flash",
        "creative": "photon_flash",
        "precise": "seededit_v3",
        "upscale": "clarity_upscaler",
    }
    assert r["image_to_video"] == {
        "quality": "veo3",
        "speed": "hailuo",
        "cost_effective": "hailuo",
        "balanced": "veo3_fast",
        "cinematic": "veo3",
    }


def test_formats_and_defaults() -> None:
    assert c.SUPPORTED_FORMATS["image"] == [".jpg", ".jpeg", ".png", ".webp"]
    assert c.SUPPORTED_FORMATS["video"] == [".mp4", ".mov", ".avi", ".webm"]
    assert c.IMAGE_TO_VIDEO_DURATIONS == (5, 6, 10)


def test_chain_settings_default_from_their_own_table_not_the_example_chain() -> None:
    """DEFAULT_CHAIN_CONFIG is the established example chain (pinned in
    test_public_interface); what a file that leaves a setting out gets is
    CHAIN_SETTING_DEFAULTS."""
    from ai_content_pipeline.pipeline.chain import ContentCreationChain

    assert c.CHAIN_SETTING_DEFAULTS == {
        "output_dir": "output",
        "temp_dir": "temp",
        "cleanup_temp": True,
        "save_intermediates": False,
        "input_type": "auto",
    }
    chain = ContentCreationChain(name="x", steps=[])
    assert {k: getattr(chain, k) for k in c.CHAIN_SETTING_DEFAULTS} == c.CHAIN_SETTING_DEFAULTS
    overridden = ContentCreationChain(
        name="x", steps=[], config={"temp_dir": "t", "input_type": "text"}
    )
    assert (overridden.temp_dir, overridden.input_type) == ("t", "text")


@pytest.mark.parametrize(
    ("step_type", "model", "known"),
    [
        ("text_to_image", "flux_dev", True),
        ("text_to_image", "auto", True),
        ("upscale_video", "auto", True),
        ("text_to_image", "veo3", False),
        ("text_to_image", "FLUX_DEV", False),
        ("text_to_image", "", False),
        ("text_to_image", None, False),
        ("generate_subtitles", "anything-at-all", True),
        ("generate_subtitles", "auto", True),
        ("generate_subtitles", "", False),
        ("generate_subtitles", 3, False),
        ("parallel_group", "parallel", True),
        ("parallel_group", "auto", False),
        ("parallel_group", "flux_dev", False),
        ("replicate_multitalk", "multitalk", True),
        ("replicate_multitalk", "auto", False),
        ("no_such_type", "flux_dev", False),
        ("no_such_type", "auto", False),
    ],
)
def test_is_known_model(step_type: str, model: object, known: bool) -> None:
    assert c.is_known_model(step_type, model) is known


def test_all_costs_are_finite_numbers() -> None:
    for table in (c.COST_ESTIMATES, c.PROCESSING_TIME_ESTIMATES):
        for entries in table.values():
            for value in entries.values():
                assert isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_every_step_type_table_agrees() -> None:
    """The enum and the step-type table (and the validators' list derived from it) name the
    same types in the same order."""
    from ai_content_pipeline.pipeline.chain import StepType
    from ai_content_pipeline.pipeline.step_types import STEP_IO

    assert list(c.ALL_STEP_TYPES) == [member.value for member in StepType] == list(STEP_IO)
