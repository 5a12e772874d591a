"""What every `facelens train` command refuses before it trains: too little data, a split
with an empty side, and a checkpoint that belongs to another run or cannot be read.

A checkpoint carries a description of its run (the data's folder, count and fingerprint,
the options that shape training); a rerun resumes only when its own description is the
same, so a card never claims data or options that the weights did not see.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facelens.errors import ErrorCode, FaceLensError

# Fewer faces leave a validation split of 1-2 faces (15% or 10% of them): the figures on a
# model card, the early stopping and the blend weight would all rest on noise.
MIN_FACES = 20


def require_faces(count: int, where: str) -> None:
    """`bad_argument` when `count` faces (of `where`) are too few to train and validate on."""
    if count < MIN_FACES:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"{where}: {count} labelled faces; training needs at least {MIN_FACES} "
            "(some are held out to validate)",
        )


def require_split(train: np.ndarray, valid: np.ndarray) -> None:
    """`bad_argument` when either side of a training/validation split is empty."""
    if len(train) == 0 or len(valid) == 0:
        side = "training" if len(train) == 0 else "validation"
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"too few faces to split: the {side} split would be empty "
            f"({len(train)} training, {len(valid)} validation)",
        )


def fingerprint(*parts: np.ndarray | str) -> str:
    """A short hash of arrays and strings (the data a run trains on)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else np.ascontiguousarray(part).tobytes()
        hasher.update(len(data).to_bytes(8, "little") + data)
    return hasher.hexdigest()[:16]


def load_checkpoint(path: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    """The saved training state of this same `run`, None when there is no checkpoint yet;
    `bad_argument` for a checkpoint of another run or one that cannot be read."""
    if not path.exists():
        return None
    try:
        # weights_only: tensors and plain values only, so a foreign file cannot run code
        saved = torch.load(path, weights_only=True)
    except Exception as error:  # torch.load raises many kinds for a damaged file
        raise _foreign(path) from error
    if not isinstance(saved, dict) or not isinstance(saved.get("run"), dict):
        raise _foreign(path)
    if saved["run"] != run:
        changed = sorted(
            key for key in run.keys() | saved["run"].keys() if saved["run"].get(key) != run.get(key)
        )
        raise _foreign(path, f" (this run differs in {', '.join(changed)})")
    return saved


def save_checkpoint(path: Path, run: dict[str, Any], state: dict[str, Any]) -> None:
    """Write `state` with its run's description; a crash mid-write leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({**state, "run": run}, partial)
    partial.replace(path)


def _foreign(path: Path, detail: str = "") -> FaceLensError:
    return FaceLensError(
        ErrorCode.BAD_ARGUMENT, f"{path} is from another run or damaged{detail}; delete it"
    )
