"""`harness.perf`: measurement order, statistics and gate rules, on fake clocks.

Real wall-clock numbers live in `benchmarks/` and in the gate itself; here every timing is
injected, so these tests are fast, exact and safe under xdist.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.config.loader import load_config_file
from ai_content_pipeline.models.stub import JITTER_SEED_ENV, TIME_SCALE_ENV
from ai_content_pipeline.pipeline.chain import ContentCreationChain
from harness import perf
from harness.perf import (
    ABResult,
    PerfGateError,
    PerfThresholds,
    chain_model_seconds,
    ideal_speedup,
    measure_ab,
    pipeline_runner,
    run_perf_gate,
)

REPO = Path(__file__).resolve().parent.parent
INPUT = REPO / "input"
LINEAR = INPUT / "01_text_to_image_basic.yaml"
GROUP = INPUT / "21_text_to_speech_best_quality_group.yaml"


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests use fake clocks, so they may run under xdist; the gate's refusal must not
    # fire for them (one test sets the variable on purpose).
    monkeypatch.delenv(perf.XDIST_WORKER_ENV, raising=False)


class FakeClock:
    """A clock that only moves when a fake runner says it spent time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def chain_of(path: Path) -> ContentCreationChain:
    return ContentCreationChain.from_config(load_config_file(path).data)


# -- measure_ab ------------------------------------------------------------------------------


def test_measure_ab_alternates_order_after_warmup() -> None:
    calls: list[str] = []
    measure_ab(lambda: calls.append("a"), lambda: calls.append("b"), pairs=4, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]


def test_measure_ab_without_warmup_starts_with_a() -> None:
    calls: list[str] = []
    measure_ab(lambda: calls.append("a"), lambda: calls.append("b"), pairs=3, warmup=0)
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_measure_ab_times_each_side_with_the_clock() -> None:
    clock = FakeClock()
    b_durations = iter([9.0, 1.1, 1.2, 0.9, 1.0, 1.5])  # the first is the warmup's

    result = measure_ab(
        lambda: clock.advance(1.0),
        lambda: clock.advance(next(b_durations)),
        pairs=5,
        warmup=1,
        clock=clock,
    )

    assert result.a_times == (1.0,) * 5
    assert result.b_times == pytest.approx((1.1, 1.2, 0.9, 1.0, 1.5))
    assert result.ratios == pytest.approx((1.1, 1.2, 0.9, 1.0, 1.5))
    assert result.median_ratio == pytest.approx(1.1)
    assert result.median_a == 1.0
    assert result.median_b == pytest.approx(1.1)
    # |r - 1.1| = 0, .1, .2, .1, .4 -> MAD .1 -> noise .14826
    assert result.noise == pytest.approx(0.14826)
    assert result.speedup == pytest.approx(1 / 1.1)


def test_ratios_are_per_pair_not_of_medians() -> None:
    result = ABResult((1.0, 2.0, 4.0), (2.0, 2.0, 2.0))
    assert result.ratios == (2.0, 1.0, 0.5)
    assert result.median_ratio == 1.0
    assert result.median_b / result.median_a == 1.0
    assert result.noise == pytest.approx(1.4826 * 0.5)


def test_noise_has_a_floor() -> None:
    assert ABResult((1.0, 1.0, 1.0), (1.0, 1.0, 1.0)).noise == perf.NOISE_FLOOR


def test_zero_times_do_not_divide_by_zero() -> None:
    result = ABResult((0.0, 0.0), (0.0, 1.0))
    assert result.ratios == (1.0, float("inf"))
    json.dumps(result.to_dict())  # still JSON-ready


def test_measure_ab_needs_a_pair() -> None:
    with pytest.raises(ValueError, match="pairs"):
        measure_ab(lambda: None, lambda: None, pairs=0)


# -- thresholds and the timing model ----------------------------------------------------------


def test_on_vs_off_limit_widens_with_noise() -> None:
    limits = PerfThresholds()
    assert limits.on_vs_off_max_ratio(0.01) == pytest.approx(1.05)
    assert limits.on_vs_off_max_ratio(0.04) == pytest.approx(1.12)
    assert limits.min_speedup(4.0) == pytest.approx(3.6)
    assert limits.overhead_max_ratio == 1.25


def test_makespan_is_greedy_list_scheduling_in_order() -> None:
    assert perf.makespan([15, 5, 10], 2) == 15
    assert perf.makespan([5] * 5 + [10] * 5, 8) == 15
    assert perf.makespan([3, 3, 3], 1) == 9
    assert perf.makespan([], 4) == 0


def test_ideal_speedup_of_a_fan_out() -> None:
    # 5 x flux_schnell (5 s) + 5 x seedream_v3 (10 s) on 8 workers -> makespan 15; then 4 s.
    chain = chain_of(INPUT / "15_fan_out_ten_branches.yaml")
    assert chain_model_seconds(chain) == (79.0, 19.0)
    assert ideal_speedup(chain) == pytest.approx(79 / 19)


def test_timing_model_counts_only_steps_that_ran_and_their_attempts() -> None:
    chain = chain_of(INPUT / "09_step_fails_stub_fail.yaml")
    ran = [{"metadata": {}}, {"metadata": {}}]  # step 2 failed; step 3 never ran
    assert chain_model_seconds(chain, ran) == (5.0 + 8.0, 5.0 + 8.0)

    retried = chain_of(INPUT / "10_failing_step_with_retries.yaml")
    first = retried.get_enabled_steps()[0]
    results = [{"metadata": {"attempts": 3}}]
    sequential, _ = chain_model_seconds(retried, results)
    assert sequential == 3 * perf._call_seconds(first)


def test_group_branch_attempts_come_from_parallel_results() -> None:
    chain = chain_of(GROUP)  # two elevenlabs_turbo branches (8 s), two workers
    record = {
        "parallel_results": [
            {"result": {"metadata": {"attempts": 2}}},
            {"result": {"metadata": {}}},
        ]
    }
    assert chain_model_seconds(chain, [record]) == (24.0, 16.0)


# -- the gate, with fake runners ---------------------------------------------------------------


def fake_factory(
    clock: FakeClock, off_seconds: float, on_seconds: Callable[[int], float]
) -> Callable[[Path, bool, float], Callable[[], None]]:
    """Runners that spend fake time: `on_seconds(n)` for the n-th call (1-based) of an on runner.

    At time scale 0 (the overhead check) both sides take 1 s, so only the checks under test move.
    """
    calls = {"on": 0}

    def factory(path: Path, on: bool, scale: float) -> Callable[[], None]:
        def run() -> None:
            if scale == 0:
                clock.advance(1.0)
            elif on:
                calls["on"] += 1
                clock.advance(on_seconds(calls["on"]))
            else:
                clock.advance(off_seconds)

        return run

    return factory


def gate(paths: list[Path], factory: Callable, clock: FakeClock, **kwargs):
    return run_perf_gate(
        paths, runner_factory=factory, clock=clock, pairs=3, overhead_pairs=3, **kwargs
    )


def test_equal_runners_pass_every_check() -> None:
    clock = FakeClock()
    report = gate([LINEAR], fake_factory(clock, 1.0, lambda _n: 1.0), clock)
    assert [(c.name, c.kind) for c in report.checks] == [
        ("01_text_to_image_basic", "on_vs_off"),
        ("corpus", "overhead"),
    ]
    assert report.passed
    assert all(len(c.attempts) == 1 for c in report.checks)


def test_a_deliberately_slowed_on_runner_fails_on_vs_off() -> None:
    clock = FakeClock()
    report = gate([LINEAR], fake_factory(clock, 1.0, lambda _n: 1.3), clock)
    check = report.checks[0]
    assert check.kind == "on_vs_off"
    assert not check.passed
    assert check.measured == pytest.approx(1.3)
    assert check.threshold == pytest.approx(1.05)
    assert "failed twice" in check.detail
    assert len(check.attempts) == 2
    assert not report.passed
    assert report.failures == [check]


def test_a_failing_check_is_measured_once_more_before_it_fails() -> None:
    clock = FakeClock()
    # The first measurement (1 warmup + 3 pairs = 4 on-calls) is slow, the re-measure is not.
    factory = fake_factory(clock, 1.0, lambda n: 1.3 if n <= 4 else 1.0)
    report = gate([LINEAR], factory, clock)
    check = report.checks[0]
    assert check.passed
    assert check.measured == pytest.approx(1.0)
    assert "passed on re-measure" in check.detail
    assert "attempt 1: on/off 1.300" in check.detail
    assert "attempt 2: on/off 1.000" in check.detail
    assert [a["passed"] for a in check.attempts] == [False, True]
    assert report.passed


def test_noise_widens_the_on_vs_off_limit() -> None:
    clock = FakeClock()
    # On/off ratios 1.0, 1.05, 1.1 -> median 1.05, MAD 0.05 -> noise 0.074 -> limit 1.222.
    durations = {1: 1.0, 2: 1.0, 3: 1.05, 4: 1.1}
    report = gate([LINEAR], fake_factory(clock, 1.0, lambda n: durations.get(n, 1.0)), clock)
    check = report.checks[0]
    assert check.passed
    assert check.measured == pytest.approx(1.05)
    assert check.threshold == pytest.approx(1 + 3 * 1.4826 * 0.05)


def test_noise_never_widens_the_limit_past_the_cap() -> None:
    clock = FakeClock()
    # Ratios 1.0, 1.3, 1.6 would give noise 0.44 -> uncapped limit 2.33; the cap keeps 1.25.
    durations = {1: 1.0, 2: 1.0, 3: 1.3, 4: 1.6}
    report = gate([LINEAR], fake_factory(clock, 1.0, lambda n: durations.get(n, 1.0)), clock)
    first = report.checks[0].attempts[0]
    assert first["threshold"] == pytest.approx(1.25)
    assert first["measured"] == pytest.approx(1.3)
    assert not first["passed"]


def test_short_pipelines_get_more_pairs() -> None:
    from harness.perf import _pairs_for

    assert _pairs_for(0.008, 3, 0.1) == 13
    assert _pairs_for(0.5, 3, 0.1) == 3
    assert _pairs_for(0.0001, 3, 0.1) == 15


def test_group_yaml_gets_a_speedup_check_against_the_ideal() -> None:
    clock = FakeClock()
    # A huge group scale makes the (fake, 1 s) serial part negligible: ideal -> model ideal 2.0.
    fast = gate([GROUP], fake_factory(clock, 1.0, lambda _n: 0.5), clock, group_time_scale=1e6)
    kinds = {c.kind: c for c in fast.checks}
    assert set(kinds) == {"on_vs_off", "speedup", "overhead"}
    assert kinds["speedup"].passed
    assert kinds["speedup"].measured == pytest.approx(2.0)
    assert kinds["speedup"].threshold == pytest.approx(0.9 * 2.0, rel=1e-4)

    clock = FakeClock()
    slow = gate([GROUP], fake_factory(clock, 1.0, lambda _n: 0.7), clock, group_time_scale=1e6)
    speedup = next(c for c in slow.checks if c.kind == "speedup")
    assert not speedup.passed
    assert len(speedup.attempts) == 2
    assert next(c for c in slow.checks if c.kind == "on_vs_off").passed


def test_overhead_check_compares_whole_corpus_runs_at_scale_zero() -> None:
    clock = FakeClock()
    scales: list[tuple[bool, float]] = []

    def factory(path: Path, on: bool, scale: float) -> Callable[[], None]:
        scales.append((on, scale))
        return lambda: clock.advance(1.3 if (on and scale == 0) else 1.0)

    report = gate([LINEAR, GROUP], factory, clock, time_scale=0.002, group_time_scale=0.002)
    overhead = report.checks[-1]
    assert overhead.kind == "overhead"
    assert overhead.measured == pytest.approx(1.3)  # 2 x 1.3 / 2 x 1.0
    assert not overhead.passed
    # corpus runs at scale 0, plus the group's serial-part probe (off, scale 0)
    assert scales.count((True, 0.0)) == 2 and scales.count((False, 0.0)) == 3
    assert scales.count((True, 0.002)) == 2


def test_report_is_json_ready() -> None:
    clock = FakeClock()
    report = gate([GROUP], fake_factory(clock, 1.0, lambda _n: 1.3), clock)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False
    assert data["settings"]["thresholds"]["speedup_fraction"] == 0.9
    assert {c["kind"] for c in data["checks"]} == {"on_vs_off", "speedup", "overhead"}
    assert "FAIL" in report.summary()


def test_gate_refuses_to_run_under_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(perf.XDIST_WORKER_ENV, "gw1")
    called: list[Path] = []

    def factory(path: Path, on: bool, scale: float) -> Callable[[], None]:
        called.append(path)
        return lambda: None

    with pytest.raises(PerfGateError, match=r"serially.*xdist.*gw1"):
        run_perf_gate([LINEAR], runner_factory=factory)
    assert called == []


# -- the in-process runner ---------------------------------------------------------------------


@pytest.mark.requires_parallel
def test_pipeline_runner_sets_flag_at_construction_and_restores_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PARALLEL_ENV_VAR, "false")
    monkeypatch.setenv(JITTER_SEED_ENV, "7")
    monkeypatch.delenv(TIME_SCALE_ENV, raising=False)
    before = dict(os.environ)

    with pipeline_runner(GROUP, parallel_on=True, time_scale=0.0) as run:
        assert dict(os.environ) == before
        assert run.manager.executor.flag_state.enabled
        assert run.scheduler_name == "async"
        run()
        run()
        assert dict(os.environ) == before
        assert run.last_result is not None and run.last_result.success
        runs = sorted(p.name for p in (run.workdir / "runs").iterdir())
        assert runs == ["00001", "00002"]
        workdir = run.workdir
    assert not workdir.exists()

    with pipeline_runner(LINEAR, parallel_on=False, time_scale=0.0) as run:
        assert run.scheduler_name == "sequential"


def test_pipeline_runner_resolves_media_inputs_against_the_yaml_folders_parent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the corpus's relative paths do not exist here
    path = INPUT / "03_image_understanding_to_speech.yaml"
    with pipeline_runner(path, parallel_on=False, time_scale=0.0) as run:
        assert Path(run.input_data).is_file()
        assert Path(run.input_data).is_relative_to(REPO / "input" / "assets")


def test_pipeline_runner_names_a_missing_input(tmp_path: Path) -> None:
    config = load_config_file(INPUT / "03_image_understanding_to_speech.yaml").data
    yaml_path = tmp_path / "sub" / "x.yaml"
    yaml_path.parent.mkdir()
    yaml_path.write_text(
        (INPUT / "03_image_understanding_to_speech.yaml")
        .read_text()
        .replace(config["input_image"], "nowhere/missing.png")
    )
    with pytest.raises(PerfGateError, match=r"missing\.png"):
        pipeline_runner(yaml_path, parallel_on=False, time_scale=0.0)


def test_median_helpers_agree_with_statistics() -> None:
    result = ABResult((3.0, 1.0, 2.0, 4.0), (1.0, 1.0, 1.0, 1.0))
    assert result.median_a == statistics.median([3.0, 1.0, 2.0, 4.0])


def test_wall_ideal_speedup_is_amdahl() -> None:
    from harness.perf import wall_ideal_speedup

    # 100 model-s sequential, 25 critical, scale 0.001, 25 ms of executor work that cannot overlap
    assert wall_ideal_speedup(100, 25, 0.001, 0.025) == pytest.approx(0.125 / 0.050)
    assert wall_ideal_speedup(100, 25, 0.001, 0.0) == pytest.approx(4.0)
    assert wall_ideal_speedup(0, 0, 0.001, 0.0) == 1.0


def test_session_noise_pools_pair_ratios_around_each_pipelines_median() -> None:
    from harness.perf import ABResult, session_noise_of

    def ab(ratios: list[float]) -> ABResult:
        return ABResult(a_times=[1.0] * len(ratios), b_times=list(ratios))

    steady = session_noise_of([ab([1.0, 1.0, 1.0]), ab([2.0, 2.0, 2.0])])
    assert steady == 0.0  # each pipeline constant: no noise, whatever its own level
    noisy = session_noise_of([ab([1.0, 1.1, 0.9]), ab([1.0, 1.2, 0.8])])
    assert noisy == pytest.approx(1.4826 * 0.1)
    assert session_noise_of([ab([1.0, 1.5])]) == 0.0  # too few pairs to say anything


def test_pipelines_that_sleep_real_seconds_are_left_out(tmp_path: Path) -> None:
    """`stub_delay` sleeps real, unscaled seconds: the wall-clock phase must not time it."""
    from harness.perf import waits_real_time

    corpus = Path(__file__).resolve().parents[1] / "input"
    assert waits_real_time(corpus / "25_group_timeout_retry.yaml")
    assert not waits_real_time(corpus / "15_fan_out_ten_branches.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [", encoding="utf-8")
    assert not waits_real_time(broken)
