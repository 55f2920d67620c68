"""The previous release's code, taken from git, to time this checkout against.

Only the two runtime packages are extracted (``git archive``): the baseline is timed through
the established public API, which every release has, so the release's own harness and tests
are not needed. A checkout without git, or a clone that lacks the ref (a shallow CI clone),
gets ``None`` and a reason, and the gate prints that the comparison was skipped.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_BASELINE_REF",
    "RUNTIME_PACKAGES",
    "ReleaseTree",
    "extract_release",
    "repository_of",
]

DEFAULT_BASELINE_REF = "89c6800"
"""The first release (1.0.0, 2026-11-29): core, threaded scheduler, gate, tox, CI."""

RUNTIME_PACKAGES = ("ai_content_pipeline", "parallel")


@dataclass(frozen=True)
class ReleaseTree:
    ref: str
    commit: str
    path: Path


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=60
    )


def extract_release(repo: Path, ref: str, into: Path) -> ReleaseTree | str:
    """Extract `ref`'s runtime packages from the git repository at `repo` into `into`.

    Returns the tree, or a one-line reason why there is none.
    """
    try:
        resolved = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"git is not usable here ({type(exc).__name__}: {exc})"
    if resolved.returncode != 0:
        return f"{ref!r} is not a commit of the repository at {repo} (a shallow clone?)"
    commit = resolved.stdout.decode().strip()
    listed = _git(repo, "ls-tree", "--name-only", commit)
    present = set(listed.stdout.decode().split())
    packages = [name for name in RUNTIME_PACKAGES if name in present]
    if "ai_content_pipeline" not in packages:
        return f"{ref} ({commit[:10]}) has no ai_content_pipeline package"
    archived = _git(repo, "archive", "--format=tar", commit, *packages)
    if archived.returncode != 0:
        return f"git archive {ref} failed: {archived.stderr.decode().strip()[:200]}"
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as archive:
        archive.extractall(into, filter="data")
    return ReleaseTree(ref, commit, into)


def repository_of(path: Path) -> Path | None:
    """The top folder of the git work tree holding `path`, if any."""
    try:
        shown = _git(path, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError):
        return None
    if shown.returncode != 0:
        return None
    return Path(shown.stdout.decode().strip())
