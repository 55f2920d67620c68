"""Utilities: the run's file manager and the input validators."""

from __future__ import annotations

from .file_manager import FileManager
from .validators import (
    validate_aspect_ratio,
    validate_chain_config,
    validate_file_format,
    validate_file_path,
    validate_file_size,
    validate_model_name,
    validate_numeric_range,
    validate_output_directory,
    validate_prompt,
    validate_url,
)

__all__ = [
    "FileManager",
    "validate_aspect_ratio",
    "validate_chain_config",
    "validate_file_format",
    "validate_file_path",
    "validate_file_size",
    "validate_model_name",
    "validate_numeric_range",
    "validate_output_directory",
    "validate_prompt",
    "validate_url",
]
