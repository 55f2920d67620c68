"""Every corpus pipeline is reproducible (spec §8 #5, #14): same files, same bytes, same reports.

Two sequential runs in different base directories must produce identical output trees; the
only permitted differences are the run id (`exec_<12 hex>`, also used by intermediate report
names), the base directory prefix inside reports, and measured-time fields. The concurrent
`async` scheduler, on the virtual clock with full model latencies and jitter (so branches
finish in another order, exactly and at no wall-time cost), must produce exactly the
sequential result. Every run is on the virtual clock, so a branch that waits out its timeout
costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ai_content_pipeline.clock import VirtualClock
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.pipeline.schedule import ScheduleTrace

REPO = Path(__file__).resolve().parents[1]
CORPUS = sorted((REPO / "input").glob("*.yaml"))
INPUT_KEYS = {"text": "prompt", "any": "prompt", "image": "input_image", "video": "input_video"}
VOLATILE_KEYS = frozenset(
    {
        "timestamp",
        "total_time",
        "processing_time",
        "total_processing_time_seconds",
        "processing_time_seconds",
        "total_time_seconds",
        "average_time_per_step",
    }
)
EXEC_REPORT = re.compile(r"_exec_([0-9a-f]{12})_report\.json$")
PARALLEL_TIME_SCALE = "1"  # model seconds, on the virtual clock


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "0")
    monkeypatch.delenv("AICP_STUB_JITTER_SEED", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_corpus_is_present() -> None:
    assert len(CORPUS) >= 20, [p.name for p in CORPUS]


def corpus_input(path: Path, manager: AIPipelineManager) -> str:
    """The input the CLI would use: the config key for the chain's initial input type."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    chain = manager.create_chain_from_config(str(path))
    kind = chain.get_initial_input_type()
    value = config[INPUT_KEYS[kind]]
    return value if kind in ("text", "any") else str(REPO / value)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def run_snapshot(
    path: Path,
    base: Path,
    parallel: bool,
    monkeypatch: pytest.MonkeyPatch,
    trace: ScheduleTrace | None = None,
) -> dict:
    """Run one corpus file in `base`; return its normalised output tree and result.
    Both states run on the virtual clock: latencies, `stub_delay` pauses and step timeouts
    cost no wall time."""
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "true" if parallel else "false")
    base.mkdir(parents=True)
    manager = AIPipelineManager(base_dir=str(base), clock=VirtualClock())
    assert manager.executor.scheduler_name == ("async" if parallel else "sequential")
    manager.executor.schedule_trace = trace
    chain = manager.create_chain_from_config(str(path))
    try:
        result = manager.execute_chain(chain, corpus_input(path, manager))
    finally:
        manager.executor.close()

    files = sorted(p for p in base.rglob("*") if p.is_file())
    reports = [p for p in files if EXEC_REPORT.search(p.name)]
    assert len(reports) == 1, [str(p.relative_to(base)) for p in files]
    token = EXEC_REPORT.search(reports[0].name)[1]

    def normalise(text: str) -> str:
        return text.replace(str(base), "<BASE>").replace(token, "<RUN>")

    tree: dict[str, Any] = {}
    for file in files:
        name = normalise(str(file.relative_to(base)))
        if file.suffix == ".json" and "reports" in file.relative_to(base).parts:
            tree[name] = redact(json.loads(normalise(file.read_text(encoding="utf-8"))))
        else:
            tree[name] = hashlib.sha256(file.read_bytes()).hexdigest()
    outcome = {
        "success": result.success,
        "steps_completed": result.steps_completed,
        "total_steps": result.total_steps,
        "total_cost": result.total_cost,
        "error": result.error,
        "outputs": json.loads(normalise(json.dumps(result.outputs, default=str))),
    }
    return {"tree": tree, "result": outcome}


def assert_same(left: dict, right: dict) -> None:
    assert sorted(left["tree"]) == sorted(right["tree"])
    for name in left["tree"]:
        assert left["tree"][name] == right["tree"][name], name
    assert left["result"] == right["result"]


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_sequential_runs_are_identical(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_snapshot(path, tmp_path / "run_a", False, monkeypatch)
    second = run_snapshot(path, tmp_path / "run_b", False, monkeypatch)
    assert_same(first, second)
    assert any(name.startswith("output/reports/") for name in first["tree"])
    assert all(name.startswith("output/") for name in first["tree"]), sorted(first["tree"])


@pytest.mark.requires_parallel
@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_parallel_runs_equal_sequential(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sequential = run_snapshot(path, tmp_path / "sequential", False, monkeypatch)
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", PARALLEL_TIME_SCALE)
    for seed in ("1", "2"):
        monkeypatch.setenv("AICP_STUB_JITTER_SEED", seed)
        trace = ScheduleTrace()
        concurrent = run_snapshot(path, tmp_path / f"parallel_{seed}", True, monkeypatch, trace)
        assert_same(sequential, concurrent)
        # really concurrent: every group of several branches had more than one in flight
        assert all(g.peak_in_flight > 1 for g in trace.groups if len(g.branches) > 1)


@pytest.mark.requires_parallel
def test_jitter_really_reorders_completions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Precondition of the test above: the jitter seeds finish a group's branches out of
    declaration order, and differently per seed (otherwise the comparison proves little)."""
    path = REPO / "input" / "15_fan_out_ten_branches.yaml"
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", PARALLEL_TIME_SCALE)
    orders = {}
    for seed in ("1", "2"):
        monkeypatch.setenv("AICP_STUB_JITTER_SEED", seed)
        trace = ScheduleTrace()
        run_snapshot(path, tmp_path / seed, True, monkeypatch, trace)
        (schedule,) = trace.groups
        orders[seed] = schedule.completion_order()
    declared = sorted(orders["1"])
    assert orders["1"] != declared and orders["2"] != declared
    assert orders["1"] != orders["2"]
