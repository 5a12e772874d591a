from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        raise RuntimeError(f"evaluation data not found at {DATA} (expected ../shared/data)")
    return DATA


@pytest.fixture(scope="session")
def fr_images(data_dir: Path) -> Path:
    return data_dir / "face_recognition"
