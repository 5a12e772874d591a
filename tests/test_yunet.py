"""YuNet: exact decoding of hand-made outputs, and the yunet detection design on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelens.detection.blazeface import Detections, box_iou
from facelens.detection.detector import YUNET_TO_FIVE, FaceDetector, snap_mesh
from facelens.detection.landmarks import five_points
from facelens.detection.yunet import STRIDES, YuNet, _settles_largest, decode
from facelens.eval import detection_scenes
from facelens.eval.detection import load_rgb as rgb
from facelens.lens import FaceLens

EXAMPLES = "face_recognition/examples"


def blank_outputs(height: int, width: int) -> dict[str, np.ndarray]:
    out = {}
    for s in STRIDES:
        cells = (height // s) * (width // s)
        for name, k in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)):
            out[f"{name}_{s}"] = np.zeros((cells, k), np.float32)
    return out


def test_decode_hand_made_cell() -> None:
    # a 64 x 96 input: stride 8 has 8 rows of 12 cells; the face sits in row 2, column 3
    out = blank_outputs(64, 96)
    index = 2 * 12 + 3
    out["cls_8"][index] = 0.81
    out["obj_8"][index] = 1.0
    out["bbox_8"][index] = [0.5, 0.5, np.log(4.0), np.log(2.0)]
    out["kps_8"][index] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    out["cls_16"][5] = 0.5  # score sqrt(0.5 * 0) = 0: below any threshold
    found = decode(out, 64, 96, threshold=0.6)
    assert len(found) == 1
    np.testing.assert_allclose(found.scores, [0.9], rtol=1e-6)
    # centre ((3 + 0.5) * 8, (2 + 0.5) * 8) = (28, 20); size (4 * 8, 2 * 8) = (32, 16)
    np.testing.assert_allclose(found.boxes[0], [12, 12, 44, 28], atol=1e-5)
    expected = (np.array([[3, 2], [4, 2], [3.5, 2.5], [3, 3], [4, 3]]) * 8).astype(np.float32)
    np.testing.assert_allclose(found.keypoints[0], expected, atol=1e-5)


def test_decode_threshold_and_clipping() -> None:
    out = blank_outputs(32, 32)
    out["cls_32"][0] = 1.2  # outside [0, 1]: clipped as OpenCV does, score sqrt(1 * 0.36)
    out["obj_32"][0] = 0.36
    assert len(decode(out, 32, 32, threshold=0.61)) == 0
    found = decode(out, 32, 32, threshold=0.6)
    np.testing.assert_allclose(found.scores, [0.6], rtol=1e-6)
    # centre (0 + 0) * 32 = 0, side exp(0) * 32: the box reaches past the corner
    np.testing.assert_allclose(found.boxes[0], [-16, -16, 16, 16], atol=1e-5)


def test_prepare_pads_to_32_in_bgr() -> None:
    image = np.random.default_rng(0).integers(0, 256, (33, 50, 3), dtype=np.uint8)
    batch, scale = YuNet().prepare(image, max_side=640)
    assert batch.shape == (1, 3, 64, 64) and scale == 1.0
    np.testing.assert_array_equal(batch[0, 0, :33, :50], image[:, :, 2])  # blue plane first
    np.testing.assert_array_equal(batch[0, 2, :33, :50], image[:, :, 0])
    assert not batch[0, :, 33:].any() and not batch[0, :, :, 50:].any()
    small, scale = YuNet().prepare(np.zeros((1000, 2000, 3), np.uint8), max_side=640)
    assert small.shape == (1, 3, 320, 640) and scale == pytest.approx(0.32)


def test_snap_mesh_follows_a_similarity() -> None:
    mesh = np.random.default_rng(1).normal(100, 20, (1, 468, 3)).astype(np.float32)
    angle, scale, shift = 0.3, 1.7, np.array([15.0, -40.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = five_points(mesh)[0] @ rotation.T + shift
    snapped = snap_mesh(mesh, target[None].astype(np.float32))
    np.testing.assert_allclose(snapped[0, :, :2], mesh[0, :, :2] @ rotation.T + shift, atol=1e-2)
    np.testing.assert_allclose(snapped[0, :, 2], mesh[0, :, 2] * scale, rtol=1e-3)


@pytest.fixture(scope="module")
def yunet() -> FaceDetector:
    return FaceDetector.shared("yunet")


@pytest.mark.parametrize(
    ("path", "count"),
    [
        ("inspireface/insightface_samples/t1.jpg", 6),
        (f"{EXAMPLES}/two_people.jpg", 2),
        (f"{EXAMPLES}/knn_examples/test/obama_and_biden.jpg", 3),  # with the girl front right
    ],
)
def test_counted_photos_in_one_pass(
    yunet: FaceDetector, data_dir: Path, path: str, count: int
) -> None:
    found = yunet.detect(rgb(data_dir / path))
    assert len(found) == count
    assert found.mesh.shape == (count, 468, 3) and (found.mesh_scores > 0.5).all()


def test_audience_score_counts_sure_faces_and_ignores_possible_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        detection_scenes,
        "AUDIENCE",
        {0: ([[0, 0, 40, 40], [100, 0, 140, 40]], [[200, 0, 300, 50]])},
    )
    boxes = np.array(
        [
            [2, 2, 42, 42],
            [0, 0, 40, 40],
            [210, 5, 250, 45],
            [400, 0, 440, 40],
            [100, 100, 140, 140],
        ],
        np.float32,
    )
    scores = np.array([0.9, 0.8, 0.9, 0.9, 0.4], np.float32)
    # one sure face found (its duplicate is a false positive), one missed; the detection in
    # the possible region counts as nothing; the one on no face is false; 0.4 is below 0.5
    assert detection_scenes.audience_score({0: (boxes, scores)}, 0.5) == {
        "found": 1,
        "of": 2,
        "false": 2,
    }


def test_audience_frames_of_the_real_clip(yunet: FaceDetector, data_dir: Path) -> None:
    """The hand-labelled audience frames: every sure face but the blurred man cut by the
    right edge of frame 265 (YuNet 0.66, the mesh disagrees), no false positive."""
    frames = detection_scenes.audience_frames(data_dir)
    assert sorted(frames) == sorted(detection_scenes.AUDIENCE)
    found = {}
    for index, frame in frames.items():
        assert frame.shape == (360, 640, 3)
        faces = yunet.detect(frame)
        found[index] = (faces.boxes, faces.scores)
    assert detection_scenes.audience_score(found, 0.0) == {"found": 14, "of": 15, "false": 0}


def test_face_free_images_give_no_face(yunet: FaceDetector, data_dir: Path) -> None:
    # Obama's raised hand (YuNet alone scores it 0.63 at this scale) and flags, no face
    photo = rgb(data_dir / EXAMPLES / "knn_examples/test/obama_and_biden.jpg")
    assert len(yunet.detect(np.ascontiguousarray(photo[:400, 1600:]))) == 0
    assert len(yunet.detect(np.ascontiguousarray(photo[:450, :500]))) == 0
    assert len(yunet.detect(np.full((480, 640, 3), 128, np.uint8))) == 0


def test_profile_filling_the_photo_is_found(yunet: FaceDetector, data_dir: Path) -> None:
    # a 1402 x 1216 full profile: found by the coarse pass only
    photo = rgb(data_dir / "cfp-dev/Images/014/profile/01.jpg")
    found = yunet.detect(photo)
    assert len(found) == 1
    x1, y1, x2, y2 = found.boxes[0]
    assert x2 - x1 > 0.3 * photo.shape[1] and y2 - y1 > 0.3 * photo.shape[0]


def test_profile_kept_where_the_mesh_fails(yunet: FaceDetector, data_dir: Path) -> None:
    """A full profile the mesh does not recognise keeps YuNet's points; its mesh is moved
    onto them so alignment from the mesh agrees with the points."""
    found = None
    for path in sorted((data_dir / "cfp-dev/Images").glob("00*/profile/*.jpg")):
        image = rgb(path)
        faces = yunet.detect(image)
        if len(faces) and faces.mesh_scores[0] < 0.5:
            found, raw = faces, yunet.boxes_model.detect(image)
            break
    assert found is not None, "no profile with a failed mesh in CFP 001-009"
    np.testing.assert_allclose(found.points[0], raw.keypoints[0, YUNET_TO_FIVE], atol=1e-4)
    eyes = np.linalg.norm(found.points[0, 0] - found.points[0, 1])
    width = found.boxes[0, 2] - found.boxes[0, 0]
    gap = np.linalg.norm(five_points(found.mesh[:1])[0] - found.points[0], axis=1)
    assert gap.max() < 0.25 * max(eyes, 0.3 * width)


def test_lens_with_yunet_embeds_each_face(data_dir: Path) -> None:
    result = FaceLens(detector="yunet").embed(data_dir / EXAMPLES / "two_people.jpg")
    assert len(result.faces) == 2
    vectors = np.array([face.embedding for face in result.faces])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) < 0.9  # two different people


def test_detector_side_stays_within_the_budget(
    yunet: FaceDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tiles` multiplies YuNet's input side, never past the budget's max_detector_side."""
    from facelens.budget import DEFAULT_BUDGET

    sides = []
    model = yunet.boxes_model
    real = model.detect_once
    monkeypatch.setattr(
        model, "detect_once", lambda image, side, *a, **k: sides.append(side) or real(image, 32)
    )
    photo = np.zeros((2160, 3840, 3), np.uint8)
    for tiles in (None, 2, 4):
        yunet.detect(photo, tiles=tiles)
    limit = DEFAULT_BUDGET.max_detector_side
    assert limit < 4 * 1920
    assert sides[1::2] == [1920, min(2 * 1920, limit), limit]
    assert sides[0::2] == [model.coarse_side] * 3


def test_largest_face_settled_only_by_a_sure_face_twice_the_smallest_kept() -> None:
    boxes = np.array([[0, 0, 200, 200], [300, 0, 340, 40]], np.float32)
    found = Detections(boxes, np.array([0.8, 0.95], np.float32), np.zeros((2, 5, 2), np.float32))
    assert _settles_largest(found, 0.7, smallest_kept=96)  # 200 >= 2 * 96
    assert not _settles_largest(found, 0.7, smallest_kept=101)
    assert not _settles_largest(found, 0.9, smallest_kept=21)  # the sure face is 40 px only
    assert _settles_largest(found, 0.9, smallest_kept=20)


def test_largest_face_search_stops_at_a_coarse_pass(
    yunet: FaceDetector, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A portrait's face (about 280 px of a 1080p photo) is settled at 640 px: no full pass,
    and the same face, points within a few pixels, as the full detection finds."""
    photo = rgb(data_dir / EXAMPLES / "obama-1080p.jpg")
    full = yunet.detect(photo)
    sides = []
    model = yunet.boxes_model
    real = model.detect_once
    monkeypatch.setattr(
        model,
        "detect_once",
        lambda image, side, *a, **k: sides.append(side) or real(image, side, *a, **k),
    )
    largest = yunet.detect(photo, largest=True)
    assert sides == [320, 640]
    assert len(largest) == len(full) == 1
    assert np.abs(largest.points[0] - full.points[0]).max() < 4


@pytest.mark.parametrize(
    "path", ["inspireface/insightface_samples/t1.jpg", f"{EXAMPLES}/two_people.jpg"]
)
def test_largest_face_search_finds_the_same_largest_face(
    yunet: FaceDetector, data_dir: Path, path: str
) -> None:
    """Group photos: the faces' boxes from a coarser pass differ by a few pixels, so among
    faces of nearly one size the first may change; it is one of the largest full-pass faces,
    with points within a tenth of its eye distance."""
    photo = rgb(data_dir / path)
    full, largest = yunet.detect(photo), yunet.detect(photo, largest=True)
    assert len(largest) == len(full)
    overlap = box_iou(largest.boxes[0], full.boxes)
    match = int(np.argmax(overlap))
    assert overlap[match] > 0.7
    area = np.prod(full.boxes[:, 2:] - full.boxes[:, :2], axis=1)
    assert area[match] >= 0.8 * area[0]
    eyes = np.linalg.norm(full.points[match, 0] - full.points[match, 1])
    assert np.abs(largest.points[0] - full.points[match]).max() < 0.1 * eyes


def test_unknown_detector_is_an_error_value() -> None:
    from facelens.errors import ErrorCode, FaceLensError

    with pytest.raises(FaceLensError) as caught:
        FaceLens(detector="hog")
    assert caught.value.code == ErrorCode.BAD_ARGUMENT
