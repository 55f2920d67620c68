"""syrupy 7 extension that reads and writes the harness's golden records.

Why: `pytest --snapshot-update` and `harness update` must produce the same files, byte for byte,
at the same place. So this extension stores a snapshot at exactly ``<snapshots>/<name>.json``
(the name is the YAML stem, passed as ``snapshot(name=stem)`` or taken from the test's ``stem``
parameter), formats it with `golden.serialize`, and writes through `golden.GoldenStore` (atomic,
under the folder's shared lock: xdist workers write side by side, a running `harness update`
makes them wait).

Golden records are shared by all three states and by the gate, so syrupy must never decide one
is "unused" (a ``-k on`` run does not use them, a deleted YAML is `harness update`'s business):
discovery reports nothing and deletion is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from syrupy.data import SnapshotCollection, SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from .golden import SUFFIX, GoldenStore, check_stem, serialize

if TYPE_CHECKING:
    from syrupy.location import PyTestLocation
    from syrupy.types import (
        PropertyFilter,
        PropertyMatcher,
        SerializableData,
        SerializedData,
        SnapshotIndex,
    )

DEFAULT_SNAPSHOTS_DIR = Path(__file__).resolve().parent.parent / "snapshots"
STEM_PARAM = "stem"
_BOUND: dict[tuple[type, Path], type[GoldenRecordExtension]] = {}


class GoldenRecordExtension(SingleFileSnapshotExtension):
    """``<snapshots_dir>/<stem>.json`` in THE golden format. Use `for_dir` for another folder."""

    snapshots_dir: ClassVar[Path] = DEFAULT_SNAPSHOTS_DIR
    file_extension = SUFFIX.lstrip(".")
    _write_mode = WriteMode.TEXT

    @classmethod
    def for_dir(cls, snapshots_dir: Path) -> type[GoldenRecordExtension]:
        """A subclass bound to `snapshots_dir` (syrupy calls the location hooks on the class);
        one class per folder, so syrupy sees the same extension for every test."""
        folder = Path(snapshots_dir).resolve()
        if folder == cls.snapshots_dir:
            return cls
        key = (cls, folder)
        if key not in _BOUND:
            _BOUND[key] = type(cls.__name__, (cls,), {"snapshots_dir": folder})
        return _BOUND[key]

    # -- where -----------------------------------------------------------------------------------

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.snapshots_dir)

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.snapshots_dir)

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        """The YAML stem: ``snapshot(name=stem)`` or the test's ``stem`` parameter."""
        if isinstance(index, str) and index:
            return check_stem(index, allow_reserved=True)
        callspec = getattr(test_location.item, "callspec", None)
        params = getattr(callspec, "params", {}) or {}
        if isinstance(params.get(STEM_PARAM), str):
            return check_stem(params[STEM_PARAM], allow_reserved=True)
        raise ValueError(
            f"{test_location.nodeid}: a golden record needs a name; use snapshot(name=stem) "
            f"or parametrize the test with {STEM_PARAM!r}"
        )

    @classmethod
    def get_file_basename(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        return cls.get_snapshot_name(test_location=test_location, index=index)

    @classmethod
    def matches_test_location(
        cls, *, test_location: PyTestLocation, snapshot_location: str
    ) -> bool:
        return Path(snapshot_location).resolve().parent == cls.snapshots_dir.resolve()

    # -- what --------------------------------------------------------------------------------

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        """`golden.serialize` of the record dict (already-serialized text passes through)."""
        if isinstance(data, str):
            return data
        if not isinstance(data, Mapping):
            raise TypeError(f"a golden record is a dict, got {type(data).__name__}")
        return serialize(data)

    @classmethod
    def write_snapshot_collection(
        cls,
        *,
        snapshot_collection: SnapshotCollection,
        name_order: dict[str, int] | None = None,
    ) -> None:
        """Through `GoldenStore.write_text`: an interrupted update never truncates a record."""
        data = next(iter(snapshot_collection)).data
        if not isinstance(data, str):
            raise TypeError(f"expected serialized text, got {type(data).__name__}")
        location = Path(snapshot_collection.location)
        GoldenStore(location.parent).write_text(location.name[: -len(SUFFIX)], data)

    # -- never "unused" ----------------------------------------------------------------------

    def discover_snapshots(
        self, *, test_location: PyTestLocation, ignore_extensions: list[str] | None = None
    ) -> SnapshotCollections:
        return SnapshotCollections()

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        return None

    def read_snapshot_data_from_location(
        self, *, snapshot_location: str, snapshot_name: str, session_id: str
    ) -> Any:
        try:
            # A record that is not UTF-8 (corrupt) differs from every record: an update rewrites it.
            return Path(snapshot_location).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
