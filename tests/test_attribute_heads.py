"""Attribute heads on embeddings: `facelens train age|gender` end to end on a small UTKFace
sample, the trained file in FaceLens, and the training pieces on exact synthetic cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from samples import utkface_sample
from typer.testing import CliRunner

from facelens.attributes.age import interval
from facelens.attributes.choice import HEAD_CROPS, choose, load_head
from facelens.attributes.embedding_head import EmbeddingHead, blend
from facelens.cli import app
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens
from facelens.models.onnx_model import weight_path
from facelens.recognition.dlib import DlibEmbedder
from facelens.train import attribute_heads, head_export, heads
from facelens.train.face_embeddings import EmbeddedFaces
from facelens.types import Face

runner = CliRunner()
SAMPLE = 30  # UTKFace training faces: enough to run every step, a few seconds of CPU
PHOTO = "inspireface/test_res/attribute/1423.jpg"  # one Black female aged 10-19


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both heads trained through the CLI on SAMPLE evenly spaced UTKFace training faces."""
    root = tmp_path_factory.mktemp("heads")
    sample = utkface_sample(data_dir, root, SAMPLE)
    patch = pytest.MonkeyPatch()
    patch.setattr(attribute_heads, "CACHE_DIR", root / "cache")  # embed once for both
    out = {}
    for target in ("gender", "age"):
        out[target] = root / f"{target}.onnx"
        args = ["train", target, "--data", str(sample), "--out", str(out[target])]
        result = runner.invoke(app, [*args, "--epochs", "5", "--json"])
        assert result.exit_code == 0, result.output
        out[f"{target}_card"] = json.loads(result.stdout)
    patch.undo()
    return out


def test_training_writes_a_model_and_its_card(trained: dict) -> None:
    for target in ("gender", "age"):
        card, onnx_file = trained[f"{target}_card"], trained[target]
        assert card["sha256"] == head_export.sha256(onnx_file)
        assert card["data"]["faces"] == SAMPLE and card["data"]["validation_faces"] == 4
        assert "non-commercial research" in card["data"]["terms"]
        assert card["onnx_max_difference"] <= head_export.TOLERANCE
        assert card["command"].startswith(f"facelens train {target} --data ")
        assert "--learning-rate 0.003" in card["command"]  # the default, recorded
        assert card["config"]["learning_rate"] == 3e-3
        assert json.loads(onnx_file.with_suffix(".card.json").read_text()) == card
        assert "Remake it with" in onnx_file.with_suffix(".card.md").read_text()
    assert 0 <= trained["gender_card"]["validation"]["gender_accuracy"] <= 1
    assert trained["age_card"]["validation"]["age_mae"] > 0


def _female(face: Face) -> float:
    assert face.gender is not None
    return face.gender.probability if face.gender.label == "female" else 1 - face.gender.probability


def test_a_trained_head_replaces_the_shipped_model(trained: dict, data_dir: Path) -> None:
    # what heads blend with by default: the fine-tuned crop network
    fine_tuned = FaceLens(attribute_models={"age": "faceapi-utk", "gender": "faceapi-utk"})
    crop = fine_tuned.analyze(data_dir / PHOTO, quality=False).faces[0]
    assert crop.age is not None
    lens = FaceLens(embedder="fused", attribute_models={"gender": trained["gender"]})
    face = lens.analyze(data_dir / PHOTO, quality=False, embedding=True).faces[0]
    head = EmbeddingHead(trained["gender"])
    assert head.crop_network == "faceapi-utk"
    female = head.predict_blended(face.embedding_array[None], np.array([_female(crop)]))[0]
    assert _female(face) == pytest.approx(female, abs=1e-3)  # face-api's is rounded
    # the age head: its own years and residual table, not face-api's
    aged = FaceLens(attribute_models={"age": trained["age"]}).analyze(data_dir / PHOTO).faces[0]
    head = load_head("age", choose({"age": trained["age"]}).age)
    years = head.predict_blended(face.embedding_array[None], np.array([crop.age.years]))[0]
    assert aged.age is not None and aged.age.interval == interval(
        aged.age.years, head.residual_quantiles
    )
    assert aged.age.years == pytest.approx(years, abs=0.15)  # face-api years rounded


def test_blending_with_the_crop_network() -> None:
    head, crop = np.array([0.8, 0.2, 0.5]), np.array([0.8, 0.9, 0.99])
    assert np.allclose(blend("gender", head, crop, 0.5)[:1], 0.8)  # agreeing stays put
    assert np.allclose(blend("gender", head, crop, 0.0), head)
    assert blend("gender", head, crop, 0.5)[1] == pytest.approx(0.6, abs=1e-3)  # log-odds
    assert np.allclose(blend("age", np.array([20.0]), np.array([30.0]), 0.25), 22.5)
    truth = np.array([True, False, True, False])
    config = heads.HeadConfig("gender")
    right, wrong = np.array([0.9, 0.1, 0.8, 0.3]), np.array([0.1, 0.9, 0.2, 0.7])
    assert heads.crop_weight(config, right, wrong, truth) == 0.0
    assert heads.crop_weight(config, wrong, right, truth) > 0.5


def test_the_cli_takes_a_trained_model(trained: dict, data_dir: Path) -> None:
    args = ["analyze", str(data_dir / PHOTO), "--no-quality", "--json"]
    result = runner.invoke(app, [*args, "--model", f"age={trained['age']}"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["faces"][0]["age"]["years"] > 0
    wrong = runner.invoke(app, [*args, "--model", f"gender={trained['age']}"])
    assert wrong.exit_code == 2 and "head for age, not gender" in " ".join(wrong.output.split())


def test_a_bad_learning_rate_is_refused_before_training(tmp_path: Path) -> None:
    args = ["train", "age", "--data", str(tmp_path), "--out", str(tmp_path / "a.onnx")]
    result = runner.invoke(app, [*args, "--learning-rate", "0"])
    assert result.exit_code == 2
    assert "learning-rate" in result.output and not (tmp_path / "a.onnx").exists()


def test_bad_attribute_models_are_refused(trained: dict) -> None:
    for bad in (
        {"age": "no-such-model"},
        {"height": "faceapi"},
        {"gender": trained["age"]},
        {"expression": trained["gender"]},
    ):
        with pytest.raises(FaceLensError) as caught:
            FaceLens(attribute_models=bad)
        assert caught.value.code == ErrorCode.BAD_ARGUMENT
    with pytest.raises(FaceLensError):  # an ONNX file that is not a head
        EmbeddingHead(weight_path("emotion.onnx"))


def _synthetic(count: int, seed: int = 1) -> EmbeddedFaces:
    """Unit vectors whose first component's sign is the gender and whose second
    component is a linear function of the age."""
    rng = np.random.default_rng(seed)
    female = rng.random(count) < 0.5
    age = rng.integers(1, 90, count)
    vectors = rng.normal(0, 0.05, (count, 2, 128))
    vectors[:, :, 0] += np.where(female, 1.0, -1.0)[:, None]
    vectors[:, :, 1] += (age / 45.0 - 1.0)[:, None]
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    data = {"dlib": vectors.astype(np.float32), "sface": vectors.astype(np.float32)}
    names = [f"{a}_{int(f)}_0_x.jpg" for a, f in zip(age, female, strict=True)]
    crop = np.zeros(count, np.float32)  # no crop network here
    return EmbeddedFaces(
        names, data, np.ones(count, bool), crop, crop, age, female, np.zeros(count, int)
    )


def test_heads_learn_exact_synthetic_signals() -> None:
    faces = _synthetic(400)
    train, valid = heads.split(len(faces))
    assert len(set(train) & set(valid)) == 0 and len(train) + len(valid) == 400
    assert np.array_equal(valid, heads.split(len(faces))[1])  # seeded
    gender = heads.fit(faces, heads.HeadConfig("gender", "dlib", 0, epochs=30), train, valid)
    assert gender.validation_error == 0.0
    config = heads.HeadConfig("age", "dlib", 32, learning_rate=1e-2, epochs=60)
    age = heads.fit(faces, config, train, valid)
    assert age.validation_error < 5.0  # years; the age signal is noisy by 2.25 years


def test_residual_table_holds_the_measured_quantiles() -> None:
    years = np.full(1000, 30.0)
    truth = years + np.linspace(-10, 10, 1000)
    table = head_export.residual_table(years, truth)
    assert table[-1][0] is None  # open-ended last range
    row = next(r for r in table if r[0] == 32.0)  # 30 predicted years fall below 32
    assert row[1:] == [pytest.approx(-9.0, abs=0.01), pytest.approx(9.0, abs=0.01)]
    shaped = tuple((float("inf") if e is None else e, lo, hi) for e, lo, hi in table)
    assert interval(30.0, shaped) == (21.0, 39.0)


def test_the_shipped_heads_read_a_real_photo(data_dir: Path) -> None:
    lens = FaceLens(attribute_models={"age": "head", "gender": "head"})
    (face,) = lens.analyze(data_dir / PHOTO, quality=False).faces  # a Black girl aged 10-19
    assert face.gender is not None and face.gender.label == "female"
    assert face.age is not None and 10 - 5 <= face.age.years <= 19 + 5
    head = load_head("age", "head")
    assert head.embedder == "fused" and 0 < head.crop_weight < 1
    assert head.crop_network == HEAD_CROPS["head"] == "faceapi"
    assert face.age.interval == interval(face.age.years, head.residual_quantiles)


def test_the_default_age_head_reuses_the_quality_embedding(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default age model reads dlib's vector, which quality's stability measure computes
    anyway: handed over (dlib is not run again), it gives what computing it afresh gives."""
    head = load_head("age", choose(None).age)
    assert (head.embedder, head.crop_network) == ("dlib", HEAD_CROPS["dlib-head"])
    assert 0 < head.crop_weight < 1
    lens = FaceLens()
    (fresh,) = lens.analyze(data_dir / PHOTO, quality=False).faces

    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the age head embedded the face again")

    monkeypatch.setattr(DlibEmbedder, "embed_faces", not_again)
    (reused,) = lens.analyze(data_dir / PHOTO).faces
    assert reused.quality is not None and reused.quality.embedding is not None
    assert reused.age is not None and fresh.age is not None
    assert reused.age.years == pytest.approx(fresh.age.years, abs=0.01)
    assert reused.age.interval == interval(reused.age.years, head.residual_quantiles)
    assert 10 - 5 <= reused.age.years <= 19 + 5
