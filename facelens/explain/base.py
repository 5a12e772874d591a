"""The shared base of every explanation method: crop in, normalised map and result out."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch

from facelens.errors import ErrorCode, FaceLensError
from facelens.explain import faithfulness
from facelens.explain.recogniser import PartChip
from facelens.explain.result import Explanation, MapSummary
from facelens.explain.scores import Target
from facelens.types import Box

# Gradients through ReLU nets underflow into denormals, which made CPU backward passes
# 10-40x slower here (2.5 s instead of 60 ms); flushing them to zero costs no accuracy.
torch.set_flush_denormal(True)


@dataclass
class AlignedFace:
    """An aligned crop, and (when it came from a photo) the photo and the crop's transform.

    An embedding crop also names its embedder and, for a fusion, holds each network's chip
    (facelens.explain.recogniser)."""

    crop: np.ndarray  # S×S×3 RGB uint8 (or float 0..255)
    image: np.ndarray | None = None  # the original RGB image
    matrix: np.ndarray | None = None  # 2×3, image -> crop
    box: Box | None = None
    embedder: str | None = None
    parts: tuple[PartChip, ...] = ()


DEVICES = "cpu, cuda, cuda:N or mps"  # the device kinds the explainers run on


def checked_device(device: str | torch.device) -> torch.device:
    """A torch device this machine has, or `bad_argument` naming the problem (torch itself
    fails late, with a RuntimeError or an AssertionError deep inside the first batch)."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"unknown device {device!r}: choose {DEVICES}"
        ) from None
    if parsed.type == "cpu":
        return parsed
    if parsed.type == "cuda":
        return _checked_cuda(parsed)
    if parsed.type == "mps" and torch.backends.mps.is_available():
        return parsed
    if parsed.type == "mps":
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, "MPS is not available on this machine")
    raise FaceLensError(
        ErrorCode.BAD_ARGUMENT, f"device {device!r} is not supported: choose {DEVICES}"
    )


def _checked_cuda(device: torch.device) -> torch.device:
    if not torch.cuda.is_available():
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, "CUDA is not available on this machine: use the cpu device"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"no CUDA device {device.index}: this machine has {count}"
        )
    return device


def normalise(raw: np.ndarray, signed: bool) -> np.ndarray:
    """Scale to [0, 1] (negative part dropped) or, for signed maps, to [-1, 1] keeping 0."""
    values = np.nan_to_num(raw.astype(np.float32))
    if not signed:
        values = np.maximum(values, 0.0)
    peak = float(np.abs(values).max())
    return values / peak if peak > 0 else values


def to_image(crop_map: np.ndarray, face: AlignedFace) -> np.ndarray | None:
    """The crop map at the original image's size, through the inverse alignment transform."""
    if face.image is None or face.matrix is None:
        return None
    height, width = face.image.shape[:2]
    return cv2.warpAffine(
        crop_map,
        face.matrix,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )


class Explainer(ABC):
    """One explanation method. Subclasses implement `compute` (a raw map at crop size).

    device: where torch runs (gradients; perturbation batches when not "cpu", otherwise
    ONNX Runtime scores them). faithfulness: attach deletion/insertion numbers.
    """

    method: ClassVar[str]
    signed: ClassVar[bool] = False

    def __init__(self, device: str | torch.device = "cpu", faithfulness: bool = True) -> None:
        self.device = checked_device(device)
        self.with_faithfulness = faithfulness
        self.layer: str | None = None

    @abstractmethod
    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        """Raw S×S map for the crop (any scale; sign meaningful for signed methods)."""

    def explain(self, face: AlignedFace, target: Target) -> Explanation:
        start = time.perf_counter()
        crop_map = normalise(self.compute(face.crop, target), self.signed)
        seconds = time.perf_counter() - start
        image_map = to_image(crop_map, face)
        faith = None
        if self.with_faithfulness:
            faith = faithfulness.evaluate(face.crop, crop_map, target, device=self.device)
        if faith is not None:
            score = faith.score
        else:
            score = float(target.scores(face.crop[None].astype(np.float32))[0])
        result = Explanation(
            method=self.method,
            target=target.label,
            score=round(score, 6),
            value_range=(-1.0, 1.0) if self.signed else (0.0, 1.0),
            layer=self.layer,
            face_box=face.box,
            crop_summary=MapSummary.of(crop_map),
            image_summary=MapSummary.of(image_map) if image_map is not None else None,
            faithfulness=faith,
            seconds=round(seconds, 4),
        )
        result._crop_map, result._image_map = crop_map, image_map
        result._crop, result._image, result._matrix = face.crop, face.image, face.matrix
        return result

    def crop_tensor(self, crops: np.ndarray) -> torch.Tensor:
        from facelens.explain.scores import nchw

        return nchw(crops, self.device)
