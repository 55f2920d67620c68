"""How `ChainExecutor.execute` walks a chain (spec §2.3, §2.5, §7, §8 #6, #16, #17, #19).

Retries, disabled steps, intermediates and URL downloads, temp handling, where files land,
failure reporting, unwritable report folders and Ctrl-C. Runs offline on the stub backend;
scheduler-sensitive behaviour runs under both schedulers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scheduler_modes import MODES, PARALLEL, SEQUENTIAL, make_manager, step

from ai_content_pipeline.clock import VirtualClock
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult
from ai_content_pipeline.models.registry import GeneratorRegistry, build_registry
from ai_content_pipeline.models.stub import fetch_stub_url
from ai_content_pipeline.pipeline.chain import ChainResult, ContentCreationChain
from ai_content_pipeline.pipeline.validation import find_problems


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "0")
    monkeypatch.delenv("AICP_STUB_JITTER_SEED", raising=False)
    monkeypatch.setenv("PIPELINE_PARALLEL_ENABLED", "false")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def chain_of(*steps: dict[str, Any], **top: Any) -> ContentCreationChain:
    return ContentCreationChain.from_config({"name": "behaviour", "steps": list(steps), **top})


def run(
    base: Path,
    monkeypatch: pytest.MonkeyPatch,
    *steps: dict[str, Any],
    generators: GeneratorRegistry | None = None,
    input_data: str = "a red kite over a beach",
    **top: Any,
) -> ChainResult:
    manager = make_manager(base, SEQUENTIAL, monkeypatch, generators)
    return manager.execute_chain(chain_of(*steps, **top), input_data)


def execution_reports(base: Path) -> list[dict[str, Any]]:
    folder = base / "output" / "reports"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*_exec_*_report.json"))]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


class CallCounter:
    """Wraps a generator and counts its calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self.lock:
            self.calls += 1
        return self.inner.generate(request)


def counting_stub(*keys: tuple[str, str]) -> tuple[GeneratorRegistry, dict[str, CallCounter]]:
    registry = build_registry("stub")
    counters = {}
    for step_type, model in keys:
        counters[model] = CallCounter(registry.get(step_type, model))
        registry.register(step_type, model, counters[model])
    return registry, counters


class Flaky:
    """Fails `failures` times, then succeeds; every call costs `cost`."""

    def __init__(self, failures: int, cost: float) -> None:
        self.failures = failures
        self.cost = cost
        self.calls = 0

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.calls += 1
        if self.calls <= self.failures:
            return GenerationResult(success=False, cost=self.cost, error=f"flake {self.calls}")
        return GenerationResult(
            success=True, cost=self.cost, output_url="https://example.invalid/ok.png"
        )


# ---------------------------------------------------------------------------------------------
# retries (§8 #17)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_failing_step_makes_retry_count_plus_one_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    registry, counters = counting_stub(("image_to_image", "flux_kontext"))
    failing = {
        **step("image_to_image", "flux_kontext", stub_fail="edit refused"),
        "retry_count": retries,
    }
    result = run(
        tmp_path, monkeypatch, step("text_to_image", "flux_dev"), failing, generators=registry
    )
    attempts = retries + 1
    assert counters["flux_kontext"].calls == attempts
    assert result.success is False
    assert result.error == "Step 2 failed: edit refused"
    failed = result.step_results[1]
    assert failed["cost"] == pytest.approx(0.025 * attempts)
    assert result.total_cost == pytest.approx(0.003 + 0.025 * attempts)
    report = execution_reports(tmp_path)[0]
    assert report["cost_breakdown"]["by_step"][1]["cost_usd"] == pytest.approx(0.025 * attempts)


def test_succeeding_step_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    registry, counters = counting_stub(("text_to_image", "flux_dev"))
    result = run(
        tmp_path,
        monkeypatch,
        {**step("text_to_image", "flux_dev"), "retry_count": 3},
        generators=registry,
    )
    assert result.success is True, result.error
    assert counters["flux_dev"].calls == 1
    assert result.total_cost == pytest.approx(0.003)


def test_retry_recovers_and_charges_every_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(failures=2, cost=0.5)
    registry = GeneratorRegistry("fake")
    registry.register("text_to_image", "flux_dev", flaky)
    result = run(
        tmp_path,
        monkeypatch,
        {**step("text_to_image", "flux_dev"), "retry_count": 2},
        generators=registry,
    )
    assert result.success is True, result.error
    assert flaky.calls == 3
    assert result.total_cost == pytest.approx(1.5)
    assert result.step_results[0]["cost"] == pytest.approx(1.5)


# ---------------------------------------------------------------------------------------------
# times are measured on the executor's clock
# ---------------------------------------------------------------------------------------------


def test_processing_times_are_measured_on_the_executors_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """On the virtual clock every measured time is exact model seconds: the latency of each
    attempt, a timeout's cut, a group's makespan (sequential sum, or the concurrent max)."""
    monkeypatch.setenv("AICP_STUB_TIME_SCALE", "1")
    flux = step("text_to_image", "flux_schnell")  # 5 s
    group = step(
        "parallel_group",
        "parallel",
        parallel_steps=[
            step("image_to_image", "photon_flash"),  # 8 s
            step("image_to_image", "seededit_v3"),  # 10 s
        ],
    )
    runs = {
        "retries": (
            [flux, {**step("image_to_image", "photon_flash", stub_fail="no"), "retry_count": 2}],
            [5.0, 3 * 8.0],
        ),
        "timeouts": (
            [
                flux,
                {
                    **step("image_to_image", "photon_flash", stub_delay=100, timeout=2),
                    "retry_count": 1,
                },
            ],
            [5.0, 2 * 2.0],
        ),
        "group": (
            [flux, group, step("image_to_video", "hailuo")],  # hailuo: 60 s
            [5.0, 10.0 if mode == PARALLEL else 18.0, 60.0],
        ),
    }
    started = time.perf_counter()
    for name, (steps, expected) in runs.items():
        clock = VirtualClock()
        manager = make_manager(tmp_path / name, mode, monkeypatch, clock=clock)
        try:
            result = manager.execute_chain(chain_of(*steps), "a prompt")
        finally:
            manager.executor.close()
        assert result.success is (name == "group"), (name, result.error)
        assert [r["processing_time"] for r in result.step_results] == expected, name
        assert result.total_time == sum(expected) == clock.now(), name
        summary = execution_reports(tmp_path / name)[0]["execution_summary"]
        assert summary["total_processing_time_seconds"] == round(sum(expected), 2)
    assert time.perf_counter() - started < 2.0  # minutes of model time, no wall time


# ---------------------------------------------------------------------------------------------
# disabled steps and numbering (§7, §8 #16)
# ---------------------------------------------------------------------------------------------

DISABLED_MIDDLE = (
    step("text_to_image", "flux_schnell"),
    {**step("image_to_image", "photon_base"), "enabled": False},
    step("image_to_image", "seededit_v3"),
)


def test_disabled_steps_are_skipped_and_numbering_uses_enabled_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, counters = counting_stub(("image_to_image", "photon_base"))
    result = run(tmp_path, monkeypatch, *DISABLED_MIDDLE, generators=registry)
    assert result.success is True, result.error
    assert counters["photon_base"].calls == 0
    assert result.total_steps == 2
    assert result.steps_completed == 2
    assert list(result.outputs) == ["step_1_text_to_image", "step_2_image_to_image"]
    assert [r["step_number"] for r in result.step_results] == [1, 2]
    assert result.outputs["step_2_image_to_image"]["model"] == "seededit_v3"
    media = [p.name for p in files_under(tmp_path / "output") if "reports" not in p.parts]
    assert sorted(n.split("_")[0] for n in media) == ["step1", "step2"]
    summary = execution_reports(tmp_path)[0]["execution_summary"]
    assert (summary["total_steps"], summary["completed_steps"]) == (2, 2)


def test_intermediate_reports_are_labelled_from_enabled_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, monkeypatch, *DISABLED_MIDDLE, save_intermediates=True)
    assert result.success is True, result.error
    reports_dir = tmp_path / "output" / "reports"
    intermediates = sorted(reports_dir.glob("behaviour_step*_intermediate_*.json"))
    assert [p.name.split("_")[1] for p in intermediates] == ["step1", "step2"]
    for number, path in enumerate(intermediates, start=1):
        report = json.loads(path.read_text())
        assert report["report_type"] == "intermediate"
        summary = report["execution_summary"]
        assert summary["status"] == "in_progress"
        assert summary["current_step"] == number
        assert summary["completed_steps"] == number
        assert summary["total_steps"] == 2
        assert summary["execution_id"].startswith("intermediate_")
        done = report["completed_steps"]
        assert [s["step_number"] for s in done] == list(range(1, number + 1))
        assert done[-1]["model"] == ("flux_schnell", "seededit_v3")[number - 1]
        assert report["metadata"]["save_intermediates"] is True


def test_no_intermediate_reports_without_save_intermediates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, monkeypatch, *DISABLED_MIDDLE)
    assert result.success is True, result.error
    assert list((tmp_path / "output" / "reports").glob("*intermediate*")) == []


# ---------------------------------------------------------------------------------------------
# URL-only results (§7)
# ---------------------------------------------------------------------------------------------


def test_url_only_result_is_downloaded_and_next_step_gets_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(
        tmp_path,
        monkeypatch,
        step("text_to_image", "flux_schnell", stub_url_only=True),
        step("image_to_image", "photon_flash"),
        save_intermediates=True,
    )
    assert result.success is True, result.error
    first = result.outputs["step_1_text_to_image"]
    url = first["url"]
    assert url and url.startswith("stub://")
    path = Path(first["path"])
    assert path.parent == tmp_path / "output" / "intermediates"
    assert path.name.startswith("step1_")
    assert path.read_bytes() == fetch_stub_url(url)
    assert result.step_results[1]["input_data"] == url  # the next step still gets the URL
    step1_report = next((tmp_path / "output" / "reports").glob("behaviour_step1_*.json"))
    output = json.loads(step1_report.read_text())["completed_steps"][0]["output"]
    assert output["path"] == str(path)
    assert output["url"] == url


def test_url_only_result_is_not_downloaded_without_save_intermediates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(
        tmp_path,
        monkeypatch,
        step("text_to_image", "flux_schnell", stub_url_only=True),
        step("image_to_image", "photon_flash"),
    )
    assert result.success is True, result.error
    assert result.outputs["step_1_text_to_image"]["path"] is None
    assert not (tmp_path / "output" / "intermediates").exists()


# ---------------------------------------------------------------------------------------------
# temp dir (§8 #17)
# ---------------------------------------------------------------------------------------------

URL_STEP = step("text_to_image", "flux_schnell", stub_url_only=True)


@pytest.mark.parametrize("temp_dir", [None, "scratch"])
def test_temp_dir_removed_when_cleanup_temp_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temp_dir: str | None
) -> None:
    extra = {"temp_dir": temp_dir} if temp_dir else {}
    result = run(tmp_path, monkeypatch, URL_STEP, save_intermediates=True, **extra)
    assert result.success is True, result.error
    assert Path(result.outputs["step_1_text_to_image"]["path"]).is_file()
    assert not (tmp_path / "output" / (temp_dir or "temp")).exists()


@pytest.mark.parametrize("temp_dir", [None, "scratch"])
def test_temp_dir_kept_when_cleanup_temp_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temp_dir: str | None
) -> None:
    extra = {"temp_dir": temp_dir} if temp_dir else {}
    result = run(
        tmp_path, monkeypatch, URL_STEP, save_intermediates=True, cleanup_temp=False, **extra
    )
    assert result.success is True, result.error
    assert (tmp_path / "output" / (temp_dir or "temp")).is_dir()


# ---------------------------------------------------------------------------------------------
# where files land
# ---------------------------------------------------------------------------------------------


def test_every_written_file_is_inside_output_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(
        tmp_path,
        monkeypatch,
        step("text_to_image", "flux_schnell", stub_url_only=True),
        step("prompt_generation", "openrouter_video_cinematic"),
        step(
            "parallel_group",
            "parallel",
            parallel_steps=[
                step("image_to_video", "hailuo", output_dir="videos"),
                step("image_to_video", "kling", duration="10"),
            ],
        ),
        step("generate_subtitles", "any", format="vtt", output_dir="subs"),
        save_intermediates=True,
        cleanup_temp=False,
    )
    assert result.success is True, result.error
    written = files_under(tmp_path)
    assert written
    outside = [p for p in written if not p.is_relative_to(tmp_path / "output")]
    assert outside == []
    assert any(p.parent == tmp_path / "output" / "videos" for p in written)
    assert any(p.suffix == ".vtt" and p.parent == tmp_path / "output" / "subs" for p in written)


@pytest.mark.parametrize("escape", ["../escape", "/tmp/aicp_escape", "sub/../../escape"])
def test_params_output_dir_escape_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, escape: str
) -> None:
    config = {"name": "esc", "steps": [step("text_to_image", "flux_schnell", output_dir=escape)]}
    problems = find_problems(config)
    assert len(problems) == 1
    assert "output_dir" in problems[0].message
    assert escape in problems[0].message
    result = run(tmp_path, monkeypatch, *config["steps"])
    assert result.success is False
    assert result.error.startswith("Chain validation failed: ")
    assert files_under(tmp_path) == []
    assert not (tmp_path.parent / "escape").exists()


# ---------------------------------------------------------------------------------------------
# failures and reports (§2.3, §7, §8 #6)
# ---------------------------------------------------------------------------------------------


def test_failing_step_stops_the_run_and_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, counters = counting_stub(("image_to_video", "hailuo"))
    result = run(
        tmp_path,
        monkeypatch,
        step("text_to_image", "flux_schnell"),
        step("image_to_image", "photon_flash", stub_fail="model overloaded"),
        step("image_to_video", "hailuo"),
        generators=registry,
    )
    assert result.success is False
    assert result.error == "Step 2 failed: model overloaded"
    assert result.steps_completed == 1
    assert result.total_steps == 3
    assert [r["success"] for r in result.step_results] == [True, False]
    assert result.step_results[1]["error"] == "model overloaded"
    assert counters["hailuo"].calls == 0
    assert list(result.outputs) == ["step_1_text_to_image"]
    assert result.total_cost == pytest.approx(0.001 + 0.02)  # the failed call is charged
    (report,) = execution_reports(tmp_path)
    summary = report["execution_summary"]
    assert summary["status"] == "failed"
    assert summary["error"] == "Step 2 failed: model overloaded"
    assert (summary["completed_steps"], summary["total_steps"]) == (1, 3)
    details = report["step_execution_details"]
    assert [d["status"] for d in details] == ["success", "failed"]
    assert details[1]["error"] == "model overloaded"


@pytest.mark.parametrize("save_intermediates", [False, True])
def test_unwritable_reports_location_does_not_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, save_intermediates: bool
) -> None:
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "reports").write_text("I am a file, not a folder")
    manager = make_manager(tmp_path, SEQUENTIAL, monkeypatch)
    chain = chain_of(
        step("text_to_image", "flux_schnell"),
        step("image_to_image", "photon_flash"),
        save_intermediates=save_intermediates,
    )
    result = manager.execute_chain(chain, "a prompt")
    assert result.success is True, result.error
    assert result.steps_completed == 2
    error = manager.executor.last_report_error
    assert error
    assert "reports" in error
    assert (tmp_path / "output" / "reports").read_text() == "I am a file, not a folder"


def test_successful_report_write_records_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_manager(tmp_path, SEQUENTIAL, monkeypatch)
    result = manager.execute_chain(chain_of(step("text_to_image", "flux_schnell")), "a prompt")
    assert result.success is True
    assert manager.executor.last_report_error is None
    assert manager.executor.last_report_path is not None
    assert Path(manager.executor.last_report_path).is_file()


def test_report_status_describes_the_latest_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`last_report_path` / `last_report_error` must not carry over from an earlier run."""
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "reports").write_text("a file where the reports folder should be")
    manager = make_manager(tmp_path, SEQUENTIAL, monkeypatch)
    executor = manager.executor

    def chain(output_dir: str) -> ContentCreationChain:
        return chain_of(step("text_to_image", "flux_schnell"), output_dir=output_dir)

    assert manager.execute_chain(chain("good"), "a prompt").success is True
    first_report = executor.last_report_path
    assert first_report is not None and executor.last_report_error is None

    assert manager.execute_chain(chain("bad"), "a prompt").success is True
    assert executor.last_report_error
    assert executor.last_report_path != first_report, "points at the previous run's report"

    assert manager.execute_chain(chain("good"), "a prompt").success is True
    assert executor.last_report_error is None, "a stale error from the previous run"
    assert executor.last_report_path not in (None, first_report)


# ---------------------------------------------------------------------------------------------
# Ctrl-C: the call in flight is stopped and not charged; the interrupted step (or group) is
# still recorded, so the report accounts for every charge and every file
# ---------------------------------------------------------------------------------------------


class Interrupting:
    """A call that Ctrl-C stops: raises `KeyboardInterrupt` after `delay` (on whichever thread
    runs it, as a signal delivered during a blocking call would on the main thread)."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.cancelled: list[threading.Event] = []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.cancelled.append(request.cancelled)
        time.sleep(self.delay)
        raise KeyboardInterrupt


class Slow:
    """Succeeds after `delay` of real time, charging `cost`; records whether it finished."""

    def __init__(self, delay: float, cost: float = 0.7) -> None:
        self.delay = delay
        self.cost = cost
        self.finished = threading.Event()
        self.cancelled: list[threading.Event] = []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.cancelled.append(request.cancelled)
        time.sleep(self.delay)
        self.finished.set()
        return GenerationResult(
            success=True, output_url="https://example.invalid/slow.png", cost=self.cost
        )


WHERE = ["plain_step", "plain_step_with_timeout", "group_branch"]
OUR_THREADS = ("aicp-step", "aicp-group-loop")  # timeout threads, a loop's helper thread


def files_on_disk(base: Path) -> list[str]:
    """Every file of the run's output folder, relative, except the execution report itself."""
    root = base / "output"
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith("_report.json")
    )


def wait_for_our_threads_to_end(before: set[int | None]) -> list[str]:
    deadline = time.monotonic() + 2.0
    while True:
        leftover = [
            t.name
            for t in threading.enumerate()
            if t.name.startswith(OUR_THREADS) and t.ident not in before
        ]
        if not leftover or time.monotonic() > deadline:
            return leftover
        time.sleep(0.01)


def three_branches_on_two_workers() -> dict[str, Any]:
    """A group of three image_to_image branches (photon_base, flux_kontext, seededit_v3) on
    two workers: the third starts only when one of the first two has ended."""
    return step(
        "parallel_group",
        "parallel",
        max_workers=2,
        parallel_steps=[
            step("image_to_image", "photon_base"),
            step("image_to_image", "flux_kontext"),
            step("image_to_image", "seededit_v3"),
        ],
    )


@pytest.mark.parametrize("where", WHERE)
def test_keyboard_interrupt_records_the_interrupted_step_then_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, where: str
) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    registry, counters = counting_stub(("image_to_video", "hailuo"))
    interrupting = Interrupting()
    registry.register("image_to_image", "flux_kontext", interrupting)
    slow = Slow(0.2)
    registry.register("image_to_image", "photon_base", slow)
    manager = make_manager(tmp_path, mode, monkeypatch, registry)
    if where == "group_branch":
        second = three_branches_on_two_workers()  # the third waits for a worker: never starts
    elif where == "plain_step_with_timeout":
        second = step("image_to_image", "flux_kontext", timeout=5)
    else:
        second = step("image_to_image", "flux_kontext")
    chain = chain_of(
        step("text_to_image", "flux_schnell"), second, step("image_to_video", "hailuo")
    )
    with pytest.raises(KeyboardInterrupt):
        manager.execute_chain(chain, "a prompt")
    manager.executor.close()

    (report,) = execution_reports(tmp_path)
    summary = report["execution_summary"]
    assert summary["status"] == "failed"
    assert summary["error"] == "Execution interrupted by user"
    assert summary["completed_steps"] == 1
    assert report["interrupted"] is True
    assert report["files_present"] == files_on_disk(tmp_path)
    assert any(name.startswith("step1_") for name in report["files_present"])
    details = report["step_execution_details"]
    assert [d["step_type"] for d in details] == ["text_to_image", second["type"]]
    interrupted = details[1]
    assert interrupted["status"] == "failed"
    assert interrupted["error"] == "Execution interrupted by user"
    assert counters["hailuo"].calls == 0  # nothing runs after the interrupted step
    assert all(flag.is_set() for flag in interrupting.cancelled)  # its cancel flag is set
    if where == "group_branch":
        branches = interrupted["parallel_branches"]
        assert [b["model"] for b in branches] == ["photon_base", "flux_kontext", "seededit_v3"]
        assert branches[1]["error"] == "Execution interrupted by user"
        assert branches[1]["cost"] == 0.0  # the stopped call is not charged
        assert branches[2]["error"] == "not started: execution interrupted by user"
        assert branches[2]["cost"] == 0.0
        # The sibling that was already running when its neighbour raised finished and was
        # charged (a branch's own interrupt stops no other call); it is in the report.
        assert slow.finished.is_set()
        assert branches[0]["status"] == "success"
        assert branches[0]["cost"] == pytest.approx(0.7)
        assert interrupted["cost"] == pytest.approx(0.7)
    else:
        assert interrupted["cost"] == 0.0
    by_step = [entry["cost_usd"] for entry in report["cost_breakdown"]["by_step"]]
    assert summary["total_cost_usd"] == pytest.approx(sum(by_step))
    assert wait_for_our_threads_to_end(threads_before) == []


@pytest.mark.requires_parallel
def test_ctrl_c_in_an_async_group_abandons_sync_calls_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT while the `async` scheduler runs a group of sync generators: the calls in
    flight are cancelled at once (their threads abandoned, cancel flags set, nothing charged),
    the waiting branch never starts, and the whole group is in the report."""
    registry = build_registry("stub")
    slow = Slow(1.0)
    registry.register("image_to_image", "photon_base", slow)
    registry.register("image_to_image", "flux_kontext", slow)
    registry.register("image_to_image", "seededit_v3", slow)
    manager = make_manager(tmp_path, PARALLEL, monkeypatch, registry)
    chain = chain_of(
        step("text_to_image", "flux_schnell"),
        three_branches_on_two_workers(),
    )
    main = threading.main_thread().ident
    timer = threading.Timer(0.1, lambda: signal.pthread_kill(main, signal.SIGINT))
    started = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            manager.execute_chain(chain, "a prompt")
        took = time.perf_counter() - started
    finally:
        timer.cancel()
        manager.executor.close()
    assert took < 0.8, f"waited {took:.2f} s for calls that were cancelled"
    assert not slow.finished.is_set()  # abandoned, not waited for
    assert len(slow.cancelled) == 2 and all(flag.is_set() for flag in slow.cancelled)
    (report,) = execution_reports(tmp_path)
    assert report["interrupted"] is True
    group_detail = report["step_execution_details"][1]
    branches = group_detail["parallel_branches"]
    assert [b["error"] for b in branches] == [
        "Execution interrupted by user",
        "Execution interrupted by user",
        "not started: execution interrupted by user",
    ]
    assert [b["cost"] for b in branches] == [0.0, 0.0, 0.0]
    assert report["execution_summary"]["total_cost_usd"] == pytest.approx(0.001)  # step 1


def test_a_second_ctrl_c_while_the_report_is_written_exits_at_once(tmp_path: Path) -> None:
    """The first Ctrl-C makes the executor write the interrupted run's report; a second one
    during that write ends the process with 130 instead of waiting for it."""
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        from ai_content_pipeline.models.protocol import GenerationResult
        from ai_content_pipeline.models.registry import build_registry
        from ai_content_pipeline.pipeline import reports
        from ai_content_pipeline.pipeline.chain import ContentCreationChain
        from ai_content_pipeline.pipeline.executor import ChainExecutor
        from ai_content_pipeline.utils.file_manager import FileManager

        class Interrupting:
            def generate(self, request):
                raise KeyboardInterrupt

        def slow_write(path, report):
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C
            time.sleep(30)
            print("the write was waited for")

        reports.write_report = slow_write
        registry = build_registry("stub")
        registry.register("text_to_image", "flux_schnell", Interrupting())
        executor = ChainExecutor(FileManager(sys.argv[1]), generators=registry)
        chain = ContentCreationChain.from_config(
            {"name": "twice", "steps": [{"type": "text_to_image", "model": "flux_schnell"}]}
        )
        executor.execute(chain, "a prompt")
        print("returned")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert time.perf_counter() - started < 15
    assert done.returncode == 130, done.stdout + done.stderr
    assert "interrupted again: exiting without waiting" in done.stderr
    assert done.stdout == ""


def test_output_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative output_dir is under the file manager's base, absolute stays; with no base the
    current directory counts at each call (it is never cached)."""
    from ai_content_pipeline.pipeline.executor import ChainExecutor
    from ai_content_pipeline.utils.file_manager import FileManager

    executor = ChainExecutor(FileManager(str(tmp_path / "base")))
    assert executor._output_root_from_config({"output_dir": "out"}) == tmp_path / "base" / "out"
    assert executor._output_root_from_config({}) == tmp_path / "base" / "output"
    elsewhere = tmp_path / "abs"
    assert executor._output_root_from_config({"output_dir": str(elsewhere)}) == elsewhere
    assert executor._output_root_from_config({"output_dir": Path("p")}) == tmp_path / "base" / "p"

    class NoBase:
        base_dir = None

    executor.file_manager = NoBase()  # type: ignore[assignment]
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert executor._output_root_from_config({"output_dir": "o"}) == tmp_path / folder / "o"
