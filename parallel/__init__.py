"""Opt-in concurrent scheduler for parallel_group steps.

Changes *when* branches run, nothing else: branch inputs, merge, costs, file names
and errors are defined by the core (`ai_content_pipeline.pipeline.groups`).
Deleting this package leaves every pipeline working, sequentially.
"""

from ai_content_pipeline.pipeline.groups import MergeStrategy

from .extension import ParallelExtension
from .history import GroupHistory
from .pool import BranchPool
from .scheduler import ThreadPoolScheduler, thread_pool_scope

__all__ = [
    "BranchPool",
    "GroupHistory",
    "MergeStrategy",
    "ParallelExtension",
    "ThreadPoolScheduler",
    "thread_pool_scope",
]
