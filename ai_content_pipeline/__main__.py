"""`python -m ai_content_pipeline` and the `aicp` / `ai-content-pipeline` console scripts."""

from __future__ import annotations

import signal
import sys

from .cli import main
from .interrupts import EXIT_INTERRUPTED

__all__ = ["main", "run"]


def run() -> int:
    """The console scripts: `main`, and once it answered an interrupt, a further Ctrl-C while
    the interpreter shuts down cannot turn exit 130 into a traceback."""
    code = main()
    if code == EXIT_INTERRUPTED:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(run())
