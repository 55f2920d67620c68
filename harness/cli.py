"""`harness gate` / `harness update`: argument parsing and exit codes, nothing else.

Exit codes: 0 pass, 1 failure, 2 usage error (bad flag, unknown folder, no YAMLs, update refused
in CI, by another update holding the golden folder, or by a folder it cannot write), 130
interrupted. Errors are one line; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .argtypes import non_negative_float
from .baseline import DEFAULT_BASELINE_REF
from .gate import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_USAGE, GateOptions, UsageError, run_gate
from .golden import GoldenError
from .states import STATES
from .update import UpdateOptions, run_update

PROG = "harness"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (exit 2) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _states(text: str) -> tuple[str, ...]:
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STATES]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown state(s) {', '.join(unknown) or '(none)'}; choose from {','.join(STATES)}"
        )
    return tuple(s for s in STATES if s in wanted)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, default=Path("input"), help="YAML folder")
    parser.add_argument(
        "--snapshots", type=Path, default=Path("snapshots"), help="golden record folder"
    )
    parser.add_argument(
        "--states",
        type=_states,
        default=STATES,
        help=f"comma-separated flag states (default {','.join(STATES)})",
    )
    parser.add_argument(
        "-k", dest="pattern", default=None, help="select YAMLs by stem: 'group and not fails'"
    )
    parser.add_argument(
        "--jobs",
        type=_non_negative_int,
        default=0,
        help="0: one subprocess per state (default); 1: in this process; N: N subprocesses",
    )
    parser.add_argument(
        "--time-scale",
        type=non_negative_float,
        default=1.0,
        help="stub latency scale on the virtual clock (default 1: model seconds)",
    )
    parser.add_argument(
        "--order",
        default=None,
        help="replay one completion order, as a failure names it (e.g. step2:perm:3,1,2)",
    )
    parser.add_argument(
        "--stress",
        action="store_true",
        help="race stress: calls on threads, a tiny switch interval, every run repeated",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Golden-record release gate for `parallel`.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gate = sub.add_parser("gate", help="check records, API and performance (never writes goldens)")
    _common(gate)
    gate.add_argument("--json", type=Path, default=None, help="write a JSON report here")
    gate.add_argument("--junit", type=Path, default=None, help="write a JUnit XML report here")
    gate.add_argument("--no-perf", action="store_true", help="skip the performance gate")
    baseline = gate.add_mutually_exclusive_group()
    baseline.add_argument(
        "--baseline-ref",
        default=DEFAULT_BASELINE_REF,
        metavar="REF",
        help="git ref of the release to time this checkout against (default: %(default)s)",
    )
    baseline.add_argument(
        "--no-baseline",
        action="store_true",
        help="time flag on against flag off only, not against a previous release",
    )
    update = sub.add_parser("update", help="rewrite golden records from the reference state")
    _common(update)
    update.add_argument("--force", action="store_true", help="update even when CI is set")
    return parser


def _run(args: argparse.Namespace) -> int:
    common = {
        "input_dir": args.input,
        "snapshots_dir": args.snapshots,
        "states": args.states,
        "pattern": args.pattern,
        "jobs": args.jobs,
        "time_scale": args.time_scale,
        "order": args.order,
        "stress": args.stress,
        "quiet": args.quiet,
    }
    if args.command == "gate":
        gate_options = GateOptions(
            **common,
            json_path=args.json,
            junit_path=args.junit,
            perf=not args.no_perf,
            baseline_ref=None if args.no_baseline else args.baseline_ref,
        )
        return run_gate(gate_options).exit_code
    return run_update(UpdateOptions(**common, force=args.force)).exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``harness`` / ``python -m harness``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GoldenError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            print(
                f"{PROG}: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
                file=sys.stderr,
            )
        return EXIT_FAIL
