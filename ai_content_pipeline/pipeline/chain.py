"""Chain model: step types, steps, results, and the chain itself (the established API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..config.constants import CHAIN_SETTING_DEFAULTS, estimated_cost, estimated_seconds
from . import step_types


class StepType(Enum):
    """Step types. Order and values are part of the public interface."""

    TEXT_TO_IMAGE = "text_to_image"
    IMAGE_UNDERSTANDING = "image_understanding"
    PROMPT_GENERATION = "prompt_generation"
    IMAGE_TO_IMAGE = "image_to_image"
    IMAGE_TO_VIDEO = "image_to_video"
    TEXT_TO_SPEECH = "text_to_speech"
    ADD_AUDIO = "add_audio"
    UPSCALE_VIDEO = "upscale_video"
    GENERATE_SUBTITLES = "generate_subtitles"
    PARALLEL_GROUP = "parallel_group"
    REPLICATE_MULTITALK = "replicate_multitalk"


@dataclass
class PipelineStep:
    """One step of a chain as written in YAML."""

    step_type: StepType
    model: str
    params: dict[str, Any]
    enabled: bool = True
    retry_count: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineStep:
        """Build a step; unknown keys are ignored so newer files still load."""
        return cls(
            step_type=StepType(data["type"]),
            model=data["model"],
            params=data.get("params", {}) or {},
            enabled=data.get("enabled", True),
            retry_count=data.get("retry_count", 0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.step_type.value,
            "model": self.model,
            "params": self.params,
            "enabled": self.enabled,
            "retry_count": self.retry_count,
        }


@dataclass
class ChainResult:
    """Outcome of one chain run."""

    success: bool
    steps_completed: int
    total_steps: int
    total_cost: float
    total_time: float
    outputs: dict[str, Any]
    error: str | None = None
    step_results: list[dict[str, Any]] | None = None


def branch_steps(step: PipelineStep) -> list[PipelineStep]:
    """The enabled branches of a parallel_group, in declaration order."""
    raw = step.params.get("parallel_steps") or []
    steps = [PipelineStep.from_dict(item) for item in raw]
    return [s for s in steps if s.enabled]


@dataclass
class ContentCreationChain:
    """A named list of steps plus run configuration."""

    name: str
    steps: list[PipelineStep]
    config: dict[str, Any] = field(default=None)  # type: ignore[assignment]
    output_dir: str = field(init=False)
    temp_dir: str = field(init=False)
    cleanup_temp: bool = field(init=False)
    save_intermediates: bool = field(init=False)
    input_type: str = field(init=False)

    def __post_init__(self) -> None:
        self.config = dict(self.config or {})
        for setting, default in CHAIN_SETTING_DEFAULTS.items():
            setattr(self, setting, self.config.get(setting, default))

    def __repr__(self) -> str:
        """The established short form: name and enabled/total steps."""
        enabled = len(self.get_enabled_steps())
        return f"ContentCreationChain(name='{self.name}', steps={enabled}/{len(self.steps)})"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ContentCreationChain:
        steps = [PipelineStep.from_dict(item) for item in config["steps"]]
        extra = {k: v for k, v in config.items() if k not in ("name", "steps")}
        return cls(name=config.get("name", "unnamed_chain"), steps=steps, config=extra)

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "steps": [s.to_dict() for s in self.steps], **self.config}

    def get_enabled_steps(self) -> list[PipelineStep]:
        return [s for s in self.steps if s.enabled]

    def get_initial_input_type(self) -> str:
        if self.input_type and self.input_type != "auto":
            return self.input_type
        return self._determine_initial_input_type()

    def _determine_initial_input_type(self) -> str:
        enabled = self.get_enabled_steps()
        if not enabled:
            return "text"
        first = enabled[0]
        if first.step_type is StepType.PARALLEL_GROUP:
            branches = branch_steps(first)
            if branches:
                return self._get_step_input_type(branches[0].step_type)
            return "text"
        expected = self._get_step_input_type(first.step_type)
        return "text" if expected == step_types.ANY else expected

    def _get_step_input_type(self, step_type: StepType) -> str:
        return step_types.input_type_of(step_type.value)

    def _get_step_output_type(self, step_type: StepType) -> str:
        out = step_types.output_type_of(step_type.value)
        if out == step_types.PASSTHROUGH:
            return step_types.input_type_of(step_type.value)
        if out == step_types.GROUP:
            return step_types.ANY
        return out

    def validate(self) -> list[str]:
        """Problems that stop this chain from running; ``[]`` means valid."""
        from .validation import find_problems

        return [problem.message for problem in find_problems(self.to_config())]

    def estimate_cost(self) -> float:
        return sum(step_cost(step) for step in self.get_enabled_steps())

    def estimate_time(self) -> float:
        return sum(step_seconds(step) for step in self.get_enabled_steps())


def step_cost(step: PipelineStep) -> float:
    """Estimated cost; a group costs the sum of its branches, in declaration order."""
    if step.step_type is StepType.PARALLEL_GROUP:
        total = 0.0
        for branch in branch_steps(step):
            total += step_cost(branch)
        return total
    return estimated_cost(step.step_type.value, step.model)


def step_seconds(step: PipelineStep) -> float:
    """Estimated sequential model time; a group counts every branch."""
    if step.step_type is StepType.PARALLEL_GROUP:
        return sum(step_seconds(branch) for branch in branch_steps(step))
    return estimated_seconds(step.step_type.value, step.model)
