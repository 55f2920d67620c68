"""File handling for a pipeline run: output paths, temp files, hashing and bookkeeping.

Two rules shape this module. Constructing a FileManager has no side effects (no directories
appear until something is written), and every generated name is reproducible: names come from a
content hash or a per-instance counter, never from the clock or a uuid (spec section 8 #5).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

_MB = 1024 * 1024


def _normalise_extension(ext: str) -> str:
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else f".{ext}"


def _check_component(value: str, what: str) -> None:
    """Refuse a relative path part that could leave the directory it is joined to."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character: {value!r}")
    pure = PurePath(value)
    if pure.is_absolute() or value.startswith(("/", "\\")):
        raise ValueError(f"{what} must be relative, got {value!r}")
    if not pure.parts:
        raise ValueError(f"{what} names no file or directory: {value!r}")
    if ".." in pure.parts or ".." in value.replace("\\", "/").split("/"):
        raise ValueError(f"{what} must not contain '..': {value!r}")


class FileManager:
    """Owns the output, temp and input directories under one base directory.

    Thread-safe: parallel branches share one instance, so the name counter and the temp-file
    list are guarded by a lock.
    """

    def __init__(self, base_dir: str | os.PathLike[str] | None = None) -> None:
        self.base_dir = Path(base_dir).absolute() if base_dir else Path.cwd()
        self.output_dir = self.base_dir / "output"
        self.temp_dir = self.base_dir / "temp"
        self.input_dir = self.base_dir / "input"
        self.temp_files: list[str] = []
        self._counter = 0
        self._lock = threading.Lock()

    # -- naming -----------------------------------------------------------------------------

    def create_temp_file(self, suffix: str = "", prefix: str = "pipeline_") -> str:
        """Create an empty temp file in temp_dir and track it so cleanup can remove it.

        The file is created atomically (no race with a concurrent run); temp names never reach
        an output or a report, so they need not be reproducible.
        """
        for value, what in ((suffix, "suffix"), (prefix, "prefix")):
            if any(sep in value for sep in ("/", "\\", "\x00")):
                raise ValueError(f"Temp file {what} must not contain a path separator: {value!r}")
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=suffix, prefix=prefix, dir=self.temp_dir)
        os.close(fd)
        with self._lock:
            self.temp_files.append(name)
        return name

    def create_output_path(
        self, filename: str, step_name: str | None = None, create_dirs: bool = True
    ) -> str:
        """Path for an output file: output_dir[/step_name]/filename.

        Raises ValueError for a filename or step name that would land outside output_dir
        (absolute paths, `..`, or a symlink pointing elsewhere), since both can come from YAML.
        """
        _check_component(filename, "Filename")
        directory = self.output_dir
        if step_name is not None:
            _check_component(step_name, "Step name")
            directory = directory / step_name
        path = directory / filename
        root = self.output_dir.resolve()
        if not path.resolve().is_relative_to(root):
            raise ValueError(f"Output path escapes the output directory: {path}")
        if create_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def generate_unique_filename(
        self, base_name: str, extension: str, content_hash: str | None = None
    ) -> str:
        """`{base_name}_{unique}.{ext}`: unique is content_hash[:8], else the next counter value.

        The counter (`0001`, `0002`, …) is per instance, so two runs that ask for names in the
        same order get the same names.
        """
        if content_hash:
            unique = content_hash[:8]
        else:
            with self._lock:
                self._counter += 1
                unique = f"{self._counter:04d}"
        ext = extension.strip().lstrip(".")
        return f"{base_name}_{unique}.{ext}" if ext else f"{base_name}_{unique}"

    @staticmethod
    def hash_content(content: bytes | bytearray | str) -> str:
        """SHA-256 hex digest; a str is hashed as UTF-8 text (never read as a path)."""
        if isinstance(content, str):
            data = content.encode("utf-8")
        elif isinstance(content, bytes | bytearray):
            data = bytes(content)
        else:
            raise TypeError(f"hash_content needs bytes or str, got {type(content).__name__}")
        return hashlib.sha256(data).hexdigest()

    # -- moving files -------------------------------------------------------------------------

    @staticmethod
    def copy_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
        """Copy src to dst (creating dst's parents) and return the destination path."""
        source = Path(src)
        if not source.is_file():
            raise FileNotFoundError(f"Source file not found: {src}")
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        return str(shutil.copy2(source, dst))

    def move_file(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
        """Move src to dst (creating dst's parents) and return the destination path.

        A moved temp file is no longer tracked: it has become someone's output.
        """
        source = Path(src)
        if not source.is_file():
            raise FileNotFoundError(f"Source file not found: {src}")
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        result = str(shutil.move(str(source), str(dst)))
        with self._lock:
            self.temp_files = [t for t in self.temp_files if t != str(src)]
        return result

    # -- inspecting files -----------------------------------------------------------------------

    @staticmethod
    def validate_file_format(path: str | os.PathLike[str], allowed_formats: Iterable[str]) -> bool:
        """Whether the extension (any case) is one of allowed_formats (with or without dot)."""
        suffix = Path(path).suffix.lower()
        return bool(suffix) and suffix in {_normalise_extension(f) for f in allowed_formats}

    @staticmethod
    def get_file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Facts about a regular file; for a missing one `exists` is False, numbers 0, rest None."""
        file = Path(path)
        if not file.is_file():
            return {
                "exists": False,
                "size": 0,
                "size_mb": 0.0,
                "modified": None,
                "extension": None,
                "name": None,
                "stem": None,
            }
        stat = file.stat()
        return {
            "exists": True,
            "size": stat.st_size,
            "size_mb": stat.st_size / _MB,
            "modified": datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(),
            "extension": file.suffix.lower(),
            "name": file.name,
            "stem": file.stem,
        }

    @staticmethod
    def organize_outputs(
        results: Iterable[Mapping[str, Any]], chain_name: str | None = None
    ) -> dict[str, Any]:
        """Summarise the files a run produced (existing `output_path`s, in order, no duplicates).

        Nothing is moved: outputs already live where the steps wrote them.
        """
        files: list[str] = []
        total_bytes = 0
        for result in results or []:
            if not isinstance(result, Mapping):
                continue
            output_path = result.get("output_path")
            if not output_path or str(output_path) in files:
                continue
            path = Path(output_path)
            if path.is_file():
                files.append(str(output_path))
                total_bytes += path.stat().st_size
        return {"chain_name": chain_name, "files": files, "total_size_mb": total_bytes / _MB}

    # -- housekeeping ---------------------------------------------------------------------------

    def cleanup_temp_files(self) -> int:
        """Delete the tracked temp files; return how many were removed.

        Already-missing files are forgotten silently; a file that cannot be deleted stays
        tracked so a later call can retry.
        """
        with self._lock:
            tracked, self.temp_files = self.temp_files, []
        removed = 0
        kept: list[str] = []
        for name in tracked:
            try:
                Path(name).unlink()
            except FileNotFoundError:
                continue
            except OSError:
                kept.append(name)
                continue
            removed += 1
        if kept:
            with self._lock:
                self.temp_files[:0] = kept
        return removed

    def get_storage_usage(self) -> dict[str, Any]:
        """Bytes and file counts per existing directory (output, temp, input), plus totals."""
        usage: dict[str, Any] = {}
        total_bytes = 0
        total_files = 0
        for label, directory in (
            ("output", self.output_dir),
            ("temp", self.temp_dir),
            ("input", self.input_dir),
        ):
            if not directory.is_dir():
                continue
            size, count = _directory_usage(directory)
            usage[label] = {
                "path": str(directory),
                "bytes": size,
                "files": count,
                "size_mb": size / _MB,
            }
            total_bytes += size
            total_files += count
        usage["total_bytes"] = total_bytes
        usage["total_files"] = total_files
        usage["total_size_mb"] = total_bytes / _MB
        return usage


def _directory_usage(directory: Path) -> tuple[int, int]:
    """Total size and count of regular files below directory (symlinks are not followed)."""
    size = 0
    count = 0
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = Path(root) / name
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                size += path.stat().st_size
            except OSError:
                continue
            count += 1
    return size, count
