"""`main`: parse, set up, dispatch, and turn every outcome into one exit code.

Exit codes (spec §3, §8 #7): 0 success; 1 a step failed, a report could not be written, or an
unexpected error; 2 usage or configuration error; 130 interrupted. A `PipelineError` is one
`error: …` line on stderr; tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable

from ..errors import PipelineError
from ..interrupts import second_interrupt_exits
from . import commands, run_chain
from .parser import build_parser
from .session import Session, check_base_dir

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

LOGGER_NAME = "ai_content_pipeline"
_HANDLER_NAME = "aicp-cli"

Command = Callable[[argparse.Namespace, Session], int]

COMMANDS: dict[str, Command] = {
    "run-chain": run_chain.cmd_run_chain,
    "validate": run_chain.cmd_validate,
    "list-models": commands.cmd_list_models,
    "setup": commands.cmd_setup,
    "generate-image": commands.cmd_generate_image,
    "create-video": commands.cmd_create_video,
    "create-examples": commands.cmd_create_examples,
    "features": commands.cmd_features,
    "schema": commands.cmd_schema,
}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become messages, never tracebacks."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or bad flags (2): argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not args.command:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: a command is required", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(debug=args.debug, quiet=args.quiet)
    holder: list[Session] = []
    try:
        session = _start_session(args)
        holder.append(session)
        return COMMANDS[args.command](args, session)
    except KeyboardInterrupt:
        with second_interrupt_exits():
            _report_interrupt(holder)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `aicp list-models | head`: the reader left, not an error
        _silence_stdout()
        return EXIT_FAILED
    except PipelineError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
            print(f"error: unexpected {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        else:
            print(
                f"error: unexpected {type(exc).__name__}: {_one_line(str(exc))} "
                "(run with --debug for a traceback)",
                file=sys.stderr,
            )
        return EXIT_FAILED


def _start_session(args: argparse.Namespace) -> Session:
    """Global options, in order: the .env file (so it can set flags), base dir, backend."""
    from ..config.features import load_env_file
    from ..models.registry import build_registry

    if args.env_file:
        load_env_file(args.env_file)
    base_dir = check_base_dir(args.base_dir)
    return Session(base_dir=base_dir, registry=build_registry(args.backend), quiet=args.quiet)


def _report_interrupt(holder: list[Session]) -> None:
    report = None
    if holder and holder[0].has_manager:
        report = holder[0].manager().executor.last_report_path
    message = f"interrupted: report written to {report}" if report else "interrupted"
    print(message, file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text else text


def configure_logging(debug: bool, quiet: bool = False) -> None:
    """Package log lines go to stderr as bare messages, so each is one whole line.

    A handler on the package logger (not the root) so embedding applications and pytest keep
    their own logging; replaced on every call so repeated in-process `main()` calls never
    stack handlers or write to a stale stderr.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    if debug:
        logger.setLevel(logging.DEBUG)
    else:
        logger.setLevel(logging.ERROR if quiet else logging.WARNING)
