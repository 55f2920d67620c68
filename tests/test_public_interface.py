"""Pins the public Python API of spec section 2 (names, signatures, defaults, messages).

Everything here is something users' code or pipeline files depend on; each assertion names
the exact value the spec fixes so a rename, reorder or changed default fails loudly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import ai_content_pipeline
from ai_content_pipeline.config import constants
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry, build_registry
from ai_content_pipeline.pipeline.chain import (
    ChainResult,
    ContentCreationChain,
    PipelineStep,
    StepType,
)
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.utils.file_manager import FileManager

REPO = Path(__file__).resolve().parents[1]
EMPTY = inspect.Parameter.empty
STEP_RESULT_KEYS = {
    "success",
    "output_path",
    "output_url",
    "output_text",
    "extracted_prompt",
    "processing_time",
    "cost",
    "model",
    "metadata",
    "error",
}


@pytest.fixture(autouse=True)
def _sequential_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No simulated latency, flag explicitly off, no user features file."""
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "false")
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "0")
    monkeypatch.delenv("AICP_STUB_JITTER_SEED", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def params_of(func: Any) -> list[tuple[str, Any, inspect._ParameterKind]]:
    """(name, default, kind) for every parameter, in order."""
    return [(p.name, p.default, p.kind) for p in inspect.signature(func).parameters.values()]


def names_and_defaults(func: Any) -> list[tuple[str, Any]]:
    return [(name, default) for name, default, _ in params_of(func)]


def field_spec(cls: type) -> list[tuple[str, Any]]:
    """Dataclass fields in order with their default (`EMPTY` when required)."""
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # pragma: no cover - none expected
            default = ("factory", f.default_factory())
        else:
            default = EMPTY
        out.append((f.name, default))
    return out


def step(type_: str, model: str, **params: Any) -> dict[str, Any]:
    return {"type": type_, "model": model, "params": params}


# ---------------------------------------------------------------------------------------------
# 2.1 import paths
# ---------------------------------------------------------------------------------------------


def test_package_version_and_all() -> None:
    assert ai_content_pipeline.__version__ == "1.0.0"
    assert set(ai_content_pipeline.__all__) == {
        "AIPipelineManager",
        "UnifiedTextToImageGenerator",
        "ContentCreationChain",
        "SUPPORTED_MODELS",
        "PIPELINE_STEPS",
    }
    assert len(ai_content_pipeline.__all__) == 5
    for name in ai_content_pipeline.__all__:
        assert hasattr(ai_content_pipeline, name), name
    assert ai_content_pipeline.SUPPORTED_MODELS is constants.SUPPORTED_MODELS
    assert ai_content_pipeline.PIPELINE_STEPS is constants.PIPELINE_STEPS


IMPORT_TABLE = [
    (
        "ai_content_pipeline.pipeline",
        ["AIPipelineManager", "ContentCreationChain", "PipelineStep", "ChainExecutor"],
    ),
    (
        "ai_content_pipeline.pipeline.chain",
        ["StepType", "PipelineStep", "ChainResult", "ContentCreationChain"],
    ),
    ("ai_content_pipeline.pipeline.executor", ["ChainExecutor"]),
    ("ai_content_pipeline.pipeline.manager", ["AIPipelineManager"]),
    (
        "ai_content_pipeline.models",
        [
            "UnifiedTextToImageGenerator",
            "BaseContentModel",
            "ModelResult",
            "ReplicateMultiTalkGenerator",
        ],
    ),
    ("ai_content_pipeline.utils", ["FileManager", "validate_prompt", "validate_file_path"]),
    ("ai_content_pipeline.utils.file_manager", ["FileManager"]),
    (
        "ai_content_pipeline.config.constants",
        [
            "SUPPORTED_MODELS",
            "PIPELINE_STEPS",
            "COST_ESTIMATES",
            "PROCESSING_TIME_ESTIMATES",
            "MODEL_RECOMMENDATIONS",
            "SUPPORTED_FORMATS",
            "DEFAULT_CHAIN_CONFIG",
        ],
    ),
]


@pytest.mark.parametrize(("module", "names"), IMPORT_TABLE, ids=[m for m, _ in IMPORT_TABLE])
def test_import_paths(module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in names if not hasattr(mod, name)]
    assert missing == []


def test_reexports_are_the_same_objects() -> None:
    from ai_content_pipeline import pipeline as pkg
    from ai_content_pipeline.models import UnifiedTextToImageGenerator as ModelsT2I
    from ai_content_pipeline.utils import FileManager as UtilsFileManager

    assert pkg.ChainExecutor is ChainExecutor
    assert pkg.AIPipelineManager is AIPipelineManager
    assert pkg.PipelineStep is PipelineStep
    assert pkg.ContentCreationChain is ContentCreationChain
    assert ai_content_pipeline.ContentCreationChain is ContentCreationChain
    assert ai_content_pipeline.UnifiedTextToImageGenerator is ModelsT2I
    assert UtilsFileManager is FileManager


# ---------------------------------------------------------------------------------------------
# 2.2 StepType
# ---------------------------------------------------------------------------------------------


def test_step_type_members_in_order() -> None:
    expected = [
        "TEXT_TO_IMAGE",
        "IMAGE_UNDERSTANDING",
        "PROMPT_GENERATION",
        "IMAGE_TO_IMAGE",
        "IMAGE_TO_VIDEO",
        "TEXT_TO_SPEECH",
        "ADD_AUDIO",
        "UPSCALE_VIDEO",
        "GENERATE_SUBTITLES",
        "PARALLEL_GROUP",
        "REPLICATE_MULTITALK",
    ]
    assert [m.name for m in StepType] == expected
    assert [m.value for m in StepType] == [name.lower() for name in expected]


# ---------------------------------------------------------------------------------------------
# 2.3 PipelineStep, ChainResult
# ---------------------------------------------------------------------------------------------


def test_pipeline_step_fields() -> None:
    assert dataclasses.is_dataclass(PipelineStep)
    assert field_spec(PipelineStep) == [
        ("step_type", EMPTY),
        ("model", EMPTY),
        ("params", EMPTY),
        ("enabled", True),
        ("retry_count", 0),
    ]


def test_pipeline_step_from_dict_defaults_and_extra_keys() -> None:
    built = PipelineStep.from_dict({"type": "text_to_image", "model": "flux_dev", "extra": 1})
    assert built == PipelineStep(StepType.TEXT_TO_IMAGE, "flux_dev", {}, True, 0)
    full = PipelineStep.from_dict(
        {
            "type": "image_to_video",
            "model": "kling",
            "params": {"duration": 5},
            "enabled": False,
            "retry_count": 2,
        }
    )
    assert full.step_type is StepType.IMAGE_TO_VIDEO
    assert (full.params, full.enabled, full.retry_count) == ({"duration": 5}, False, 2)


def test_pipeline_step_from_dict_errors() -> None:
    with pytest.raises(ValueError):
        PipelineStep.from_dict({"type": "text_to_imagez", "model": "flux_dev"})
    with pytest.raises(KeyError):
        PipelineStep.from_dict({"type": "text_to_image"})
    with pytest.raises(KeyError):  # a group needs its (dummy) model too
        PipelineStep.from_dict({"type": "parallel_group", "params": {"parallel_steps": []}})
    with pytest.raises(KeyError):
        PipelineStep.from_dict({"model": "flux_dev"})


def test_pipeline_step_to_dict_exact_keys() -> None:
    s = PipelineStep(StepType.TEXT_TO_SPEECH, "elevenlabs", {"voice": "Rachel"}, False, 1)
    assert s.to_dict() == {
        "type": "text_to_speech",
        "model": "elevenlabs",
        "params": {"voice": "Rachel"},
        "enabled": False,
        "retry_count": 1,
    }
    assert list(s.to_dict()) == ["type", "model", "params", "enabled", "retry_count"]
    assert PipelineStep.from_dict(s.to_dict()) == s


def test_chain_result_fields() -> None:
    assert field_spec(ChainResult) == [
        ("success", EMPTY),
        ("steps_completed", EMPTY),
        ("total_steps", EMPTY),
        ("total_cost", EMPTY),
        ("total_time", EMPTY),
        ("outputs", EMPTY),
        ("error", None),
        ("step_results", None),
    ]


# ---------------------------------------------------------------------------------------------
# 2.4 ContentCreationChain
# ---------------------------------------------------------------------------------------------


def test_chain_constructor_signature_and_defaults() -> None:
    assert names_and_defaults(ContentCreationChain.__init__) == [
        ("self", EMPTY),
        ("name", EMPTY),
        ("steps", EMPTY),
        ("config", None),
    ]
    chain = ContentCreationChain("c", [PipelineStep(StepType.TEXT_TO_IMAGE, "flux_dev", {})])
    assert chain.config == {}
    assert chain.output_dir == "output"
    assert chain.temp_dir == "temp"
    assert chain.cleanup_temp is True
    assert chain.save_intermediates is False
    assert chain.input_type == "auto"


def test_from_config_defaults_and_extra_keys() -> None:
    chain = ContentCreationChain.from_config(
        {"steps": [step("text_to_image", "flux_dev")], "prompt": "p", "custom": {"a": 1}}
    )
    assert chain.name == "unnamed_chain"
    assert chain.config == {"prompt": "p", "custom": {"a": 1}}
    assert (chain.output_dir, chain.temp_dir) == ("output", "temp")
    assert (chain.cleanup_temp, chain.save_intermediates, chain.input_type) == (True, False, "auto")
    with pytest.raises(KeyError):
        ContentCreationChain.from_config({"name": "no_steps"})


def test_from_config_honours_top_level_keys() -> None:
    chain = ContentCreationChain.from_config(
        {
            "name": "n",
            "steps": [step("image_understanding", "gemini_describe")],
            "output_dir": "out",
            "temp_dir": "scratch",
            "cleanup_temp": False,
            "save_intermediates": True,
            "input_type": "image",
        }
    )
    assert (chain.output_dir, chain.temp_dir) == ("out", "scratch")
    assert (chain.cleanup_temp, chain.save_intermediates, chain.input_type) == (
        False,
        True,
        "image",
    )


def test_to_config_round_trip() -> None:
    config = {
        "name": "rt",
        "steps": [
            {
                "type": "text_to_image",
                "model": "flux_dev",
                "params": {},
                "enabled": True,
                "retry_count": 0,
            },
            {
                "type": "image_to_video",
                "model": "kling",
                "params": {"duration": 5},
                "enabled": False,
                "retry_count": 1,
            },
        ],
        "prompt": "x",
        "output_dir": "o",
    }
    chain = ContentCreationChain.from_config(config)
    assert chain.to_config() == config
    assert list(chain.to_config())[:2] == ["name", "steps"]


def test_enabled_steps_and_initial_input_type() -> None:
    chain = ContentCreationChain.from_config(
        {
            "steps": [
                {"type": "text_to_image", "model": "flux_dev", "enabled": False},
                step("image_to_video", "kling"),
            ]
        }
    )
    assert [s.step_type for s in chain.get_enabled_steps()] == [StepType.IMAGE_TO_VIDEO]
    assert chain.get_initial_input_type() == "image"
    assert chain._determine_initial_input_type() == "image"
    explicit = ContentCreationChain.from_config(
        {"steps": [step("image_to_video", "kling")], "input_type": "text"}
    )
    assert explicit.get_initial_input_type() == "text"
    assert ContentCreationChain("e", []).get_initial_input_type() == "text"


def test_step_io_helpers() -> None:
    chain = ContentCreationChain("x", [])
    assert chain._get_step_input_type(StepType.TEXT_TO_IMAGE) == "text"
    assert chain._get_step_output_type(StepType.TEXT_TO_IMAGE) == "image"
    assert chain._get_step_output_type(StepType.TEXT_TO_SPEECH) == "audio"
    assert chain._get_step_input_type(StepType.IMAGE_UNDERSTANDING) == "image"
    assert chain._get_step_output_type(StepType.IMAGE_UNDERSTANDING) == "text"


def test_validate_verbatim_messages() -> None:
    assert ContentCreationChain("empty", []).validate() == ["Chain must have at least one step"]
    first = ContentCreationChain.from_config(
        {"steps": [step("image_understanding", "gemini_describe")], "input_type": "text"}
    )
    assert first.validate() == ["First step expects image input, but pipeline starts with text"]
    second = ContentCreationChain.from_config(
        {"steps": [step("text_to_image", "flux_dev"), step("add_audio", "thinksound")]}
    )
    assert second.validate() == ["Step 2 expects video but available data is image"]
    ok = ContentCreationChain.from_config(
        {
            "steps": [
                step("text_to_image", "flux_dev"),
                step("prompt_generation", "openrouter_video_prompt"),
                step("image_to_video", "kling"),
            ]
        }
    )
    assert ok.validate() == []


def test_validate_skips_disabled_steps() -> None:
    chain = ContentCreationChain.from_config(
        {
            "steps": [
                step("text_to_image", "flux_dev"),
                {"type": "add_audio", "model": "thinksound", "enabled": False},
                step("image_to_video", "kling"),
            ]
        }
    )
    assert chain.validate() == []


def test_estimate_cost_and_time() -> None:
    chain = ContentCreationChain.from_config(
        {
            "steps": [
                step("text_to_image", "flux_dev"),  # 0.003 / 15
                {"type": "image_to_video", "model": "veo3", "enabled": False},  # not counted
                step("image_to_image", "photon_flash"),  # 0.02 / 8
                step("image_to_video", "kling"),  # 0.10 / 90
            ]
        }
    )
    assert chain.estimate_cost() == pytest.approx(0.003 + 0.02 + 0.10)
    assert chain.estimate_time() == pytest.approx(15 + 8 + 90)
    missing = ContentCreationChain.from_config({"steps": [step("text_to_image", "dalle3")]})
    assert missing.estimate_cost() == 0.0
    assert missing.estimate_time() == 60.0
    group = ContentCreationChain.from_config(
        {
            "steps": [
                step(
                    "parallel_group",
                    "parallel",
                    parallel_steps=[
                        step("text_to_image", "flux_dev"),
                        step("text_to_image", "imagen4"),
                    ],
                )
            ]
        }
    )
    assert group.estimate_cost() == pytest.approx(0.003 + 0.004)
    assert group.estimate_time() == pytest.approx(15 + 20)


# ---------------------------------------------------------------------------------------------
# 2.5 ChainExecutor
# ---------------------------------------------------------------------------------------------


class RaisingGenerator:
    def generate(self, request: GenerationRequest) -> GenerationResult:
        raise RuntimeError("generator exploded")


class SilentFailure:
    def generate(self, request: GenerationRequest) -> GenerationResult:
        return GenerationResult(success=False, cost=0.01)


class OptionsRecorder:
    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.options.append(dict(request.options))
        return GenerationResult(success=True, output_text="ok")


def test_executor_attributes(tmp_path: Path) -> None:
    executor = ChainExecutor(FileManager(str(tmp_path)))
    for attr in (
        "file_manager",
        "text_to_image",
        "image_understanding",
        "prompt_generation",
        "image_to_image",
        "image_to_video",
        "text_to_speech",
        "replicate_multitalk",
        "_parallel_extension",
    ):
        assert hasattr(executor, attr), attr
    for method in (
        "_create_execution_report",
        "_save_execution_report",
        "_create_intermediate_report",
        "_save_intermediate_report",
        "_get_step_output_type",
    ):
        assert callable(getattr(executor, method)), method
    assert executor._get_step_output_type(StepType.IMAGE_TO_VIDEO) == "video"
    assert executor._get_step_output_type(StepType.PROMPT_GENERATION) == "image"


def test_executor_scheduler_clock_and_close(tmp_path: Path) -> None:
    """The flag is off (fixture): the core's sequential scheduler, on the real clock."""
    from ai_content_pipeline.clock import RealClock, VirtualClock
    from ai_content_pipeline.pipeline.executor import SchedulerInfo

    executor = ChainExecutor(FileManager(str(tmp_path)))
    assert isinstance(executor.clock, RealClock)
    assert executor.scheduler_name == "sequential"
    info = executor.scheduler_info
    assert isinstance(info, SchedulerInfo)
    assert (info.name, info.concurrent, info.clock, info.flag_enabled) == (
        "sequential",
        False,
        "real",
        False,
    )
    assert [f.name for f in dataclasses.fields(SchedulerInfo)] == [
        "name",
        "concurrent",
        "clock",
        "flag_enabled",
        "extension_loaded",
    ]
    assert executor.schedule_trace is None  # nothing is collected unless asked
    executor.close()
    executor.close()  # idempotent
    virtual = VirtualClock()
    pinned = ChainExecutor(FileManager(str(tmp_path)), clock=virtual, scheduler="sequential")
    assert pinned.clock is virtual and pinned.scheduler_info.clock == "virtual"
    pinned.close()
    manager = AIPipelineManager(base_dir=str(tmp_path), clock=virtual, scheduler="sequential")
    assert manager.executor.clock is virtual  # the manager forwards both keywords
    assert manager.executor.scheduler_name == "sequential"


def test_generation_request_carries_a_clock() -> None:
    from ai_content_pipeline.clock import RealClock

    names = [f.name for f in dataclasses.fields(GenerationRequest)]
    assert names == [
        "step_type",
        "model",
        "input_data",
        "input_type",
        "params",
        "output_dir",
        "label",
        "options",
        "cancelled",
        "clock",
    ]
    request = GenerationRequest("text_to_image", "flux_dev", "x", "text", {}, Path("."), "step1")
    assert isinstance(request.clock, RealClock)
    assert not request.cancelled.is_set()


def test_executor_signatures() -> None:
    init = params_of(ChainExecutor.__init__)
    assert [p[0] for p in init[:2]] == ["self", "file_manager"]
    assert all(default is not EMPTY for _, default, _ in init[2:]), "extra args need defaults"
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    assert init[2:] == [
        ("generators", None, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("clock", None, keyword_only),
        ("scheduler", None, keyword_only),
    ]
    assert params_of(ChainExecutor.execute) == [
        ("self", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("chain", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("input_data", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("kwargs", EMPTY, inspect.Parameter.VAR_KEYWORD),
    ]
    assert params_of(ChainExecutor._execute_step) == [
        ("self", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("step", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("input_data", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("input_type", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("chain_config", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("step_context", None, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("kwargs", EMPTY, inspect.Parameter.VAR_KEYWORD),
    ]


def _executor_with(tmp_path: Path, **generators: Any) -> ChainExecutor:
    registry = GeneratorRegistry("fake")
    for key, generator in generators.items():
        step_type, _, model = key.partition("__")
        registry.register(step_type, model, generator)
    return ChainExecutor(FileManager(str(tmp_path)), generators=registry)


def test_execute_step_unsupported_step_type_never_raises(tmp_path: Path) -> None:
    executor = _executor_with(tmp_path)  # empty registry: no generator for anything
    result = executor._execute_step(
        PipelineStep(StepType.TEXT_TO_IMAGE, "flux_dev", {}), "a prompt", "text", {}
    )
    assert result["success"] is False
    assert result["error"] == "Unsupported step type: text_to_image"
    assert set(result) >= STEP_RESULT_KEYS


def test_execute_step_generator_raising_becomes_failure(tmp_path: Path) -> None:
    executor = _executor_with(tmp_path, text_to_image__flux_dev=RaisingGenerator())
    result = executor._execute_step(
        PipelineStep(StepType.TEXT_TO_IMAGE, "flux_dev", {}), "a prompt", "text", {}, {}
    )
    assert result["success"] is False
    assert result["error"] == "Step execution failed: generator exploded"
    assert result["model"] == "flux_dev"
    assert set(result) >= STEP_RESULT_KEYS


def test_execute_step_forwards_kwargs(tmp_path: Path) -> None:
    recorder = OptionsRecorder()
    executor = _executor_with(tmp_path, image_understanding__gemini_describe=recorder)
    result = executor._execute_step(
        PipelineStep(StepType.IMAGE_UNDERSTANDING, "gemini_describe", {}),
        "img.png",
        "image",
        {},
        step_context={},
        api_hint="xyz",
    )
    assert result["success"] is True
    assert recorder.options == [{"api_hint": "xyz"}]


def test_execute_step_result_keys_and_subtitle_path(tmp_path: Path) -> None:
    executor = ChainExecutor(FileManager(str(tmp_path)), generators=build_registry("stub"))
    image = executor._execute_step(
        PipelineStep(StepType.TEXT_TO_IMAGE, "flux_schnell", {}), "a fox", "text", {}, {}
    )
    assert image["success"] is True
    assert set(image) >= STEP_RESULT_KEYS
    video = tmp_path / "in.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 16)
    subs = executor._execute_step(
        PipelineStep(StepType.GENERATE_SUBTITLES, "any", {"subtitle_text": "hello there"}),
        str(video),
        "video",
        {},
        {},
    )
    assert subs["success"] is True, subs["error"]
    assert Path(subs["subtitle_path"]).suffix == ".srt"


def test_execute_unknown_error_message(tmp_path: Path) -> None:
    executor = _executor_with(tmp_path, text_to_image__flux_dev=SilentFailure())
    chain = ContentCreationChain.from_config(
        {"name": "u", "steps": [step("text_to_image", "flux_dev")]}
    )
    result = executor.execute(chain, "a prompt")
    assert result.success is False
    assert result.error == "Step 1 failed: Unknown error"
    assert result.total_cost == pytest.approx(0.01)


# ---------------------------------------------------------------------------------------------
# 2.6 AIPipelineManager
# ---------------------------------------------------------------------------------------------


def test_manager_attributes(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    assert Path(manager.base_dir) == tmp_path
    assert Path(manager.output_dir) == tmp_path / "output"
    assert Path(manager.temp_dir) == tmp_path / "output" / "temp"
    assert isinstance(manager.file_manager, FileManager)
    assert isinstance(manager.executor, ChainExecutor)
    for attr in ("text_to_image", "image_understanding", "prompt_generation", "image_to_image"):
        assert getattr(manager, attr) is not None, attr
    assert names_and_defaults(AIPipelineManager.__init__)[:2] == [
        ("self", EMPTY),
        ("base_dir", None),
    ]
    assert params_of(AIPipelineManager.__init__)[2:] == [
        ("generators", None, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("clock", None, inspect.Parameter.KEYWORD_ONLY),
        ("scheduler", None, inspect.Parameter.KEYWORD_ONLY),
        ("create_dirs", True, inspect.Parameter.KEYWORD_ONLY),
    ]


def test_manager_default_base_dir_is_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Path(AIPipelineManager().base_dir).resolve() == tmp_path.resolve()


def test_manager_method_signatures() -> None:
    assert names_and_defaults(AIPipelineManager.create_chain_from_config) == [
        ("self", EMPTY),
        ("config_path", EMPTY),
    ]
    assert names_and_defaults(AIPipelineManager.create_simple_chain) == [
        ("self", EMPTY),
        ("steps", EMPTY),
        ("models", None),
        ("name", "simple_chain"),
    ]
    assert params_of(AIPipelineManager.execute_chain)[:3] == [
        ("self", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("chain", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("input_data", EMPTY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]
    assert params_of(AIPipelineManager.execute_chain)[-1][2] is inspect.Parameter.VAR_KEYWORD
    assert names_and_defaults(AIPipelineManager.quick_create_video) == [
        ("self", EMPTY),
        ("text", EMPTY),
        ("image_model", "auto"),
        ("video_model", "auto"),
        ("output_dir", None),
    ]
    assert names_and_defaults(AIPipelineManager.create_example_configs) == [
        ("self", EMPTY),
        ("output_dir", None),
    ]
    for method in ("estimate_chain_cost", "get_available_models", "cleanup_temp_files"):
        assert callable(getattr(AIPipelineManager, method))


def test_create_chain_from_config_errors(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    txt = tmp_path / "chain.txt"
    txt.write_text("steps: []\n")
    with pytest.raises(ValueError, match=r"^Unsupported configuration format: "):
        manager.create_chain_from_config(str(txt))
    with pytest.raises(FileNotFoundError, match=r"^Configuration file not found: "):
        manager.create_chain_from_config(str(tmp_path / "missing.yaml"))
    for suffix in (".yaml", ".yml", ".json"):
        path = tmp_path / f"ok{suffix}"
        path.write_text('{"name": "ok", "steps": [{"type": "text_to_image", "model": "flux_dev"}]}')
        assert manager.create_chain_from_config(str(path)).name == "ok"


def test_create_simple_chain(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    chain = manager.create_simple_chain(["text_to_image", "image_to_video"])
    assert chain.name == "simple_chain"
    assert [(s.step_type, s.model) for s in chain.steps] == [
        (StepType.TEXT_TO_IMAGE, constants.SUPPORTED_MODELS["text_to_image"][0]),
        (StepType.IMAGE_TO_VIDEO, constants.SUPPORTED_MODELS["image_to_video"][0]),
    ]
    custom = manager.create_simple_chain(["text_to_image"], {"text_to_image": "imagen4"}, "mine")
    assert (custom.name, custom.steps[0].model) == ("mine", "imagen4")
    with pytest.raises(ValueError, match=r"^Unsupported step type: not_a_step"):
        manager.create_simple_chain(["not_a_step"])
    with pytest.raises(ValueError, match=r"^No models available for step type: generate_subtitles"):
        manager.create_simple_chain(["generate_subtitles"])


def test_execute_chain_invalid_chain(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    chain = ContentCreationChain.from_config(
        {
            "name": "bad",
            "steps": [
                step("text_to_image", "flux_dev"),
                {"type": "text_to_image", "model": "flux_dev", "enabled": False},
                step("add_audio", "thinksound"),
            ],
        }
    )
    errors = chain.validate()
    assert errors
    result = manager.execute_chain(chain, "a prompt")
    assert result.success is False
    assert result.total_steps == 3  # all steps, disabled included
    assert (result.steps_completed, result.total_cost, result.total_time) == (0, 0.0, 0.0)
    assert result.outputs == {}
    assert result.error == "Chain validation failed: " + "; ".join(errors)
    # The manager made its established folders; the invalid chain wrote nothing into them.
    assert [p for p in (tmp_path / "output").rglob("*")] == []


def test_execute_chain_exception_becomes_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(manager.executor, "execute", boom)
    chain = ContentCreationChain.from_config({"steps": [step("text_to_image", "flux_dev")]})
    result = manager.execute_chain(chain, "p")
    assert result.success is False
    assert result.error == "Execution failed: kaput"


def test_estimate_chain_cost_prices_every_enabled_step(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    chain = ContentCreationChain.from_config(
        {
            "steps": [
                step(
                    "parallel_group",
                    "parallel",
                    parallel_steps=[
                        step("text_to_image", "flux_dev"),
                        step("text_to_image", "imagen4"),
                        {"type": "text_to_image", "model": "gen4", "enabled": False},
                    ],
                ),
                step("image_to_image", "photon_base"),
                {"type": "image_to_video", "model": "veo3", "enabled": False},
                step("image_to_video", "kling"),
            ]
        }
    )
    estimate = manager.estimate_chain_cost(chain)
    assert {"total_cost", "step_costs", "currency"} <= set(estimate)
    assert estimate["currency"] == "USD"
    rows = estimate["step_costs"]
    assert [(r["step"], r["model"]) for r in rows] == [
        ("parallel_group", "parallel"),
        ("image_to_image", "photon_base"),
        ("image_to_video", "kling"),
    ]
    for row in rows:
        assert {"step", "model", "cost"} <= set(row)
    assert rows[0]["cost"] == pytest.approx(0.003 + 0.004)
    assert rows[1]["cost"] == pytest.approx(0.03)
    assert rows[2]["cost"] == pytest.approx(0.10)
    assert estimate["total_cost"] == pytest.approx(0.003 + 0.004 + 0.03 + 0.10)
    assert estimate["total_cost"] == pytest.approx(chain.estimate_cost())


def test_get_available_models(tmp_path: Path) -> None:
    models = AIPipelineManager(base_dir=str(tmp_path)).get_available_models()
    assert isinstance(models, dict)
    for step_type, names in constants.SUPPORTED_MODELS.items():
        assert models[step_type] == names
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in models.values())


def test_create_example_configs_validate(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    target = tmp_path / "examples"
    manager.create_example_configs(str(target))
    names = sorted(p.name for p in target.iterdir())
    assert {"simple_chain.yaml", "full_chain.yaml"} <= set(names)
    for name in ("simple_chain.yaml", "full_chain.yaml"):
        chain = manager.create_chain_from_config(str(target / name))
        assert chain.steps
        assert chain.validate() == [], name


def test_quick_create_video(tmp_path: Path) -> None:
    manager = AIPipelineManager(base_dir=str(tmp_path))
    result = manager.quick_create_video("a lighthouse")
    assert result.success is True, result.error
    assert list(result.outputs) == ["step_1_text_to_image", "step_2_image_to_video"]
    reports = list(
        (tmp_path / "output" / "reports").glob("quick_video_creation_exec_*_report.json")
    )
    assert len(reports) == 1


# ---------------------------------------------------------------------------------------------
# 2.7 FileManager
# ---------------------------------------------------------------------------------------------


def test_file_manager_signatures_and_attributes(tmp_path: Path) -> None:
    assert names_and_defaults(FileManager.__init__) == [
        ("self", EMPTY),
        ("base_dir", None),
        ("create_dirs", True),
    ]
    expected = {
        "create_temp_file": [("suffix", ""), ("prefix", "pipeline_")],
        "create_output_path": [("filename", EMPTY), ("step_name", None), ("create_dirs", True)],
        "generate_unique_filename": [
            ("base_name", EMPTY),
            ("extension", EMPTY),
            ("content_hash", None),
        ],
        "hash_content": [("content", EMPTY)],
        "copy_file": [("src", EMPTY), ("dst", EMPTY)],
        "move_file": [("src", EMPTY), ("dst", EMPTY)],
        "validate_file_format": [("file_path", EMPTY), ("allowed_formats", EMPTY)],
        "get_file_info": [("file_path", EMPTY)],
        "organize_outputs": [("results", EMPTY), ("chain_name", None)],
        "cleanup_temp_files": [],
        "get_storage_usage": [],
    }
    manager = FileManager(str(tmp_path))
    for name, params in expected.items():
        method = inspect.getattr_static(FileManager, name)
        assert inspect.isfunction(method), f"{name} must stay an instance method"
        assert names_and_defaults(getattr(manager, name)) == params, name
    assert Path(manager.output_dir) == tmp_path / "output"
    assert Path(manager.temp_dir) == tmp_path / "temp"
    assert Path(manager.input_dir) == tmp_path / "input"
    assert manager.temp_files == []
    for folder in ("output", "temp", "input"):  # created on construction, as established
        assert (tmp_path / folder).is_dir(), folder


def test_file_manager_naming_and_hash(tmp_path: Path) -> None:
    manager = FileManager(str(tmp_path))
    assert manager.generate_unique_filename("img", "png", "abcdef0123456789") == "img_abcdef01.png"
    assert manager.hash_content(b"abc") == hashlib.sha256(b"abc").hexdigest()
    info = manager.get_file_info(__file__)
    assert {"exists", "size", "size_mb", "modified", "extension", "name", "stem"} <= set(info)


# ---------------------------------------------------------------------------------------------
# 2.8 result dataclasses, 2.8a generators and validators
# ---------------------------------------------------------------------------------------------


def test_result_dataclass_fields() -> None:
    from ai_content_pipeline.models import ModelResult
    from ai_content_pipeline.models.image_to_image import ImageToImageResult
    from ai_content_pipeline.models.image_understanding import ImageUnderstandingResult
    from ai_content_pipeline.models.prompt_generation import PromptGenerationResult

    assert field_spec(ModelResult) == [
        ("success", EMPTY),
        ("model_used", EMPTY),
        ("processing_time", EMPTY),
        ("cost_estimate", EMPTY),
        ("output_path", None),
        ("output_url", None),
        ("metadata", None),
        ("error", None),
    ]
    tail = [
        ("model_used", None),
        ("cost_estimate", 0.0),
        ("processing_time", 0.0),
        ("error", None),
        ("metadata", None),
    ]
    assert field_spec(ImageUnderstandingResult) == [
        ("success", EMPTY),
        ("output_text", None),
        *tail,
    ]
    assert field_spec(PromptGenerationResult) == [
        ("success", EMPTY),
        ("output_text", None),
        ("extracted_prompt", None),
        *tail,
    ]
    assert field_spec(ImageToImageResult) == [
        ("success", EMPTY),
        ("output_path", None),
        ("output_url", None),
        *tail,
    ]


def test_base_content_model_is_abstract() -> None:
    from ai_content_pipeline.models.base import BaseContentModel

    assert BaseContentModel.__abstractmethods__ == {
        "generate",
        "get_available_models",
        "estimate_cost",
        "validate_input",
    }
    with pytest.raises(TypeError):
        BaseContentModel("text_to_image")  # type: ignore[abstract]
    assert names_and_defaults(BaseContentModel.__init__) == [("self", EMPTY), ("model_type", EMPTY)]
    assert names_and_defaults(BaseContentModel.recommend_model) == [
        ("self", EMPTY),
        ("criteria", "balanced"),
        ("budget", None),
    ]
    assert [n for n, _ in names_and_defaults(BaseContentModel.generate)][:3] == [
        "self",
        "input_data",
        "model",
    ]
    assert [n for n, _ in names_and_defaults(BaseContentModel.estimate_cost)][:2] == [
        "self",
        "model",
    ]
    assert [n for n, _ in names_and_defaults(BaseContentModel.validate_input)][:3] == [
        "self",
        "input_data",
        "model",
    ]


GENERATOR_CLASSES = [
    ("text_to_image", "UnifiedTextToImageGenerator", "text_to_image"),
    ("image_understanding", "UnifiedImageUnderstandingGenerator", "image_understanding"),
    ("prompt_generation", "UnifiedPromptGenerator", "prompt_generation"),
    ("image_to_image", "UnifiedImageToImageGenerator", "image_to_image"),
    ("image_to_video", "UnifiedImageToVideoGenerator", "image_to_video"),
    ("text_to_speech", "UnifiedTextToSpeechGenerator", "text_to_speech"),
    ("avatar", "ReplicateMultiTalkGenerator", "replicate_multitalk"),
]


@pytest.mark.parametrize(("module", "name", "model_type"), GENERATOR_CLASSES)
def test_generator_classes(module: str, name: str, model_type: str) -> None:
    from ai_content_pipeline.models.base import BaseContentModel

    cls = getattr(importlib.import_module(f"ai_content_pipeline.models.{module}"), name)
    instance = cls()  # no key, no network
    assert isinstance(instance, BaseContentModel)
    assert instance.model_type == model_type


def test_validators_return_tuples(tmp_path: Path) -> None:
    from ai_content_pipeline.utils import validators as v

    existing = tmp_path / "a.png"
    existing.write_bytes(b"x")
    ok_cases = [
        v.validate_prompt("hello"),
        v.validate_file_path(str(existing)),
        v.validate_url("https://example.com/x.png"),
        v.validate_aspect_ratio("16:9"),
        v.validate_model_name("auto", []),
        v.validate_model_name("flux_dev", ["flux_dev"]),
        v.validate_output_directory(str(tmp_path / "new")),
        v.validate_file_size(str(existing), 1),
        v.validate_file_format(str(existing), [".png"]),
        v.validate_numeric_range(5, 1, 10),
    ]
    for result in ok_cases:
        assert result == (True, "")
    bad_cases = [
        v.validate_prompt(""),
        v.validate_prompt("x" * 11, max_length=10),
        v.validate_file_path(str(tmp_path / "nope.png")),
        v.validate_url("ftp://example.com/x"),
        v.validate_aspect_ratio("2:1"),
        v.validate_model_name("nope", ["flux_dev"]),
        v.validate_file_format(str(existing), [".jpg"]),
        v.validate_numeric_range(11, 1, 10, "steps"),
    ]
    for result in bad_cases:
        assert isinstance(result, tuple) and len(result) == 2
        assert result[0] is False and isinstance(result[1], str) and result[1]
    for ratio in ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"):
        assert v.validate_aspect_ratio(ratio) == (True, "")
    assert v.validate_chain_config({"steps": [{"type": "text_to_image", "model": "flux_dev"}]}) == (
        True,
        [],
    )
    ok, errors = v.validate_chain_config({"name": "x"})
    assert ok is False and isinstance(errors, list) and errors


# ---------------------------------------------------------------------------------------------
# 6 constants (spot checks)
# ---------------------------------------------------------------------------------------------


def test_constants_spot_checks() -> None:
    assert [m.value for m in StepType][:8] == constants.PIPELINE_STEPS
    assert constants.COST_ESTIMATES["image_to_video"]["veo3"] == 3.00
    assert constants.COST_ESTIMATES["text_to_image"]["gen4"] == 0.08
    assert constants.PROCESSING_TIME_ESTIMATES["upscale_video"]["topaz"] == 120
    assert "seedream3" not in constants.PROCESSING_TIME_ESTIMATES["text_to_image"]
    assert constants.MODEL_RECOMMENDATIONS["image_to_video"]["balanced"] == "veo3_fast"
    assert constants.SUPPORTED_FORMATS["image"] == [".jpg", ".jpeg", ".png", ".webp"]
    assert constants.SUPPORTED_FORMATS["video"] == [".mp4", ".mov", ".avi", ".webm"]
    assert constants.DEFAULT_CHAIN_CONFIG == {
        "steps": [
            {
                "type": "text_to_image",
                "model": "flux_dev",
                "params": {"aspect_ratio": "16:9", "style": "cinematic"},
            },
            {
                "type": "image_to_video",
                "model": "veo3",
                "params": {"duration": 8, "motion_level": "medium"},
            },
        ],
        "output_dir": "output",
        "temp_dir": "temp",
        "cleanup_temp": True,
    }


# ---------------------------------------------------------------------------------------------
# 2.9 parallel extension import path
# ---------------------------------------------------------------------------------------------


@pytest.mark.requires_parallel
def test_parallel_extension_reexports() -> None:
    import parallel

    module = importlib.import_module("ai_content_pipeline.pipeline.parallel_extension")
    assert module.MergeStrategy is parallel.MergeStrategy
    assert module.ParallelExtension is parallel.ParallelExtension
    assert [(m.name, m.value) for m in module.MergeStrategy] == [
        ("COLLECT_ALL", "collect_all"),
        ("FIRST_SUCCESS", "first_success"),
        ("BEST_QUALITY", "best_quality"),
    ]
    ext_cls = module.ParallelExtension
    assert names_and_defaults(ext_cls.__init__) == [("self", EMPTY), ("base_executor", EMPTY)]
    assert names_and_defaults(ext_cls.is_parallel_step) == [("self", EMPTY), ("step_data", EMPTY)]
    assert names_and_defaults(ext_cls.can_execute_parallel) == [("self", EMPTY), ("step", EMPTY)]
    assert [n for n, _ in names_and_defaults(ext_cls.execute_parallel_group)] == [
        "self",
        "step",
        "input_data",
        "input_type",
        "chain_config",
        "step_context",
    ]
    ext = ext_cls(object())
    assert hasattr(ext, "enabled")
    assert ext.is_parallel_step({"type": "parallel_group"}) is True
    assert ext.is_parallel_step({"type": "text_to_image"}) is False


def test_parallel_extension_import_error_when_blocked(parallel_blocked: object) -> None:
    with pytest.raises(ImportError):
        importlib.import_module("parallel")
    with pytest.raises(ImportError):
        importlib.import_module("ai_content_pipeline.pipeline.parallel_extension")


# ---------------------------------------------------------------------------------------------
# §8 #18: importing has no side effects; a .env in cwd does not flip the flag
# ---------------------------------------------------------------------------------------------


def test_dotenv_in_cwd_does_not_change_flag_on_import(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / ".env").write_text("PIPELINE_PARALLEL_ENABLED=true\nAICP_SENTINEL=from_dotenv\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIPELINE_PARALLEL_ENABLED", "AICP_SENTINEL")
    }
    env["PYTHONPATH"] = str(REPO)
    env["HOME"] = str(tmp_path / "home")
    script = textwrap.dedent(
        """
        import os
        import ai_content_pipeline
        from ai_content_pipeline.config.features import FeatureFlags
        from ai_content_pipeline.pipeline.executor import ChainExecutor
        from ai_content_pipeline.utils.file_manager import FileManager
        executor = ChainExecutor(FileManager(".", create_dirs=False))
        print(os.environ.get("PIPELINE_PARALLEL_ENABLED", "<unset>"))
        print(os.environ.get("AICP_SENTINEL", "<unset>"))
        print(FeatureFlags.is_parallel_execution_enabled())
        print(executor.scheduler_name)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["<unset>", "<unset>", "False", "sequential"]
