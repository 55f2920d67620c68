"""What a run prints and saves: the estimate before, the per-step summary and JSON after.

Why one module: `run-chain`, `generate-image` and `create-video` end the same way, so they
report results, save `--save-json` files and pick the exit code in one place.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..errors import UsageError
from ..pipeline.reports import write_report
from .session import Session

SAVE_JSON_KEYS = (
    "success",
    "steps_completed",
    "total_steps",
    "total_cost",
    "total_time",
    "outputs",
    "error",
)
MAX_SHOWN_TEXT = 60


def money(value: float) -> str:
    return f"${value:.4f}"


def seconds(value: float) -> str:
    return f"{value:g}s"


def check_save_json_name(name: str | None) -> None:
    """--save-json takes a plain file name: it always lands in <base-dir>/output/."""
    if name is None:
        return
    plain = PurePosixPath(name).name == name and PureWindowsPath(name).name == name
    if not name.strip() or not plain or name in (".", ".."):
        raise UsageError(
            f"--save-json expects a plain file name (written to <base-dir>/output/), got {name!r}"
        )


def show_estimate(session: Session, estimate: dict[str, Any], est_seconds: float) -> None:
    """The numbered step list with per-step estimates, then the totals."""
    session.say("Steps:")
    for number, entry in enumerate(estimate["step_costs"], start=1):
        session.say(f"  {number}. {entry['step']} ({entry['model']})  {money(entry['cost'])}")
    session.say(
        f"Estimated cost: {money(estimate['total_cost'])}, "
        f"estimated model time: {seconds(est_seconds)}"
    )


def finish_run(session: Session, result: Any, save_json: str | None) -> int:
    """Print the summary, save JSON, and return 0 only if the run and its report succeeded."""
    print_summary(session, result)
    if save_json:
        path = save_result_json(session, result, save_json)
        session.say(f"Saved result: {path}")
    executor = session.manager().executor
    if executor.last_report_path is not None:
        session.say(f"Report: {executor.last_report_path}")
    code = 0
    if not result.success:
        print(f"error: {result.error or 'run failed'}", file=sys.stderr)
        code = 1
    if executor.last_report_error:
        print(f"error: {executor.last_report_error}", file=sys.stderr)
        code = 1
    return code


def print_summary(session: Session, result: Any) -> None:
    """One line per step run (✓/✗, name, model, cost, output), then the totals (always shown)."""
    ok, bad = _marks()
    for record in result.step_results or []:
        mark = ok if record.get("success") else bad
        cost = float(record.get("cost") or 0.0)
        line = f"{mark} {record.get('step_name', '?')}  {record.get('model', '?')}  {money(cost)}"
        shown = _shown_output(record)
        session.say(f"{line}  {shown}" if shown else line)
    status = "succeeded" if result.success else "FAILED"
    print(
        f"Run {status}: {result.steps_completed}/{result.total_steps} steps, "
        f"cost {money(result.total_cost)}, time {result.total_time:.2f}s"
    )


def save_result_json(session: Session, result: Any, name: str) -> Path:
    """Atomic write of the ChainResult fields users script against (spec §3)."""
    data = {key: getattr(result, key) for key in SAVE_JSON_KEYS}
    return write_report(session.base_dir / "output" / name, data)


def _shown_output(record: dict[str, Any]) -> str:
    if not record.get("success"):
        return f"error: {record.get('error') or 'Unknown error'}"
    if record.get("output_path"):
        return str(record["output_path"])
    if record.get("output_url"):
        return str(record["output_url"])
    text = " ".join(str(record.get("output_text") or "").split())
    if len(text) > MAX_SHOWN_TEXT:
        text = text[: MAX_SHOWN_TEXT - 3] + "..."
    return f'"{text}"' if text else ""


def _marks() -> tuple[str, str]:
    """✓/✗ when stdout can encode them, else plain ASCII (e.g. a cp1252 console)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "OK", "FAIL"
    return "✓", "✗"
