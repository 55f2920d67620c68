"""The argparse tree: global options, then one subparser per command (spec §3).

Global options are accepted before the command (the established order) and after it: each
subparser repeats them with `SUPPRESS` defaults, so one left out after the command never
overrides the value given before it.
"""

from __future__ import annotations

import argparse

from ..models.registry import BACKENDS

PROG = "aicp"


def build_parser() -> argparse.ArgumentParser:
    """Why one function: `--help` output and tests see exactly the flags `main` parses."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run YAML-defined AI content pipelines (text -> image -> video -> audio).",
        epilog="Exit codes: 0 success, 1 a step failed, 2 usage or configuration error, "
        "130 interrupted.",
    )
    _add_global_options(parser, after_command=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run_chain(commands)
    _add_validate(commands)
    commands.add_parser("list-models", help="list models per step type with cost/time estimates")
    _add_examples_flags(commands.add_parser("setup", help="create folders and example configs"))
    _add_generate_image(commands)
    _add_create_video(commands)
    _add_examples_flags(commands.add_parser("create-examples", help="write example pipeline files"))
    commands.add_parser("features", help="show the parallel-execution flag and its source")
    commands.add_parser("schema", help="print the JSON Schema of the pipeline file format")
    for sub in commands.choices.values():
        _add_global_options(sub, after_command=True)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """The options every command shares; after the command they default to SUPPRESS."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    group = parser.add_argument_group("global options") if after_command else parser
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="show tracebacks and debug logs",
    )
    group.add_argument(
        "--base-dir", default=default("."), help="project folder; outputs go to BASE_DIR/output"
    )
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        default=default("stub"),
        help="model backend (default: stub)",
    )
    group.add_argument(
        "--env-file",
        metavar="PATH",
        default=default(None),
        help="read KEY=VALUE lines from this .env file first",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="print only results"
    )


def _add_run_chain(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("run-chain", help="run a pipeline file")
    sub.add_argument("--config", required=True, help="pipeline file (.yaml, .yml or .json)")
    _add_input_flags(sub)
    _add_no_confirm(sub)
    _add_strict(sub)
    _add_save_json(sub)


def _add_validate(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "validate",
        help="check a pipeline file without running it: passes exactly when run-chain with "
        "the same input flags would start",
    )
    sub.add_argument("--config", required=True, help="pipeline file (.yaml, .yml or .json)")
    _add_input_flags(sub)
    _add_strict(sub)


def _add_input_flags(sub: argparse.ArgumentParser) -> None:
    """run-chain's input flags; validate takes them too, to check the input run-chain gets."""
    sub.add_argument("--input-text", help="input prompt text (text pipelines only)")
    sub.add_argument(
        "--input",
        help="input of any kind: prompt text, or an image/video path or URL (a path or URL is "
        "never taken as a prompt)",
    )
    sub.add_argument(
        "--prompt-file", help="read the input prompt from this file (text pipelines only)"
    )


def _add_no_confirm(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "-y",
        "--no-confirm",
        action="store_true",
        default=False,
        help="do not ask before spending (no question is asked when stdin is not a terminal)",
    )


def _add_examples_flags(sub: argparse.ArgumentParser) -> None:
    _add_output_dir(sub)
    sub.add_argument(
        "--force", action="store_true", help="overwrite example files that already exist"
    )


def _add_strict(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--strict",
        action="store_true",
        help="treat unknown-key warnings as errors (exit 2, nothing is run)",
    )


def _add_generate_image(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("generate-image", help="one text_to_image step")
    sub.add_argument("--text", required=True, help="prompt")
    sub.add_argument("--model", default="auto", help="text_to_image model (default: auto)")
    sub.add_argument("--aspect-ratio", default="16:9", help="e.g. 1:1, 16:9, 9:16 (default 16:9)")
    _add_output_dir(sub)
    _add_no_confirm(sub)
    _add_save_json(sub)


def _add_create_video(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("create-video", help="text -> image -> video")
    sub.add_argument("--text", required=True, help="prompt")
    sub.add_argument("--image-model", default="auto", help="text_to_image model (default: auto)")
    sub.add_argument("--video-model", default="auto", help="image_to_video model (default: auto)")
    _add_output_dir(sub)
    _add_no_confirm(sub)
    _add_save_json(sub)


def _add_output_dir(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--output-dir", help="target folder (relative paths: inside --base-dir)")


def _add_save_json(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--save-json", metavar="NAME", help="also write the result as JSON to BASE_DIR/output/NAME"
    )
