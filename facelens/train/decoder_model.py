"""The face decoder: a recognition embedding in, an aligned face crop out.

A linear layer to a 4×4 grid, then upsampling blocks (nearest ×2, 3×3 convolution, batch
norm, leaky ReLU) to the output size, and a 3×3 convolution to RGB in 0..1. The crop is the
SFace ArcFace template scaled to `size`, so the identity loss can re-embed it. Only the input
dimension ties it to an embedder: another embedder needs retraining, nothing else.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _up_block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.LeakyReLU(0.2, inplace=True),
    )


class FaceDecoder(nn.Module):
    """N×D unit embeddings → N×3×size×size RGB in 0..1 (size a power of two ≥ 8)."""

    def __init__(self, dimension: int, size: int = 64, width: int = 256) -> None:
        super().__init__()
        steps = int(math.log2(size // 4))
        if 4 * 2**steps != size:
            raise ValueError(f"size must be 4·2^k, got {size}")
        self.dimension, self.size, self.width = dimension, size, width
        channels = [max(width // 2**i, 32) for i in range(steps + 1)]
        self.project = nn.Linear(dimension, width * 16)
        self.blocks = nn.Sequential(
            *(_up_block(channels[i], channels[i + 1]) for i in range(steps))
        )
        self.to_rgb = nn.Conv2d(channels[-1], 3, 3, padding=1)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        # Embeddings are unit vectors (entries ~1/√D): scale them to unit-variance entries.
        grid = self.project(embedding * math.sqrt(self.dimension))
        grid = torch.nn.functional.leaky_relu(grid, 0.2).view(-1, self.width, 4, 4)
        return torch.sigmoid(self.to_rgb(self.blocks(grid)))
