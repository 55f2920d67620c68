"""Image -> video: the established `UnifiedImageToVideoGenerator`."""

from __future__ import annotations

from .base import ModelResult, RegistryModel


class UnifiedImageToVideoGenerator(RegistryModel[ModelResult]):
    """``generate(image_path_or_url, model="auto", duration=5, prompt=..., ...) -> ModelResult``."""

    MODEL_TYPE = "image_to_video"
