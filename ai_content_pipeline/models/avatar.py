"""Talking-avatar video: the established `ReplicateMultiTalkGenerator`."""

from __future__ import annotations

from ..config.constants import EXTRA_VALID_MODELS
from .base import ModelResult, RegistryModel


class ReplicateMultiTalkGenerator(RegistryModel[ModelResult]):
    """``generate(input_data, model="multitalk", image=..., first_audio=..., ...) -> ModelResult``.

    The image and audio usually arrive as params, so `input_data` may be empty.
    """

    MODEL_TYPE = "replicate_multitalk"
    INPUT_REQUIRED = False

    def get_available_models(self) -> list[str]:
        # Not in SUPPORTED_MODELS (spec section 5): its one dummy name lives with the extras.
        return list(EXTRA_VALID_MODELS.get(self.MODEL_TYPE) or ["multitalk"])
