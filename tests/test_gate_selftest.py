"""Self-test of the release gate: inject each fault it exists to catch and prove it fails.

Every fault is monkeypatched into THIS process and the gate records in-process (``jobs=1``), so
the fault is live while the gate records; faults of the concurrent scheduler act in the ``on``
state only (see `gate_faults`). Each test asserts exit code 1 AND that the gate's own words name
the fault: the YAML, the state, the step and field or the file, the API object, or the perf check.

The corpus is four YAMLs from ``input/`` (one linear, three groups) plus ``90_cost_order``, a
group whose float cost sum depends on the order of its terms
(``0.08 + 0.004 + 0.003 + 0.002 = 0.08900000000000001`` in declaration order, ``0.089`` whenever
gen4's 0.08 is added last). gen4 is also by far the slowest branch: 60 model seconds against
20, 15 and 10, and the prompt is chosen so that the gate's jitter (seed 1) makes it sleep about
78 ms against at most 11 ms at time scale 0.001, so it finishes last and a completion-order fault
always shows. Golden records are written once per module by `run_update` into a temporary
folder; the gate only reads them. Time scale 0.001 (the gate's default), the gate's jitter seed.

Perf-dependent tests carry ``@pytest.mark.perf`` and skip under pytest-xdist. Runtime about 35 s.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gate_faults
import pytest

from ai_content_pipeline.models import stub
from ai_content_pipeline.pipeline import groups
from ai_content_pipeline.pipeline.executor import ChainExecutor
from harness import api as api_module
from harness.compare import describe
from harness.gate import MATCH, MISMATCH, GateOptions, GateResult, run_gate
from harness.golden import GoldenStore
from harness.perf import XDIST_WORKER_ENV
from harness.update import UpdateOptions, run_update
from parallel.scheduler import ThreadPoolScheduler

LINEAR = "01_text_to_image_basic"
COLLECT = "11_group_collect_all_then_video"
FIRST_SUCCESS = "12_group_first_success_branch_fails"
FAN_OUT = "15_fan_out_ten_branches"
COST = "90_cost_order"
CORPUS = (LINEAR, COLLECT, FIRST_SUCCESS, FAN_OUT)
GROUPS = (COLLECT, FIRST_SUCCESS, FAN_OUT, COST)
TIME_SCALE = 0.001
PRISTINE_RUNS = 10
PRISTINE_PERF_RUNS = 2
REPO = Path(__file__).resolve().parent.parent

COST_YAML = """\
# The group's cost is a float sum that depends on the order of its terms.
name: 90_cost_order
description: "parallel_group (collect_all): gen4 (slowest, 0.08 USD) first, cheaper ones after."
prompt: "A field of sunflowers under a thunderstorm"
input_type: text
output_dir: output
save_intermediates: false

steps:
  - type: parallel_group
    model: parallel
    params:
      max_workers: 4
      merge_strategy: collect_all
      parallel_steps:
        - {type: text_to_image, model: gen4}
        - {type: text_to_image, model: imagen4}
        - {type: text_to_image, model: flux_dev}
        - {type: text_to_image, model: seedream_v3}
"""
DECLARATION_SUM = 0.08900000000000001
GEN4_LAST_SUM = 0.089

serial_only = pytest.mark.skipif(
    bool(os.environ.get(XDIST_WORKER_ENV)),
    reason="wall-clock checks are meaningless next to other xdist workers",
)


@dataclass
class Gate:
    """One in-process gate run: its result and what it printed."""

    result: GateResult
    out: str

    def lines(self, stem: str, state: str = "on") -> list[str]:
        """Every finding for one cell, uncapped (the printed summary caps at 20 per cell)."""
        return describe(stem, state, self.result.cell(stem, state).diffs, limit=10**6).splitlines()

    def failed_checks(self) -> set[tuple[str, str]]:
        """(kind, name) of every failed perf check."""
        assert self.result.perf is not None, self.out
        return {(c.kind, c.name) for c in self.result.perf.checks if not c.passed}


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("selftest-corpus")
    for stem in CORPUS:
        shutil.copy(REPO / "input" / f"{stem}.yaml", folder)
    (folder / f"{COST}.yaml").write_text(COST_YAML, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def snapshots(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Golden records by `harness update` (in-process, all states checked), before any fault."""
    folder = tmp_path_factory.mktemp("selftest-snapshots")
    out = io.StringIO()
    outcome = run_update(
        UpdateOptions(
            input_dir=corpus,
            snapshots_dir=folder,
            force=True,
            jobs=1,
            time_scale=TIME_SCALE,
            quiet=True,
            out=out,
        )
    )
    assert outcome.exit_code == 0, out.getvalue()
    return folder


def gate(
    corpus: Path,
    snapshots: Path,
    *,
    states: tuple[str, ...] = ("off", "on"),
    perf: bool = False,
    pattern: str | None = None,
) -> Gate:
    out = io.StringIO()
    result = run_gate(
        GateOptions(
            input_dir=corpus,
            snapshots_dir=snapshots,
            states=states,
            pattern=pattern,
            perf=perf,
            jobs=1,
            time_scale=TIME_SCALE,
            quiet=True,
            out=out,
        )
    )
    return Gate(result, out.getvalue())


def assert_fails_in_on_only(run: Gate, stems: tuple[str, ...]) -> None:
    """Exit 1; every `stems` cell mismatches in ``on``; everything in ``off`` still matches."""
    assert run.result.exit_code == 1, run.out
    assert "FAIL:" in run.out
    for stem in run.result.stems:
        assert run.result.cell(stem, "off").status == MATCH, run.out
    for stem in stems:
        assert run.result.cell(stem, "on").status == MISMATCH, run.out
        assert f"{stem} [on] " in run.out


def golden(snapshots: Path, stem: str) -> dict:
    record = GoldenStore(snapshots).read(stem)
    assert record is not None
    return record


def branch_file(record: dict, branch: int) -> str:
    """The golden ``files`` key of step 1's branch `branch` (1-based) output."""
    path = record["step_results"][0]["parallel_results"][branch - 1]["result"]["output_path"]
    name = Path(path).name
    assert name in record["files"], sorted(record["files"])
    return name


# -- the corpus itself -----------------------------------------------------------------------------


def test_cost_yaml_sum_depends_on_order(snapshots: Path) -> None:
    """The premise of the cost fault: the golden holds the declaration-order float sum."""
    costs = [0.08, 0.004, 0.003, 0.002]
    total = 0.0
    for cost in costs:
        total += cost
    reordered = 0.0
    for cost in reversed(costs):
        reordered += cost
    assert (total, reordered) == (DECLARATION_SUM, GEN4_LAST_SUM)
    assert golden(snapshots, COST)["step_results"][0]["cost"] == DECLARATION_SUM


# -- faults in the records -------------------------------------------------------------------------


def test_merge_in_completion_order_is_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders: list[list[int]] = []
    fault = gate_faults.results_in_completion_order(orders)
    monkeypatch.setattr(ThreadPoolScheduler, "run_branches", fault)
    run = gate(corpus, snapshots)

    reordered = [order for order in orders if order != sorted(order)]
    assert reordered, f"no group finished out of declaration order: {orders}"
    assert_fails_in_on_only(run, (COST,))
    # Branch 1 (gen4, the slowest) is now paired with a faster branch's result.
    pattern = re.compile(
        rf"{COST} \[on\] step 1 \(parallel_group\) field parallel_results\[0\]\.result\.model: "
        r"golden 'gen4' != actual '(imagen4|flux_dev|seedream_v3)'"
    )
    assert any(pattern.fullmatch(line) for line in run.lines(COST)), run.lines(COST)


def test_costs_summed_in_completion_order_are_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders: list[list[int]] = []
    run_branches, merge = gate_faults.costs_in_completion_order(orders)
    monkeypatch.setattr(ThreadPoolScheduler, "run_branches", run_branches)
    monkeypatch.setattr(groups, "merge_results", merge)
    run = gate(corpus, snapshots)

    cost_orders = [order for order in orders if len(order) == 4]  # 90_cost_order's group
    assert cost_orders and cost_orders[0][-1] == 0, f"gen4 did not finish last: {orders}"
    assert_fails_in_on_only(run, (COST,))
    expected = (
        f"{COST} [on] step 1 (parallel_group) field cost: "
        f"golden {DECLARATION_SUM!r} != actual {GEN4_LAST_SUM!r}"
    )
    assert expected in run.out.splitlines()
    assert f"{COST} [on] field result.total_cost: golden {DECLARATION_SUM!r}" in run.out


def test_branches_sharing_one_context_are_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = gate_faults.shared_branch_context(groups.branch_context)
    monkeypatch.setattr(groups, "branch_context", shared)
    run = gate(corpus, snapshots)

    assert_fails_in_on_only(run, GROUPS)
    assert run.result.cell(LINEAR, "on").status == MATCH  # no group, no shared context
    # Every branch ran under the last branch's label: branch 1's file is gone, the label collides.
    record = golden(snapshots, COST)
    lines = run.lines(COST)
    assert f"{COST} [on] file {branch_file(record, 1)}: missing" in lines
    label = re.compile(
        rf"{COST} \[on\] step 1 \(parallel_group\) field parallel_results\[0\]\.result"
        r"\.output_path: golden '<workdir>/output/step1_branch1_\w+\.png' "
        r"!= actual '<workdir>/output/step1_branch4_\w+\.png'"
    )
    assert any(label.fullmatch(line) for line in lines), lines


def test_output_file_dropped_in_one_state_is_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped: list[Path] = []
    fault = gate_faults.drop_branch_output(ChainExecutor.execute, FAN_OUT, 3, dropped)
    monkeypatch.setattr(ChainExecutor, "execute", fault)
    run = gate(corpus, snapshots)

    assert len(dropped) == 1  # on only, once
    assert_fails_in_on_only(run, (FAN_OUT,))
    name = branch_file(golden(snapshots, FAN_OUT), 3)
    assert dropped[0].name == name
    assert run.lines(FAN_OUT) == [f"{FAN_OUT} [on] file {name}: missing"]
    assert f"{FAN_OUT} [on] file {name}: missing" in run.out.splitlines()
    assert all(run.result.cell(s, "on").ok for s in run.result.stems if s != FAN_OUT)


def test_timestamp_in_file_name_is_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamps: list[str] = []
    real = stub._FileGenerator._produce
    monkeypatch.setattr(
        stub._FileGenerator, "_produce", gate_faults.timestamped_file_names(real, stamps)
    )
    run = gate(corpus, snapshots)

    assert stamps
    assert_fails_in_on_only(run, (*CORPUS, COST))  # every YAML writes a media file
    record = golden(snapshots, LINEAR)
    (expected,) = record["files"]
    lines = run.lines(LINEAR)
    assert f"{LINEAR} [on] file {expected}: missing" in lines
    unexpected = [line for line in lines if line.endswith(": unexpected")]
    assert len(unexpected) == 1, lines
    match = gate_faults.STAMP.search(unexpected[0])
    assert match and match.group(1) in stamps, unexpected


# -- the public API --------------------------------------------------------------------------------


def test_public_signature_change_is_caught(
    corpus: Path, snapshots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ChainExecutor.execute` loses ``input_data`` in a copy of the package; the gate's API
    snapshot is taken from that copy (griffe reads sources, it never imports them)."""
    search_path = gate_faults.copy_without_execute_input(
        REPO / "ai_content_pipeline", tmp_path / "changed"
    )
    monkeypatch.setattr(
        api_module, "snapshot_api", partial(api_module.snapshot_api, search_paths=[search_path])
    )
    run = gate(corpus, snapshots, pattern=LINEAR)

    assert run.result.exit_code == 1, run.out
    assert run.result.records_ok  # only the API changed
    assert run.result.api.status == MISMATCH
    message = (
        "ai_content_pipeline.pipeline.executor.ChainExecutor.execute(input_data): "
        "parameter was removed"
    )
    assert run.result.api.breaking == [message]
    assert f"api: breaking: {message}" in run.out.splitlines()


# -- performance -----------------------------------------------------------------------------------


@pytest.mark.perf
@serial_only
def test_parallelism_lost_is_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = gate_faults.one_worker(ThreadPoolScheduler.run_branches)
    monkeypatch.setattr(ThreadPoolScheduler, "run_branches", fault)
    run = gate(corpus, snapshots, states=("on",), perf=True, pattern=COST)

    assert run.result.exit_code == 1, run.out
    assert run.result.records_ok and run.result.api.ok  # the records cannot see wall time
    assert ("speedup", COST) in run.failed_checks(), run.out
    assert f"perf: speedup {COST}: " in run.out


@pytest.mark.perf
@serial_only
def test_executor_slowdown_is_caught(
    corpus: Path, snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 % on every flag-on run leaves the group 1/1.3 of its ideal speedup (about 1.35x
    against a floor of about 1.55x).

    Not asserted: ``on_vs_off`` on the linear YAML. With 3 pairs on an 8 ms pipeline its noise
    estimate often widens the limit past 1.3, so it misses this slowdown in about half the runs
    (reported to the harness owner).
    """
    fault = gate_faults.slower_execute(ChainExecutor.execute, 0.3)
    monkeypatch.setattr(ChainExecutor, "execute", fault)
    run = gate(corpus, snapshots, states=("on",), perf=True, pattern=COST)

    assert run.result.exit_code == 1, run.out
    assert run.result.records_ok and run.result.api.ok
    assert ("speedup", COST) in run.failed_checks(), run.out
    assert f"perf: speedup {COST}: " in run.out


# -- no false alarms -------------------------------------------------------------------------------


def test_pristine_gate_passes_10_of_10(corpus: Path, snapshots: Path) -> None:
    """The gate without perf (every state + the API) passes 10 consecutive runs.

    The perf part runs twice on the bundled corpus in
    `test_pristine_gate_with_perf_passes_on_the_bundled_corpus`: ten perf runs
    would take most of a minute on their own.
    """
    for attempt in range(1, PRISTINE_RUNS + 1):
        run = gate(corpus, snapshots, states=("absent", "off", "on"))
        assert run.result.exit_code == 0, f"run {attempt}:\n{run.out}"
        assert "PASS:" in run.out


@pytest.mark.perf
@serial_only
def test_pristine_gate_with_perf_passes_on_the_bundled_corpus(tmp_path: Path) -> None:
    """The release gate itself — `python -m harness gate` on the bundled corpus and golden
    records, every state, the API and the perf checks — passes consecutive runs. It runs as
    the release runs it, in a fresh process: timing inside a long pytest process (hundreds of
    idle pool threads and a large heap from earlier tests) is not what the thresholds are
    about. (Nor is the group-heavy fault corpus above: the zero-latency overhead ratio depends
    on how many pipelines have groups.)"""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", XDIST_WORKER_ENV)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for attempt in range(1, PRISTINE_PERF_RUNS + 1):
        report = tmp_path / f"gate-{attempt}.json"
        run = subprocess.run(
            [sys.executable, "-m", "harness", "gate", "-q", "--json", str(report)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, f"run {attempt}:\n{run.stdout}\n{run.stderr}"
        result = json.loads(report.read_text(encoding="utf-8"))
        assert result["passed"] is True
        assert result["perf"]["passed"] is True
