"""The release gate: every YAML x state equals its golden record, the API has no break, perf passes.

Why one function with a result object: the CLI prints it, `--json`/`--junit` serialize it, and the
tests inspect it; all three must agree. The gate only *reads* golden records — writing them is
`harness update`'s job — and it writes report files only where it was asked to, also when a
phase fails or the run is interrupted (what was known by then is reported, the rest is
``not run``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .baseline import DEFAULT_BASELINE_REF
from .compare import Difference, describe, diff_records
from .golden import (
    API_STEM,
    GoldenError,
    GoldenStore,
    atomic_write_text,
    check_stem,
    view_for_state,
)
from .states import REFERENCE_STATE, STATES

# Cell statuses, one per YAML x state.
MATCH = "match"
MISMATCH = "mismatch"
MISSING = "missing"  # no golden record
ERROR = "error"  # the run could not be recorded, or the golden is unreadable
NOT_RUN = "not run"  # interrupted before this cell was known

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
NO_GOLDEN = "no golden record; run `harness update`"
# A state worker still running this long has hung (a whole corpus takes about a second on the
# virtual clock); each pipeline inside it also has its own limit (`record.PIPELINE_TIME_LIMIT`).
WORKER_TIME_LIMIT = 600.0


class UsageError(Exception):
    """Bad input from the user (unknown folder, no YAMLs, bad state): one line, exit 2."""


@dataclass
class RunOptions:
    """What `harness gate` and `harness update` both need: which corpus, where, how."""

    input_dir: Path = Path("input")
    snapshots_dir: Path = Path("snapshots")
    states: tuple[str, ...] = STATES
    pattern: str | None = None
    jobs: int = 0
    """0: one subprocess per state (the real gate); 1: in-process (self-tests)."""
    time_scale: float = 1.0
    """Stub latency scale on the virtual clock (1: a branch takes its model seconds)."""
    order: str | None = None
    """Replay only this completion order (as a failure names it)."""
    stress: bool = False
    """Race stress mode (`record.RecordSettings.stress`)."""
    quiet: bool = False
    out: TextIO | None = None
    err: TextIO | None = None


@dataclass
class GateOptions(RunOptions):
    json_path: Path | None = None
    junit_path: Path | None = None
    perf: bool = True
    baseline_ref: str | None = DEFAULT_BASELINE_REF
    """The release the wall-clock phase times this checkout against (None: no comparison)."""


@dataclass
class Cell:
    status: str
    message: str = ""
    diffs: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == MATCH


@dataclass
class ApiResult:
    status: str = NOT_RUN  # match | mismatch (breaking) | missing | error | not run
    breaking: list[str] = field(default_factory=list)
    additions: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == MATCH


@dataclass
class GateResult:
    stems: list[str] = field(default_factory=list)
    states: tuple[str, ...] = STATES
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)
    api: ApiResult = field(default_factory=ApiResult)
    release_api: ApiResult = field(default_factory=ApiResult)
    """The public API against the established release's record (``__api_release__``)."""
    perf: Any = None  # harness.perf.PerfReport
    perf_status: str = NOT_RUN  # passed | failed | skipped | error | not run
    perf_message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    report_errors: list[str] = field(default_factory=list)
    golden_errors: dict[str, str] = field(default_factory=dict)
    """stem -> why its golden record is unusable (corrupt, unreadable): one line, not per state."""
    file_errors: dict[str, list[str]] = field(default_factory=dict)
    """stem -> the lines `aicp validate --strict` refuses its YAML with (it is not recorded)."""

    def cell(self, stem: str, state: str) -> Cell:
        return self.cells.get(stem, {}).get(state, Cell(NOT_RUN))

    @property
    def records_ok(self) -> bool:
        return not self.unused and all(
            self.cell(stem, state).ok for stem in self.stems for state in self.states
        )

    @property
    def perf_ok(self) -> bool:
        return self.perf_status in ("passed", "skipped")

    @property
    def passed(self) -> bool:
        return (
            not self.interrupted
            and self.records_ok
            and self.api.ok
            and self.release_api.ok
            and self.perf_ok
            and not self.report_errors
        )

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if self.passed else EXIT_FAIL


# -- shared with `harness update` ---------------------------------------------------------------


def discover_inputs(input_dir: Path, pattern: str | None) -> tuple[list[Path], list[str]]:
    """(selected YAML paths, every YAML stem in the folder); `UsageError` for bad input."""
    from .record import discover

    input_dir = Path(input_dir)
    if not input_dir.exists():
        raise UsageError(f"input folder {input_dir} does not exist")
    if not input_dir.is_dir():
        raise UsageError(f"input folder {input_dir} is not a folder")
    try:
        everything = discover(input_dir)
        selected = discover(input_dir, pattern) if pattern else everything
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    for path in everything:
        try:
            check_stem(path.stem)
        except GoldenError as exc:
            raise UsageError(f"{path}: {exc}") from exc
    if not everything:
        raise UsageError(f"no YAML files in {input_dir}")
    if not selected:
        raise UsageError(f"no YAML file in {input_dir} matches -k {pattern!r}")
    return selected, [p.stem for p in everything]


def check_states(states: Iterable[str]) -> tuple[str, ...]:
    wanted = list(dict.fromkeys(states))
    unknown = [s for s in wanted if s not in STATES]
    if unknown or not wanted:
        raise UsageError(
            f"unknown state {', '.join(map(repr, unknown)) or '(none)'}; "
            f"choose from {','.join(STATES)}"
        )
    return tuple(s for s in STATES if s in wanted)


def record_in_states(
    input_dir: Path,
    states: Sequence[str],
    *,
    pattern: str | None,
    jobs: int,
    time_scale: float,
    order: str | None = None,
    stress: bool = False,
) -> dict[str, Any]:
    """`record.record_states` with the gate's settings."""
    from .record import RecordSettings, record_states

    settings = RecordSettings(
        time_scale=time_scale, jitter_seed=None, only_order=order, stress=stress
    )
    return record_states(
        input_dir, list(states), settings, pattern=pattern, jobs=jobs, timeout=WORKER_TIME_LIMIT
    )


def compare_cell(golden: Mapping[str, Any] | None, actual: Mapping[str, Any], state: str) -> Cell:
    """A state's record against its view of the golden record (shared part + its schedule)."""
    if golden is None:
        return Cell(MISSING, NO_GOLDEN)
    diffs = diff_records(view_for_state(golden, state), actual)
    return Cell(MISMATCH if diffs else MATCH, diffs=diffs)


def fill_cells(
    result: GateResult,
    recorded: Mapping[str, Any],
    goldens: Mapping[str, Mapping[str, Any] | None],
    golden_errors: Mapping[str, str],
) -> None:
    """Compare every recorded state with the golden records (missing states stay ``not run``)."""
    for stem in result.stems:
        row = result.cells.setdefault(stem, {})
        for state in result.states:
            records = recorded.get(state)
            if records is None:
                continue
            if stem in result.file_errors:
                row[state] = Cell(ERROR, "; ".join(result.file_errors[stem]))
            elif stem in records.errors:
                row[state] = Cell(ERROR, f"run failed: {records.errors[stem]}")
            elif stem in golden_errors:
                row[state] = Cell(ERROR, golden_errors[stem])
            elif stem in records.records:
                row[state] = compare_cell(goldens.get(stem), records.records[stem], state)
            else:
                row[state] = Cell(ERROR, "no record was produced")


# -- the gate -----------------------------------------------------------------------------------


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def phase(self, name: str) -> _Phase:
        return _Phase(self.timings, name)


class _Phase:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = round(time.perf_counter() - self.started, 3)


def run_gate(options: GateOptions) -> GateResult:
    """Run the whole gate and write the requested reports; `UsageError` before anything runs."""
    out = options.out or sys.stdout
    err = options.err or sys.stderr

    def say(line: str) -> None:
        if not options.quiet:
            print(line, file=err, flush=True)

    states = check_states(options.states)
    selected, all_stems = discover_inputs(options.input_dir, options.pattern)
    _check_report_paths(options)
    store = GoldenStore(options.snapshots_dir)
    result = GateResult(stems=[p.stem for p in selected], states=states)
    clock = _Clock(result.timings)
    started = time.perf_counter()
    try:
        with clock.phase("record"):
            result.file_errors = _file_errors(selected)
            say(f"recording {len(selected)} YAML(s) in {len(states)} state(s)…")
            recorded = _record_all(options, states, result, say)
        with clock.phase("compare"):
            goldens, result.golden_errors = _read_goldens(store, result.stems)
            fill_cells(result, recorded, goldens, result.golden_errors)
            result.unused = _unused(store, all_stems, options.pattern)
        with clock.phase("api"):
            say("api: comparing the public API with its golden record…")
            result.api = check_api_golden(store, states)
            say("api: comparing the public API with the established release…")
            result.release_api = check_api_release(store)
        if options.perf:
            with clock.phase("perf"):
                _run_perf(options, selected, result, say)
        else:
            result.perf_status, result.perf_message = "skipped", "skipped (--no-perf)"
    except KeyboardInterrupt:
        result.interrupted = True
        say("interrupted: writing what is known so far")
    finally:
        result.timings["total"] = round(time.perf_counter() - started, 3)
        write_reports(options, result)
    print_summary(result, out)
    return result


def _record_all(
    options: GateOptions, states: Sequence[str], result: GateResult, say: Callable[[str], None]
) -> dict[str, Any]:
    try:
        return record_in_states(
            options.input_dir,
            states,
            pattern=options.pattern,
            jobs=options.jobs,
            time_scale=options.time_scale,
            order=options.order,
            stress=options.stress,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a state's worker died: every cell of the run is an error
        message = f"recording failed: {type(exc).__name__}: {exc}"
        say(message)
        for stem in result.stems:
            result.cells[stem] = {state: Cell(ERROR, message) for state in states}
        return {}


def _file_errors(paths: Iterable[Path]) -> dict[str, list[str]]:
    """The selected YAMLs `aicp validate --strict` refuses, with its lines (the recorder
    refuses them too, in every state, with the same text)."""
    from .record import pipeline_file_lines

    found = {path.stem: pipeline_file_lines(path) for path in paths}
    return {stem: lines for stem, lines in found.items() if lines}


def _read_goldens(
    store: GoldenStore, stems: Iterable[str]
) -> tuple[dict[str, dict[str, Any] | None], dict[str, str]]:
    goldens: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    for stem in stems:
        try:
            goldens[stem] = store.read(stem)
        except GoldenError as exc:
            errors[stem] = str(exc)
    return goldens, errors


def _unused(store: GoldenStore, all_stems: Iterable[str], pattern: str | None) -> list[str]:
    """Golden records without a YAML; with -k only those the pattern selects."""
    from .record import stem_matches

    present = set(all_stems)
    return [
        stem
        for stem in store.stems()
        if stem not in present and (pattern is None or stem_matches(stem, pattern))
    ]


def check_api_golden(store: GoldenStore, states: Sequence[str]) -> ApiResult:
    """Snapshot the API in every state (must be identical), then compare with ``__api__``."""
    from .api import compare_snapshots, snapshot_api
    from .states import activate

    try:
        snapshots: dict[str, dict[str, Any]] = {}
        for state in states:
            with activate(state):
                snapshots[state] = snapshot_api()
        reference = snapshots.get(REFERENCE_STATE) or next(iter(snapshots.values()))
        differing = [s for s, snap in snapshots.items() if snap != reference]
        if differing:
            return ApiResult(
                ERROR, message=f"API snapshot differs between states: {', '.join(differing)}"
            )
        golden = store.read(API_STEM)
    except GoldenError as exc:
        return ApiResult(ERROR, message=str(exc))
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        return ApiResult(ERROR, message=f"API snapshot failed: {type(exc).__name__}: {exc}")
    if golden is None:
        return ApiResult(MISSING, message=NO_GOLDEN)
    try:
        report = compare_snapshots(golden, reference)
    except ValueError as exc:
        return ApiResult(ERROR, message=f"{store.path_for(API_STEM)}: {exc}")
    status = MISMATCH if report.breaking else MATCH
    return ApiResult(status, list(report.breaking), list(report.additions))


def release_label() -> str:
    from .release_api import RELEASE_DISTRIBUTION, RELEASE_VERSION

    return f"release {RELEASE_DISTRIBUTION} {RELEASE_VERSION}"


def check_api_release(store: GoldenStore, fallback: Path | None = None) -> ApiResult:
    """This checkout's public API against the recorded established release: breaking
    changes by griffe's rules (keyword names included) and the few rules griffe lacks.

    The record is the golden folder's own, else `fallback` (by default the one this
    repository ships, so a gate on a scratch snapshots folder still checks it)."""
    from .release_api import BUNDLED_RECORD, RELEASE_STEM, check_against_release

    record = store.path_for(RELEASE_STEM)
    if not record.is_file():
        record = BUNDLED_RECORD if fallback is None else fallback
    if not record.is_file():
        return ApiResult(
            MISSING,
            message=f"no release API record {record}; run scripts/record_release_api.py",
        )
    try:
        report = check_against_release(record)
    except KeyboardInterrupt:
        raise
    except ValueError as exc:
        return ApiResult(ERROR, message=str(exc))
    except Exception as exc:
        return ApiResult(ERROR, message=f"release API check failed: {type(exc).__name__}: {exc}")
    status = MISMATCH if report.breaking else MATCH
    return ApiResult(status, list(report.breaking), list(report.additions))


def _run_perf(
    options: GateOptions, selected: Sequence[Path], result: GateResult, say: Callable[[str], None]
) -> None:
    from .perf import run_perf_gate

    say(f"perf: timing {len(selected)} YAML(s) on the real clock (serially)…")
    try:
        report = run_perf_gate(
            list(selected),
            baseline_ref=options.baseline_ref,
            progress=lambda message: say(f"perf: {message}"),
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        result.perf_status = "error"
        result.perf_message = f"perf gate could not run: {type(exc).__name__}: {exc}"
        return
    result.perf = report
    result.perf_status = "passed" if report.passed else "failed"


# -- output -------------------------------------------------------------------------------------

_SYMBOLS = {MATCH: "✓", MISMATCH: "✗", MISSING: "missing", ERROR: "error", NOT_RUN: "-"}
_ASCII = {MATCH: "ok", MISMATCH: "FAIL", MISSING: "missing", ERROR: "error", NOT_RUN: "-"}


def symbols_for(stream: TextIO) -> dict[str, str]:
    try:
        "✓✗…".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return _ASCII
    return _SYMBOLS


def render_table(result: GateResult, symbols: Mapping[str, str] = _SYMBOLS) -> str:
    """The YAML x state table, one row per YAML."""
    width = max([len("YAML"), *(len(s) for s in result.stems)])
    cols = [max(len(state), *(len(v) for v in symbols.values())) for state in result.states]

    def row(first: str, cells: Sequence[str]) -> str:
        padded = (c.ljust(w) for c, w in zip(cells, cols, strict=True))
        return "  ".join([first.ljust(width), *padded])

    lines = [row("YAML", result.states)]
    for stem in result.stems:
        lines.append(row(stem, [symbols[result.cell(stem, s).status] for s in result.states]))
    return "\n".join(line.rstrip() for line in lines)


def failure_lines(result: GateResult) -> list[str]:
    """Everything that made the gate fail, one finding per line (diffs capped per cell)."""
    lines: list[str] = []
    for stem in result.stems:
        file_error = result.file_errors.get(stem, [])
        # `aicp validate` refuses the YAML: its lines, once, whatever the state
        lines.extend(f"{stem}: {line}" for line in file_error)
        golden_error = result.golden_errors.get(stem)
        if golden_error:  # the file is wrong, whatever the state: one line naming it
            lines.append(f"{stem}: {golden_error}")
        said = {golden_error, "; ".join(file_error) if file_error else None}
        for state in result.states:
            cell = result.cell(stem, state)
            if cell.status == MISMATCH:
                lines.extend(describe(stem, state, cell.diffs).splitlines())
            elif cell.status in (MISSING, ERROR) and cell.message not in said:
                lines.append(f"{stem} [{state}] {cell.message}")
    lines.extend(f"{stem}: unused golden record (no YAML {stem}.yaml)" for stem in result.unused)
    if result.api.status in (MISSING, ERROR):
        lines.append(f"{API_STEM}: {result.api.message}")
    lines.extend(f"api: breaking: {line}" for line in result.api.breaking)
    release = result.release_api
    if release.status in (MISSING, ERROR):
        lines.append(f"api: {release_label()}: {release.message}")
    lines.extend(f"api: {release_label()}: breaking: {line}" for line in release.breaking)
    if result.perf_status == "error":
        lines.append(f"perf: {result.perf_message}")
    elif result.perf is not None:
        lines.extend(
            f"perf: {c.kind} {c.name}: {c.detail}" for c in result.perf.checks if not c.passed
        )
    lines.extend(f"report: {line}" for line in result.report_errors)
    return lines


def print_summary(result: GateResult, out: TextIO) -> None:
    symbols = symbols_for(out)
    print(render_table(result, symbols), file=out)
    api = result.api
    api_line = {
        MATCH: " no breaking change",
        MISMATCH: f" {len(api.breaking)} breaking change(s)",
        MISSING: "",  # the failure lines below say why, once
        ERROR: "",
    }.get(api.status, f" {api.message or api.status}")
    print(f"api: {symbols.get(api.status, api.status)}{api_line}", file=out)
    for line in api.additions:
        print(f"  addition: {line}", file=out)
    release = result.release_api
    if release.status != NOT_RUN:
        release_line = {
            MATCH: "no breaking change",
            MISMATCH: f"{len(release.breaking)} breaking change(s)",
        }.get(release.status, release.message or release.status)
        symbol = symbols.get(release.status, release.status)
        print(f"api ({release_label()}): {symbol} {release_line}", file=out)
    if result.perf is not None:
        passed = sum(1 for c in result.perf.checks if c.passed)
        print(f"perf: {passed}/{len(result.perf.checks)} checks passed", file=out)
        for note in result.perf.notes:
            print(f"perf: note: {note}", file=out)
    else:
        print(f"perf: {result.perf_message or result.perf_status}", file=out)
    failures = failure_lines(result)
    if failures:
        print("", file=out)
        for line in failures:
            print(line, file=out)
    print("", file=out)
    verdict = "INTERRUPTED" if result.interrupted else "PASS" if result.passed else "FAIL"
    bad = sum(
        1 for stem in result.stems for state in result.states if not result.cell(stem, state).ok
    )
    print(
        f"{verdict}: {len(result.stems)} YAML(s) x {len(result.states)} state(s), "
        f"{bad} not matching, {len(result.unused)} unused, api {api.status}, "
        f"perf {result.perf_status}; total {result.timings.get('total', 0.0):.1f} s",
        file=out,
    )


# -- report files -------------------------------------------------------------------------------


def _check_report_paths(options: GateOptions) -> None:
    for path in (options.json_path, options.junit_path):
        if path is not None and Path(path).is_dir():
            raise UsageError(f"report path {path} is a folder")


def result_to_dict(result: GateResult) -> dict[str, Any]:
    records = {
        stem: {
            state: {
                "status": cell.status,
                "message": cell.message,
                "diffs": [d.to_dict() for d in cell.diffs],
                "description": describe(stem, state, cell.diffs) if cell.diffs else "",
            }
            for state in result.states
            for cell in [result.cell(stem, state)]
        }
        for stem in result.stems
    }
    perf: dict[str, Any] = {"status": result.perf_status, "message": result.perf_message}
    if result.perf is not None:
        perf.update(result.perf.to_dict())
        perf["status"] = result.perf_status
    return {
        "passed": result.passed,
        "exit_code": result.exit_code,
        "interrupted": result.interrupted,
        "states": list(result.states),
        "yamls": list(result.stems),
        "records": records,
        "unused": list(result.unused),
        "api": {
            "status": result.api.status,
            "message": result.api.message,
            "breaking": result.api.breaking,
            "additions": result.api.additions,
        },
        "api_release": {
            "status": result.release_api.status,
            "message": result.release_api.message,
            "breaking": result.release_api.breaking,
        },
        "perf": perf,
        "timings": dict(result.timings),
    }


def _junit_case(
    suite: ET.Element, classname: str, name: str, status: str, message: str, text: str = ""
) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if status in (MISMATCH, MISSING, "failed"):
        ET.SubElement(case, "failure", message=message).text = text or message
    elif status == ERROR or status == "error":
        ET.SubElement(case, "error", message=message).text = text or message
    elif status in (NOT_RUN, "skipped"):
        ET.SubElement(case, "skipped", message=message or status)


def result_to_junit(result: GateResult) -> str:
    suite = ET.Element("testsuite", name="harness-gate")
    for stem in result.stems:
        for state in result.states:
            cell = result.cell(stem, state)
            text = describe(stem, state, cell.diffs) if cell.diffs else cell.message
            first = text.splitlines()[0] if text else cell.status
            _junit_case(suite, f"golden.{state}", f"{stem}[{state}]", cell.status, first, text)
    for stem in result.unused:
        _junit_case(suite, "golden.unused", stem, MISMATCH, "unused golden record")
    api = result.api
    api_text = "\n".join(api.breaking) or api.message
    _junit_case(suite, "api", API_STEM, api.status, api_text.splitlines()[0] if api_text else "")
    release = result.release_api
    release_text = "\n".join(release.breaking) or release.message
    _junit_case(
        suite,
        "api",
        "__api_release__",
        release.status,
        release_text.splitlines()[0] if release_text else "",
        release_text,
    )
    if result.perf is not None:
        for check in result.perf.checks:
            status = MATCH if check.passed else "failed"
            _junit_case(suite, f"perf.{check.kind}", check.name, status, check.detail)
    else:
        _junit_case(suite, "perf", "perf", result.perf_status, result.perf_message)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{result.timings.get('total', 0.0):.3f}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(options: GateOptions, result: GateResult) -> None:
    """Write `--json` / `--junit` (atomically); a failure is recorded, never raised."""
    targets: list[tuple[Path, Callable[[], str]]] = []
    if options.json_path is not None:
        targets.append(
            (
                Path(options.json_path),
                lambda: json.dumps(result_to_dict(result), indent=2, ensure_ascii=False) + "\n",
            )
        )
    if options.junit_path is not None:
        targets.append((Path(options.junit_path), lambda: result_to_junit(result)))
    for path, render in targets:
        try:
            atomic_write_text(path, render())
        except OSError as exc:
            result.report_errors.append(
                f"cannot write {path}: {exc.strerror or exc}"
                + (" (read-only?)" if not os.access(path.parent, os.W_OK) else "")
            )
