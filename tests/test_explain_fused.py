"""Embedding explanations follow the embedder FaceLens uses: SFace's torch twin agrees with
ONNX Runtime, the fused embedder's maps are its networks' maps, each on its own chip, warped
back and weighted as the fusion weighs their cosines (real faces from ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facelens import explain
from facelens.eval.region_game import REGIONS, regions_in
from facelens.explain import targets
from facelens.explain.api import align_embedding, embedding_of, locate, similarity_target
from facelens.explain.base import AlignedFace
from facelens.explain.recogniser import recogniser, warp, warp_back
from facelens.explain.scores import SimilarityTarget
from facelens.lens import FaceLens
from facelens.recognition.registry import FUSION_WEIGHT, get_network

SHARES = {"sface": 1 / (1 + FUSION_WEIGHT**2), "dlib": FUSION_WEIGHT**2 / (1 + FUSION_WEIGHT**2)}


@pytest.fixture(scope="module")
def faces(fr_images: Path) -> dict[str, tuple]:
    images = fr_images / "tests" / "test_images"
    return {name: locate(images / f"{name}.jpg") for name in ("obama", "obama2", "biden")}


def aligned(faces: dict, embedder: str) -> dict[str, AlignedFace]:
    return {name: align_embedding(rgb, face, embedder) for name, (rgb, face) in faces.items()}


def test_sface_twin_matches_onnx_runtime_on_real_chips(faces: dict) -> None:
    chips = np.stack([f.crop for f in aligned(faces, "sface").values()])
    sface = get_network("sface")
    with torch.no_grad():
        twin = targets.embedding_net("sface")(torch.from_numpy(sface.preprocess(chips))).numpy()
    assert np.abs(twin - sface.raw(chips)[0]).max() < 1e-4


def test_torch_warp_is_opencvs_warp(faces: dict) -> None:
    """The differentiable warp that feeds each network its chip is cv2.warpAffine's."""
    import cv2

    frame = aligned(faces, "fused")["obama"]
    for part in frame.parts:
        size = part.chip.shape[0]
        expected = cv2.warpAffine(frame.crop.astype(np.float32), part.matrix, (size, size))
        got = warp(torch.from_numpy(frame.crop[None].astype(np.float32)).permute(0, 3, 1, 2),
                   part.matrix, size)[0].permute(1, 2, 0).numpy()  # fmt: skip
        assert np.abs(got - expected).max() < 0.05


def test_fused_frame_scores_exactly_as_the_networks_on_their_own_chips(faces: dict) -> None:
    """Each part chip is the chip its network's own alignment cuts, and the fused cosine is
    the share-weighted mean of the two networks' cosines (1 : 1.7²)."""
    fused, sface, dlib = (aligned(faces, e) for e in ("fused", "sface", "dlib"))
    for name, frame in fused.items():
        assert frame.crop.shape == (192, 192, 3) and [p.network for p in frame.parts] == [
            "sface",
            "dlib",
        ]
        chips = {p.network: p.chip_of(frame.crop) for p in frame.parts}
        assert np.abs(chips["sface"] - sface[name].crop).max() < 1e-3
        assert np.abs(chips["dlib"] - dlib[name].crop).max() < 1e-3
    for a, b in (("obama", "obama2"), ("obama", "biden")):
        cosines = {e: float(embedding_of(f[a]) @ embedding_of(f[b])) for e, f in
                   (("sface", sface), ("dlib", dlib))}  # fmt: skip
        expected = SHARES["sface"] * cosines["sface"] + SHARES["dlib"] * cosines["dlib"]
        assert float(embedding_of(fused[a]) @ embedding_of(fused[b])) == pytest.approx(
            expected, abs=1e-5
        )
    # ... and it is what FaceLens itself computes with the fused embedder
    rgb, _ = faces["obama"]
    pipeline = FaceLens(embedder="fused").embed(rgb).faces[0].embedding_array
    assert np.abs(embedding_of(fused["obama"]) - pipeline).max() < 2e-3


def test_fused_gradcam_is_the_weighted_sum_of_each_networks_gradcam(faces: dict) -> None:
    """Grad-CAM of the fused cosine = Σ share_i · (network i's Grad-CAM of its own cosine on
    its own chip, warped back into the frame), each computed here independently."""
    fused, alone = aligned(faces, "fused"), {e: aligned(faces, e) for e in ("sface", "dlib")}
    cam = explain.EmbeddingGradCAM(faithfulness=False)
    got = cam.compute(fused["obama"].crop, similarity_target(fused["obama"], fused["obama2"]))
    assert cam.layer == f"sface:{targets.SFACE_LAYERS[0]}+dlib:{targets.DLIB_LAYERS[0]}"
    expected = np.zeros_like(got)
    for part in fused["obama"].parts:
        faces_alone = alone[part.network]
        target = similarity_target(faces_alone["obama"], faces_alone["obama2"])
        single = explain.EmbeddingGradCAM(faithfulness=False).compute(
            faces_alone["obama"].crop, target
        )
        expected += SHARES[part.network] * warp_back(single, part.matrix, got.shape[0])
    assert np.abs(got - expected).max() < 1e-4 * np.abs(expected).max()


def test_fused_gradient_map_splits_by_the_fusion_weights(faces: dict) -> None:
    """The fused reference r = [w_s r_s, w_d r_d] / |w|: zeroing one network's half leaves a
    score share_i · cos_i, and the two halves' gradient maps add up to the fused map."""
    fused = aligned(faces, "fused")
    a, b = fused["obama"], fused["biden"]
    reference = embedding_of(b)
    r = recogniser("fused")
    explainer = explain.GradientPair(smooth=0.5, faithfulness=False)
    whole = explainer.compute(a.crop, similarity_target(a, b))
    halves, crop = [], a.crop[None].astype(np.float32)
    for network, span in zip(r.networks, r.slices, strict=True):
        half = np.zeros_like(reference)
        half[span] = reference[span]
        target = SimilarityTarget(half, embedder="fused", parts=a.parts)
        alone = align_embedding(*faces["obama"], network), align_embedding(*faces["biden"], network)
        cosine = float(embedding_of(alone[0]) @ embedding_of(alone[1]))
        assert float(target.scores(crop)[0]) == pytest.approx(SHARES[network] * cosine, abs=1e-5)
        halves.append(explainer.compute(a.crop, target))
    assert np.abs(whole - sum(halves)).max() < 1e-4 * np.abs(whole).max()
    assert min(np.abs(h).max() for h in halves) > 0.05 * np.abs(whole).max()  # both networks


def test_fused_maps_differ_from_dlib_alone(fr_images: Path) -> None:
    """What the default embedder looked at is not what dlib alone looked at (in the photo)."""
    images = fr_images / "tests" / "test_images"
    a, b = images / "obama.jpg", images / "biden.jpg"
    maps = {
        e: explain.pair(a, b, "gradient", faithfulness=False, embedder=e) for e in ("fused", "dlib")
    }
    assert maps["fused"].threshold != maps["dlib"].threshold
    fused, dlib = (m.a.image_map for m in maps.values())
    assert fused is not None and dlib is not None and fused.shape == dlib.shape
    inside = (fused != 0) & (dlib != 0)
    correlation = np.corrcoef(fused[inside], dlib[inside])[0, 1]
    assert correlation < 0.9


def test_region_boxes_follow_the_face_into_each_crop(faces: dict) -> None:
    """The region game's boxes are dlib-chip boxes; in dlib's own chip they stay put, in the
    fused frame they cover the same patch of the face."""
    from facelens.detection.align import estimate_transform
    from facelens.detection.dlib_points import dlib_points
    from facelens.recognition.dlib import DLIB_CHIP

    rgb, face = faces["obama"]
    dlib_matrix = estimate_transform(dlib_points(face.mesh[None])[0], DLIB_CHIP)
    assert regions_in(align_embedding(rgb, face, "dlib"), dlib_matrix) == REGIONS
    frame = align_embedding(rgb, face, "fused")
    boxes = regions_in(frame, dlib_matrix)
    five = frame.matrix[:, :2] @ face.landmarks.to_array().T + frame.matrix[:, 2:]  # in frame
    x1, y1, x2, y2 = boxes["right_eye"]  # the subject's right eye: second landmark
    assert x1 <= five[0, 1] <= x2 and y1 <= five[1, 1] <= y2


def test_a_layer_named_for_the_fused_embedding_is_refused(faces: dict) -> None:
    from facelens.errors import ErrorCode, FaceLensError

    fused = aligned(faces, "fused")
    target = similarity_target(fused["obama"], fused["obama2"])
    with pytest.raises(FaceLensError) as refused:
        explain.EmbeddingGradCAM("level3", faithfulness=False).compute(fused["obama"].crop, target)
    assert refused.value.code == ErrorCode.BAD_ARGUMENT


def test_pair_explains_the_similarity_verify_decided_on(fr_images: Path) -> None:
    """On a 1080p photo verify's largest-face search stops at a coarse pass; the pair maps
    must explain the faces (and so the similarity) verify compared, not a full pass's
    slightly different landmarks (0.643 against verify's 0.631 before); so must the
    embedding's Grad-CAM against a reference photo."""
    big = fr_images / "examples" / "obama-1080p.jpg"
    other = fr_images / "tests" / "test_images" / "biden.jpg"
    decided = FaceLens().verify(big, other).similarity
    explained = explain.pair(big, other, faithfulness=False).similarity
    assert decided is not None and abs(explained - decided) < 2e-3, (explained, decided)
    cam = explain.gradcam(big, "embedding", reference=other, faithfulness=False)
    assert abs(cam.score - decided) < 2e-3, (cam.score, decided)
