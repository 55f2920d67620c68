"""Command-line interface. `main(argv) -> exit code`; see `app` for the exit-code contract."""

from __future__ import annotations

from .app import main
from .parser import build_parser

__all__ = ["build_parser", "main"]
