"""Ctrl-C in every flag state, through the real CLI in a subprocess, on the real clock.

What must hold (issue "Exact release gate", Interrupts): branches not started never start;
calls in flight are cancelled; the process exits 130 within 1 s; the report lists every file
present in the output folder and every charge incurred; a second Ctrl-C exits at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TIME_SCALE = 0.1  # flux_schnell (5 model s) takes 0.5 s; gen4 (60) takes 6 s
PIPELINE = """\
name: interrupt_me
prompt: "A lighthouse in a storm"
output_dir: output
steps:
  - type: text_to_image
    model: flux_schnell
  - type: parallel_group
    model: parallel
    params:
      max_workers: 4
      parallel_steps:
        - {type: image_to_image, model: photon_flash}
        - {type: image_to_image, model: flux_kontext}
        - {type: image_to_image, model: seededit_v3}
        - {type: image_to_image, model: photon_base}
        - {type: image_to_image, model: clarity_upscaler}
  - type: image_to_video
    model: hailuo
"""
STATES = ["absent", "off", "on"]
LAUNCH = """\
import sys
if sys.argv[1] == "absent":
    from harness.states import block_parallel_import
    block_parallel_import()
sys.argv[1:] = sys.argv[2:]
from ai_content_pipeline.__main__ import run
sys.exit(run())
"""


def _start(tmp_path: Path, state: str) -> subprocess.Popen[bytes]:
    config = tmp_path / "p.yaml"
    config.write_text(PIPELINE, encoding="utf-8")
    env = {
        **os.environ,
        "PIPELINE_PARALLEL_ENABLED": "true" if state == "on" else "false",
        "AICP_STUB_TIME_SCALE": str(TIME_SCALE),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    env.pop("AICP_STUB_JITTER_SEED", None)
    args = [sys.executable, "-c", LAUNCH, state, "--base-dir", str(tmp_path / "base")]
    args += ["run-chain", "--config", str(config), "--no-confirm"]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_group(tmp_path: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until step 1's image exists (the group starts right after), then a little more."""
    output = tmp_path / "base" / "output"
    deadline = time.monotonic() + 20
    while not any(output.glob("step1_*.png")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "step 1 never finished"
        time.sleep(0.01)
    time.sleep(0.3)


def _report(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "base" / "output" / "reports").glob("*_report.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.requires_parallel
@pytest.mark.parametrize("state", STATES)
def test_ctrl_c_stops_accounts_and_exits_130_within_a_second(tmp_path: Path, state: str) -> None:
    proc = _start(tmp_path, state)
    _wait_for_group(tmp_path, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    took = time.monotonic() - sent
    assert proc.returncode == 130, (out, err)
    assert took < 1.0, f"exit took {took:.2f} s after Ctrl-C"
    assert b"Traceback" not in err

    report = _report(tmp_path)
    assert report["interrupted"] is True
    output = tmp_path / "base" / "output"
    present = sorted(
        p.relative_to(output).as_posix()
        for p in output.rglob("*")
        if p.is_file() and p.parent.name != "reports"
    )
    assert report["files_present"] == present
    details = report["step_execution_details"]
    assert [d["step_type"] for d in details] == ["text_to_image", "parallel_group"]
    group = details[1]
    # Step 3 never ran; no branch finished in 0.3 s (the fastest takes 0.5 s): every branch
    # in flight was cancelled (not charged), none started after the interrupt.
    branch_errors = [branch["error"] for branch in group["parallel_branches"]]
    assert all("interrupted" in error for error in branch_errors), branch_errors
    if state == "on":  # max_workers 4: four in flight, the fifth never started
        assert all(e.startswith("Execution interrupted") for e in branch_errors[:4])
        assert branch_errors[4].startswith("not started")
    else:
        assert branch_errors[0].startswith("Execution interrupted")
        assert all(e.startswith("not started") for e in branch_errors[1:])
    # Every charge incurred is in the total, and only those: step 1's image.
    summary = report["execution_summary"]
    assert summary["total_cost_usd"] == pytest.approx(details[0]["cost"])
    assert [p for p in present if p.endswith(".png")] == [
        Path(details[0]["output_files"]["local_path"]).name
    ]


@pytest.mark.parametrize("state", ["off", "on"])
def test_second_ctrl_c_exits_at_once(tmp_path: Path, state: str) -> None:
    proc = _start(tmp_path, state)
    _wait_for_group(tmp_path, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 1.0
