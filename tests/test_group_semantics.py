"""What a `parallel_group` means (spec §4, §8 #10-#15, #22), under BOTH schedulers.

Every behavioural test runs once with the core's sequential scheduler (flag off) and once with
the `parallel` package's `async` scheduler (flag on); the outputs must be identical, only the
timing may differ. The scheduler is chosen the established way: env
`PIPELINE_PARALLEL_ENABLED`, read once when the executor is constructed. Tests whose point is a
completion order run on the virtual clock (`VirtualClock`): latencies are exact, so the order
is certain, and cost no wall time.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scheduler_modes import MODES, PARALLEL, SEQUENTIAL, make_manager, step

from ai_content_pipeline.clock import Clock, VirtualClock
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry, build_registry
from ai_content_pipeline.pipeline.chain import ChainResult, ContentCreationChain, PipelineStep
from ai_content_pipeline.pipeline.executor import ChainExecutor
from ai_content_pipeline.pipeline.validation import find_problems
from ai_content_pipeline.utils.file_manager import FileManager

REPO = Path(__file__).resolve().parents[1]
IMAGE = str(REPO / "input" / "assets" / "landscape.png")
DEFAULT_VIDEO_PROMPT = "Create a cinematic video from this image"

MEDIA_NAME = re.compile(r"^step(\d+)(?:_branch(\d+))?_([0-9a-f]{12})\.([a-z0-9]+)$")


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No simulated latency unless a test asks; no user features file."""
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "0")
    monkeypatch.delenv("AICP_STUB_JITTER_SEED", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def run(
    base: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    input_data: str = "a hot air balloon over hills",
    generators: GeneratorRegistry | None = None,
    clock: Clock | None = None,
) -> ChainResult:
    manager = make_manager(base, mode, monkeypatch, generators, clock)
    try:
        return manager.execute_chain(ContentCreationChain.from_config(config), input_data)
    finally:
        manager.executor.close()


def group(branches: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    return step("parallel_group", "parallel", parallel_steps=branches, **params)


def chain_config(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "group_test", "steps": list(steps), **top}


def media_files(base: Path) -> dict[str, str]:
    """Relative name -> sha256 of every non-report file under base/output."""
    root = base / "output"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "reports" not in p.relative_to(root).parts
    }


class Recorder:
    """Wraps a generator (sync only): records each request and when its call finished."""

    def __init__(self, inner: Any, log: list[tuple[str, GenerationRequest, float]]) -> None:
        self.inner = inner
        self.log = log
        self.lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> GenerationResult:
        result = self.inner.generate(request)
        with self.lock:
            self.log.append((request.label, request, request.clock.now()))
        return result


def recording_stub(
    *keys: tuple[str, str],
) -> tuple[GeneratorRegistry, list[tuple[str, GenerationRequest, float]]]:
    """The stub registry with the generators for `keys` wrapped in one shared `Recorder`."""
    registry = build_registry("stub")
    log: list[tuple[str, GenerationRequest, float]] = []
    for step_type, model in keys:
        registry.register(step_type, model, Recorder(registry.get(step_type, model), log))
    return registry, log


class ParamDriven:
    """A fake text_to_image model: quality, cost, delay (on the request's clock) and failure
    come from its params."""

    def generate(self, request: GenerationRequest) -> GenerationResult:
        params = request.params
        request.clock.sleep(float(params.get("sleep", 0)))
        ok = not params.get("fail")
        return GenerationResult(
            success=ok,
            output_url=f"https://example.invalid/{request.label}.png" if ok else None,
            cost=float(params.get("cost", 0.0)),
            metadata={"quality_score": params["q"]} if "q" in params else {},
            error=None if ok else str(params["fail"]),
        )


def fake_registry(generator: Any, *models: str) -> GeneratorRegistry:
    registry = GeneratorRegistry("fake")
    for model in models or ("flux_schnell",):
        registry.register("text_to_image", model, generator)
    return registry


# ---------------------------------------------------------------------------------------------
# collect_all
# ---------------------------------------------------------------------------------------------


def test_collect_all_result_shape(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch):
    branches = [
        step("text_to_image", "flux_schnell", stub_fail="branch one is down"),
        step("text_to_image", "seedream_v3"),
        step("text_to_image", "imagen4"),
    ]
    result = run(tmp_path, mode, monkeypatch, chain_config(group(branches)))
    assert result.success is True, result.error
    group_result = result.step_results[0]
    assert group_result["success"] is True
    assert group_result["parallel_execution"] is True
    assert group_result["total_parallel_steps"] == 3
    assert group_result["successful_steps"] == 2
    assert group_result["failed_steps"] == 1
    assert group_result["merge_strategy"] == "collect_all"
    assert group_result["output_data"] == "parallel_results"
    entries = group_result["parallel_results"]
    assert [e["step_index"] for e in entries] == [0, 1, 2]
    assert [(e["step_type"], e["model"]) for e in entries] == [
        ("text_to_image", "flux_schnell"),
        ("text_to_image", "seedream_v3"),
        ("text_to_image", "imagen4"),
    ]
    assert all(set(e) >= {"step_index", "step_type", "model", "result"} for e in entries)
    assert [e["result"]["success"] for e in entries] == [False, True, True]
    assert entries[0]["result"]["error"] == "branch one is down"
    assert [e["step_index"] for e in group_result["successful_results"]] == [1, 2]
    expected_cost = 0.0
    for entry in entries:  # declaration order, failed branch included (it was charged)
        expected_cost += entry["result"]["cost"]
    assert group_result["cost"] == expected_cost
    assert group_result["cost"] == pytest.approx(0.001 + 0.002 + 0.004)
    assert result.total_cost == group_result["cost"]


@pytest.mark.parametrize("first_fails", [False, True], ids=["all_ok", "first_fails"])
def test_step_after_collect_all_gets_lowest_successful_branch(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch, first_fails: bool
) -> None:
    first = {"stub_fail": "nope"} if first_fails else {}
    config = chain_config(
        group(
            [
                step("text_to_image", "flux_schnell", **first),
                step("text_to_image", "seedream_v3"),
                step("text_to_image", "imagen4"),
            ]
        ),
        step("image_to_image", "photon_flash"),
    )
    result = run(tmp_path, mode, monkeypatch, config)
    assert result.success is True, result.error
    group_result, next_step = result.step_results
    expected_index = 1 if first_fails else 0
    expected = group_result["parallel_results"][expected_index]["result"]["output_path"]
    assert expected is not None
    assert Path(expected).name.startswith(f"step1_branch{expected_index + 1}_")
    assert next_step["input_data"] == expected
    assert group_result["selected_branch"] == expected_index + 1
    assert result.outputs["step_1_parallel_group"]["path"] == expected


# ---------------------------------------------------------------------------------------------
# first_success, best_quality
# ---------------------------------------------------------------------------------------------


def test_first_success_picks_lowest_index_not_first_finished(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # seedream3 has no time estimate (60 s), flux_schnell 5 s; jitter in [0.5, 1.5): branch 1
    # waits >= 30 virtual s, branches 2 and 3 < 7.5 s, so branch 1 finishes last.
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "1")
    monkeypatch.setenv("AICP_STUB_JITTER_SEED", "7")
    registry, log = recording_stub(
        ("text_to_image", "seedream3"), ("text_to_image", "flux_schnell")
    )
    config = chain_config(
        group(
            [
                step("text_to_image", "seedream3"),
                step("text_to_image", "flux_schnell"),
                step("text_to_image", "flux_schnell", aspect_ratio="1:1"),
            ],
            merge_strategy="first_success",
        )
    )
    result = run(tmp_path, mode, monkeypatch, config, generators=registry, clock=VirtualClock())
    assert result.success is True, result.error
    finish_order = [label for label, _, _ in sorted(log, key=lambda entry: entry[2])]
    if mode == PARALLEL:
        assert finish_order[-1] == "step1_branch1", finish_order  # precondition: slowest
    group_result = result.step_results[0]
    assert group_result["merge_strategy"] == "first_success"
    assert group_result["selected_branch"] == 1
    branch_one = group_result["parallel_results"][0]["result"]
    assert group_result["output_path"] == branch_one["output_path"]
    assert Path(group_result["output_path"]).name.startswith("step1_branch1_")


def test_best_quality_picks_max_score_ties_to_lowest_index(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    branches = [
        step("text_to_image", "flux_schnell", q=0.2),
        # a failed branch never wins, whatever its score
        step("text_to_image", "flux_schnell", q=0.99, fail="down"),
        # the two best tie; the lower index wins even though it finishes last
        step("text_to_image", "flux_schnell", q=0.9, sleep=100),
        step("text_to_image", "flux_schnell", q=0.5),
        step("text_to_image", "flux_schnell", q=0.9),
    ]
    config = chain_config(group(branches, merge_strategy="best_quality", max_workers=5))
    registry = fake_registry(ParamDriven())
    result = run(tmp_path, mode, monkeypatch, config, generators=registry, clock=VirtualClock())
    assert result.success is True, result.error
    group_result = result.step_results[0]
    assert group_result["merge_strategy"] == "best_quality"
    assert group_result["selected_branch"] == 3
    assert group_result["output_url"] == "https://example.invalid/step1_branch3.png"
    assert group_result["metadata"]["quality_score"] == 0.9


def test_best_quality_with_stub_scores(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = ["flux_schnell", "seedream_v3", "imagen4", "flux_dev"]
    config = chain_config(
        group([step("text_to_image", m) for m in models], merge_strategy="best_quality")
    )
    result = run(tmp_path, mode, monkeypatch, config)
    assert result.success is True, result.error
    group_result = result.step_results[0]
    scores = [e["result"]["metadata"]["quality_score"] for e in group_result["parallel_results"]]
    best = scores.index(max(scores))  # first maximum = lowest index among ties
    assert group_result["merge_strategy"] == "best_quality"
    assert group_result["selected_branch"] == best + 1
    assert group_result["metadata"]["quality_score"] == max(scores)


# ---------------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["collect_all", "first_success", "best_quality"])
def test_all_branches_failed_aggregates_every_message(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    branches = [
        step("text_to_image", "flux_schnell", stub_fail="first outage"),
        step("text_to_image", "seedream_v3", stub_raise="second crash"),
        step("text_to_image", "imagen4", stub_fail="third outage"),
    ]
    config = chain_config(
        group(branches, merge_strategy=strategy), step("image_to_image", "photon_flash")
    )
    result = run(tmp_path, mode, monkeypatch, config)
    assert result.success is False
    assert result.steps_completed == 0
    assert len(result.step_results) == 1  # the run stopped at the group
    error = result.error
    assert error.startswith("Step 1 failed: ")
    assert "Unknown error" not in error
    for message in ("first outage", "Step execution failed: second crash", "third outage"):
        assert message in error
    assert error.index("first outage") < error.index("second crash") < error.index("third")
    if strategy != "collect_all":
        assert "No successful results from parallel execution" in error
    group_result = result.step_results[0]
    assert group_result["successful_steps"] == 0
    assert group_result["failed_steps"] == 3
    # the stub charges a stub_fail call but not a raising one
    assert group_result["cost"] == pytest.approx(0.001 + 0.004)


def test_raising_branch_is_a_failed_branch(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    branches = [
        step("text_to_image", "flux_schnell", stub_raise="kaboom in branch 1"),
        step("text_to_image", "seedream_v3"),
    ]
    result = run(tmp_path, mode, monkeypatch, chain_config(group(branches)))
    assert result.success is True, result.error
    entries = result.step_results[0]["parallel_results"]
    assert entries[0]["result"]["success"] is False
    assert entries[0]["result"]["error"] == "Step execution failed: kaboom in branch 1"
    assert entries[1]["result"]["success"] is True
    assert result.step_results[0]["selected_branch"] == 2


def test_hung_branch_times_out(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch):
    """Real clock: the group does not wait for a hung branch, and the abandoned call (its
    cancel flag set) never writes a late file, not even after its delay would have ended."""
    branches = [
        step("text_to_image", "flux_schnell"),
        step("text_to_image", "seedream_v3", stub_delay=0.5, timeout=0.1),
    ]
    started = time.perf_counter()
    result = run(tmp_path, mode, monkeypatch, chain_config(group(branches)))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.45, f"group waited {elapsed:.2f} s for a hung branch"
    assert result.success is True, result.error
    hung = result.step_results[0]["parallel_results"][1]["result"]
    assert hung["success"] is False
    assert hung["error"] == "Timed out after 0.1 s"
    assert hung["cost"] == 0.0  # a timed-out call is not charged
    # the abandoned call is cancelled: a thread of its own (sequential) ends promptly
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and any(
        t.name == "aicp-step1_branch2" for t in threading.enumerate()
    ):
        time.sleep(0.02)
    assert not any(t.name == "aicp-step1_branch2" for t in threading.enumerate())
    time.sleep(max(0.0, 0.7 - (time.perf_counter() - started)))  # past the 0.5 s delay
    assert list((tmp_path / "output").glob("step1_branch2_*")) == []


def test_hung_branch_times_out_exactly_on_the_virtual_clock(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "1")
    branches = [
        step("text_to_image", "flux_schnell"),  # 5 s
        step("text_to_image", "seedream_v3", stub_delay=3600, timeout=7),
    ]
    clock = VirtualClock()
    started = time.perf_counter()
    result = run(tmp_path, mode, monkeypatch, chain_config(group(branches)), clock=clock)
    assert time.perf_counter() - started < 2.0
    assert result.success is True, result.error
    entries = result.step_results[0]["parallel_results"]
    assert [e["result"]["processing_time"] for e in entries] == [5.0, 7.0]
    assert entries[1]["result"]["error"] == "Timed out after 7 s"
    assert clock.now() == (7.0 if mode == PARALLEL else 12.0)
    assert list((tmp_path / "output").glob("step1_branch2_*")) == []


def test_hung_only_branch_fails_the_group(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = chain_config(group([step("text_to_image", "seedream_v3", stub_delay=5, timeout=0.2)]))
    started = time.perf_counter()
    result = run(tmp_path, mode, monkeypatch, config)
    assert time.perf_counter() - started < 1.0
    assert result.success is False
    assert "timed out" in result.error.lower()


# ---------------------------------------------------------------------------------------------
# cost
# ---------------------------------------------------------------------------------------------


def test_group_cost_is_summed_in_declaration_order(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (0.1 + 0.2) + 0.3 == 0.6000000000000001, but completion order (3, 2, 1) would give 0.6.
    branches = [
        step("text_to_image", "flux_schnell", cost=0.1, sleep=12),
        step("text_to_image", "flux_schnell", cost=0.2, sleep=6),
        step("text_to_image", "flux_schnell", cost=0.3),
    ]
    result = run(
        tmp_path,
        mode,
        monkeypatch,
        chain_config(group(branches)),
        generators=fake_registry(ParamDriven()),
        clock=VirtualClock(),
    )
    assert result.success is True, result.error
    declared = (0.1 + 0.2) + 0.3
    assert declared != (0.3 + 0.2) + 0.1  # precondition: the order is observable
    group_result = result.step_results[0]
    assert group_result["cost"] == declared
    assert result.total_cost == declared


# ---------------------------------------------------------------------------------------------
# contexts
# ---------------------------------------------------------------------------------------------


def test_prompt_generation_branch_does_not_leak_to_sibling(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Called below validation (mixed output types) so a sibling can read the context."""
    registry, log = recording_stub(("image_to_video", "hailuo"))
    manager = make_manager(tmp_path, mode, monkeypatch, registry)
    group_step = PipelineStep.from_dict(
        group(
            [
                step("prompt_generation", "openrouter_video_cinematic"),
                step("image_to_video", "hailuo"),
            ],
            max_workers=1,  # branch 1 finishes before branch 2 starts, in both schedulers
        )
    )
    context: dict[str, Any] = {"step_label": "step1"}
    result = manager.executor._execute_step(group_step, IMAGE, "image", {}, context)
    assert result["successful_steps"] == 2, result
    generated = result["parallel_results"][0]["result"]["extracted_prompt"]
    assert generated
    (video_request,) = [request for _, request, _ in log]
    assert video_request.params["prompt"] == DEFAULT_VIDEO_PROMPT
    # the selected branch (1, collect_all) carries its context on; the label is restored
    assert context["generated_prompt"] == generated
    assert context["step_label"] == "step1"


def test_selected_branch_prompt_reaches_later_video_step(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, log = recording_stub(("image_to_video", "hailuo"))
    config = chain_config(
        group(
            [
                step("prompt_generation", "openrouter_video_cinematic"),
                step("image_to_image", "photon_flash"),
            ],
            merge_strategy="first_success",
        ),
        step("image_to_video", "hailuo"),
        input_type="image",
    )
    result = run(tmp_path, mode, monkeypatch, config, IMAGE, registry)
    assert result.success is True, result.error
    generated = result.step_results[0]["parallel_results"][0]["result"]["extracted_prompt"]
    (video_request,) = [request for _, request, _ in log]
    assert video_request.params["prompt"] == generated
    # prompt_generation passes the image through: the video step gets the group's input
    assert result.step_results[1]["input_data"] == IMAGE


def test_unselected_branch_context_is_discarded(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, log = recording_stub(("image_to_video", "hailuo"))
    config = chain_config(
        group(
            [
                step("image_to_image", "photon_flash"),
                step("prompt_generation", "openrouter_video_cinematic"),
            ]
        ),
        step("image_to_video", "hailuo"),
        input_type="image",
    )
    result = run(tmp_path, mode, monkeypatch, config, IMAGE, registry)
    assert result.success is True, result.error
    (video_request,) = [request for _, request, _ in log]
    assert video_request.params["prompt"] == DEFAULT_VIDEO_PROMPT
    branch_one = result.step_results[0]["parallel_results"][0]["result"]["output_path"]
    assert result.step_results[1]["input_data"] == branch_one


def test_branch_contexts_are_independent_copies() -> None:
    from ai_content_pipeline.pipeline.groups import branch_context

    plain = {"step_label": "step2", "generated_prompt": "dawn"}
    copy_ = branch_context(plain)
    copy_["generated_prompt"] = "dusk"
    assert plain["generated_prompt"] == "dawn"

    nested = {"step_label": "step2", "notes": {"tags": ["a"]}}
    copy_ = branch_context(nested)
    copy_["notes"]["tags"].append("b")  # a mutable value is copied deeply
    assert nested["notes"]["tags"] == ["a"]


# ---------------------------------------------------------------------------------------------
# file names, identical across schedulers
# ---------------------------------------------------------------------------------------------

NAMING_CHAIN = chain_config(
    step("text_to_image", "flux_schnell"),
    group(
        [
            step("image_to_image", "photon_flash"),
            step("image_to_image", "photon_base", stub_fail="down"),
            step("image_to_image", "seededit_v3"),
        ]
    ),
    step("image_to_video", "hailuo"),
    group(
        [
            step("add_audio", "thinksound"),
            step("upscale_video", "topaz"),
            step("generate_subtitles", "any", subtitle_text="hello world"),
        ],
        max_workers=2,
    ),
)


@pytest.mark.requires_parallel
def test_media_file_names_identical_between_schedulers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trees = {}
    for mode in (SEQUENTIAL, PARALLEL):
        base = tmp_path / mode
        result = run(base, mode, monkeypatch, NAMING_CHAIN)
        assert result.success is True, result.error
        trees[mode] = media_files(base)
    assert trees[SEQUENTIAL] == trees[PARALLEL]
    labels = set()
    for name in trees[SEQUENTIAL]:
        match = MEDIA_NAME.match(name)
        assert match, name
        labels.add(f"step{match[1]}" + (f"_branch{match[2]}" if match[2] else ""))
    assert labels == {
        "step1",
        "step2_branch1",
        "step2_branch3",
        "step3",
        "step4_branch1",
        "step4_branch2",
        "step4_branch3",
    }
    assert not any(
        n.startswith("step2_branch2") for n in trees[SEQUENTIAL]
    )  # the failed branch wrote none


def test_media_file_names_follow_the_label_rule(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, mode, monkeypatch, NAMING_CHAIN)
    assert result.success is True, result.error
    for name in media_files(tmp_path):
        assert MEDIA_NAME.match(name), name
    for record in result.step_results:
        for entry in record.get("parallel_results", []):
            path = entry["result"]["output_path"]
            if path:
                expected = f"step{record['step_number']}_branch{entry['step_index'] + 1}"
                assert Path(path).name.startswith(expected + "_"), path


# ---------------------------------------------------------------------------------------------
# concurrency
# ---------------------------------------------------------------------------------------------


@pytest.mark.perf
@pytest.mark.requires_parallel
def test_parallel_scheduler_really_runs_concurrently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "0.01")  # flux_schnell: 5 s -> 50 ms
    branch_sleep = 0.05
    config = chain_config(
        group(
            [step("text_to_image", "flux_schnell", seed=i) for i in range(8)],
            max_workers=8,
        )
    )
    result = run(tmp_path / "on", PARALLEL, monkeypatch, config)
    assert result.success is True, result.error
    assert result.step_results[0]["successful_steps"] == 8
    assert result.step_results[0]["total_time"] < 4 * branch_sleep

    sequential = run(tmp_path / "off", SEQUENTIAL, monkeypatch, config)
    assert sequential.step_results[0]["total_time"] >= 7 * branch_sleep  # the measure is real


class InFlightTracker:
    """A fake generator that records how many calls run at the same time."""

    def __init__(self, hold: float = 0.05) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.calls = 0

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self.lock:
            self.current += 1
            self.calls += 1
            self.peak = max(self.peak, self.current)
        try:
            time.sleep(self.hold)
        finally:
            with self.lock:
                self.current -= 1
        return GenerationResult(success=True, output_url=f"https://example.invalid/{request.label}")


def test_max_workers_is_respected(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch):
    tracker = InFlightTracker()
    config = chain_config(
        group([step("text_to_image", "flux_schnell", n=i) for i in range(4)], max_workers=2)
    )
    result = run(tmp_path, mode, monkeypatch, config, generators=fake_registry(tracker))
    assert result.success is True, result.error
    assert tracker.calls == 4
    assert tracker.peak <= 2
    assert tracker.peak == (2 if mode == PARALLEL else 1)


# ---------------------------------------------------------------------------------------------
# validation: bad groups are rejected before anything runs
# ---------------------------------------------------------------------------------------------

T2I = step("text_to_image", "flux_schnell")
INVALID_GROUPS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "empty": (group([]), ["no enabled branches", "parallel_steps"]),
    "all_disabled": (
        group([{**T2I, "enabled": False}]),
        ["no enabled branches"],
    ),
    "unknown_strategy": (
        group([T2I], merge_strategy="first_sucess"),
        ["unknown merge strategy 'first_sucess'", "did you mean 'first_success'"],
    ),
    "max_workers_0": (group([T2I], max_workers=0), ["max_workers", "from 1 to 64", "'0'"]),
    "max_workers_65": (group([T2I], max_workers=65), ["max_workers", "from 1 to 64", "'65'"]),
    "max_workers_str": (group([T2I], max_workers="3"), ["max_workers", "integer"]),
    "max_workers_bool": (group([T2I], max_workers=True), ["max_workers", "integer"]),
    "nested": (group([group([T2I])]), ["nested parallel_group"]),
    "mixed_outputs": (
        group([T2I, step("text_to_speech", "elevenlabs")]),
        ["share one output type", "image", "audio"],
    ),
    "branch_input_mismatch": (
        group([T2I, step("image_to_image", "photon_flash")]),
        ["branch 2", "expects image but available data is text"],
    ),
    "duplicate_output_file": (
        group(
            [
                step("text_to_speech", "elevenlabs", output_file="voice.mp3"),
                step("text_to_speech", "elevenlabs_turbo", output_file="voice.mp3"),
            ]
        ),
        ["same output_file 'voice.mp3'", "branch 1"],
    ),
    "unknown_branch_model": (
        group([step("text_to_image", "flux_schnel")]),
        ["unknown model 'flux_schnel'", "did you mean 'flux_schnell'"],
    ),
}


@pytest.mark.parametrize("case", list(INVALID_GROUPS))
def test_invalid_group_is_reported(case: str) -> None:
    group_step, fragments = INVALID_GROUPS[case]
    config = chain_config(group_step)
    messages = [problem.message for problem in find_problems(config)]
    assert len(messages) == 1, messages
    for fragment in fragments:
        assert fragment in messages[0], (fragment, messages[0])
    assert messages[0].startswith("Step 1")
    assert ContentCreationChain.from_config(config).validate() == messages


@pytest.mark.parametrize("case", list(INVALID_GROUPS))
def test_invalid_group_runs_nothing(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    tracker = InFlightTracker(hold=0)
    registry = build_registry("stub")
    for model in ("flux_schnell", "flux_schnel"):
        registry.register("text_to_image", model, tracker)
    # a valid first step proves that nothing at all runs, not just the group
    config = chain_config(step("text_to_image", "flux_dev"), INVALID_GROUPS[case][0])
    manager = make_manager(tmp_path, mode, monkeypatch, registry)
    chain = ContentCreationChain.from_config(config)
    for result in (
        manager.execute_chain(chain, "prompt"),
        manager.executor.execute(chain, "prompt"),
    ):
        assert result.success is False
        assert result.error.startswith("Chain validation failed: ")
        assert result.steps_completed == 0
        assert result.outputs == {}
    assert tracker.calls == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------------------------------------
# without the parallel package (§8 #10)
# ---------------------------------------------------------------------------------------------


def test_groups_run_sequentially_when_parallel_is_blocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_blocked: object
) -> None:
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "true")  # asked for, but not installed
    executor = ChainExecutor(FileManager(str(tmp_path)))
    assert executor._parallel_extension is None
    assert executor.scheduler_name == "sequential"
    config = chain_config(
        group(
            [
                step("text_to_image", "flux_schnell", stub_fail="down"),
                step("text_to_image", "seedream_v3"),
            ],
            merge_strategy="first_success",
        ),
        step("image_to_image", "photon_flash"),
    )
    result = executor.execute(ContentCreationChain.from_config(config), "a prompt")
    assert result.success is True, result.error
    assert result.step_results[0]["selected_branch"] == 2
    assert result.step_results[1]["input_data"] == result.step_results[0]["output_path"]


@pytest.mark.requires_parallel
def test_flag_off_keeps_extension_but_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "false")
    executor = ChainExecutor(FileManager(str(tmp_path)))
    assert executor._parallel_extension is not None
    assert executor._parallel_extension.enabled is False
    assert executor.scheduler_name == "sequential"
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "true")  # read once: no effect now
    assert executor.scheduler_name == "sequential"
