"""Image -> image edits: the established `UnifiedImageToImageGenerator`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import RegistryModel


@dataclass
class ImageToImageResult:
    """Spec section 2.8; field order is part of the public API."""

    success: bool
    output_path: str | None = None
    output_url: str | None = None
    model_used: str | None = None
    cost_estimate: float = 0.0
    processing_time: float = 0.0
    error: str | None = None
    metadata: dict[str, Any] | None = None


class UnifiedImageToImageGenerator(RegistryModel[ImageToImageResult]):
    """``generate(image_path_or_url, model="auto", prompt=..., ...) -> ImageToImageResult``."""

    MODEL_TYPE = "image_to_image"
    RESULT_TYPE = ImageToImageResult
