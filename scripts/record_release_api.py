#!/usr/bin/env python3
"""Record the established release's public API as ``snapshots/__api_release__.json``.

Run once (it needs the package index): it downloads the release wheel without its
dependencies, unpacks only the ``ai_content_pipeline`` sources and writes griffe's JSON dump.
The gate compares every checkout with that record offline. ``--wheel FILE`` uses a wheel
already on disk instead of downloading one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.golden import GoldenStore, atomic_write_text  # noqa: E402
from harness.release_api import (  # noqa: E402
    RELEASE_DISTRIBUTION,
    RELEASE_STEM,
    RELEASE_VERSION,
    dump_release_api,
    extract_wheel_package,
)


def _download(into: Path, version: str) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(into),
            f"{RELEASE_DISTRIBUTION}=={version}",
        ],
        check=True,
    )
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"record_release_api: pip downloaded no wheel of {RELEASE_DISTRIBUTION}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a release wheel already on disk")
    parser.add_argument("--version", default=RELEASE_VERSION)
    parser.add_argument("--out", type=Path, default=REPO / "snapshots" / f"{RELEASE_STEM}.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = args.wheel or _download(Path(scratch) / "wheel", args.version)
        package_root = extract_wheel_package(wheel, Path(scratch) / "src")
        text = dump_release_api(package_root, args.version)
        if args.out.name == f"{RELEASE_STEM}.json":  # in a golden folder: under its write lock
            GoldenStore(args.out.parent).write_text(RELEASE_STEM, text)
        else:
            atomic_write_text(args.out, text)
    print(f"record_release_api: wrote {args.out} from {wheel.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
