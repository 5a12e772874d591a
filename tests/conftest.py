from __future__ import annotations

import functools
from pathlib import Path

import pytest
import typer.testing

# typer's CliRunner rebuilds the whole click command tree (every command's signature and
# type hints) on each invoke: about 50 ms, 90% of a CLI test call that fails fast, and the
# hostile-input corpus makes about a thousand such calls. The tree of one app never changes.
typer.testing._get_command = functools.cache(typer.testing._get_command)

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        raise RuntimeError(f"evaluation data not found at {DATA} (expected ../shared/data)")
    return DATA


@pytest.fixture(scope="session")
def fr_images(data_dir: Path) -> Path:
    return data_dir / "face_recognition"


@pytest.fixture(scope="session")
def photos(fr_images: Path) -> dict[str, bytes]:
    """The encoded bytes of a few real photos, as an upload would carry them."""
    names = {
        "obama": "tests/test_images/obama.jpg",
        "obama2": "tests/test_images/obama2.jpg",
        "biden": "tests/test_images/biden.jpg",
        "two": "examples/two_people.jpg",
    }
    return {key: (fr_images / path).read_bytes() for key, path in names.items()}


@pytest.fixture(scope="session")
def default_dimension() -> int:
    """Length of an embedding from the default embedder (FaceLens())."""
    from facelens.lens import FaceLens

    return FaceLens().embedder.dimension
