"""Model calls: the generator protocol, its registry and the established model classes.

Importing this package only defines names: no environment is read, no registry is built and
no `.env` file is loaded (spec section 8 #18).
"""

from __future__ import annotations

from .avatar import ReplicateMultiTalkGenerator
from .base import BaseContentModel, ModelResult
from .image_to_image import ImageToImageResult, UnifiedImageToImageGenerator
from .image_to_video import UnifiedImageToVideoGenerator
from .image_understanding import ImageUnderstandingResult, UnifiedImageUnderstandingGenerator
from .prompt_generation import PromptGenerationResult, UnifiedPromptGenerator
from .text_to_image import UnifiedTextToImageGenerator
from .text_to_speech import UnifiedTextToSpeechGenerator

__all__ = [
    "BaseContentModel",
    "ImageToImageResult",
    "ImageUnderstandingResult",
    "ModelResult",
    "PromptGenerationResult",
    "ReplicateMultiTalkGenerator",
    "UnifiedImageToImageGenerator",
    "UnifiedImageToVideoGenerator",
    "UnifiedImageUnderstandingGenerator",
    "UnifiedPromptGenerator",
    "UnifiedTextToImageGenerator",
    "UnifiedTextToSpeechGenerator",
]
