"""Execution and intermediate reports (spec §7) and the atomic writer (spec §8 #6)."""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.errors import PipelineError, ReportWriteError
from ai_content_pipeline.pipeline.reports import (
    build_execution_report,
    build_intermediate_report,
    execution_report_path,
    intermediate_report_path,
    write_report,
)


@dataclass
class FakeChain:
    """Just the surface the builders use: `name`, `config`, `to_config()`."""

    name: str = "demo_chain"
    config: dict[str, Any] = field(default_factory=lambda: {"output_dir": "output"})

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "steps": [{"type": "text_to_image"}], **self.config}


def t2i_success() -> dict[str, Any]:
    return {
        "success": True,
        "output_path": "output/step1_abc.png",
        "output_url": "https://example.test/img.png",
        "output_text": None,
        "extracted_prompt": None,
        "processing_time": 1.23456,
        "cost": 0.003,
        "model": "flux_dev",
        "metadata": {"seed": 1},
        "error": None,
        "step_number": 1,
        "step_type": "text_to_image",
        "step_name": "step_1_text_to_image",
        "params": {"aspect_ratio": "16:9"},
        "input_data": "a cat",
    }


def prompt_success() -> dict[str, Any]:
    return {
        "success": True,
        "output_path": None,
        "output_url": None,
        "output_text": "Full analysis of the image",
        "extracted_prompt": "slow dolly shot of a cat",
        "processing_time": 0.5,
        "cost": 0.002,
        "model": "openrouter_video_cinematic",
        "metadata": {},
        "error": None,
        "step_number": 2,
        "step_type": "prompt_generation",
        "step_name": "step_2_prompt_generation",
        "params": {"video_style": "cinematic"},
        "input_data": "output/step1_abc.png",
    }


def group_success() -> dict[str, Any]:
    branch_ok = {
        "success": True,
        "output_path": "output/step3_branch1_aaa.png",
        "cost": 0.02,
        "model": "photon_flash",
        "error": None,
    }
    branch_bad = {
        "success": False,
        "output_path": None,
        "cost": 0.04,
        "model": "flux_kontext_multi",
        "error": "boom",
    }
    return {
        "success": True,
        "output_path": "output/step3_branch1_aaa.png",
        "output_url": None,
        "output_text": None,
        "extracted_prompt": None,
        "processing_time": 2.0,
        "cost": 0.06,
        "model": "parallel",
        "metadata": {},
        "error": None,
        "parallel_execution": True,
        "total_parallel_steps": 2,
        "successful_steps": 1,
        "failed_steps": 1,
        "merge_strategy": "collect_all",
        "parallel_results": [
            {
                "step_index": 0,
                "step_type": "image_to_image",
                "model": "photon_flash",
                "result": branch_ok,
            },
            {
                "step_index": 1,
                "step_type": "image_to_image",
                "model": "flux_kontext_multi",
                "result": branch_bad,
            },
        ],
        "step_number": 3,
        "step_type": "parallel_group",
        "step_name": "step_3_parallel_group",
        "params": {"max_workers": 2},
        "input_data": "output/step1_abc.png",
    }


def i2v_failure() -> dict[str, Any]:
    return {
        "success": False,
        "output_path": None,
        "output_url": None,
        "output_text": None,
        "extracted_prompt": None,
        "processing_time": 0.004,
        "cost": 0.08,
        "model": "hailuo",
        "metadata": {},
        "error": "provider timeout",
        "step_number": 4,
        "step_type": "image_to_video",
        "step_name": "step_4_image_to_video",
        "params": {"duration": 6},
        "input_data": "output/step3_branch1_aaa.png",
    }


def all_results() -> list[dict[str, Any]]:
    return [t2i_success(), prompt_success(), group_success(), i2v_failure()]


def outputs_for(results: list[dict[str, Any]]) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for r in results:
        if not r["success"]:
            continue
        entry = {
            "path": r["output_path"],
            "url": r["output_url"],
            "text": r["output_text"],
            "model": r["model"],
            "metadata": r["metadata"],
        }
        if r["step_type"] == "prompt_generation":
            entry["optimized_prompt"] = r["extracted_prompt"]
            entry["full_analysis"] = r["output_text"]
        outputs[r["step_name"]] = entry
    return outputs


def execution_report(**overrides: Any) -> dict[str, Any]:
    results = overrides.pop("step_results", all_results())
    kwargs: dict[str, Any] = {
        "execution_id": "exec_0123456789ab",
        "timestamp": "2024-01-01T00:00:00",
        "input_data": "a cat",
        "input_type": "text",
        "step_results": results,
        "outputs": outputs_for(results),
        "total_cost": sum(r["cost"] for r in results),
        "total_time": 3.738765,
        "success": False,
        "error": "Step 4 failed: provider timeout",
        "total_steps": 5,
    }
    kwargs.update(overrides)
    return build_execution_report(FakeChain(), **kwargs)


# --- execution report ----------------------------------------------------------------------


def test_execution_report_top_level_and_summary_keys() -> None:
    report = execution_report()
    assert list(report) == [
        "execution_summary",
        "step_execution_details",
        "final_outputs",
        "cost_breakdown",
        "performance_metrics",
        "metadata",
    ]
    assert report["execution_summary"] == {
        "chain_name": "demo_chain",
        "execution_id": "exec_0123456789ab",
        "timestamp": "2024-01-01T00:00:00",
        "status": "failed",
        "input_data": "a cat",
        "input_type": "text",
        "total_steps": 5,
        "completed_steps": 3,
        "total_cost_usd": 0.145,
        "total_processing_time_seconds": 3.74,
        "error": "Step 4 failed: provider timeout",
    }


def test_rounding() -> None:
    report = execution_report(total_cost=0.123456789, total_time=12.3456)
    summary = report["execution_summary"]
    assert summary["total_cost_usd"] == 0.1235
    assert summary["total_processing_time_seconds"] == 12.35
    assert report["cost_breakdown"]["total_cost_usd"] == 0.1235
    perf = report["performance_metrics"]
    assert perf["total_time_seconds"] == 12.35
    assert perf["average_time_per_step"] == round(12.3456 / 4, 2)
    assert perf["by_step"][0]["processing_time_seconds"] == 1.23


def test_success_status_and_completed_steps() -> None:
    results = [t2i_success(), prompt_success()]
    report = execution_report(step_results=results, success=True, error=None, total_steps=2)
    assert report["execution_summary"]["status"] == "success"
    assert report["execution_summary"]["completed_steps"] == 2
    assert report["execution_summary"]["error"] is None


def test_step_details_common_keys_and_error_only_when_failed() -> None:
    details = execution_report()["step_execution_details"]
    assert [d["step_number"] for d in details] == [1, 2, 3, 4]
    common = {
        "step_number",
        "step_name",
        "step_type",
        "model",
        "status",
        "processing_time",
        "cost",
        "output_files",
        "download_links",
        "metadata",
    }
    for d in details:
        assert common <= set(d)
    first, *_, last = details
    assert first["status"] == "success" and "error" not in first
    assert first["output_files"] == {"local_path": "output/step1_abc.png"}
    assert first["download_links"] == {"direct_url": "https://example.test/img.png"}
    assert first["metadata"] == {"seed": 1}
    assert last["status"] == "failed"
    assert last["error"] == "provider timeout"
    assert last["output_files"] == {"local_path": None}


def test_step_details_type_extras() -> None:
    t2i, prompt, group, i2v = execution_report()["step_execution_details"]
    assert t2i["input_prompt"] == "a cat"
    assert t2i["generation_params"] == {"aspect_ratio": "16:9"}
    assert prompt["optimized_prompt"] == "slow dolly shot of a cat"
    assert prompt["full_analysis"] == "Full analysis of the image"
    assert prompt["generation_params"] == {"video_style": "cinematic"}
    assert prompt["input_image_url"] == "output/step1_abc.png"
    assert i2v["input_image_url"] == "output/step3_branch1_aaa.png"
    assert i2v["video_params"] == {"duration": 6}
    for d in (t2i, prompt, i2v):
        assert "parallel_branches" not in d
    assert "input_prompt" not in group and "video_params" not in group


def test_parallel_group_branches() -> None:
    group = execution_report()["step_execution_details"][2]
    assert group["parallel_branches"] == [
        {
            "step_index": 0,
            "step_type": "image_to_image",
            "model": "photon_flash",
            "status": "success",
            "cost": 0.02,
            "local_path": "output/step3_branch1_aaa.png",
            "error": None,
        },
        {
            "step_index": 1,
            "step_type": "image_to_image",
            "model": "flux_kontext_multi",
            "status": "failed",
            "cost": 0.04,
            "local_path": None,
            "error": "boom",
        },
    ]


def test_group_without_parallel_results_has_empty_branches() -> None:
    group = group_success()
    del group["parallel_results"]
    details = execution_report(step_results=[group])["step_execution_details"]
    assert details[0]["parallel_branches"] == []


def test_final_outputs_only_non_empty() -> None:
    final = execution_report()["final_outputs"]
    assert final == {
        "local_files": {
            "step_1_text_to_image": "output/step1_abc.png",
            "step_3_parallel_group": "output/step3_branch1_aaa.png",
        },
        "download_links": {"step_1_text_to_image": "https://example.test/img.png"},
    }


def test_cost_breakdown_in_step_order() -> None:
    report = execution_report()
    breakdown = report["cost_breakdown"]
    assert breakdown["by_step"] == [
        {"step": "1_text_to_image", "model": "flux_dev", "cost_usd": 0.003},
        {"step": "2_prompt_generation", "model": "openrouter_video_cinematic", "cost_usd": 0.002},
        {"step": "3_parallel_group", "model": "parallel", "cost_usd": 0.06},
        {"step": "4_image_to_video", "model": "hailuo", "cost_usd": 0.08},
    ]
    # the failed step's cost counts (spec §7)
    total = 0.0
    for entry in breakdown["by_step"]:
        total += entry["cost_usd"]
    assert breakdown["total_cost_usd"] == round(total, 4) == 0.145


def test_performance_metrics() -> None:
    perf = execution_report()["performance_metrics"]
    assert [p["step"] for p in perf["by_step"]] == [
        "1_text_to_image",
        "2_prompt_generation",
        "3_parallel_group",
        "4_image_to_video",
    ]
    assert [p["status"] for p in perf["by_step"]] == ["success", "success", "success", "failed"]
    assert set(perf) == {"by_step", "total_time_seconds", "average_time_per_step"}


def test_no_steps_run() -> None:
    report = execution_report(step_results=[], total_cost=0.0, total_time=0.0)
    assert report["execution_summary"]["completed_steps"] == 0
    assert report["performance_metrics"]["average_time_per_step"] == 0.0
    assert report["metadata"]["models_used"] == []
    assert report["final_outputs"] == {"local_files": {}, "download_links": {}}


def test_metadata() -> None:
    metadata = execution_report()["metadata"]
    assert metadata["chain_config"] == FakeChain().to_config()
    assert metadata["pipeline_version"] == "1.0.0"
    assert metadata["models_used"] == sorted(
        {
            "flux_dev",
            "openrouter_video_cinematic",
            "parallel",
            "photon_flash",
            "flux_kontext_multi",
            "hailuo",
        }
    )


def test_builder_does_not_mutate_inputs() -> None:
    results = all_results()
    snapshot = json.dumps(results, sort_keys=True)
    report = execution_report(step_results=results)
    report["step_execution_details"][0]["generation_params"]["x"] = 1
    assert json.dumps(results, sort_keys=True) == snapshot


def test_enum_step_type_accepted() -> None:
    class StepType(enum.Enum):
        TEXT_TO_IMAGE = "text_to_image"

    result = t2i_success()
    result["step_type"] = StepType.TEXT_TO_IMAGE
    detail = execution_report(step_results=[result])["step_execution_details"][0]
    assert detail["step_type"] == "text_to_image"
    assert detail["input_prompt"] == "a cat"


# --- intermediate report -------------------------------------------------------------------


def test_intermediate_report() -> None:
    results = [t2i_success(), prompt_success()]
    outputs = outputs_for(results)
    outputs["step_1_text_to_image"]["path"] = "output/intermediates/downloaded.png"
    report = build_intermediate_report(
        FakeChain(),
        intermediate_id="intermediate_0001",
        timestamp="2024-01-01T00:00:01",
        input_data="a cat",
        input_type="text",
        step_results=results,
        outputs=outputs,
        current_step=2,
        total_steps=4,
    )
    assert list(report) == [
        "report_type",
        "execution_summary",
        "completed_steps",
        "intermediate_outputs",
        "metadata",
    ]
    assert report["report_type"] == "intermediate"
    assert report["execution_summary"] == {
        "chain_name": "demo_chain",
        "execution_id": "intermediate_0001",
        "timestamp": "2024-01-01T00:00:01",
        "status": "in_progress",
        "input_data": "a cat",
        "input_type": "text",
        "total_steps": 4,
        "completed_steps": 2,
        "total_cost_usd": 0.005,
        "current_step": 2,
    }
    first, second = report["completed_steps"]
    assert first == {
        "step_number": 1,
        "step_type": "text_to_image",
        "model": "flux_dev",
        "status": "success",
        "cost": 0.003,
        "output": {
            "path": "output/intermediates/downloaded.png",
            "url": "https://example.test/img.png",
            "text": None,
        },
    }
    assert second["output"] == {
        "path": None,
        "url": None,
        "text": "Full analysis of the image",
        "optimized_prompt": "slow dolly shot of a cat",
        "full_analysis": "Full analysis of the image",
    }
    assert report["intermediate_outputs"] == outputs
    assert report["metadata"] == {
        "chain_config": FakeChain().to_config(),
        "save_intermediates": True,
    }


def test_intermediate_cost_rounded() -> None:
    result = t2i_success()
    result["cost"] = 0.000049999
    report = build_intermediate_report(
        FakeChain(),
        intermediate_id="intermediate_x",
        timestamp="t",
        input_data="a cat",
        input_type="text",
        step_results=[result],
        outputs={},
        current_step=1,
        total_steps=1,
    )
    assert report["execution_summary"]["total_cost_usd"] == 0.0
    # falls back to the step result when `outputs` has no entry
    assert report["completed_steps"][0]["output"]["path"] == "output/step1_abc.png"


# --- paths ---------------------------------------------------------------------------------


def test_report_paths(tmp_path: Path) -> None:
    assert execution_report_path(tmp_path, "demo_chain", "exec_0123456789ab") == (
        tmp_path / "reports" / "demo_chain_exec_0123456789ab_report.json"
    )
    assert intermediate_report_path(tmp_path, "demo-chain.v2", 3, "intermediate_ab") == (
        tmp_path / "reports" / "demo-chain.v2_step3_intermediate_intermediate_ab.json"
    )


@pytest.mark.parametrize(
    ("name", "expected_prefix"),
    [
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("my chain: v1", "my_chain__v1"),
        ("café", "caf_"),
        ("", "unnamed_chain"),
        ("..", "unnamed_chain"),
        (".", "unnamed_chain"),
    ],
)
def test_chain_name_sanitised(tmp_path: Path, name: str, expected_prefix: str) -> None:
    path = execution_report_path(tmp_path, name, "exec_1")
    assert path.parent == tmp_path / "reports"
    assert path.name == f"{expected_prefix}_exec_1_report.json"
    assert "/" not in path.name and "\\" not in path.name
    inter = intermediate_report_path(tmp_path, name, 1, "intermediate_1")
    assert inter.parent == tmp_path / "reports"
    assert inter.name.startswith(f"{expected_prefix}_step1_intermediate_")


# --- writing -------------------------------------------------------------------------------


def test_write_report_creates_parents_and_round_trips(tmp_path: Path) -> None:
    report = execution_report()
    path = execution_report_path(tmp_path / "deep" / "output", "demo_chain", "exec_1")
    assert write_report(path, report) == path
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert json.loads(text) == report
    assert os.listdir(path.parent) == [path.name]  # no temp file left behind


def test_write_report_replaces_existing(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "r.json"
    write_report(path, {"v": 1})
    write_report(path, {"v": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"v": 2}
    assert os.listdir(path.parent) == ["r.json"]


def test_non_json_values_stringified(tmp_path: Path) -> None:
    class Color(enum.Enum):
        RED = "red"

    path = tmp_path / "r.json"
    write_report(path, {"path": Path("/x/y.png"), "color": Color.RED, "set": {1}, "name": "ü"})
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {"path": "/x/y.png", "color": "Color.RED", "set": "{1}", "name": "ü"}
    assert "ü" in path.read_text(encoding="utf-8")  # ensure_ascii=False


def test_parent_is_a_file_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "output"
    blocker.write_text("not a folder", encoding="utf-8")
    path = blocker / "reports" / "r.json"
    with pytest.raises(ReportWriteError) as info:
        write_report(path, {"a": 1})
    assert str(path) in str(info.value)
    assert isinstance(info.value, PipelineError)
    assert info.value.exit_code == 1
    assert isinstance(info.value.__cause__, OSError)


def test_read_only_folder_raises(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore folder permissions")
        with pytest.raises(ReportWriteError) as info:
            write_report(folder / "r.json", {"a": 1})
        assert str(folder / "r.json") in str(info.value)
    finally:
        folder.chmod(0o700)
    assert os.listdir(folder) == []


def test_failed_write_removes_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    path = tmp_path / "reports" / "r.json"
    with pytest.raises(ReportWriteError, match="No space left on device") as info:
        write_report(path, {"a": 1})
    assert str(path) in str(info.value)
    assert os.listdir(path.parent) == []


def test_failed_write_keeps_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.json"
    write_report(path, {"v": "old"})

    def failing_fdopen(fd: int, *args: object, **kwargs: object) -> object:
        os.close(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdopen", failing_fdopen)
    with pytest.raises(ReportWriteError):
        write_report(path, {"v": "new"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"v": "old"}
    assert os.listdir(tmp_path) == ["r.json"]


def test_unserialisable_keys_raise_report_write_error(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    with pytest.raises(ReportWriteError, match="serialise") as info:
        write_report(path, {("tuple", "key"): 1})  # type: ignore[dict-item]
    assert str(path) in str(info.value)
    assert not path.exists()
