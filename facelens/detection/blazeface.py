"""BlazeFace-family face detectors (MediaPipe SSD heads) on ONNX Runtime.

Four shipped variants, all the same SSD decoding with different anchor grids:

| variant                  | input | anchors (strides × anchors per cell)       |
| ------------------------ | ----- | ------------------------------------------ |
| front                    | 128   | 16²×2 (stride 8) + 8²×6 (stride 16) = 896  |
| back                     | 256   | 16²×2 (stride 16) + 8²×6 (stride 32) = 896 |
| short (facemesh-det.)    | 128   | as front                                   |
| full (facemesh-det.)     | 192   | 48²×1 (stride 4) = 2304                    |

"short" is the front network again (same outputs to fp16 rounding: its weights are stored as
float16). `front` is the default: best LFW and image-border recall and the fastest; a single
128 px pass misses small faces in big group photos, which `detect(image, tiles=2)` recovers.
Numbers: `python -m facelens.eval.detection`.

Keypoints come in the model's order, `KEYPOINT_NAMES`: the subject's right eye (on the image's
left in a frontal, unmirrored photo), left eye, nose tip, mouth centre, right ear tragion,
left ear tragion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from facelens.budget import DEFAULT_BUDGET
from facelens.models.onnx_model import OnnxModel, shared

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")


@dataclass
class Detections:
    """Faces found in one image, in original image pixels, best score first."""

    boxes: np.ndarray  # (N, 4) float32 x1, y1, x2, y2
    scores: np.ndarray  # (N,) float32 in [0, 1]
    keypoints: np.ndarray  # (N, 6, 2) float32 x, y in KEYPOINT_NAMES order

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 6, 2), np.float32)
        )

    def take(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.keypoints[index])


def ssd_anchors(size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres (A, 2) in input pixels, as MediaPipe's SsdAnchorsCalculator lays them out
    with fixed_anchor_size: consecutive layers of one stride share a grid, each adding
    `per_layer` anchors (aspect ratio 1.0 plus the interpolated scale) per cell."""
    grids = []
    for stride in dict.fromkeys(strides):  # unique, in order
        cells = -(-size // stride)
        ys, xs = np.mgrid[:cells, :cells]
        centres = (np.stack([xs, ys], -1).reshape(-1, 2) + 0.5) * (size / cells)
        grids.append(np.repeat(centres, per_layer * strides.count(stride), axis=0))
    return np.concatenate(grids).astype(np.float32)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each of `boxes`."""
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(dets: Detections, iou_threshold: float) -> Detections:
    """MediaPipe's WEIGHTED non-max suppression: each kept face is the score-weighted mean of
    the boxes and keypoints it suppresses (steadier boxes than hard NMS), with the top score.
    Loops over surviving detections only (a handful), never over anchors."""
    order = np.argsort(-dets.scores)
    boxes, scores, kps = dets.boxes[order], dets.scores[order], dets.keypoints[order]
    out_b, out_s, out_k = [], [], []
    while len(scores):
        group = box_iou(boxes[0], boxes) > iou_threshold
        group[0] = True
        w = scores[group, None]
        out_b.append((boxes[group] * w).sum(0) / w.sum())
        out_k.append((kps[group] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[0])
        boxes, scores, kps = boxes[~group], scores[~group], kps[~group]
    if not out_s:
        return Detections.empty()
    return Detections(
        np.array(out_b, np.float32), np.array(out_s, np.float32), np.array(out_k, np.float32)
    )


def hard_nms(dets: Detections, iou_threshold: float) -> Detections:
    """Plain NMS (OpenCV): keep the best box of each cluster unchanged."""
    xywh = np.concatenate([dets.boxes[:, :2], dets.boxes[:, 2:] - dets.boxes[:, :2]], 1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), dets.scores.tolist(), 0.0, iou_threshold)
    return dets.take(np.asarray(keep, dtype=np.int64).reshape(-1))


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Resize keeping the aspect ratio and pad to size×size (centred, black): the networks were
    trained on undistorted faces. Returns the square, the scale and the (x, y) padding."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    # area averaging when shrinking avoids aliasing that costs small faces
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    px, py = (size - nw) // 2, (size - nh) // 2
    square = cv2.copyMakeBorder(
        resized, py, size - nh - py, px, size - nw - px, cv2.BORDER_CONSTANT, value=(0, 0, 0)
    )
    return square, scale, np.array([px, py], np.float32)


class BlazeFace(OnnxModel):
    """One detector variant; use a subclass (or `detector(variant)`)."""

    input_size = 128
    strides: tuple[int, ...] = (8, 16, 16, 16)
    per_layer = 2
    score_threshold = 0.5
    iou_threshold = 0.3
    weighted = True  # weighted NMS (see evaluate_detectors for the comparison)

    @cached_property
    def anchors(self) -> np.ndarray:
        return ssd_anchors(self.input_size, self.strides, self.per_layer)

    def raw(self, squares: np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 RGB → (B, A, 17): score logit, box (cx, cy, w, h), 6 keypoints."""
        batch = squares.astype(np.float32) / 127.5 - 1.0  # the [-1, 1] range MediaPipe feeds
        outs = self.run(batch)
        if len(outs) == 4:  # blazeface-front/back: classificators_1/2, regressors_1/2
            return np.concatenate(
                [np.concatenate(outs[:2], 1), np.concatenate(outs[2:], 1)], axis=2
            )
        return outs[0]  # facemesh-detection: `objects` or `face` (first output)

    def decode(self, raw: np.ndarray) -> Detections:
        """One view's (A, 17) head output → candidates above threshold, input pixels, no NMS."""
        logits = np.clip(raw[:, 0], -100, 100)
        keep = np.flatnonzero(logits > np.log(self.score_threshold / (1 - self.score_threshold)))
        reg, anchors = raw[keep, 1:], self.anchors[keep]
        centre, half = reg[:, :2] + anchors, reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], 1)
        kps = reg[:, 4:].reshape(-1, 6, 2) + anchors[:, None]
        scores = 1 / (1 + np.exp(-logits[keep]))
        return Detections(boxes, scores.astype(np.float32), kps)

    def views(self, image: np.ndarray, tiles: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """The whole image, plus for tiles > 1 a tiles×tiles grid (per long side) of square tiles
        overlapping by ≥ 25 %, cut from a copy shrunk so a tile is about the input size.
        Each view comes with its (x, y) offset and scale in the original image."""
        out = [(image, np.zeros(2), 1.0)]
        if tiles <= 1:
            return out
        h, w = image.shape[:2]
        side = min(h, w, round(max(h, w) * 1.25 / tiles))
        f = min(1.0, self.input_size / side)
        small = (
            image if f == 1 else cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        )
        t = round(side * f)

        def starts(length: int) -> np.ndarray:
            n = 1 if length <= t else int(np.ceil((length - t) / (0.75 * t))) + 1
            return np.linspace(0, max(length - t, 0), n).round().astype(int)

        rows, columns = starts(small.shape[0]), starts(small.shape[1])
        DEFAULT_BUDGET.check_views(1 + len(rows) * len(columns))  # before any tile is cut
        for y in rows:
            for x in columns:
                out.append((small[y : y + t, x : x + t], np.array([x, y]) / f, f))
        return out

    def detect(self, image: np.ndarray, tiles: int = 1) -> Detections:
        """All faces in an RGB uint8 image (H×W×3), boxes and keypoints in image pixels.

        tiles=1 is one letterboxed pass; tiles=2 adds a 2×2-ish grid of overlapping tiles for
        small faces in big group photos (about 5× the cost)."""
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        image = image[:, :, :3]
        h, w = image.shape[:2]
        views = self.views(image, tiles)
        boxed = [letterbox(view, self.input_size) for view, _, _ in views]
        raws = self.raw(np.stack([square for square, _, _ in boxed]))
        found = []
        for i, (raw, (view, offset, f), (_, scale, pad)) in enumerate(
            zip(raws, views, boxed, strict=True)
        ):
            d = self.decode(raw)
            d.boxes = (d.boxes - np.tile(pad, 2)) / (scale * f) + np.tile(offset, 2)
            d.keypoints = (d.keypoints - pad) / (scale * f) + offset
            if i:  # a tile: drop faces cut by an edge inside the image
                end = offset + np.array(view.shape[1::-1]) / f
                inside = ((d.boxes[:, :2] >= offset) | (offset <= 0)).all(1) & (
                    (d.boxes[:, 2:] <= end) | (end >= [w - 1, h - 1])
                ).all(1)
                d = d.take(inside)
            found.append(d)
        merged = Detections(
            *(
                np.concatenate([getattr(d, k) for d in found]).astype(np.float32)
                for k in ("boxes", "scores", "keypoints")
            )
        )
        return (weighted_nms if self.weighted else hard_nms)(merged, self.iou_threshold)


class BlazeFaceFront(BlazeFace):
    """MediaPipe front-camera BlazeFace, 128 px: faces filling much of a selfie-like frame."""

    file_name = "blazeface-front.onnx"


class BlazeFaceBack(BlazeFace):
    """MediaPipe back-camera BlazeFace, 256 px: smaller faces further away."""

    file_name = "blazeface-back.onnx"
    input_size = 256
    strides = (16, 32, 32, 32)


class FaceDetectionShort(BlazeFace):
    """MediaPipe face_detection_short_range (human's facemesh-detection-short), 128 px."""

    file_name = "facemesh-detection-short.onnx"


class FaceDetectionFull(BlazeFace):
    """MediaPipe face_detection_full_range (human's facemesh-detection-full), 192 px."""

    file_name = "facemesh-detection-full.onnx"
    input_size = 192
    strides = (4,)
    per_layer = 1


VARIANTS: dict[str, type[BlazeFace]] = {
    "front": BlazeFaceFront,
    "back": BlazeFaceBack,
    "short": FaceDetectionShort,
    "full": FaceDetectionFull,
}


def detector(variant: str = "front") -> BlazeFace:
    """The process-wide detector of one variant (see VARIANTS)."""
    model = shared(VARIANTS[variant])
    assert isinstance(model, BlazeFace)
    return model
