"""`facelens eval explain`: pair maps on held-out LFW pairs, faithfulness and a region game.

Faithfulness: for every pair (genuine and impostor, the tenth fold) and both of its images, the
deletion/insertion areas of each method's map, of a smooth random map and of a centre
Gaussian on the same face. Region game: in a genuine pair, one eye, the nose or the mouth
region of B's aligned crop is replaced (feathered edge) by the same region of another
person's crop; a hit is when the dissimilar map's maximum (the map's minimum) falls inside
the replaced region. Chance level is the region's share of the crop (4-7%).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from facelens.detection.align import CropTemplate, align_faces, estimate_transform
from facelens.detection.dlib_points import dlib_points
from facelens.eval.lfw import central_face
from facelens.eval.lfw_pairs import Pair, read_pairs
from facelens.eval.region_game import region_hit, regions_in, swap_region
from facelens.explain.api import explain_pair, pair_explainer, similarity_target
from facelens.explain.base import AlignedFace, Explainer
from facelens.explain.corrrise import DEFAULT_FILL, Fill
from facelens.explain.recogniser import align_face
from facelens.explain.scores import Target
from facelens.explain.targets import Points
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.recognition.dlib import DLIB_CHIP
from facelens.recognition.names import DEFAULT_EMBEDDER
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, threshold_for

ATTRIBUTES = ("expression", "age", "gender")
HELD_OUT_FOLD = 9  # the tenth fold (0-based), held out from quality training too


class LfwCrops:
    """Aligned crops of LFW images; each image is detected once (its central face).

    Called with a template: that crop; `embedding(name)`: the embedder's explained crop."""

    def __init__(self, data: Path, embedder: str = DEFAULT_EMBEDDER) -> None:
        self.data, self.lens, self.embedder = data, FaceLens(), embedder
        self.found: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}

    def embedding(self, name: str) -> AlignedFace | None:
        entry = self._detect(name)
        if entry is None:
            return None
        crop, matrix, parts = align_face(self.embedder, *entry)
        return AlignedFace(crop, matrix=matrix, embedder=self.embedder, parts=parts)

    def dlib_matrix(self, name: str) -> np.ndarray:
        """The image -> dlib chip transform of the image's face (the regions' frame)."""
        entry = self._detect(name)
        assert entry is not None
        return estimate_transform(dlib_points(entry[2][None])[0], DLIB_CHIP)

    def __call__(self, name: str, template: CropTemplate, points: Points) -> AlignedFace | None:
        entry = self._detect(name)
        if entry is None:
            return None
        rgb, five, mesh = entry
        crops, _ = align_faces(rgb, points(five, mesh)[None], template)
        return AlignedFace(crop=crops[0])

    def _detect(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if name not in self.found:
            rgb = load_image(self.data / "images" / name)
            found = self.lens.detector.detect(rgb)
            self.found[name] = None
            if len(found.boxes):
                i = central_face(found.boxes, rgb.shape[1], rgb.shape[0])
                self.found[name] = (rgb, found.points[i], found.mesh[i])
        return self.found[name]


def held_out_pairs(data: Path, count: int, fold_index: int = HELD_OUT_FOLD) -> list[Pair]:
    """`count` pairs of the held-out fold (or `fold_index`, 0-based, for choices made
    elsewhere), half genuine and half impostor, interleaved."""
    fold = [p for p in read_pairs(data) if p.fold == fold_index]
    genuine = [p for p in fold if p.same][: (count + 1) // 2]
    impostor = [p for p in fold if not p.same][: count // 2]
    mixed = [p for both in zip(genuine, impostor, strict=False) for p in both]
    return mixed + genuine[len(impostor) :]


def _region_game(
    explainer: Explainer,
    face_a: AlignedFace,
    face_b: AlignedFace,
    swapped: np.ndarray,
    box: tuple[int, int, int, int],
) -> bool:
    """Does the dissimilar map of the swapped B (against A) point at the swapped box?"""
    return region_hit(explainer.compute(swapped, similarity_target(face_b, face_a)), box)


def evaluate_explain(
    data: Path,
    pairs: int = 200,
    methods: tuple[str, ...] = ("corrrise", "gradient"),
    masks: int = 1000,
    tick: Callable[[], None] | None = None,
    fill: Fill = DEFAULT_FILL,
    embedder: str = DEFAULT_EMBEDDER,
) -> dict:
    """Mean faithfulness areas and region-game hit rate per pair method, for `embedder`."""
    threshold = threshold_for(DEFAULT_OPERATING_POINT, False, embedder)
    explainers = {m: pair_explainer(m, masks, threshold=threshold, fill=fill) for m in methods}
    crops = LfwCrops(data, embedder)
    chosen = held_out_pairs(data, pairs)
    donors = [p.image_a for p in chosen if not p.same] or [p.image_a for p in chosen]
    areas: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    hits: dict[str, list[bool]] = {m: [] for m in methods}
    seconds: dict[str, float] = dict.fromkeys(methods, 0.0)
    drops: list[float] = []  # what each region swap cost the genuine pair's similarity
    skipped = 0
    for n, pair in enumerate(chosen):
        face_a, face_b = crops.embedding(pair.image_a), crops.embedding(pair.image_b)
        if face_a is None or face_b is None:
            skipped += 1
            continue
        kind = "genuine" if pair.same else "impostor"
        trial = swapped_region(crops, donors, pair, n, face_b, len(drops)) if pair.same else None
        game = None
        if trial is not None:
            swapped, box, _ = trial
            before, after = similarity_target(face_b, face_a).scores(
                np.stack([face_b.crop, swapped]).astype(np.float32)
            )
            drops.append(float(before - after))
            game = (swapped, box)
        for method, explainer in explainers.items():
            start = time.perf_counter()
            result = explain_pair(face_a, face_b, explainer, threshold)
            for side in (result.a, result.b):
                faith = side.faithfulness
                assert faith is not None
                for key, value in faith.model_dump().items():
                    if key.endswith("_auc"):
                        areas[method].setdefault(key, []).append(value)
                        areas[method].setdefault(f"{kind}_{key}", []).append(value)
            if game is not None:
                hits[method].append(_region_game(explainer, face_a, face_b, *game))
            seconds[method] += time.perf_counter() - start
        if tick:
            tick()
    evaluated = len(chosen) - skipped
    report: dict = {
        "embedder": embedder,
        "threshold": threshold,
        "pairs": evaluated,
        "skipped": skipped,
        "fold": HELD_OUT_FOLD,
        "masks": masks,
        "corrrise_fill": fill,
        "region_game_similarity_drop": {
            "mean": round(float(np.mean(drops)), 4) if drops else None,
            "median": round(float(np.median(drops)), 4) if drops else None,
            "below_0.02": round(float(np.mean(np.array(drops) < 0.02)), 4) if drops else None,
        },
        "methods": {},
    }
    for method in methods:
        means = {k: round(float(np.mean(v)), 4) for k, v in areas[method].items()}
        summary = {
            "deletion_auc": means.get("deletion_auc"),
            "insertion_auc": means.get("insertion_auc"),
            "random_deletion_auc": means.get("random_deletion_auc"),
            "random_insertion_auc": means.get("random_insertion_auc"),
            "centre_deletion_auc": means.get("centre_deletion_auc"),
            "centre_insertion_auc": means.get("centre_insertion_auc"),
            "region_game_hit_rate": round(float(np.mean(hits[method])), 4)
            if hits[method]
            else None,
            "region_game_trials": len(hits[method]),
            "seconds_per_pair": round(seconds[method] / max(evaluated, 1), 2),
            "by_pair_type": {k: v for k, v in means.items() if k.startswith(("genuine", "imp"))},
        }
        deletion, random, centre = (
            summary["deletion_auc"],
            summary["random_deletion_auc"],
            summary["centre_deletion_auc"],
        )
        if deletion is not None and random is not None and centre is not None:
            summary["deletion_target_met"] = deletion <= 0.7 * random and deletion < centre
        report["methods"][method] = summary
    return report


def swapped_region(
    crops: LfwCrops, donors: list[str], pair: Pair, n: int, face_b: AlignedFace, turn: int
) -> tuple[np.ndarray, tuple[int, int, int, int], str] | None:
    """One region-game trial on genuine pair number `n`: B's crop with its `turn`-th region
    (eyes, nose, mouth in turn) taken from a stranger, the region's box in that crop and its
    name; None when no stranger's face is found."""
    donor = stranger_face(crops, donors, pair, n)
    if donor is None:
        return None
    boxes = regions_in(face_b, crops.dlib_matrix(pair.image_b))
    name = list(boxes)[turn % len(boxes)]
    return swap_region(face_b.crop, donor.crop, boxes[name]), boxes[name], name


def stranger_face(crops: LfwCrops, donors: list[str], pair: Pair, n: int) -> AlignedFace | None:
    """Another person's face (from the impostor pairs' images), rotating through them."""
    person = pair.image_b.split("/")[0]
    for offset in range(len(donors)):
        name = donors[(n + offset) % len(donors)]
        if name.split("/")[0] != person:
            face = crops.embedding(name)
            if face is not None:
                return face
    return None


def held_out_faces(
    data: Path, faces: int, embedder: str = DEFAULT_EMBEDDER
) -> Iterator[tuple[LfwCrops, Pair]]:
    """The first `faces` held-out genuine pairs whose two images both have a face."""
    crops = LfwCrops(data, embedder)
    done = 0
    for pair in [p for p in read_pairs(data) if p.fold == HELD_OUT_FOLD and p.same]:
        if done == faces:
            return
        if crops.embedding(pair.image_a) is None or crops.embedding(pair.image_b) is None:
            continue
        yield crops, pair
        done += 1


class AreaLog:
    """Faithfulness areas per named method, averaged with the deletion target's verdict."""

    def __init__(self) -> None:
        self.areas: dict[str, dict[str, list[float]]] = {}

    def add(self, name: str, explainer: Explainer, face: AlignedFace, target: Target) -> None:
        faith = explainer.explain(face, target).faithfulness
        assert faith is not None
        for key, value in faith.model_dump().items():
            if key.endswith("_auc"):
                self.areas.setdefault(name, {}).setdefault(key, []).append(value)

    def summary(self) -> dict[str, dict]:
        report = {}
        for name, values in self.areas.items():
            means = {k: round(float(np.mean(v)), 4) for k, v in values.items()}
            means["deletion_target_met"] = (
                means["deletion_auc"] <= 0.7 * means["random_deletion_auc"]
                and means["deletion_auc"] < means["centre_deletion_auc"]
            )
            report[name] = means
        return report

    def lines(self) -> list[str]:
        """One readable line per method: deletion area against both baselines."""
        return [
            f"{name:40s} deletion {m['deletion_auc']:.3f}  random {m['random_deletion_auc']:.3f}"
            f"  centre {m['centre_deletion_auc']:.3f}  "
            + ("met" if m["deletion_target_met"] else "missed")
            for name, m in self.summary().items()
        ]


def evaluate_single_face(
    data: Path,
    faces: int = 20,
    tick: Callable[[], None] | None = None,
    embedder: str = DEFAULT_EMBEDDER,
    models: dict[str, str] | None = None,
) -> dict:
    """Faithfulness of the single-face methods on the first images of held-out genuine
    pairs: Grad-CAM, Grad-CAM++ and occlusion for each attribute's predicted class (of the
    network, or expression ensemble, explained for the default's model or `models`' choice),
    and embedding Grad-CAM and occlusion for `embedder`'s similarity to the pair's other image."""
    from facelens.explain.api import attribute_target
    from facelens.explain.attribute_models import attribute_spec
    from facelens.explain.ensemble import EnsembleSpec
    from facelens.explain.gradcam import EmbeddingGradCAM, GradCAM, GradCAMPlusPlus
    from facelens.explain.occlusion import Occlusion

    specs = {kind: attribute_spec(kind, (models or {}).get(kind)) for kind in ATTRIBUTES}
    log, done = AreaLog(), 0
    for crops, pair in held_out_faces(data, faces, embedder):
        face_a, face_b = crops.embedding(pair.image_a), crops.embedding(pair.image_b)
        assert face_a is not None and face_b is not None
        for attribute, spec in specs.items():
            crop = crops(pair.image_a, spec.template, spec.points)
            assert crop is not None
            target = attribute_target(attribute, crop.crop, None, spec)
            for method in (GradCAM(), GradCAMPlusPlus(), Occlusion()):
                log.add(f"{method.method}/{attribute}", method, crop, target)
        similarity = similarity_target(face_a, face_b)
        log.add("embedding-gradcam/similarity", EmbeddingGradCAM(), face_a, similarity)
        log.add("occlusion/similarity", Occlusion(), face_a, similarity)
        done += 1
        if tick:
            tick()
    explained = {
        kind: spec.name if isinstance(spec, EnsembleSpec) else Path(spec.file).name
        for kind, spec in specs.items()
    }
    return {"faces": done, "explained": explained, **log.summary()}
