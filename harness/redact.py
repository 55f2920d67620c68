"""THE redaction list: what a golden record hides, and why. Nothing else is redacted.

A golden record must be identical for every run of a pipeline, in every flag state, on every
machine. Only values that are *necessarily* different between runs are replaced; anything else
that differs is a regression the gate must see. Floats are kept exact (cost sums in declaration
order are part of what is checked); tuples become lists (JSON has no tuples). `redact` never
mutates its input.

Volatile keys (`VOLATILE_KEYS`) — the value, whatever it is, becomes ``"<volatile>"``:

``timestamp``
    Wall-clock date of an execution or intermediate report (``reports.build_*_report``).
``total_time``
    Measured wall time: of the whole run (``ChainResult.total_time``) and of a group's scheduling
    (``groups.run_group``) — the one number that *should* differ between schedulers.
``processing_time``
    Measured wall time of one step or branch (``executor._result_dict``, ``run_group``) and its
    copy in the report's ``step_execution_details``.
``total_processing_time_seconds``, ``total_time_seconds``
    The run's wall time, rounded, in the report's summary and ``performance_metrics``.
``processing_time_seconds``
    A step's wall time, rounded, in ``performance_metrics.by_step``.
``average_time_per_step``
    Wall time divided by the number of steps run (``performance_metrics``).

Volatile patterns (`VOLATILE_PATTERNS`) — applied to every string value AND every dict key:

``exec_<12 hex>`` -> ``exec_<run-id>``
    The run id, ``exec_`` + ``secrets.token_hex(6)``: the report's ``execution_id`` and the
    execution report's file name.
``intermediate_<12 hex>`` -> ``intermediate_<run-id>``
    The same run token in intermediate reports: their ``execution_id`` and file names.

The working directory -> ``<workdir>``
    Every run happens in a fresh temporary folder, so absolute output paths (step results,
    outputs, reports, error messages) start with a different prefix each time. The prefix is
    given to `redact` by the caller, which knows the folder it created; it is replaced wherever it
    occurs in a string, before the patterns.

Model time (``metadata.model_time``), seeds, costs, quality scores, file names (content hashes)
and everything else are deterministic and kept verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

VOLATILE = "<volatile>"
WORKDIR = "<workdir>"

VOLATILE_KEYS: frozenset[str] = frozenset(
    {
        "timestamp",
        "total_time",
        "processing_time",
        "total_processing_time_seconds",
        "processing_time_seconds",
        "total_time_seconds",
        "average_time_per_step",
    }
)

# A run token is exactly 12 lower-case hex digits; the look-ahead stops a longer hex string
# (e.g. a 64-digit content seed) from being half-replaced.
VOLATILE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"exec_[0-9a-f]{12}(?![0-9a-f])"), "exec_<run-id>"),
    (re.compile(r"intermediate_[0-9a-f]{12}(?![0-9a-f])"), "intermediate_<run-id>"),
)


def redact_text(text: str, workdir: Path | str | None = None) -> str:
    """One string with the workdir prefix and the run tokens replaced."""
    if workdir is not None:
        prefix = str(workdir)
        if prefix:
            text = text.replace(prefix, WORKDIR)
    for pattern, replacement in VOLATILE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(obj: Any, workdir: Path | str | None = None) -> Any:
    """A redacted copy of `obj` (dicts, lists, tuples, strings, scalars); `obj` is untouched."""
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            new_key = redact_text(key, workdir) if isinstance(key, str) else key
            out[new_key] = VOLATILE if key in VOLATILE_KEYS else redact(value, workdir)
        return out
    if isinstance(obj, list | tuple):
        return [redact(item, workdir) for item in obj]
    if isinstance(obj, str):
        return redact_text(obj, workdir)
    return obj
