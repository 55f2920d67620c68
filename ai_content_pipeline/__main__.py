"""`python -m ai_content_pipeline` and the `aicp` / `ai-content-pipeline` console scripts."""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
