"""Bad input to the explanation entry points is a clear `bad_argument` (Python, CLI, REST),
never a traceback, an unbounded allocation or a map of a network the answer does not use."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import pytest
import torch
from typer.testing import CliRunner

from facelens.cli import app
from facelens.errors import ErrorCode, FaceLensError
from facelens.explain import api
from facelens.explain.base import checked_device
from facelens.explain.corrrise import MAX_MASKS, CorrRISE
from facelens.explain.occlusion import MAX_POSITIONS, Occlusion
from facelens.models.onnx_model import weight_path

runner = CliRunner()
PHOTO = "inspireface/test_res/attribute/1423.jpg"


@pytest.fixture(scope="module")
def photo(data_dir: Path) -> Path:
    return data_dir / PHOTO


def head_with_crop_weight(folder: Path, weight: str) -> Path:
    """The shipped gender head, its blend weight with `faceapi-utk` rewritten: what
    `facelens train gender` writes (`--no-blend`: weight 0), without training one."""
    model = onnx.load(str(weight_path("gender-head.onnx")))
    meta = {p.key: p.value for p in model.metadata_props}
    meta |= {"facelens.faceapi_weight": weight, "facelens.crop_network": "faceapi-utk"}
    onnx.helper.set_model_props(model, meta)
    out = folder / f"gender-weight-{weight}.onnx"
    onnx.save(model, str(out))
    return out


@pytest.fixture(scope="module")
def no_blend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return head_with_crop_weight(tmp_path_factory.mktemp("heads"), "0")


def refused(call, *words: str) -> str:
    """The message of the `bad_argument` that `call()` raises; it names each of `words`."""
    with pytest.raises(FaceLensError) as caught:
        call()
    assert caught.value.code == ErrorCode.BAD_ARGUMENT
    for word in words:
        assert word in caught.value.message
    return caught.value.message


def cli_error(*args: str) -> dict:
    """The JSON error of `facelens explain ARGS --json`, which exits 2."""
    result = runner.invoke(app, ["explain", *args, "--no-faithfulness", "--json"])
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["error"]


def test_a_head_without_a_crop_network_is_refused(photo: Path, no_blend: Path) -> None:
    """A --no-blend head answers from the embedding alone: a crop network's map (and its
    score) would describe a network that contributes nothing to `analyze`'s answer."""
    for method in (api.gradcam, api.occlusion):
        refused(lambda m=method: m(photo, "gender", model=no_blend), "does not use a crop network")
    error = cli_error(str(photo), "--target", "gender", "--model", str(no_blend))
    assert error["code"] == "bad_argument" and no_blend.name in error["message"]


def test_the_service_refuses_to_explain_a_served_head_without_a_crop_network(
    photo: Path, no_blend: Path
) -> None:
    with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from facelens.api import Settings, create_app

    settings = Settings(warm_up=False, attribute_models={"gender": str(no_blend)})
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/explain?target=gender", files={"image": photo.read_bytes()})
    assert answer.status_code == 400, answer.text
    assert "does not use a crop network" in answer.json()["error"]["message"]


def test_a_partly_blended_head_names_its_crop_networks_share(photo: Path, tmp_path: Path) -> None:
    """The map is the crop network's own; the target says it is half of the head's answer."""
    half = head_with_crop_weight(tmp_path, "0.5")
    result = api.gradcam(photo, "gender", model=half, faithfulness=False)
    label = result.target.split(",")[0].split(":")[1]
    share = f", faceapi-utk at weight 0.5 of {half.name}"
    assert result.target == f"gender:{label}{share} (faceapi-age-gender-utk.onnx)"
    crop_alone = api.gradcam(photo, "gender", label, model="faceapi-utk", faithfulness=False)
    assert result.score == pytest.approx(crop_alone.score, abs=1e-6)
    odd = head_with_crop_weight(tmp_path, "nan")
    refused(lambda: api.gradcam(photo, "gender", model=odd), "not between 0 and 1")


def test_devices_are_checked_before_any_work(photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refused(lambda: api.gradcam(photo, device="nope"), "unknown device 'nope'", "cpu")
    refused(lambda: api.occlusion(photo, device="meta"), "not supported")
    refused(lambda: api.pair(photo, photo, device="nope"), "unknown device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    refused(lambda: checked_device("cuda"), "CUDA is not available")
    assert checked_device("cpu") == torch.device("cpu")
    assert cli_error(str(photo), "--device", "nope")["code"] == "bad_argument"


def test_unknown_layers_name_the_layers_there_are(photo: Path) -> None:
    refused(lambda: api.gradcam(photo, "gender", layer="nope"), "'nope'", "exit_flow/features")
    refused(lambda: api.gradcam(photo, "gender", layer="gender"), "not a feature map")
    levels = ("'nope'", "level3", "level0")
    refused(lambda: api.gradcam(photo, "embedding", layer="nope", embedder="dlib"), *levels)
    finer = api.gradcam(photo, "gender", layer="middle_flow/main_block_1", faithfulness=False)
    assert finer.layer == "middle_flow/main_block_1"  # any feature map of the graph works
    assert (
        "exit_flow/features"
        in cli_error(str(photo), "--target", "gender", "--layer", "nope")["message"]
    )


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"patch": 0}, "patch"),
        ({"patch": -5}, "patch"),
        ({"patch": 2.5}, "patch"),
        ({"patch": True}, "patch"),
        ({"stride": float("nan")}, "stride"),
        ({"stride": float("inf")}, "stride"),
        ({"stride": -3}, "stride"),
        ({"stride": 0}, "stride"),
        ({"fill": "noise"}, "fill"),
    ],
)
def test_occlusion_options_are_positive_and_finite(options: dict, named: str) -> None:
    refused(lambda: Occlusion(**options), named)


def test_occlusion_grids_fit_the_crop_and_stay_bounded() -> None:
    refused(lambda: Occlusion(patch=112).grid(112), "hides the whole 112 px crop")
    refused(lambda: Occlusion(stride=113).grid(112), "longer than the 112 px crop")
    # 0.01 px asked for 88 million masks (478 GB): refused before any is made
    refused(lambda: Occlusion(stride=0.01).grid(112), f"over the {MAX_POSITIONS} allowed")
    refused(lambda: Occlusion(stride=1e-300).grid(112), "over the")
    patch, corners = Occlusion(patch=18, stride=94 / 31).grid(112)  # 32 × 32: the cap
    assert patch == 18 and len(corners) ** 2 == MAX_POSITIONS
    refused(lambda: Occlusion(patch=18, stride=94 / 31.5).grid(112), "1,089 positions")
    assert len(Occlusion().keep_masks(112)) == 14 * 14  # the default grid is unchanged


def test_corrrise_masks_are_bounded() -> None:
    # every mask is held at once: a count without a limit is memory without one
    refused(lambda: CorrRISE(masks=MAX_MASKS + 1), f"at most {MAX_MASKS}")
    assert CorrRISE(masks=MAX_MASKS).masks == MAX_MASKS


def test_occlusion_refuses_bad_options_through_every_entry_point(photo: Path) -> None:
    refused(lambda: api.occlusion("no-such-file.jpg", patch=0), "patch")  # before decoding
    refused(lambda: api.occlusion(photo, "gender", patch=100_000), "choose 1 to 111")
    for args in (["--stride", "nan"], ["--stride", "0.01"], ["--patch", "100000"]):
        assert cli_error(str(photo), "--method", "occlusion", *args)["code"] == "bad_argument"


@pytest.mark.parametrize(
    "args",
    [
        ["--method", "occlusion", "--patch", "0"],
        ["--method", "occlusion", "--layer", "exit_flow/features"],
        ["--patch", "20"],  # Grad-CAM has no patch: refused, not ignored
        ["--stride", "4"],
        ["--face", "-1"],
    ],
)
def test_the_cli_refuses_options_out_of_range_or_for_another_method(
    photo: Path, args: list[str]
) -> None:
    result = runner.invoke(app, ["explain", str(photo), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_class_for_the_embedding_is_refused(photo: Path) -> None:
    refused(lambda: api.gradcam(photo, "embedding", class_name="happy"), "class_name")


def test_a_bad_second_photo_fails_before_the_first_is_analysed(photo: Path, monkeypatch) -> None:
    """verify, explain.pair and the reconstruction pair decode both photos first."""
    from facelens.detection.detector import FaceDetector
    from facelens.explain.reconstruct import reconstruct_pair
    from facelens.lens import FaceLens

    def no_detection(*args, **kwargs):
        raise AssertionError("photo A was analysed before photo B was decoded")

    monkeypatch.setattr(FaceDetector, "detect", no_detection)
    for pair in (
        lambda: FaceLens().verify(photo, b"not an image"),
        lambda: api.pair(photo, b"not an image", method="gradient", faithfulness=False),
        lambda: reconstruct_pair(photo, b"not an image"),
    ):
        with pytest.raises(FaceLensError) as caught:
            pair()
        assert caught.value.code == ErrorCode.NOT_AN_IMAGE
