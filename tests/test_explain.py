"""facelens.explain: torch twins agree with ONNX Runtime, maps are well-formed, faithful, and
point at a region we replaced ourselves (real faces from ../shared/data)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from facelens import explain
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.region_game import REGIONS, region_hit, swap_region
from facelens.explain import recogniser, targets
from facelens.explain.api import align, align_embedding, locate, similarity_target
from facelens.explain.base import AlignedFace
from facelens.explain.scores import ClassTarget
from facelens.models.dlib_resnet import load_dlib_resnet
from facelens.models.onnx_model import weight_path
from facelens.models.torch_onnx import OnnxTorch

TOL = 1e-4
TWINS = {  # file -> input shape (N, ...) as the graph declares it
    "emotion.onnx": (2, 64, 64, 1),
    "faceapi-age-gender.onnx": (2, 3, 112, 112),
    "dlib_resnet_v1.onnx": (2, 3, 150, 150),
    "sface.onnx": (2, 3, 112, 112),
}


@pytest.fixture(scope="module")
def images(fr_images: Path) -> Path:
    return fr_images / "tests" / "test_images"


@pytest.fixture(scope="module")
def chips(images: Path) -> dict[str, AlignedFace]:
    """dlib's 150 px embedding chips of three real faces."""
    found = {}
    for name in ("obama", "obama2", "biden"):
        rgb, face = locate(images / f"{name}.jpg")
        found[name] = align_embedding(rgb, face, "dlib")
    return found


def _ort(file: str, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(weight_path(file)), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


@pytest.mark.parametrize("file", list(TWINS))
def test_onnx_torch_matches_onnx_runtime(file: str) -> None:
    x = np.random.default_rng(0).random(TWINS[file], np.float32)
    x = x * 255 if file.startswith(("dlib", "sface")) else x * 2 - 1
    with torch.no_grad():
        out = OnnxTorch(weight_path(file))(torch.from_numpy(x))
    outputs = out if isinstance(out, tuple) else (out,)
    for expected, got in zip(_ort(file, x), outputs, strict=True):
        assert np.abs(expected - got.numpy()).max() < TOL


def test_dlib_resnet_twin_matches_onnx_runtime(chips: dict[str, AlignedFace]) -> None:
    x = np.stack([c.crop for c in chips.values()]).transpose(0, 3, 1, 2).astype(np.float32)
    with torch.no_grad():
        got = load_dlib_resnet(weight_path("dlib_resnet_v1.onnx"))(torch.from_numpy(x)).numpy()
    assert np.abs(_ort("dlib_resnet_v1.onnx", x)[0] - got).max() < TOL


def test_a_layer_is_captured_from_the_callers_own_forward_pass() -> None:
    """The REST server explains in worker threads through one shared twin: a layer hook must
    keep only its own thread's activation (another's is not in this graph, nor this face)."""
    net = load_dlib_resnet(weight_path("dlib_resnet_v1.onnx")).eval()
    mine, other = (
        torch.rand(1, 3, 150, 150, generator=torch.Generator().manual_seed(s)) for s in (0, 1)
    )
    with torch.no_grad():
        expected = recogniser._run(net, mine, "level3")[1]
    stop = threading.Event()

    def busy() -> None:
        with torch.no_grad():
            while not stop.is_set():
                net(other)

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(20):
            with torch.no_grad():
                _, activation = recogniser._run(net, mine, "level3")
            assert activation is not None and torch.equal(activation, expected)
    finally:
        stop.set()
        worker.join()


@pytest.mark.parametrize("attribute", list(targets.ATTRIBUTE_MODELS))
def test_gradcam_layer_gets_gradients(images: Path, attribute: str) -> None:
    rgb, face = locate(images / "obama.jpg")
    spec = targets.ATTRIBUTE_MODELS[attribute]
    crop = align(rgb, face, spec.template, spec.points).crop
    grad_cam = explain.GradCAM(faithfulness=False)
    last_class = len(spec.labels) - 1  # age is a regression with a single output
    activation, grads = grad_cam.gradients(crop, ClassTarget(attribute, last_class))
    assert activation.dim() == 4 and grads.shape == activation.shape
    assert grads.abs().sum() > 0


def test_embedding_gradcam_layer_gets_gradients(chips: dict[str, AlignedFace]) -> None:
    target = similarity_target(chips["obama"], chips["obama2"])
    for layer in targets.DLIB_LAYERS:
        _, grads = explain.EmbeddingGradCAM(layer, faithfulness=False).gradients(
            chips["obama"].crop, target
        )
        assert grads.abs().sum() > 0


def test_gradcam_map_shapes_ranges_and_faithfulness(images: Path) -> None:
    rgb, _ = locate(images / "obama.jpg")
    result = explain.gradcam(images / "obama.jpg", target="expression")
    assert result.crop_map.shape == (64, 64) and result.crop_map.dtype == np.float32
    assert result.image_map is not None and result.image_map.shape == rgb.shape[:2]
    assert result.crop_map.min() >= 0 and result.crop_map.max() == pytest.approx(1.0)
    faith = result.faithfulness
    assert faith is not None and faith.reliable
    areas = [v for k, v in faith.model_dump().items() if k.endswith("_auc")]
    assert all(0.0 <= a <= 1.0 for a in areas)  # one shared [0, 1] scale per face
    assert faith.deletion_auc < faith.random_deletion_auc  # a real map beats a random one
    assert faith.insertion_auc > faith.random_insertion_auc
    assert result.model_dump(mode="json")["crop_summary"]["width"] == 64


def test_overlay_leaves_the_photo_where_the_map_is_zero(images: Path) -> None:
    """Grad-CAM is 0 over much of its crop (ReLU): there the overlay shows the photo itself,
    not a flat colour square beyond the face box; the hottest pixel is tinted."""
    from facelens.explain.render import _inside_crop, overlay

    result = explain.gradcam(images / "obama.jpg", target="gender", faithfulness=False)
    picture = overlay(result, box=False)
    photo, values = result.image, result.image_map
    assert photo is not None and values is not None
    zero = (values == 0) & (_inside_crop(result) > 0.999)  # inside the crop, map 0
    assert zero.sum() > 100
    assert np.array_equal(picture[zero], photo[zero])
    hottest = np.unravel_index(np.argmax(values), values.shape)
    assert not np.array_equal(picture[hottest], photo[hottest])


def test_corrrise_reports_its_progress(images: Path) -> None:
    """Every mask of both faces is reported once, in batches, before the answer."""
    done: list[int] = []
    result = explain.pair(
        images / "obama.jpg",
        images / "obama2.jpg",
        "corrrise",
        masks=40,
        faithfulness=False,
        progress=done.append,
    )
    assert sum(done) == 2 * 40 and len(done) >= 2
    assert result.same_person


def test_occlusion_is_signed_and_sized(images: Path) -> None:
    result = explain.occlusion(images / "obama.jpg", target="gender", faithfulness=False)
    assert result.crop_map.shape == (112, 112)  # the age/gender network's crop
    assert result.signed and -1.0 <= result.crop_map.min() and result.crop_map.max() <= 1.0
    assert np.abs(result.crop_map).max() == pytest.approx(1.0)


def test_pair_maps_for_both_faces(images: Path) -> None:
    result = explain.pair(images / "obama.jpg", images / "obama2.jpg", method="gradient")
    assert result.same_person and result.embedder == "fused"  # FaceLens's default
    size = targets.FUSED_FRAME.size
    for side in (result.a, result.b):
        assert side.crop_map.shape == (size, size) and side.value_range == (-1.0, 1.0)
        assert np.abs(side.crop_map).max() == pytest.approx(1.0)
        faith = side.faithfulness
        assert faith is not None and faith.deletion_auc < faith.random_deletion_auc


@pytest.mark.parametrize("fill", ["blur", "other_face"])
def test_dissimilar_map_finds_a_replaced_region(chips: dict[str, AlignedFace], fill: str) -> None:
    """Obama's mouth region pasted over by Biden's: CorrRISE's dissimilar peak lies there."""
    box = REGIONS["mouth"]
    swapped = swap_region(chips["obama2"].crop, chips["biden"].crop, box)
    reference = similarity_target(chips["obama2"], chips["obama"])
    explainer = explain.CorrRISE(masks=500, fill=fill, faithfulness=False)  # type: ignore[arg-type]
    crop_map = explainer.compute(swapped, reference)
    assert crop_map.shape == (150, 150) and -1 <= crop_map.min() < 0 < crop_map.max() <= 1
    assert region_hit(crop_map, box)


def test_transplant_finds_a_replaced_region(chips: dict[str, AlignedFace]) -> None:
    """Obama's mouth pasted over by Biden's: giving that patch Obama's own look back raises
    the similarity most, so the transplant map's minimum lies in the mouth box."""
    box = REGIONS["mouth"]
    swapped = swap_region(chips["obama2"].crop, chips["biden"].crop, box)
    reference = similarity_target(chips["obama2"], chips["obama"])
    crop_map = explain.Transplant(faithfulness=False).compute(swapped, reference)
    assert crop_map.shape == (150, 150) and crop_map.min() < 0
    assert region_hit(crop_map, box)


def test_transplant_of_the_same_crop_changes_nothing(chips: dict[str, AlignedFace]) -> None:
    """Against its own crop every transplant is the identity: the map is exactly zero."""
    face = chips["obama"]
    crop_map = explain.Transplant(faithfulness=False).compute(
        face.crop, similarity_target(face, face)
    )
    assert np.array_equal(crop_map, np.zeros_like(crop_map))


def test_transplant_needs_the_other_face(chips: dict[str, AlignedFace]) -> None:
    target = similarity_target(chips["obama"], chips["obama2"])
    target.reference_crop = None
    with pytest.raises(FaceLensError) as raised:
        explain.Transplant(faithfulness=False).compute(chips["obama"].crop, target)
    assert raised.value.code == ErrorCode.BAD_ARGUMENT


def test_pair_without_faithfulness_scores_uint8_crops(images: Path) -> None:
    """The fast path (no deletion curves) scores the decoded uint8 crop directly."""
    result = explain.pair(
        images / "obama.jpg", images / "biden.jpg", method="gradient", faithfulness=False
    )
    assert not result.same_person and result.a.faithfulness is None
    assert result.a.score == pytest.approx(result.similarity, abs=1e-4)


def test_lfw_explain_report_has_the_issue_keys(data_dir: Path) -> None:
    """Two held-out pairs (one genuine, one impostor) through `facelens eval explain`'s
    function: every key the JSON promises, one region-game trial with its similarity cost."""
    from facelens.eval.explain import evaluate_explain

    report = evaluate_explain(data_dir / "lfw", pairs=2, methods=("gradient",))
    assert (report["pairs"], report["fold"]) == (2, 9)
    summary = report["methods"]["gradient"]
    for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "centre_deletion_auc"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["region_game_trials"] == 1 and summary["region_game_hit_rate"] in (0.0, 1.0)
    drop = report["region_game_similarity_drop"]
    assert drop["mean"] == drop["median"] and -0.2 < drop["mean"] < 0.5


def test_single_face_report_scores_every_method(data_dir: Path) -> None:
    """One held-out face through the single-face evaluation: every method and output gets
    areas in [0, 1] and a verdict that follows from them."""
    from facelens.eval.explain import evaluate_single_face

    report = evaluate_single_face(
        data_dir / "lfw", faces=1, models={"expression": "mini-xception+faceapi-fer"}
    )
    assert report.pop("faces") == 1
    # the chosen expression ensemble is what was explained; age and gender the defaults'
    assert report.pop("explained") == {
        "expression": "mini-xception+faceapi-fer",
        "age": "faceapi-age-gender-utk.onnx",
        "gender": "faceapi-age-gender-utk.onnx",
    }
    expected = {f"{m}/{a}" for m in ("gradcam", "gradcam++", "occlusion")
                for a in ("expression", "age", "gender")}  # fmt: skip
    assert set(report) == expected | {"embedding-gradcam/similarity", "occlusion/similarity"}
    for means in report.values():
        assert all(0.0 <= means[k] <= 1.0 for k in ("deletion_auc", "random_deletion_auc"))
        met = (
            means["deletion_auc"] <= 0.7 * means["random_deletion_auc"]
            and means["deletion_auc"] < means["centre_deletion_auc"]
        )
        assert means["deletion_target_met"] == met


def test_corrrise_masks_default_is_one_number_everywhere() -> None:
    """Python's pair(), the CLI's explain-pair and REST's /v1/explain/pair use one default."""
    import inspect

    from facelens.api.routes.explain import explain_pair as rest_pair
    from facelens.cli.explain import explain_pair as cli_pair
    from facelens.explain.api import pair
    from facelens.explain.corrrise import DEFAULT_MASKS

    defaults = [
        inspect.signature(f).parameters["masks"].default for f in (pair, cli_pair, rest_pair)
    ]
    assert defaults[0] == DEFAULT_MASKS
    assert defaults[1].default == DEFAULT_MASKS  # typer.Option
    assert defaults[2].default == DEFAULT_MASKS  # fastapi.Query
