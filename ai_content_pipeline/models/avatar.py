"""Talking-avatar video: the established `ReplicateMultiTalkGenerator`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config.constants import EXTRA_VALID_MODELS
from .base import ModelResult, RegistryModel

if TYPE_CHECKING:
    from ..utils.file_manager import FileManager
    from .registry import GeneratorRegistry


class ReplicateMultiTalkGenerator(RegistryModel[ModelResult]):
    """``generate(input_data, model="multitalk", image=..., first_audio=..., ...) -> ModelResult``.

    The image and audio usually arrive as params, so `input_data` may be empty.
    """

    MODEL_TYPE = "replicate_multitalk"
    INPUT_REQUIRED = False

    def __init__(
        self,
        file_manager: FileManager | None = None,
        registry: GeneratorRegistry | None = None,
        **kwargs: Any,
    ) -> None:
        """The established signature: a file manager first, other keywords accepted and
        ignored (they configured the release's provider client). Calls run through the
        registry, so the established `generator` attribute, which held that client, is None."""
        super().__init__(registry)
        self.file_manager = file_manager
        self.generator: Any = None

    def get_available_models(self) -> list[str]:
        # Not in SUPPORTED_MODELS (spec section 5): its one dummy name lives with the extras.
        return list(EXTRA_VALID_MODELS.get(self.MODEL_TYPE) or ["multitalk"])
