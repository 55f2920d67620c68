"""Chains, their executor and the manager (the established import path)."""

from .chain import ContentCreationChain, PipelineStep
from .executor import ChainExecutor
from .manager import AIPipelineManager

__all__ = ["AIPipelineManager", "ChainExecutor", "ContentCreationChain", "PipelineStep"]
