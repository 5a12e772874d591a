"""face-api's crop network fine-tuned here: `facelens train crop` end to end on a small
UTKFace sample, the file in FaceLens, the shipped fine-tune, and the weight round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from samples import utkface_sample
from typer.testing import CliRunner

from facelens.attributes import predict_attributes
from facelens.attributes.age import interval
from facelens.attributes.age_gender import CHANNEL_MEANS, FaceApiAgeGender
from facelens.attributes.choice import choose, is_crop, load_crop
from facelens.cli import app
from facelens.detection.detector import DEFAULT_DETECTOR, FaceDetector
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.models.onnx_model import weight_path
from facelens.models.torch_onnx import OnnxTorch
from facelens.train import crop_network, head_export

runner = CliRunner()
SAMPLE = 30
PHOTO = "inspireface/test_res/attribute/1423.jpg"  # one Black female aged 10-19


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("crop")
    sample = utkface_sample(data_dir, root, SAMPLE)
    out = root / "crop.onnx"
    args = ["train", "crop", "--data", str(sample), "--out", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_training_writes_a_crop_network_and_its_card(trained: tuple[Path, dict]) -> None:
    out, card = trained
    assert card["sha256"] == head_export.sha256(out)
    assert card["data"]["faces"] == SAMPLE and card["data"]["validation_faces"] == 4
    assert "non-commercial research" in card["data"]["terms"]
    assert card["onnx_max_difference"] <= 1e-3
    assert card["command"].startswith("facelens train crop --data ")
    assert 0 <= card["validation"]["gender_accuracy"] <= 1 and card["validation"]["age_mae"] > 0
    assert "Remake it with" in out.with_suffix(".card.md").read_text()


def test_a_trained_crop_network_predicts_age_and_gender(
    trained: tuple[Path, dict], data_dir: Path
) -> None:
    out, _ = trained
    assert is_crop(choose({"age": out}).age) and is_crop(choose({"gender": out}).gender)
    rgb = load_image(data_dir / PHOTO)
    faces = FaceDetector.shared(DEFAULT_DETECTOR).detect(rgb)
    age, gender, _ = predict_attributes(rgb, faces, choose({"age": out, "gender": out}))[0]
    network = load_crop(out)
    years, female = network.predict(rgb, faces.points)
    assert age.years == round(float(years[0]), 1)
    assert age.interval == interval(age.years, network.residual_quantiles)
    assert gender.label == ("female" if female[0] >= 0.5 else "male")
    assert network.residual_quantiles != load_crop("faceapi").residual_quantiles
    lens = FaceLens(attribute_models={"age": out, "gender": out})
    assert lens.analyze(rgb, quality=False).faces[0].age == age


def test_grad_cam_and_occlusion_explain_a_trained_crop_network(
    trained: tuple[Path, dict], data_dir: Path
) -> None:
    """`model=` explains the user's crop network itself; a head is explained through the
    crop network it blends with."""
    from facelens.explain import api

    out, _ = trained
    image = data_dir / PHOTO
    for method in (api.gradcam, api.occlusion):
        result = method(image, "age", model=out, faithfulness=False)
        assert result.target == f"age:years ({out.name})"
        batch = (result.crop.astype(np.float32) - CHANNEL_MEANS) / 255.0
        years = load_crop(out).run(batch.transpose(2, 0, 1)[None])[0][0, 0]
        assert result.score == pytest.approx(float(years), abs=1e-3)
    shipped = api.gradcam(image, "age", faithfulness=False)  # the default's crop network
    assert abs(shipped.score - result.score) > 1e-3
    head = api.gradcam(image, "gender", model="head", faithfulness=False)
    assert head.target.endswith(f"({FaceApiAgeGender.file_name})")  # its blend partner


def test_an_untouched_twin_writes_face_apis_network_back(tmp_path: Path) -> None:
    source = weight_path(FaceApiAgeGender.file_name)
    out = tmp_path / "same.onnx"
    crop_network.write_onnx(OnnxTorch(source, trainable=True), source, out, {})
    batch = np.random.default_rng(0).normal(0, 0.3, (3, 3, 112, 112)).astype(np.float32)
    original = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    written = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    expected, got = original.run(None, {"input": batch}), written.run(None, {"input": batch})
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a, b)


def test_a_crop_network_needs_its_metadata(tmp_path: Path) -> None:
    source = weight_path(FaceApiAgeGender.file_name)
    bare = tmp_path / "bare.onnx"
    crop_network.write_onnx(OnnxTorch(source, trainable=True), source, bare, {})
    with pytest.raises(FaceLensError) as caught:
        FaceApiAgeGender(bare)
    assert caught.value.code == ErrorCode.BAD_ARGUMENT
    assert not is_crop(bare)


def test_the_shipped_fine_tune_is_a_built_in_choice() -> None:
    chosen = choose({"age": "faceapi-utk", "gender": "faceapi-utk"})
    assert chosen.age == chosen.gender == "faceapi-utk"
    network = load_crop("faceapi-utk")
    assert network.residual_quantiles[-1][0] == float("inf")
    assert load_crop("faceapi") is not network


def test_training_on_a_folder_without_labelled_faces_is_a_clear_error(tmp_path: Path) -> None:
    for kind in ("crop", "age", "gender", "expression"):
        args = ["train", kind, "--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")]
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 2, (kind, result.output)
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "bad_argument" and str(tmp_path) in error["message"]
    assert not (tmp_path / "m.onnx").exists()


def test_an_unreadable_model_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx graph")
    for kind in ("age", "gender", "expression"):
        with pytest.raises(FaceLensError) as caught:
            choose({kind: junk})
        assert caught.value.code == ErrorCode.BAD_ARGUMENT and "junk.onnx" in caught.value.message
