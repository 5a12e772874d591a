"""Gallery search benchmark on synthetic, clustered unit vectors.

    python -m facelens.eval.gallery_bench --n 1000000 --like ../shared/data/lfw [--backend faiss]
    python -m facelens.eval.gallery_bench --n 1000000 [--backend sqlite] [--json]
    python -m facelens.eval.gallery_bench --backend milvus --n 100000

Vectors are identity centres plus noise (``--per-person`` templates each). With
``--like LFW_DIR`` both are Gaussian with the between-person and within-person
covariances of the default embedder's real LFW embeddings (`fit_identities`), so
the gallery has the spread, intrinsic dimension and genuine/impostor
similarities of real faces; without it, the older spectrum model (`spectrum`).
Measures build time, resident-memory growth, single-query latency p50/p99,
recall@10 against exact (brute-force) search and mate recall (how many of the
probe's own person's templates come back). Backends: the raw ANN libraries
(``usearch``, ``faiss``: recall over templates) and the gallery stores
(``sqlite``, ``milvus``: recall over people, max fusion).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 100_000
# (search one vector -> ids, handle to keep alive / close, set HNSW efSearch)
Bench = tuple[Callable[[np.ndarray], list[int]], Any, Callable[[int], None]]


def rss_bytes() -> int:
    """Current resident set size (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def spectrum(dim: int, decay: float) -> np.ndarray:
    """Per-axis scale, variance ~ i^-decay.

    0 is isotropic, the hardest case for ANN search. The default 1 gives a
    participation-ratio dimension of ~18, near the 10-20 reported for face
    embeddings (Gong et al., CVPR 2019, "On the intrinsic dimensionality of
    image representations").
    """
    return (np.arange(dim) + 1.0) ** (-decay / 2)


@dataclass
class Identities:
    """How identity centres and their templates scatter: template = unit(map(centre + noise)).

    `between` and `within` are factors (L with L Lᵀ the covariance) of the centres' and the
    templates' Gaussian scatter; `scale` multiplies each axis afterwards (the spectrum model).
    """

    mean: np.ndarray
    between: np.ndarray
    within: np.ndarray
    scale: np.ndarray
    unit_centres: bool  # the spectrum model puts its centres on the sphere

    @property
    def dim(self) -> int:
        return len(self.mean)

    def centres(self, count: int, rng: np.random.Generator) -> np.ndarray:
        raw = self.mean + rng.standard_normal((count, self.dim)) @ self.between.T
        return unit(raw) if self.unit_centres else raw

    def templates(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal(centres.shape) @ self.within.T
        return unit((centres + noise) * self.scale)


def spectrum_identities(dim: int, noise: float, decay: float) -> Identities:
    """Isotropic centres on the sphere, isotropic noise, then the `spectrum` per axis;
    noise 0.8 gives ~0.6 intra-person cosine."""
    eye = np.eye(dim)
    return Identities(np.zeros(dim), eye, eye * noise / np.sqrt(dim), spectrum(dim, decay), True)


def fit_identities(vectors: np.ndarray, people: list[str]) -> Identities:
    """Gaussian centres and templates with the between- and within-person covariances of
    real embeddings (unit vectors, one person label each; people with 2+ vectors give the
    within-person part)."""
    x = vectors.astype(np.float64)
    groups: dict[str, list[int]] = {}
    for i, person in enumerate(people):
        groups.setdefault(person, []).append(i)
    multi = [rows for rows in groups.values() if len(rows) >= 2]
    if not multi:
        raise ValueError("fitting needs people with at least two embeddings")
    residuals = np.concatenate([x[rows] - x[rows].mean(0) for rows in multi])
    within = residuals.T @ residuals / sum(len(rows) - 1 for rows in multi)
    values, axes = np.linalg.eigh(np.cov(x.T) - within)
    between = (axes * np.clip(values, 0, None)) @ axes.T  # nearest PSD: drop negative noise
    dim = x.shape[1]

    def factor(cov: np.ndarray) -> np.ndarray:
        return np.linalg.cholesky(cov + 1e-9 * np.eye(dim))

    return Identities(x.mean(0), factor(between), factor(within), np.ones(dim), False)


def describe(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Median same-person and other-person cosine, the other-person 99.9th percentile, and
    the participation-ratio dimension ((Σλ)² / Σλ² of the covariance) of unit vectors."""
    sim = vectors @ vectors.T
    upper = np.triu(np.ones(sim.shape, bool), 1)
    same = (labels[:, None] == labels[None, :]) & upper
    other = (labels[:, None] != labels[None, :]) & upper
    variances = np.linalg.eigvalsh(np.cov(vectors.T.astype(np.float64)))
    return {
        "genuine_median": round(float(np.median(sim[same])), 3),
        "impostor_median": round(float(np.median(sim[other])), 3),
        "impostor_p99.9": round(float(np.percentile(sim[other], 99.9)), 3),
        "dimension": round(float(variances.sum() ** 2 / (variances**2).sum()), 1),
    }


def lfw_identities(data_dir: Path, embedder: str) -> tuple[Identities, dict[str, float]]:
    """`fit_identities` on every LFW image's embedding (cached by facelens.eval.cache), and
    `describe` of those real embeddings."""
    from facelens.eval.lfw import embedder_vectors, image_names

    names = image_names(data_dir)
    if not names:
        raise FileNotFoundError(f"no LFW images under {data_dir / 'images'}")
    vectors, _ = embedder_vectors(data_dir, names, embedder=embedder)
    people = [name.split("/")[0] for name in names]
    return fit_identities(vectors["plain"], people), describe(vectors["plain"], np.array(people))


def synthetic(
    n: int, per_person: int, model: Identities, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, person labels, identity centres), `per_person` templates a person."""
    rng = np.random.default_rng(seed)
    centres = model.centres(max(1, n // per_person), rng)
    labels = np.arange(n) % len(centres)
    out = np.empty((n, model.dim), np.float32)
    for s in range(0, n, CHUNK):  # chunked so the float64 temporaries stay small
        out[s : s + CHUNK] = model.templates(centres[labels[s : s + CHUNK]], rng)
    return out, labels, centres


def probes(
    centres: np.ndarray, nq: int, model: Identities, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fresh samples of enrolled identities, as a probe face would be, and their people."""
    rng = np.random.default_rng(seed + 1)
    lab = rng.integers(0, len(centres), nq)
    return model.templates(centres[lab], rng), lab


def exact_topk(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Exact inner-product top-k row ids (FAISS brute force: BLAS plus a heap)."""
    import faiss

    return faiss.knn(q, x, k, metric=faiss.METRIC_INNER_PRODUCT)[1]


def exact_people(x: np.ndarray, labels: np.ndarray, q: np.ndarray, k: int) -> list[list[int]]:
    """Exact top-k people under max fusion (first k distinct labels of the nearest templates)."""
    rows = exact_topk(x, q, k * 20)
    return [list(dict.fromkeys(labels[r].tolist()))[:k] for r in rows]


def latency(
    search_one: Callable[[np.ndarray], list[int]], q: np.ndarray
) -> tuple[list[list[int]], dict[str, float]]:
    found, ms = [], []
    for vec in q:
        t = time.perf_counter()
        found.append(search_one(vec))
        ms.append((time.perf_counter() - t) * 1e3)
    arr = np.array(ms)
    return found, {
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
    }


def recall(found: list[list[int]], truth: list[list[int]], k: int) -> float:
    return float(
        np.mean(
            [len(set(f[:k]) & set(t[:k])) / len(t[:k]) for f, t in zip(found, truth, strict=True)]
        )
    )


def bench_usearch(x: np.ndarray, a: argparse.Namespace) -> Bench:
    from usearch.index import Index

    index = Index(
        ndim=x.shape[1],
        metric="ip",
        dtype="f32",
        connectivity=a.connectivity,
        expansion_add=a.expansion_add,
    )
    index.add(np.arange(len(x), dtype=np.uint64), x, threads=0)

    def set_ef(ef: int) -> None:
        index.expansion_search = ef  # type: ignore[misc]  # the setter exists at runtime

    return lambda v: index.search(v, a.k, threads=1).keys.tolist(), index, set_ef


def bench_faiss(x: np.ndarray, a: argparse.Namespace) -> Bench:
    """The gallery store's own index class (same storage, re-ranking, tombstone path)."""
    import faiss

    from facelens.gallery.faiss_index import AnnIndex

    index = AnnIndex(x.shape[1], a.connectivity, a.expansion_add, storage=a.storage)
    index.add(np.arange(1, len(x) + 1), x)  # id = row + 1: store ids start at 1
    faiss.omp_set_num_threads(1)  # single-query latency: OpenMP fan-out only adds overhead

    def one(v: np.ndarray) -> list[int]:
        return (index.search(v[None], a.k)[0][0] - 1).tolist()

    def set_ef(ef: int) -> None:
        index.ef_search = ef

    return one, index, set_ef


def bench_store(x: np.ndarray, labels: np.ndarray, a: argparse.Namespace, tmp: str) -> Bench:
    from facelens.gallery import open_store
    from facelens.gallery.store import Template

    opts: dict[str, Any] = {
        "connectivity": a.connectivity,
        "expansion_add": a.expansion_add,
        "expansion_search": int(a.expansion_search.split(",")[0]),
    }
    if a.backend == "sqlite":
        opts["storage"] = a.storage
    target = f"milvus:{tmp}/bench.db" if a.backend == "milvus" else f"{tmp}/gallery"
    store = open_store(target, dim=x.shape[1], **opts)
    n_people = int(labels.max()) + 1
    for s in range(0, n_people, 20_000):  # one transaction per 20k people
        batch = []
        for p in range(s, min(s + 20_000, n_people)):
            rows = range(p, len(x), n_people)  # labels are arange(n) % n_people
            batch.append((f"p{p}", [Template(embedding=x[r], content_hash=f"h{r}") for r in rows]))
        store.add_many(batch)
    store.flush()  # include the index save / segment sealing in the build time

    def one(v: np.ndarray) -> list[int]:
        return [int(h.person[1:]) for h in store.search(v[None], a.k)[0]]

    def set_ef(ef: int) -> None:
        store.expansion_search = ef  # type: ignore[attr-defined]

    return one, store, set_ef


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--backend", choices=["sqlite", "milvus", "faiss", "usearch"], default="sqlite")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--per-person", type=int, default=5)
    ap.add_argument("--noise", type=float, default=0.8)
    ap.add_argument("--connectivity", type=int, default=32, help="HNSW M")
    ap.add_argument("--expansion-add", type=int, default=200, help="HNSW efConstruction")
    ap.add_argument(
        "--expansion-search", default="512", help="HNSW efSearch; a comma list sweeps it"
    )
    ap.add_argument(
        "--storage",
        choices=["flat", "fp16", "sq8", "sq6"],
        default="flat",
        help="vectors the FAISS graph walks (faiss/sqlite backends), see gallery.faiss_index",
    )
    ap.add_argument("--decay", type=float, default=1.0, help="spectrum decay, see spectrum()")
    ap.add_argument(
        "--like",
        type=Path,
        help="an LFW folder: fit the vectors to its real embeddings (replaces --dim, --noise, "
        "--decay; see fit_identities)",
    )
    ap.add_argument("--embedder", default="fused", help="the network --like embeds with")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    real: dict[str, float] | None = None
    if a.like:
        model, real = lfw_identities(a.like, a.embedder)
    else:
        model = spectrum_identities(a.dim, a.noise, a.decay)
    x, labels, centres = synthetic(a.n, a.per_person, model, a.seed)
    # whole people (labels repeat every len(centres) rows), about 5,000 vectors
    sample = np.flatnonzero(labels < max(1, 5000 // a.per_person))
    vectors = {"drawn": describe(x[sample], labels[sample]), **({"real": real} if real else {})}
    q, q_people = probes(centres, a.queries, model, a.seed)
    per_store = a.backend in ("sqlite", "milvus")
    truth = exact_people(x, labels, q, a.k) if per_store else exact_topk(x, q, a.k).tolist()
    # the probe's own person (store backends) or its enrolled templates (ANN backends)
    mates = (
        [[p] for p in q_people.tolist()]
        if per_store
        else [list(range(p, a.n, len(centres))) for p in q_people.tolist()]  # see synthetic()
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        rss0, t0 = rss_bytes(), time.perf_counter()
        if a.backend == "usearch":
            one, handle, set_ef = bench_usearch(x, a)
        elif a.backend == "faiss":
            one, handle, set_ef = bench_faiss(x, a)
        else:
            one, handle, set_ef = bench_store(x, labels, a, tmp)
        build_s, rss1 = time.perf_counter() - t0, rss_bytes()
        for ef in [int(v) for v in a.expansion_search.split(",")]:
            set_ef(ef)
            for v in q[:50]:  # warm caches before timing
                one(v)
            found, lat = latency(one, q)
            top1 = [f[:1] == t[:1] for f, t in zip(found, truth, strict=True)]
            results.append(
                {
                    "backend": a.backend,
                    "n": a.n,
                    "dim": model.dim,
                    "vectors": f"like {a.like} ({a.embedder})" if a.like else f"decay {a.decay}",
                    "queries": a.queries,
                    "k": a.k,
                    "connectivity": a.connectivity,
                    "expansion_add": a.expansion_add,
                    "expansion_search": ef,
                    "storage": a.storage if a.backend in ("faiss", "sqlite") else None,
                    "build_s": round(build_s, 2),
                    "rss_delta_mb": round((rss1 - rss0) / 2**20, 1),
                    **{k: round(v, 4) for k, v in lat.items()},
                    f"recall@{a.k}": round(recall(found, truth, a.k), 4),
                    "top1_agree": round(float(np.mean(top1)), 4),
                    "mate_recall": round(recall(found, mates, a.k), 4),
                    "exact_mate_recall": round(recall(truth, mates, a.k), 4),
                    "recall_of": "people" if per_store else "templates",
                    "vector_statistics": vectors,
                    "cpus": os.cpu_count(),
                }
            )
            r = results[-1]
            print(json.dumps(r) if a.json else "\n".join(f"{k:>18}: {v}" for k, v in r.items()))
        if per_store:
            handle.close()
    return results


if __name__ == "__main__":
    main()
