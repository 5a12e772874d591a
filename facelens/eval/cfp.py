"""CFP (Celebrities in Frontal-Profile) verification, frontal-frontal (FF) and
frontal-profile (FP), with every pair counted.

Protocol (CFP's, on the splits present): `Protocol/Pair_list_F.txt` / `Pair_list_P.txt`
number the frontal / profile images; `Protocol/Split/{FF,FP}/NN/{same,diff}.txt` hold `i,j`
rows (FP: frontal i, profile j; FF: frontal i, frontal j). Accuracy is cross-validated over
the splits: each split is scored with the threshold of best accuracy on the other splits,
and the per-split accuracies are averaged (CFP's 10-fold protocol when all ten splits are
there; 2-fold on cfp-dev's two). Each image is embedded as a user's call would do it,
`FaceLens(embedder=...).embed(image)`, largest face; an image where no face is found gives
its pairs the lowest possible score (below any cosine), so such a pair is always rejected:
a missed genuine pair, a correct impostor rejection (ISO/IEC 19795-1's treatment of a
failure to acquire). `accuracy_failed_as_errors` counts every such pair as wrong instead.
TAR at FMR 1e-3 pools all splits' pairs; with fewer than 1,000 impostor pairs that is the
threshold that accepts no impostor at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.detection.detector import DEFAULT_DETECTOR
from facelens.eval.cache import cached, quality_key, weights_key
from facelens.eval.lfw_pairs import best_threshold, tar_at_fmr
from facelens.lens import FaceLens
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, threshold_for
from facelens.recognition.registry import NETWORKS

PROTOCOLS = ("FF", "FP")
FAILED_SCORE = -2.0  # below any cosine: the pair is rejected


@dataclass(frozen=True)
class CfpPair:
    protocol: str  # FF or FP
    split: int  # 1-based, as the folder name
    first: str  # image path relative to the data folder
    second: str
    same: bool


def read_image_list(path: Path) -> dict[int, str]:
    """`N Images/...` lines → {N: relative path}."""
    rows = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {int(number): name.strip() for number, name in rows}


def read_cfp(data_dir: Path) -> list[CfpPair]:
    protocol_dir = data_dir / "Protocol"
    frontal = read_image_list(protocol_dir / "Pair_list_F.txt")
    profile = read_image_list(protocol_dir / "Pair_list_P.txt")
    pairs = []
    for protocol in PROTOCOLS:
        second_list = profile if protocol == "FP" else frontal
        for split_dir in sorted((protocol_dir / "Split" / protocol).iterdir()):
            for kind in ("same", "diff"):
                for line in (split_dir / f"{kind}.txt").read_text().split():
                    i, j = (int(v) for v in line.split(","))
                    pair = CfpPair(
                        protocol, int(split_dir.name), frontal[i], second_list[j], kind == "same"
                    )
                    pairs.append(pair)
    return pairs


def embed_cfp(
    data_dir: Path,
    images: list[str],
    embedder: str,
    detector: str = DEFAULT_DETECTOR,
    tick: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Unit vectors of each image's largest face, a `detected` mask (zeros where none),
    that face's quality verdict (`retake`: what `verify` would refuse) and the occlusion
    network's probability that its eyes are covered."""
    lens = FaceLens(embedder=embedder, detector=detector)

    def compute() -> dict[str, np.ndarray]:
        vectors = np.zeros((len(images), lens.embedder.dimension), np.float32)
        detected, retake = np.zeros(len(images), bool), np.zeros(len(images), bool)
        reasons = np.full(len(images), "", dtype=object)
        eyes_covered = np.zeros(len(images), np.float32)
        for i, name in enumerate(images):
            faces = lens.analyze(data_dir / name, attributes=False, embedding=True).faces
            if faces:
                vectors[i], detected[i] = faces[0].embedding_array, True
                quality = faces[0].quality
                retake[i] = quality is not None and quality.verdict == "retake"
                reasons[i] = "; ".join(quality.reasons) if quality and retake[i] else ""
                if quality is not None:
                    eyes_covered[i] = quality.components["occlusion_eyes"].raw
            if tick:
                tick()
        return {
            "vectors": vectors,
            "detected": detected,
            "retake": retake,
            "retake_reasons": reasons.astype(str),
            "eyes_covered": eyes_covered,
        }

    weights = ",".join(weights_key(network.file_name) for network in NETWORKS.values())
    # the last field names what is stored: a cache written before `eyes_covered` is not reused
    key = f"{lens.embedder.version}:{weights}:{quality_key()}:eyes_covered"
    return cached(f"cfp-{embedder}-{detector}", images, key, compute)


def cross_split(
    scores: np.ndarray, same: np.ndarray, splits: np.ndarray, failed: np.ndarray
) -> np.ndarray:
    """Per split: (accuracy, accuracy with failed pairs counted wrong, accuracy over pairs
    whose faces were both found), thresholds fitted on the other splits."""
    rows = []
    for split in np.unique(splits):
        train, test = splits != split, splits == split
        threshold = best_threshold(scores[train], same[train])
        correct = (scores[test] > threshold) == same[test]
        found = train & ~failed
        found_threshold = best_threshold(scores[found], same[found])
        tested = test & ~failed
        found_correct = (scores[tested] > found_threshold) == same[tested]
        rows.append((correct.mean(), (correct & ~failed[test]).mean(), found_correct.mean()))
    return np.array(rows)


def at_threshold(
    scores: np.ndarray, same: np.ndarray, splits: np.ndarray, refused: np.ndarray, threshold: float
) -> dict:
    """What `verify` itself answers (its default threshold, not one fitted on CFP), per
    split: accuracy over every pair, over the pairs it refuses and over those it decides."""
    correct = (scores > threshold) == same
    out: dict = {"threshold": threshold}
    for split in np.unique(splits):
        here = splits == split
        out[int(split)] = {
            "accuracy": float(correct[here].mean()),
            "accuracy_refused": float(correct[here & refused].mean())
            if refused[here].any()
            else None,
            "accuracy_decided": float(correct[here & ~refused].mean()),
        }
    return out


def evaluate_cfp(
    data_dir: Path,
    embedder: str = "dlib",
    tick: Callable[[], None] | None = None,
    detector: str = DEFAULT_DETECTOR,
) -> dict:
    pairs = read_cfp(data_dir)
    images = sorted({p.first for p in pairs} | {p.second for p in pairs})
    index = {name: i for i, name in enumerate(images)}
    embedded = embed_cfp(data_dir, images, embedder, detector, tick)
    vectors, detected, retake = embedded["vectors"], embedded["detected"], embedded["retake"]
    missing = [name for name, found in zip(images, detected, strict=True) if not found]
    verify_threshold = threshold_for(DEFAULT_OPERATING_POINT, False, embedder)
    report: dict = {
        "embedder": embedder,
        "detector": detector,
        "images": len(images),
        "undetected": len(missing),
        "undetected_frontal": sum("/frontal/" in name for name in missing),
        "undetected_profile": sum("/profile/" in name for name in missing),
    }
    for protocol in PROTOCOLS:
        chosen = [p for p in pairs if p.protocol == protocol]
        a = np.array([index[p.first] for p in chosen])
        b = np.array([index[p.second] for p in chosen])
        same = np.array([p.same for p in chosen])
        splits = np.array([p.split for p in chosen])
        failed = ~(detected[a] & detected[b])
        scores = np.where(failed, FAILED_SCORE, np.sum(vectors[a] * vectors[b], axis=1))
        per_split = cross_split(scores, same, splits, failed)
        refused = ~failed & (retake[a] | retake[b])  # verify answers "retake", no decision
        report[protocol] = {
            "pairs": len(chosen),
            "splits": len(np.unique(splits)),
            "failed_pairs": int(failed.sum()),
            "accuracy": float(per_split[:, 0].mean()),
            "accuracy_std": float(per_split[:, 0].std()),
            "accuracy_failed_as_errors": float(per_split[:, 1].mean()),
            "accuracy_detected_pairs_only": float(per_split[:, 2].mean()),
            "tar_at_fmr_1e-3": tar_at_fmr(scores, same, 1e-3)[0],
            "impostor_pairs": int((~same).sum()),
            "refused_pairs": int(refused.sum()),
            "refused_fraction": float(refused.mean()),
            # per split: the quality model trains on split 1's people (tools/train_quality.py),
            # so split 2 is the held-out figure
            "refused_fraction_by_split": {
                int(split): float(refused[splits == split].mean()) for split in np.unique(splits)
            },
            "at_verify_threshold": at_threshold(scores, same, splits, refused, verify_threshold),
        }
    report["undetected_images"] = missing
    reasons = Counter(
        reason for text in embedded["retake_reasons"] for reason in str(text).split("; ") if reason
    )
    report["retake_reasons"] = dict(reasons.most_common())
    report["retake_images"] = {
        kind: int(sum(retake[i] for i, n in enumerate(images) if f"/{kind}/" in n))
        for kind in ("frontal", "profile")
    }
    report["photos_by_split"] = photos_by_split(pairs, images, embedded)
    report["frontal_profile_all_pairs"] = all_cross_pose_pairs(
        pairs, images, embedded, verify_threshold
    )
    return report


def all_cross_pose_pairs(
    pairs: list[CfpPair], images: list[str], embedded: dict, threshold: float
) -> dict:
    """Per split, every profile photo against every frontal photo of its people (not only the
    protocol's pairs; faces found only): FMR and FNMR at `threshold` (verify's), and the
    threshold that FMR 1e-3 of those impostor pairs would need. Does turning the head make
    impostors look less alike, so that a frontal-profile pair could be judged at a lower
    threshold? Only if that threshold comes out below verify's."""
    split = _split_of(pairs, images)
    person = np.array([name.split("/")[1] for name in images])
    profile = np.array(["/profile/" in name for name in images])
    found, vectors = embedded["detected"], embedded["vectors"]
    out: dict = {"threshold": threshold}
    for number in np.unique(split):
        here = (split == number) & found
        p, f = np.flatnonzero(here & profile), np.flatnonzero(here & ~profile)
        scores = vectors[p] @ vectors[f].T
        same = person[p][:, None] == person[f][None]
        impostors, genuine = np.sort(scores[~same]), scores[same]
        out[str(number)] = {
            "genuine_pairs": int(same.sum()),
            "impostor_pairs": int((~same).sum()),
            "fnmr": float(np.mean(genuine <= threshold)),
            "fmr": float(np.mean(impostors > threshold)),
            "threshold_at_fmr_1e-3": float(impostors[-max(1, len(impostors) // 1000)]),
        }
    return out


def photos_by_split(pairs: list[CfpPair], images: list[str], embedded: dict) -> dict:
    """Per split (its people) and kind: photos with a face, the share `verify` refuses and
    the share whose eyes the occlusion network calls covered (probability > 0.5)."""
    split = _split_of(pairs, images)
    out: dict = {}
    for number in np.unique(split):
        for kind in ("frontal", "profile"):
            kind_of = np.array([f"/{kind}/" in name for name in images])
            chosen = np.flatnonzero((split == number) & kind_of & embedded["detected"])
            shares = {
                "retake": embedded["retake"][chosen],
                "eyes_covered": embedded["eyes_covered"][chosen] > 0.5,
            }
            out.setdefault(str(number), {})[kind] = {"photos": len(chosen)} | {
                name: float(np.mean(flags)) if len(chosen) else None
                for name, flags in shares.items()
            }
    return out


def _split_of(pairs: list[CfpPair], images: list[str]) -> np.ndarray:
    """(len(images),) the protocol split each image's pairs belong to (splits hold disjoint
    people, so one per image)."""
    split_of = {name: p.split for p in pairs for name in (p.first, p.second)}
    return np.array([split_of[name] for name in images])
