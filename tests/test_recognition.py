"""Detect + align + embed + verify on real photos, through Python and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from facelens.cli import app
from facelens.detection.dlib_points import dlib_points
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.dlib_reference import DlibReference
from facelens.io import load_image
from facelens.lens import FaceLens


@pytest.fixture(scope="module")
def lens() -> FaceLens:
    return FaceLens(embedder="dlib")  # this file checks the dlib port; test_embedders the rest


@pytest.fixture(scope="module")
def images(fr_images):
    return fr_images / "tests/test_images"


@pytest.mark.parametrize("other", ["obama2.jpg", "obama3.jpg"])
def test_same_person(lens, images, other):
    result = lens.verify(images / "obama.jpg", images / other)
    assert result.same_person and result.similarity > result.threshold


def test_different_person(lens, images):
    result = lens.verify(images / "obama.jpg", images / "biden.jpg")
    assert not result.same_person
    strict = lens.verify(images / "obama.jpg", images / "obama2.jpg", operating_point="fmr_1e-3")
    assert strict.threshold > result.threshold


def test_embedding_is_unit_length_and_flip_differs(lens, images):
    plain = lens.embed(images / "obama.jpg").faces[0].embedding_array
    flipped = FaceLens(flip=True, embedder="dlib").embed(images / "obama.jpg").faces[0]
    flipped = flipped.embedding_array
    assert plain.shape == (128,) and abs(np.linalg.norm(plain) - 1) < 1e-5
    assert 0.97 < float(plain @ flipped) < 1.0


def test_two_people(lens, fr_images):
    faces = lens.detect(fr_images / "examples/two_people.jpg").faces
    assert len(faces) == 2
    assert faces[0].box.width * faces[0].box.height >= faces[1].box.width * faces[1].box.height


def test_mesh_points_reproduce_dlibs_landmarks(images):
    """The landmark adapter lands within a few pixels of dlib's own shape predictor."""
    reference, lens = DlibReference(), FaceLens()
    for name in ("obama.jpg", "biden.jpg"):
        rgb = load_image(images / name)
        theirs = np.array([[p.x, p.y] for p in reference.shapes(rgb)[0].parts()])
        found = lens.detector.detect(rgb)
        ours = dlib_points(found.mesh[:1])[0]
        eye_distance = np.linalg.norm(theirs[0] - theirs[2])
        assert np.linalg.norm(ours - theirs, axis=1).max() < 0.08 * eye_distance


def test_embedding_close_to_dlibs_own_pipeline(lens, images):
    reference = DlibReference()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        rgb = load_image(images / name)
        theirs = reference.encodings(rgb)[0]
        ours = lens.embed(rgb).faces[0].embedding_array
        assert float(ours @ (theirs / np.linalg.norm(theirs))) > 0.98


def test_no_face(lens, data_dir):
    assert lens.detect(data_dir / "inspireface/test_res/crop/no_face.png").faces == []
    with pytest.raises(FaceLensError) as caught:
        lens.verify(
            data_dir / "inspireface/test_res/crop/no_face.png",
            data_dir / "face_recognition/tests/test_images/obama.jpg",
        )
    assert caught.value.code == ErrorCode.NO_FACE


def test_unknown_operating_point(lens, images):
    with pytest.raises(FaceLensError) as caught:
        lens.verify(images / "obama.jpg", images / "obama2.jpg", operating_point="nope")
    assert caught.value.code == ErrorCode.BAD_ARGUMENT


def test_cli_verify_and_detect_json(images, fr_images, tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        app, ["verify", str(images / "obama.jpg"), str(images / "obama2.jpg"), "--json"]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["same_person"] is True
    assert {"similarity", "threshold", "same_person", "face_a", "face_b"} <= payload.keys()
    out = runner.invoke(app, ["detect", str(fr_images / "examples/two_people.jpg"), "--json"])
    assert out.exit_code == 0 and len(json.loads(out.stdout)["faces"]) == 2
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"definitely not a jpeg")
    out = runner.invoke(app, ["embed", str(junk), "--json"])
    assert out.exit_code == 2
    assert json.loads(out.stdout)["error"]["code"] == "not_an_image"
