"""argparse value types shared by the CLI and the worker (imports nothing from the core)."""

from __future__ import annotations

import argparse
import math


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value
