"""One timed process of the performance gate: one source tree, one flag state.

Run as a script, never imported: ``python perf_worker.py TREE STATE``. It puts TREE first on
``sys.path``, so the same script times this checkout or an older release extracted from git,
and it uses only the established public API (``AIPipelineManager``, ``create_chain_from_config``,
``execute_chain``) and the stub's ``AICP_STUB_TIME_SCALE``, which every release has. It imports
nothing from the harness: the harness of this tree need not exist in TREE.

Protocol: one JSON object per line both ways. The first request is the setup
``{"pipelines": [{"yaml": ..., "input": ..., "scale": ...}], "workdir": ...}``; the worker builds
every chain, runs each once untimed (warm-up) and answers
``{"package": <path>, "usable": [...], "errors": {index: message}}``. Then each
``{"run": [indexes]}`` runs those pipelines once each, in order, and answers
``{"seconds": [wall seconds of each run alone]}`` (or ``{"error": message}`` when a run
raises); an empty line or EOF ends the worker.
Output folders are emptied between runs, outside the timed part, so every run does the same
file work.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

PARALLEL_ENV = "PIPELINE_PARALLEL_ENABLED"
TIME_SCALE_ENV = "AICP_STUB_TIME_SCALE"
JITTER_SEED_ENV = "AICP_STUB_JITTER_SEED"


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class _Pipeline:
    def __init__(self, manager: Any, spec: dict[str, Any], folder: Path) -> None:
        self.manager = manager
        self.chain = manager.create_chain_from_config(spec["yaml"])
        self.input = spec["input"]
        self.scale = repr(float(spec["scale"]))
        self.folder = folder
        self.chain.config["output_dir"] = str(folder)

    def run(self) -> float:
        os.environ[TIME_SCALE_ENV] = self.scale
        started = time.perf_counter()
        self.manager.execute_chain(self.chain, self.input)
        seconds = time.perf_counter() - started
        shutil.rmtree(self.folder, ignore_errors=True)
        return seconds


def main(argv: list[str]) -> int:
    tree, state = Path(argv[1]).resolve(), argv[2]
    # This script's own folder (the harness) must not shadow anything; the tree comes first.
    sys.path[:] = [str(tree), *(p for p in sys.path[1:] if Path(p or ".").resolve() != tree)]
    os.environ[PARALLEL_ENV] = "true" if state == "on" else "false"
    os.environ.pop(JITTER_SEED_ENV, None)
    setup = json.loads(sys.stdin.readline())
    workdir = Path(setup["workdir"])
    os.environ["HOME"] = str(workdir / "home")  # no user features.json decides the flag

    import logging

    logging.disable(logging.CRITICAL)  # failing corpus steps log warnings; not timed output
    import ai_content_pipeline
    from ai_content_pipeline.pipeline.manager import AIPipelineManager

    manager = AIPipelineManager(base_dir=str(workdir / "base"))
    pipelines: list[_Pipeline | None] = []
    errors: dict[str, str] = {}
    for index, spec in enumerate(setup["pipelines"]):
        try:
            pipeline = _Pipeline(manager, spec, workdir / "runs" / str(index))
            pipeline.run()
        except Exception as exc:  # this tree cannot run it: left out on both sides
            pipelines.append(None)
            errors[str(index)] = f"{type(exc).__name__}: {exc}"
        else:
            pipelines.append(pipeline)
    _reply(
        {
            "package": str(Path(ai_content_pipeline.__file__).resolve().parent),
            "usable": [i for i, p in enumerate(pipelines) if p is not None],
            "errors": errors,
        }
    )
    for line in sys.stdin:
        if not line.strip():
            break
        request = json.loads(line)
        seconds: list[float] = []
        try:
            for index in request["run"]:
                pipeline = pipelines[index]
                if pipeline is None:
                    raise ValueError(f"pipeline {index} is not usable in this tree")
                seconds.append(pipeline.run())
        except Exception as exc:
            _reply({"error": f"pipeline {index}: {type(exc).__name__}: {exc}"})
        else:
            _reply({"seconds": seconds})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
