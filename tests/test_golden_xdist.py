"""Golden tests under pytest-xdist: parallel workers neither lose nor corrupt a record."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STEMS = (
    "01_text_to_image_basic",
    "11_group_collect_all_then_video",
    "15_fan_out_ten_branches",
    "21_text_to_speech_best_quality_group",
)

pytestmark = pytest.mark.requires_parallel


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    inputs = tmp_path / "input"
    snapshots = tmp_path / "snapshots"
    inputs.mkdir()
    snapshots.mkdir()
    for stem in STEMS:
        shutil.copy(REPO / "input" / f"{stem}.yaml", inputs)
        shutil.copy(REPO / "snapshots" / f"{stem}.json", snapshots)
    shutil.copytree(REPO / "input" / "assets", inputs / "assets")
    return inputs, snapshots


def test_snapshot_update_under_two_workers_writes_every_record_intact(
    corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    inputs, snapshots = corpus
    originals = {p.name: p.read_bytes() for p in snapshots.iterdir()}
    for path in snapshots.iterdir():
        path.unlink()  # every record must be written again, by whichever worker gets it
    options = [
        "-n", "2", str(REPO / "tests" / "test_golden.py"), "-k", "not api and not unused",
        "--golden-input", str(inputs), "--golden-snapshots", str(snapshots),
        "--snapshot-update",
    ]  # fmt: skip
    run = _pytest(*options, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    written = {p.name: p.read_bytes() for p in snapshots.iterdir()}
    assert written == originals  # none lost, none torn, no temp files left behind

    check = _pytest(*[o for o in options if o != "--snapshot-update"], cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "12 passed" in check.stdout  # 4 YAMLs x 3 states
