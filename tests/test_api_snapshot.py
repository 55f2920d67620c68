"""The API gate on throwaway packages: every kind of break is caught, named, and worded the
same by the griffe-tree check and the JSON-snapshot check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import api

REPO_ROOT = Path(__file__).resolve().parent.parent

INIT = '''\
"""Tiny package."""

from .core import Engine, run

__all__ = ["Engine", "run"]
__version__ = "1.0"
'''

CORE = '''\
"""Core."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Color(Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Result:
    ok: bool
    error: str | None = None


def run(source: str, retries: int = 3) -> Result:
    return Result(ok=True)


def helper(x):
    return x


class Engine:
    def __init__(self, name: str) -> None:
        self.name = name

    def execute(self, chain, input_data: str, **kwargs) -> Result:
        return Result(ok=True)

    def stop(self) -> None:
        return None


class ChainExecutor:
    """Named like the real class: the spec makes some of its underscore methods interface."""

    def _execute_step(self, step):
        return step

    def _scratch(self, a):
        return a
'''

SURFACE = {
    "tinypkg": ["Engine", "run", "__version__"],
    "tinypkg.core": ["Color", "Result", "Engine", "ChainExecutor", "run", "helper", "extra"],
}


def write_package(root: Path, core: str = CORE, init: str = INIT) -> Path:
    package = root / "tinypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(init)
    (package / "core.py").write_text(core)
    return root


def edited(old: str, new: str) -> str:
    assert old in CORE, old
    return CORE.replace(old, new)


def both_reports(tmp_path: Path, core: str) -> tuple[api.ApiReport, api.ApiReport]:
    """(check_api report, compare_snapshots report) for CORE -> `core`."""
    baseline = api.load_package("tinypkg", [write_package(tmp_path / "old")])
    current = api.load_package("tinypkg", [write_package(tmp_path / "new", core)])
    via_griffe = api.check_api(baseline, current, surface=SURFACE)
    golden = api.snapshot_api(
        package_name="tinypkg", search_paths=[tmp_path / "old"], surface=SURFACE
    )
    now = api.snapshot_api(package_name="tinypkg", search_paths=[tmp_path / "new"], surface=SURFACE)
    # The gate stores the golden as JSON: compare what survives the round trip.
    via_json = api.compare_snapshots(json.loads(json.dumps(golden)), json.loads(json.dumps(now)))
    return via_griffe, via_json


def test_identical_package_has_no_changes(tmp_path: Path) -> None:
    via_griffe, via_json = both_reports(tmp_path, CORE)
    assert via_griffe == api.ApiReport([], [])
    assert via_json == api.ApiReport([], [])


BREAKS = {
    "removed parameter": (
        edited(
            "def execute(self, chain, input_data: str, **kwargs)",
            "def execute(self, chain, **kwargs)",
        ),
        "tinypkg.core.Engine.execute(input_data): parameter was removed",
    ),
    "renamed parameter": (
        edited("def run(source: str,", "def run(src: str,"),
        "tinypkg.core.run(source): parameter was renamed to src",
    ),
    "reordered parameters": (
        edited(
            "def execute(self, chain, input_data: str,", "def execute(self, input_data: str, chain,"
        ),
        "tinypkg.core.Engine.execute: positional parameters were reordered: "
        "(self, chain, input_data) -> (self, input_data, chain)",
    ),
    "changed default": (
        edited("retries: int = 3", "retries: int = 5"),
        "tinypkg.core.run(retries): parameter default was changed: 3 -> 5",
    ),
    "new required parameter": (
        edited("def stop(self)", "def stop(self, force: bool)"),
        "tinypkg.core.Engine.stop(force): parameter was added as required",
    ),
    "removed function": (
        edited("def helper(x):\n    return x\n", ""),
        "tinypkg.core.helper: public object was removed",
    ),
    "removed method": (
        edited("    def stop(self) -> None:\n        return None\n", ""),
        "tinypkg.core.Engine.stop: public object was removed",
    ),
    "spec-named private method changed": (
        edited("def _execute_step(self, step)", "def _execute_step(self, item)"),
        "tinypkg.core.ChainExecutor._execute_step(step): parameter was renamed to item",
    ),
}


def test_method_made_static_passes_when_instance_calls_still_work(tmp_path: Path) -> None:
    """``engine.execute(chain, text)`` binds the same way to the staticmethod."""
    core = edited(
        "    def execute(self, chain, input_data: str, **kwargs) -> Result:",
        "    @staticmethod\n    def execute(chain, input_data: str, **kwargs) -> Result:",
    )
    via_griffe, via_json = both_reports(tmp_path, core)
    assert via_griffe.breaking == [] and via_json.breaking == []


def test_method_made_static_with_a_renamed_parameter_breaks(tmp_path: Path) -> None:
    core = edited(
        "    def execute(self, chain, input_data: str, **kwargs) -> Result:",
        "    @staticmethod\n    def execute(chain, text: str, **kwargs) -> Result:",
    )
    via_griffe, via_json = both_reports(tmp_path, core)
    for report in (via_griffe, via_json):
        assert report.breaking, report
        assert all(line.startswith("tinypkg.core.Engine.execute") for line in report.breaking)


def test_staticmethod_made_a_self_method_breaks_class_level_calls(tmp_path: Path) -> None:
    old_core = edited("    def stop(self) -> None:", "    @staticmethod\n    def stop() -> None:")
    baseline = api.load_package("tinypkg", [write_package(tmp_path / "old", old_core)])
    current = api.load_package("tinypkg", [write_package(tmp_path / "new")])
    report = api.check_api(baseline, current, surface=SURFACE)
    assert "tinypkg.core.Engine.stop: decorators changed: [staticmethod] -> []" in report.breaking


def test_a_base_moved_up_the_hierarchy_is_not_removed(tmp_path: Path) -> None:
    """``Engine(Base)`` becoming ``Engine(Mixin)`` with ``Mixin(Base)`` keeps isinstance."""
    old_core = edited("class Engine:", "class Base:\n    pass\n\n\nclass Engine(Base):")
    new_core = edited(
        "class Engine:",
        "class Base:\n    pass\n\n\nclass Mixin(Base):\n    pass\n\n\nclass Engine(Mixin):",
    )
    gone_core = edited("class Engine:", "class Base:\n    pass\n\n\nclass Engine:")
    baseline = api.load_package("tinypkg", [write_package(tmp_path / "old", old_core)])
    moved = api.load_package("tinypkg", [write_package(tmp_path / "moved", new_core)])
    gone = api.load_package("tinypkg", [write_package(tmp_path / "gone", gone_core)])
    assert api.check_api(baseline, moved, surface=SURFACE).breaking == []
    assert api.check_api(baseline, gone, surface=SURFACE).breaking == [
        "tinypkg.core.Engine: base class was removed: tinypkg.core.Base"
    ]


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_each_break_gives_one_message_naming_the_object(tmp_path: Path, case: str) -> None:
    core, expected = BREAKS[case]
    via_griffe, via_json = both_reports(tmp_path, core)
    assert via_griffe.breaking == [expected]
    assert via_json.breaking == [expected]
    assert not via_griffe.ok and not via_json.ok


def test_enum_reorder_is_breaking(tmp_path: Path) -> None:
    core = edited('RED = "red"\n    GREEN = "green"', 'GREEN = "green"\n    RED = "red"')
    via_griffe, via_json = both_reports(tmp_path, core)
    expected = ["tinypkg.core.Color: enum members were reordered: (RED, GREEN) -> (GREEN, RED)"]
    assert via_griffe.breaking == expected
    assert via_json.breaking == expected


def test_removed_reexport_is_breaking(tmp_path: Path) -> None:
    baseline = api.load_package("tinypkg", [write_package(tmp_path / "old")])
    init = INIT.replace("from .core import Engine, run", "from .core import run").replace(
        '"Engine", ', ""
    )
    current = api.load_package("tinypkg", [write_package(tmp_path / "new", init=init)])
    report = api.check_api(baseline, current, surface=SURFACE)
    assert report.breaking == ["tinypkg.Engine: public object was removed"]
    golden = api.snapshot_api(baseline, surface=SURFACE)
    now = api.snapshot_api(current, surface=SURFACE)
    assert now["objects"]["tinypkg:Engine"] == {"kind": "missing"}
    assert api.compare_snapshots(golden, now).breaking == report.breaking


def test_other_private_members_are_free_to_change(tmp_path: Path) -> None:
    core = edited("def _scratch(self, a)", "def _scratch(self, b, c)")
    via_griffe, via_json = both_reports(tmp_path, core)
    assert via_griffe == via_json == api.ApiReport([], [])


ADDITIONS = {
    "new optional parameter": (
        edited("retries: int = 3)", "retries: int = 3, *, verbose: bool = False)"),
        ["tinypkg.core.run(verbose): new optional parameter"],
    ),
    "new variadic parameters": (
        edited("def stop(self)", "def stop(self, *args, **kwargs)"),
        [
            "tinypkg.core.Engine.stop(args): new optional parameter",
            "tinypkg.core.Engine.stop(kwargs): new optional parameter",
        ],
    ),
    "new function": (
        CORE + "\n\ndef extra(value: int = 0) -> int:\n    return value\n",
        ["tinypkg.core.extra: new public object"],
    ),
    "new method": (
        edited(
            "    def stop(self)", "    def pause(self) -> None:\n        pass\n\n    def stop(self)"
        ),
        ["tinypkg.core.Engine.pause: new method"],
    ),
}


@pytest.mark.parametrize("case", sorted(ADDITIONS))
def test_additions_are_not_breaking(tmp_path: Path, case: str) -> None:
    core, expected = ADDITIONS[case]
    via_griffe, via_json = both_reports(tmp_path, core)
    assert via_griffe == api.ApiReport(breaking=[], additions=expected)
    assert via_json == api.ApiReport(breaking=[], additions=expected)


def test_no_baseline_reports_additions_only(tmp_path: Path) -> None:
    current = api.load_package("tinypkg", [write_package(tmp_path)])
    report = api.check_api(None, current, surface=SURFACE)
    assert report.breaking == []
    assert "tinypkg.core.Engine: new public object" in report.additions


def test_snapshot_is_json_ready_and_deterministic(tmp_path: Path) -> None:
    write_package(tmp_path)
    first = api.snapshot_api(package_name="tinypkg", search_paths=[tmp_path], surface=SURFACE)
    second = api.snapshot_api(package_name="tinypkg", search_paths=[tmp_path], surface=SURFACE)
    assert first == second
    assert json.loads(json.dumps(first)) == first
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert json.dumps(first) == json.dumps(second)  # insertion order is stable too
    assert list(first["objects"]) == sorted(first["objects"])


def test_snapshot_content(tmp_path: Path) -> None:
    write_package(tmp_path)
    objects = api.snapshot_api(package_name="tinypkg", search_paths=[tmp_path], surface=SURFACE)[
        "objects"
    ]
    assert objects["tinypkg.core:extra"] == {"kind": "missing"}
    assert objects["tinypkg:__version__"]["kind"] == "attribute"
    assert "value" not in objects["tinypkg:__version__"]

    run = objects["tinypkg:run"]  # a re-export is described by its target
    assert run["kind"] == "function"
    assert run["path"] == "tinypkg.core.run"
    assert run["parameters"] == [
        {"name": "source", "kind": "positional or keyword", "annotation": "str", "default": None},
        {"name": "retries", "kind": "positional or keyword", "annotation": "int", "default": "3"},
    ]

    engine = objects["tinypkg.core:Engine"]
    assert sorted(engine["methods"]) == ["__init__", "execute", "stop"]
    assert sorted(objects["tinypkg.core:ChainExecutor"]["methods"]) == ["_execute_step"]
    execute = engine["methods"]["execute"]["parameters"]
    assert [p["name"] for p in execute] == ["self", "chain", "input_data", "kwargs"]
    assert execute[-1] == {
        "name": "kwargs",
        "kind": "variadic keyword",
        "annotation": None,
        "default": None,
    }
    assert engine["attributes"] == {"name": {"annotation": None}}

    result = objects["tinypkg.core:Result"]
    assert [f["name"] for f in result["fields"]] == ["ok", "error"]
    assert result["fields"][1]["annotation"] == "str | None"
    assert [p["name"] for p in result["methods"]["__init__"]["parameters"]] == [
        "self",
        "ok",
        "error",
    ]
    color = objects["tinypkg.core:Color"]
    assert color["enum_members"] == ["RED", "GREEN"]
    assert color["bases"] == ["enum.Enum"]


def test_load_package_is_static(tmp_path: Path) -> None:
    """Loading never executes the package, so a crashing import cannot hide the API."""
    write_package(tmp_path, init=INIT + '\nraise RuntimeError("imported!")\n')
    package = api.load_package("tinypkg", [tmp_path])
    assert package["run"].final_target.path == "tinypkg.core.run"


@pytest.mark.skipif(
    not (REPO_ROOT / "ai_content_pipeline" / "pipeline" / "executor.py").exists(),
    reason="ai_content_pipeline.pipeline.executor not written yet",
)
def test_real_package_chain_executor_execute() -> None:
    snapshot = api.snapshot_api(search_paths=[REPO_ROOT])
    assert set(snapshot["objects"]) == {
        f"{module}:{name}" for module, names in api.PUBLIC_API.items() for name in names
    }
    executor = snapshot["objects"]["ai_content_pipeline.pipeline.executor:ChainExecutor"]
    assert executor["kind"] == "class"
    execute = executor["methods"]["execute"]["parameters"]
    assert [p["name"] for p in execute] == ["self", "chain", "input_data", "kwargs"]
    assert execute[-1]["kind"] == "variadic keyword"
    json.dumps(snapshot)
