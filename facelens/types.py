"""Result types: one shape for the Python API, the CLI's --json and the REST API."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

LANDMARK_NAMES = ("left_eye", "right_eye", "nose_tip", "mouth_left", "mouth_right")


class Box(BaseModel):
    """Face box in original image pixels (x1, y1 top-left; x2, y2 bottom-right)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @classmethod
    def from_array(cls, xyxy: np.ndarray) -> Box:
        x1, y1, x2, y2 = (round(float(v), 2) for v in xyxy)
        return cls(x1=x1, y1=y1, x2=x2, y2=y2)


class Landmarks(BaseModel):
    """The five alignment points, (x, y) in image pixels.

    `left_eye` is the subject's left eye (on the right side of a frontal photo).
    """

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    nose_tip: tuple[float, float]
    mouth_left: tuple[float, float]
    mouth_right: tuple[float, float]

    @classmethod
    def from_array(cls, points: np.ndarray) -> Landmarks:
        values = {
            name: (round(float(x), 2), round(float(y), 2))
            for name, (x, y) in zip(LANDMARK_NAMES, points, strict=True)
        }
        return cls(**values)

    def to_array(self) -> np.ndarray:
        return np.array([getattr(self, n) for n in LANDMARK_NAMES], dtype=np.float32)


class QualityComponent(BaseModel):
    """One ISO/IEC 29794-5 style measure: its raw value and a 0-100 score (100 = best)."""

    raw: float
    score: float = Field(ge=0.0, le=100.0)


class Quality(BaseModel):
    """Can this face be trusted? Score in [0, 1], band, verdict and the reasons."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    score: float = Field(ge=0.0, le=1.0)
    band: Literal["green", "yellow", "orange", "red"]
    verdict: Literal["ok", "low", "retake"]
    reasons: list[str] = Field(default_factory=list)
    components: dict[str, QualityComponent] = Field(default_factory=dict)
    roi: Box | None = Field(default=None, description="region whose pixels are trustworthy")

    _heatmap: np.ndarray | None = PrivateAttr(default=None)
    _chip_matrix: np.ndarray | None = PrivateAttr(default=None)
    _embedding: np.ndarray | None = PrivateAttr(default=None)

    @property
    def embedding(self) -> np.ndarray | None:
        """The unit embedding of the unperturbed chip by the network behind the stability
        measure (FaceLens.quality_embedder, dlib): the attribute heads on dlib reuse it."""
        return self._embedding

    @property
    def heatmap(self) -> np.ndarray | None:
        """Per-region effect on the score (computed on request), in [-1, 1], over the
        aligned chip (see `chip_matrix`)."""
        return self._heatmap

    @property
    def chip_matrix(self) -> np.ndarray | None:
        """2×3 affine transform from the photo to the aligned chip quality measured."""
        return self._chip_matrix


class Age(BaseModel):
    years: float
    interval: tuple[float, float] = Field(description="90% interval, years")
    bucket: str = Field(description="Adience-style bucket such as (25-32)")


class Gender(BaseModel):
    label: Literal["female", "male"]
    probability: float = Field(ge=0.0, le=1.0)


class Expression(BaseModel):
    label: str
    probability: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]


class Face(BaseModel):
    """One detected face and everything computed for it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: int = Field(description="position of the face in the image's result, largest first")
    box: Box
    detection_score: float = Field(ge=0.0, le=1.0)
    landmarks: Landmarks
    embedding: list[float] | None = Field(
        default=None, description="L2-normalised recognition embedding (128-d)"
    )

    quality: Quality | None = None
    age: Age | None = None
    gender: Gender | None = None
    expression: Expression | None = None

    # Arrays kept for later stages (alignment, explanations); never serialised.
    _mesh: np.ndarray | None = PrivateAttr(default=None)
    _embedding: np.ndarray | None = PrivateAttr(default=None)

    @property
    def label(self) -> str:
        """One line in the form older tools print, e.g. `Female, (25-32), 92%`."""
        parts = []
        if self.gender is not None:
            parts.append(self.gender.label.capitalize())
        if self.age is not None:
            parts.append(self.age.bucket)
        if self.gender is not None:
            parts.append(f"{self.gender.probability * 100:.0f}%")
        return ", ".join(parts)

    @property
    def mesh(self) -> np.ndarray | None:
        """The 468 face-mesh points (x, y, z) in image pixels, when computed."""
        return self._mesh

    @property
    def embedding_array(self) -> np.ndarray:
        if self._embedding is None:
            raise ValueError("this face has no embedding; call FaceLens.embed or analyze")
        return self._embedding


class ImageResult(BaseModel):
    """All faces of one image."""

    width: int
    height: int
    faces: list[Face]


class Verification(BaseModel):
    """The answer to "are these two faces the same person?"."""

    similarity: float = Field(description="cosine similarity of the two embeddings, in [-1, 1]")
    threshold: float
    operating_point: str
    same_person: bool | None = Field(description="None when a photo was refused (retake)")
    status: Literal["ok", "low", "retake"] = Field(
        default="ok",
        description="ok; low: for reference only (a face is of low quality); retake: refused",
    )
    reasons: list[str] = Field(default_factory=list, description="why the status is not ok")
    face_a: Face
    face_b: Face


class EnrolledImage(BaseModel):
    """What happened to one photo offered for enrolment."""

    source: str
    status: Literal["enrolled", "duplicate", "refused", "no_face", "other_person"]
    template_id: str | None = None
    quality: Quality | None = None
    reasons: list[str] = Field(default_factory=list)


class Enrollment(BaseModel):
    person: str
    images: list[EnrolledImage]

    @property
    def enrolled(self) -> int:
        return sum(item.status == "enrolled" for item in self.images)


class GalleryMatch(BaseModel):
    person: str
    similarity: float
    template_id: str


class Identification(BaseModel):
    """1:N search: the best people, and who it is (None = unknown, open set)."""

    identity: str | None
    threshold: float
    operating_point: str
    matches: list[GalleryMatch]
    face: Face
    status: Literal["ok", "low", "retake"] = "ok"
    reasons: list[str] = Field(default_factory=list)


class Person(BaseModel):
    name: str
    templates: int


class TrackedFace(Face):
    """A face of one video frame, with the track it belongs to."""

    track_id: int = Field(description="same number for the same face across frames")


class Track(BaseModel):
    """One face followed through a video: from its first to its last frame in one shot."""

    track_id: int
    first_frame: int
    last_frame: int
    first_time: float = Field(description="seconds from the start of the video")
    last_time: float
    detections: int = Field(description="analysed frames in which the face was found")
    end: Literal["cut", "lost", "end"] = Field(
        description="cut: a shot cut; lost: missed too long; end: the video or analysis ended"
    )
    best_frame: int = Field(description="the frame of the best-quality view")
    best: Face = Field(description="the face in best_frame, its quality and attributes")
    age: Age | None = Field(default=None, description="median over the best-looking frames")
    gender: Gender | None = Field(default=None, description="mean over the best-looking frames")
    expression: Expression | None = Field(default=None, description="mean over the same frames")
    identity: str | None = Field(default=None, description="gallery person; None = unknown")
    matches: list[GalleryMatch] = Field(default_factory=list)
    identity_threshold: float | None = None


class VideoFrame(BaseModel):
    """One analysed frame: its tracked faces, and the tracks that ended at it."""

    index: int = Field(description="frame number in the video, from 0")
    time: float = Field(description="seconds from the start")
    cut: bool = Field(description="a shot cut since the previous analysed frame")
    faces: list[TrackedFace]
    ended: list[Track] = Field(default_factory=list)


class VideoInfo(BaseModel):
    source: str
    kind: Literal["file", "camera", "stream"]
    width: int
    height: int
    fps: float
    frame_count: int | None = Field(description="declared by the file; None for live sources")


class VideoSummary(BaseModel):
    """The whole run: what was read, where the cuts are, every track."""

    info: VideoInfo
    frames_read: int
    frames_analysed: int
    stopped: Literal["end", "max_frames", "duration", "closed"]
    cuts: list[int] = Field(description="first frame of each new shot")
    tracks: list[Track]
    seconds: float = Field(description="wall-clock time of the analysis")
    stage_ms: dict[str, float] = Field(description="total milliseconds per stage")


class VideoResult(BaseModel):
    """A clip's full answer (REST): the summary plus every analysed frame."""

    summary: VideoSummary
    frames: list[VideoFrame]


class LivenessStep(BaseModel):
    """One prompt of the active challenge and how the subject answered it."""

    action: Literal["blink", "left", "right"] = Field(
        description="blink, or turn the head to the subject's own left or right"
    )
    status: Literal["passed", "failed", "pending", "waiting"] = Field(
        description="pending: asked, time still running; waiting: not asked yet"
    )
    asked_at: float | None = Field(default=None, description="seconds from the clip's start")
    deadline: float | None = None
    done_at: float | None = Field(default=None, description="when it was seen done")
    reason: str | None = None


class LivenessEvidence(BaseModel):
    """The subject's signals over time, for plots (times in seconds from the start)."""

    times: list[float] = Field(default_factory=list)
    eye_openness: list[float] = Field(
        default_factory=list, description="lid gap over eye width (both eyes)"
    )
    yaw: list[float] = Field(default_factory=list, description="degrees; > 0: subject's left")
    pitch: list[float] = Field(default_factory=list)
    residual_times: list[float] = Field(default_factory=list)
    residuals: list[float] = Field(
        default_factory=list,
        description="non-rigid share of the mesh's motion over 0.3 s (a flat picture: ~0)",
    )
    blinks: list[tuple[float, float]] = Field(default_factory=list, description="start, end")


class LivenessCues(BaseModel):
    """The passive cues' figures."""

    seconds: float = Field(description="time the subject was seen")
    frames: int
    face_side: float = Field(description="median face box side, pixels")
    blinks: int
    motion: float | None = Field(description="median mesh motion over 0.3 s / face radius")
    residual: float | None = Field(description="median homography residual / face radius")
    frozen_share: float = Field(description="share of frames identical to the previous one")


class Liveness(BaseModel):
    """Is the subject (the most prominent face) a live person in front of the camera?"""

    verdict: Literal["live", "spoof", "undecided"]
    reasons: list[str]
    track_id: int | None = Field(default=None, description="the subject's face track")
    cues: LivenessCues | None = None
    challenge: list[LivenessStep] = Field(default_factory=list)
    evidence: LivenessEvidence = Field(default_factory=LivenessEvidence)
    frames_read: int = 0
    seconds: float = Field(default=0.0, description="wall-clock time of the check")


class LivenessSession(BaseModel):
    """A live check's state after each frame the client sends (REST /v1/liveness/sessions)."""

    session_id: str
    challenge: list[Literal["blink", "left", "right"]]
    step_seconds: float
    time: float = Field(default=0.0, description="seconds since the session started")
    prompt: Literal["blink", "left", "right"] | None = Field(
        default=None, description="what the person is asked to do now (None: nothing, or done)"
    )
    faces: list[TrackedFace] = Field(default_factory=list, description="this frame's faces")
    done: bool = Field(default=False, description="every step decided, or the time is up")
    liveness: Liveness
