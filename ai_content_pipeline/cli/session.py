"""State shared by one CLI invocation: where to write, which backend, and the lazily built manager.

Why lazy: commands such as `validate` or `features` never need a manager, and the
KeyboardInterrupt handler in `app` must find the executor (for its report path) if one exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..models.registry import GeneratorRegistry
    from ..pipeline.manager import AIPipelineManager


@dataclass
class Session:
    """One invocation's settings plus the manager, created on first use."""

    base_dir: Path
    registry: GeneratorRegistry
    quiet: bool = False
    _manager: AIPipelineManager | None = field(default=None, repr=False)

    def manager(self) -> AIPipelineManager:
        """The manager; building it reads the feature flag (FeatureFlagError -> exit 2)."""
        if self._manager is None:
            from ..pipeline.manager import AIPipelineManager

            self._manager = AIPipelineManager(
                str(self.base_dir), generators=self.registry, create_dirs=False
            )
        return self._manager

    @property
    def has_manager(self) -> bool:
        return self._manager is not None

    def resolve_dir(self, value: str | None) -> str | None:
        """A user-given folder: absolute as is, relative inside --base-dir."""
        if value is None:
            return None
        path = Path(value)
        return str(path if path.is_absolute() else self.base_dir / path)

    def say(self, text: str = "") -> None:
        """Informational stdout output, silenced by --quiet."""
        if not self.quiet:
            print(text)


def check_base_dir(value: str) -> Path:
    """--base-dir may not exist yet (it is created on write), but must not be a file."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--base-dir {value} is not a directory")
    return path
