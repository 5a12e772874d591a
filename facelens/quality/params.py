"""The shipped, learned parameters (model.json, written by tools/train_quality.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("model.json")


@cache
def params() -> dict:
    if not MODEL_FILE.is_file():
        return {}
    return json.loads(MODEL_FILE.read_text())


def array(key: str) -> np.ndarray | None:
    value = params().get(key)
    return None if value is None else np.asarray(value, np.float64)
