"""Opt-in concurrent scheduler for parallel_group steps.

Changes *when* branches run, nothing else: branch inputs, merge, costs, file names
and errors are defined by the core (`ai_content_pipeline.pipeline.groups`).
Registered as the ``async`` scheduler in the ``ai_content_pipeline.schedulers``
entry-point group. Deleting this package leaves every pipeline working, sequentially.
"""

from ai_content_pipeline.pipeline.groups import MergeStrategy

from .extension import ParallelExtension
from .scheduler import AsyncScheduler

__all__ = ["AsyncScheduler", "MergeStrategy", "ParallelExtension"]
