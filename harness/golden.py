"""Golden records on disk: one readable JSON file per YAML, plus the package's API record.

Why one module owns this: `harness update`, `harness gate` and `pytest --snapshot-update` must
agree byte for byte on the format and on where a record lives, and a crash half-way through a
write must never leave a truncated golden behind. `serialize` is THE format; `GoldenStore.write`
is the only writer (the syrupy extension calls it too).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

try:
    import fcntl
except ImportError:  # no flock (Windows): writers do not lock
    fcntl = None  # type: ignore[assignment]

API_STEM = "__api__"
RELEASE_API_STEM = "__api_release__"
"""The established release's API record (`harness.release_api`); never rewritten by updates."""
RESERVED_STEMS = frozenset({API_STEM, RELEASE_API_STEM})
"""The package's API record; reserved, so a YAML stem may not start with ``__``."""

SUFFIX = ".json"
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".tmp"


SCHEDULE_KEY = "schedule"
"""A record's state-specific part: when each branch ran, on the virtual clock."""
SCHEDULES_KEY = "schedules"
"""A golden record keeps one schedule per flag state under this key; the rest is shared."""


def golden_from_states(records: Mapping[str, Mapping[str, Any]], reference: str) -> dict[str, Any]:
    """One golden record from the records of one YAML in several states: the reference
    state's record, with every state's schedule."""
    golden = {k: v for k, v in records[reference].items() if k != SCHEDULE_KEY}
    golden[SCHEDULES_KEY] = {state: dict(r.get(SCHEDULE_KEY) or {}) for state, r in records.items()}
    return golden


def view_for_state(golden: Mapping[str, Any], state: str) -> dict[str, Any]:
    """What a record of `state` must equal: the shared part plus that state's schedule."""
    view = {k: v for k, v in golden.items() if k != SCHEDULES_KEY}
    schedules = golden.get(SCHEDULES_KEY)
    if isinstance(schedules, Mapping) and state in schedules:
        view[SCHEDULE_KEY] = schedules[state]
    return view


class GoldenError(Exception):
    """A golden record that cannot be used (corrupt file, bad name); the message names it."""


def serialize(record: Mapping[str, Any]) -> str:
    """The one golden-record format: sorted keys, 2-space indent, UTF-8 text, final newline."""
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_stem(stem: str, *, allow_reserved: bool = False) -> str:
    """Reject names that would escape the folder or collide with the reserved API record."""
    if not stem or stem in (".", "..") or "/" in stem or "\\" in stem or "\0" in stem:
        raise GoldenError(f"invalid golden record name {stem!r}")
    if stem.startswith("__") and not (allow_reserved and stem in RESERVED_STEMS):
        raise GoldenError(
            f"invalid YAML name {stem!r}: names starting with '__' are reserved for the harness"
        )
    return stem


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + `os.replace`: readers see old or new, never
    half a file, and a failure removes the temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f"{_TEMP_PREFIX}{path.name}.", suffix=_TEMP_SUFFIX
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _file_mode(path: Path) -> int:
    """Keep an existing file's mode; new files get 0o644 (mkstemp would give 0o600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


@dataclass
class GoldenStore:
    """The `snapshots/` folder: ``<stem>.json`` per YAML and ``__api__.json``."""

    snapshots_dir: Path

    def __post_init__(self) -> None:
        self.snapshots_dir = Path(self.snapshots_dir)

    def path_for(self, stem: str) -> Path:
        return self.snapshots_dir / f"{check_stem(stem, allow_reserved=True)}{SUFFIX}"

    def stems(self) -> list[str]:
        """YAML stems that have a golden record (the API record and temp files excluded)."""
        if not self.snapshots_dir.is_dir():
            return []
        return sorted(
            p.name[: -len(SUFFIX)]
            for p in self.snapshots_dir.iterdir()
            if p.name.endswith(SUFFIX)
            and not p.name.startswith((_TEMP_PREFIX, "__"))
            and p.is_file()
        )

    def exists(self, stem: str) -> bool:
        return self.path_for(stem).is_file()

    def read_text(self, stem: str) -> str | None:
        path = self.path_for(stem)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise GoldenError(f"cannot read golden record {path}: {exc}") from exc

    def read(self, stem: str) -> dict[str, Any] | None:
        """The stored record, None when absent; a corrupt file is an error naming it."""
        text = self.read_text(stem)
        if text is None:
            return None
        path = self.path_for(stem)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GoldenError(
                f"corrupt golden record {path}: {exc}; restore it from git or run `harness update`"
            ) from exc
        if not isinstance(data, dict):
            raise GoldenError(f"corrupt golden record {path}: expected a JSON object")
        return data

    def write(self, stem: str, record: Mapping[str, Any]) -> Path:
        """Write one record atomically (and only that one)."""
        path = self.path_for(stem)
        atomic_write_text(path, serialize(record))
        return path

    def remove(self, stem: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_for(stem).unlink()

    def stale_temp_files(self) -> list[Path]:
        """Temp files left by a killed writer (never read as records; listed for tests/cleanup)."""
        if not self.snapshots_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.snapshots_dir.iterdir()
            if p.name.startswith(_TEMP_PREFIX) and p.name.endswith(_TEMP_SUFFIX)
        )


@dataclass
class UpdatePlan:
    """What `harness update` will do, by YAML stem."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def to_write(self) -> list[str]:
        return sorted([*self.added, *self.changed])


def plan_update(
    store: GoldenStore,
    new_records: Mapping[str, Mapping[str, Any]],
    ran_stems: Iterable[str],
    all_stems_in_input: Iterable[str],
    *,
    filtered: bool | None = None,
) -> UpdatePlan:
    """Classify the new records against the stored ones.

    Only stems that ran and produced a record are added/changed/unchanged. `removed` lists golden
    records whose YAML is gone from the input folder, and only for an unfiltered run: with ``-k``
    nothing is ever removed. `filtered=None` means "filtered if not every input stem ran".
    """
    ran = set(ran_stems)
    in_input = set(all_stems_in_input)
    if filtered is None:
        filtered = ran != in_input
    plan = UpdatePlan()
    for stem in sorted(new_records):
        if stem not in ran:
            continue
        old = store.read_text(stem)
        if old is None:
            plan.added.append(stem)
        elif old != serialize(new_records[stem]):
            plan.changed.append(stem)
        else:
            plan.unchanged.append(stem)
    if not filtered:
        plan.removed = sorted(set(store.stems()) - in_input)
    return plan
