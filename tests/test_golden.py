"""Golden-record tests: every YAML x flag state equals its one golden record, plus the API record.

A golden record is the reference state's (``off``) record with every state's schedule
(`harness.golden.golden_from_states`). The ``off`` test records all three states in this
process (cheap on the virtual clock) and snapshots that combined record through syrupy
(`golden_snapshot`), so ``pytest --snapshot-update`` rewrites ``snapshots/<stem>.json`` exactly
as `harness update` does. ``absent`` and ``on`` compare their record with their view of the
stored golden (`view_for_state`: the shared part plus their own schedule); while updating they
compare with a fresh in-process ``off`` record instead, so an update works under xdist in any
order. A record whose own checks found problems (a schedule the policy does not give, a replay
that changed an output) fails, and is never snapshot. Records are computed in this process
(each xdist worker is its own process) with `states.activate`. Options: ``--golden-input``,
``--golden-snapshots``, ``--golden-time-scale``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.compare import describe, diff_records
from harness.gate import NO_GOLDEN
from harness.golden import API_STEM, GoldenStore, golden_from_states, view_for_state
from harness.record import RecordSettings, discover, record_pipeline
from harness.states import REFERENCE_STATE, STATES, activate


def _record(yaml_path: Path, state: str, time_scale: float) -> dict[str, Any]:
    """The record `harness update` makes of `yaml_path` in `state`; its checks must be clean."""
    with activate(state):
        record = record_pipeline(
            yaml_path, RecordSettings(time_scale=time_scale), expected_state=state
        )
    if record["checks"]:
        lines = [f"{yaml_path.stem} [{state}] check: {line}" for line in record["checks"]]
        pytest.fail("\n".join(lines), pytrace=False)
    return record


def _fail_on_diff(stem: str, state: str, expected: dict[str, Any], actual: dict[str, Any]) -> None:
    if diffs := diff_records(expected, actual):
        pytest.fail(describe(stem, state, diffs), pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "golden_case" not in metafunc.fixturenames:
        return
    folder = Path(metafunc.config.getoption("golden_input"))
    paths = discover(folder) if folder.is_dir() else []
    params = [
        pytest.param(
            (path, state),
            id=f"{path.stem}-{state}",
            # `off`/`on` need the real `parallel` package (skipped under AICP_BLOCK_PARALLEL=1);
            # so does the `off` case's recording of `on`.
            marks=[pytest.mark.requires_parallel] if state != "absent" else [],
        )
        for path in paths
        for state in STATES
    ]
    metafunc.parametrize("golden_case", params)


def test_golden_record(
    golden_case: tuple[Path, str],
    golden_snapshot: Any,
    golden_snapshots_dir: Path,
    golden_updating: bool,
    pytestconfig: pytest.Config,
) -> None:
    yaml_path, state = golden_case
    stem = yaml_path.stem
    time_scale = pytestconfig.getoption("golden_time_scale")
    actual = _record(yaml_path, state, time_scale)
    store = GoldenStore(golden_snapshots_dir)
    if state == REFERENCE_STATE:
        records = {
            other: actual if other == state else _record(yaml_path, other, time_scale)
            for other in STATES
        }
        golden = golden_from_states(records, REFERENCE_STATE)
        if not golden_updating:
            stored = store.read(stem)
            if stored is None:
                pytest.fail(f"{stem} [{state}] {NO_GOLDEN}", pytrace=False)
            _fail_on_diff(stem, state, view_for_state(stored, state), actual)
            _fail_on_diff(stem, state, stored, golden)  # e.g. another state's schedule
        assert golden == golden_snapshot(name=stem)
        return
    if golden_updating:
        reference = _record(yaml_path, REFERENCE_STATE, time_scale)
        expected = view_for_state(
            golden_from_states({REFERENCE_STATE: reference, state: actual}, REFERENCE_STATE),
            state,
        )
    else:
        stored = store.read(stem)
        if stored is None:
            pytest.fail(f"{stem} [{state}] {NO_GOLDEN}", pytrace=False)
        expected = view_for_state(stored, state)
    _fail_on_diff(stem, state, expected, actual)


def test_api_snapshot(
    golden_snapshot: Any, golden_snapshots_dir: Path, golden_updating: bool
) -> None:
    """One API record for the package, identical in every state; additions pass (as in the
    gate), breaking changes fail, `--snapshot-update` rewrites it."""
    from harness.api import compare_snapshots, snapshot_api

    snapshots = {}
    for state in STATES:
        with activate(state):
            snapshots[state] = snapshot_api()
    current = snapshots[REFERENCE_STATE]
    differing = [state for state, snap in snapshots.items() if snap != current]
    assert not differing, f"API snapshot differs from {REFERENCE_STATE!r} in {differing}"
    if golden_updating:  # never read: a corrupt record is rewritten, not an error
        assert current == golden_snapshot(name=API_STEM)
        return
    golden = GoldenStore(golden_snapshots_dir).read(API_STEM)
    if golden == current:
        assert current == golden_snapshot(name=API_STEM)
        return
    if golden is None:
        pytest.fail(f"{API_STEM}: {NO_GOLDEN}", pytrace=False)
    report = compare_snapshots(golden, current)
    assert not report.breaking, "breaking API changes:\n" + "\n".join(report.breaking)


def test_no_unused_golden_records(
    golden_input_dir: Path,
    golden_snapshots_dir: Path,
    golden_updating: bool,
    request: pytest.FixtureRequest,
) -> None:
    """A golden record without a YAML fails, as in the gate. An unfiltered
    `--snapshot-update` removes it, as `harness update` does; a filtered one never removes.
    "Filtered" means some YAML x state case is not selected (`-k`, `-m`, node ids); the
    ini's own ``-m 'not perf ...'`` selects every case, so it does not count."""
    store = GoldenStore(golden_snapshots_dir)
    present = {path.stem for path in discover(golden_input_dir)}
    unused = [stem for stem in store.stems() if stem not in present]
    cases = {f"test_golden_record[{stem}-{state}]" for stem in present for state in STATES}
    filtered = not cases <= {item.name for item in request.session.items}
    if unused and golden_updating and not filtered:
        for stem in unused:
            store.remove(stem)
        return
    assert not unused, f"unused golden records (no YAML): {', '.join(unused)}"
