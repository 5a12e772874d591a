"""Gallery search on a reduced rotation of the templates, re-ranked exactly (issue 14).

    python tools/experiments/gallery_reduced.py --n 200000 --like ../shared/data/lfw \
        --variants flat,pca96,pca128 --ef 64,128,256,512 --json

The graph walks the first `d` axes of a rotation of the templates (the eigenvectors of
their uncentred second moment, so inner products are kept up to the dropped axes) and the
best ``k * k_factor`` are re-ranked with exact inner products on the full vectors. Vectors
are `facelens.eval.gallery_bench`'s fitted model; recall@10 is against exact search.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from facelens.eval.gallery_bench import (
    exact_topk,
    latency,
    lfw_identities,
    probes,
    recall,
    synthetic,
)


def rotation(x: np.ndarray) -> np.ndarray:
    """Rows: the eigenvectors of the uncentred second moment, largest first."""
    sample = x[:: max(1, len(x) // 100_000)].astype(np.float64)
    _, axes = np.linalg.eigh(sample.T @ sample / len(sample))
    return axes[:, ::-1].T.astype(np.float32)


def build(x: np.ndarray, variant: str, m: int, efc: int):
    """(index, projection or None); variant: flat | sq8 | pcaD | pcaD-sq8."""
    name, _, storage = variant.partition("-")
    proj = None
    if name.startswith("pca"):
        proj = rotation(x)[: int(name[3:])]
    y = x if proj is None else np.ascontiguousarray(x @ proj.T)
    if storage == "sq8" or name == "sq8":
        index = faiss.IndexHNSWSQ(
            y.shape[1], faiss.ScalarQuantizer.QT_8bit, m, faiss.METRIC_INNER_PRODUCT
        )
        index.train(y)
    else:
        index = faiss.IndexHNSWFlat(y.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = efc
    index.add(y)
    return index, proj


def searcher(index, proj: np.ndarray | None, x: np.ndarray, k: int, kf: int, ef: int):
    """One query -> the top-k row ids: walk the graph for k * kf, re-rank exactly (kf > 1)."""
    params = faiss.SearchParametersHNSW()
    params.efSearch = max(ef, k * kf)

    def one(v: np.ndarray) -> list[int]:
        y = v[None] if proj is None else (v @ proj.T)[None]
        _, pos = index.search(np.ascontiguousarray(y), k * kf, params=params)
        pos = pos[0][pos[0] >= 0]
        if kf == 1:
            return pos.tolist()
        sims = x[pos] @ v  # exact re-ranking on the full vectors
        return pos[np.argsort(-sims)[:k]].tolist()

    return one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--like", type=Path, required=True)
    ap.add_argument("--variants", default="flat,pca96,pca128")
    ap.add_argument("--ef", default="64,128,256,512")
    ap.add_argument("--k-factor", default="1,4")
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    model, _ = lfw_identities(a.like, "fused")
    x, _, centres = synthetic(a.n, 5, model, a.seed)
    q, _ = probes(centres, a.queries, model, a.seed)
    truth = exact_topk(x, q, 10).tolist()
    k = 10
    for variant in a.variants.split(","):
        faiss.omp_set_num_threads(2)
        t = time.perf_counter()
        index, proj = build(x, variant, a.m, a.efc)
        build_s = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        for kf in [int(v) for v in a.k_factor.split(",")]:
            if proj is None and kf > 1 and "sq8" not in variant:
                continue  # flat walks the full vectors: nothing to re-rank
            for ef in [int(v) for v in a.ef.split(",")]:
                one = searcher(index, proj, x, k, kf, ef)
                for v in q[:50]:
                    one(v)
                found, lat = latency(one, q)
                row = {
                    "n": a.n,
                    "variant": variant,
                    "k_factor": kf,
                    "ef": ef,
                    "build_s": round(build_s, 1),
                    "p50_ms": round(lat["p50_ms"], 3),
                    "p99_ms": round(lat["p99_ms"], 3),
                    "recall@10": round(recall(found, truth, k), 4),
                }
                print(json.dumps(row) if a.json else row, flush=True)
        del index


if __name__ == "__main__":
    main()
