"""The wall-clock phase: its statistics, the release extraction, the worker protocol and the
failures it reports. Verdicts on real timings are left to the perf-marked gate self-test and
to the gate itself; these tests check what the phase measures and says, never how fast."""

from __future__ import annotations

import ast
import itertools
import math
import random
import re
import subprocess
from pathlib import Path

import pytest

from harness import perf
from harness.baseline import extract_release, repository_of
from harness.perf import PerfGateError, PerfLimits, run_perf_gate, waits_real_time
from harness.stats import compare, mann_whitney_greater

REPO = Path(__file__).resolve().parent.parent
INPUT = REPO / "input"
LINEAR = INPUT / "01_text_to_image_basic.yaml"
GROUP = INPUT / "21_text_to_speech_best_quality_group.yaml"
QUICK = PerfLimits(rounds=2, fanout_rounds=1)


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests decide nothing on timings, so they may run under xdist; the phase's refusal
    # must not fire for them (one test sets the variable on purpose).
    monkeypatch.delenv(perf.XDIST_WORKER_ENV, raising=False)


# -- the significance test ----------------------------------------------------------------------


def brute_force_p(baseline: list[float], candidate: list[float]) -> float:
    """P(U >= observed) by relabelling the pooled values every possible way."""
    pooled = baseline + candidate

    def u_of(cand: list[float], base: list[float]) -> float:
        return sum(1.0 if c > b else 0.5 if c == b else 0.0 for b in base for c in cand)

    observed = u_of(candidate, baseline)
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(candidate)):
        cand = [pooled[i] for i in chosen]
        base = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        hits += u_of(cand, base) >= observed - 1e-9
    return hits / total


@pytest.mark.parametrize("seed", range(6))
def test_exact_mann_whitney_matches_enumerating_every_relabelling(seed: int) -> None:
    rng = random.Random(seed)
    m, n = rng.randint(1, 6), rng.randint(1, 6)
    baseline = [rng.random() for _ in range(m)]
    candidate = [rng.random() + rng.choice([0.0, 0.3]) for _ in range(n)]
    assert mann_whitney_greater(baseline, candidate) == pytest.approx(
        brute_force_p(baseline, candidate)
    )


def test_fully_separated_samples_have_the_smallest_p() -> None:
    slow, fast = [2.0, 2.1, 2.2, 2.3], [1.0, 1.1, 1.2, 1.3, 1.4]
    assert mann_whitney_greater(fast, slow) == pytest.approx(1 / math.comb(9, 4))
    assert mann_whitney_greater(slow, fast) == 1.0


def test_a_regression_needs_both_significance_and_the_factor() -> None:
    base = [1.00, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07]
    clearly_slower = [x * 1.3 for x in base]
    slightly_slower = [x * 1.05 for x in base]
    one_outlier = [*base[:-1], 100.0]
    assert compare(base, clearly_slower, factor=1.15, alpha=0.01).slower
    # Significant, but within the factor: a real 5 % is not a regression at 1.15.
    small = compare(base, slightly_slower, factor=1.15, alpha=0.01)
    assert small.p_value < 0.01 and not small.slower
    # Past the factor in the mean, not in the median and not significantly: noise.
    assert not compare(base, one_outlier, factor=1.15, alpha=0.01).slower
    # Two samples too small to be significant at all.
    tiny = compare([1.0], [2.0], factor=1.15, alpha=0.01)
    assert tiny.ratio == 2.0 and tiny.p_value == 0.5 and not tiny.slower


def test_comparison_text_names_both_sides_and_the_limit() -> None:
    text = compare([0.010] * 3, [0.012] * 3, factor=1.15, alpha=0.01).describe("release", "this")
    assert text.startswith("this/release 1.200 (limit 1.15; p = ")
    assert "release 10.0 ms, this 12.0 ms, 3 samples" in text


# -- the previous release, from git -------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_a_release_is_extracted_with_only_its_runtime_packages(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "ai_content_pipeline").mkdir(parents=True)
    (repo / "ai_content_pipeline" / "__init__.py").write_text("VERSION = 'old'\n")
    (repo / "harness").mkdir()
    (repo / "harness" / "__init__.py").write_text("")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "release")
    commit = git(repo, "rev-parse", "HEAD")
    (repo / "ai_content_pipeline" / "__init__.py").write_text("VERSION = 'new'\n")
    git(repo, "commit", "-qam", "next")

    tree = extract_release(repo, commit[:7], tmp_path / "out")
    assert not isinstance(tree, str)
    assert tree.commit == commit
    assert (tree.path / "ai_content_pipeline" / "__init__.py").read_text() == "VERSION = 'old'\n"
    assert not (tree.path / "harness").exists()
    assert not (tree.path / "parallel").exists()  # a release without it: only the core
    assert repository_of(repo / "ai_content_pipeline") == repo.resolve()

    missing = extract_release(repo, "no-such-ref", tmp_path / "none")
    assert isinstance(missing, str) and "'no-such-ref' is not a commit" in missing
    assert not (tmp_path / "none").exists()


def test_a_folder_outside_git_has_no_repository(tmp_path: Path) -> None:
    assert repository_of(tmp_path) is None


# -- the worker script -------------------------------------------------------------------------


def test_the_worker_script_imports_nothing_from_the_harness() -> None:
    """It runs against an extracted release, which has no harness package."""
    tree = ast.parse(perf.WORKER_SCRIPT.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "harness" not in imported
    assert {"ai_content_pipeline"} <= imported


def test_a_worker_whose_tree_fails_to_import_names_itself_and_the_error(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "ai_content_pipeline").mkdir(parents=True)
    (tree / "ai_content_pipeline" / "__init__.py").write_text("raise ImportError('half a tree')\n")
    worker = perf._Worker("release", "off", tree, tmp_path / "work")
    try:
        worker.send({"pipelines": [], "workdir": str(tmp_path / "work")})
        with pytest.raises(perf.WorkerFailed) as failed:
            worker.answer(30, "loading the pipelines")
    finally:
        worker.close()
    assert str(failed.value) == (
        "release/off: worker exited (code 1) while loading the pipelines: ImportError: half a tree"
    )


def test_a_tree_without_the_core_is_refused_not_timed_as_this_checkout(tmp_path: Path) -> None:
    """An empty tree would silently import the installed package: the gate would compare this
    checkout with itself."""
    empty = tmp_path / "empty"
    empty.mkdir()
    worker = perf._Worker("release", "on", empty, tmp_path / "work")
    try:
        expected = (
            f"release/on: imported ai_content_pipeline from {REPO / 'ai_content_pipeline'}, "
            f"not from {empty}"
        )
        with pytest.raises(perf.WorkerFailed, match=f"^{re.escape(expected)}$"):
            perf._Bench([worker], [], QUICK).set_up()
    finally:
        worker.close()


# -- the phase end to end ----------------------------------------------------------------------


@pytest.mark.requires_parallel
def test_the_phase_times_this_checkout_against_a_release_in_both_states() -> None:
    """HEAD as its own baseline: every check is made; what each compares is in its text."""
    report = run_perf_gate([LINEAR, GROUP], baseline_ref="HEAD", limits=QUICK)
    kinds = [(c.kind, c.name) for c in report.checks]
    assert kinds == [
        ("overhead", "corpus"),
        ("baseline", "off"),
        ("baseline", "on"),
        ("fanout", "8_branches"),
    ]
    overhead, base_off, base_on, fanout = report.checks
    assert overhead.detail.startswith("corpus at scale 0: on/off ")
    assert base_off.detail.startswith("corpus at scale 0, flag off: this/release ")
    assert base_on.detail.startswith("corpus at scale 0, flag on: this/release ")
    assert "8 branches of 20 ms on the real clock: speedup " in fanout.detail
    for check in report.checks[:3]:
        record = check.attempts[0]
        assert len(record["baseline_s"]) == len(record["candidate_s"]) >= QUICK.rounds
        assert all(seconds > 0 for seconds in record["baseline_s"] + record["candidate_s"])
    assert report.settings["timed_yamls"] == [LINEAR.stem, GROUP.stem]
    assert len(report.settings["baseline_commit"]) == 12
    assert report.notes == []


@pytest.mark.requires_parallel
def test_an_unknown_release_is_skipped_with_a_note_and_real_time_pipelines_left_out() -> None:
    delayed = INPUT / "25_group_timeout_retry.yaml"
    report = run_perf_gate([LINEAR, delayed], baseline_ref="no-such-release", limits=QUICK)
    assert [c.kind for c in report.checks] == ["overhead", "fanout"]
    assert report.notes == [
        "25_group_timeout_retry: left out (stub_delay sleeps real seconds)",
        f"baseline: skipped: 'no-such-release' is not a commit of the repository at {REPO} "
        "(a shallow clone?)",
    ]


@pytest.mark.requires_parallel
def test_a_worker_that_does_not_answer_in_time_fails_naming_tree_state_and_yaml() -> None:
    """No pipeline answers within a microsecond: the first request is reported as a hang."""
    limits = PerfLimits(rounds=1, fanout_rounds=1, request_seconds=1e-6)
    report = run_perf_gate([LINEAR], baseline_ref=None, limits=limits)
    assert not report.passed
    [check] = report.checks
    assert check.kind == "worker"
    assert check.name in ("this/off", "this/on")
    assert check.detail == (
        f"{check.name}: no answer within 1e-06 s while running {LINEAR.stem} (a hang?)"
    )


def test_a_file_the_phase_cannot_load_is_left_out_with_its_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ninput_type: text\nsteps: []\n", encoding="utf-8")
    notes: list[str] = []
    assert perf._corpus_specs([broken], notes) == []
    [note] = notes
    assert note.startswith("broken: left out (")


def test_the_phase_refuses_to_run_under_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(perf.XDIST_WORKER_ENV, "gw1")
    with pytest.raises(PerfGateError, match=r"serially.*xdist.*gw1"):
        run_perf_gate([LINEAR])


def test_pipelines_that_sleep_real_seconds_are_left_out(tmp_path: Path) -> None:
    """`stub_delay` sleeps real, unscaled seconds: the wall-clock phase must not time it."""
    assert waits_real_time(INPUT / "25_group_timeout_retry.yaml")
    assert not waits_real_time(INPUT / "15_fan_out_ten_branches.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [", encoding="utf-8")
    assert not waits_real_time(broken)


def test_the_fanout_image_is_a_valid_png(tmp_path: Path) -> None:
    data = perf._tiny_png(tmp_path / "x.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
    assert len(data) < 100
