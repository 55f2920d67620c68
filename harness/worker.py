"""Record every pipeline of a folder in ONE flag state, in a fresh interpreter.

    python -m harness.worker --state {absent,off,on} --input DIR [-k PATTERN]
        [--time-scale F] [--jitter-seed N|none] --out FILE

Why a separate process: ``absent`` is only honest when `parallel` was never imported, so the state
is entered (environment set, import of `parallel` blocked) BEFORE `ai_content_pipeline` is
imported. Writes ``{"state", "records": {stem: record}, "errors": {stem: "one line"}}`` to FILE
atomically. A pipeline that raises becomes an error entry, never a traceback. Exit codes: 0
done (even with errors), 1 FILE could not be written, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from harness.argtypes import non_negative_float
from harness.states import STATES, activate, block_parallel_import  # nothing from the core


def _jitter_seed(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'none', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness.worker",
        description="Record every pipeline in a folder in one flag state.",
    )
    parser.add_argument("--state", required=True, choices=STATES)
    parser.add_argument("--input", required=True, type=Path, help="folder of pipeline YAMLs")
    parser.add_argument("-k", dest="pattern", default=None, help="select pipelines by stem")
    parser.add_argument("--time-scale", type=non_negative_float, default=1.0)
    parser.add_argument("--jitter-seed", type=_jitter_seed, default=None)
    parser.add_argument("--order", default=None, help="replay only this completion order")
    parser.add_argument("--stress", action="store_true", help="race stress mode")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    return parser


def write_json_atomic(path: Path, data: object) -> None:
    """Readers see no file or the whole file, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    if not args.input.is_dir():
        parser.error(f"--input: not a folder: {args.input}")
    if args.state == "absent":
        block_parallel_import()  # for the whole process, not just the `with` block below
    with activate(args.state):
        # Only now may the core be imported: the state decides what it finds.
        from harness.record import RecordSettings, discover, record_each

        try:
            paths = discover(args.input, args.pattern)
        except ValueError as exc:
            parser.error(str(exc))
        settings = RecordSettings(
            time_scale=args.time_scale,
            jitter_seed=args.jitter_seed,
            only_order=args.order,
            stress=args.stress,
        )
        outcome = record_each(paths, settings, expected_state=args.state)
    try:
        write_json_atomic(
            args.out, {"state": args.state, "records": outcome.records, "errors": outcome.errors}
        )
    except OSError as exc:
        print(f"harness.worker: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
