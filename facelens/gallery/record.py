"""Which embedder wrote a gallery's templates: one record per gallery, checked on open.

Every template of a gallery comes from one embedder, so the record is gallery-level (SQLite:
the `meta` row `embedder`; Milvus: the collection property `facelens.embedder`; exports: the
`embedder` array). Vectors of two embedders are never comparable: a mismatch is an error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from facelens.errors import ErrorCode, FaceLensError


@dataclass(frozen=True)
class EmbedderRecord:
    name: str
    version: str
    dimension: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmbedderRecord:
        found = json.loads(text)
        return cls(str(found["name"]), str(found["version"]), int(found["dimension"]))

    @property
    def flip(self) -> bool:
        """Whether the templates are flip-fused (FaceLens(flip=True))."""
        return self.version.endswith(FLIP_FUSED)

    def __str__(self) -> str:
        return f"{self.name} ({self.version}, {self.dimension}-d)"


# A flip-fused template (the chip's and its mirror image's embeddings summed) is not the plain
# one: the two differ slightly and have their own thresholds, so the record tells them apart.
FLIP_FUSED = ", flip-fused"


# Galleries and exports written before records existed hold dlib's templates: the Gallery
# accepted no other embedder, and 128 was the only dimension it opened.
LEGACY_EMBEDDER = EmbedderRecord("dlib", "dlib_face_recognition_resnet_model_v1", 128)
MIGRATION = (
    "to change embedder, re-enrol the source photos into a new gallery with the new embedder"
    " (Gallery(NEW, lens=FaceLens(embedder=...)).enroll_dir(PHOTOS) resumes where it stopped);"
    " an export holds embeddings, not photos, so it cannot be re-embedded"
)


def unrecorded(dimension: int) -> EmbedderRecord:
    """What a gallery or export without a record holds."""
    if dimension == LEGACY_EMBEDDER.dimension:
        return LEGACY_EMBEDDER
    return EmbedderRecord("unrecorded", "", dimension)  # a raw store of another size


def record_of(embedder: Any, flip: bool = False) -> EmbedderRecord:
    """The record of a facelens.recognition embedder (anything with name/version/dimension),
    its embeddings flip-fused or not."""
    version = embedder.version + (FLIP_FUSED if flip else "")
    return EmbedderRecord(embedder.name, version, int(embedder.dimension))


def check_record(found: EmbedderRecord, wanted: EmbedderRecord | None, where: object) -> None:
    """Refuse (`embedder_mismatch`) templates of another embedder; None accepts any."""
    if wanted is not None and found != wanted:
        raise FaceLensError(
            ErrorCode.EMBEDDER_MISMATCH,
            f"{where} holds templates of embedder {found}, not of {wanted}; {MIGRATION}",
        )
