"""`facelens train expression` end to end on a tiny FER2013 sample, and its pieces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from facelens.attributes.expression import LABELS, LUMA
from facelens.cli import app
from facelens.lens import FaceLens
from facelens.train import expression

runner = CliRunner()
PER_CLASS = 6


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("expression")
    sample = root / "fer-sample"
    for label in LABELS:
        (sample / label).mkdir(parents=True)
        files = sorted((data_dir / "fer2013-train" / label).glob("*.jpg"))[:PER_CLASS]
        for path in files:
            (sample / label / path.name).symlink_to(path)
    out = root / "expression.onnx"
    args = ["train", "expression", "--data", str(sample), "--out", str(out)]
    result = runner.invoke(app, [*args, "--epochs", "1", "--width", "4", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_training_writes_a_network_and_its_card(trained: tuple[Path, dict]) -> None:
    out, card = trained
    assert card["data"]["faces"] == 7 * PER_CLASS and card["data"]["validation_faces"] == 7
    assert "Kaggle" in card["data"]["terms"] and card["epochs"] == 1
    assert card["onnx_max_difference"] <= 1e-4
    assert json.loads(out.with_suffix(".card.json").read_text()) == card
    assert out.with_suffix(".checkpoint.pt").is_file()  # a rerun resumes from it


def test_the_card_scores_validation_as_the_runtime_does(trained) -> None:
    """The card's validation figures are the exported file's, each face averaged with its
    mirror image as attributes.expression_net runs it (not the plain crop alone)."""
    from facelens.attributes.choice import load_expression
    from facelens.eval.attributes import calibration_error

    out, card = trained
    images, labels = expression.load_folder(Path(card["data"]["folder"]))
    _, valid = expression.stratified_split(labels)
    network = load_expression(out)
    faces = images[valid].astype(np.float32)[:, None] / 255.0
    mean = (network.run(faces)[0] + network.run(faces[..., ::-1].copy())[0]) / 2
    right = mean.argmax(1) == labels[valid]
    assert card["validation"]["accuracy"] == pytest.approx(float(np.mean(right)), abs=1e-9)
    # the calibration error follows the probabilities themselves: the plain crop's differ
    error = calibration_error(mean.max(1), right)
    assert card["validation"]["calibration_error"] == pytest.approx(error, abs=1e-6)
    plain = network.run(faces)[0]
    assert calibration_error(plain.max(1), plain.argmax(1) == labels[valid]) != pytest.approx(
        error, abs=1e-6
    )


def test_facelens_runs_a_trained_expression_network(trained, data_dir: Path) -> None:
    lens = FaceLens(attribute_models={"expression": trained[0]})
    face = lens.analyze(data_dir / "inspireface/test_res/emotion/happy.png").faces[0]
    assert face.expression is not None
    assert set(face.expression.probabilities) == set(LABELS)
    assert sum(face.expression.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_an_expression_ensemble_averages_its_members(trained, data_dir: Path) -> None:
    from facelens.attributes.choice import choose
    from facelens.attributes.expression_choice import expression_probabilities
    from facelens.errors import FaceLensError
    from facelens.io import load_image

    rgb = load_image(data_dir / "inspireface/test_res/emotion/happy.png")
    points = FaceLens().detect(rgb).faces[0].landmarks.to_array()[None]
    members = [expression_probabilities(rgb, points, m) for m in ("mini-xception", trained[0])]
    assert not np.allclose(*members, atol=1e-3)  # two different networks
    ensemble = f"mini-xception+{trained[0]}"
    np.testing.assert_allclose(
        expression_probabilities(rgb, points, ensemble), np.mean(members, 0), atol=1e-6
    )
    face = FaceLens(attribute_models={"expression": ensemble}).analyze(rgb).faces[0]
    assert face.expression is not None
    ensemble_mean = np.mean(members, 0)[0]
    assert face.expression.label == LABELS[int(np.argmax(ensemble_mean))]
    got = [face.expression.probabilities[label] for label in LABELS]
    np.testing.assert_allclose(got, ensemble_mean, atol=1e-4)
    with pytest.raises(FaceLensError, match=r"nope\.onnx"):
        choose({"expression": "mini-xception+nope.onnx"})


def test_split_weights_and_temperature() -> None:
    labels = np.repeat(np.arange(7), [40, 3, 40, 80, 50, 50, 30])
    train, valid = expression.stratified_split(labels)
    assert set(np.unique(labels[valid])) == set(range(7)) and not set(train) & set(valid)
    weights = expression.class_weights(labels)
    assert weights[1] == pytest.approx((len(labels) / (7 * 3)) ** 0.5)  # the rare class most
    assert int(torch.argmin(weights)) == 3
    # logits twice as sharp as the labels' own randomness: the fitted temperature undoes it
    rng = np.random.default_rng(0)
    logits = torch.as_tensor(rng.normal(0, 1, (4000, 7)), dtype=torch.float32)
    truth = torch.multinomial(
        torch.softmax(logits, 1), 1, generator=torch.Generator().manual_seed(0)
    )
    assert expression.fit_temperature(2 * logits, truth[:, 0].numpy()) == pytest.approx(
        2.0, abs=0.15
    )


def test_augmentation_keeps_shape_and_range() -> None:
    batch = torch.rand(8, 1, 48, 48)
    moved = expression.augment(batch, torch.Generator().manual_seed(0))
    assert moved.shape == batch.shape and 0 <= float(moved.min()) and float(moved.max()) <= 1
    assert not torch.allclose(moved, batch)


def test_grad_cam_and_occlusion_explain_a_trained_network(trained, data_dir: Path) -> None:
    """`model=` explains the user's network itself: its crop, its classes, its scores."""
    from facelens.attributes.choice import load_expression
    from facelens.explain import api

    network, image = trained[0], data_dir / "inspireface/test_res/emotion/happy.png"
    session = load_expression(network)
    for method in (api.gradcam, api.occlusion):
        result = method(image, "expression", model=network, faithfulness=False)
        label = result.target.split(" ")[0].split(":")[1]
        assert result.target.endswith(f"({network.name})") and label in LABELS
        assert result.crop_map.shape == (48, 48) and np.isfinite(result.crop_map).all()
        grey = (result.crop.astype(np.float32) @ LUMA)[None, None] / 255.0
        probabilities = session.run(grey)[0][0]
        assert result.score == pytest.approx(float(probabilities[LABELS.index(label)]), abs=1e-4)
    assert result.crop_map.std() > 0  # occlusion found something to say
    default = api.gradcam(image, "expression", faithfulness=False)
    assert default.crop_map.shape == (64, 64)  # mini-Xception's frame, not the trained one's


def test_the_cli_explains_a_trained_network(trained, data_dir: Path) -> None:
    image = data_dir / "inspireface/test_res/emotion/happy.png"
    args = ["explain", str(image), "--target", "expression", "--model", str(trained[0])]
    result = runner.invoke(app, [*args, "--method", "occlusion", "--no-faithfulness", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["target"].endswith(f"({trained[0].name})")
    args = ["explain", str(image), "--target", "embedding", "--model", str(trained[0]), "--json"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and json.loads(refused.stdout)["error"]["code"] == "bad_argument"


def test_the_service_runs_and_explains_a_trained_network(trained, data_dir: Path) -> None:
    """`facelens serve --model expression=FILE`: analysis and explanations use the file."""
    import warnings

    with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from facelens.api import Settings, create_app
    from facelens.cli.serve import chosen_models

    network = trained[0]
    models = chosen_models([f"expression={network}"])
    assert models == {"expression": str(network.resolve())}
    photo = (data_dir / "inspireface/test_res/emotion/happy.png").read_bytes()
    served = FaceLens(attribute_models={"expression": network}).analyze(photo).faces[0]
    with TestClient(create_app(Settings(warm_up=False, attribute_models=models))) as client:
        analysed = client.post("/v1/analyze", files={"image": photo}).json()["faces"][0]
        explained = client.post("/v1/explain?target=expression", files={"image": photo})
    assert served.expression is not None
    assert analysed["expression"]["probabilities"] == served.expression.probabilities
    assert explained.status_code == 200, explained.text
    assert explained.json()["explanation"]["target"].endswith(f"({network.name})")


@pytest.fixture(scope="module")
def probe(trained: tuple[Path, dict]) -> tuple[Path, dict]:
    """`--network faceapi` on the same tiny sample: a head on face-api's features."""
    sample = Path(trained[1]["data"]["folder"])
    out = trained[0].parent / "probe.onnx"
    args = ["train", "expression", "--data", str(sample), "--out", str(out)]
    result = runner.invoke(app, [*args, "--network", "faceapi", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_a_head_on_faceapi_features_ships_as_one_graph(probe, data_dir: Path) -> None:
    from facelens.attributes.choice import load_expression
    from facelens.models.torch_onnx import OnnxTorch

    out, card = probe
    assert "face-api" in card["model"] and card["onnx_max_difference"] <= 1e-4
    assert not out.with_suffix(".checkpoint.pt").exists()  # minutes: nothing to resume
    assert card["command"].endswith("--network faceapi")
    # the runtime runs it as it runs the small CNN; the torch twin (Grad-CAM's) agrees
    grey = np.random.default_rng(0).random((3, 1, 48, 48)).astype(np.float32)
    from_onnx = load_expression(out).run(grey)[0]
    with torch.no_grad():
        from_twin = OnnxTorch(out)(torch.from_numpy(grey)).numpy()
    np.testing.assert_allclose(from_twin, from_onnx, atol=1e-5)
    np.testing.assert_allclose(from_onnx.sum(1), 1.0, atol=1e-5)
    face = FaceLens(attribute_models={"expression": out}).analyze(
        data_dir / "inspireface/test_res/emotion/happy.png"
    )
    assert face.faces[0].expression is not None


def test_grad_cam_explains_the_faceapi_head(probe, data_dir: Path) -> None:
    from facelens.explain import api

    image = data_dir / "inspireface/test_res/emotion/happy.png"
    result = api.gradcam(image, "expression", model=probe[0], faithfulness=False)
    assert result.crop_map.shape == (48, 48) and np.isfinite(result.crop_map).all()
    assert result.crop_map.std() > 0


def test_the_network_option_is_checked(tmp_path: Path, data_dir: Path) -> None:
    args = ["train", "expression", "--data", str(data_dir / "fer2013-dev")]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "x.onnx"), "--network", "vgg"])
    assert result.exit_code == 2 and "cnn or faceapi" in result.output


def test_the_shipped_faceapi_head_by_name(data_dir: Path) -> None:
    """ "faceapi-fer" is the head trained here (tools/train_expression_model.py): it reads the
    smiling face of InspireFace's emotion sample as happy, alone and in the ensemble, and
    Grad-CAM explains it on its own 48 px frame."""
    from facelens.explain import api

    image = data_dir / "inspireface/test_res/emotion/happy.png"
    for spec in ("faceapi-fer", "mini-xception+faceapi-fer"):
        face = FaceLens(attribute_models={"expression": spec}).analyze(image).faces[0]
        assert face.expression is not None and face.expression.label == "happy", spec
    result = api.gradcam(image, "expression", model="faceapi-fer", faithfulness=False)
    assert result.target.endswith("(faceapi-expression-fer.onnx)"), result.target
    assert result.crop_map.shape == (48, 48) and result.crop_map.std() > 0
