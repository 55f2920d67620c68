"""API-signature part of the release gate.

The established public surface (interface spec section 2.1) is read with griffe's *static*
analysis: the package is never imported, so the check works in every feature-flag state and is
immune to import-time side effects. There are two ways to compare:

* `check_api(baseline, current)` compares two griffe trees with `griffe.find_breaking_changes`;
* `compare_snapshots(golden, current)` compares two `snapshot_api()` dicts. The gate uses this
  one, because its golden lives in the repository as JSON.

Both use the same rules and word their messages the same way: one line per problem, naming the
object path and the parameter, e.g.
``ai_content_pipeline.pipeline.executor.ChainExecutor.execute(input_data): parameter was removed``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import griffe

PACKAGE_NAME = "ai_content_pipeline"
SNAPSHOT_SCHEMA = 1
_REPO_ROOT = Path(__file__).resolve().parent.parent

# Spec section 2.1 (+ 2.8a validators, + the feature flags module), as module path -> names.
# `pipeline.parallel_extension` is left out on purpose: it raises ImportError when the optional
# `parallel` package is absent, so it is not part of every install's surface.
PUBLIC_API: dict[str, list[str]] = {
    "ai_content_pipeline": [
        "AIPipelineManager",
        "UnifiedTextToImageGenerator",
        "ContentCreationChain",
        "SUPPORTED_MODELS",
        "PIPELINE_STEPS",
        "__version__",
    ],
    "ai_content_pipeline.pipeline": [
        "AIPipelineManager",
        "ContentCreationChain",
        "PipelineStep",
        "ChainExecutor",
    ],
    "ai_content_pipeline.pipeline.chain": [
        "StepType",
        "PipelineStep",
        "ChainResult",
        "ContentCreationChain",
    ],
    "ai_content_pipeline.pipeline.executor": ["ChainExecutor"],
    "ai_content_pipeline.pipeline.manager": ["AIPipelineManager"],
    "ai_content_pipeline.models": [
        "UnifiedTextToImageGenerator",
        "BaseContentModel",
        "ModelResult",
        "ReplicateMultiTalkGenerator",
    ],
    "ai_content_pipeline.models.base": ["BaseContentModel", "ModelResult"],
    "ai_content_pipeline.utils": ["FileManager", "validate_prompt", "validate_file_path"],
    "ai_content_pipeline.utils.file_manager": ["FileManager"],
    "ai_content_pipeline.utils.validators": [
        "validate_prompt",
        "validate_file_path",
        "validate_url",
        "validate_aspect_ratio",
        "validate_model_name",
        "validate_output_directory",
        "validate_file_size",
        "validate_file_format",
        "validate_numeric_range",
        "validate_chain_config",
    ],
    "ai_content_pipeline.config.constants": [
        "SUPPORTED_MODELS",
        "PIPELINE_STEPS",
        "COST_ESTIMATES",
        "PROCESSING_TIME_ESTIMATES",
        "MODEL_RECOMMENDATIONS",
        "SUPPORTED_FORMATS",
        "DEFAULT_CHAIN_CONFIG",
    ],
    "ai_content_pipeline.config.features": ["FeatureFlags"],
}

# Underscore members the spec names as interface (sections 2.4, 2.5), keyed by class name.
# Everything else starting with "_" (except `__init__`) is free to change.
SPEC_PRIVATE_MEMBERS: dict[str, tuple[str, ...]] = {
    "ChainExecutor": (
        "_execute_step",
        "_create_execution_report",
        "_save_execution_report",
        "_create_intermediate_report",
        "_save_intermediate_report",
        "_get_step_output_type",
        "_parallel_extension",
    ),
    "ContentCreationChain": (
        "_determine_initial_input_type",
        "_get_step_input_type",
        "_get_step_output_type",
    ),
}

_POS_ONLY = griffe.ParameterKind.positional_only.value
_POS_OR_KW = griffe.ParameterKind.positional_or_keyword.value
_VAR_POS = griffe.ParameterKind.var_positional.value
_KW_ONLY = griffe.ParameterKind.keyword_only.value
_VAR_KW = griffe.ParameterKind.var_keyword.value
_POSITIONAL = frozenset({_POS_ONLY, _POS_OR_KW})
_VARIADIC = frozenset({_VAR_POS, _VAR_KW})

# Labels that change how a function is called (griffe labels; "async" = coroutine function).
_CALL_LABELS = frozenset({"classmethod", "staticmethod", "async"})
_ENUM_BASES = frozenset(
    {"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag", "enum.ReprEnum"}
)
_BK = griffe.BreakageKind
_PARAMETER_KINDS = frozenset(
    {
        _BK.PARAMETER_MOVED,
        _BK.PARAMETER_REMOVED,
        _BK.PARAMETER_CHANGED_KIND,
        _BK.PARAMETER_CHANGED_DEFAULT,
        _BK.PARAMETER_CHANGED_REQUIRED,
        _BK.PARAMETER_ADDED_REQUIRED,
    }
)
# Snapshot rules griffe has no equivalent for; `check_api` adds these from the snapshot diff.
_BEYOND_GRIFFE = frozenset({"missing", "enum-order", "labels", "bases"})


@dataclass
class ApiReport:
    """Outcome of an API comparison: `breaking` blocks a release, `additions` are informational."""

    breaking: list[str] = field(default_factory=list)
    additions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaking


# -- loading ----------------------------------------------------------------------------------


def load_package(
    name: str = PACKAGE_NAME, search_paths: Sequence[str | Path] | None = None
) -> griffe.Module:
    """Load a package's API tree by parsing its sources (never importing it).

    Aliases (the `__init__` re-exports) are resolved inside the package only; stdlib and
    third-party names stay unresolved, which is all the API check needs. Without `search_paths`
    the checkout this harness lives in is searched first, then `sys.path`.
    """
    paths = list(search_paths) if search_paths is not None else [_REPO_ROOT, *sys.path]
    loaded = griffe.load(
        name,
        search_paths=paths,
        try_relative_path=False,
        resolve_aliases=True,
        resolve_external=False,
        allow_inspection=False,
        store_source=False,
    )
    if not isinstance(loaded, griffe.Module):
        raise TypeError(f"{name} is not a package or module (griffe loaded {loaded!r})")
    return loaded


def _resolve(obj: griffe.Object | griffe.Alias) -> griffe.Object | None:
    """The object an alias finally points at; None for a dangling re-export (= missing)."""
    if not obj.is_alias:
        return obj  # type: ignore[return-value]
    try:
        return obj.final_target  # type: ignore[union-attr]
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _module(root: griffe.Module, path: str) -> griffe.Module | None:
    if path == root.path:
        return root
    if not path.startswith(root.path + "."):
        return None
    obj: griffe.Object | None = root
    for part in path[len(root.path) + 1 :].split("."):
        member = obj.members.get(part) if obj is not None else None
        obj = _resolve(member) if member is not None else None
        if obj is None or not obj.is_module:
            return None
    return obj  # type: ignore[return-value]


def _surface_entries(
    root: griffe.Module, surface: Mapping[str, Iterable[str]]
) -> Iterator[tuple[str, griffe.Object | griffe.Alias, griffe.Object]]:
    """(dotted path, module member, resolved object) for every present surface name."""
    for module_path in sorted(surface):
        module = _module(root, module_path)
        if module is None:
            continue
        for name in sorted(set(surface[module_path])):
            entry = module.members.get(name)
            target = _resolve(entry) if entry is not None else None
            if entry is not None and target is not None:
                yield f"{module_path}.{name}", entry, target


# -- snapshots --------------------------------------------------------------------------------


class _Param(NamedTuple):
    name: str
    kind: str
    annotation: str | None
    default: str | None

    @property
    def required(self) -> bool:
        return self.default is None and self.kind not in _VARIADIC


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _param(parameter: griffe.Parameter) -> _Param:
    kind = (parameter.kind or griffe.ParameterKind.positional_or_keyword).value
    # griffe gives `*args`/`**kwargs` the defaults "()"/"{}"; a signature has none.
    default = None if kind in _VARIADIC else _text(parameter.default)
    return _Param(parameter.name, kind, _text(parameter.annotation), default)


def _params_of(function: griffe.Function) -> list[_Param]:
    return [_param(p) for p in function.parameters]


def _base_text(base: str | griffe.Expr) -> str:
    return base.canonical_path if isinstance(base, griffe.Expr) else str(base)


def _mro(cls: griffe.Class) -> list[griffe.Class]:
    try:
        return list(cls.mro())
    except ValueError:  # unresolvable or inconsistent bases
        return []


def _ancestors(cls: object, bases: Iterable[str | griffe.Expr]) -> list[str]:
    """Every class `cls` still derives from: a base that moved up the hierarchy (``X(Base)``
    became ``X(Mixin)`` with ``Mixin(Base)``) keeps ``isinstance`` and every inherited member
    working, so it is not removed. griffe compares direct bases only."""
    found = [_base_text(b) for b in bases]
    if isinstance(cls, griffe.Class):
        for ancestor in _mro(cls):
            found.append(ancestor.path)
            found.extend(_base_text(b) for b in ancestor.bases)
    return found


def _is_enum(cls: griffe.Class) -> bool:
    return any(_base_text(b) in _ENUM_BASES for k in (cls, *_mro(cls)) for b in k.bases)


def _is_tracked(cls: griffe.Class, name: str) -> bool:
    return (
        name == "__init__"
        or not name.startswith("_")
        or name in SPEC_PRIVATE_MEMBERS.get(cls.name, ())
    )


def _class_members(cls: griffe.Class) -> dict[str, griffe.Object]:
    """Tracked members including inherited ones (moving a method to a base is not a break)."""
    members = cls.all_members
    out: dict[str, griffe.Object] = {}
    for name in sorted(members):
        if _is_tracked(cls, name) and (resolved := _resolve(members[name])) is not None:
            out[name] = resolved
    return out


def _describe_function(function: griffe.Function) -> dict[str, Any]:
    return {
        "parameters": [p._asdict() for p in _params_of(function)],
        "returns": _text(function.returns),
        "labels": sorted(function.labels & _CALL_LABELS),
    }


def _dataclass_fields(cls: griffe.Class) -> list[dict[str, Any]]:
    """Fields in constructor order, base dataclasses first, as `dataclasses.fields()` would."""
    fields: dict[str, dict[str, Any]] = {}
    for klass in (*reversed(_mro(cls)), cls):
        if "dataclass" not in klass.labels:
            continue
        for name, member in klass.members.items():
            if member.is_alias or not member.is_attribute or member.annotation is None:
                continue
            labels = member.labels
            if "property" in labels or (
                "class-attribute" in labels and "instance-attribute" not in labels
            ):
                continue  # properties and ClassVars are not fields
            if str(member.annotation).endswith("KW_ONLY"):
                continue
            fields[name] = {
                "name": name,
                "annotation": _text(member.annotation),
                "default": _text(member.value),
            }
    return list(fields.values())


def _describe_class(cls: griffe.Class) -> dict[str, Any]:
    members = _class_members(cls)
    entry: dict[str, Any] = {
        "kind": "class",
        "path": cls.path,
        "bases": [_base_text(b) for b in cls.bases],
        "ancestors": _ancestors(cls, ()),
        "methods": {n: _describe_function(m) for n, m in members.items() if m.is_function},  # type: ignore[arg-type]
        "attributes": {
            n: {"annotation": _text(m.annotation)}  # type: ignore[union-attr]
            for n, m in members.items()
            if m.is_attribute
        },
    }
    if "dataclass" in cls.labels:
        entry["fields"] = _dataclass_fields(cls)
    if _is_enum(cls):
        entry["enum_members"] = [
            name
            for name, member in cls.members.items()
            if not member.is_alias
            and member.is_attribute
            and not name.startswith("_")
            and "property" not in member.labels
        ]
    return entry


def _describe(obj: griffe.Object) -> dict[str, Any]:
    if obj.is_class:
        return _describe_class(obj)  # type: ignore[arg-type]
    entry: dict[str, Any] = {"kind": obj.kind.value, "path": obj.path}
    if obj.is_function:
        entry.update(_describe_function(obj))  # type: ignore[arg-type]
    elif obj.is_attribute:
        entry["annotation"] = _text(obj.annotation)  # type: ignore[attr-defined]
    return entry


def snapshot_api(
    package: griffe.Module | None = None,
    *,
    surface: Mapping[str, Sequence[str]] | None = None,
    package_name: str = PACKAGE_NAME,
    search_paths: Sequence[str | Path] | None = None,
) -> dict[str, Any]:
    """A JSON-ready, deterministic description of every surface name (the gate's golden).

    `objects` maps ``module:name`` to its kind and signature details; `path` is where the object
    is really defined (informational: moving a definition is not a break). Attribute *values*
    are deliberately absent — value checks live in the golden-record tests.
    """
    root = package if package is not None else load_package(package_name, search_paths)
    surface = PUBLIC_API if surface is None else surface
    objects: dict[str, dict[str, Any]] = {}
    for module_path in surface:
        module = _module(root, module_path)
        for name in set(surface[module_path]):
            entry = module.members.get(name) if module is not None else None
            target = _resolve(entry) if entry is not None else None
            objects[f"{module_path}:{name}"] = (
                _describe(target) if target is not None else {"kind": "missing"}
            )
    return {
        "schema": SNAPSHOT_SCHEMA,
        "package": root.path,
        "objects": dict(sorted(objects.items())),
    }


# -- shared message wording -------------------------------------------------------------------


class _ParamBreak(NamedTuple):
    kind: griffe.BreakageKind
    old: _Param | None
    new: _Param | None


class _Finding(NamedTuple):
    rule: str
    breaking: bool
    message: str


def _index(params: Sequence[_Param], name: str) -> int | None:
    return next((i for i, p in enumerate(params) if p.name == name), None)


def _signature_messages(
    path: str, old: Sequence[_Param], new: Sequence[_Param], found: Iterable[_ParamBreak]
) -> tuple[list[str], set[str]]:
    """Word parameter-level breaks, merging griffe's per-parameter records into one line for a
    rename (removed + added at the same position) or a reorder (several moves).

    Returns the messages and the new parameter names explained as renames.
    """
    found = list(found)
    old_names = {p.name for p in old}
    messages: list[str] = []
    renamed: set[str] = set()
    for brk in found:
        if brk.kind is not _BK.PARAMETER_REMOVED or brk.old is None:
            continue
        i = _index(old, brk.old.name)
        candidate = new[i] if i is not None and i < len(new) else None
        if candidate and candidate.name not in old_names and candidate.kind == brk.old.kind:
            messages.append(f"{path}({brk.old.name}): parameter was renamed to {candidate.name}")
            renamed.add(candidate.name)
        else:
            messages.append(f"{path}({brk.old.name}): parameter was removed")

    moved = [b.old for b in found if b.kind is _BK.PARAMETER_MOVED and b.old is not None]
    if moved:
        new_positional = {p.name: i for i, p in enumerate(new) if p.kind in _POSITIONAL}
        before = [p.name for p in old if p.kind in _POSITIONAL and p.name in new_positional]
        after = sorted(before, key=new_positional.__getitem__)
        if before != after:
            messages.append(
                f"{path}: positional parameters were reordered: "
                f"({', '.join(before)}) -> ({', '.join(after)})"
            )
        else:  # a shift caused by an insertion or removal in front
            for p in moved:
                messages.append(
                    f"{path}({p.name}): positional parameter was moved: "
                    f"position {_index(old, p.name)} -> {_index(new, p.name)}"
                )

    for brk in found:
        if brk.kind is _BK.PARAMETER_ADDED_REQUIRED and brk.new is not None:
            if brk.new.name not in renamed and brk.new.kind not in _VARIADIC:
                messages.append(f"{path}({brk.new.name}): parameter was added as required")
        elif brk.kind is _BK.PARAMETER_CHANGED_REQUIRED and brk.old is not None:
            messages.append(f"{path}({brk.old.name}): parameter is now required")
        elif brk.kind is _BK.PARAMETER_CHANGED_KIND and brk.old and brk.new:
            messages.append(
                f"{path}({brk.old.name}): parameter kind was changed: "
                f"{brk.old.kind} -> {brk.new.kind}"
            )
        elif brk.kind is _BK.PARAMETER_CHANGED_DEFAULT and brk.old and brk.new:
            messages.append(
                f"{path}({brk.old.name}): parameter default was changed: "
                f"{brk.old.default} -> {brk.new.default}"
            )
    return messages, renamed


def _removed_message(path: str) -> str:
    return f"{path}: public object was removed"


def _kind_message(path: str, old: str, new: str) -> str:
    return f"{path}: kind changed: {old} -> {new}"


def _bases_message(path: str, old: Sequence[str], new: Sequence[str]) -> str | None:
    removed = [b for b in old if b not in new]
    return f"{path}: base class was removed: {', '.join(removed)}" if removed else None


def _returns_message(path: str, old: str | None) -> str:
    return f"{path}: return annotation was removed (was {old})"


# -- snapshot comparison ----------------------------------------------------------------------


def _kind_incompatible(old: str, new: str, has_args: bool, has_kwargs: bool) -> bool:
    """griffe's rule (diff.py) for a parameter kind change that breaks callers."""
    return (
        (old == _POS_ONLY and new == _KW_ONLY)
        or (old == _KW_ONLY and new == _POS_ONLY)
        or (old == _POS_OR_KW and new in (_POS_ONLY, _KW_ONLY))
        or (new == _VAR_KW and old != _KW_ONLY and not has_args)
        or (new == _VAR_POS and old != _POS_ONLY and not has_kwargs)
    )


def _param_breaks(old: Sequence[_Param], new: Sequence[_Param]) -> list[_ParamBreak]:
    """griffe's `_function_incompatibilities`, applied to snapshot parameter lists."""
    new_at: dict[str, tuple[int, _Param]] = {}
    for i, p in enumerate(new):
        new_at.setdefault(p.name, (i, p))
    old_names = {p.name for p in old}
    kinds = {p.kind for p in new}
    has_args, has_kwargs = _VAR_POS in kinds, _VAR_KW in kinds
    found: list[_ParamBreak] = []
    for i, op in enumerate(old):
        if op.name not in new_at:
            swallowed = (
                (op.kind == _KW_ONLY and has_kwargs)
                or (op.kind == _POS_ONLY and has_args)
                or (op.kind == _POS_OR_KW and has_args and has_kwargs)
            )
            if not swallowed:
                found.append(_ParamBreak(_BK.PARAMETER_REMOVED, op, None))
            continue
        j, np = new_at[op.name]
        if np.required and not op.required:
            found.append(_ParamBreak(_BK.PARAMETER_CHANGED_REQUIRED, op, np))
        if op.kind in _POSITIONAL and np.kind in _POSITIONAL and i != j:
            found.append(_ParamBreak(_BK.PARAMETER_MOVED, op, np))
        if op.kind != np.kind and _kind_incompatible(op.kind, np.kind, has_args, has_kwargs):
            found.append(_ParamBreak(_BK.PARAMETER_CHANGED_KIND, op, np))
        if (
            not op.required
            and not np.required
            and op.kind not in _VARIADIC
            and np.kind not in _VARIADIC
            and op.default != np.default
        ):
            found.append(_ParamBreak(_BK.PARAMETER_CHANGED_DEFAULT, op, np))
    for np in new:
        if np.name not in old_names and np.required:
            found.append(_ParamBreak(_BK.PARAMETER_ADDED_REQUIRED, None, np))
    return found


def _became_compatible_staticmethod(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """A ``self`` method turned ``staticmethod`` whose instance calls all still work.

    ``obj.m(a, b=1)`` binds the same arguments to ``m(self, a, b=1)`` and to a staticmethod
    ``m(a, b=1)``, so only class-level calls (``Cls.m(obj, a)``) change. griffe sees a removed
    ``self`` and every parameter moved; this rule lets the change pass only when the rest of
    the signature is compatible.
    """
    old_labels, new_labels = set(old.get("labels", [])), set(new.get("labels", []))
    if "staticmethod" in old_labels or new_labels != old_labels | {"staticmethod"}:
        return False
    old_params = [_Param(**p) for p in old.get("parameters", [])]
    if not old_params or old_params[0].name != "self" or old_params[0].kind not in _POSITIONAL:
        return False
    return not _param_breaks(old_params[1:], [_Param(**p) for p in new.get("parameters", [])])


def _diff_function(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[_Finding]:
    if _became_compatible_staticmethod(old, new):
        return []
    old_params = [_Param(**p) for p in old.get("parameters", [])]
    new_params = [_Param(**p) for p in new.get("parameters", [])]
    messages, renamed = _signature_messages(
        path, old_params, new_params, _param_breaks(old_params, new_params)
    )
    out = [_Finding("signature", True, m) for m in messages]
    if old.get("returns") is not None and new.get("returns") is None:
        out.append(_Finding("signature", True, _returns_message(path, old["returns"])))
    if old.get("labels", []) != new.get("labels", []):
        out.append(
            _Finding(
                "labels",
                True,
                f"{path}: decorators changed: [{', '.join(old.get('labels', []))}] -> "
                f"[{', '.join(new.get('labels', []))}]",
            )
        )
    old_names = {p.name for p in old_params}
    for p in new_params:
        if p.name not in old_names and p.name not in renamed and not p.required:
            out.append(_Finding("addition", False, f"{path}({p.name}): new optional parameter"))
    return out


def _diff_class(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[_Finding]:
    out: list[_Finding] = []
    still = [*new.get("bases", []), *new.get("ancestors", [])]
    if message := _bases_message(path, old.get("bases", []), still):
        out.append(_Finding("bases", True, message))
    for base in new.get("bases", []):
        if base not in old.get("bases", []):
            out.append(_Finding("addition", False, f"{path}: new base class: {base}"))

    def members(entry: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
        found = {n: ("attribute", d) for n, d in entry.get("attributes", {}).items()}
        found.update({n: ("function", d) for n, d in entry.get("methods", {}).items()})
        return found

    old_members, new_members = members(old), members(new)
    for name in sorted(old_members.keys() | new_members.keys()):
        member_path = f"{path}.{name}"
        if name not in new_members:
            out.append(_Finding("removed", True, _removed_message(member_path)))
            continue
        new_kind, new_desc = new_members[name]
        if name not in old_members:
            label = "method" if new_kind == "function" else "attribute"
            out.append(_Finding("addition", False, f"{member_path}: new {label}"))
            continue
        old_kind, old_desc = old_members[name]
        if old_kind != new_kind:
            out.append(_Finding("kind", True, _kind_message(member_path, old_kind, new_kind)))
        elif old_kind == "function":
            out.extend(_diff_function(member_path, old_desc, new_desc))

    new_order = new.get("enum_members")
    if old.get("enum_members") and new_order is not None:
        before = [n for n in old["enum_members"] if n in new_order]
        after = [n for n in new_order if n in before]
        if before != after:
            out.append(
                _Finding(
                    "enum-order",
                    True,
                    f"{path}: enum members were reordered: "
                    f"({', '.join(before)}) -> ({', '.join(after)})",
                )
            )
    return out


def _objects(snapshot: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    schema = snapshot.get("schema", SNAPSHOT_SCHEMA)
    if schema != SNAPSHOT_SCHEMA:
        raise ValueError(f"unsupported API snapshot schema {schema!r}")
    return snapshot.get("objects", {})


def _diff_snapshots(golden: Mapping[str, Any], current: Mapping[str, Any]) -> list[_Finding]:
    old_objects, new_objects = _objects(golden), _objects(current)
    missing: Mapping[str, Any] = {"kind": "missing"}
    out: list[_Finding] = []
    for key in sorted(old_objects.keys() | new_objects.keys()):
        key_path = key.replace(":", ".", 1)
        old = old_objects.get(key, missing)
        new = new_objects.get(key, missing)
        if old["kind"] == "missing":
            if new["kind"] != "missing":
                out.append(_Finding("addition", False, f"{key_path}: new public object"))
            continue
        if new["kind"] == "missing":
            out.append(_Finding("missing", True, _removed_message(key_path)))
            continue
        if old["kind"] != new["kind"]:
            out.append(_Finding("kind", True, _kind_message(key_path, old["kind"], new["kind"])))
            continue
        # Details are worded at the defining path, so a class re-exported from three modules
        # reports each change once.
        path = old.get("path", key_path)
        if old["kind"] == "function":
            out.extend(_diff_function(path, old, new))
        elif old["kind"] == "class":
            out.extend(_diff_class(path, old, new))
    return out


def _report(breaking: Iterable[str], additions: Iterable[str]) -> ApiReport:
    return ApiReport(breaking=sorted(set(breaking)), additions=sorted(set(additions)))


def compare_snapshots(golden: Mapping[str, Any], current: Mapping[str, Any]) -> ApiReport:
    """Classify the differences between two `snapshot_api()` dicts (golden = the old one)."""
    findings = _diff_snapshots(golden, current)
    return _report(
        (f.message for f in findings if f.breaking),
        (f.message for f in findings if not f.breaking),
    )


# -- griffe tree comparison -------------------------------------------------------------------


class _DisplayPaths:
    """Which griffe objects belong to the surface, and the path to name them by.

    griffe walks whole modules; this filters its findings down to the surface. References are
    kept so that `id()` keys stay valid for the lifetime of the map.
    """

    def __init__(self) -> None:
        self._paths: dict[int, tuple[object, str]] = {}

    def _put(self, obj: object, path: str) -> None:
        self._paths.setdefault(id(obj), (obj, path))

    def add(self, root: griffe.Module, surface: Mapping[str, Iterable[str]]) -> None:
        entries = list(_surface_entries(root, surface))
        for key_path, entry, target in entries:
            self._put(entry, key_path)
            self._put(target, target.path)
            if target.is_class:
                for member in target.members.values():
                    if not member.is_alias:
                        self._put(member, member.path)
        # Inherited members (possibly from a non-surface base) are named through the surface class.
        for _, _, target in entries:
            if target.is_class:
                for name, member in target.all_members.items():
                    if (resolved := _resolve(member)) is not None:
                        self._put(resolved, f"{target.path}.{name}")

    def get(self, obj: object) -> str | None:
        hit = self._paths.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        parent = getattr(obj, "parent", None)
        hit = self._paths.get(id(parent)) if parent is not None else None
        if hit is not None and hit[0] is parent and parent.is_class:  # type: ignore[union-attr]
            return f"{hit[1]}.{obj.name}"  # type: ignore[attr-defined]
        return None


@contextmanager
def _surface_public(root: griffe.Module, surface: Mapping[str, Iterable[str]]) -> Iterator[None]:
    """Temporarily mark the surface (and the spec-named private members) public for griffe.

    Without this griffe skips re-exports in modules lacking `__all__`, names left out of
    `__all__` (`__version__`) and `ChainExecutor._execute_step`. Restored on exit.
    """
    changed: list[tuple[griffe.Object | griffe.Alias, bool | None]] = []

    def mark(obj: griffe.Object | griffe.Alias) -> None:
        if obj.is_alias and obj.inherited:  # type: ignore[union-attr]
            return  # griffe forbids setting visibility on inherited members
        changed.append((obj, obj.public))
        obj.public = True

    try:
        for _, entry, target in _surface_entries(root, surface):
            mark(entry)
            if target is not entry:
                mark(target)
            if target.is_class:
                for name in SPEC_PRIVATE_MEMBERS.get(target.name, ()):
                    if (member := target.members.get(name)) is not None:
                        mark(member)
        yield
    finally:
        for obj, previous in reversed(changed):
            obj.public = previous


def _breakage_message(breakage: griffe.Breakage, path: str) -> str | None:
    """Word a non-parameter griffe Breakage from its attributes (`.explain()` embeds ANSI
    colours and file locations, which do not belong in a gate report)."""
    kind = breakage.kind
    if kind is _BK.OBJECT_REMOVED:
        return _removed_message(path)
    if kind is _BK.OBJECT_CHANGED_KIND:
        return _kind_message(path, breakage.old_value.value, breakage.new_value.value)
    if kind is _BK.CLASS_REMOVED_BASE:
        old = [_base_text(b) for b in breakage.old_value]
        return _bases_message(path, old, _ancestors(breakage.obj, breakage.new_value))
    if kind is _BK.RETURN_CHANGED_TYPE:
        return _returns_message(path, _text(breakage.old_value))
    text = kind.value[0].lower() + kind.value[1:]
    old, new = _text(breakage.old_value), _text(breakage.new_value)
    return f"{path}: {text}: {old} -> {new}" if old or new else f"{path}: {text}"


def _griffe_breaking(
    baseline: griffe.Module, current: griffe.Module, surface: Mapping[str, Iterable[str]]
) -> set[str]:
    paths = _DisplayPaths()
    paths.add(baseline, surface)
    paths.add(current, surface)
    with _surface_public(baseline, surface), _surface_public(current, surface):
        breakages: list[griffe.Breakage] = []
        for module_path in sorted(surface):
            old_module, new_module = _module(baseline, module_path), _module(current, module_path)
            if old_module is not None and new_module is not None:
                breakages.extend(griffe.find_breaking_changes(old_module, new_module))

    messages: set[str] = set()
    by_function: dict[int, tuple[str, griffe.Function, list[griffe.Breakage]]] = {}
    for breakage in breakages:
        path = paths.get(breakage.obj)
        if path is None:
            continue  # outside the surface
        if breakage.kind in _PARAMETER_KINDS:
            group = by_function.setdefault(id(breakage.obj), (path, breakage.obj, []))  # type: ignore[arg-type]
            group[2].append(breakage)
        elif message := _breakage_message(breakage, path):
            messages.add(message)

    for path, function, group in by_function.values():
        old_function = next(
            (
                b.old_value.function
                for b in group
                if isinstance(b.old_value, griffe.Parameter) and b.old_value.function is not None
            ),
            None,
        )
        found = [
            _ParamBreak(
                b.kind,
                _param(b.old_value) if isinstance(b.old_value, griffe.Parameter) else None,
                _param(b.new_value) if isinstance(b.new_value, griffe.Parameter) else None,
            )
            for b in group
        ]
        old_params = _params_of(old_function) if old_function is not None else []
        found_messages, _ = _signature_messages(path, old_params, _params_of(function), found)
        messages.update(found_messages)
    return messages


def _compatible_staticmethods(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """Message prefixes (``Cls.m(`` and ``Cls.m:``) of every method that became a compatible
    staticmethod (see `_became_compatible_staticmethod`)."""
    prefixes: list[str] = []
    new_objects = _objects(new)
    for key, entry in _objects(old).items():
        other = new_objects.get(key)
        path = entry.get("path", key)
        if entry.get("kind") != "class" or other is None or other.get("kind") != "class":
            continue
        for name, method in entry.get("methods", {}).items():
            current = other.get("methods", {}).get(name)
            if current is not None and _became_compatible_staticmethod(method, current):
                prefixes.extend((f"{path}.{name}(", f"{path}.{name}:"))
    return tuple(prefixes)


def check_api(
    baseline_package: griffe.Module | None,
    current: griffe.Module,
    *,
    surface: Mapping[str, Sequence[str]] | None = None,
) -> ApiReport:
    """Compare two griffe trees on the surface: breaking changes come from
    `griffe.find_breaking_changes`, plus the few snapshot rules griffe lacks (a surface name
    gone or dangling, enum member order, classmethod/staticmethod/async, a replaced base).
    Additions come from the snapshot walk. No baseline (first release) = nothing can break.
    """
    surface = PUBLIC_API if surface is None else surface
    current_snapshot = snapshot_api(current, surface=surface)
    if baseline_package is None:
        empty = {"schema": SNAPSHOT_SCHEMA, "objects": {}}
        return compare_snapshots(empty, current_snapshot)
    baseline_snapshot = snapshot_api(baseline_package, surface=surface)
    findings = _diff_snapshots(baseline_snapshot, current_snapshot)
    kept = _compatible_staticmethods(baseline_snapshot, current_snapshot)
    breaking = {
        message
        for message in _griffe_breaking(baseline_package, current, surface)
        if not message.startswith(kept)
    }
    breaking.update(f.message for f in findings if f.breaking and f.rule in _BEYOND_GRIFFE)
    return _report(breaking, (f.message for f in findings if not f.breaking))
