"""`facelens train` refuses meaningless input before it trains: bad UTKFace names, folders
without faces, too little data, checkpoints of another run, and --out paths it cannot write.
Tiny folders of links to real images (and synthetic grey ones); no full training run."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from samples import utkface_sample
from typer.testing import CliRunner

from facelens.attributes.expression import LABELS
from facelens.cli import app
from facelens.detection.dlib_points import dlib_points
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.attributes import utkface_labels
from facelens.eval.face_sample import central_faces
from facelens.train import checks, crop_network, face_embeddings, heads

runner = CliRunner()


def _refusal(args: list[str]) -> dict:
    """The JSON error of a command that must exit 2."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["error"]


def _said(output: str) -> str:
    """A usage error's text without the box and line breaks rich draws around it."""
    return " ".join(output.replace("│", " ").split())


def _no_detection(*_: object, **__: object) -> None:
    raise AssertionError("the folder was read before its names were checked")


def _grey_folder(root: Path, count: int) -> Path:
    """`count` flat grey 200 px images with valid UTKFace names: nothing to detect."""
    root.mkdir()
    for i in range(count):
        grey = np.full((200, 200, 3), 100 + i, np.uint8)
        cv2.imwrite(str(root / f"{20 + i}_{i % 2}_{i % 5}_grey.jpg"), grey)
    return root


def _fer_sample(data_dir: Path, root: Path, per_class: int, skip: int = 0) -> Path:
    for label in LABELS:
        (root / label).mkdir(parents=True)
        files = sorted((data_dir / "fer2013-train" / label).glob("*.jpg"))
        for path in files[skip : skip + per_class]:
            (root / label / path.name).symlink_to(path)
    return root


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("ab_1_0_y.jpg", "age"),
        ("-5_1_0_a.jpg", "age"),
        ("999_1_0_b.jpg", "age"),
        ("20_7_0_c.jpg", "gender"),
        ("20_x_0_c.jpg", "gender"),
        ("20_1_5_d.jpg", "race"),
        ("25_0_zz_z.jpg", "race"),
    ],
)
def test_a_bad_name_is_refused_before_any_embedding(
    name: str, field: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = utkface_sample(data_dir, tmp_path, checks.MIN_FACES)
    (sample / name).symlink_to(next(sample.iterdir()).resolve())
    monkeypatch.setattr(face_embeddings, "central_faces", _no_detection)
    monkeypatch.setattr(crop_network, "central_faces", _no_detection)
    for target in ("age", "crop"):
        out = tmp_path / f"{target}.onnx"
        error = _refusal(["train", target, "--data", str(sample), "--out", str(out)])
        assert error["code"] == "bad_argument"
        assert name in error["message"] and f"the {field} must be" in error["message"]
        assert not out.exists()


def test_every_shipped_utkface_name_parses(data_dir: Path) -> None:
    for folder in ("utkface-train", "utkface-dev"):
        files = face_embeddings.utkface_files(data_dir / folder)
        age, female, race = utkface_labels(files)
        assert len(files) == len(list((data_dir / folder).glob("*.jpg")))
        assert age.min() >= 1 and age.max() == (116 if folder == "utkface-train" else 110)
        assert 0.4 < female.mean() < 0.6 and set(race) == {0, 1, 2, 3, 4}


def test_names_without_a_race_are_left_out(data_dir: Path, tmp_path: Path) -> None:
    """UTKFace has three AGE_GENDER_DATETIME names (no race): not labelled, not an error."""
    sample = utkface_sample(data_dir, tmp_path, checks.MIN_FACES)
    (sample / "39_1_20170116174525125.jpg.chip.jpg").symlink_to(next(sample.iterdir()).resolve())
    assert len(face_embeddings.utkface_files(sample)) == checks.MIN_FACES


def test_a_set_without_faces_gets_a_usable_centred_face(tmp_path: Path) -> None:
    files = sorted(_grey_folder(tmp_path / "grey", 2).iterdir())
    faces, detected = central_faces(files)
    assert not detected.any()
    for face in faces:
        assert face.mesh.shape == (1, 468, 3)
        assert np.isfinite(dlib_points(face.mesh)).all()  # the dlib chip's landmarks


@pytest.mark.parametrize("target", ["age", "crop"])
def test_a_folder_without_faces_is_refused(target: str, tmp_path: Path) -> None:
    grey = _grey_folder(tmp_path / "grey", checks.MIN_FACES)
    out = tmp_path / "model.onnx"
    args = ["train", target, "--data", str(grey), "--out", str(out)]
    error = _refusal(args + (["--no-cache"] if target == "age" else []))
    assert error["code"] == "no_face"
    assert f"no face detected in any of {checks.MIN_FACES} images" in error["message"]
    assert not out.exists()


@pytest.mark.parametrize("target", ["age", "crop"])
def test_a_file_that_is_no_image_is_named(target: str, data_dir: Path, tmp_path: Path) -> None:
    sample = utkface_sample(data_dir, tmp_path, checks.MIN_FACES)
    (sample / "0_0_0_text.jpg").write_text("not an image")  # sorted first: read first
    args = ["train", target, "--data", str(sample), "--out", str(tmp_path / "m.onnx")]
    error = _refusal(args + (["--no-cache"] if target == "age" else []))
    assert error["code"] == "not_an_image" and "0_0_0_text.jpg" in error["message"]


@pytest.mark.parametrize("target", ["age", "gender", "crop"])
def test_too_few_faces_are_refused(target: str, data_dir: Path, tmp_path: Path) -> None:
    sample = utkface_sample(data_dir, tmp_path, checks.MIN_FACES - 1)
    error = _refusal(["train", target, "--data", str(sample), "--out", str(tmp_path / "m.onnx")])
    assert error["code"] == "bad_argument"
    assert f"{checks.MIN_FACES - 1} labelled faces" in error["message"]


def test_a_split_with_an_empty_side_is_refused() -> None:
    with pytest.raises(FaceLensError, match="training split would be empty") as raised:
        heads.split(1)
    assert raised.value.code == ErrorCode.BAD_ARGUMENT
    train, valid = heads.split(checks.MIN_FACES)
    assert len(train) and len(valid)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"happy": 1}, "class 'happy': 1 faces"),
        ({"sad": 2}, "faces of one class only (sad)"),
        ({"sad": 2, "happy": 1}, "class 'happy': 1 faces"),
        ({label: 2 for label in LABELS}, "14 labelled faces"),
    ],
)
def test_too_little_expression_data_is_refused(
    counts: dict[str, int], message: str, data_dir: Path, tmp_path: Path
) -> None:
    for label, count in counts.items():
        (tmp_path / "fer" / label).mkdir(parents=True)
        for path in sorted((data_dir / "fer2013-train" / label).glob("*.jpg"))[:count]:
            (tmp_path / "fer" / label / path.name).symlink_to(path)
    args = ["train", "expression", "--data", str(tmp_path / "fer")]
    error = _refusal([*args, "--out", str(tmp_path / "e.onnx"), "--epochs", "1"])
    assert error["code"] == "bad_argument" and message in error["message"]


@pytest.fixture(scope="module")
def expression_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One epoch of a width-4 network on 3 faces per class, written under a folder whose
    name needs quoting in a shell."""
    root = tmp_path_factory.mktemp("checkpoints")
    sample = _fer_sample(data_dir, root / "fer", 3)
    out = root / "my models" / "e.onnx"
    args = ["train", "expression", "--data", str(sample), "--out", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--width", "4", "--json"])
    assert result.exit_code == 0, result.output
    return {"root": root, "args": args, "out": out, "card": json.loads(result.stdout)}


def test_the_card_quotes_out(expression_run: dict) -> None:
    command = expression_run["card"]["command"]
    assert f"--out {shlex.quote(str(expression_run['out']))} " in command
    assert shlex.split(command)[6] == str(expression_run["out"])


def test_the_same_run_resumes_its_checkpoint(expression_run: dict) -> None:
    result = runner.invoke(app, [*expression_run["args"], "--width", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["epochs"] == 1  # resumed after the epoch it had run


@pytest.mark.parametrize(
    ("options", "changed"),
    [(["--epochs", "1", "--width", "8"], "width"), (["--epochs", "2", "--width", "4"], "epochs")],
)
def test_a_checkpoint_of_other_options_is_refused(
    expression_run: dict, options: list[str], changed: str
) -> None:
    error = _refusal([*expression_run["args"][:-2], *options])
    assert error["code"] == "bad_argument" and "is from another run or damaged" in error["message"]
    assert f"differs in {changed})" in error["message"]


def test_a_checkpoint_of_other_data_is_refused(expression_run: dict, data_dir: Path) -> None:
    other = _fer_sample(data_dir, expression_run["root"] / "other", 3, skip=3)
    args = ["train", "expression", "--data", str(other), *expression_run["args"][4:]]
    error = _refusal([*args, "--width", "4"])
    assert "differs in data, fingerprint" in error["message"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_a_damaged_checkpoint_is_refused(content: bytes, data_dir: Path, tmp_path: Path) -> None:
    sample = _fer_sample(data_dir, tmp_path / "fer", 3)
    out = tmp_path / "e.onnx"
    out.with_suffix(".checkpoint.pt").write_bytes(content)
    args = ["train", "expression", "--data", str(sample), "--out", str(out), "--epochs", "1"]
    error = _refusal(args)
    assert error["message"] == (
        f"{out.with_suffix('.checkpoint.pt')} is from another run or damaged; delete it"
    )


def test_a_crop_checkpoint_of_another_run_is_refused(data_dir: Path, tmp_path: Path) -> None:
    sample = utkface_sample(data_dir, tmp_path, checks.MIN_FACES)
    out = tmp_path / "crop.onnx"
    args = ["train", "crop", "--data", str(sample), "--out", str(out)]
    checkpoint = out.with_suffix(".checkpoint.pt")
    checks.save_checkpoint(checkpoint, {"model": "faceapi-age-gender fine-tune"}, {})
    message = _refusal(args)["message"]
    assert "is from another run or damaged" in message and "learning_rate" in message
    checkpoint.write_bytes(b"\x00" * 8)
    assert _refusal(args)["message"].endswith("is from another run or damaged; delete it")
    assert not out.exists()


def test_a_checkpoint_carries_its_run(tmp_path: Path) -> None:
    path, run = tmp_path / "x.checkpoint.pt", {"data": "/d", "faces": 20, "learning_rate": 1e-4}
    assert checks.load_checkpoint(path, run) is None
    checks.save_checkpoint(path, run, {"weights": torch.zeros(2)})
    assert torch.equal(checks.load_checkpoint(path, run)["weights"], torch.zeros(2))
    with pytest.raises(FaceLensError, match=r"differs in learning_rate\); delete it"):
        checks.load_checkpoint(path, {**run, "learning_rate": 1e-3})


@pytest.mark.parametrize("target", ["age", "gender", "crop", "expression", "decoder"])
def test_an_out_that_cannot_be_written_is_refused_first(target: str, tmp_path: Path) -> None:
    (tmp_path / "taken.onnx").mkdir()
    (tmp_path / "a-file").touch()
    for out, problem in (
        (tmp_path / "taken.onnx", "is a folder"),
        (tmp_path / "a-file" / "sub" / "m.onnx", "is not a folder"),
    ):
        result = runner.invoke(app, ["train", target, "--data", str(tmp_path), "--out", str(out)])
        assert result.exit_code == 2 and problem in _said(result.output), result.output


@pytest.mark.parametrize("target", ["crop", "expression"])
def test_a_checkpoint_path_that_is_a_folder_is_refused(target: str, tmp_path: Path) -> None:
    (tmp_path / "m.checkpoint.pt").mkdir()
    args = ["train", target, "--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "is a folder" in _said(result.output)  # only it exists
