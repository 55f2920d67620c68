"""The one redaction list: what it hides, what it must keep, and that it never mutates."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from ai_content_pipeline.pipeline import reports
from ai_content_pipeline.pipeline.chain import ContentCreationChain
from harness.redact import VOLATILE, VOLATILE_KEYS, VOLATILE_PATTERNS, WORKDIR, redact, redact_text

RUN = "0123456789ab"


def test_volatile_keys_are_the_documented_wall_clock_fields() -> None:
    assert {
        "timestamp",
        "total_time",
        "processing_time",
        "total_processing_time_seconds",
        "processing_time_seconds",
        "total_time_seconds",
        "average_time_per_step",
    } == VOLATILE_KEYS
    assert isinstance(VOLATILE_KEYS, frozenset)
    import harness.redact as module

    for key in VOLATILE_KEYS:  # the docstring IS the documented list
        assert f"``{key}``" in (module.__doc__ or "")


def test_volatile_values_are_replaced_at_any_depth() -> None:
    data = {
        "timestamp": "2024-01-01T00:00:00+00:00",
        "steps": [{"processing_time": 0.123, "cost": 0.5}, ({"total_time": 9},)],
        "nested": {"performance_metrics": {"average_time_per_step": 1.0, "by_step": []}},
    }
    out = redact(data, None)
    assert out["timestamp"] == VOLATILE
    assert out["steps"][0] == {"processing_time": VOLATILE, "cost": 0.5}
    assert out["steps"][1] == [{"total_time": VOLATILE}]
    assert out["nested"]["performance_metrics"]["average_time_per_step"] == VOLATILE


def test_run_ids_in_values_and_keys() -> None:
    data = {
        f"chain_exec_{RUN}_report.json": f"chain_step2_intermediate_{RUN}.json",
        "execution_id": f"exec_{RUN}",
        "other": f"intermediate_{RUN}",
    }
    out = redact(data)
    assert out == {
        "chain_exec_<run-id>_report.json": "chain_step2_intermediate_<run-id>.json",
        "execution_id": "exec_<run-id>",
        "other": "intermediate_<run-id>",
    }
    assert len(VOLATILE_PATTERNS) == 2


def test_longer_hex_strings_are_kept() -> None:
    seed = "ab" * 32  # a 64-hex content seed is deterministic data, not a run id
    assert redact_text(f"stub://png/{seed}") == f"stub://png/{seed}"
    assert redact_text(f"exec_{seed}") == f"exec_{seed}"
    assert redact_text("exec_0123") == "exec_0123"


def test_workdir_prefix_is_replaced_everywhere(tmp_path: Path) -> None:
    work = tmp_path / "run"
    data = {
        "path": f"{work}/output/step1_abc.png",
        "error": f"Input video not found: {work}/input/clip.mp4",
        str(work / "key"): 1,
    }
    out = redact(data, work)
    assert out["path"] == f"{WORKDIR}/output/step1_abc.png"
    assert out["error"] == f"Input video not found: {WORKDIR}/input/clip.mp4"
    assert out[f"{WORKDIR}/key"] == 1
    assert redact(data, None)["path"] == data["path"]


def test_floats_kept_exact_tuples_become_lists_input_untouched() -> None:
    data = {"cost": 0.1 + 0.2, "pair": (1, "exec_" + RUN), "flag": True, "none": None, 3: "x"}
    before = copy.deepcopy(data)
    out = redact(data)
    assert data == before
    assert out["cost"] == 0.30000000000000004
    assert out["pair"] == [1, "exec_<run-id>"]
    assert out["flag"] is True and out["none"] is None and out[3] == "x"


def _time_fields(obj: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            where = f"{path}.{key}"
            if re.search("time|date", str(key)) and value != VOLATILE and key != "model_time":
                found.append(where)
            found += _time_fields(value, where)
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            found += _time_fields(item, f"{path}[{index}]")
    return found


def test_every_time_field_of_a_real_report_is_covered() -> None:
    """If the core adds a wall-clock field, this fails until the list names it."""
    chain = ContentCreationChain.from_config(
        {"name": "c", "steps": [{"type": "text_to_image", "model": "flux_schnell"}]}
    )
    step = {
        "success": True,
        "step_number": 1,
        "step_type": "text_to_image",
        "model": "flux_schnell",
        "processing_time": 0.5,
        "cost": 0.001,
        "metadata": {"model_time": 5.0},
        "output_path": "/x.png",
        "params": {},
        "input_data": "p",
    }
    common = dict(
        input_data="p",
        input_type="text",
        step_results=[step],
        outputs={"step_1_text_to_image": {"path": "/x.png"}},
        total_steps=1,
    )
    execution = reports.build_execution_report(
        chain,
        execution_id=f"exec_{RUN}",
        timestamp="now",
        total_cost=0.001,
        total_time=0.5,
        success=True,
        error=None,
        **common,
    )
    intermediate = reports.build_intermediate_report(
        chain, intermediate_id=f"intermediate_{RUN}", timestamp="now", current_step=1, **common
    )
    for report in (execution, intermediate):
        out = redact(report)
        assert _time_fields(out) == []
        assert RUN not in json.dumps(out)


def test_virtual_clock_schedules_are_kept_verbatim() -> None:
    """A record's ``schedule`` holds times too, but virtual ones: exact and the same on every
    machine, so redaction must leave them alone (the gate compares them)."""
    from ai_content_pipeline.pipeline.schedule import BranchSpan, GroupSchedule

    group = GroupSchedule("step1", 3, (BranchSpan(0, 0.0, 5.0), BranchSpan(1, 0.0, 10.0)), 2, 0, 10)
    schedule = {"clock": "virtual", "total_seconds": 84.0, "groups": [group.to_dict()]}
    assert redact({"schedule": schedule}) == {"schedule": schedule}
    assert _time_fields(schedule) == []  # no key of it looks like a wall-clock field
