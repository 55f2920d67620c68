"""`harness gate` / `harness update` on a tiny corpus copied to a temp folder.

Fast: records run on the virtual clock (model seconds cost no wall time), the perf gate is off
(``--no-perf``) and most runs record in-process (``--jobs 1``); one gate and one update use the
real per-state subprocesses, and the usage errors run the CLI as a subprocess to see what a
user sees.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.__main__ import main as ai_main
from harness import gate as gate_module
from harness import golden as golden_module
from harness.cli import main
from harness.compare import describe, diff_records
from harness.golden import API_STEM, GoldenError, GoldenStore, plan_update, serialize
from harness.syrupy_ext import GoldenRecordExtension

# The gate records the `on` state, which needs the parallel package.
pytestmark = pytest.mark.requires_parallel

REPO = Path(__file__).resolve().parent.parent
CORPUS = (
    "01_text_to_image_basic",
    "09_step_fails_stub_fail",
    "11_group_collect_all_then_video",
)
GROUP = "11_group_collect_all_then_video"
FAST = ["--jobs", "1", "-q"]

FAULTS_YAML = """\
name: 90_faults
description: "A group whose branches raise and hang; the run must still be recorded."
prompt: "A lighthouse in a storm"
output_dir: output
save_intermediates: true
steps:
  - type: parallel_group
    model: parallel
    params:
      max_workers: 3
      merge_strategy: collect_all
      parallel_steps:
        - type: text_to_image
          model: flux_schnell
        - type: text_to_image
          model: seedream_v3
          params:
            stub_raise: "provider exploded"
        - type: text_to_image
          model: imagen4
          params:
            stub_delay: 2
            timeout: 0.2
"""


def _snapshot_files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for stem in CORPUS:
        shutil.copy(REPO / "input" / f"{stem}.yaml", folder)
    return folder


@pytest.fixture(scope="module")
def pristine(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Golden records written once by `harness update` (real per-state subprocesses)."""
    snapshots = tmp_path_factory.mktemp("pristine")
    code = main(["update", "--input", str(corpus), "--snapshots", str(snapshots), "-q"])
    assert code == 0
    return snapshots


@pytest.fixture
def snapshots(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the golden records, free to tamper with."""
    folder = tmp_path / "snapshots"
    shutil.copytree(pristine, folder)
    return folder


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def gate(corpus: Path, snapshots: Path, *extra: str) -> int:
    argv = ["gate", "--input", str(corpus), "--snapshots", str(snapshots), "--no-perf"]
    return main([*argv, *FAST, *extra])


def update(corpus: Path, snapshots: Path, *extra: str) -> int:
    return main(["update", "--input", str(corpus), "--snapshots", str(snapshots), *FAST, *extra])


def _edit(snapshots: Path, stem: str, change: Any) -> None:
    path = snapshots / f"{stem}.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    change(record)
    path.write_text(serialize(record), encoding="utf-8")


# -- gate ------------------------------------------------------------------------------------------


def test_update_writes_one_record_per_yaml_plus_api(pristine: Path) -> None:
    assert sorted(p.name for p in pristine.iterdir()) == sorted(
        [f"{s}.json" for s in CORPUS] + [f"{API_STEM}.json"]
    )
    for path in pristine.iterdir():
        text = path.read_text(encoding="utf-8")
        assert text == serialize(json.loads(text))  # THE format, nothing else


def test_gate_passes_with_fresh_goldens_in_subprocesses(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gate", "--input", str(corpus), "--snapshots", str(snapshots), "--no-perf"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "PASS" in captured.out
    assert "recording 3 YAML(s) in 3 state(s)" in captured.err  # progress goes to stderr
    header = captured.out.splitlines()[0].split()
    assert header == ["YAML", "absent", "off", "on"]


def test_gate_never_writes_golden_records(corpus: Path, snapshots: Path) -> None:
    before = _snapshot_files(snapshots)
    _edit(snapshots, GROUP, lambda r: r["result"].update(total_cost=99.0))
    tampered = _snapshot_files(snapshots)
    assert gate(corpus, snapshots) == 1
    assert _snapshot_files(snapshots) == tampered
    assert set(before) == set(tampered)


def test_tampered_golden_names_yaml_state_step_and_field(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(snapshots, GROUP, lambda r: r["step_results"][0].update(cost=0.5))
    assert gate(corpus, snapshots) == 1
    out = capsys.readouterr().out
    for state in ("absent", "off", "on"):
        assert f"{GROUP} [{state}] step 1 (parallel_group) field cost: golden 0.5 != actual" in out
    assert "FAIL" in out
    row = next(line for line in out.splitlines() if line.startswith(GROUP))
    assert row.split()[1:] == ["✗", "✗", "✗"]


def test_a_tampered_schedule_fails_only_its_state(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each state has its own schedule in the golden record: a concurrent group that took
    longer than the policy allows fails ``on`` and nothing else."""

    def slower(record: dict[str, Any]) -> None:
        record["schedules"]["on"]["groups"][0]["branches"][2]["end"] = 21.0

    _edit(snapshots, GROUP, slower)
    assert gate(corpus, snapshots) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(GROUP))
    assert row.split()[1:] == ["✓", "✓", "✗"]
    assert f"{GROUP} [on]" in out and "21.0 != actual 20.0" in out
    assert f"{GROUP} [off]" not in out


def test_order_and_stress_options_reach_the_recording(corpus: Path, snapshots: Path) -> None:
    """One named completion order replayed, and race stress (calls on threads, repeated runs):
    the records still equal the goldens."""
    assert gate(corpus, snapshots, "-k", "11_group", "--order", "step1:perm:3,1,2") == 0
    assert gate(corpus, snapshots, "-k", "11_group", "--states", "on", "--stress") == 0


def test_tampered_file_hash_is_named(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def change(record: dict[str, Any]) -> None:
        name = sorted(record["files"])[0]
        record["files"][name] = "0" * 64
        record["files"]["ghost.png"] = "1" * 64

    _edit(snapshots, GROUP, change)
    assert gate(corpus, snapshots, "--states", "on") == 1
    out = capsys.readouterr().out
    assert f"{GROUP} [on] file ghost.png: missing" in out
    assert ": content differs" in out


def test_missing_golden_fails(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (snapshots / f"{GROUP}.json").unlink()
    assert gate(corpus, snapshots) == 1
    assert f"{GROUP} [off] no golden record; run `harness update`" in capsys.readouterr().out


def test_missing_api_golden_fails(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (snapshots / f"{API_STEM}.json").unlink()
    assert gate(corpus, snapshots) == 1
    assert f"{API_STEM}: no golden record" in capsys.readouterr().out


def test_breaking_api_change_fails_and_addition_passes(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = snapshots / f"{API_STEM}.json"
    api = json.loads(path.read_text(encoding="utf-8"))
    key = "ai_content_pipeline.pipeline.executor:ChainExecutor"
    api["objects"][key]["methods"]["a_removed_method"] = {
        "kind": "function",
        "parameters": [],
        "returns": None,
        "labels": [],
    }
    api["objects"].pop("ai_content_pipeline:__version__")  # now an "addition"
    path.write_text(serialize(api), encoding="utf-8")
    assert gate(corpus, snapshots) == 1
    out = capsys.readouterr().out
    assert "a_removed_method: public object was removed" in out
    assert "addition: ai_content_pipeline.__version__: new public object" in out


def test_unused_golden_fails_and_k_limits_the_check(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(snapshots / f"{GROUP}.json", snapshots / "99_gone.json")
    assert gate(corpus, snapshots) == 1
    assert "99_gone: unused golden record" in capsys.readouterr().out
    assert gate(corpus, snapshots, "-k", "01_text") == 0  # not selected: not checked
    assert gate(corpus, snapshots, "-k", "gone or 01_text") == 1


def test_corrupt_golden_is_named_without_traceback(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (snapshots / f"{GROUP}.json").write_text('{"half": ', encoding="utf-8")
    assert gate(corpus, snapshots) == 1
    out = capsys.readouterr().out
    assert f"corrupt golden record {snapshots / GROUP}.json" in out
    assert "Traceback" not in out


def test_json_and_junit_written_on_failure(corpus: Path, snapshots: Path, tmp_path: Path) -> None:
    _edit(snapshots, GROUP, lambda r: r["step_results"][0].update(cost=0.5))
    (snapshots / "01_text_to_image_basic.json").unlink()
    report, junit = tmp_path / "out" / "gate.json", tmp_path / "out" / "gate.xml"
    assert gate(corpus, snapshots, "--json", str(report), "--junit", str(junit)) == 1

    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["passed"] is False and data["exit_code"] == 1
    cell = data["records"][GROUP]["on"]
    assert cell["status"] == "mismatch"
    assert {"path": "step_results[0].cost", "golden": 0.5}.items() <= cell["diffs"][0].items()
    assert data["records"]["01_text_to_image_basic"]["off"]["status"] == "missing"
    assert data["api"]["status"] == "match"
    assert data["api_release"] == {"status": "match", "message": "", "breaking": []}
    assert data["perf"]["status"] == "skipped"
    assert {"record", "compare", "api", "total"} <= set(data["timings"])

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 3 * 3 + 2 + 1  # YAML x state, both API baselines, perf (skipped)
    assert {"__api__", "__api_release__"} <= {c.get("name") for c in cases}
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert f"{GROUP}[on]" in failed and "01_text_to_image_basic[absent]" in failed
    assert suite.get("failures") == str(len(failed)) == "6"


def test_interrupt_writes_reports_and_exits_130(
    corpus: Path, snapshots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(gate_module, "record_in_states", interrupted)
    before = _snapshot_files(snapshots)
    report, junit = tmp_path / "gate.json", tmp_path / "gate.xml"
    assert gate(corpus, snapshots, "--json", str(report), "--junit", str(junit)) == 130
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["interrupted"] is True
    assert data["records"][GROUP]["on"]["status"] == "not run"
    assert ET.parse(junit).getroot().find("testsuite") is not None
    assert _snapshot_files(snapshots) == before


def test_crashed_recording_is_an_error_not_a_traceback(
    corpus: Path,
    snapshots: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker for state 'on' exited with -9")

    monkeypatch.setattr(gate_module, "record_in_states", crash)
    assert gate(corpus, snapshots) == 1
    out = capsys.readouterr().out
    assert f"{GROUP} [on] recording failed: RuntimeError: worker for state 'on'" in out


def test_unwritable_report_is_reported(
    corpus: Path,
    snapshots: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = gate_module.atomic_write_text

    def refuse(path: Path, text: str) -> None:
        if path.suffix == ".json":
            raise PermissionError(13, "Permission denied")
        real(path, text)

    monkeypatch.setattr(gate_module, "atomic_write_text", refuse)
    junit = tmp_path / "gate.xml"
    assert gate(corpus, snapshots, "--json", str(tmp_path / "g.json"), "--junit", str(junit)) == 1
    assert "report: cannot write" in capsys.readouterr().out
    assert junit.is_file()


def test_faulty_branches_are_recorded_identically(tmp_path: Path) -> None:
    """A branch that raises and one that hangs past its timeout: recorded, equal in every state."""
    corpus = tmp_path / "faults"
    corpus.mkdir()
    (corpus / "90_faults.yaml").write_text(FAULTS_YAML, encoding="utf-8")
    snaps = tmp_path / "snaps"
    assert update(corpus, snaps) == 0
    record = GoldenStore(snaps).read("90_faults")
    assert record is not None
    errors = [b["result"]["error"] for b in record["step_results"][0]["parallel_results"]]
    assert any("provider exploded" in (e or "") for e in errors)
    assert any("Timed out" in (e or "") for e in errors)
    report = tmp_path / "r.json"
    assert gate(corpus, snaps, "--json", str(report)) == 0
    assert json.loads(report.read_text(encoding="utf-8"))["passed"] is True


# -- update ----------------------------------------------------------------------------------------


def test_update_refuses_under_ci_without_force(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CI", "1")
    snaps = tmp_path / "snaps"
    assert update(corpus, snaps) == 2
    assert not snaps.exists()
    assert "CI" in capsys.readouterr().err
    assert update(corpus, snaps, "--force") == 0
    assert GoldenStore(snaps).stems() == sorted(CORPUS)


def test_update_k_only_touches_the_selected_record(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(snapshots, "01_text_to_image_basic", lambda r: r.update(pipeline="stale"))
    _edit(snapshots, GROUP, lambda r: r.update(pipeline="stale too"))  # not selected: stays
    shutil.copy(snapshots / f"{GROUP}.json", snapshots / "99_gone.json")  # never removed with -k
    before = _snapshot_files(snapshots)
    assert update(corpus, snapshots, "-k", "01_text") == 0
    out = capsys.readouterr().out
    assert "changed: 01_text_to_image_basic" in out
    assert "removed: -" in out
    after = _snapshot_files(snapshots)
    assert set(after) == set(before)
    for name in before:
        if name != "01_text_to_image_basic.json":
            assert after[name] == before[name], name  # bytes and mtime
    assert after["01_text_to_image_basic.json"][0] != before["01_text_to_image_basic.json"][0]


def test_update_reports_added_changed_removed_unchanged(
    corpus: Path, snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (snapshots / "01_text_to_image_basic.json").unlink()
    _edit(snapshots, GROUP, lambda r: r.update(pipeline="stale"))
    shutil.copy(snapshots / f"{GROUP}.json", snapshots / "99_gone.json")
    unchanged = _snapshot_files(snapshots)["09_step_fails_stub_fail.json"]
    assert update(corpus, snapshots) == 0
    out = capsys.readouterr().out.splitlines()
    assert "added: 01_text_to_image_basic" in out
    assert f"changed: {GROUP}" in out
    assert "removed: 99_gone" in out
    assert "unchanged: 2" in out  # 09 and the API record
    assert not (snapshots / "99_gone.json").exists()
    assert _snapshot_files(snapshots)["09_step_fails_stub_fail.json"] == unchanged
    assert gate(corpus, snapshots) == 0


def test_update_failing_write_keeps_goldens_intact(
    corpus: Path,
    snapshots: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _edit(snapshots, GROUP, lambda r: r.update(pipeline="stale"))
    before = _snapshot_files(snapshots)
    real_replace = os.replace

    def read_only(src: Any, dst: Any) -> None:
        # only the golden folder is read-only: the runs' own reports still get written
        if Path(dst).parent == snapshots and str(dst).endswith(".json"):
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(golden_module.os, "replace", read_only)
    assert update(corpus, snapshots) == 1
    out = capsys.readouterr().out
    assert f"cannot write {snapshots / GROUP}.json: Permission denied" in out
    assert _snapshot_files(snapshots) == before
    assert GoldenStore(snapshots).stale_temp_files() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_update_into_read_only_folder(corpus: Path, snapshots: Path) -> None:
    _edit(snapshots, GROUP, lambda r: r.update(pipeline="stale"))
    before = _snapshot_files(snapshots)
    snapshots.chmod(0o555)
    try:
        assert update(corpus, snapshots) == 1
    finally:
        snapshots.chmod(0o755)
    assert _snapshot_files(snapshots) == before


def test_update_reports_state_mismatch(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness import update as update_module

    real = update_module.record_in_states

    def skewed(input_dir: Path, states: Any, **kwargs: Any) -> Any:
        out = real(input_dir, states, **kwargs)
        if "on" in out:
            out["on"].records[GROUP]["result"]["total_cost"] += 1e-12
        return out

    monkeypatch.setattr(update_module, "record_in_states", skewed)
    snaps = tmp_path / "snaps"
    assert update(corpus, snaps) == 1
    out = capsys.readouterr().out
    assert f"{GROUP} [on] field result.total_cost: golden" in out
    assert GoldenStore(snaps).stems() == sorted(CORPUS)  # the reference records stay written


# -- the golden store and the diff -----------------------------------------------------------------


def test_atomic_write_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = GoldenStore(tmp_path)
    store.write("a", {"x": 1})
    original = (tmp_path / "a.json").read_bytes()

    def boom(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(golden_module.os, "replace", boom)
    with pytest.raises(OSError):
        store.write("a", {"x": 2})
    assert (tmp_path / "a.json").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_store_rejects_reserved_and_corrupt(tmp_path: Path) -> None:
    store = GoldenStore(tmp_path)
    with pytest.raises(GoldenError, match="reserved"):
        store.write("__sneaky", {})
    with pytest.raises(GoldenError):
        store.path_for("../escape")
    store.write(API_STEM, {"schema": 1})
    assert store.stems() == []
    (tmp_path / "bad.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(GoldenError, match=r"corrupt golden record .*bad\.json"):
        store.read("bad")


def test_plan_update_never_removes_when_filtered(tmp_path: Path) -> None:
    store = GoldenStore(tmp_path)
    for stem in ("a", "b", "gone"):
        store.write(stem, {"v": stem})
    new = {"a": {"v": "a"}, "b": {"v": "B"}, "c": {"v": "c"}}
    plan = plan_update(store, new, ["a", "b", "c"], ["a", "b", "c"])
    assert (plan.added, plan.changed, plan.unchanged, plan.removed) == (
        ["c"],
        ["b"],
        ["a"],
        ["gone"],
    )
    filtered = plan_update(store, {"a": {"v": "a"}}, ["a"], ["a", "b", "c"])
    assert filtered.removed == []


def test_describe_maps_steps_files_and_caps_lines() -> None:
    golden = {
        "step_results": [
            {"step_number": 1, "step_type": "text_to_image", "cost": 0.1},
            {"step_number": 2, "step_type": "parallel_group", "cost": 0.089},
        ],
        "report": {"step_execution_details": [{}, {"status": "success"}]},
        "outputs": {"step_2_parallel_group": {"path": "a.png"}},
        "files": {"a.png": "1", "b.png": "2"},
    }
    actual = json.loads(json.dumps(golden))
    actual["step_results"][1]["cost"] = 0.08900000000000001
    actual["report"]["step_execution_details"][1]["status"] = "failed"
    actual["outputs"]["step_2_parallel_group"]["path"] = "c.png"
    del actual["files"]["a.png"]
    actual["files"]["c.png"] = "3"
    actual["files"]["b.png"] = "x"
    lines = describe("11_x", "on", diff_records(golden, actual)).splitlines()
    assert (
        "11_x [on] step 2 (parallel_group) field cost: golden 0.089 != actual 0.08900000000000001"
        in lines
    )
    assert (
        "11_x [on] step 2 (parallel_group) field status: golden 'success' != actual 'failed'"
        in lines
    )
    assert "11_x [on] step 2 (parallel_group) field path: golden 'a.png' != actual 'c.png'" in lines
    assert "11_x [on] file a.png: missing" in lines
    assert "11_x [on] file c.png: unexpected" in lines
    assert "11_x [on] file b.png: content differs" in lines

    many = diff_records({"v": list(range(30))}, {"v": [i + 1 for i in range(30)]})
    capped = describe("s", "off", many).splitlines()
    assert len(capped) == 21 and capped[-1] == "s [off] … 10 more"


def test_diff_sees_int_float_and_bool_differences() -> None:
    assert diff_records({"a": 1}, {"a": 1.0})
    assert diff_records({"a": 1}, {"a": True})
    assert not diff_records({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


# -- syrupy writes the same bytes ------------------------------------------------------------------


def test_syrupy_extension_serializes_like_golden() -> None:
    record = {"b": [1, 2.5, None], "a": {"ü": "naïve"}, "c": True}
    assert GoldenRecordExtension().serialize(record) == serialize(record)


def test_pytest_snapshot_update_writes_the_bytes_harness_update_writes(
    corpus: Path, pristine: Path, tmp_path: Path
) -> None:
    written = tmp_path / "by_pytest"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CI", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:xdist",
            "-p",
            "no:randomly",
            str(REPO / "tests" / "test_golden.py"),
            "--snapshot-update",
            "-k",
            "off",
            "--golden-input",
            str(corpus),
            "--golden-snapshots",
            str(written),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    names = sorted(p.name for p in written.iterdir())
    assert names == sorted(f"{stem}.json" for stem in CORPUS)
    for name in names:
        assert (written / name).read_bytes() == (pristine / name).read_bytes(), name


# -- usage errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["gate", "--input", "/nonexistent/folder"], "does not exist"),
        (["gate", "--states", "off,sideways"], "sideways"),
        (["gate", "--time-scale", "fast"], "non-negative number"),
        (["gate", "-k", "and"], "pattern"),
        (["gate", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], needle: str, corpus: Path) -> None:
    if "--input" not in args and args:
        args = [args[0], "--input", str(corpus), *args[1:]]
    completed = subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], completed.stderr


def test_empty_input_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", "--input", str(tmp_path), "--snapshots", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"harness: error: no YAML files in {tmp_path}"]


def test_reserved_yaml_stem_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "__api__.yaml").write_text("name: x\n", encoding="utf-8")
    assert update(tmp_path, tmp_path / "s") == 2
    assert not (tmp_path / "s").exists()


def test_broken_yaml_is_an_error_cell_with_one_line(
    corpus: Path, snapshots: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "with_broken"
    shutil.copytree(corpus, folder)
    (folder / "50_broken.yaml").write_text("name: 50_broken\nsteps: [\n", encoding="utf-8")
    assert gate(folder, snapshots, "--states", "off") == 1
    out = capsys.readouterr().out
    broken = folder / "50_broken.yaml"
    # the line `aicp validate` gives (without its "error: "), once, after the stem
    said = [x for x in out.splitlines() if x.startswith("50_broken")]
    assert said[1:] == [
        f"50_broken: {broken}:3: invalid YAML: while parsing a flow node, expected the node "
        "content, but found '<stream end>'"
    ]
    assert ai_main(["validate", "--config", str(broken)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {said[1].split(': ', 1)[1]}"]
    assert "Traceback" not in out
    row = next(x for x in out.splitlines() if x.startswith("50_broken "))
    assert row.split() == ["50_broken", "error"]


def test_update_with_crashed_recording_writes_nothing(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness import update as update_module

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker for state 'off' exited with -9")

    monkeypatch.setattr(update_module, "record_in_states", crash)
    snaps = tmp_path / "snaps"
    assert update(corpus, snaps) == 1
    assert "recording failed: RuntimeError: worker for state 'off'" in capsys.readouterr().out
    assert not snaps.exists()
