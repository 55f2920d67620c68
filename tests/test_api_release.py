"""The established release as the second API baseline: its record, its loading, the gate's use.

The record (``snapshots/__api_release__.json``) is griffe's own JSON dump of
``video-ai-studio`` 1.0.15's ``ai_content_pipeline``; these tests prove that it loads back into
a tree griffe can compare, that this checkout shows no breaking change against it, and that a
break of the kind existing users would hit is caught and named.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from harness import api, release_api
from harness.gate import MATCH, MISMATCH, MISSING, GoldenStore, check_api_release

REPO = Path(__file__).resolve().parent.parent
RECORD = REPO / "snapshots" / f"{release_api.RELEASE_STEM}.json"
PREFIX = f"{release_api.RELEASE_PACKAGE_DIR}/ai_content_pipeline"


@pytest.fixture(scope="module")
def release() -> release_api.ReleaseApi:
    return release_api.load_release_api(RECORD)


@pytest.fixture(scope="module")
def current() -> object:
    return api.load_package()


def test_the_record_is_the_established_release_and_machine_independent() -> None:
    wrapped = json.loads(RECORD.read_text(encoding="utf-8"))
    assert (wrapped["distribution"], wrapped["version"]) == ("video-ai-studio", "1.0.15")
    assert (
        wrapped["griffe"]["kind"] == "module" and wrapped["griffe"]["name"] == "ai_content_pipeline"
    )
    text = RECORD.read_text(encoding="utf-8")
    assert "/tmp" not in text and "\\\\" not in text  # filepaths are relative to the package
    assert '"filepath": "ai_content_pipeline/utils/file_manager.py"' in text


def test_this_checkout_has_no_breaking_change_against_the_release(
    release: release_api.ReleaseApi, current: object
) -> None:
    report = api.check_api(release.module, current)  # type: ignore[arg-type]
    assert report.breaking == []


def test_the_loaded_record_keeps_what_the_release_offered(release: release_api.ReleaseApi) -> None:
    """Signatures, keyword names and base classes survive the JSON round trip."""
    file_manager = release.module["utils.file_manager.FileManager"]
    info = file_manager.members["get_file_info"]
    assert [p.name for p in info.parameters] == ["self", "file_path"]
    generator = release.module["models.text_to_image.UnifiedTextToImageGenerator"]
    assert [b.canonical_path for b in generator.bases] == [
        "ai_content_pipeline.models.base.BaseContentModel"
    ]
    constants = release.module["config.constants"]
    assert "DEFAULT_CHAIN_CONFIG" in constants.members


def _copy_of_this_package(into: Path) -> Path:
    shutil.copytree(
        REPO / "ai_content_pipeline",
        into / "ai_content_pipeline",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return into


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "utils/file_manager.py",
            "def get_file_info(self, file_path:",
            "def get_file_info(self, path:",
            "ai_content_pipeline.utils.file_manager.FileManager.get_file_info(file_path): "
            "parameter was renamed to path",
        ),
        (
            "pipeline/chain.py",
            '    def __repr__(self) -> str:\n        """The established short form: name',
            '    def _repr(self) -> str:\n        """The established short form: name',
            "ai_content_pipeline.pipeline.chain.ContentCreationChain.__repr__: "
            "public object was removed",
        ),
    ],
    ids=["keyword renamed", "method removed"],
)
def test_a_break_users_would_hit_is_named(
    tmp_path: Path,
    release: release_api.ReleaseApi,
    file: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    root = _copy_of_this_package(tmp_path)
    source = root / "ai_content_pipeline" / file
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, new), encoding="utf-8")
    report = api.check_api(release.module, api.load_package(search_paths=[root]))
    assert report.breaking == [expected]


# -- recording -----------------------------------------------------------------------------------


def _wheel(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


TINY = {
    f"{PREFIX}/__init__.py": "from .core import Engine\n\n__all__ = ['Engine']\n",
    f"{PREFIX}/core.py": "class Engine:\n    def run(self, source: str) -> None:\n        pass\n",
    f"{PREFIX}/README.md": "not python",
    "video_ai_studio-1.0.15.dist-info/METADATA": "Name: video-ai-studio\n",
    "packages/other/x.py": "print('not ours')\n",
}


def test_extract_takes_only_the_package_sources(tmp_path: Path) -> None:
    root = release_api.extract_wheel_package(_wheel(tmp_path / "r.whl", TINY), tmp_path / "src")
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert found == ["ai_content_pipeline/__init__.py", "ai_content_pipeline/core.py"]


def test_extract_refuses_a_member_that_leaves_the_folder(tmp_path: Path) -> None:
    hostile = {**TINY, f"{PREFIX}/../../../../escaped.py": "x = 1\n"}
    with pytest.raises(ValueError, match="outside the package"):
        release_api.extract_wheel_package(_wheel(tmp_path / "h.whl", hostile), tmp_path / "src")
    assert not (tmp_path / "escaped.py").exists()


def test_extract_needs_the_package(tmp_path: Path) -> None:
    empty = _wheel(tmp_path / "e.whl", {"packages/other/x.py": "x = 1\n"})
    with pytest.raises(ValueError, match="holds no"):
        release_api.extract_wheel_package(empty, tmp_path / "src")


def test_the_script_records_a_wheel_that_loads_back_and_compares(tmp_path: Path) -> None:
    """scripts/record_release_api.py --wheel: dump, load back, compare (no network)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "record_release_api", REPO / "scripts" / "record_release_api.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "snapshots" / "__api_release__.json"
    wheel = _wheel(tmp_path / "r.whl", TINY)
    assert script.main(["--wheel", str(wheel), "--out", str(out)]) == 0
    loaded = release_api.load_release_api(out)
    assert loaded.version == release_api.RELEASE_VERSION

    surface = {"ai_content_pipeline": ["Engine"], "ai_content_pipeline.core": ["Engine"]}
    same = release_api.extract_wheel_package(wheel, tmp_path / "same")
    assert api.check_api(loaded.module, api.load_package(search_paths=[same]), surface=surface) == (
        api.ApiReport([], [])
    )
    changed = {**TINY, f"{PREFIX}/core.py": TINY[f"{PREFIX}/core.py"].replace("source", "src")}
    root = release_api.extract_wheel_package(_wheel(tmp_path / "c.whl", changed), tmp_path / "c")
    report = api.check_api(loaded.module, api.load_package(search_paths=[root]), surface=surface)
    assert report.breaking == [
        "ai_content_pipeline.core.Engine.run(source): parameter was renamed to src"
    ]


def test_a_corrupt_record_is_an_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "__api_release__.json"
    bad.write_text('{"distribution": "video-ai-studio", "griffe": ', encoding="utf-8")
    with pytest.raises(ValueError, match=str(bad)):
        release_api.load_release_api(bad)


# -- the gate ------------------------------------------------------------------------------------


def test_the_gate_checks_the_release_record(tmp_path: Path) -> None:
    store = GoldenStore(tmp_path)
    missing = check_api_release(store, fallback=tmp_path / "nowhere.json")
    assert missing.status == MISSING and "scripts/record_release_api.py" in missing.message
    assert check_api_release(store).status == MATCH  # the record this repository ships

    shutil.copy(RECORD, tmp_path / RECORD.name)
    assert check_api_release(store, fallback=tmp_path / "nowhere.json").status == MATCH


def test_the_gate_names_each_break_against_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _copy_of_this_package(tmp_path / "pkg")
    source = root / "ai_content_pipeline" / "utils" / "file_manager.py"
    source.write_text(
        source.read_text(encoding="utf-8").replace(
            "def validate_file_format(\n        self, file_path:",
            "def validate_file_format(\n        self, path:",
        ),
        encoding="utf-8",
    )
    changed = api.load_package(search_paths=[root])
    monkeypatch.setattr(api, "load_package", lambda *a, **k: changed)
    monkeypatch.setattr(release_api, "load_package", lambda *a, **k: changed)
    shutil.copy(RECORD, tmp_path / RECORD.name)
    result = check_api_release(GoldenStore(tmp_path))
    assert result.status == MISMATCH
    assert result.breaking == [
        "ai_content_pipeline.utils.file_manager.FileManager.validate_file_format(file_path): "
        "parameter was renamed to path"
    ]
