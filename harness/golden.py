"""Golden records on disk: one readable JSON file per YAML, plus the package's API record.

Why one module owns this: `harness update`, `harness gate` and `pytest --snapshot-update` must
agree byte for byte on the format and on where a record lives, and a crash half-way through a
write must never leave a truncated golden behind. `serialize` is THE format; `GoldenStore.write`
is the only writer (the syrupy extension calls it too).

Writers lock the folder itself (`flock` on the directory: no lock file, nothing for git to see):
an update holds it exclusively for its whole run, a single write (`pytest --snapshot-update`,
one per xdist worker) shares it. So under an update's lock no other writer is alive, and any
temp file in the folder is a killed writer's: the update removes it. A temp file is named
``.<record>.<random>.tmp``, which `.gitignore` ignores in ``snapshots/``.
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


class FolderUnavailable(GoldenError):
    """An update cannot take the golden folder (another update holds it, or it is read-only);
    raised before anything is recorded or written."""


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


def _probe_writable(folder: Path) -> None:
    """Create and remove a temp file: the one sure test (permissions, root, a read-only mount)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{_TEMP_PREFIX}probe.", suffix=_TEMP_SUFFIX)
    os.close(fd)
    os.unlink(name)


def _unwritable(folder: Path, exc: OSError) -> FolderUnavailable:
    return FolderUnavailable(
        f"cannot write the golden record folder {folder}: {exc.strerror or exc}; "
        "nothing was recorded or changed"
    )


def _file_mode(path: Path) -> int:
    """Keep an existing file's mode; new files get 0o644 (mkstemp would give 0o600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


_HELD: set[Path] = set()
"""Folders this process holds for an update: its own writes there need no shared lock (taking
one would wait for itself)."""


@contextlib.contextmanager
def _folder_lock(folder: Path, operation: int) -> Iterator[None]:
    """`flock` on the folder itself; released when the block ends or the process dies."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@dataclass
class UpdateLock:
    """An update's exclusive hold on a golden folder (see `GoldenStore.lock_for_update`)."""

    folder: Path
    created: bool
    """The update made the folder: if it wrote nothing there, `release` removes it again."""
    removed: list[Path] = field(default_factory=list)
    """Temp files of killed writers, removed on taking the lock."""
    _hold: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    def release(self) -> None:
        _HELD.discard(self.folder)
        if self.created:
            self.created = False
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only if still empty
        self._hold.close()

    def __enter__(self) -> UpdateLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@dataclass
class GoldenStore:
    """The `snapshots/` folder: ``<stem>.json`` per YAML and ``__api__.json``."""

    snapshots_dir: Path

    def __post_init__(self) -> None:
        self.snapshots_dir = Path(self.snapshots_dir)

    def lock_for_update(self) -> UpdateLock:
        """Hold the folder for one update, or raise `FolderUnavailable` (one line naming the
        folder) when another update holds it or it cannot be written; then remove the temp
        files killed writers left (under this lock none is a live writer's)."""
        folder = self.snapshots_dir
        created = not folder.is_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            key = folder.resolve()
        except OSError as exc:
            raise _unwritable(folder, exc) from exc
        lock = UpdateLock(key, created)
        if fcntl is not None:
            try:
                lock._hold.enter_context(_folder_lock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB))
            except BlockingIOError as exc:
                raise FolderUnavailable(
                    f"another update is writing the golden records in {folder}; "
                    "wait for it to finish, then run again"
                ) from exc
        try:
            _probe_writable(folder)
        except OSError as exc:
            lock.release()
            raise _unwritable(folder, exc) from exc
        _HELD.add(key)
        for path in self.stale_temp_files():
            with contextlib.suppress(OSError):
                path.unlink()
                lock.removed.append(path)
        return lock

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        """A write's share of the folder lock: waits while an update (another process) holds
        it; nothing when this process holds it or there is no flock."""
        if fcntl is None or self.snapshots_dir.resolve() in _HELD:
            return contextlib.nullcontext()
        return _folder_lock(self.snapshots_dir, fcntl.LOCK_SH)

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
            raise GoldenError(
                f"cannot read golden record {path}: {exc}; restore it from git or run "
                "`harness update`"
            ) from exc

    def stored_text(self, stem: str) -> str | None:
        """What an update compares with: `read_text`, but an unreadable record (not UTF-8, no
        read permission) is ``""``, which differs from every record, so it is rewritten."""
        try:
            return self.read_text(stem)
        except GoldenError:
            return ""

    def read(self, stem: str) -> dict[str, Any] | None:
        """The stored record, None when absent; a corrupt file is an error naming it."""
        text = self.read_text(stem)
        if text is None:
            return None
        path = self.path_for(stem)
        if not text.strip():
            raise GoldenError(
                f"corrupt golden record {path}: the file is empty; restore it from git or run "
                "`harness update`"
            )
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GoldenError(
                f"corrupt golden record {path}: {exc}; restore it from git or run `harness update`"
            ) from exc
        if not isinstance(data, dict):
            raise GoldenError(
                f"corrupt golden record {path}: expected a JSON object; restore it from git or "
                "run `harness update`"
            )
        return data

    def write(self, stem: str, record: Mapping[str, Any]) -> Path:
        """Write one record atomically (and only that one)."""
        return self.write_text(stem, serialize(record))

    def write_text(self, stem: str, text: str) -> Path:
        """Write one already-serialized record atomically, under the folder lock."""
        path = self.path_for(stem)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._writing():
            atomic_write_text(path, text)
        return path

    def remove(self, stem: str) -> None:
        path = self.path_for(stem)
        with contextlib.suppress(FileNotFoundError), self._writing():
            path.unlink()

    def stale_temp_files(self) -> list[Path]:
        """Temp files in the folder (never read as records): a killed writer's, unless a writer
        is running; `lock_for_update` removes them."""
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
        old = store.stored_text(stem)
        if old is None:
            plan.added.append(stem)
        elif old != serialize(new_records[stem]):
            plan.changed.append(stem)
        else:
            plan.unchanged.append(stem)
    if not filtered:
        plan.removed = sorted(set(store.stems()) - in_input)
    return plan
