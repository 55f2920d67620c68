"""A timed-out attempt must not poison the retry that follows it."""

from __future__ import annotations

import threading
from pathlib import Path

from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry
from ai_content_pipeline.pipeline.chain import ContentCreationChain
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.utils.file_manager import FileManager


class SlowThenFast:
    """Hangs on the first call only; answers instantly afterwards."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first and request.cancelled.wait(2.0):
            return GenerationResult(success=False, error="cancelled")
        return GenerationResult(success=True, output_text="done", cost=0.5, model_time=1.0)


def test_retry_after_timeout_succeeds(tmp_path: Path) -> None:
    generator = SlowThenFast()
    registry = GeneratorRegistry("test")
    registry.register("image_understanding", "gemini_describe", generator)
    executor = ChainExecutor(FileManager(str(tmp_path)), generators=registry)
    chain = ContentCreationChain.from_config(
        {
            "name": "retry_timeout",
            "input_type": "image",
            "steps": [
                {
                    "type": "image_understanding",
                    "model": "gemini_describe",
                    "retry_count": 2,
                    "params": {"timeout": 0.1},
                }
            ],
        }
    )
    result = executor.execute(chain, "picture.png")
    assert result.success, result.error
    step = result.step_results[0]
    assert step["metadata"]["attempts"] == 2
    assert step["cost"] == 0.5  # the timed-out attempt reported no cost
    assert generator.calls == 2
