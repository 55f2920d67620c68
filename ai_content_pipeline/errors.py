"""Typed errors: the CLI turns each into one line and an exit code, never a traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class for every error the pipeline raises on purpose."""

    exit_code = 1


class UsageError(PipelineError):
    """Bad flags, missing input, an unknown backend: the user must change the command."""

    exit_code = 2


class ConfigError(PipelineError):
    """A pipeline file that cannot be used. `location` is `file:line` when known."""

    exit_code = 2

    def __init__(self, message: str, location: str | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class FeatureFlagError(PipelineError):
    """A feature-flag source holds a value we refuse to guess about."""

    exit_code = 2


class ReportWriteError(PipelineError):
    """A report could not be saved (spec §8 #6): said out loud, never swallowed."""

    exit_code = 1
