"""Reconstruction-based explanation: the shipped decoder, its API, CLI and REST route, the
evaluation's ranking, and a few steps of the training loop (resumed from its checkpoint)."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from facelens import explain
from facelens.cli import app
from facelens.errors import ErrorCode, FaceLensError
from facelens.explain.decoder import FaceDecoderModel
from facelens.explain.reconstruct import default_decoder
from facelens.explain.render_reconstruction import reconstruction_panel
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.models.onnx_model import weight_path
from facelens.recognition.registry import DEFAULT_EMBEDDER, get_embedder

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from facelens.api import Settings, create_app


@pytest.fixture(scope="module")
def images(fr_images: Path) -> Path:
    return fr_images / "tests" / "test_images"


@pytest.fixture(scope="module")
def obama(images: Path) -> explain.Reconstruction:
    return explain.reconstruct(images / "obama.jpg")


def test_shipped_decoder_reads_the_default_embedding():
    decoder = default_decoder()
    embedder = get_embedder(DEFAULT_EMBEDDER)
    assert (decoder.embedder, decoder.dimension) == (embedder.name, embedder.dimension)
    assert decoder.embedder_version == embedder.version
    faces = decoder.decode(np.eye(2, embedder.dimension, dtype=np.float32))
    assert faces.shape == (2, decoder.size, decoder.size, 3) and faces.dtype == np.uint8
    assert decoder.directions.shape == (len(decoder.direction_scales), embedder.dimension)


def test_decoder_refuses_another_embedders_vectors():
    with pytest.raises(FaceLensError) as refused:
        explain.decode(np.ones((1, 128), np.float32) / np.sqrt(128), embedder="sface")
    assert refused.value.code == ErrorCode.EMBEDDER_MISMATCH
    assert "facelens train decoder --embedder sface" in refused.value.message


@pytest.mark.parametrize(
    "vectors",
    [np.zeros(128), np.zeros((2, 3, 256)), np.full(256, np.nan)],
    ids=["128-d", "3-d", "nan"],
)
def test_decoding_a_malformed_embedding_is_a_clear_error(vectors):
    with pytest.raises(FaceLensError) as error:
        explain.decode(vectors)
    assert error.value.code == ErrorCode.BAD_ARGUMENT


def test_a_file_that_is_no_decoder_is_refused():
    with pytest.raises(FaceLensError) as refused:
        FaceDecoderModel("sface.onnx")
    assert refused.value.code == ErrorCode.BAD_ARGUMENT


def test_reconstruction_is_recognised_as_its_source(images: Path, obama):
    """The recogniser finds the reconstruction nearer its own face than another person's."""
    lens = FaceLens()
    own = lens.embed(images / "obama.jpg").faces[0].embedding_array
    other = lens.embed(images / "biden.jpg").faces[0].embedding_array
    again = default_decoder().reembed(get_embedder(), obama.reconstruction[None])[0]
    assert obama.cosine == pytest.approx(float(again @ own), abs=1e-5)
    assert again @ own > again @ other + 0.05


def test_reconstruction_decodes_the_embedding_facelens_gives(images: Path, obama):
    embedding = FaceLens().embed(images / "obama.jpg").faces[0].embedding_array
    assert np.array_equal(explain.decode(embedding[None])[0], obama.reconstruction)


def test_region_map_is_a_unit_map_that_varies(obama):
    values = obama.region_map
    assert values.shape == (obama.size, obama.size) and values.dtype == np.float32
    assert values.min() >= 0 and values.max() == pytest.approx(1.0)
    assert values.std() > 0.05  # some regions move much more than others
    assert obama.region_summary.max == pytest.approx(1.0)


def test_same_person_reconstructions_differ_less_than_different_people(images: Path):
    same = explain.reconstruct_pair(images / "obama.jpg", images / "obama2.jpg")
    other = explain.reconstruct_pair(images / "obama.jpg", images / "biden.jpg")
    assert same.similarity > other.similarity
    assert same.reconstruction_similarity > other.reconstruction_similarity
    assert same.difference_summary.mean < other.difference_summary.mean


def test_panel_has_three_tiles_and_the_note(obama):
    panel = reconstruction_panel(obama)
    assert panel.ndim == 3 and panel.shape[1] == 3 * 160
    assert (panel[-20:] < 100).any()  # the note's dark text at the bottom


def test_cli_single_and_pair(images: Path, tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "one.png"
    result = runner.invoke(
        app, ["explain-reconstruct", str(images / "obama.jpg"), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["embedder"] == DEFAULT_EMBEDDER and body["size"] == default_decoder().size
    assert cv2.imread(str(out)).shape[1] == 3 * 160
    pair = tmp_path / "pair.png"
    args = [str(images / "obama.jpg"), str(images / "biden.jpg"), "--out", str(pair)]
    result = runner.invoke(app, ["explain-reconstruct", *args])
    assert result.exit_code == 0, result.output
    assert "reconstructions" in result.stdout and cv2.imread(str(pair)).shape[1] == 5 * 160


def test_cli_no_face_exits_2(data_dir: Path):
    no_face = data_dir / "inspireface/test_res/crop/no_face.png"
    result = CliRunner().invoke(app, ["explain-reconstruct", str(no_face), "--json"])
    assert result.exit_code == 2 and "no_face" in result.output


def test_rest_reconstruct_and_mismatch(photos):
    with TestClient(create_app(Settings(warm_up=False))) as client:
        response = client.post("/v1/explain/reconstruct", files={"image": photos["obama"]})
        assert response.status_code == 200, response.text
        body = response.json()
        panel = cv2.imdecode(np.frombuffer(base64.b64decode(body["panel"]), np.uint8), 1)
        assert panel.shape[1] == 3 * 160 and "not the person's photo" in body["note"]
        files = {"image_a": photos["obama"], "image_b": photos["biden"]}
        response = client.post("/v1/explain/reconstruct/pair", files=files)
        assert response.status_code == 200, response.text
        assert response.json()["reconstruction"]["difference_summary"]["mean"] > 0
    with TestClient(create_app(Settings(warm_up=False, embedder="sface"))) as client:
        response = client.post("/v1/explain/reconstruct", files={"image": photos["obama"]})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "embedder_mismatch"


def test_onnx_matches_its_sha_in_the_card():
    card = json.loads(weight_path("face-decoder.card.json").read_text())
    digest = hashlib.sha256(weight_path("face-decoder.onnx").read_bytes()).hexdigest()
    assert card["sha256"] == digest and card["embedder"] == DEFAULT_EMBEDDER
    session = ort.InferenceSession(str(weight_path("face-decoder.onnx")))
    assert session.get_inputs()[0].shape[1] == get_embedder().dimension


def test_ranks_of_own_rows():
    from facelens.eval.reconstruction import ranks

    gallery = np.eye(3, dtype=np.float32)
    queries = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0.2, 0.8]], np.float32)
    assert ranks(queries, gallery).tolist() == [0, 1, 0]


def test_training_steps_resume_and_export(images: Path, tmp_path: Path):
    """A few steps on real crops, resumed from the checkpoint, exported and checked."""
    from facelens.train import decoder, decoder_export
    from facelens.train.decoder_data import plain_and_mirrored

    embedder = get_embedder()
    lens = FaceLens()
    rgb = load_image(images / "obama.jpg")
    found = lens.detector.detect(rgb)
    plain, mirrored = plain_and_mirrored(embedder, rgb, found.points[:1], found.mesh[:1])
    assert np.allclose(plain[0], lens.embed(rgb).faces[0].embedding_array, atol=1e-5)
    count = 12
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (count, 64, 64, 3), dtype=np.uint8)
    vectors = np.repeat(np.stack([plain, mirrored], axis=1), count, axis=0)
    data = decoder.DecoderData(crops, vectors, vectors[:, :, :128].copy())
    config = decoder.DecoderConfig(
        steps=2, pixel_steps=1, batch=4, identity_batch=2, width=32, validation_faces=4
    )
    checkpoint = tmp_path / "decoder.pt"
    net, state = decoder.train(data, config, checkpoint, log=lambda _: None)
    assert state["step"] == 2 and len(state["history"]) == 1
    config.steps = 3
    net, state = decoder.train(data, config, checkpoint, log=lambda _: None)
    assert state["step"] == 3 and [row[0] for row in state["history"]] == [2, 3]
    config.width = 16  # another run: its checkpoint is refused, not loaded into the wrong net
    with pytest.raises(FaceLensError) as refused:
        decoder.train(data, config, checkpoint, log=lambda _: None)
    assert "another run" in refused.value.message and "options" in refused.value.message
    out = tmp_path / "decoder.onnx"
    difference = decoder_export.export(net, out, vectors[:2, 0], {"facelens.target": "x"})
    assert difference < 1e-4 and out.stat().st_size > 1000
