"""The established model classes: standalone use, result types, recommendations, inert import."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.config.constants import SUPPORTED_MODELS
from ai_content_pipeline.models import (
    BaseContentModel,
    ModelResult,
    ReplicateMultiTalkGenerator,
    UnifiedImageToImageGenerator,
    UnifiedImageToVideoGenerator,
    UnifiedImageUnderstandingGenerator,
    UnifiedPromptGenerator,
    UnifiedTextToImageGenerator,
    UnifiedTextToSpeechGenerator,
    base,
    media,
)
from ai_content_pipeline.models.image_to_image import ImageToImageResult
from ai_content_pipeline.models.image_understanding import ImageUnderstandingResult
from ai_content_pipeline.models.prompt_generation import PromptGenerationResult
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry, build_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AICP_STUB_TIME_SCALE", raising=False)
    monkeypatch.delenv("AICP_STUB_JITTER_SEED", raising=False)


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "input.png"
    path.write_bytes(media.make_png(b"input"))
    return str(path)


def test_result_dataclass_fields_follow_the_spec() -> None:
    def names(cls: type) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    common = ["model_used", "cost_estimate", "processing_time", "error", "metadata"]
    assert names(ModelResult) == [
        "success",
        "model_used",
        "processing_time",
        "cost_estimate",
        "output_path",
        "output_url",
        "metadata",
        "error",
    ]
    assert names(ImageUnderstandingResult) == ["success", "output_text", *common]
    assert names(PromptGenerationResult) == ["success", "output_text", "extracted_prompt", *common]
    assert names(ImageToImageResult) == ["success", "output_path", "output_url", *common]
    assert ImageUnderstandingResult(success=True).cost_estimate == 0.0


CASES = [
    (UnifiedTextToImageGenerator, "text_to_image", "flux_dev", "text", {}),
    (UnifiedImageToImageGenerator, "image_to_image", "photon_flash", "image", {"prompt": "x"}),
    (UnifiedImageToVideoGenerator, "image_to_video", "hailuo", "image", {"duration": "10"}),
    (UnifiedTextToSpeechGenerator, "text_to_speech", "elevenlabs", "text", {"voice": "rachel"}),
    (ReplicateMultiTalkGenerator, "replicate_multitalk", "multitalk", "image", {"turbo": True}),
]


@pytest.mark.parametrize(("cls", "model_type", "model", "kind", "params"), CASES)
def test_file_generators_work_standalone_and_deterministically(
    tmp_path: Path,
    image: str,
    cls: type[BaseContentModel],
    model_type: str,
    model: str,
    kind: str,
    params: dict[str, Any],
) -> None:
    generator = cls()
    assert generator.model_type == model_type
    input_data = "a lighthouse in a storm" if kind == "text" else image
    first = generator.generate(input_data, model, output_dir=str(tmp_path / "a"), **params)
    second = cls().generate(input_data, model, output_dir=str(tmp_path / "b"), **params)
    assert first.success, first.error
    assert first.model_used == model
    assert first.cost_estimate == generator.estimate_cost(model)
    assert first.processing_time >= 0
    assert first.output_url and first.output_url.startswith("stub://")
    first_path, second_path = Path(first.output_path), Path(second.output_path)
    assert first_path.parent == tmp_path / "a"
    assert first_path.name.startswith("direct_")
    assert first_path.name == second_path.name
    assert first_path.read_bytes() == second_path.read_bytes()
    assert first.metadata["backend"] == "stub"


def test_image_understanding_and_prompt_generation_return_text(image: str) -> None:
    described = UnifiedImageUnderstandingGenerator().generate(image, "gemini_detailed")
    assert isinstance(described, ImageUnderstandingResult)
    assert described.success and described.output_text
    assert described.cost_estimate == 0.002
    prompted = UnifiedPromptGenerator().generate(
        image, "openrouter_video_dramatic", video_style="slow motion"
    )
    assert isinstance(prompted, PromptGenerationResult)
    assert prompted.success and prompted.extracted_prompt
    assert "slow motion" in prompted.extracted_prompt


def test_image_to_image_returns_its_own_result_type(tmp_path: Path, image: str) -> None:
    result = UnifiedImageToImageGenerator().generate(image, "seededit_v3", output_dir=tmp_path)
    assert isinstance(result, ImageToImageResult)
    assert result.success and result.output_path and result.model_used == "seededit_v3"


def test_default_output_dir_is_output_under_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = UnifiedTextToImageGenerator().generate("a cat", "flux_schnell")
    assert Path(result.output_path).parent == tmp_path / "output"


def test_auto_model_uses_the_balanced_recommendation(tmp_path: Path, image: str) -> None:
    video = UnifiedImageToVideoGenerator().generate(image, "auto", output_dir=tmp_path)
    assert video.model_used == "veo3_fast"
    picture = UnifiedTextToImageGenerator().generate("a cat", output_dir=tmp_path)
    assert picture.model_used == SUPPORTED_MODELS["text_to_image"][0]


def test_failures_come_back_as_results(tmp_path: Path, image: str) -> None:
    t2i = UnifiedTextToImageGenerator()
    unknown = t2i.generate("a cat", "no_such_model", output_dir=tmp_path)
    assert not unknown.success and "no_such_model" in (unknown.error or "")
    empty = t2i.generate("  ", "flux_dev", output_dir=tmp_path)
    assert not empty.success and "non-empty" in (empty.error or "")
    crashed = t2i.generate("a cat", "flux_dev", output_dir=tmp_path, stub_raise="exploded")
    assert not crashed.success and crashed.error == "exploded"
    failed = t2i.generate("a cat", "imagen4", output_dir=tmp_path, stub_fail="no quota")
    assert (failed.success, failed.error, failed.cost_estimate) == (False, "no quota", 0.004)
    bad_duration = UnifiedImageToVideoGenerator().generate(image, "kling", duration=7)
    assert not bad_duration.success and "duration" in (bad_duration.error or "")


def test_validate_input_and_available_models() -> None:
    t2i = UnifiedTextToImageGenerator()
    assert t2i.get_available_models() == SUPPORTED_MODELS["text_to_image"]
    assert t2i.validate_input("a cat", "flux_dev")
    assert t2i.validate_input("a cat", "auto")
    assert not t2i.validate_input("", "flux_dev")
    assert not t2i.validate_input("a cat", "dall-e-9")
    talk = ReplicateMultiTalkGenerator()
    assert talk.get_available_models() == ["multitalk"]
    assert talk.validate_input(None, "multitalk")
    assert talk.estimate_cost("multitalk") == 1.0


def test_recommend_model() -> None:
    t2i = UnifiedTextToImageGenerator()
    assert t2i.recommend_model("quality") == "flux_dev"
    assert t2i.recommend_model("speed") == "flux_schnell"
    assert t2i.recommend_model("no such criterion") == SUPPORTED_MODELS["text_to_image"][0]
    i2v = UnifiedImageToVideoGenerator()
    assert i2v.recommend_model("quality", budget=5.0) == "veo3"  # fits: kept
    assert i2v.recommend_model("quality", budget=1.0) == "hailuo"  # cheapest that fits
    assert i2v.recommend_model("quality", budget=0.01) is None
    assert UnifiedTextToSpeechGenerator().recommend_model("quality") == "elevenlabs_v3"
    assert ReplicateMultiTalkGenerator().recommend_model() == "multitalk"


def test_base_class_is_abstract_and_recommends_for_subclasses() -> None:
    with pytest.raises(TypeError):
        BaseContentModel("text_to_image")  # type: ignore[abstract]

    class Minimal(BaseContentModel):
        def generate(self, input_data: Any, model: str, **kwargs: Any) -> Any:
            return None

        def get_available_models(self) -> list[str]:
            return ["gemini_ocr", "gemini_describe"]

        def estimate_cost(self, model: str, **kwargs: Any) -> float:
            return {"gemini_ocr": 0.5, "gemini_describe": 0.1}[model]

        def validate_input(self, input_data: Any, model: str, **kwargs: Any) -> bool:
            return True

    minimal = Minimal("image_understanding")
    assert minimal.recommend_model("text_extraction") == "gemini_ocr"
    assert minimal.recommend_model("balanced") == "gemini_ocr"  # first available
    assert minimal.recommend_model("text_extraction", budget=0.2) == "gemini_describe"


class _RecordingGenerator:
    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        return GenerationResult(success=True, output_url="https://example.invalid/x.png", cost=9.0)


def test_a_given_registry_is_used_and_receives_a_clean_request(tmp_path: Path) -> None:
    registry = GeneratorRegistry("test")
    recorder = _RecordingGenerator()
    registry.register("text_to_image", "flux_dev", recorder)
    result = UnifiedTextToImageGenerator(registry).generate(
        "a cat", "flux_dev", output_dir=str(tmp_path), aspect_ratio="1:1"
    )
    assert (result.success, result.cost_estimate, result.output_path) == (True, 9.0, None)
    (request,) = recorder.requests
    assert request.label == "direct"
    assert request.output_dir == tmp_path.resolve()
    assert request.input_type == "text"
    assert dict(request.params) == {"aspect_ratio": "1:1"}


def test_the_stub_registry_is_built_lazily_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []

    def counting_build(backend: str = "stub") -> GeneratorRegistry:
        builds.append(backend)
        return build_registry(backend)

    monkeypatch.setattr(base, "build_registry", counting_build)
    generator = UnifiedTextToImageGenerator()
    assert builds == []
    generator.generate("a", "flux_dev", output_dir=tmp_path)
    generator.generate("b", "flux_dev", output_dir=tmp_path)
    assert builds == ["stub"]


def test_importing_models_has_no_side_effects(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PIPELINE_PARALLEL_ENABLED=true\nAICP_SECRET=1\n")
    script = (
        "import os, sys\n"
        "import ai_content_pipeline.models as m\n"
        "import ai_content_pipeline.models.stub\n"
        "assert 'AICP_SECRET' not in os.environ\n"
        "assert 'PIPELINE_PARALLEL_ENABLED' not in os.environ\n"
        "assert sorted(os.listdir('.')) == ['.env']  # nothing written\n"
        "print(len(m.__all__))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_PARALLEL_ENABLED"}
    env["PYTHONPATH"] = str(REPO)
    env["AICP_STUB_TIME_SCALE"] = "garbage: would raise if read at import"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert int(completed.stdout) >= 4


def test_generated_file_name_is_the_content_hash(tmp_path: Path) -> None:
    result = UnifiedTextToSpeechGenerator().generate(
        "hello", "elevenlabs_turbo", output_dir=tmp_path, output_file="speech.wav"
    )
    path = Path(result.output_path)
    assert path.suffix == ".wav"
    assert path.name == f"direct_{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}.wav"
