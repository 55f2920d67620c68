"""Text -> speech: the established `UnifiedTextToSpeechGenerator`."""

from __future__ import annotations

from .base import ModelResult, RegistryModel


class UnifiedTextToSpeechGenerator(RegistryModel[ModelResult]):
    """``generate(text, model="auto", voice=..., output_file=..., ...) -> ModelResult``."""

    MODEL_TYPE = "text_to_speech"
