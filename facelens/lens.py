"""FaceLens: the entry object. Models load once per process and are shared."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelens.attributes.choice import AttributeChoice, ModelSpec, choose
from facelens.budget import DEFAULT_BUDGET, InputBudget
from facelens.detection.detector import DEFAULT_DETECTOR, DETECTORS, FaceDetector, FoundFaces
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import ImageInput, load_image
from facelens.models.onnx_model import shared
from facelens.recognition.base import Embedder
from facelens.recognition.dlib import DlibEmbedder
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, threshold_for
from facelens.recognition.registry import DEFAULT_EMBEDDER, check_embedder, get_embedder
from facelens.types import Box, Face, ImageResult, Landmarks, Quality, Verification

if TYPE_CHECKING:
    from facelens.gallery.gallery import Gallery
    from facelens.quality.policies import Policy
    from facelens.types import Liveness
    from facelens.video.analysis import VideoAnalysis


class FaceLens:
    """Detect, embed and verify faces.

    Cheap to create and safe to share between threads: the networks behind it are loaded
    lazily, once per process.

    flip: fuse each embedding with that of the mirrored chip (slower, see README figures).
    budget: the input limits every image is checked against before any work (facelens.budget).
    embedder: the recognition network by name, "fused" (default: [SFace, 1.7·dlib]), "sface"
    or "dlib" (facelens.recognition.registry; figures in the README).
    detector: "yunet" (scene faces from ~10 px, profiles) or "blazeface" (BlazeFace front, the
        first design); see facelens.detection.detector.
    attribute_models: which model predicts an attribute, replacing the default: "age" and
        "gender" take "faceapi-utk" (face-api's crop network fine-tuned here: the default
        for gender), "faceapi" (face-api's own weights), "head" (the shipped heads on the
        fused embedding) or the path of a file made by `facelens train age|gender|crop`;
        "age" also "dlib-head" (the default: a head on the dlib vector quality computes
        anyway, blended with "faceapi-utk"); "expression" takes
        "mini-xception", "faceapi-fer" (a head trained here on face-api's expression
        features), the path of a network made by `facelens train expression`, or
        several joined by "+" (their calibrated probabilities averaged; the default is
        "mini-xception+faceapi-fer") (facelens.attributes.choice).
    """

    def __init__(
        self,
        flip: bool = False,
        budget: InputBudget = DEFAULT_BUDGET,
        embedder: str = DEFAULT_EMBEDDER,
        detector: str = DEFAULT_DETECTOR,
        attribute_models: Mapping[str, ModelSpec] | AttributeChoice | None = None,
    ) -> None:
        if detector not in DETECTORS:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"detector must be one of {', '.join(DETECTORS)}, got {detector!r}",
            )
        self.flip = flip
        if not isinstance(budget, InputBudget):
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"budget must be a facelens.budget.InputBudget, got {type(budget).__name__}",
            )
        self.budget = budget
        self.embedder_name = check_embedder(embedder)
        self.detector_name = detector
        self.attribute_models = choose(attribute_models)

    @property
    def detector(self) -> FaceDetector:
        return FaceDetector.shared(self.detector_name)

    @property
    def embedder(self) -> Embedder:
        return get_embedder(self.embedder_name)

    @property
    def quality_embedder(self) -> DlibEmbedder:
        """The network behind quality's embedding stability: the quality model and its
        thresholds were fitted on dlib's embedding, so it stays dlib whatever recognises."""
        return shared(DlibEmbedder)  # type: ignore[return-value]

    def detect(
        self, image: ImageInput, tiles: int | None = None, largest: bool = False
    ) -> ImageResult:
        """Every face in the image, largest first, with box, score and five landmarks.

        tiles: look harder for small faces. YuNet: run at tiles× its input size, at
        most the photo's own and the budget's max_detector_side. BlazeFace: also look in a
        tiles×tiles grid (≈5× the cost at 2); with tiles=None tiled only when a big photo
        shows no face at all. largest: only the largest face is wanted, as `verify` wants it
        (the detector may stop at a coarse pass; the first face is then what verify compares)."""
        self.budget.check_tiles(tiles)
        rgb = load_image(image, self.budget)
        detections = self.detector.detect(rgb, tiles=tiles, largest=largest)
        return ImageResult(width=rgb.shape[1], height=rgb.shape[0], faces=_faces(detections))

    def embed(self, image: ImageInput) -> ImageResult:
        """`detect`, plus an L2-normalised embedding for every face (one batched call)."""
        rgb = load_image(image, self.budget)
        detections = self.detector.detect(rgb)
        faces = _faces(detections)
        embeddings = self.embed_found(rgb, detections)
        for face, vector in zip(faces, embeddings, strict=True):
            face._embedding = vector
            face.embedding = [round(float(v), 6) for v in vector]
        return ImageResult(width=rgb.shape[1], height=rgb.shape[0], faces=faces)

    def analyze(
        self,
        image: ImageInput,
        quality: bool = True,
        attributes: bool = True,
        embedding: bool = False,
        quality_heatmap: bool = False,
    ) -> ImageResult:
        """Everything about every face: detection, quality, age, gender, expression and
        (on request) the embedding and the quality heat map (`face.quality.heatmap`).
        One decode, one detection, every head batched."""
        rgb = load_image(image, self.budget)
        detections = self.detector.detect(rgb)
        faces = _faces(detections)
        known: dict[str, np.ndarray] = {}  # what attribute heads on an embedding may reuse
        if embedding:
            known[self.embedder_name] = self.embed_found(rgb, detections)
            for face, vector in zip(faces, known[self.embedder_name], strict=True):
                face._embedding = vector
                face.embedding = [round(float(v), 6) for v in vector]
        if quality and faces:
            from facelens.quality import assess_quality

            assessed = assess_quality(
                rgb, detections, self.quality_embedder, heatmap=quality_heatmap
            )
            for face, judged in zip(faces, assessed, strict=True):
                face.quality = judged
            known = {**self.reusable_vectors(assessed), **known}
        if attributes and faces:
            from facelens.attributes import predict_attributes

            predicted = predict_attributes(rgb, detections, self.attribute_models, known, self.flip)
            for face, (age, gender, expression) in zip(faces, predicted, strict=True):
                face.age, face.gender, face.expression = age, gender, expression
        return ImageResult(width=rgb.shape[1], height=rgb.shape[0], faces=faces)

    def video(
        self,
        source: str | int | Path,
        every: int = 1,
        max_frames: int | None = None,
        duration: float | None = None,
        gallery: Gallery | None = None,
        quality: bool = True,
        attributes: bool = True,
        *,
        name: str | None = None,
    ) -> VideoAnalysis:
        """Faces of a video file, a camera (index, e.g. 0) or a stream URL, tracked.

        Iterate for one VideoFrame per analysed frame (every `every`-th), each face with its
        track id; `.summary()` afterwards gives every Track (first/last frame, best view and
        its quality, attributes over the track, identity from `gallery`). A camera or stream
        runs until max_frames frames or `duration` seconds; close() stops it sooner. `name`:
        how errors and the summary's `info.source` name the source instead of its path or URL
        (e.g. "the uploaded clip" for a server's temporary file)."""
        from facelens.video.analysis import VideoAnalysis

        return VideoAnalysis(
            self, source, every, max_frames, duration, gallery, quality, attributes, name=name
        )

    def liveness(
        self,
        source: str | int | Path,
        challenge: list[str] | str | None = None,
        every: int = 1,
        duration: float | None = None,
        *,
        name: str | None = None,
    ) -> Liveness:
        """Is the most prominent face of a clip (file, camera index or stream URL) a live
        person? Passive cues (blinks, non-rigid motion, frozen frames), and, with `challenge`
        (e.g. ["blink", "left", "right"], the order the person was asked in, 5 s each from the
        clip's start), the answers to it. A camera or stream is read for `duration` (30 s).
        `name`: how errors name the source instead of its path or URL (as in video)."""
        from facelens.liveness.clip import check_clip

        return check_clip(self, source, challenge, every, duration, name=name)

    def reusable_vectors(self, qualities: list[Quality]) -> dict[str, np.ndarray]:
        """What quality's stability measure computed that an attribute head may reuse: the
        quality embedder's plain vectors of these faces ({} with flip, whose heads read
        flip-fused vectors)."""
        vectors = [q.embedding for q in qualities]
        if self.flip or not vectors or any(v is None for v in vectors):
            return {}
        return {self.quality_embedder.name: np.stack(vectors)}  # type: ignore[arg-type]

    def embed_found(
        self, rgb: np.ndarray, found: FoundFaces, pick: slice | list[int] = slice(None)
    ) -> np.ndarray:
        """Embeddings of the detected faces `found[pick]` of an RGB image."""
        return self.embedder.embed_faces(rgb, found.points[pick], found.mesh[pick], self.flip)

    def verify(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        operating_point: str = DEFAULT_OPERATING_POINT,
        face_a: int = 0,
        face_b: int = 0,
        policy: str | None = None,
        retake_below: float | None = None,
    ) -> Verification:
        """Are the chosen faces (default: the largest of each image) the same person?

        Both faces' quality is assessed first. A `retake` face is refused (status "retake",
        the reasons, no decision: same_person is None); a `low` face gives a decision "for
        reference only" (status "low"). `policy` (strict, lenient, identity_check; see
        facelens.quality.policies) replaces the operating point's threshold and gates with
        its own measured threshold and quality floor. `retake_below` overrides the default
        retake threshold of the quality score.
        """
        self.decision_rule(operating_point, policy)  # a bad name fails before any work
        # both photos decoded before either is analysed: a bad photo B costs no work on A
        rgb_a, rgb_b = (load_image(image, self.budget) for image in (image_a, image_b))
        first = self.verification_face(rgb_a, face_a, "image_a", retake_below)
        second = self.verification_face(rgb_b, face_b, "image_b", retake_below)
        return self.decide(first, second, operating_point, policy)

    def verification_face(
        self,
        image: ImageInput,
        index: int = 0,
        which: str = "image",
        retake_below: float | None = None,
    ) -> Face:
        """One side of a verification: the chosen face with its embedding and quality (what
        `decide` compares; batch verification reuses it for photos in several pairs)."""
        from facelens.quality import QualityConfig, assess_quality

        config = (
            QualityConfig() if retake_below is None else QualityConfig(retake_below=retake_below)
        )
        rgb = load_image(image, self.budget)
        detections = self.detector.detect(rgb, largest=index == 0)
        found = ImageResult(width=rgb.shape[1], height=rgb.shape[0], faces=_faces(detections))
        face = _pick(found, index, which)
        face._embedding = self.embed_found(rgb, detections, slice(index, index + 1))[0]
        face.embedding = [round(float(v), 6) for v in face._embedding]
        face.quality = assess_quality(rgb, detections, self.quality_embedder, config=config)[index]
        return face

    def decision_rule(
        self, operating_point: str, policy: str | None
    ) -> tuple[Policy | None, float]:
        """The policy (if named) and the similarity threshold a decision uses."""
        from facelens.quality.policies import get_policy

        if policy:
            chosen = get_policy(policy, self.flip, self.embedder_name)
            return chosen, chosen.threshold
        return None, threshold_for(operating_point, self.flip, self.embedder_name)

    def decide(
        self,
        first: Face,
        second: Face,
        operating_point: str = DEFAULT_OPERATING_POINT,
        policy: str | None = None,
    ) -> Verification:
        """The verification of two faces from `verification_face` (see `verify`)."""
        chosen, threshold = self.decision_rule(operating_point, policy)
        similarity = float(np.dot(first.embedding_array, second.embedding_array))
        status, reasons = "ok", []
        for label, face in (("photo A", first), ("photo B", second)):
            quality = face.quality
            assert quality is not None
            refused = quality.verdict == "retake" or (
                chosen is not None and quality.score < chosen.min_quality
            )
            if refused:
                status = "retake"
                why = ", ".join(quality.reasons) or f"quality {quality.score:.2f} too low"
                reasons.append(f"{label}: please retake ({why})")
            elif quality.verdict == "low":
                status = "low" if status == "ok" else status
                why = ", ".join(quality.reasons) or f"quality {quality.score:.2f}"
                reasons.append(f"{label}: low quality, for reference only ({why})")
        return Verification(
            similarity=round(similarity, 6),
            threshold=threshold,
            operating_point=chosen.name if chosen else operating_point,
            same_person=None if status == "retake" else similarity > threshold,
            status=status,  # type: ignore[arg-type]
            reasons=reasons,
            face_a=first,
            face_b=second,
        )


def _faces(detections: FoundFaces) -> list[Face]:
    faces = []
    for index in range(len(detections.boxes)):
        face = Face(
            index=index,
            box=Box.from_array(detections.boxes[index]),
            detection_score=round(float(detections.scores[index]), 4),
            landmarks=Landmarks.from_array(detections.points[index]),
        )
        face._mesh = detections.mesh[index]
        faces.append(face)
    return faces


def _pick(result: ImageResult, index: int, which: str) -> Face:
    if not result.faces:
        raise FaceLensError(ErrorCode.NO_FACE, f"no face was found in {which}")
    if not 0 <= index < len(result.faces):
        raise FaceLensError(
            ErrorCode.FACE_INDEX,
            f"{which} has {len(result.faces)} face(s); face index {index} does not exist",
        )
    return result.faces[index]
