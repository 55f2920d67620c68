"""What only wall time can measure, measured so that noise cannot decide it.

Schedules, speedups and makespans are checked exactly on the virtual clock (`harness.record`,
`harness.schedules`); what the virtual clock cannot see is the executor's own CPU work and a
real serialisation it might hide. So this phase times three things:

* **overhead**: the corpus at time scale 0 (no simulated latency: only the executor's work),
  flag on against flag off, in this checkout;
* **baseline**: the same corpus in this checkout against the previous release (a git ref,
  extracted with `harness.baseline`), flag off and flag on, so a slowdown of every state is
  caught, which an on/off comparison can never see;
* **fanout**: one real-clock group of N latency-only branches, on against off.

How noise is kept out: every (tree, state) pair is one long-lived worker process
(`harness/perf_worker.py`), all four started together and warmed up; the workers take turns
pipeline by pipeline in a rotating order (as asv interleaves commits), so drift of the machine
hits every side alike; a regression needs both a significant one-sided Mann-Whitney U test and
a median ratio above a factor (`harness.stats`); and a failing check is measured once more,
afresh, before it counts. Every request to a worker has a time limit: a hang is a failure
naming the tree, the state and the YAML.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ai_content_pipeline.config.constants import estimated_seconds
from ai_content_pipeline.config.loader import load_config_file
from ai_content_pipeline.pipeline.chain import ContentCreationChain

from .baseline import DEFAULT_BASELINE_REF, extract_release, repository_of
from .record import resolve_input
from .stats import Comparison, compare

__all__ = [
    "XDIST_WORKER_ENV",
    "CheckKind",
    "PerfCheck",
    "PerfGateError",
    "PerfLimits",
    "PerfReport",
    "refuse_under_xdist",
    "run_perf_gate",
    "waits_real_time",
]

XDIST_WORKER_ENV = "PYTEST_XDIST_WORKER"
WORKER_SCRIPT = Path(__file__).with_name("perf_worker.py")
THIS = "this"
STATES = ("off", "on")
FANOUT_MODEL = ("image_understanding", "gemini_describe")

CheckKind = Literal["overhead", "baseline", "fanout", "worker"]


class PerfGateError(RuntimeError):
    """The perf gate cannot run here (e.g. under pytest-xdist)."""


@dataclass(frozen=True)
class PerfLimits:
    """What the perf phase accepts, and how much it measures to decide.

    * overhead: flag on may cost at most ``overhead_factor`` (1.25) x flag off at scale 0;
    * baseline: this checkout may be at most ``baseline_factor`` x the release in each state:
      1.15 with the flag off, 1.25 with it on. Measured on 2 cores: flag off 1.00-1.06x for
      this code on either corpus, 1.23x for a 30 % slowdown of the core; flag on 1.04-1.08x
      on the bundled corpus but 1.10-1.15x on the group-heavy fault corpus, because the
      release ran a group of instant branches inline while the async scheduler pays about
      50 us of event-loop dispatch per group (invisible beside any real model latency), and
      1.31x for the 30 % slowdown. The flag-on limit is the on/off overhead limit;
    * both need the slowdown to be significant: one-sided Mann-Whitney p < ``alpha``;
    * fanout: ``fanout_branches`` branches of ``fanout_latency`` s each, max_workers equal to
      the branches, must run at least ``fanout_fraction`` x N times faster with the flag on.
    """

    overhead_factor: float = 1.25
    baseline_factor: Mapping[str, float] = field(default_factory=lambda: {"off": 1.15, "on": 1.25})
    alpha: float = 0.01
    rounds: int = 15
    fanout_branches: int = 8
    fanout_latency: float = 0.020
    fanout_fraction: float = 0.8
    fanout_rounds: int = 5
    setup_seconds: float = 120.0
    request_seconds: float = 30.0


@dataclass
class PerfCheck:
    """One verdict; `attempts` holds each measurement made for it (one, or two on a retry)."""

    name: str
    kind: CheckKind
    passed: bool
    detail: str
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PerfReport:
    """All checks of one gate run, what was left out and why, and what it cost."""

    checks: list[PerfCheck]
    notes: list[str]
    total_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[PerfCheck]:
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "total_seconds": self.total_seconds,
            "settings": self.settings,
            "notes": list(self.notes),
            "checks": [check.to_dict() for check in self.checks],
        }

    def summary(self) -> str:
        """One line per check, for a terminal."""
        lines = [f"note {note}" for note in self.notes]
        for check in self.checks:
            mark = "ok  " if check.passed else "FAIL"
            lines.append(f"{mark} {check.kind} {check.name}: {check.detail}")
        verdict = "passed" if self.passed else f"FAILED ({len(self.failures)} checks)"
        lines.append(f"perf gate {verdict} in {self.total_seconds:.1f} s")
        return "\n".join(lines)


def refuse_under_xdist() -> None:
    """Raise `PerfGateError` inside a pytest-xdist worker: parallel workers skew wall clocks."""
    worker = os.environ.get(XDIST_WORKER_ENV)
    if worker:
        raise PerfGateError(
            f"the performance gate must run serially, but this is pytest-xdist worker "
            f"{worker!r} ({XDIST_WORKER_ENV} is set); run it with `-p no:xdist` (or `-n 0`) "
            "or from the gate CLI"
        )


def waits_real_time(path: Path) -> bool:
    """A pipeline with a ``stub_delay`` sleeps real, unscaled seconds (a hung call waiting out
    its timeout): timing it measures the delay, not the executor, and costs its seconds on
    every run. The virtual-clock phase of the gate checks such pipelines exactly; this one
    leaves them out."""
    try:
        data = load_config_file(path).data
    except Exception:
        return False  # the record phase reports a file it cannot load

    def has_delay(value: Any) -> bool:
        if isinstance(value, Mapping):
            return bool(value.get("stub_delay")) or any(has_delay(v) for v in value.values())
        if isinstance(value, list):
            return any(has_delay(v) for v in value)
        return False

    return has_delay(data)


# -- the worker processes ----------------------------------------------------------------------


class WorkerFailed(RuntimeError):
    """A worker hung, died or could not run a pipeline; the message says which and where."""


class _Worker:
    """One ``perf_worker.py`` process (one tree, one state) and a time limit on every answer."""

    def __init__(self, side: str, state: str, tree: Path, workdir: Path) -> None:
        self.label = f"{side}/{state}"
        self.side, self.state, self.tree = side, state, tree
        workdir.mkdir(parents=True, exist_ok=True)
        self._stderr = (workdir / "stderr.txt").open("w+")
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        if env.get("PYTHONPATH"):  # the worker runs elsewhere: relative entries would move
            entries = env["PYTHONPATH"].split(os.pathsep)
            env["PYTHONPATH"] = os.pathsep.join(str(Path(e).resolve()) for e in entries if e)
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), str(tree), state],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=workdir,
            env=env,
        )
        self.workdir = workdir
        self._answers: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"perf-{self.label}").start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answers.put(line)
        self._answers.put("")  # the process closed its output

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise WorkerFailed(f"{self.label}: worker is gone ({exc}){self._last_error()}") from exc

    def answer(self, timeout: float, doing: str) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerFailed(
                f"{self.label}: no answer within {timeout:g} s while {doing} (a hang?)"
            ) from None
        if not line:
            raise WorkerFailed(
                f"{self.label}: worker exited (code {self.process.wait()}) while {doing}"
                f"{self._last_error()}"
            )
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise WorkerFailed(f"{self.label}: {reply['error']} while {doing}")
        return reply

    def _last_error(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        return f": {lines[-1]}" if lines else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.write("\n")
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self._stderr.close()


def _scratch_root() -> str | None:
    """A RAM-backed folder when there is one: file work then costs the same on every disk."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


# -- what is timed -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    yaml: Path
    input: str
    scale: float

    def to_json(self) -> dict[str, Any]:
        return {"yaml": str(self.yaml), "input": self.input, "scale": self.scale}


def _corpus_specs(paths: Sequence[Path], notes: list[str]) -> list[_Spec]:
    specs = []
    for path in paths:
        if waits_real_time(path):
            notes.append(f"{path.stem}: left out (stub_delay sleeps real seconds)")
            continue
        try:
            data = dict(load_config_file(path).data)
            chain = ContentCreationChain.from_config(data)
            specs.append(_Spec(path.stem, path.resolve(), resolve_input(data, chain, path), 0.0))
        except Exception as exc:  # the record phase reports the file itself
            notes.append(f"{path.stem}: left out ({type(exc).__name__}: {exc})")
    return specs


def _tiny_png(path: Path) -> Path:
    """A valid 1x1 PNG: the fan-out's branches only need an image file to look at."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def _fanout_spec(folder: Path, limits: PerfLimits) -> _Spec:
    """One group of N latency-only branches (image understanding of one image)."""
    folder.mkdir(parents=True, exist_ok=True)
    step_type, model = FANOUT_MODEL
    branches = limits.fanout_branches
    config = {
        "name": f"perf_fanout_{branches}",
        "input_type": "image",
        "input_image": str(_tiny_png(folder / "fanout.png")),
        "output_dir": "output",
        "save_intermediates": False,
        "steps": [
            {
                "type": "parallel_group",
                "model": "parallel",
                "params": {
                    "max_workers": branches,
                    "merge_strategy": "collect_all",
                    "parallel_steps": [{"type": step_type, "model": model}] * branches,
                },
            }
        ],
    }
    path = folder / "fanout.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    scale = limits.fanout_latency / estimated_seconds(step_type, model)
    return _Spec(config["name"], path, config["input_image"], scale)


# -- measuring ------------------------------------------------------------------------------------


Measurement = dict[str, list[dict[int, float]]]
"""Worker label -> one entry per round -> pipeline index -> wall seconds of that run."""


@dataclass(frozen=True)
class _Verdict:
    passed: bool
    text: str
    record: dict[str, Any]


Judge = Callable[[Measurement], _Verdict]


class _Bench:
    """The started workers and the pipelines each of them can run."""

    def __init__(self, workers: Sequence[_Worker], specs: Sequence[_Spec], limits: PerfLimits):
        self.workers = list(workers)
        self.specs = list(specs)
        self.limits = limits
        self.usable: dict[str, set[int]] = {}
        self.errors: dict[str, dict[int, str]] = {}

    def worker(self, side: str, state: str) -> _Worker:
        return next(w for w in self.workers if w.label == f"{side}/{state}")

    def set_up(self) -> None:
        pipelines = [spec.to_json() for spec in self.specs]
        for worker in self.workers:
            worker.send({"pipelines": pipelines, "workdir": str(worker.workdir)})
        for worker in self.workers:
            reply = worker.answer(self.limits.setup_seconds, "loading the pipelines")
            if not Path(reply["package"]).is_relative_to(worker.tree):
                raise WorkerFailed(
                    f"{worker.label}: imported ai_content_pipeline from {reply['package']}, "
                    f"not from {worker.tree}"
                )
            self.usable[worker.label] = set(reply["usable"])
            self.errors[worker.label] = {int(k): v for k, v in reply["errors"].items()}

    def rounds(self, workers: Sequence[_Worker], indexes: Sequence[int], count: int) -> Measurement:
        """`count` rounds; in each, pipeline by pipeline, every worker that can run it runs it
        once, the workers' order rotating by one per pipeline and per round."""
        measured: Measurement = {w.label: [] for w in workers}
        for round_number in range(count):
            for runs in measured.values():
                runs.append({})
            for position, index in enumerate(indexes):
                shift = (round_number + position) % len(workers)
                for worker in [*workers[shift:], *workers[:shift]]:
                    if index not in self.usable[worker.label]:
                        continue
                    worker.send({"run": [index]})
                    reply = worker.answer(
                        self.limits.request_seconds, f"running {self.specs[index].name}"
                    )
                    measured[worker.label][-1][index] = float(reply["seconds"][0])
        return measured


def _totals(measured: Measurement, label: str, indexes: Sequence[int]) -> list[float]:
    return [sum(runs[i] for i in indexes) for runs in measured[label]]


def _comparison_record(comparison: Comparison) -> dict[str, Any]:
    return {
        "ratio": comparison.ratio,
        "p_value": comparison.p_value,
        "factor": comparison.factor,
        "alpha": comparison.alpha,
        "baseline_s": list(comparison.baseline),
        "candidate_s": list(comparison.candidate),
    }


def _slowdown_judge(
    baseline: str, candidate: str, indexes: Sequence[int], factor: float, alpha: float, what: str
) -> Judge:
    """Fails when `candidate`'s corpus time is significantly above `factor` x `baseline`'s."""

    def judge(measured: Measurement) -> _Verdict:
        result = compare(
            _totals(measured, baseline, indexes),
            _totals(measured, candidate, indexes),
            factor=factor,
            alpha=alpha,
        )
        names = (baseline.split("/")[0], candidate.split("/")[0])
        if names[0] == names[1]:
            names = (baseline.split("/")[1], candidate.split("/")[1])
        text = f"{what}: " + result.describe(*names)
        return _Verdict(not result.slower, text, _comparison_record(result))

    return judge


def _fanout_judge(limits: PerfLimits, index: int) -> Judge:
    def judge(measured: Measurement) -> _Verdict:
        off = statistics.median(_totals(measured, f"{THIS}/off", [index]))
        on = statistics.median(_totals(measured, f"{THIS}/on", [index]))
        speedup = off / on if on > 0 else float("inf")
        floor = limits.fanout_fraction * limits.fanout_branches
        text = (
            f"{limits.fanout_branches} branches of {limits.fanout_latency * 1000:g} ms on the "
            f"real clock: speedup {speedup:.2f}x (needs >= {floor:.2f}x; off {off * 1000:.1f} "
            f"ms, on {on * 1000:.1f} ms, {limits.fanout_rounds} rounds)"
        )
        return _Verdict(speedup >= floor, text, {"speedup": speedup, "off_s": off, "on_s": on})

    return judge


def _settle_all(
    judges: Sequence[tuple[str, CheckKind, Judge]], measure: Callable[[], Measurement]
) -> list[PerfCheck]:
    """Judge one measurement; if any check failed, measure once more, afresh, and let that
    second measurement decide the failing checks. Passing checks stand as they are."""
    first = measure()
    verdicts = [(name, kind, judge, judge(first)) for name, kind, judge in judges]
    second = measure() if any(not v.passed for *_, v in verdicts) else None
    checks = []
    for name, kind, judge, verdict in verdicts:
        if verdict.passed or second is None:
            checks.append(PerfCheck(name, kind, verdict.passed, verdict.text, [verdict.record]))
            continue
        again = judge(second)
        outcome = "passed on re-measure" if again.passed else "failed twice"
        detail = f"{outcome}: attempt 1: {verdict.text}; attempt 2: {again.text}"
        checks.append(PerfCheck(name, kind, again.passed, detail, [verdict.record, again.record]))
    return checks


@contextmanager
def _started(
    trees: Mapping[str, Path], workdir: Path, specs: Sequence[_Spec], limits: PerfLimits
) -> Iterator[_Bench]:
    """Every (tree, state) worker, started together, set up, and stopped on the way out."""
    workers: list[_Worker] = []
    try:
        for side, tree in trees.items():
            for state in STATES:
                workers.append(_Worker(side, state, tree, workdir / f"{side}-{state}"))
        bench = _Bench(workers, specs, limits)
        bench.set_up()
        yield bench
    finally:
        for worker in workers:
            worker.close()


def run_perf_gate(
    yaml_paths: Sequence[Path],
    *,
    baseline_ref: str | None = DEFAULT_BASELINE_REF,
    repo: Path | None = None,
    limits: PerfLimits | None = None,
    progress: Callable[[str], None] | None = None,
) -> PerfReport:
    """Every wall-clock check over `yaml_paths`; `PerfLimits` says what passes.

    `baseline_ref` (``None``: no comparison) is looked up in the git repository holding this
    checkout (or `repo`); when it cannot be found the comparison is skipped with a note.
    A worker that hangs, dies or cannot run a pipeline is a failed ``worker`` check.
    Refuses to run under pytest-xdist.
    """
    refuse_under_xdist()
    limits = limits or PerfLimits()
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    notes: list[str] = []
    checks: list[PerfCheck] = []
    settings: dict[str, Any] = {
        "limits": {**asdict(limits), "baseline_factor": dict(limits.baseline_factor)},
        "baseline_ref": baseline_ref,
    }
    workdir = Path(tempfile.mkdtemp(prefix="aicp-perf-", dir=_scratch_root()))
    try:
        specs = _corpus_specs([Path(p) for p in yaml_paths], notes)
        trees = {THIS: Path(__file__).resolve().parent.parent}
        if baseline_ref:
            release = _release_tree(baseline_ref, repo, workdir, notes)
            if release is not None:
                trees["release"] = release
                settings["baseline_commit"] = release.name.removeprefix("release-")
        fanout = _fanout_spec(workdir / "fanout", limits)
        say(f"starting {2 * len(trees)} timing workers ({', '.join(trees)} x off, on)")
        with _started(trees, workdir, [*specs, fanout], limits) as bench:
            checks = _measure(bench, len(specs), limits, notes, say)
        settings["timed_yamls"] = [spec.name for spec in specs]
    except WorkerFailed as exc:
        checks.append(PerfCheck(str(exc).split(":", 1)[0], "worker", False, str(exc)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return PerfReport(checks, notes, round(time.perf_counter() - started, 3), settings)


def _release_tree(ref: str, repo: Path | None, workdir: Path, notes: list[str]) -> Path | None:
    here = Path(__file__).resolve().parent.parent
    repository = repo or repository_of(here)
    if repository is None:
        notes.append(f"baseline: skipped: {here} is not a git checkout, so {ref} is unknown")
        return None
    into = workdir / "release"
    release = extract_release(repository, ref, into)
    if isinstance(release, str):
        notes.append(f"baseline: skipped: {release}")
        return None
    named = into.with_name(f"release-{release.commit[:12]}")  # reports say what was timed
    into.rename(named)
    return named


def _measure(
    bench: _Bench,
    corpus_size: int,
    limits: PerfLimits,
    notes: list[str],
    say: Callable[[str], None],
) -> list[PerfCheck]:
    this = [bench.worker(THIS, state) for state in STATES]
    release = [w for w in bench.workers if w.side != THIS]
    timed = [i for i in range(corpus_size) if all(i in bench.usable[w.label] for w in this)]
    for index in set(range(corpus_size)) - set(timed):
        reason = next(bench.errors[w.label][index] for w in this if index in bench.errors[w.label])
        notes.append(f"{bench.specs[index].name}: left out ({reason})")
    shared = [i for i in timed if all(i in bench.usable[w.label] for w in release)]
    if release and len(shared) < len(timed):
        names = ", ".join(bench.specs[i].name for i in timed if i not in shared)
        notes.append(f"baseline: the release cannot run {names}; compared without them")

    checks: list[PerfCheck] = []
    if timed:
        say(f"warming up, then timing {len(timed)} YAML(s) x {len(bench.workers)} workers")
        bench.rounds(bench.workers, timed, 1)
        judges: list[tuple[str, CheckKind, Judge]] = [
            (
                "corpus",
                "overhead",
                _slowdown_judge(
                    f"{THIS}/off",
                    f"{THIS}/on",
                    timed,
                    limits.overhead_factor,
                    limits.alpha,
                    "corpus at scale 0",
                ),
            )
        ]
        if release and shared:
            for state in STATES:
                judges.append(
                    (
                        state,
                        "baseline",
                        _slowdown_judge(
                            f"release/{state}",
                            f"{THIS}/{state}",
                            shared,
                            limits.baseline_factor[state],
                            limits.alpha,
                            f"corpus at scale 0, flag {state}",
                        ),
                    )
                )
        checks += _settle_all(judges, lambda: bench.rounds(bench.workers, timed, limits.rounds))
    fanout = corpus_size  # the fan-out pipeline follows the corpus
    if all(fanout in bench.usable[w.label] for w in this):
        say(f"timing a {limits.fanout_branches}-branch fan-out on the real clock")
        bench.rounds(this, [fanout], 1)
        judge = _fanout_judge(limits, fanout)
        checks += _settle_all(
            [(f"{limits.fanout_branches}_branches", "fanout", judge)],
            lambda: bench.rounds(this, [fanout], limits.fanout_rounds),
        )
    else:
        reason = next(
            bench.errors[w.label][fanout] for w in this if fanout in bench.errors[w.label]
        )
        checks.append(PerfCheck("fanout", "fanout", False, f"the fan-out cannot run: {reason}"))
    return checks
