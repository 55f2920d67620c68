"""The one protocol every model call goes through, whatever the backend.

The executor resolves parameters, labels and folders; a generator only turns a
request into a result. Keeping per-call state in the request (never on the
generator instance) is what makes generators safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..clock import Clock, RealClock


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one model call may depend on."""

    step_type: str
    """`StepType` value, e.g. ``"text_to_image"``."""
    model: str
    input_data: Any
    """Prompt text, a local path, or a URL, depending on `input_type`."""
    input_type: str
    params: Mapping[str, Any]
    """Effective parameters: step params merged with executor defaults; control keys removed."""
    output_dir: Path
    """Absolute folder the generator must write into (always inside the chain's output_dir)."""
    label: str
    """Stable file-name prefix: ``step3`` or ``step3_branch2``. Never time- or uuid-based."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments given to `ChainExecutor.execute`, forwarded unchanged."""
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False)
    """Set when the caller gave up (timeout): a generator should stop and write nothing."""
    clock: Clock = field(default_factory=RealClock, compare=False)
    """The executor's clock: every wait of the call (latency, polling, back-off) goes here."""


@dataclass
class GenerationResult:
    """What a model call produced."""

    success: bool
    output_path: str | None = None
    output_url: str | None = None
    output_text: str | None = None
    extracted_prompt: str | None = None
    cost: float = 0.0
    model_time: float = 0.0
    """Seconds of model latency (simulated by the stub); deterministic, unlike wall time."""
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Step-type specific result keys, e.g. ``subtitle_path``."""


@runtime_checkable
class Generator(Protocol):
    """A model call: request in, result out. Must not raise for model failures."""

    def generate(self, request: GenerationRequest) -> GenerationResult: ...


@runtime_checkable
class AsyncGenerator(Protocol):
    """A generator that can also be awaited: concurrent schedulers run it as a task (no
    thread per call) and cancel it by cancelling the task. Waits use ``asyncio.sleep`` on the
    running loop, which shares the executor's clock."""

    def generate(self, request: GenerationRequest) -> GenerationResult: ...

    async def agenerate(self, request: GenerationRequest) -> GenerationResult: ...


def is_async(generator: object) -> bool:
    """Whether `generator` offers `agenerate`."""
    return callable(getattr(generator, "agenerate", None))
