"""The established release's public API, as a second baseline for the API check.

The gate's own ``__api__.json`` only proves that this checkout did not break what the previous
commit of this project offered. Existing users wrote their code against the established
release on the package index (``video-ai-studio`` 1.0.15, whose wheel holds
``ai_content_pipeline``), so that release's interface is recorded once, as griffe's own JSON
dump, in ``snapshots/__api_release__.json`` (``scripts/record_release_api.py`` writes it), and
every gate compares this checkout with it through `harness.api.check_api`: griffe's
breaking-change rules, keyword names included, plus the few rules griffe lacks.
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import griffe

from .api import PACKAGE_NAME, ApiReport, check_api, load_package
from .golden import RELEASE_API_STEM

__all__ = [
    "RELEASE_DISTRIBUTION",
    "RELEASE_PACKAGE_DIR",
    "RELEASE_STEM",
    "RELEASE_VERSION",
    "ReleaseApi",
    "check_against_release",
    "dump_release_api",
    "extract_wheel_package",
    "load_release_api",
]

RELEASE_DISTRIBUTION = "video-ai-studio"
RELEASE_VERSION = "1.0.15"
RELEASE_STEM = RELEASE_API_STEM
"""The record's stem in ``snapshots/`` (a ``__`` name: never taken for a YAML's record)."""

RELEASE_PACKAGE_DIR = "packages/core/ai_content_pipeline"
"""Where the wheel keeps the folder that holds the ``ai_content_pipeline`` package."""


@dataclass(frozen=True)
class ReleaseApi:
    """The release's API tree, loaded back from its griffe dump, and what it is."""

    distribution: str
    version: str
    module: griffe.Module


def extract_wheel_package(wheel: Path, into: Path) -> Path:
    """Unpack the release's ``ai_content_pipeline`` sources from `wheel` into `into`.

    Returns the folder to give griffe as a search path. Only ``.py`` files of the package are
    taken, with the path checked, so a hostile archive cannot write outside `into`.
    """
    prefix = f"{RELEASE_PACKAGE_DIR}/{PACKAGE_NAME}/"
    root = into.resolve()
    found = False
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.startswith(prefix) or not name.endswith(".py"):
                continue
            target = (root / name[len(RELEASE_PACKAGE_DIR) + 1 :]).resolve()
            if not target.is_relative_to(root):
                raise ValueError(f"{wheel}: member {name!r} points outside the package")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
            found = True
    if not found:
        raise ValueError(f"{wheel} holds no {prefix} package")
    return root


def dump_release_api(package_root: Path, version: str = RELEASE_VERSION) -> str:
    """griffe's JSON of the release package found under `package_root`, wrapped with what it
    is. The dump is griffe's own format (``Object.as_json``), so griffe loads it back."""
    module = load_package(search_paths=[package_root])
    body = _relative_paths(json.loads(module.as_json()), package_root.resolve())
    wrapped = {"distribution": RELEASE_DISTRIBUTION, "version": version, "griffe": body}
    return json.dumps(wrapped, indent=1) + "\n"


def _relative_paths(node: Any, root: Path) -> Any:
    """The dump with every ``filepath`` relative to the package root: the record must not
    depend on the scratch folder it was made in."""
    if isinstance(node, dict):
        return {
            key: (
                Path(value).resolve().relative_to(root).as_posix()
                if key == "filepath" and isinstance(value, str)
                else _relative_paths(value, root)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_relative_paths(item, root) for item in node]
    return node


def load_release_api(path: Path) -> ReleaseApi:
    """Load the recorded release API back into a griffe tree that `check_api` can walk.

    griffe's JSON decoder rebuilds the objects; the re-exports are aliases to resolve again,
    and base-class names need their parent scope to resolve to canonical paths.
    """
    try:
        wrapped = json.loads(path.read_text(encoding="utf-8"))
        body = wrapped["griffe"]
        distribution, version = str(wrapped["distribution"]), str(wrapped["version"])
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"corrupt release API record {path}: {exc}") from exc
    module = json.loads(json.dumps(body), object_hook=griffe.json_decoder)
    if not isinstance(module, griffe.Module):
        raise ValueError(f"corrupt release API record {path}: not a griffe module dump")
    loader = griffe.GriffeLoader()
    loader.modules_collection.set_member(module.path, module)
    loader.resolve_aliases(implicit=False, external=False)
    _scope_bases(module)
    return ReleaseApi(distribution, version, module)


def _scope_bases(module: griffe.Module) -> None:
    """Give every base-class expression its class's scope, which the JSON does not keep."""
    for member in module.members.values():
        if member.is_alias:
            continue
        if isinstance(member, griffe.Module):
            _scope_bases(member)
        elif isinstance(member, griffe.Class):
            for base in member.bases:
                if isinstance(base, griffe.Expr):
                    for part in base.iterate(flat=True):
                        if isinstance(part, griffe.ExprName):
                            part.parent = member.parent  # type: ignore[assignment]


BUNDLED_RECORD = Path(__file__).resolve().parent.parent / "snapshots" / f"{RELEASE_STEM}.json"
"""The record this repository ships; a gate on another snapshots folder without its own copy
compares with this one."""


def check_against_release(record: Path, current: griffe.Module | None = None) -> ApiReport:
    """Every breaking change of this checkout's public API against the recorded release.

    Without `current`, the checkout's package is loaded, and the verdict is cached for as long
    as neither the record nor a source file of the package changes (a gate's self-tests run
    the gate dozens of times in one process)."""
    if current is not None:
        return check_api(load_release_api(record).module, current)
    record = record.resolve()
    return _cached_check(record, _fingerprint(record), load_package)


@functools.lru_cache(maxsize=8)
def _cached_check(
    record: Path, fingerprint: tuple[tuple[str, int, int], ...], loader: Callable[[], griffe.Module]
) -> ApiReport:
    """`loader` is part of the key: a replaced loader is never served another one's verdict."""
    return check_api(load_release_api(record).module, loader())


def _fingerprint(record: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the record and of every source file of the checkout's package."""
    package = Path(__file__).resolve().parent.parent / PACKAGE_NAME
    files = [record, *sorted(package.rglob("*.py"))]
    stamps = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            stamps.append((str(path), -1, -1))
            continue
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)
