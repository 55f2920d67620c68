"""What a second Ctrl-C does: end the process at once.

After the first Ctrl-C the pipeline still writes its failure report and the CLI its last
line; a user who presses Ctrl-C again does not want to wait for either.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def second_interrupt_exits() -> Iterator[None]:
    """Within the block, Ctrl-C ends the process with exit 130 (main thread only; a no-op
    elsewhere). The previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave_now(signum: int, frame: Any) -> None:
        os.write(2, b"interrupted again: exiting without waiting\n")
        os._exit(EXIT_INTERRUPTED)

    previous = signal.signal(signal.SIGINT, leave_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
