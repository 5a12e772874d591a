"""Train facelens's face-quality model and write facelens/quality/model.json.

    python tools/train_quality.py [--data ../shared/data/lfw] [--workers 2]

(the same as `python -m facelens.train.quality`).

One command, fixed seeds. LFW View 2 folds 1-9 (fold indices 0-8) only; fold 10 stays
held out for `facelens eval quality`. Steps:

1. detect + embed every training image and two seeded random degradations of each image
   whose identity has another image (cached under $FACELENS_QUALITY_CACHE, /tmp default);
2. canonical 3D face = Procrustes mean of the clean LFW meshes (head pose reference);
3. occlusion CNN on synthetic occluders (facelens/train/occlusion.py);
4. raw component measures of every training image;
5. SDD-FIQA targets (Ou et al., CVPR 2021): per image, the Wasserstein distance between
   its genuine-similarity distribution (against the other clean photos of the person) and
   its impostor distribution (against 600 fixed photos of other people), scaled to [0, 1];
6. the monotone additive model (facelens/quality/model.py) fitted to those targets;
7. verdict thresholds; 8. decision policies (facelens/quality/policies.json).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from facelens.quality import components, scores_from_raw
from facelens.quality import model as gam
from facelens.quality.geometry import canonical_mesh
from facelens.quality.policies import POLICY_FILE
from facelens.quality.stability import stability
from facelens.train import quality_dataset as dataset
from facelens.train.policies import calibrate_policies

REPOSITORY = Path(__file__).resolve().parents[2]

params = importlib.import_module("facelens.quality.params")  # the module, not its function
SEED = 0
# Degraded copies of each training image whose person has another photo: one since the
# recogniser became the fused SFace + dlib pair (2026-11-30; two before), which keeps a
# 2-core retrain within a working session.
DEGRADED_COPIES = 1
IMPOSTORS = 600
# Verdict: the red band (< 0.4) is retake, orange (< 0.6) is low. On top, ISO/IEC 29794-5
# style requirements: a face whose blur, exposure, compression, noise or covered
# eyes / nose / mouth scores under 20 of 100 is refused whatever its utility estimate.
RETAKE_BELOW, LOW_BELOW = 0.4, 0.6
CRITICAL = (
    "sharpness",
    "under_exposure",
    "over_exposure",
    "luminance_mean",
    "compression",
    "noise",
    "occlusion_eyes",
    "occlusion_nose",
    "occlusion_mouth",
)
FLOORS = dict.fromkeys(CRITICAL, 20.0)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_params(update: dict) -> None:
    current = params.params() | update
    params.MODEL_FILE.write_text(json.dumps(current, separators=(",", ":")) + "\n")
    params.params.cache_clear()
    from facelens.quality import occlusion

    occlusion._weights.cache_clear()
    occlusion._session.cache_clear()


def records_for(data: Path, workers: int) -> tuple[list, list, list, list]:
    names = dataset.fold_images(data, held_out=False)
    clean_variants = [dataset.Variant(n) for n in names]
    clean = dataset.process(data, clean_variants, "train_clean", workers=workers)
    by_name = dict(zip(names, clean, strict=True))
    counts = Counter(dataset.identity(n) for n in names)
    multi = [n for n in names if counts[dataset.identity(n)] >= 2]
    degraded_variants = dataset.degraded_variants(multi, DEGRADED_COPIES, "train")
    cleans = [by_name[v.name] for v in degraded_variants]
    degraded = dataset.process(data, degraded_variants, "train_degraded", cleans, workers=workers)
    return clean_variants + degraded_variants, clean + degraded, [None] * len(clean) + cleans, names


def sdd_targets(
    variants: list, records: list, clean_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Wasserstein distance between genuine and impostor similarities, per variant (NaN when
    the person has no other photo)."""
    rng = np.random.default_rng(SEED)
    clean = np.stack([r.recognition[0] for r in records[: len(clean_names)]]).astype(np.float32)
    people = np.array([dataset.identity(n) for n in clean_names])
    by_person: dict[str, list[int]] = {}
    for i, person in enumerate(people):
        by_person.setdefault(person, []).append(i)
    index = {n: i for i, n in enumerate(clean_names)}
    pool = rng.choice(len(clean_names), IMPOSTORS, replace=False)
    quantiles = np.linspace(0.005, 0.995, 100)
    out, genuine_mean = np.full(len(variants), np.nan), np.full(len(variants), np.nan)
    for k, (variant, record) in enumerate(zip(variants, records, strict=True)):
        person = dataset.identity(variant.name)
        mates = [j for j in by_person[person] if j != index[variant.name]]
        if not mates:
            continue
        vector = record.recognition[0].astype(np.float32)
        genuine = clean[mates] @ vector
        impostor = clean[pool[people[pool] != person]] @ vector
        # W1 between two 1-D samples = mean gap between their quantile functions
        out[k] = np.mean(np.abs(np.quantile(genuine, quantiles) - np.quantile(impostor, quantiles)))
        genuine_mean[k] = genuine.mean()
    return out, genuine_mean


def fit_gam(scores: dict[str, np.ndarray], target: np.ndarray, epochs: int = 1500) -> dict:
    import torch

    torch.manual_seed(SEED)
    names = list(components.NAMES)
    ramps = np.stack([gam.ramps(np.clip(scores[n] / 100, 0, 1)) for n in names], 1)
    x = torch.tensor(ramps, dtype=torch.float32)  # (N, components, ramps)
    y = torch.tensor(target, dtype=torch.float32)
    raw_w = torch.full((len(names), x.shape[2]), -3.0, requires_grad=True)
    bias = torch.tensor(2.0, requires_grad=True)
    optimiser = torch.optim.Adam([raw_w, bias], lr=0.05)
    for _ in range(epochs):
        w = torch.nn.functional.softplus(raw_w)
        pred = torch.sigmoid(bias - torch.einsum("nck,ck->n", x, w))
        loss = torch.mean((pred - y) ** 2) + 1e-5 * torch.sum(w**2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    w = torch.nn.functional.softplus(raw_w).detach().numpy()
    log(f"additive model fitted: mse {float(loss.detach()):.5f}")
    return {
        "bias": round(float(bias.detach()), 5),
        "weights": {n: w[i].round(5).tolist() for i, n in enumerate(names)},
    }


def occlusion_weights(chips: np.ndarray) -> dict:
    """Train the occlusion CNN, or reuse the weights cached for the same code and chips."""
    from facelens.train import occlusion as occlusion_training

    source = Path(occlusion_training.__file__).read_bytes() + chips[:, ::15, ::15].tobytes()
    path = dataset.CACHE_DIR / f"occlusion_{hashlib.sha256(source).hexdigest()[:12]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    weights = occlusion_training.train(chips, epochs=6, seed=SEED)
    path.write_text(json.dumps(weights))
    return weights


def measure_version() -> str:
    """Key of the component-measure cache: the code and learned inputs behind the measures."""
    stored = params.params()
    digest = hashlib.sha256(
        json.dumps([stored.get("canonical_mesh"), stored.get("occlusion_cnn")]).encode()
    )
    runtime = Path(components.__file__).parent  # facelens/quality
    for module in ("measure", "image_stats", "geometry", "eyes", "occlusion"):
        digest.update((runtime / f"{module}.py").read_bytes())
    digest.update(Path(dataset.__file__).read_bytes())
    return digest.hexdigest()[:12]


def verdict_retake(quality: np.ndarray, scores: dict[str, np.ndarray]) -> np.ndarray:
    retake = quality < RETAKE_BELOW
    for name, floor in FLOORS.items():
        retake |= scores[name] < floor
    return retake


def provenance(data: Path, n_clean: int, n_all: int, usable: np.ndarray, rates: dict) -> dict:
    return {
        "command": "python tools/train_quality.py",
        "data": f"{data.name}: LFW View 2 folds 1-9 (fold 10 held out)",
        "images": {
            "clean": n_clean,
            "degraded": n_all - n_clean,
            "with_sdd_target": int(usable.sum()),
        },
        "degradations": f"facelens.train.degrade.sample, {DEGRADED_COPIES} per image of "
        "people with 2+ photos",
        "target": "SDD-FIQA: W1 distance between genuine and impostor cosine similarities "
        f"({dataset.recogniser_tag()} embedder-detector, plain), / 75th percentile of clean "
        "images, clipped to [0, 1]; "
        f"{IMPOSTORS} impostor photos",
        "seed": SEED,
        "retake_rate_on_training_images": rates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPOSITORY.parent / "shared" / "data" / "lfw")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data, workers = args.data, args.workers

    log("1/8 detection and embeddings (cached)")
    variants, records, cleans, clean_names = records_for(data, workers)
    n_clean = len(clean_names)

    log("2/8 canonical mesh")
    meshes = np.stack([r.faces.mesh[r.pick] for r in records[:n_clean] if r.found])
    write_params({"canonical_mesh": canonical_mesh(meshes).round(4).tolist()})

    log("3/8 occlusion network")
    chips = dataset.chips_of(data, variants[:n_clean], records[:n_clean])
    write_params({"occlusion_cnn": occlusion_weights(chips)})

    log("4/8 component measures")
    cache = dataset.CACHE_DIR / f"train_raw_{measure_version()}.npz"
    if cache.is_file():
        raw = dict(np.load(cache))
    else:
        raw = dataset.measure_all(data, variants, records, cleans, workers)
        np.savez(cache, **raw)
    vectors = np.stack([r.embeddings for r in records], 1).astype(np.float32)  # (P, N, D)
    raw["embedding_stability"] = stability(vectors)  # PERTURBATIONS_AT_RUNTIME, in order

    log("5/8 SDD-FIQA targets")
    distance, _ = sdd_targets(variants, records, clean_names)
    usable = ~np.isnan(distance)
    scale = float(np.percentile(distance[:n_clean][usable[:n_clean]], 75))
    target = np.clip(distance / scale, 0, 1)

    log("6/8 additive model")
    scores = components.normalise(raw)
    unified = fit_gam({n: v[usable] for n, v in scores.items()}, target[usable])
    write_params({"unified": unified | {"target_scale": round(scale, 5)}})

    log("7/8 verdict thresholds")
    verdict = {"retake_below": RETAKE_BELOW, "low_below": LOW_BELOW, "floors": FLOORS}
    write_params({"verdict": verdict})
    quality, scores, _ = scores_from_raw(raw)
    retake = verdict_retake(quality, scores)
    kinds = np.array(["clean"] * n_clean + [v.degradation.kind for v in variants[n_clean:]])
    rates = {k: round(float(retake[kinds == k].mean()), 4) for k in np.unique(kinds)}
    log(f"retake rate on the training images: {rates}")

    log("8/8 decision policies")
    gate = np.where(retake, 0.0, quality)[:n_clean]  # a refused face passes no quality gate
    policies = calibrate_policies(records[:n_clean], clean_names, gate, RETAKE_BELOW, LOW_BELOW)
    POLICY_FILE.write_text(json.dumps(policies, indent=2) + "\n")

    write_params({"provenance": provenance(data, n_clean, len(variants), usable, rates)})
    log(
        f"wrote {params.MODEL_FILE} ({params.MODEL_FILE.stat().st_size // 1024} KiB), {POLICY_FILE}"
    )


if __name__ == "__main__":
    main()
