"""File handling for a pipeline run: output paths, temp files, hashing and bookkeeping.

The established interface is kept to the letter: construction creates the ``output``, ``temp``
and ``input`` folders (``create_dirs=False`` opts out, for callers that must write nothing
before a run starts), the methods take the established parameter names, and
`organize_outputs` moves the files it is given. Every generated name is reproducible: names
come from a content hash or a per-instance counter, never from the clock or a uuid (spec
section 8 #5).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
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

    def __init__(
        self, base_dir: str | os.PathLike[str] | None = None, *, create_dirs: bool = True
    ) -> None:
        self.base_dir = Path(base_dir).absolute() if base_dir else Path.cwd()
        self.output_dir = self.base_dir / "output"
        self.temp_dir = self.base_dir / "temp"
        self.input_dir = self.base_dir / "input"
        self.temp_files: list[str] = []
        self._counter = 0
        self._lock = threading.Lock()
        if create_dirs:
            for directory in (self.output_dir, self.temp_dir, self.input_dir):
                directory.mkdir(parents=True, exist_ok=True)

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

    def hash_content(self, content: bytes | bytearray | str) -> str:
        """SHA-256 hex digest; a str is hashed as UTF-8 text (never read as a path)."""
        if isinstance(content, str):
            data = content.encode("utf-8")
        elif isinstance(content, bytes | bytearray):
            data = bytes(content)
        else:
            raise TypeError(f"hash_content needs bytes or str, got {type(content).__name__}")
        return hashlib.sha256(data).hexdigest()

    # -- moving files -------------------------------------------------------------------------

    def copy_file(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
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

    def validate_file_format(
        self, file_path: str | os.PathLike[str], allowed_formats: Iterable[str]
    ) -> bool:
        """Whether the extension (any case) is one of allowed_formats (with or without dot)."""
        suffix = Path(file_path).suffix.lower()
        return bool(suffix) and suffix in {_normalise_extension(f) for f in allowed_formats}

    def get_file_info(self, file_path: str | os.PathLike[str]) -> dict[str, Any]:
        """Facts about a file, as the established release gave them (`modified` is the
        st_mtime float, `extension` the suffix as written); for a missing one `exists` is
        False, the numbers 0 and the rest None."""
        path = Path(file_path)
        if not path.exists():
            return {
                "exists": False,
                "size": 0,
                "size_mb": 0.0,
                "modified": None,
                "extension": None,
                "name": None,
                "stem": None,
            }
        stat = path.stat()
        return {
            "exists": True,
            "size": stat.st_size,
            "size_mb": stat.st_size / _MB,
            "modified": stat.st_mtime,
            "extension": path.suffix,
            "name": path.name,
            "stem": path.stem,
        }

    def organize_outputs(self, results: Mapping[str, Any], chain_name: str | None = None) -> None:
        """Move each existing ``results["outputs"][step]["path"]`` into
        ``output_dir/<chain_name or "pipeline_output">/<step>/`` and update that ``path``.

        Names that would leave output_dir (absolute, ``..``) are refused before anything moves.
        """
        folder = chain_name or "pipeline_output"
        _check_component(folder, "Chain name")
        outputs = results.get("outputs") or {}
        moves: list[tuple[dict[str, Any], Path, Path]] = []
        for step_name, step_result in outputs.items():
            if not isinstance(step_result, dict):
                continue
            output_path = step_result.get("path")
            if not output_path or not Path(output_path).exists():
                continue
            _check_component(str(step_name), "Step name")
            source = Path(output_path)
            moves.append((step_result, source, self.output_dir / folder / step_name / source.name))
        for step_result, source, target in moves:
            step_result["path"] = self.move_file(source, target)

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
        """The established summary: per folder ``{path, size_bytes, size_mb}`` (plus ``files``)
        under ``output_dir``, ``temp_dir`` and ``input_dir`` (0 when a folder is missing), and
        ``total_mb`` (plus ``total_bytes``, ``total_files``)."""
        usage: dict[str, Any] = {}
        total_bytes = 0
        total_files = 0
        for label, directory in (
            ("output_dir", self.output_dir),
            ("temp_dir", self.temp_dir),
            ("input_dir", self.input_dir),
        ):
            size, count = _directory_usage(directory) if directory.is_dir() else (0, 0)
            usage[label] = {
                "path": str(directory),
                "size_bytes": size,
                "size_mb": size / _MB,
                "files": count,
            }
            total_bytes += size
            total_files += count
        usage["total_mb"] = total_bytes / _MB
        usage["total_bytes"] = total_bytes
        usage["total_files"] = total_files
        return usage

    def __del__(self) -> None:
        """Remove the tracked temp files when the manager goes away, as the release did."""
        with contextlib.suppress(Exception):
            self.cleanup_temp_files()


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
