"""High-level entry point: build chains from files or lists, run them, price them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..clock import Clock
from ..config.constants import SUPPORTED_MODELS
from ..config.loader import load_config_file
from ..errors import ConfigError
from ..models.image_to_image import UnifiedImageToImageGenerator
from ..models.image_understanding import UnifiedImageUnderstandingGenerator
from ..models.prompt_generation import UnifiedPromptGenerator
from ..models.registry import GeneratorRegistry, build_registry
from ..models.text_to_image import UnifiedTextToImageGenerator
from ..utils.file_manager import FileManager
from .chain import (
    ChainResult,
    ContentCreationChain,
    PipelineStep,
    StepType,
    branch_steps,
    step_cost,
)
from .executor import ChainExecutor

EXAMPLE_CONFIGS: dict[str, dict[str, Any]] = {
    "simple_chain.yaml": {
        "name": "simple_chain",
        "description": "Text to image to video",
        "prompt": "A lighthouse on a cliff at dawn",
        "steps": [
            {"type": "text_to_image", "model": "flux_schnell", "params": {"aspect_ratio": "16:9"}},
            {"type": "image_to_video", "model": "hailuo", "params": {"duration": 6}},
        ],
    },
    "full_chain.yaml": {
        "name": "full_chain",
        "description": "Text to image, video prompt, video, audio, upscale",
        "prompt": "A paper boat drifting down a rainy street",
        "save_intermediates": True,
        "steps": [
            {"type": "text_to_image", "model": "flux_dev"},
            {"type": "prompt_generation", "model": "openrouter_video_cinematic"},
            {"type": "image_to_video", "model": "kling", "params": {"duration": 5}},
            {"type": "add_audio", "model": "thinksound"},
            {"type": "upscale_video", "model": "topaz", "params": {"upscale_factor": 2}},
        ],
    },
}


def quick_video_chain(
    text_to_image: UnifiedTextToImageGenerator,
    image_model: str = "auto",
    video_model: str = "auto",
    output_dir: str | None = None,
) -> ContentCreationChain:
    """The chain `quick_create_video` runs, with `auto` resolved: one rule, so the plan the CLI
    shows before spending names exactly the models that run.

    `auto` is the established choice: the speed pick for the image, the first listed
    image_to_video model (veo3, the dearest) for the video.
    """
    image = text_to_image.recommend_model("speed") if image_model == "auto" else image_model
    video = SUPPORTED_MODELS["image_to_video"][0] if video_model == "auto" else video_model
    config: dict[str, Any] = {}
    if output_dir:
        config["output_dir"] = output_dir
    return ContentCreationChain(
        name="quick_video_creation",
        steps=[
            PipelineStep(StepType.TEXT_TO_IMAGE, image, {}),
            PipelineStep(StepType.IMAGE_TO_VIDEO, video, {}),
        ],
        config=config,
    )


class AIPipelineManager:
    """Creates and runs chains; one executor per manager."""

    def __init__(
        self,
        base_dir: str | None = None,
        generators: GeneratorRegistry | None = None,
        *,
        clock: Clock | None = None,
        scheduler: str | None = None,
        create_dirs: bool = True,
    ) -> None:
        """`create_dirs=False` skips the established side effect of creating ``output``,
        ``temp`` and ``input`` under `base_dir` (the CLI and the harness write only where a
        run puts its files)."""
        self.base_dir = Path(base_dir) if base_dir else Path.cwd()
        self.output_dir = self.base_dir / "output"
        self.temp_dir = self.output_dir / "temp"
        self.file_manager = FileManager(str(self.base_dir), create_dirs=create_dirs)
        registry = generators if generators is not None else build_registry("stub")
        self.executor = ChainExecutor(
            self.file_manager, generators=registry, clock=clock, scheduler=scheduler
        )
        self.text_to_image = UnifiedTextToImageGenerator(registry)
        self.image_understanding = UnifiedImageUnderstandingGenerator(registry)
        self.prompt_generation = UnifiedPromptGenerator(registry)
        self.image_to_image = UnifiedImageToImageGenerator(registry)

    def create_chain_from_config(self, config_path: str) -> ContentCreationChain:
        """Load a YAML/JSON pipeline file (safe loading only) into a chain."""
        path = Path(config_path)
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise ValueError(f"Unsupported configuration format: {path.suffix or config_path}")
        if not path.exists():
            raise FileNotFoundError(f"Configuration file not found: {config_path}")
        loaded = load_config_file(path)
        try:
            return ContentCreationChain.from_config(loaded.data)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"invalid step definition: {exc}", str(path)) from exc

    def create_simple_chain(
        self,
        steps: list[str],
        models: dict[str, str] | None = None,
        name: str = "simple_chain",
    ) -> ContentCreationChain:
        models = models or {}
        built = []
        for step_name in steps:
            try:
                step_type = StepType(step_name)
            except ValueError:
                raise ValueError(f"Unsupported step type: {step_name}") from None
            available = SUPPORTED_MODELS.get(step_type.value, [])
            model = models.get(step_name) or (available[0] if available else None)
            if model is None:
                raise ValueError(f"No models available for step type: {step_name}")
            built.append(PipelineStep(step_type=step_type, model=model, params={}))
        return ContentCreationChain(name=name, steps=built, config={})

    def execute_chain(
        self, chain: ContentCreationChain, input_data: str, **kwargs: Any
    ) -> ChainResult:
        """Validate, then run; a chain that cannot run never reaches the executor."""
        errors = chain.validate()
        if errors:
            return ChainResult(
                success=False,
                steps_completed=0,
                total_steps=len(chain.steps),
                total_cost=0.0,
                total_time=0.0,
                outputs={},
                error="Chain validation failed: " + "; ".join(errors),
            )
        try:
            return self.executor.execute(chain, input_data, **kwargs)
        except Exception as exc:
            return ChainResult(
                success=False,
                steps_completed=0,
                total_steps=len(chain.get_enabled_steps()),
                total_cost=0.0,
                total_time=0.0,
                outputs={},
                error=f"Execution failed: {exc}",
            )

    def quick_create_video(
        self,
        text: str,
        image_model: str = "auto",
        video_model: str = "auto",
        output_dir: str | None = None,
    ) -> ChainResult:
        """Text -> image -> video with the recommended (or given) models."""
        chain = quick_video_chain(self.text_to_image, image_model, video_model, output_dir)
        return self.execute_chain(chain, text)

    def estimate_chain_cost(self, chain: ContentCreationChain) -> dict[str, Any]:
        """Price every enabled step; a group costs the sum of its branches."""
        step_costs = []
        total = 0.0
        for step in chain.get_enabled_steps():
            cost = step_cost(step)
            total += cost
            entry = {"step": step.step_type.value, "model": step.model, "cost": cost}
            if step.step_type is StepType.PARALLEL_GROUP:
                entry["branches"] = [
                    {"step": b.step_type.value, "model": b.model, "cost": step_cost(b)}
                    for b in branch_steps(step)
                ]
            step_costs.append(entry)
        return {"total_cost": total, "step_costs": step_costs, "currency": "USD"}

    def get_available_models(self) -> dict[str, list[str]]:
        models = {step_type: list(names) for step_type, names in SUPPORTED_MODELS.items()}
        models["generate_subtitles"] = ["any"]
        models["parallel_group"] = ["parallel"]
        models["replicate_multitalk"] = ["multitalk"]
        return models

    def create_example_configs(self, output_dir: str | None = None) -> list[str]:
        target = Path(output_dir) if output_dir else self.base_dir / "input"
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for filename, config in EXAMPLE_CONFIGS.items():
            path = target / filename
            path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
            written.append(str(path))
        return written

    def cleanup_temp_files(self) -> int:
        return self.file_manager.cleanup_temp_files()

    def __repr__(self) -> str:
        """The established short form: base folder and how many models are available."""
        total = sum(len(models) for models in self.get_available_models().values())
        return f"AIPipelineManager(base_dir='{self.base_dir}', models={total})"
