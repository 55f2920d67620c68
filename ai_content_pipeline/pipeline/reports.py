"""Execution and intermediate reports (spec §7): pure builders plus one atomic writer.

Why separate from the executor: the builders take plain data (the executor's `step_results`,
`outputs` and totals) and return plain dicts, so the report shape is testable without running a
chain, and the writer is the only place that touches the disk. A failed save raises
`ReportWriteError` instead of being swallowed (spec §8 #6).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_content_pipeline.errors import ReportWriteError

if TYPE_CHECKING:
    from ai_content_pipeline.pipeline.chain import ContentCreationChain

PIPELINE_VERSION = "1.0.0"
REPORTS_DIRNAME = "reports"
DEFAULT_NAME = "unnamed_chain"
MAX_NAME_LENGTH = 100

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


# --- small helpers --------------------------------------------------------------------------


def _type_value(step_type: Any) -> str:
    """Accept a `StepType` or its string value."""
    value = getattr(step_type, "value", step_type)
    return "unknown" if value is None else str(value)


def _number(value: Any) -> float:
    """Costs and times as floats; a missing or non-numeric value counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _step_number(result: Mapping[str, Any], index: int) -> int:
    number = result.get("step_number")
    return number if isinstance(number, int) else index + 1


def _step_type(result: Mapping[str, Any]) -> str:
    return _type_value(result.get("step_type"))


def _step_name(result: Mapping[str, Any], index: int) -> str:
    name = result.get("step_name")
    if name:
        return str(name)
    return f"step_{_step_number(result, index)}_{_step_type(result)}"


def _status(result: Mapping[str, Any]) -> str:
    return "success" if result.get("success") else "failed"


def _is_group(result: Mapping[str, Any]) -> bool:
    return _step_type(result) == "parallel_group" or bool(result.get("parallel_execution"))


def _copy_dict(value: Any) -> dict[str, Any]:
    """Shallow copy so later mutation of the executor's data cannot change a built report."""
    return dict(value) if isinstance(value, Mapping) else {}


def _branches(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per branch of a parallel group, in the group's (declaration) order."""
    branches: list[dict[str, Any]] = []
    for entry in result.get("parallel_results") or []:
        if not isinstance(entry, Mapping):
            continue
        branch_result = entry.get("result")
        if not isinstance(branch_result, Mapping):
            branch_result = {}
        ok = bool(branch_result.get("success"))
        branches.append(
            {
                "step_index": entry.get("step_index"),
                "step_type": _type_value(entry.get("step_type")),
                "model": entry.get("model", branch_result.get("model")),
                "status": "success" if ok else "failed",
                "cost": _number(branch_result.get("cost")),
                "local_path": branch_result.get("output_path"),
                "error": None if ok else branch_result.get("error"),
            }
        )
    return branches


def _models_used(step_results: list[dict[str, Any]]) -> list[str]:
    models: set[str] = set()
    for result in step_results:
        if result.get("model"):
            models.add(str(result["model"]))
        if _is_group(result):
            models.update(str(b["model"]) for b in _branches(result) if b["model"])
    return sorted(models)


# --- execution report -----------------------------------------------------------------------


def _step_detail(result: Mapping[str, Any], index: int) -> dict[str, Any]:
    step_type = _step_type(result)
    detail: dict[str, Any] = {
        "step_number": _step_number(result, index),
        "step_name": _step_name(result, index),
        "step_type": step_type,
        "model": result.get("model"),
        "status": _status(result),
        "processing_time": _number(result.get("processing_time")),
        "cost": _number(result.get("cost")),
        "output_files": {"local_path": result.get("output_path")},
        "download_links": {"direct_url": result.get("output_url")},
        "metadata": _copy_dict(result.get("metadata")),
    }
    if not result.get("success"):
        detail["error"] = result.get("error")

    params = _copy_dict(result.get("params"))
    if step_type == "text_to_image":
        detail["input_prompt"] = result.get("input_data")
        detail["generation_params"] = params
    elif step_type == "prompt_generation":
        detail["optimized_prompt"] = result.get("extracted_prompt")
        detail["full_analysis"] = result.get("output_text")
        detail["generation_params"] = params
        detail["input_image_url"] = result.get("input_data")
    elif step_type == "image_to_video":
        detail["input_image_url"] = result.get("input_data")
        detail["video_params"] = params
    if _is_group(result):
        detail["parallel_branches"] = _branches(result)
    return detail


def _final_outputs(outputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    local_files: dict[str, Any] = {}
    download_links: dict[str, Any] = {}
    for step_name, output in outputs.items():
        if not isinstance(output, Mapping):
            continue
        if output.get("path"):
            local_files[step_name] = output["path"]
        if output.get("url"):
            download_links[step_name] = output["url"]
    return {"local_files": local_files, "download_links": download_links}


def build_execution_report(
    chain: ContentCreationChain | Any,
    *,
    execution_id: str,
    timestamp: str,
    input_data: Any,
    input_type: str,
    step_results: list[dict[str, Any]],
    outputs: dict[str, Any],
    total_cost: float,
    total_time: float,
    success: bool,
    error: str | None,
    total_steps: int,
) -> dict[str, Any]:
    """The report written after every run, success or failure (spec §7 "Execution report").

    Step lists follow `step_results` order (enabled-step order); nothing is re-sorted, so float
    sums match the executor's.
    """
    total_cost_r = round(_number(total_cost), 4)
    total_time_r = round(_number(total_time), 2)
    ran = len(step_results)

    cost_by_step = []
    time_by_step = []
    for index, result in enumerate(step_results):
        label = f"{_step_number(result, index)}_{_step_type(result)}"
        cost_by_step.append(
            {"step": label, "model": result.get("model"), "cost_usd": _number(result.get("cost"))}
        )
        time_by_step.append(
            {
                "step": label,
                "processing_time_seconds": round(_number(result.get("processing_time")), 2),
                "status": _status(result),
            }
        )

    return {
        "execution_summary": {
            "chain_name": chain.name,
            "execution_id": execution_id,
            "timestamp": timestamp,
            "status": "success" if success else "failed",
            "input_data": input_data,
            "input_type": input_type,
            "total_steps": total_steps,
            "completed_steps": sum(1 for r in step_results if r.get("success")),
            "total_cost_usd": total_cost_r,
            "total_processing_time_seconds": total_time_r,
            "error": error,
        },
        "step_execution_details": [_step_detail(r, i) for i, r in enumerate(step_results)],
        "final_outputs": _final_outputs(outputs),
        "cost_breakdown": {"by_step": cost_by_step, "total_cost_usd": total_cost_r},
        "performance_metrics": {
            "by_step": time_by_step,
            "total_time_seconds": total_time_r,
            "average_time_per_step": round(_number(total_time) / ran, 2) if ran else 0.0,
        },
        "metadata": {
            "chain_config": chain.to_config(),
            "pipeline_version": PIPELINE_VERSION,
            "models_used": _models_used(step_results),
        },
    }


# --- intermediate report --------------------------------------------------------------------


def _intermediate_output(
    result: Mapping[str, Any], index: int, outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Prefer `outputs` (its `path` is updated when a URL result was downloaded)."""
    recorded = outputs.get(_step_name(result, index))
    if isinstance(recorded, Mapping):
        output = {
            "path": recorded.get("path"),
            "url": recorded.get("url"),
            "text": recorded.get("text"),
        }
    else:
        output = {
            "path": result.get("output_path"),
            "url": result.get("output_url"),
            "text": result.get("output_text"),
        }
    if _step_type(result) == "prompt_generation":
        source = recorded if isinstance(recorded, Mapping) else {}
        output["optimized_prompt"] = source.get("optimized_prompt", result.get("extracted_prompt"))
        output["full_analysis"] = source.get("full_analysis", result.get("output_text"))
    return output


def build_intermediate_report(
    chain: ContentCreationChain | Any,
    *,
    intermediate_id: str,
    timestamp: str,
    input_data: Any,
    input_type: str,
    step_results: list[dict[str, Any]],
    outputs: dict[str, Any],
    current_step: int,
    total_steps: int,
    total_cost: float | None = None,
) -> dict[str, Any]:
    """Snapshot after step `current_step` (1-based over enabled steps, spec §8 #16).

    Without `total_cost` the charges of `step_results` are summed, in step order."""
    if total_cost is None:
        total_cost = 0.0
        for result in step_results:  # step order, never re-sorted
            total_cost += _number(result.get("cost"))

    return {
        "report_type": "intermediate",
        "execution_summary": {
            "chain_name": chain.name,
            "execution_id": intermediate_id,
            "timestamp": timestamp,
            "status": "in_progress",
            "input_data": input_data,
            "input_type": input_type,
            "total_steps": total_steps,
            "completed_steps": current_step,
            "total_cost_usd": round(total_cost, 4),
            "current_step": current_step,
        },
        "completed_steps": [
            {
                "step_number": _step_number(r, i),
                "step_type": _step_type(r),
                "model": r.get("model"),
                "status": _status(r),
                "cost": _number(r.get("cost")),
                "output": _intermediate_output(r, i, outputs),
            }
            for i, r in enumerate(step_results)
        ],
        "intermediate_outputs": dict(outputs),
        "metadata": {"chain_config": chain.to_config(), "save_intermediates": True},
    }


# --- paths and writing ----------------------------------------------------------------------


def safe_name(name: Any) -> str:
    """A file-name-safe fragment: [A-Za-z0-9_.-] only, never empty, never `.`/`..`."""
    cleaned = _UNSAFE_NAME_CHARS.sub("_", str(name if name is not None else ""))
    cleaned = cleaned[:MAX_NAME_LENGTH]
    if not cleaned.strip("."):
        return DEFAULT_NAME
    return cleaned


def execution_report_path(output_dir: Path, chain_name: str, execution_id: str) -> Path:
    """``<output_dir>/reports/{chain_name}_{execution_id}_report.json``."""
    name = f"{safe_name(chain_name)}_{safe_name(execution_id)}_report.json"
    return Path(output_dir) / REPORTS_DIRNAME / name


def intermediate_report_path(
    output_dir: Path, chain_name: str, step_number: int, intermediate_id: str
) -> Path:
    """``<output_dir>/reports/{chain_name}_step{n}_intermediate_{intermediate_id}.json``."""
    name = (
        f"{safe_name(chain_name)}_step{int(step_number)}"
        f"_intermediate_{safe_name(intermediate_id)}.json"
    )
    return Path(output_dir) / REPORTS_DIRNAME / name


def write_report(path: Path, data: dict[str, Any]) -> Path:
    """Write `data` as JSON atomically: readers see the old file or the whole new one.

    Non-JSON values (paths, enums, datetimes) are stringified. Any OS failure, or data that
    cannot be serialised at all (e.g. non-string dict keys), raises `ReportWriteError` naming the
    path.
    """
    path = Path(path)
    try:
        # One line: the C encoder is ~10x faster than indented output, and a report is
        # read by tools (or `python -m json.tool`), not diffed by hand.
        text = json.dumps(data, default=str, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ReportWriteError(f"Could not serialise report {path}: {exc}") from exc

    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        # O_EXCL: never clobber another writer's temp file; mode 0o666 lets the umask apply.
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        tmp = candidate
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # No fsync: the rename already gives readers all-or-nothing, and a sync per
            # report would dominate a zero-latency run.
            handle.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ReportWriteError(f"Could not write report {path}: {exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return path
