"""Image -> text analysis: the established `UnifiedImageUnderstandingGenerator`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import RegistryModel


@dataclass
class ImageUnderstandingResult:
    """Spec section 2.8; field order is part of the public API."""

    success: bool
    output_text: str | None = None
    model_used: str | None = None
    cost_estimate: float = 0.0
    processing_time: float = 0.0
    error: str | None = None
    metadata: dict[str, Any] | None = None


class UnifiedImageUnderstandingGenerator(RegistryModel[ImageUnderstandingResult]):
    """``generate(image_path_or_url, model="auto", question=...) -> ImageUnderstandingResult``."""

    MODEL_TYPE = "image_understanding"
    RESULT_TYPE = ImageUnderstandingResult
