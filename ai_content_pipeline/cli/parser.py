"""The argparse tree: global options first, then one subparser per command (spec §3)."""

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
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument(
        "--base-dir", default=".", help="project folder; outputs go to BASE_DIR/output"
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default="stub", help="model backend (default: stub)"
    )
    parser.add_argument(
        "--env-file", metavar="PATH", help="read KEY=VALUE lines from this .env file first"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only results")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run_chain(commands)
    _add_validate(commands)
    commands.add_parser("list-models", help="list models per step type with cost/time estimates")
    _add_output_dir(commands.add_parser("setup", help="create folders and example configs"))
    _add_generate_image(commands)
    _add_create_video(commands)
    _add_output_dir(commands.add_parser("create-examples", help="write example pipeline files"))
    commands.add_parser("features", help="show the parallel-execution flag and its source")
    commands.add_parser("schema", help="print the JSON Schema of the pipeline file format")
    return parser


def _add_run_chain(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("run-chain", help="run a pipeline file")
    sub.add_argument("--config", required=True, help="pipeline file (.yaml, .yml or .json)")
    sub.add_argument("--input-text", help="input prompt text")
    sub.add_argument(
        "--input", help="input of any kind: prompt text, or an image/video path or URL"
    )
    sub.add_argument("--prompt-file", help="read the input prompt from this file")
    sub.add_argument(
        "--no-confirm",
        action="store_true",
        default=False,
        help="do not ask before running (no question is asked when stdin is not a terminal)",
    )
    _add_strict(sub)
    _add_save_json(sub)


def _add_validate(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("validate", help="check a pipeline file without running it")
    sub.add_argument("--config", required=True, help="pipeline file (.yaml, .yml or .json)")
    _add_strict(sub)


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
    _add_save_json(sub)


def _add_create_video(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("create-video", help="text -> image -> video")
    sub.add_argument("--text", required=True, help="prompt")
    sub.add_argument("--image-model", default="auto", help="text_to_image model (default: auto)")
    sub.add_argument("--video-model", default="auto", help="image_to_video model (default: auto)")
    _add_output_dir(sub)
    _add_save_json(sub)


def _add_output_dir(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--output-dir", help="target folder (relative paths: inside --base-dir)")


def _add_save_json(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--save-json", metavar="NAME", help="also write the result as JSON to BASE_DIR/output/NAME"
    )
