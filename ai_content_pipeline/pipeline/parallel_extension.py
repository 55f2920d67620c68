"""Established import path of the parallel extension: a thin re-export of `parallel`.

Raises ImportError when the top-level `parallel` package is absent, exactly like
the package itself; the core never needs this module.
"""

from parallel import MergeStrategy, ParallelExtension

__all__ = ["MergeStrategy", "ParallelExtension"]
