"""Recording: run pipelines on the stub backend and turn each run into a golden record.

A record is everything a run produced, made comparable: the chain as loaded, the `ChainResult`,
its step results and outputs, the execution report and intermediate reports read back from disk,
the sha256 of every produced file, and the deterministic timing model — all passed through the one
redaction list (`harness.redact`). It holds nothing about the flag state, so the records of one
YAML in ``absent``, ``off`` and ``on`` must be *equal*; that equality is what the gate checks.

Each run happens in a fresh temporary working directory (``base_dir``), with its input asset
copied in, so runs never see each other's files and absolute paths redact to ``<workdir>``.

`record_pipeline` and `record_corpus` record in the CURRENT process state (enter one with
`harness.states.activate`); `record_states` records several states, in subprocesses
(`harness.worker`) or one after another in this process.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_content_pipeline.cli.run_chain import pipeline_file_problems
from ai_content_pipeline.clock import RealClock, VirtualClock
from ai_content_pipeline.errors import ConfigError
from ai_content_pipeline.models.stub import JITTER_SEED_ENV, LATENCY_FACTORS, TIME_SCALE_ENV
from ai_content_pipeline.pipeline.manager import AIPipelineManager
from ai_content_pipeline.pipeline.reports import REPORTS_DIRNAME
from ai_content_pipeline.pipeline.schedule import ScheduleTrace

from .environ import patched_env
from .redact import redact
from .schedules import Order, check_run, orders_for, parse_order
from .states import STATES, activate, check_state, describe_state
from .timing import timing_model

REPO_ROOT = Path(__file__).resolve().parent.parent
YAML_SUFFIXES = (".yaml", ".yml")

# The CLI's rule (`aicp run-chain`): which config key holds the input for each input type.
INPUT_KEYS = {"text": "prompt", "any": "prompt", "image": "input_image", "video": "input_video"}
MEDIA_TYPES = ("image", "video")

_EXECUTION_REPORT = re.compile(r".+_report\.json")
_INTERMEDIATE_REPORT = re.compile(r".+_intermediate_.+\.json")


@dataclass(frozen=True)
class RecordSettings:
    """How a recording runs. By default on the virtual clock at time scale 1 (a branch takes
    its model seconds of virtual time, no wall time), each pipeline run twice through one
    executor and every group replayed under its completion orders (`harness.schedules`)."""

    time_scale: float = 1.0
    jitter_seed: int | None = None
    virtual: bool = True
    explore: bool = True
    twice: bool = True
    only_order: str | None = None
    """Replay just this order (``step2:perm:3,1,2``, as a failure names it)."""
    stress: bool = False
    """Race stress: every model call runs on a worker thread (sync generators), the
    interpreter switches threads every microsecond, and each run is repeated
    `STRESS_REPEATS` times: a data race the GIL usually hides then shows as a difference."""


STRESS_REPEATS = 8
STRESS_SWITCH_INTERVAL = 1e-6


class _SyncOnly:
    """A generator seen without its `agenerate`: async schedulers must run it on a thread."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def generate(self, request: Any) -> Any:
        return self._inner.generate(request)


def _sync_only_registry() -> Any:
    from ai_content_pipeline.models.registry import build_registry

    registry = build_registry("stub")
    wrapped: dict[int, _SyncOnly] = {}
    for step_type, model, generator in registry.entries():
        registry.register(step_type, model, wrapped.setdefault(id(generator), _SyncOnly(generator)))
    return registry


@dataclass(frozen=True)
class StateRecords:
    """One state's outcome: stem -> record, and stem -> one-line error for runs that raised."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


# --- which pipelines ---------------------------------------------------------------------------


def _pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """``a or b and not c`` = a OR (b AND NOT c); no parentheses, words match case-insensitively."""
    alternatives: list[list[tuple[bool, str]]] = [[]]
    negate = False
    expect_word = True
    for token in pattern.lower().split():
        if token == "not" and expect_word:
            negate = not negate
        elif token in ("and", "or") and not expect_word:
            if token == "or":
                alternatives.append([])
            expect_word = True
        elif token not in ("and", "or", "not") and expect_word:
            alternatives[-1].append((negate, token))
            negate, expect_word = False, False
        else:
            raise ValueError(f"cannot read the pattern {pattern!r} at {token!r}")
    if expect_word:
        raise ValueError(f"the pattern {pattern!r} ends without a word")

    def matches(stem: str) -> bool:
        stem = stem.lower()
        return any(
            all((word in stem) != negated for negated, word in terms) for terms in alternatives
        )

    return matches


def stem_matches(stem: str, pattern: str | None) -> bool:
    """Whether `stem` is selected by `pattern` (the `discover` grammar; empty selects all)."""
    if pattern is None or not pattern.strip():
        return True
    return _pattern_matcher(pattern)(stem)


def discover(input_dir: Path, pattern: str | None = None) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files directly in `input_dir`, sorted by name.

    `pattern` selects by file stem, pytest ``-k`` style but minimal: words are case-insensitive
    substrings, combined with ``not`` (binds tightest), ``and``, then ``or``; no parentheses, and
    two words need an operator between them. E.g. ``"group or fan"``, ``"group and not fails"``.
    Two files with one stem are an error (records are keyed by stem).
    """
    folder = Path(input_dir)
    if not folder.is_dir():
        raise ValueError(f"input folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in YAML_SUFFIXES)
    if pattern is not None and pattern.strip():
        matches = _pattern_matcher(pattern)
        paths = [p for p in paths if matches(p.stem)]
    stems: dict[str, Path] = {}
    for path in paths:
        if path.stem in stems:
            raise ValueError(
                f"two pipelines share the stem {path.stem!r}: {stems[path.stem].name}"
                f" and {path.name}"
            )
        stems[path.stem] = path
    return paths


# --- one run -----------------------------------------------------------------------------------


def resolve_input(config: Mapping[str, Any], chain: Any, yaml_path: Path) -> str:
    """The run's input, by the CLI's rule: text/any -> ``prompt``, image -> ``input_image``,
    video -> ``input_video``.

    A relative media path is looked up against the current directory, then the YAML's folder,
    then its parent (the corpus writes paths relative to the repository root); the result is
    absolute. URLs and texts are returned as written.
    """
    input_type = chain.get_initial_input_type()
    key = INPUT_KEYS.get(input_type)
    if key is None:
        raise ValueError(f"unknown input type {input_type!r}")
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"no input: input type {input_type} needs a non-empty {key!r}")
    if input_type not in MEDIA_TYPES or "://" in value:
        return value
    path = Path(value)
    folder = Path(yaml_path).resolve().parent
    candidates = (
        [path] if path.is_absolute() else [Path.cwd() / path, folder / path, folder.parent / path]
    )
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.resolve())
    raise FileNotFoundError(f"input {input_type} not found: {value} (given by {key!r})")


@contextmanager
def _stub_env(settings: RecordSettings) -> Iterator[None]:
    """The stub's latency variables for one run; the previous values come back afterwards."""
    jitter = None if settings.jitter_seed is None else str(int(settings.jitter_seed))
    with patched_env({TIME_SCALE_ENV: repr(float(settings.time_scale)), JITTER_SEED_ENV: jitter}):
        yield


def _stage_input(input_data: str, input_type: str, workdir: Path) -> str:
    """Copy a local media input to ``<workdir>/input/<name>``: paths then redact the same way."""
    if input_type not in MEDIA_TYPES or "://" in input_data or not Path(input_data).is_file():
        return input_data
    target = workdir / "input" / Path(input_data).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(input_data, target)
    return str(target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_report(relative: Path) -> bool:
    return (
        len(relative.parts) == 2
        and relative.parts[0] == REPORTS_DIRNAME
        and bool(
            _EXECUTION_REPORT.fullmatch(relative.name)
            or _INTERMEDIATE_REPORT.fullmatch(relative.name)
        )
    )


def _read_outputs(output_root: Path) -> dict[str, Any]:
    """Reports (parsed) and every other file's sha256, keyed by path relative to `output_root`."""
    files: dict[str, str] = {}
    report_files: list[str] = []
    execution_reports: list[Any] = []
    intermediate: dict[str, Any] = {}
    if output_root.is_dir():
        for path in sorted(p for p in output_root.rglob("*") if p.is_file()):
            relative = path.relative_to(output_root)
            if not _is_report(relative):
                files[relative.as_posix()] = _sha256(path)
                continue
            report_files.append(relative.as_posix())
            content = json.loads(path.read_text(encoding="utf-8"))
            if _INTERMEDIATE_REPORT.fullmatch(path.name):
                intermediate[path.name] = content
            else:
                execution_reports.append(content)
    if len(execution_reports) > 1:
        raise RuntimeError(f"one run wrote {len(execution_reports)} execution reports")
    return {
        "report": execution_reports[0] if execution_reports else None,
        "intermediate_reports": intermediate,
        "report_files": report_files,
        "files": files,
    }


def _json_ready(obj: Any) -> Any:
    """What the record becomes after a JSON round trip (so in-process == subprocess records)."""
    return json.loads(json.dumps(obj, default=str))


def pipeline_file_lines(yaml_path: Path) -> list[str]:
    """The lines `aicp validate --strict --config YAML_PATH` refuses the file with (its input
    aside: the harness also finds inputs next to the YAML); ``[]`` for a file it accepts.

    Strict: `aicp` only warns about unknown keys (files with newer keys must still run), but a
    corpus YAML with a misspelt key would record a pipeline other than the one it claims to be.
    """
    try:
        return pipeline_file_problems(str(yaml_path))
    except ConfigError as exc:
        return [str(exc)]


def check_pipeline_file(yaml_path: Path) -> None:
    """Raise `ConfigError` with `pipeline_file_lines` (joined by ``; ``) when there are any: a
    YAML `aicp validate` refuses is never recorded."""
    lines = pipeline_file_lines(yaml_path)
    if lines:
        raise ConfigError("; ".join(lines))


def _problem_lines(kind: str, problems: Sequence[str]) -> list[str]:
    return [f"{kind}: {line}" for line in problems]


class _Recorder:
    """Runs one pipeline (possibly many times) through ONE executor and records each run."""

    def __init__(self, yaml_path: Path, settings: RecordSettings, workdir: Path, state: str):
        check_pipeline_file(yaml_path)
        self.yaml_path = yaml_path
        self.settings = settings
        self.workdir = workdir
        self.state = state
        clock = VirtualClock() if settings.virtual else RealClock()
        generators = _sync_only_registry() if settings.stress else None
        self.manager = AIPipelineManager(
            base_dir=str(workdir), generators=generators, clock=clock, create_dirs=False
        )
        self.executor = self.manager.executor
        self.executor.schedule_trace = ScheduleTrace()
        self.chain = self.manager.create_chain_from_config(str(yaml_path))
        self.config = copy.deepcopy(self.chain.to_config())
        self.output_dir = Path(str(self.chain.output_dir))
        if self.output_dir.is_absolute():
            raise ValueError(
                f"output_dir {self.output_dir} is absolute: it would escape the workdir"
            )
        input_type = self.chain.get_initial_input_type()
        self.input_data = _stage_input(
            resolve_input(self.config, self.chain, yaml_path), input_type, workdir
        )
        self.steps = self.chain.get_enabled_steps()

    def run(self, factors: Mapping[str, float] | None = None) -> tuple[dict[str, Any], list[str]]:
        """(record, schedule problems) of one fresh run; its output folder is removed after."""
        trace = self.executor.schedule_trace
        assert trace is not None
        trace.clear()
        token = LATENCY_FACTORS.set(dict(factors) if factors else None)
        origin = self.executor.clock.now()
        try:
            result = self.manager.execute_chain(self.chain, self.input_data)
        finally:
            LATENCY_FACTORS.reset(token)
        step_results = result.step_results or []
        groups = list(trace.groups)
        problems = (
            check_run(self.steps, step_results, groups, result.total_time, self.state, factors)
            if self.settings.virtual
            else []
        )
        raw = {
            "pipeline": self.yaml_path.stem,
            "chain": self.config,
            "result": {
                "success": result.success,
                "steps_completed": result.steps_completed,
                "total_steps": result.total_steps,
                "total_cost": result.total_cost,
                "error": result.error,
            },
            "step_results": step_results,
            "outputs": result.outputs,
            **_read_outputs(self.workdir / self.output_dir),
            "timing": timing_model(step_results),
            "checks": [],
            "schedule": {
                "clock": self.executor.clock.name,
                "total_seconds": round(result.total_time, 6) if self.settings.virtual else None,
                "groups": [g.to_dict(origin) for g in groups] if self.settings.virtual else [],
            },
        }
        shutil.rmtree(self.workdir / self.output_dir, ignore_errors=True)
        return redact(_json_ready(raw), self.workdir), problems

    def run_interrupted(self, at: float) -> list[str]:
        """Ctrl-C at virtual second `at` of a run: what must hold afterwards (module doc of
        `ai_content_pipeline.interrupts`): it stops at once, starts nothing later, and its
        report accounts for every charge and every file. Problems found, in words."""
        clock = self.executor.clock
        trace = self.executor.schedule_trace
        assert trace is not None and isinstance(clock, VirtualClock)
        trace.clear()
        origin = clock.now()
        clock.interrupt_at(origin + at)
        problems = []
        try:
            self.manager.execute_chain(self.chain, self.input_data)
            problems.append(f"Ctrl-C at {at:g} s: the run did not stop")
        except KeyboardInterrupt:
            pass
        finally:
            clock.interrupt_at(None)
        stopped = clock.now() - origin
        if problems:
            pass
        elif abs(stopped - at) > 1e-9:
            problems.append(f"Ctrl-C at {at:g} s: the run went on until {stopped:g} s")
        for group in trace.groups:
            late = [s.index + 1 for s in group.branches if s.start - origin > at + 1e-9]
            if late:
                problems.append(
                    f"Ctrl-C at {at:g} s: {group.step_label} branches {late} started after it"
                )
        problems += _interrupted_report_problems(self.workdir / self.output_dir, at)
        shutil.rmtree(self.workdir / self.output_dir, ignore_errors=True)
        return problems

    def orders(self, record: Mapping[str, Any]) -> list[Order]:
        wanted = None
        if self.settings.only_order:
            wanted = parse_order(self.settings.only_order)
        found = []
        for group in record["schedule"]["groups"]:
            for order in orders_for(group["step"], len(group["branches"]), self.state):
                if wanted is None or (order.step_label, order.ranks) == wanted:
                    found.append(order)
        if wanted is not None and not found:
            found = [Order(wanted[0], "replay", wanted[1])]
        return found


def _interrupted_report_problems(output_root: Path, at: float) -> list[str]:
    """The report of a run stopped by Ctrl-C must say so, list every file, and charge exactly
    what its steps and branches were charged."""
    reports = sorted((output_root / REPORTS_DIRNAME).glob("*_report.json"))
    if len(reports) != 1:
        return [f"Ctrl-C at {at:g} s: {len(reports)} execution reports were written, not 1"]
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    problems = []
    if report.get("interrupted") is not True:
        problems.append(f"Ctrl-C at {at:g} s: the report does not say it was interrupted")
    present = sorted(
        p.relative_to(output_root).as_posix()
        for p in output_root.rglob("*")
        if p.is_file() and p.parent != output_root / REPORTS_DIRNAME
    )
    if report.get("files_present") != present:
        problems.append(
            f"Ctrl-C at {at:g} s: the report lists files {report.get('files_present')}, "
            f"the output folder holds {present}"
        )
    charged = sum(float(d.get("cost") or 0.0) for d in report.get("step_execution_details", []))
    total = float((report.get("execution_summary") or {}).get("total_cost_usd") or 0.0)
    if abs(charged - total) > 1e-9:
        problems.append(
            f"Ctrl-C at {at:g} s: the report charges {total:g} in total, its steps {charged:g}"
        )
    return problems


def _without_schedule(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("schedule", "checks")}


def record_pipeline(
    yaml_path: Path, settings: RecordSettings | None = None, expected_state: str | None = None
) -> dict[str, Any]:
    """Run one pipeline in the current flag state, isolated, and return its redacted record.

    With `expected_state`, the executor is checked to really be in that state first
    (`RuntimeError` otherwise). The record's ``checks`` lists every problem found beyond the
    record itself: a schedule the policy does not give, a second run through the same executor
    that differs, a replayed completion order that changes anything (named, for replay).
    """
    yaml_path = Path(yaml_path)
    settings = settings or RecordSettings()
    with _stub_env(settings), tempfile.TemporaryDirectory(prefix="harness-run-") as tmp:
        workdir = Path(tmp).resolve()
        state = expected_state or _current_state()
        recorder = _Recorder(yaml_path, settings, workdir, state)
        try:
            if expected_state is not None:
                describe_state(recorder.executor, expected_state)
            record, problems = recorder.run()
            checks = _problem_lines("schedule", problems)
            base = _without_schedule(record)
            if settings.twice:
                again, again_problems = recorder.run()
                checks += _problem_lines("second run", again_problems)
                if _without_schedule(again) != base or again["schedule"] != record["schedule"]:
                    checks.append(
                        "second run: a second run through the same executor differs from the "
                        f"first: {_first_difference(record, again)}"
                    )
            if settings.virtual and record["schedule"]["groups"] and _can_press_ctrl_c():
                checks += _problem_lines("interrupt", recorder.run_interrupted(_mid_group(record)))
            if settings.stress:
                checks += _stress(recorder, record)
            if settings.explore and settings.virtual:
                for order in recorder.orders(record):
                    replay, replay_problems = recorder.run(order.factors())
                    label = f"order {order.name}"
                    checks += _problem_lines(label, replay_problems)
                    if _without_schedule(replay) != base:
                        checks.append(
                            f"{label}: outputs differ from declaration-order latencies "
                            f"(completion order {_completion(replay, order.step_label)}): "
                            f"{_first_difference(record, replay)}"
                        )
        finally:
            recorder.executor.close()
        record["checks"] = checks
        return record


def _stress(recorder: _Recorder, record: Mapping[str, Any]) -> list[str]:
    """Repeat the run with threads switching every microsecond; any difference is a race."""
    checks = []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(STRESS_SWITCH_INTERVAL)
    try:
        for repeat in range(1, STRESS_REPEATS + 1):
            again, problems = recorder.run()
            checks += _problem_lines(f"stress run {repeat}", problems)
            if again != record:
                checks.append(
                    f"stress run {repeat}: differs under thread switching (a data race?): "
                    f"{_first_difference(record, again)}"
                )
                break
    finally:
        sys.setswitchinterval(previous)
    return checks


def _can_press_ctrl_c() -> bool:
    """A simulated Ctrl-C is a real SIGINT to this process: only where it can only become a
    `KeyboardInterrupt` (the main thread, Python's own handler), never in a host with others."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


def _mid_group(record: Mapping[str, Any]) -> float:
    """When the gate presses Ctrl-C: halfway through the first group (virtual seconds)."""
    group = record["schedule"]["groups"][0]
    return float(group["start"] + group["end"]) / 2


def _current_state() -> str:
    from .states import FLAG_VALUES, is_parallel_blocked

    if is_parallel_blocked():
        return "absent"
    value = os.environ.get("PIPELINE_PARALLEL_ENABLED", "").strip().lower()
    return "on" if value == FLAG_VALUES["on"] else "off"


def _completion(record: Mapping[str, Any], step_label: str) -> str:
    for group in record["schedule"]["groups"]:
        if group["step"] == step_label:
            ends = sorted(group["branches"], key=lambda b: (b["end"], b["branch"]))
            return ",".join(str(b["branch"]) for b in ends)
    return "?"


def _first_difference(golden: Mapping[str, Any], actual: Mapping[str, Any]) -> str:
    from .compare import diff_records

    diffs = diff_records(_without_schedule(golden), _without_schedule(actual))
    if not diffs:
        return "schedule differs"
    first = diffs[0]
    where = f"{first.where} " if first.where else ""
    return f"{where}{first.field}: {first.golden!r} != {first.actual!r}"


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def record_each(
    paths: Iterable[Path],
    settings: RecordSettings | None = None,
    expected_state: str | None = None,
) -> StateRecords:
    """`record_pipeline` for each path in the current state; a run that raises becomes an error."""
    outcome = StateRecords()
    for path in paths:
        stem = Path(path).stem
        try:
            with _time_limit(PIPELINE_TIME_LIMIT, stem, expected_state):
                outcome.records[stem] = record_pipeline(Path(path), settings, expected_state)
        except PipelineHang as hang:
            outcome.errors[stem] = str(hang)
        except Exception as exc:
            outcome.errors[stem] = _one_line(exc)
    return outcome


# On the virtual clock a pipeline records (with every replay) in milliseconds; one still
# running after this long is hung — a deadlock, or a wait that bypasses the clock.
PIPELINE_TIME_LIMIT = 60.0


class PipelineHang(BaseException):
    """A pipeline did not finish recording within its time limit. A `BaseException`, so the
    executor's own `except Exception` cannot swallow it and run the hung pipeline again."""


@contextmanager
def _time_limit(seconds: float, stem: str, state: str | None) -> Iterator[None]:
    """Raise `PipelineHang` in this (main) thread after `seconds` of wall time."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise PipelineHang(
            f"hung: {stem} [{state or '?'}] still running after {seconds:g} s of wall time"
        )

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def record_corpus(
    paths: Iterable[Path],
    settings: RecordSettings | None = None,
    expected_state: str | None = None,
) -> dict[str, dict[str, Any]]:
    """stem -> record for each path in the current state; the first failure raises."""
    return {Path(p).stem: record_pipeline(Path(p), settings, expected_state) for p in paths}


# --- several states ----------------------------------------------------------------------------


def worker_command(
    state: str, input_dir: Path, settings: RecordSettings, pattern: str | None, out: Path
) -> list[str]:
    """The `harness.worker` command line recording `state`."""
    command = [
        sys.executable,
        "-m",
        "harness.worker",
        "--state",
        state,
        "--input",
        str(Path(input_dir).resolve()),
        "--time-scale",
        repr(float(settings.time_scale)),
        "--jitter-seed",
        "none" if settings.jitter_seed is None else str(settings.jitter_seed),
        "--out",
        str(out),
    ]
    if pattern:
        command += ["-k", pattern]
    if settings.only_order:
        command += ["--order", settings.only_order]
    if settings.stress:
        command.append("--stress")
    return command


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *existing])
    return env


def _run_worker(
    state: str,
    input_dir: Path,
    settings: RecordSettings,
    pattern: str | None,
    folder: Path,
    timeout: float | None,
) -> StateRecords:
    out = folder / f"{state}.json"
    log = folder / f"{state}.log"
    with log.open("wb") as handle:
        completed = subprocess.run(
            worker_command(state, input_dir, settings, pattern, out),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=_worker_env(),
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0 or not out.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(
            f"worker for state {state!r} exited with {completed.returncode}: " + " | ".join(tail)
        )
    data = json.loads(out.read_text(encoding="utf-8"))
    if data.get("state") != state:
        raise RuntimeError(f"worker for state {state!r} answered for {data.get('state')!r}")
    return StateRecords(records=data["records"], errors=data["errors"])


def record_states(
    input_dir: Path,
    states: Sequence[str] = STATES,
    settings: RecordSettings | None = None,
    pattern: str | None = None,
    jobs: int = 0,
    timeout: float | None = None,
) -> dict[str, StateRecords]:
    """Record every discovered pipeline in each of `states`.

    ``jobs=0``: one `harness.worker` subprocess per state, all at once (a fresh interpreter is the
    only honest ``absent``); ``jobs=1``: the states one after another in THIS process via
    `activate` (what tests that monkeypatch faults need); ``jobs=N>1``: subprocesses, at most N at
    a time. Both paths give identical records. Prints nothing; a worker that crashes raises
    `RuntimeError`, a pipeline that raises lands in its state's ``errors``.
    """
    settings = settings or RecordSettings()
    wanted = list(dict.fromkeys(check_state(s) for s in states))
    if jobs < 0:
        raise ValueError(f"jobs must be >= 0, got {jobs}")
    if jobs == 1:
        paths = discover(input_dir, pattern)
        outcome: dict[str, StateRecords] = {}
        for state in wanted:
            with activate(state):
                outcome[state] = record_each(paths, settings, expected_state=state)
        return outcome
    discover(input_dir, pattern)  # usage problems surface here, not as a worker exit code
    with (
        tempfile.TemporaryDirectory(prefix="harness-workers-") as tmp,
        ThreadPoolExecutor(max_workers=max(1, len(wanted) if jobs == 0 else jobs)) as pool,
    ):
        futures = {
            state: pool.submit(
                _run_worker, state, Path(input_dir), settings, pattern, Path(tmp), timeout
            )
            for state in wanted
        }
        return {state: future.result() for state, future in futures.items()}
