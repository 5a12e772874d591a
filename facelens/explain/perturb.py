"""Score many perturbed copies of a crop: ONNX Runtime on the CPU, the torch twin elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from facelens.explain.scores import BATCH, Target, nchw

GPU_BATCH = 1024  # a GPU wants far larger batches than the CPU's ONNX Runtime sweet spot


def uses_onnx(device: torch.device) -> bool:
    """Plain CPU work stays on ONNX Runtime (faster there); other devices run the twins."""
    return device.type == "cpu"


def score_crops(crops: np.ndarray, target: Target, device: torch.device) -> np.ndarray:
    """(N,) scores of N×S×S×3 float crops, on `device` (CPU: ONNX Runtime, batched)."""
    if uses_onnx(device):
        return target.scores(crops)
    scores = []
    with torch.no_grad():
        for start in range(0, len(crops), GPU_BATCH):
            batch = nchw(crops[start : start + GPU_BATCH], device)
            scores.append(target.torch_scores(batch)[0].float().cpu())
    return torch.cat(scores).numpy()


def blend_scores(
    crop: np.ndarray,
    fill: np.ndarray,
    keep: torch.Tensor,
    target: Target,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """(M,) scores of fill + keep · (crop − fill) for M keep-masks (M×S×S, 1 = original).

    Built and scored chunk by chunk, so memory stays at one batch of images; `progress` is
    told how many masks each chunk scored.
    """
    x, f = nchw(crop[None], device), nchw(fill[None], device)
    onnx = uses_onnx(device)
    chunk = BATCH if onnx else GPU_BATCH
    scores = []
    for start in range(0, len(keep), chunk):
        batch = f + keep[start : start + chunk, None].to(device) * (x - f)
        if onnx:
            chunk_scores = target.scores(batch.permute(0, 2, 3, 1).numpy())
            scores.append(torch.from_numpy(np.asarray(chunk_scores, np.float32)))
        else:
            with torch.no_grad():
                scores.append(target.torch_scores(batch)[0].float())
        if progress:
            progress(len(batch))
    return torch.cat(scores).to(device)
