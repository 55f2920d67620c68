"""Image -> video prompt: the established `UnifiedPromptGenerator`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import RegistryModel


@dataclass
class PromptGenerationResult:
    """Spec section 2.8; field order is part of the public API."""

    success: bool
    output_text: str | None = None
    extracted_prompt: str | None = None
    model_used: str | None = None
    cost_estimate: float = 0.0
    processing_time: float = 0.0
    error: str | None = None
    metadata: dict[str, Any] | None = None


class UnifiedPromptGenerator(RegistryModel[PromptGenerationResult]):
    """``generate(image_path_or_url, model="auto", video_style=..., background_context=...)``."""

    MODEL_TYPE = "prompt_generation"
    RESULT_TYPE = PromptGenerationResult
