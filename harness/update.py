"""`harness update`: rewrite the golden records from the reference state, then check the others.

Why this order: the reference state (``off``, the shipped default) defines what a pipeline
*should* produce; ``absent`` and ``on`` must then agree with it. Records are written one by one,
atomically, and only for the YAMLs that ran — a ``-k`` run never touches (or removes) any other
record. In CI a golden record must never be rewritten silently, hence the refusal without
``--force``.

An update holds the golden folder's lock from before recording to the end (a second update
refuses, one line, exit 2; so does a folder it cannot write, before anything is recorded), and
on taking it removes the temp files of writers killed mid-write.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from .compare import describe
from .gate import (
    ERROR,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    MATCH,
    Cell,
    GateResult,
    RunOptions,
    UsageError,
    check_api_golden,
    check_states,
    compare_cell,
    discover_inputs,
    record_in_states,
    render_table,
    symbols_for,
)
from .golden import (
    API_STEM,
    FolderUnavailable,
    GoldenError,
    GoldenStore,
    UpdatePlan,
    golden_from_states,
    plan_update,
    serialize,
)
from .states import REFERENCE_STATE, STATES

CI_ENV = "CI"


@dataclass
class UpdateOptions(RunOptions):
    """`states` are checked after writing; the reference state is always recorded."""

    force: bool = False


@dataclass
class UpdateResult:
    exit_code: int = EXIT_OK
    plan: UpdatePlan = field(default_factory=UpdatePlan)
    api: str = "skipped"  # added | changed | unchanged | skipped | error
    written: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    interrupted: bool = False


def ci_refusal(force: bool, environ: Mapping[str, str] | None = None) -> str | None:
    """The refusal message when `CI` is set (non-empty) and not forced, else None."""
    value = (os.environ if environ is None else environ).get(CI_ENV, "")
    if value.strip() and not force:
        return (
            f"refusing to update golden records because {CI_ENV}={value!r} is set; "
            "golden records are updated on a workstation and committed (use --force to override)"
        )
    return None


def run_update(options: UpdateOptions) -> UpdateResult:
    """Record ``off``, write what changed, remove what is unused (unfiltered only), check the rest.

    Raises `gate.UsageError` for bad input before anything is recorded or written.
    """
    out = options.out or sys.stdout
    err = options.err or sys.stderr
    result = UpdateResult()

    def say(line: str) -> None:
        if not options.quiet:
            print(line, file=err, flush=True)

    if message := ci_refusal(options.force):
        print(f"harness update: {message}", file=err)
        result.exit_code = EXIT_USAGE
        return result
    check_states(options.states)
    # A golden record holds every state's schedule: an update always records all states.
    others = [s for s in STATES if s != REFERENCE_STATE]
    selected, all_stems = discover_inputs(options.input_dir, options.pattern)
    store = GoldenStore(options.snapshots_dir)
    try:
        lock = store.lock_for_update()
    except FolderUnavailable as exc:
        print(f"harness update: {exc}", file=err)
        result.exit_code = EXIT_USAGE
        return result
    for path in lock.removed:
        say(f"removed {path.name}, left by a writer that was killed mid-write")
    started = time.perf_counter()
    try:
        say(f"recording {len(selected)} YAML(s) in {', '.join(STATES)}…")
        recorded = _record(options, list(STATES))
        reference = recorded[REFERENCE_STATE]
        for stem, error in sorted(reference.errors.items()):
            result.errors.append(f"{stem} [{REFERENCE_STATE}] run failed: {error}")
        records = _goldens(recorded, result)
        ran = [p.stem for p in selected]
        result.plan = plan_update(
            store, records, ran, all_stems, filtered=options.pattern is not None
        )
        _write(store, records, result)
        if options.pattern is None:
            _write_api(store, result)
        _print_plan(result, out)
        if others and records:
            _check_others(recorded, others, records, result, out)
        if options.pattern is None and result.api != "error":
            _check_api_states(store, (REFERENCE_STATE, *others), result)
    except KeyboardInterrupt:
        result.interrupted = True
        print("harness update: interrupted; records already written are complete", file=err)
    except RecordingFailed as exc:
        result.errors.append(str(exc))
    finally:
        lock.release()
    for line in [*result.mismatches, *result.errors]:
        print(line, file=out)
    elapsed = time.perf_counter() - started
    if result.interrupted:
        result.exit_code = EXIT_INTERRUPTED
    elif result.errors or result.mismatches:
        result.exit_code = EXIT_FAIL
    verdict = {EXIT_OK: "OK", EXIT_FAIL: "FAIL", EXIT_INTERRUPTED: "INTERRUPTED"}
    print(f"update {verdict.get(result.exit_code, 'FAIL')} in {elapsed:.1f} s", file=out)
    return result


class RecordingFailed(Exception):
    """A state's recording crashed as a whole (e.g. its worker process died)."""


def _record(options: UpdateOptions, states: list[str]) -> dict[str, Any]:
    try:
        return record_in_states(
            options.input_dir,
            states,
            pattern=options.pattern,
            jobs=options.jobs,
            time_scale=options.time_scale,
        )
    except (KeyboardInterrupt, UsageError):
        raise
    except Exception as exc:
        raise RecordingFailed(f"recording failed: {type(exc).__name__}: {exc}") from exc


def _attempt(result: UpdateResult, what: str, action: Callable[[], object]) -> bool:
    try:
        action()
    except (OSError, GoldenError) as exc:
        result.errors.append(f"{what}: {getattr(exc, 'strerror', None) or exc}")
        return False
    return True


def _write(store: GoldenStore, records: Mapping[str, Any], result: UpdateResult) -> None:
    """Each record atomically; a failed write leaves that record as it was and is reported."""
    for stem in result.plan.to_write:
        if _attempt(
            result,
            f"cannot write {store.path_for(stem)}",
            lambda s=stem: store.write(s, records[s]),
        ):
            result.written.append(stem)
    for stem in result.plan.removed:
        _attempt(result, f"cannot remove {store.path_for(stem)}", lambda s=stem: store.remove(s))


def _write_api(store: GoldenStore, result: UpdateResult) -> None:
    from .api import snapshot_api

    try:
        snapshot = snapshot_api()
        old = store.stored_text(API_STEM)  # an unreadable record reads "" and is rewritten
    except GoldenError as exc:
        result.api = "error"
        result.errors.append(str(exc))
        return
    except Exception as exc:
        result.api = "error"
        result.errors.append(f"{API_STEM}: API snapshot failed: {type(exc).__name__}: {exc}")
        return
    if old == serialize(snapshot):
        result.api = "unchanged"
        return
    if _attempt(
        result, f"cannot write {store.path_for(API_STEM)}", lambda: store.write(API_STEM, snapshot)
    ):
        result.api = "added" if old is None else "changed"
        result.written.append(API_STEM)
    else:
        result.api = "error"


def _print_plan(result: UpdateResult, out: TextIO) -> None:
    plan = result.plan
    added = [s for s in plan.added if s in result.written]
    changed = [s for s in plan.changed if s in result.written]
    if result.api == "added":
        added.append(API_STEM)
    elif result.api == "changed":
        changed.append(API_STEM)
    unchanged = len(plan.unchanged) + (result.api == "unchanged")
    print(f"added: {', '.join(added) or '-'}", file=out)
    print(f"changed: {', '.join(changed) or '-'}", file=out)
    print(f"removed: {', '.join(plan.removed) or '-'}", file=out)
    print(f"unchanged: {unchanged}", file=out)


def _goldens(recorded: Mapping[str, Any], result: UpdateResult) -> dict[str, Any]:
    """stem -> golden record, for every YAML whose reference record is clean. A record whose
    own checks found problems (a wrong schedule, a replay that changed outputs) is never
    written: it would make the fault the golden truth."""
    reference = recorded[REFERENCE_STATE]
    goldens = {}
    for stem in reference.records:
        problems = [
            f"{stem} [{state}] check: {line}"
            for state, records in recorded.items()
            for line in (records.records.get(stem) or {}).get("checks") or []
        ]
        if problems:
            result.errors.extend(problems)
            continue
        by_state = {
            state: records.records[stem]
            for state, records in recorded.items()
            if stem in records.records
        }
        goldens[stem] = golden_from_states(by_state, REFERENCE_STATE)
    return goldens


def _check_others(
    recorded: Mapping[str, Any],
    others: list[str],
    reference: Mapping[str, Any],
    result: UpdateResult,
    out: TextIO,
) -> None:
    """The other states must reproduce the new reference records exactly."""
    table = GateResult(stems=sorted(reference), states=(REFERENCE_STATE, *others))
    for stem in table.stems:
        row = table.cells.setdefault(stem, {})
        row[REFERENCE_STATE] = compare_cell(
            reference[stem], recorded[REFERENCE_STATE].records[stem], REFERENCE_STATE
        )
        for state in others:
            records = recorded[state]
            if stem in records.errors:
                result.errors.append(f"{stem} [{state}] run failed: {records.errors[stem]}")
                row[state] = Cell(ERROR, records.errors[stem])
                continue
            cell = compare_cell(reference[stem], records.records.get(stem, {}), state)
            row[state] = cell
            if cell.status != MATCH:
                result.mismatches.extend(describe(stem, state, cell.diffs).splitlines())
    print(render_table(table, symbols_for(out)), file=out)


def _check_api_states(store: GoldenStore, states: tuple[str, ...], result: UpdateResult) -> None:
    """The API record just written must hold in every state, as the gate will check."""
    api = check_api_golden(store, states)
    if not api.ok:
        details = api.breaking or [api.message]
        result.mismatches.extend(f"{API_STEM}: {line}" for line in details)
