"""Train facelens's face-quality model and write facelens/quality/model.json.

    python tools/train_quality.py [--data ../shared/data/lfw] [--cfp ../shared/data/cfp-dev]
                                  [--workers 2]

(the same as `python -m facelens.train.quality`).

One command, fixed seeds. Data: LFW View 2 folds 1-9 (fold indices 0-8; fold 10 stays held
out for `facelens eval quality`) and the CFP people of protocol split 01 (001-050, frontal
and profile: the turned heads LFW lacks; split 02's people stay held out for `facelens eval
cfp`). Steps:

1. detect + embed every training image and one seeded random degradation of each image
   whose identity has another image (cached under $FACELENS_QUALITY_CACHE, /tmp default);
2. canonical 3D face = Procrustes mean of the clean LFW meshes (head pose reference);
3. occlusion CNN on synthetic occluders over the clean chips of both sets, CFP's repeated
   (facelens/train/occlusion.py);
4. raw component measures of every training image;
5. SDD-FIQA targets (Ou et al., CVPR 2021): per image, the Wasserstein distance between
   its genuine-similarity distribution (against the other clean photos of the person) and
   its impostor distribution (against up to 600 fixed photos of other people of the same
   data set), scaled to [0, 1] by the 75th percentile of clean LFW images;
6. the monotone additive model (facelens/quality/model.py) fitted to those targets;
7. verdict thresholds: `retake` below the score under which faces fail at least half of
   their genuine comparisons at verify's default threshold (measured, not a pose rule);
8. decision policies on clean LFW (facelens/quality/policies.json).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import time
from pathlib import Path

import numpy as np

from facelens.quality import components, scores_from_raw
from facelens.quality import model as gam
from facelens.quality.geometry import canonical_mesh
from facelens.quality.policies import POLICY_FILE
from facelens.quality.stability import stability
from facelens.train import quality_dataset as dataset
from facelens.train.policies import calibrate_policies
from facelens.train.quality_sources import (
    CFP_TRAINING_SPLIT,
    DEGRADED_COPIES,
    Source,
    kind_of,
    sources_for,
)
from facelens.train.quality_targets import IMPOSTORS, RETAKE_FNMR, calibrate_retake, sdd_targets

REPOSITORY = Path(__file__).resolve().parents[2]

params = importlib.import_module("facelens.quality.params")  # the module, not its function
SEED = 0
# Verdict: `retake` below a score measured on the training images (calibrate_retake: faces
# just under it fail half of their genuine comparisons), orange (< 0.6) is low. On top,
# ISO/IEC 29794-5 style requirements: a face whose blur, exposure, compression, noise or
# covered eyes / nose / mouth scores under 20 of 100 is refused whatever its utility estimate.
LOW_BELOW = 0.6
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
CFP_CHIP_REPEATS = 3  # CFP's 700 clean chips, three times, beside LFW's ~6,900


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_params(update: dict) -> None:
    current = params.params() | update
    params.MODEL_FILE.write_text(json.dumps(current, separators=(",", ":")) + "\n")
    params.params.cache_clear()
    from facelens.quality import occlusion

    occlusion._weights.cache_clear()
    occlusion._session.cache_clear()


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


def occlusion_chips(sources: list[Source]) -> np.ndarray:
    """The clean chips the occlusion CNN covers with synthetic occluders. CFP's are repeated
    so that turned heads make up about a fifth of them: a far eye hidden behind the nose is
    not an occluded eye (trained on LFW alone, the network called most profiles occluded)."""
    chips = []
    for source in sources:
        clean = slice(0, source.n_clean)
        found = dataset.chips_of(source.root, source.variants[clean], source.records[clean])
        chips += [found] * (1 if source.name == "lfw" else CFP_CHIP_REPEATS)
    return np.concatenate(chips)


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


def verdict_retake(
    quality: np.ndarray, scores: dict[str, np.ndarray], retake_below: float
) -> np.ndarray:
    retake = quality < retake_below
    for name, floor in FLOORS.items():
        retake |= scores[name] < floor
    return retake


def provenance(sources: list[Source], usable: dict[str, int], rates: dict) -> dict:
    data = ["LFW View 2 folds 1-9 (fold 10 held out)"]
    if len(sources) > 1:
        data.append(
            f"CFP (cfp-dev) people of protocol split {CFP_TRAINING_SPLIT:02d}, frontal and "
            "profile (the other split held out for `facelens eval cfp`)"
        )
    return {
        "command": "python tools/train_quality.py",
        "data": "; ".join(data),
        "images": {
            s.name: {
                "clean": s.n_clean,
                "degraded": len(s.variants) - s.n_clean,
                "with_sdd_target": usable[s.name],
            }
            for s in sources
        },
        "degradations": f"facelens.train.degrade.sample, {DEGRADED_COPIES} per image of "
        "people with 2+ photos",
        "target": "SDD-FIQA: W1 distance between genuine and impostor cosine similarities "
        f"({dataset.recogniser_tag()} embedder-detector, plain; genuine and impostor photos "
        f"from the image's own data set, at most {IMPOSTORS} impostor photos), / 75th "
        "percentile of clean LFW images, clipped to [0, 1]",
        "occlusion_cnn": "synthetic occluders (facelens/train/occlusion.py) on the clean chips "
        f"of the data above, CFP's repeated {CFP_CHIP_REPEATS}x",
        "seed": SEED,
        "retake_rate_on_training_images": rates,
    }


def source_measures(source: Source, workers: int) -> dict[str, np.ndarray]:
    """Raw component measures of a source's variants (cached per code version)."""
    cache = dataset.CACHE_DIR / f"train_raw_{source.name}_{measure_version()}.npz"
    if cache.is_file():
        return dict(np.load(cache))
    raw = dataset.measure_all(source.root, source.variants, source.records, source.cleans, workers)
    np.savez(cache, **raw)
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    shared = REPOSITORY.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, default=shared / "lfw")
    parser.add_argument("--cfp", type=Path, default=shared / "cfp-dev", help="'' to leave out")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cfp = args.cfp if str(args.cfp) else None
    workers = args.workers

    log("1/8 detection and embeddings (cached)")
    sources = sources_for(args.data, cfp, workers)
    lfw = sources[0]

    log("2/8 canonical mesh (clean LFW)")
    meshes = np.stack([r.faces.mesh[r.pick] for r in lfw.records[: lfw.n_clean] if r.found])
    write_params({"canonical_mesh": canonical_mesh(meshes).round(4).tolist()})

    log("3/8 occlusion network (clean chips: LFW, and CFP's frontal and profile photos)")
    write_params({"occlusion_cnn": occlusion_weights(occlusion_chips(sources))})

    log("4/8 component measures")
    raws = [source_measures(source, workers) for source in sources]
    raw = {name: np.concatenate([r[name] for r in raws]) for name in raws[0]}
    records = [r for source in sources for r in source.records]
    vectors = np.stack([r.embeddings for r in records], 1).astype(np.float32)  # (P, N, D)
    raw["embedding_stability"] = stability(vectors)  # PERTURBATIONS_AT_RUNTIME, in order

    log("5/8 SDD-FIQA targets")
    targets = [sdd_targets(source) for source in sources]
    distances = [t[0] for t in targets]
    fnmr = np.concatenate([t[1] for t in targets])
    clean_lfw = distances[0][: lfw.n_clean]
    scale = float(np.percentile(clean_lfw[~np.isnan(clean_lfw)], 75))
    distance = np.concatenate(distances)
    usable = ~np.isnan(distance)
    target = np.clip(distance / scale, 0, 1)

    log("6/8 additive model")
    scores = components.normalise(raw)
    unified = fit_gam({n: v[usable] for n, v in scores.items()}, target[usable])
    write_params({"unified": unified | {"target_scale": round(scale, 5)}})

    log("7/8 verdict thresholds")
    quality, scores, _ = scores_from_raw(raw)
    retake_below = calibrate_retake(quality, fnmr)
    log(f"retake below {retake_below} (faces under it fail >= {RETAKE_FNMR:.0%} of genuine pairs)")
    verdict = {"retake_below": retake_below, "low_below": LOW_BELOW, "floors": FLOORS}
    write_params({"verdict": verdict})
    retake = verdict_retake(quality, scores, retake_below)
    kinds = np.array(
        [kind_of(source, v, i) for source in sources for i, v in enumerate(source.variants)]
    )
    rates = {k: round(float(retake[kinds == k].mean()), 4) for k in np.unique(kinds)}
    log(f"retake rate on the training images: {rates}")

    log("8/8 decision policies (clean LFW)")
    gate = np.where(retake, 0.0, quality)[: lfw.n_clean]  # a refused face passes no quality gate
    policies = calibrate_policies(
        lfw.records[: lfw.n_clean], lfw.names, gate, retake_below, LOW_BELOW
    )
    POLICY_FILE.write_text(json.dumps(policies, indent=2) + "\n")

    counts = dict(
        zip(
            [s.name for s in sources],
            np.split(usable, np.cumsum([len(s.variants) for s in sources])[:-1]),
            strict=True,
        )
    )
    write_params(
        {"provenance": provenance(sources, {k: int(v.sum()) for k, v in counts.items()}, rates)}
    )
    log(
        f"wrote {params.MODEL_FILE} ({params.MODEL_FILE.stat().st_size // 1024} KiB), {POLICY_FILE}"
    )


if __name__ == "__main__":
    main()
