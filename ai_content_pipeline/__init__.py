"""AI Content Pipeline: YAML-driven chains of model calls (text -> image -> video -> audio).

Importing the package has no side effects: no environment files are read, no
keys are needed and no network is touched.
"""

from .config.constants import PIPELINE_STEPS, SUPPORTED_MODELS
from .models.text_to_image import UnifiedTextToImageGenerator
from .pipeline.chain import ContentCreationChain
from .pipeline.manager import AIPipelineManager

__version__ = "1.0.0"

__all__ = [
    "PIPELINE_STEPS",
    "SUPPORTED_MODELS",
    "AIPipelineManager",
    "ContentCreationChain",
    "UnifiedTextToImageGenerator",
]
