"""`run-chain` and `validate`: a pipeline file is checked with file:line messages first.

Why load twice (here and in the manager): the loader keeps the key -> line map that turns each
validation `Problem` into `FILE:LINE: message`, and nothing may be spent on an invalid file.
Both commands end their checks with `check_runnable`, so `validate` passes exactly what
`run-chain` would start.
"""

from __future__ import annotations

import argparse
import sys

from ..config.features import features_file_warnings
from ..config.known_keys import KeyWarning, unknown_keys
from ..config.loader import LoadedConfig, load_config_file
from ..pipeline.chain import ContentCreationChain
from ..pipeline.validation import _escapes, find_problems
from .inputs import InputProblem, resolve_input
from .output import check_save_json_name, finish_run, money, seconds, show_estimate
from .session import Session

EXIT_USAGE = 2


def load_checked(config_path: str) -> tuple[LoadedConfig, list[str]]:
    """Load the file (ConfigError propagates) and format its problems as `FILE:LINE: message`."""
    loaded = load_config_file(config_path)
    lines = []
    for problem in find_problems(loaded.data):
        line = loaded.line_of(problem.location)
        where = f"{config_path}:{line}" if line is not None else config_path
        lines.append(f"{where}: {problem.message}")
    return loaded, lines


def key_warnings(loaded: LoadedConfig) -> list[KeyWarning]:
    """Unknown keys of the pipeline file, then of the features file."""
    return [*unknown_keys(loaded), *features_file_warnings()]


def warn_or_fail(loaded: LoadedConfig, problems: list[str], strict: bool) -> list[str]:
    """Print each unknown-key warning to stderr (`FILE:LINE: warning: ...`); under --strict
    they become problems instead, so nothing runs and the exit code is 2."""
    warnings = key_warnings(loaded)
    if strict:
        return [*(warning.as_error() for warning in warnings), *problems]
    for warning in warnings:
        print(warning, file=sys.stderr)
    return problems


def check_runnable(
    args: argparse.Namespace, loaded: LoadedConfig, problems: list[str]
) -> tuple[list[str], str | None]:
    """What `run-chain` refuses before spending beyond the file's own problems: where it would
    write, and its input (flags first, then the file); for `run-chain` and `validate` alike.

    Returns every problem line (`FILE:LINE: message`) and, when there are none, the input. A bad
    flag raises `UsageError` instead (one `error:` line).
    """
    problems = [*problems, *output_dir_problems(loaded)]
    if problems:
        return problems, None
    chain = ContentCreationChain.from_config(loaded.data)
    try:
        return [], resolve_input(args, chain.get_initial_input_type(), loaded.data)
    except InputProblem as exc:
        if exc.location is None:
            raise
        return [f"{loaded.where(exc.location)}: {exc}"], None


def output_dir_problems(loaded: LoadedConfig) -> list[str]:
    """A pipeline file writes only inside --base-dir, as its temp_dir stays inside output_dir.

    Checked here, not in `find_problems`: Python callers may still give a chain any folder.
    """
    value = loaded.data.get("output_dir")
    if not isinstance(value, str) or not _escapes(value):
        return []
    return [
        f"{loaded.where(('output_dir',))}: top-level field 'output_dir' must be a relative "
        f"path inside --base-dir, got '{value}'; to write elsewhere, pass --base-dir DIR "
        "(output_dir is relative to it)"
    ]


def cmd_validate(args: argparse.Namespace, session: Session) -> int:
    """Exit 0 with a one-line summary, or one line per problem on stderr and exit 2."""
    loaded, problems = load_checked(args.config)
    problems = warn_or_fail(loaded, problems, args.strict)
    problems, _ = check_runnable(args, loaded, problems)
    if problems:
        _print_problems(problems)
        return EXIT_USAGE
    chain = ContentCreationChain.from_config(loaded.data)
    steps = len(chain.get_enabled_steps())
    print(
        f"{args.config}: valid ({steps} steps, est. {money(chain.estimate_cost())}, "
        f"est. {seconds(chain.estimate_time())} model time)"
    )
    return 0


def cmd_run_chain(args: argparse.Namespace, session: Session) -> int:
    """Validate (unknown keys warn first), pick the input, show the estimate, confirm on a
    terminal, run, report."""
    check_save_json_name(args.save_json)
    loaded, problems = load_checked(args.config)
    problems = warn_or_fail(loaded, problems, args.strict)
    problems, input_data = check_runnable(args, loaded, problems)
    if problems or input_data is None:
        _print_problems(problems)
        return EXIT_USAGE
    manager = session.manager()
    chain = manager.create_chain_from_config(args.config)
    session.say(f"Chain: {chain.name}")
    show_estimate(session, manager.estimate_chain_cost(chain), chain.estimate_time())
    if not proceed(args.no_confirm):
        return 0
    result = manager.execute_chain(chain, input_data)
    return finish_run(session, result, args.save_json)


def stdin_is_tty() -> bool:
    """Only a person at a terminal is asked; pipes, CI and closed stdin never are (§8 #9)."""
    try:
        return bool(sys.stdin is not None and sys.stdin.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def proceed(no_confirm: bool) -> bool:
    """Every command that spends asks here, after showing its plan and cost (--no-confirm/-y
    skips the question; it is never asked when stdin is not a terminal)."""
    if no_confirm or not stdin_is_tty():
        return True
    if confirm("Proceed? [y/N] "):
        return True
    print("Cancelled; nothing was run.")
    return False


def _print_problems(problems: list[str]) -> None:
    for line in problems:
        print(line, file=sys.stderr)
