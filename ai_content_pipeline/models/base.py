"""The established model-class API: `ModelResult`, `BaseContentModel` and their shared body.

Users' code calls ``UnifiedTextToImageGenerator().generate(prompt, model)`` and friends
directly, so those classes keep working standalone. They are thin: `RegistryModel` turns one
call into a `GenerationRequest`, runs the registry's generator (the same one the executor
uses) and converts the `GenerationResult` into the class's established result type.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

from ..config.constants import AUTO_MODEL, MODEL_RECOMMENDATIONS, SUPPORTED_MODELS
from .protocol import GenerationRequest, GenerationResult
from .registry import GeneratorRegistry, build_registry
from .stub import call_cost

DIRECT_LABEL = "direct"
DEFAULT_OUTPUT_DIR = "output"


@dataclass
class ModelResult:
    """What an image, video, speech or avatar call returns (spec section 2.8)."""

    success: bool
    model_used: str
    processing_time: float
    cost_estimate: float
    output_path: str | None = None
    output_url: str | None = None
    metadata: dict[str, Any] | None = None
    error: str | None = None


class BaseContentModel(ABC):
    """One kind of model call (``model_type`` is a step type value) and its model choices."""

    def __init__(self, model_type: str) -> None:
        self.model_type = model_type
        self.start_time: float | None = None
        """Established attribute, never written: one instance serves concurrent branches, so
        a call's start lives in that call (``processing_time`` of its result)."""

    @abstractmethod
    def generate(self, input_data: Any, model: str, **kwargs: Any) -> Any:
        """Run one call; failures come back as a result with ``success=False``."""

    @abstractmethod
    def get_available_models(self) -> list[str]:
        """Model names this type accepts."""

    @abstractmethod
    def estimate_cost(self, model: str, **kwargs: Any) -> float:
        """USD one call with `model` is expected to cost."""

    @abstractmethod
    def validate_input(self, input_data: Any, model: str, **kwargs: Any) -> bool:
        """Whether `generate` would accept this input and model."""

    def recommend_model(
        self, criteria: str = "balanced", budget: float | None = None
    ) -> str | None:
        """The model MODEL_RECOMMENDATIONS names for `criteria`, else the first available one.

        With a `budget`, that choice stands if it fits; otherwise the cheapest model within the
        budget (ties: list order). None when no model is available or none fits the budget.
        """
        available = self.get_available_models()
        choice = MODEL_RECOMMENDATIONS.get(self.model_type, {}).get(criteria)
        if choice not in available:
            choice = available[0] if available else None
        if budget is None or choice is None or self.estimate_cost(choice) <= budget:
            return choice
        affordable = [m for m in available if self.estimate_cost(m) <= budget]
        return min(affordable, key=self.estimate_cost) if affordable else None


ResultT = TypeVar("ResultT")


class RegistryModel(BaseContentModel, Generic[ResultT]):
    """The shared body of every established generator class.

    A subclass only names its step type (`MODEL_TYPE`) and result dataclass (`RESULT_TYPE`).
    The registry is the executor's when given, else the offline stub registry, built on first
    use so that constructing a generator reads nothing and needs no key.
    """

    MODEL_TYPE: ClassVar[str]
    RESULT_TYPE: ClassVar[type[Any]] = ModelResult
    INPUT_REQUIRED: ClassVar[bool] = True
    """False when every input may come from params instead (replicate_multitalk)."""

    def __init__(self, registry: GeneratorRegistry | None = None) -> None:
        super().__init__(self.MODEL_TYPE)
        self._registry = registry
        self._registry_lock = threading.Lock()

    @property
    def registry(self) -> GeneratorRegistry:
        if self._registry is None:
            with self._registry_lock:
                if self._registry is None:
                    self._registry = build_registry("stub")
        return self._registry

    def get_available_models(self) -> list[str]:
        return list(SUPPORTED_MODELS.get(self.model_type, []))

    def estimate_cost(self, model: str, **kwargs: Any) -> float:
        return call_cost(self.model_type, model)

    def validate_input(self, input_data: Any, model: str, **kwargs: Any) -> bool:
        return self.input_problem(input_data, self._resolve(model)) is None

    def _resolve(self, model: str) -> str:
        """``auto`` means the balanced recommendation (spec: "auto" is always a valid name)."""
        if model == AUTO_MODEL:
            return self.recommend_model() or model
        return model

    def input_problem(self, input_data: Any, model: str) -> str | None:
        """Why `generate` would refuse this input and (resolved) model, or None."""
        available = self.get_available_models()
        if model not in available:
            return (
                f"model '{model}' is not available for {self.model_type}; "
                f"choose one of: {', '.join(available)}"
            )
        if self.INPUT_REQUIRED and (input_data is None or not str(input_data).strip()):
            return f"{self.model_type} needs a non-empty input"
        return None

    def generate(self, input_data: Any, model: str = AUTO_MODEL, **kwargs: Any) -> ResultT:
        """Run one call through the registry. ``output_dir`` (default ``./output``) says where
        files go; every other keyword is a model parameter. Never raises for a failed call."""
        started = time.perf_counter()
        output_dir = Path(kwargs.pop("output_dir", None) or DEFAULT_OUTPUT_DIR).resolve()
        model = self._resolve(model)
        problem = self.input_problem(input_data, model)
        if problem is not None:
            return self._convert(GenerationResult(success=False, error=problem), model, started)
        # Imported here: the pipeline package imports these classes, so a top-level import
        # of it from models would be circular.
        from ..pipeline.step_types import input_type_of

        request = GenerationRequest(
            step_type=self.model_type,
            model=model,
            input_data=input_data,
            input_type=input_type_of(self.model_type),
            params=kwargs,
            output_dir=output_dir,
            label=DIRECT_LABEL,
        )
        try:
            result = self.registry.get(self.model_type, model).generate(request)
        except Exception as exc:
            # The established classes report every failure in their result, never by raising.
            result = GenerationResult(success=False, error=str(exc) or type(exc).__name__)
        return self._convert(result, model, started)

    def _convert(self, result: GenerationResult, model: str, started: float) -> ResultT:
        """Map a GenerationResult onto whichever of the spec's fields `RESULT_TYPE` has."""
        values: dict[str, Any] = {
            "success": result.success,
            "model_used": model,
            "processing_time": time.perf_counter() - started,
            "cost_estimate": result.cost,
            "output_path": result.output_path,
            "output_url": result.output_url,
            "output_text": result.output_text,
            "extracted_prompt": result.extracted_prompt,
            "metadata": {**result.metadata, **result.extra},
            "error": result.error,
        }
        names = {f.name for f in fields(self.RESULT_TYPE)}
        return cast(ResultT, self.RESULT_TYPE(**{k: v for k, v in values.items() if k in names}))
