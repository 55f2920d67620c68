"""Text prompt -> image: the established `UnifiedTextToImageGenerator`."""

from __future__ import annotations

from typing import Any

from ..config.constants import estimated_seconds
from .base import ModelResult, RegistryModel

MODEL_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "flux_dev": {
        "name": "FLUX.1 Dev",
        "provider": "FAL AI",
        "description": "High-quality 12B parameter model",
        "best_for": "Quality, artistic content",
    },
    "flux_schnell": {
        "name": "FLUX.1 Schnell",
        "provider": "FAL AI",
        "description": "Fast inference model",
        "best_for": "Speed, prototyping",
    },
    "imagen4": {
        "name": "Imagen 4 Preview Fast",
        "provider": "Google (via FAL AI)",
        "description": "Google's latest image model",
        "best_for": "Photorealism, text rendering",
    },
    "seedream_v3": {
        "name": "Seedream v3",
        "provider": "FAL AI",
        "description": "Bilingual (Chinese/English) model",
        "best_for": "Multilingual prompts, cost-effective",
    },
}
"""The established release's descriptions; prices and times come from the constants."""


class UnifiedTextToImageGenerator(RegistryModel[ModelResult]):
    """``generate(prompt, model="auto", output_dir=..., **params) -> ModelResult``."""

    MODEL_TYPE = "text_to_image"

    def get_model_info(self, model: str) -> dict[str, Any]:
        """What the established release said about `model` (name, provider, description,
        best_for, cost_per_image, avg_time); ``{}`` for a model this type does not offer."""
        if model not in self.get_available_models():
            return {}
        seconds = estimated_seconds(self.MODEL_TYPE, model)
        return {
            **MODEL_DESCRIPTIONS.get(model, {"name": model}),
            "cost_per_image": f"${self.estimate_cost(model):.3f}",
            "avg_time": f"{seconds:g} seconds",
        }

    def compare_models(
        self, prompt: str, models: list[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Info, estimated cost and availability per model (all available ones by default).

        The prompt does not change any figure; it is taken because the established signature
        has it."""
        available = self.get_available_models()
        return {
            model: {
                **self.get_model_info(model),
                "estimated_cost": self.estimate_cost(model),
                "available": model in available,
            }
            for model in (available if models is None else models)
        }
