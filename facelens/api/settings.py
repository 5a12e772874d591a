"""Service settings: one object, built by `facelens serve` or by tests."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from facelens.budget import DEFAULT_BUDGET, InputBudget
from facelens.detection.names import DEFAULT_DETECTOR, DETECTORS
from facelens.recognition.names import DEFAULT_EMBEDDER, EMBEDDER_NAMES


class Settings(BaseModel):
    """What the app needs to know; every field has a safe default (loopback, no CORS)."""

    gallery_dir: Path | None = Field(default=None, description="gallery folder; None: off")
    api_key: str | None = Field(default=None, description="required in X-API-Key if set")
    cors_origins: list[str] = Field(default_factory=list, description="empty: CORS off")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="per image")
    max_pixels: int = Field(default=DEFAULT_BUDGET.max_pixels, gt=0)
    # Inference threads at once: more than the cores only adds queueing inside ONNX Runtime.
    workers: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2), gt=0)
    warm_up: bool = Field(default=True, description="load the networks at start-up")
    embedder: str = Field(default=DEFAULT_EMBEDDER, description=f"one of {EMBEDDER_NAMES}")
    detector: str = Field(default=DEFAULT_DETECTOR, description=f"one of {DETECTORS}")
    # KIND -> MODEL as FaceLens(attribute_models=...) takes it (e.g. a `facelens train` file);
    # analysis and the attribute explanations use them
    attribute_models: dict[str, str] = Field(default_factory=dict)
    # An uploaded clip (POST /v1/video; bytes as max_upload_bytes): frames and seconds
    max_video_frames: int = Field(default=1800, gt=0, description="per uploaded clip")
    max_video_seconds: float = Field(default=120.0, gt=0, description="per uploaded clip")

    @property
    def max_body_bytes(self) -> int:
        """Largest request body: two images, base64-inflated, plus form overhead."""
        return 2 * (self.max_upload_bytes * 4 // 3 + 4) + 64 * 1024

    @property
    def budget(self) -> InputBudget:
        """The input budget every request is checked against (facelens.budget)."""
        return InputBudget(
            max_bytes=self.max_upload_bytes,
            max_pixels=self.max_pixels,
            max_clip_frames=self.max_video_frames,
            max_clip_seconds=self.max_video_seconds,
        )
