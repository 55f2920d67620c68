"""Text prompt -> image: the established `UnifiedTextToImageGenerator`."""

from __future__ import annotations

from .base import ModelResult, RegistryModel


class UnifiedTextToImageGenerator(RegistryModel[ModelResult]):
    """``generate(prompt, model="auto", output_dir=..., **params) -> ModelResult``."""

    MODEL_TYPE = "text_to_image"
