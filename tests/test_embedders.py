"""The recognition family on real photos: registry, SFace alignment and separation, fusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facelens.detection.align import estimate_transform
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.recognition.fused import FusedEmbedder, fuse
from facelens.recognition.operating_points import threshold_for
from facelens.recognition.registry import (
    DEFAULT_EMBEDDER,
    EMBEDDER_NAMES,
    get_embedder,
    get_network,
)
from facelens.recognition.sface import SFaceEmbedder

SFACE_COSINE_THRESHOLD = 0.363  # OpenCV Zoo's published same-person threshold for SFace
PEOPLE = {"obama": "obama", "obama2": "obama", "obama3": "obama", "biden": "biden"}


@pytest.fixture(scope="module")
def found(fr_images):
    """Each photo's RGB and detected faces."""
    out = {}
    for name in PEOPLE:
        rgb = load_image(fr_images / f"tests/test_images/{name}.jpg")
        out[name] = (rgb, FaceLens().detector.detect(rgb))
    return out


def embed_all(embedder, found) -> dict[str, np.ndarray]:
    return {
        name: embedder.embed_faces(rgb, faces.points[:1], faces.mesh[:1])[0]
        for name, (rgb, faces) in found.items()
    }


def test_registry_names_and_errors():
    assert FaceLens().embedder.name == DEFAULT_EMBEDDER == "fused"  # chosen in the README
    for name in EMBEDDER_NAMES:
        embedder = FaceLens(embedder=name).embedder
        assert embedder.name == name and embedder is get_embedder(name)
    assert get_embedder("fused").dimension == 256
    assert isinstance(get_embedder("sface"), SFaceEmbedder)
    for bad in (lambda: FaceLens(embedder="arcface"), lambda: get_embedder("")):
        with pytest.raises(FaceLensError) as caught:
            bad()
        assert caught.value.code == ErrorCode.BAD_ARGUMENT


def test_sface_landmarks_land_on_the_arcface_template(found):
    """The pipeline's five points map onto the template by a similarity with small residuals
    (swapped sides would need a mirror, which no similarity gives)."""
    sface = get_network("sface")
    template = sface.template.points
    eye_distance = np.linalg.norm(template[0] - template[1])  # 35 px of the 112-px chip

    def residual(points: np.ndarray) -> float:
        matrix = estimate_transform(points, sface.template)
        mapped = points @ matrix[:, :2].T + matrix[:, 2]
        return float(np.linalg.norm(mapped - template, axis=1).max())

    for _, faces in found.values():
        points = sface.landmarks(faces.points[:1], faces.mesh[:1])[0]
        assert residual(points) < 0.25 * eye_distance  # measured at most 7 px (a wide smile)
        assert residual(points[[1, 0, 2, 4, 3]]) > 0.5 * eye_distance  # sides swapped


def test_sface_separates_people(found):
    vectors = embed_all(get_embedder("sface"), found)
    assert all(v.shape == (128,) and abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors.values())
    same = [float(vectors["obama"] @ vectors[n]) for n in ("obama2", "obama3")]
    same.append(float(vectors["obama2"] @ vectors["obama3"]))
    different = [float(vectors["biden"] @ vectors[n]) for n in ("obama", "obama2", "obama3")]
    assert min(same) > SFACE_COSINE_THRESHOLD > max(different)
    assert min(same) - max(different) > 0.3  # clearly apart, not just across the line


def test_fused_cosine_is_the_weighted_mean_of_the_two(found):
    fused = get_embedder("fused")
    assert isinstance(fused, FusedEmbedder)
    first, second = (embed_all(part, found) for part in fused.parts)
    together = embed_all(fused, found)
    w2 = fused.weight**2
    for a in PEOPLE:
        for b in PEOPLE:
            expected = (first[a] @ first[b] + w2 * second[a] @ second[b]) / (1 + w2)
            assert together[a] @ together[b] == pytest.approx(expected, abs=1e-6)


def test_fuse_on_random_unit_vectors():
    rng = np.random.default_rng(0)
    a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in rng.normal(size=(2, 50, 16)))
    for weight in (0.0, 0.5, 2.0):
        fused = fuse(a, b, weight)
        np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1, atol=1e-6)
        expected = (a @ a.T + weight**2 * (b @ b.T)) / (1 + weight**2)
        np.testing.assert_allclose(fused @ fused.T, expected, atol=1e-6)
    np.testing.assert_allclose(fuse(a, b, 0.0)[:, :16], a, atol=1e-7)


def test_sface_torch_twin_matches_onnx_runtime(found):
    sface = get_network("sface")
    rgb, faces = found["obama"]
    chips = sface.chips(rgb, faces.points[:1], faces.mesh[:1])
    with torch.no_grad():
        twin = sface.torch_twin()(torch.from_numpy(sface.preprocess(chips))).numpy()
    np.testing.assert_allclose(twin, sface.raw(chips)[0], atol=1e-3)


def test_flip_fused_sface_stays_close(fr_images):
    image = fr_images / "tests/test_images/obama.jpg"
    plain = FaceLens(embedder="sface").embed(image).faces[0].embedding_array
    flipped = FaceLens(embedder="sface", flip=True).embed(image).faces[0].embedding_array
    assert 0.9 < float(plain @ flipped) < 1.0


def test_verify_with_sface_uses_its_own_operating_points(fr_images):
    images = fr_images / "tests/test_images"
    lens = FaceLens(embedder="sface")
    same = lens.verify(images / "obama.jpg", images / "obama2.jpg")
    different = lens.verify(images / "obama.jpg", images / "biden.jpg")
    assert same.same_person and different.same_person is False
    assert same.threshold == threshold_for("accuracy", False, "sface")
    assert same.threshold < threshold_for("accuracy", False, "dlib") - 0.3  # another scale
    with pytest.raises(FaceLensError) as caught:  # policies hold dlib cosines
        lens.verify(images / "obama.jpg", images / "obama2.jpg", policy="strict")
    assert caught.value.code == ErrorCode.BAD_ARGUMENT


def test_cli_embed_and_verify_take_the_embedder(fr_images):
    import json

    from typer.testing import CliRunner

    from facelens.cli import app

    images = fr_images / "tests/test_images"
    runner = CliRunner()
    embedded = runner.invoke(
        app, ["embed", str(images / "obama.jpg"), "--embedder", "fused", "--json"]
    )
    assert (
        embedded.exit_code == 0 and len(json.loads(embedded.stdout)["faces"][0]["embedding"]) == 256
    )
    args = ["verify", str(images / "obama.jpg"), str(images / "biden.jpg"), "--embedder", "sface"]
    verdict = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert verdict["threshold"] == threshold_for("accuracy", False, "sface")
    assert verdict["same_person"] is False
    assert runner.invoke(app, [*args[:3], "--embedder", "vgg"]).exit_code == 2


def test_chunked_runs_give_the_one_call_answer(found):
    """SFace runs in pairs (RUN_BATCH): five real chips (plain and mirrored) embedded in
    chunks of 2 give what one call of 5 gives."""
    embedder = get_embedder("sface")
    assert embedder.run_batch == 2
    rgb, faces = found["obama"]
    chips = embedder.chips(rgb, faces.points[:1], faces.mesh[:1])
    batch = embedder.preprocess(np.concatenate([chips, chips[:, :, ::-1]] * 3)[:5])
    chunked = embedder.run(batch)[0]
    whole = embedder.session.run(None, {embedder.input_name: batch})[0]
    assert chunked.shape == whole.shape == (5, 128)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
