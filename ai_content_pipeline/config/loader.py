"""Safe, located loading of pipeline files (YAML or JSON).

Why not just ``yaml.safe_load``: users need ``file:line`` in every message, a
mistyped duplicate key must not silently win, and a hostile or accidental alias
bomb must be refused before it is expanded. So the file is composed once into a
node tree with `yaml.SafeLoader` (aliases counted and depth limited while
composing), the tree is measured and mapped to lines, and only then is the data
constructed from that same tree with the safe constructor. Nothing here ever
uses an unsafe loader. Every limit (size, aliases, nodes, depth) is refused with
the ``file:line`` where it is passed, for JSON as for YAML.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = [
    "JSON_SUFFIXES",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "YAML_SUFFIXES",
    "LoadedConfig",
    "key_lines",
    "load_config_file",
]

MAX_FILE_BYTES = 1024 * 1024
"""Largest pipeline file we read (1 MiB); real pipelines are a few KiB."""
MAX_ALIASES = 100
"""Most alias references (``*name``) one document may contain."""
MAX_NODES = 100_000
"""Most nodes a document may have once every alias is expanded (billion-laughs guard)."""
MAX_DEPTH = 50
"""Deepest nesting of mappings and lists (a scalar counts as a level); a pipeline with a group
reaches 8. Checked while composing, so a hostile file never reaches Python's recursion limit."""

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)

Location = tuple[str | int, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class LoadedConfig:
    """A parsed pipeline file plus where each key and item came from.

    `data` holds plain Python objects, as `yaml.safe_load` would give (aliased
    parts are copied, so mutating one step never changes another). `lines` maps
    a key path such as ``("steps", 2, "params", "model")`` to a 1-based line.
    """

    path: Path
    data: dict[str, Any]
    source: str = ""
    """The path exactly as the user gave it; used in messages."""
    lines: dict[Location, int] = field(default_factory=dict, repr=False)
    format: str = "yaml"

    def line_of(self, location: Location = ()) -> int | None:
        """Line of the key/item at `location`, else of its nearest known ancestor."""
        loc = tuple(location)
        while True:
            line = self.lines.get(loc)
            if line is not None:
                return line
            if not loc:
                return None
            loc = loc[:-1]

    def where(self, location: Location = ()) -> str:
        """``file:line`` for messages; just ``file`` when no line is known (e.g. JSON)."""
        name = self.source or str(self.path)
        line = self.line_of(location)
        return f"{name}:{line}" if line is not None else name


class _DuplicateKeyError(ConfigError):
    """A mapping repeats a key; raised with the key's file:line."""


class _LimitedSafeLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases while composing and remembers where each alias was."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self.source = source
        self.alias_count = 0
        self.depth = 0
        # (id(parent node), sequence index | id(key node)) -> 1-based line of the alias.
        self.alias_lines: dict[tuple[int, int], int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            mark = self.peek_event().start_mark
            if self.alias_count > MAX_ALIASES:
                raise _LimitError(
                    f"too many YAML aliases (more than {MAX_ALIASES}); refusing to expand them",
                    mark.line + 1,
                )
            if parent is not None and index is not None:
                slot = index if isinstance(index, int) else id(index)
                self.alias_lines[(id(parent), slot)] = mark.line + 1
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _LimitError(
                    f"configuration is nested more than {MAX_DEPTH} levels deep; "
                    "refusing to load it",
                    self.peek_event().start_mark.line + 1,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _LimitError(Exception):
    """Internal: a size limit was hit at a line (turned into ConfigError by the caller)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def load_config_file(path: str | Path) -> LoadedConfig:
    """Read, parse and shape-check a pipeline file.

    Raises `ConfigError` (one line, with ``file:line`` when known) for: a
    missing, unreadable, oversized or non-UTF-8 file, an unsupported
    extension, a syntax error, duplicate keys, alias bombs, an empty document,
    a top level that is not a mapping, and a missing or non-list ``steps``.
    """
    source = str(path)
    file_path = Path(path)
    suffix = file_path.suffix.lower()
    if suffix not in YAML_SUFFIXES + JSON_SUFFIXES:
        raise ConfigError(
            f"Unsupported configuration format: {file_path.suffix or '(no extension)'} "
            "(use .yaml, .yml or .json)",
            source,
        )
    text = _read_text(file_path, source)
    if suffix in JSON_SUFFIXES:
        data, lines = _parse_json(text, source)
        fmt = "json"
    else:
        data, lines = _parse_yaml(text, source)
        fmt = "yaml"
    loaded = LoadedConfig(path=file_path, data={}, source=source, lines=lines, format=fmt)
    _check_shape(data, loaded)
    loaded.data = data
    return loaded


# --------------------------------------------------------------------------- reading


def _read_text(file_path: Path, source: str) -> str:
    """Bytes -> str with the size limit and a located message for bad UTF-8."""
    try:
        with file_path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"Configuration file not found: {source}") from None
    except IsADirectoryError:
        raise ConfigError("cannot read configuration file: it is a directory", source) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ConfigError(f"cannot read configuration file: {reason}", source) from None
    if len(raw) > MAX_FILE_BYTES:
        line = raw.count(b"\n", 0, MAX_FILE_BYTES) + 1
        raise ConfigError(
            f"configuration file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB "
            "(this line passes the limit); refusing to parse it",
            f"{source}:{line}",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"configuration file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            f"{source}:{line}",
        ) from None


# --------------------------------------------------------------------------- YAML


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[Location, int]]:
    loader: _LimitedSafeLoader | None = None
    try:
        try:
            loader = _LimitedSafeLoader(text, source)
            node = loader.get_single_node()
            if node is None:
                raise ConfigError("configuration file is empty", f"{source}:1")
            _expanded_size(node)
            lines: dict[Location, int] = {(): node.start_mark.line + 1}
            _map_lines(node, (), lines, loader)
            data = loader.construct_document(node)
        except _LimitError as exc:
            where = f"{source}:{exc.line}" if exc.line is not None else source
            raise ConfigError(exc.message, where) from None
        except yaml.MarkedYAMLError as exc:
            raise ConfigError(_yaml_message(exc), _yaml_where(exc, source)) from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            raise ConfigError(
                f"invalid YAML: unacceptable character #x{exc.character:04x}",
                f"{source}:{line}",
            ) from None
        except yaml.YAMLError as exc:
            raise ConfigError("invalid YAML: " + " ".join(str(exc).split()), source) from None
        except RecursionError:
            raise ConfigError("configuration is nested too deeply", source) from None
    finally:
        if loader is not None:
            loader.dispose()
    return _unshare(data), lines


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    detail = ", ".join(" ".join(str(p).split()) for p in parts) or "syntax error"
    return f"invalid YAML: {detail}"


def _yaml_where(exc: yaml.MarkedYAMLError, source: str) -> str:
    """Line of the fault; an unterminated quote or bracket points where it was opened."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and "end of stream" in str(exc.problem or ""):
        mark = exc.context_mark
    return f"{source}:{mark.line + 1}" if mark is not None else source


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _expanded_size(root: yaml.Node) -> int:
    """Node count with every alias expanded, computed on the shared tree (cheap).

    Memoised per node so a billion-laughs tree is measured in time linear in
    its *unexpanded* size; a node reached from inside itself is refused.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:
            raise _LimitError("recursive YAML alias (a node contains itself)", _line(node))
        active.add(key)
        total = 1
        for child in _children(node):
            total += size(child)
            if total > MAX_NODES:
                raise _LimitError(
                    f"document expands to more than {MAX_NODES:,} nodes "
                    "(alias expansion bomb?); refusing to load it",
                    _line(node),
                )
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _line(node: yaml.Node) -> int | None:
    return node.start_mark.line + 1 if node.start_mark is not None else None


def _scalar_key(node: yaml.Node, loader: _LimitedSafeLoader) -> Hashable | None:
    """The constructed value of a scalar key, or None for keys we cannot locate by."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
        return None
    value = loader.construct_object(node)
    try:
        hash(value)
    except TypeError:
        return None
    return value


def _map_lines(
    node: yaml.Node,
    location: Location,
    lines: dict[Location, int],
    loader: _LimitedSafeLoader,
) -> None:
    """Record key/item lines under `location`; reject duplicate keys."""
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            line = loader.alias_lines.get((id(node), index)) or _line(item)
            child = (*location, index)
            if line is not None:
                lines[child] = line
            _map_lines(item, child, lines, loader)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[Hashable, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = _scalar_key(key_node, loader)
            if key is None:
                continue
            line = _line(key_node) or 0
            if key in seen:
                raise _DuplicateKeyError(
                    f"duplicate key {key!r} (first defined on line {seen[key]}); "
                    "remove one of them",
                    f"{loader.source}:{line}",
                )
            seen[key] = line
            child = (*location, key)  # type: ignore[arg-type]
            lines[child] = line
            _map_lines(value_node, child, lines, loader)
        # `<<: *base` merges: keys written in this mapping win, earlier merges win over later.
        for merged in merges:
            sources = merged.value if isinstance(merged, yaml.SequenceNode) else [merged]
            for source_node in sources:
                if not isinstance(source_node, yaml.MappingNode):
                    continue
                sub: dict[Location, int] = {}
                _map_lines(source_node, location, sub, loader)
                for loc, line in sub.items():
                    if len(loc) > len(location):
                        lines.setdefault(loc, line)


def _unshare(value: Any) -> Any:
    """Copy containers so aliased parts of the document are independent objects."""
    if isinstance(value, dict):
        return {k: _unshare(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshare(v) for v in value]
    if isinstance(value, set):
        return set(value)
    return value


# --------------------------------------------------------------------------- JSON


class _JsonDuplicateError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonDuplicateError(key)
        result[key] = value
    return result


def _parse_json(text: str, source: str) -> tuple[Any, dict[Location, int]]:
    """JSON data from `json`; lines are best effort (JSON is nearly always valid flow YAML).

    The lines are mapped first: that also refuses, located, what the YAML composer refuses
    (duplicate keys, too many nodes, too deep), before `json` recurses into it.
    """
    lines = _json_lines(text, source)
    try:
        data = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise ConfigError("configuration file is empty", f"{source}:1") from None
        raise ConfigError(f"invalid JSON: {exc.msg}", f"{source}:{exc.lineno}") from None
    except _JsonDuplicateError as dup:
        raise ConfigError(f"duplicate key {dup.key!r}; remove one of them", source) from None
    except RecursionError:
        raise ConfigError("configuration is nested too deeply", source) from None
    return data, lines


def key_lines(text: str, source: str = "") -> dict[Location, int]:
    """Best-effort line of every key of a JSON (or YAML) text that is not a pipeline file,
    such as the features file; ``{}`` when it cannot be mapped."""
    try:
        return _json_lines(text, source)
    except ConfigError:
        return {}


def _json_lines(text: str, source: str) -> dict[Location, int]:
    loader: _LimitedSafeLoader | None = None
    try:
        loader = _LimitedSafeLoader(text, source)
        node = loader.get_single_node()
        if node is None:
            return {}
        _expanded_size(node)
        lines: dict[Location, int] = {(): node.start_mark.line + 1}
        _map_lines(node, (), lines, loader)
        return lines
    except _DuplicateKeyError:
        raise
    except _LimitError as exc:
        raise ConfigError(exc.message, f"{source}:{exc.line}" if exc.line else source) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return {}
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------------- shape


def _check_shape(data: Any, loaded: LoadedConfig) -> None:
    """The few structural facts every later stage relies on."""
    if data is None:
        raise ConfigError("configuration file is empty", f"{loaded.source}:1")
    if not isinstance(data, dict):
        raise ConfigError(
            f"top level must be a mapping of keys (name, steps, ...), not {_kind(data)}",
            loaded.where(()),
        )
    if "steps" not in data:
        raise ConfigError(
            "missing required key 'steps' (the list of pipeline steps)", loaded.where(())
        )
    if not isinstance(data["steps"], list):
        raise ConfigError(
            f"'steps' must be a list of step mappings, not {_kind(data['steps'])}",
            loaded.where(("steps",)),
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
