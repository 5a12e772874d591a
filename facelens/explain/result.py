"""Explanation results: JSON-friendly summaries, with the maps kept as private arrays."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from facelens.types import Box


class MapSummary(BaseModel):
    """What a map says, in numbers: size, range, and where it peaks (x, y in its pixels)."""

    width: int
    height: int
    min: float
    max: float
    mean: float
    peak: tuple[int, int] = Field(description="(x, y) of the maximum (most similar/salient)")
    trough: tuple[int, int] = Field(description="(x, y) of the minimum (most dissimilar)")
    positive_fraction: float = Field(description="share of pixels above 0.05")
    negative_fraction: float = Field(description="share of pixels below -0.05")

    @classmethod
    def of(cls, values: np.ndarray) -> MapSummary:
        height, width = values.shape
        peak = np.unravel_index(int(np.argmax(values)), values.shape)
        trough = np.unravel_index(int(np.argmin(values)), values.shape)
        return cls(
            width=width,
            height=height,
            min=round(float(values.min()), 4),
            max=round(float(values.max()), 4),
            mean=round(float(values.mean()), 4),
            peak=(int(peak[1]), int(peak[0])),
            trough=(int(trough[1]), int(trough[0])),
            positive_fraction=round(float(np.mean(values > 0.05)), 4),
            negative_fraction=round(float(np.mean(values < -0.05)), 4),
        )


class Faithfulness(BaseModel):
    """Deletion/insertion areas of score curves scaled to [0, 1] per face (0 = the lowest and
    1 = the highest score seen on any curve of the map or the baselines).

    Lower deletion and higher insertion are better; the random (smooth random) and centre
    (Gaussian at the crop centre) maps are the baselines on the same face.
    """

    steps: int
    score: float = Field(description="the target score on the unchanged crop")
    substrate_score: float = Field(description="the score with the whole crop blurred")
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float
    centre_deletion_auc: float
    centre_insertion_auc: float
    deletion_vs_random: float | None = Field(
        description="deletion_auc / random_deletion_auc (when the latter is above 0.05)"
    )
    reliable: bool = Field(description="False when no curve moves the score by 0.02 or more")

    _curves: dict[str, np.ndarray] = PrivateAttr(default_factory=dict)

    @property
    def curves(self) -> dict[str, np.ndarray]:
        """Normalised curves (steps + 1 points), e.g. `deletion`, `random_insertion`."""
        return self._curves


class Explanation(BaseModel):
    """One map for one face: at the aligned crop's size and at the original image's size."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    method: str
    target: str
    score: float = Field(description="the explained output on the unchanged crop")
    value_range: tuple[float, float] = Field(description="(0, 1), or (-1, 1) for signed maps")
    layer: str | None = None
    face_box: Box | None = None
    crop_summary: MapSummary
    image_summary: MapSummary | None = None
    faithfulness: Faithfulness | None = None
    seconds: float = Field(description="time to compute the map (faithfulness excluded)")

    _crop_map: np.ndarray = PrivateAttr()
    _image_map: np.ndarray | None = PrivateAttr(default=None)
    _crop: np.ndarray = PrivateAttr()
    _image: np.ndarray | None = PrivateAttr(default=None)
    _matrix: np.ndarray | None = PrivateAttr(default=None)

    @property
    def crop_map(self) -> np.ndarray:
        """float32 map at the aligned crop's size."""
        return self._crop_map

    @property
    def image_map(self) -> np.ndarray | None:
        """float32 map at the original image's size (0 outside the crop)."""
        return self._image_map

    @property
    def crop(self) -> np.ndarray:
        """The aligned RGB crop the map explains."""
        return self._crop

    @property
    def image(self) -> np.ndarray | None:
        return self._image

    @property
    def matrix(self) -> np.ndarray | None:
        """2×3 alignment transform, image -> crop."""
        return self._matrix

    @property
    def signed(self) -> bool:
        return self.value_range[0] < 0


class PairExplanation(BaseModel):
    """Similar (> 0) and dissimilar (< 0) regions of both faces of a verification pair."""

    method: str
    embedder: str = Field(description="the recogniser explained (its similarity, threshold)")
    similarity: float
    threshold: float
    same_person: bool
    a: Explanation
    b: Explanation


class Reconstruction(BaseModel):
    """A face decoded from its embedding: what the recogniser keeps of it (not a photo of
    the person). The arrays are the aligned source crop, the reconstruction and the region
    map, all at the decoder's size."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: str
    size: int = Field(description="the crops' side in pixels")
    face_box: Box | None = None
    cosine: float = Field(
        description="cosine between the face's embedding and its reconstruction's embedding"
    )
    region_summary: MapSummary = Field(
        description="how much each pixel of the reconstruction moves when the embedding moves "
        "along its top principal directions (0..1, relative to the face's largest change)"
    )
    seconds: float = Field(description="time to decode and map (detection excluded)")

    _source: np.ndarray = PrivateAttr()
    _reconstruction: np.ndarray = PrivateAttr()
    _region_map: np.ndarray = PrivateAttr()

    @property
    def source(self) -> np.ndarray:
        """The aligned RGB crop of the input face (what the reconstruction is compared to)."""
        return self._source

    @property
    def reconstruction(self) -> np.ndarray:
        return self._reconstruction

    @property
    def region_map(self) -> np.ndarray:
        return self._region_map


class ReconstructionPair(BaseModel):
    """Both faces' reconstructions and where they differ (mean |RGB difference|, 0..1)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    similarity: float = Field(description="cosine between the two faces' embeddings")
    reconstruction_similarity: float = Field(
        description="cosine between the two reconstructions' embeddings"
    )
    difference_summary: MapSummary
    a: Reconstruction
    b: Reconstruction
    pair_maps: PairExplanation | None = Field(
        default=None, description="the similar/dissimilar maps of the pair, when asked for"
    )

    _difference: np.ndarray = PrivateAttr()

    @property
    def difference(self) -> np.ndarray:
        return self._difference
