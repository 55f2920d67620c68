"""What gating a large corpus costs: ``count`` generated pipelines (the files of ``input/``
cycled, each copy with its own name and prompt), golden records written once by
``harness update``, then timed:

* ``harness gate --no-perf`` — one recording process per flag state;
* ``pytest tests/test_golden.py -n auto`` — the same golden records through pytest-xdist.

Both include the schedule checks, the second run through one executor and every replayed
completion order. Run directly::

    .venv/bin/python benchmarks/gate_corpus_scale.py [--count 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MEDIA_KEYS = ("input_image", "input_video")


def generate_corpus(target: Path, count: int) -> None:
    """Write `count` distinct pipelines into `target`."""
    sources = sorted((REPO / "input").glob("*.yaml"))
    loaded = [(path, yaml.safe_load(path.read_text(encoding="utf-8"))) for path in sources]
    target.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path, original = loaded[index % len(loaded)]
        data = json.loads(json.dumps(original))
        data["name"] = f"v{index:04d}_{path.stem}"
        if isinstance(data.get("prompt"), str):
            data["prompt"] = f"{data['prompt']} (variant {index})"
        for key in MEDIA_KEYS:
            if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
                data[key] = str(REPO / data[key])
        (target / f"{data['name']}.yaml").write_text(
            yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
        )


def _timed(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CI", None)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise RuntimeError(f"{' '.join(command[:4])} … failed ({done.returncode}):\n{tail}")
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="aicp-scale-") as scratch:
        root = Path(scratch)
        corpus, goldens = root / "corpus", root / "snapshots"
        generate_corpus(corpus, args.count)
        harness = [str(bin_dir / "harness")]
        common = ["--input", str(corpus), "--snapshots", str(goldens), "-q"]
        update = _timed([*harness, "update", *common], REPO)
        gate = _timed([*harness, "gate", *common, "--no-perf"], REPO)
        golden_test = [
            sys.executable, "-m", "pytest", "tests/test_golden.py", "-n", "auto", "-q",
            "-p", "no:randomly", f"--golden-input={corpus}", f"--golden-snapshots={goldens}",
        ]  # fmt: skip
        pytest_gate = _timed(golden_test, REPO)
    print(f"{args.count} pipelines: harness update {update:.1f} s, harness gate --no-perf "
          f"{gate:.1f} s, pytest tests/test_golden.py -n auto {pytest_gate:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
