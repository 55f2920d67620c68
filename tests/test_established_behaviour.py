"""What code written against the established release does, and still gets.

Each test is a call an existing user's code makes, with the result the established release
gave: reprs, generator helpers, the report methods called (and overridden) with their
established signatures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.config.constants import COST_ESTIMATES, SUPPORTED_MODELS
from ai_content_pipeline.models.avatar import ReplicateMultiTalkGenerator
from ai_content_pipeline.models.base import BaseContentModel
from ai_content_pipeline.models.text_to_image import UnifiedTextToImageGenerator
from ai_content_pipeline.pipeline.chain import ContentCreationChain, PipelineStep, StepType
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.utils.file_manager import FileManager


@pytest.fixture(autouse=True)
def _sequential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "false")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _chain(name: str = "demo", **config: Any) -> ContentCreationChain:
    return ContentCreationChain(
        name=name,
        steps=[
            PipelineStep(StepType.TEXT_TO_IMAGE, "flux_schnell", {}),
            PipelineStep(StepType.IMAGE_TO_VIDEO, "hailuo", {}, enabled=False),
        ],
        config=config,
    )


def test_chain_repr_and_attributes() -> None:
    chain = _chain(output_dir="out", save_intermediates=True)
    assert repr(chain) == "ContentCreationChain(name='demo', steps=1/2)"
    assert (chain.output_dir, chain.temp_dir, chain.cleanup_temp) == ("out", "temp", True)
    assert (chain.save_intermediates, chain.input_type) == (True, "auto")


def test_manager_repr_counts_every_available_model(tmp_path: Path) -> None:
    manager = AIPipelineManager(str(tmp_path))
    total = sum(len(m) for m in manager.get_available_models().values())
    assert total > len(SUPPORTED_MODELS)
    assert repr(manager) == f"AIPipelineManager(base_dir='{tmp_path}', models={total})"


def test_text_to_image_model_info_and_comparison() -> None:
    generator = UnifiedTextToImageGenerator()
    assert isinstance(generator, BaseContentModel) and generator.start_time is None
    info = generator.get_model_info("flux_dev")
    assert info == {
        "name": "FLUX.1 Dev",
        "provider": "FAL AI",
        "description": "High-quality 12B parameter model",
        "best_for": "Quality, artistic content",
        "cost_per_image": "$0.003",
        "avg_time": "15 seconds",
    }
    assert generator.get_model_info("veo3") == {}  # not a text_to_image model
    compared = generator.compare_models("a fox", ["flux_schnell", "veo3"])
    assert (
        compared["flux_schnell"]["estimated_cost"]
        == COST_ESTIMATES["text_to_image"]["flux_schnell"]
    )
    assert compared["flux_schnell"]["available"] is True
    assert compared["veo3"]["available"] is False
    assert list(generator.compare_models("a fox")) == SUPPORTED_MODELS["text_to_image"]


def test_multitalk_takes_a_file_manager_first(tmp_path: Path) -> None:
    files = FileManager(str(tmp_path))
    generator = ReplicateMultiTalkGenerator(files, verbose=True)
    assert generator.file_manager is files and generator.generator is None
    assert isinstance(generator, BaseContentModel)
    assert ReplicateMultiTalkGenerator().file_manager is None
    assert generator.get_available_models() == ["multitalk"]


def _executor(tmp_path: Path) -> ChainExecutor:
    return ChainExecutor(FileManager(str(tmp_path)))


def test_report_methods_work_when_called_on_their_own(tmp_path: Path) -> None:
    executor = _executor(tmp_path)
    chain = _chain()
    report = executor._create_execution_report(
        chain, "a fox", [], {}, 0.0, 1.5, success=False, error="stopped"
    )
    summary = report["execution_summary"]
    assert summary["chain_name"] == "demo" and summary["execution_id"].startswith("exec_")
    written = executor._save_execution_report(report, {"output_dir": "reports_here"})
    assert written is not None and Path(written).is_file()
    assert Path(written).parent == tmp_path / "reports_here" / "reports"
    assert json.loads(Path(written).read_text())["execution_summary"]["chain_name"] == "demo"

    step = executor._create_intermediate_report(chain, "a fox", [], {}, 0.25, 1, 1)
    assert step["execution_summary"]["total_cost_usd"] == 0.25
    saved = executor._save_intermediate_report(step, {"output_dir": "reports_here"}, 1)
    assert saved is not None and Path(saved).name.startswith("demo_step1_intermediate_")
    executor.close()


def test_an_override_of_a_report_method_is_called_by_execute(tmp_path: Path) -> None:
    """Users subclass the executor and hook the established report methods."""
    seen: list[tuple[str, Any]] = []

    class Audited(ChainExecutor):
        def _save_execution_report(
            self, report: dict[str, Any], chain_config: dict[str, Any]
        ) -> str | None:
            seen.append(("final", chain_config.get("output_dir")))
            return super()._save_execution_report(report, chain_config)

        def _save_intermediate_report(
            self, report: dict[str, Any], config: dict[str, Any], step_number: int
        ) -> str | None:
            seen.append(("step", step_number))
            return super()._save_intermediate_report(report, config, step_number)

    executor = Audited(FileManager(str(tmp_path)))
    result = executor.execute(_chain(output_dir="o", save_intermediates=True), "a fox")
    executor.close()
    assert result.success
    assert seen == [("step", 1), ("final", "o")]
    reports = sorted(p.name for p in (tmp_path / "o" / "reports").iterdir())
    assert len(reports) == 2
    final = next(name for name in reports if name.endswith("_report.json"))
    step_file = next(name for name in reports if "_intermediate_" in name)
    # One run, one id: the step report and the final report carry the same token.
    token = final.removeprefix("demo_exec_").removesuffix("_report.json")
    assert step_file == f"demo_step1_intermediate_{token}.json"
