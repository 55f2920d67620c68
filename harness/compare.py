"""Field-level diff of two golden records, worded for humans.

Why not a text diff: a gate failure must say *which YAML, which state, which step, which field*
(``11_x [on] step 2 (parallel_group) field cost: golden 0.089 != actual 0.08900000000000001``),
and a JSON text diff of a 600-line record does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_LINES = 20
MAX_CHECK_LINES = 8


class _Missing:
    """Marks a key or list item present on one side only."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()

Key = str | int


@dataclass(frozen=True)
class Difference:
    """One differing leaf. `where` names the step (``step 2 (parallel_group)``) or is empty;
    `field` is the path inside that step (or the whole path)."""

    keys: tuple[Key, ...]
    golden: Any
    actual: Any
    where: str = ""
    field_keys: tuple[Key, ...] | None = None

    @property
    def path(self) -> str:
        return format_path(self.keys)

    @property
    def field(self) -> str:
        keys = self.keys if self.field_keys is None else self.field_keys
        return format_path(keys) if keys else "(whole entry)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "where": self.where,
            "field": self.field,
            "golden": None if self.golden is MISSING else self.golden,
            "actual": None if self.actual is MISSING else self.actual,
            "golden_missing": self.golden is MISSING,
            "actual_missing": self.actual is MISSING,
        }


def format_path(keys: Sequence[Key]) -> str:
    """``step_results[2].output_path``; keys that are not identifiers are quoted."""
    out = ""
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += f".{key}" if out else key
        else:
            out += f"[{key!r}]"
    return out


def diff_records(golden: Any, actual: Any) -> list[Difference]:
    """Every leaf that differs, in document order (keys sorted, lists by index)."""
    found: list[Difference] = []
    _diff(golden, actual, (), found)
    out = []
    for d in found:
        where, rest = _where(d.keys, golden, actual)
        out.append(Difference(d.keys, d.golden, d.actual, where, rest))
    return out


def _same_leaf(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; a golden record is JSON, where they are different values.
    return type(a) is type(b) and a == b


def _diff(golden: Any, actual: Any, keys: tuple[Key, ...], out: list[Difference]) -> None:
    if isinstance(golden, Mapping) and isinstance(actual, Mapping):
        for key in sorted(set(golden) | set(actual), key=str):
            _diff(golden.get(key, MISSING), actual.get(key, MISSING), (*keys, key), out)
    elif isinstance(golden, list) and isinstance(actual, list):
        for index in range(max(len(golden), len(actual))):
            g = golden[index] if index < len(golden) else MISSING
            a = actual[index] if index < len(actual) else MISSING
            _diff(g, a, (*keys, index), out)
    elif not _same_leaf(golden, actual):
        out.append(Difference(keys, golden, actual))


# -- wording ------------------------------------------------------------------------------------

_STEP_LISTS = ("step_results", "step_execution_details")
_OUTPUT_KEY = re.compile(r"step_(\d+)_([a-z_]+)")


def _step_list(record: Any) -> list[Any]:
    """The record's list of step results, wherever the record nests it."""
    if isinstance(record, Mapping):
        for name in _STEP_LISTS:
            if isinstance(record.get(name), list):
                return record[name]
        for value in record.values():
            if isinstance(value, Mapping) and (found := _step_list(value)):
                return found
    return []


def _step_label(golden: Any, actual: Any, index: int) -> str:
    for record in (golden, actual):
        steps = _step_list(record)
        if index < len(steps) and isinstance(steps[index], Mapping):
            entry = steps[index]
            number = entry.get("step_number", index + 1)
            kind = entry.get("step_type") or entry.get("type")
            return f"step {number} ({kind})" if kind else f"step {number}"
    return f"step {index + 1}"


def _where(keys: tuple[Key, ...], golden: Any, actual: Any) -> tuple[str, tuple[Key, ...]]:
    """(location words, the remaining field keys) for a difference."""
    for i, key in enumerate(keys):
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        if key in _STEP_LISTS and isinstance(nxt, int):
            return _step_label(golden, actual, nxt), keys[i + 2 :]
        if key == "outputs" and isinstance(nxt, str) and (m := _OUTPUT_KEY.fullmatch(nxt)):
            return f"step {m.group(1)} ({m.group(2)})", keys[i + 2 :]
    return "", keys


def _value(value: Any) -> str:
    if value is MISSING:
        return "<missing>"
    text = repr(value) if isinstance(value, str) else _json_like(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _json_like(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def describe_difference(diff: Difference) -> str:
    """One difference in words, without the YAML/state prefix."""
    keys = diff.keys
    if len(keys) >= 2 and keys[0] == "files" and isinstance(keys[1], str):
        if len(keys) > 2:
            status = "content differs"
        elif diff.actual is MISSING:
            status = "missing"
        elif diff.golden is MISSING:
            status = "unexpected"
        else:
            status = "content differs"
        return f"file {keys[1]}: {status}"
    if diff.golden is MISSING:
        change = f"unexpected, actual {_value(diff.actual)}"
    elif diff.actual is MISSING:
        change = f"missing, golden {_value(diff.golden)}"
    else:
        change = f"golden {_value(diff.golden)} != actual {_value(diff.actual)}"
    prefix = f"{diff.where} " if diff.where else ""
    return f"{prefix}field {diff.field}: {change}"


def describe(stem: str, state: str, diff: Sequence[Difference], *, limit: int = MAX_LINES) -> str:
    """Lines like ``STEM [state] step 2 (parallel_group) field cost: golden 0.1 != actual 0.2``,
    at most `limit` plus ``… N more``; a file differing in several fields is one line."""
    lines = []
    seen_files: set[Key] = set()
    # The record's own findings (schedule, replays) first but at most a few: the differing
    # fields and files after them say what went wrong, and must not be pushed past the cap.
    findings = [d for d in diff if d.keys[:1] == ("checks",)]
    shown = min(limit, MAX_CHECK_LINES) if limit <= MAX_LINES else limit
    ordered = findings[:shown] + [d for d in diff if d.keys[:1] != ("checks",)]
    for d in ordered:
        if len(d.keys) >= 2 and d.keys[0] == "files":
            if d.keys[1] in seen_files:
                continue
            seen_files.add(d.keys[1])
        lines.append(f"{stem} [{state}] {describe_difference(d)}")
    hidden = len(findings) - min(len(findings), shown)
    if len(lines) > limit:
        hidden += len(lines) - limit
        lines = lines[:limit]
    if hidden:
        lines.append(f"{stem} [{state}] … {hidden} more")
    return "\n".join(lines)
