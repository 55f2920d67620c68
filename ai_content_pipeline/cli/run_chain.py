"""`run-chain` and `validate`: a pipeline file is checked with file:line messages first.

Why load twice (here and in the manager): the loader keeps the key -> line map that turns each
validation `Problem` into `FILE:LINE: message`, and nothing may be spent on an invalid file.
Both commands end their checks with `check_runnable`, so `validate` passes exactly what
`run-chain` would start; the release harness refuses a corpus file with the same lines
(`pipeline_file_problems`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..config.features import features_file_warnings
from ..config.known_keys import KeyWarning, unknown_keys
from ..config.loader import LoadedConfig, load_config_file
from ..pipeline.chain import ContentCreationChain
from ..pipeline.validation import find_problems
from .inputs import InputProblem, resolve_input
from .output import check_save_json_name, finish_run, money, seconds, show_estimate
from .session import Session

EXIT_USAGE = 2


def load_checked(config_path: str) -> tuple[LoadedConfig, list[str]]:
    """Load the file (ConfigError propagates) and format its problems as `FILE:LINE: message`,
    the path rules only a pipeline file is held to included."""
    loaded = load_config_file(config_path)
    lines = []
    for problem in find_problems(loaded.data, pipeline_file=True):
        line = loaded.line_of(problem.location)
        where = f"{config_path}:{line}" if line is not None else config_path
        lines.append(f"{where}: {problem.message}")
    return loaded, lines


def key_warnings(loaded: LoadedConfig) -> list[KeyWarning]:
    """Unknown keys of the pipeline file, then of the features file."""
    return [*unknown_keys(loaded), *features_file_warnings()]


def strict_errors(warnings: list[KeyWarning], problems: list[str]) -> list[str]:
    """Unknown keys as error lines (--strict, the harness), each finding said once: a key that
    a problem on its line already names (`modle:` in the missing-'model' error) is left out."""
    return [
        warning.as_error()
        for warning in warnings
        if not any(
            line.startswith(f"{warning.where()}: ") and f"unknown key '{warning.key}'" in line
            for line in problems
        )
    ]


def warn_or_fail(loaded: LoadedConfig, problems: list[str], strict: bool) -> list[str]:
    """Print each unknown-key warning to stderr (`FILE:LINE: warning: ...`); under --strict
    they become problems instead, so nothing runs and the exit code is 2."""
    warnings = key_warnings(loaded)
    if strict:
        return [*strict_errors(warnings, problems), *problems]
    for warning in warnings:
        print(warning, file=sys.stderr)
    return problems


def pipeline_file_problems(config_path: str) -> list[str]:
    """What `aicp validate --strict` refuses in the file itself (its input and the features
    file aside), as the lines it prints: how the release harness judges a corpus file.
    A file that cannot be loaded raises `ConfigError`, whose text is validate's line."""
    loaded, problems = load_checked(config_path)
    return [*strict_errors(unknown_keys(loaded), problems), *problems]


def check_runnable(
    args: argparse.Namespace, loaded: LoadedConfig, problems: list[str]
) -> tuple[list[str], str | None]:
    """What `run-chain` refuses before spending beyond the file's own problems: where it would
    write, and its input (flags first, then the file); for `run-chain` and `validate` alike.

    Returns every problem line (`FILE:LINE: message`) and, when there are none, the input. A bad
    flag raises `UsageError` instead (one `error:` line).
    """
    if not problems:
        problems = output_folder_problems(
            loaded, Path(args.base_dir), getattr(args, "save_json", None)
        )
    if problems:
        return problems, None
    chain = ContentCreationChain.from_config(loaded.data)
    try:
        return [], resolve_input(args, chain.get_initial_input_type(), loaded.data)
    except InputProblem as exc:
        if exc.location is None:
            raise
        return [f"{loaded.where(exc.location)}: {exc}"], None


def output_folder_problems(
    loaded: LoadedConfig, base_dir: Path, save_json: str | None = None
) -> list[str]:
    """Where a run writes, checked before anything is spent. It writes only inside --base-dir
    (`find_problems` keeps output_dir relative): a symbolic link leading outside it, as the
    output folder, on the way to it or anywhere in it, would carry the run's files out. And a
    folder it cannot write would fail the first step after its call was charged. Both are
    refused, named. --save-json also writes into ``output/``."""
    root = base_dir.resolve()
    folders = [str(loaded.data.get("output_dir", "output"))]
    if save_json is not None:
        folders.append("output")
    where = f"{loaded.where(('output_dir',))}: field 'output_dir'"
    for folder in dict.fromkeys(folders):
        found = _link_leading_out(base_dir, Path(folder), root)
        if found is not None:
            link, target = found
            return [
                f"{where} ({folder}): {link} is a symbolic link to {target}, outside "
                "--base-dir; remove it (a run writes only inside --base-dir)"
            ]
        existing = _nearest_existing(base_dir / folder)
        if not os.access(existing, os.W_OK | os.X_OK):
            return [f"{where} ({folder}): {existing} is not writable; nothing was run"]
    return []


def _nearest_existing(path: Path) -> Path:
    """`path`, or the closest folder above it that exists (what a run's mkdir would write)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _link_leading_out(base_dir: Path, folder: Path, root: Path) -> tuple[Path, Path] | None:
    """The first symbolic link (and where it leads) from `base_dir` down to `folder`, then
    anywhere under it, whose target is outside `root`; None when there is none."""
    path = base_dir
    for part in folder.parts:
        path = path / part
        found = _leads_out(path, root)
        if found is not None:
            return found
        if not path.is_dir():
            return None
    for current, dirs, files in os.walk(path):  # links to folders are listed, not entered
        dirs.sort()
        for name in sorted([*dirs, *files]):
            found = _leads_out(Path(current) / name, root)
            if found is not None:
                return found
    return None


def _leads_out(path: Path, root: Path) -> tuple[Path, Path] | None:
    if not path.is_symlink():
        return None
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # a loop: nothing can be written through it
        return None
    return None if target.is_relative_to(root) else (path, target)


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
