"""FAISS HNSW index keyed by SQLite template ids, with tombstones.

FAISS HNSW cannot delete, so removed templates stay in the graph but are
masked out of every search by a bitmap selector; `dead_fraction` tells the
store when rebuilding pays off. Position i of the graph holds template id
``keys[i]``; ids are appended in increasing order, so `keys` stays sorted.

Storage: the graph walk reads compressed vectors (``sq8``: 8 bits per
dimension, ``sq6``, ``fp16``) and the best ``k * k_factor`` are re-ranked with
exact float32 inner products, so returned similarities are exact; ``flat``
walks float32 vectors directly and stays the default: at a million templates
neither met the search target, and sq8 with efConstruction 400 built 3.5x
slower (README, "Gallery scale"). The 8/6-bit quantisers need per-dimension ranges:
below `train_size` templates the index is exact brute force (IndexFlatIP,
fast at that size); on crossing it the ranges are fitted, with a margin, to
every vector present and the graph is built. Ranges are not refitted as the
gallery grows: a clipped outlier only coarsens the walk, the re-ranking stays
exact; a rebuild (compact) fits them afresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import faiss
import numpy as np

MANIFEST = "index.json"
QUANTISERS = {
    "sq8": faiss.ScalarQuantizer.QT_8bit,
    "sq6": faiss.ScalarQuantizer.QT_6bit,
    "fp16": faiss.ScalarQuantizer.QT_fp16,
}
STORAGES = ("flat", *QUANTISERS)
TRAINED = ("sq8", "sq6")  # fp16 needs no ranges
DEFAULT_STORAGE = "flat"  # see the module docstring
RANGE_MARGIN = 0.05  # widen each fitted range by 5% on both sides for later, unseen vectors


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as f:  # fsync so a power cut cannot leave a renamed, empty file
        os.fsync(f.fileno())
    os.replace(tmp, final)


@contextmanager
def _serial() -> Iterator[None]:
    """Run FAISS single-threaded on this thread only (OpenMP settings are per thread).

    One query has nothing to split, yet IndexRefine still wakes an OpenMP team:
    on a busy 2-core machine that cost 8-12 ms per query against 0.1 ms serial.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class AnnIndex:
    def __init__(
        self,
        dim: int,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 512,
        storage: str = DEFAULT_STORAGE,
        k_factor: int = 4,
        train_size: int = 20_000,
    ) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
        self.dim, self.m, self.ef_construction = dim, m, ef_construction
        self.storage, self.k_factor, self.train_size = storage, k_factor, train_size
        self.ef_search = ef_search
        self.graph: faiss.Index = faiss.IndexFlatIP(dim) if storage in TRAINED else self._graph()
        self.keys = np.zeros(0, np.int64)
        self.live = np.zeros(0, bool)
        self._sel: Any = None  # tombstone filter, rebuilt when the live mask changes
        self._n_live = 0  # cached: len() runs on every search

    def _graph(self, train: np.ndarray | None = None) -> faiss.Index:
        """An empty HNSW graph of this storage; `train` fits the quantiser ranges."""
        if self.storage == "flat":
            graph = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = self.ef_construction
            return graph
        base = faiss.IndexHNSWSQ(
            self.dim, QUANTISERS[self.storage], self.m, faiss.METRIC_INNER_PRODUCT
        )
        base.hnsw.efConstruction = self.ef_construction
        if train is not None:
            faiss.downcast_index(base.storage).sq.rangestat_arg = RANGE_MARGIN
            base.train(train)
        return faiss.IndexRefineFlat(base)  # keeps float32 copies for the exact re-ranking

    def _file_kinds(self) -> tuple[type, ...]:
        """FAISS classes a saved index of this storage may be (for checking a manifest)."""
        if self.storage == "flat":
            return (faiss.IndexHNSWFlat,)
        graph: tuple[type, ...] = (faiss.IndexRefine,)
        return (*graph, faiss.IndexFlat) if self.storage in TRAINED else graph  # exact: untrained

    @property
    def exact(self) -> bool:
        """True while the index is brute force (quantiser not fitted yet)."""
        return isinstance(self.graph, faiss.IndexFlat)

    @property
    def params(self) -> dict[str, int | str]:
        return {
            "dim": self.dim,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "storage": self.storage,
            "k_factor": self.k_factor,
            "train_size": self.train_size,
        }

    def __len__(self) -> int:
        return self._n_live

    @property
    def max_key(self) -> int:
        return int(self.keys[-1]) if len(self.keys) else 0

    @property
    def dead_fraction(self) -> float:
        return 1.0 - len(self) / len(self.keys) if len(self.keys) else 0.0

    def live_keys(self) -> np.ndarray:
        return self.keys[self.live]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return
        if ids[0] <= self.max_key or np.any(np.diff(ids) <= 0):
            raise ValueError("ids must be appended in increasing order")
        x = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        if self.exact and len(self.keys) + len(x) >= self.train_size:
            # big enough to fit the quantiser: move every vector, dead ones too (positions stay)
            if self.graph.ntotal:
                x = np.concatenate([self.graph.reconstruct_n(0, self.graph.ntotal), x])
            self.graph = self._graph(train=x)
        self.graph.add(x)
        self.keys = np.concatenate([self.keys, ids])
        self.live = np.concatenate([self.live, np.ones(len(ids), bool)])
        self._n_live += len(ids)
        self._sel = None

    def mark_dead(self, ids: np.ndarray) -> int:
        ids = np.unique(np.asarray(ids, np.int64))  # unique: each position counted once
        pos = np.searchsorted(self.keys, ids)
        pos = pos[pos < len(self.keys)]
        pos = pos[np.isin(self.keys[pos], ids) & self.live[pos]]
        self.live[pos] = False
        self._n_live -= len(pos)
        self._sel = None
        return len(pos)

    def search(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, similarities), both (Q, n); missing results have id -1."""
        if self._sel is None and self._n_live < len(self.live):  # only pay for it when needed
            bitmap = np.packbits(self.live, bitorder="little")
            self._sel = (faiss.IDSelectorBitmap(len(self.live), faiss.swig_ptr(bitmap)), bitmap)
        # per call, not cached: concurrent searches may differ in n
        if self.exact:
            params = inner = faiss.SearchParameters()
        else:
            inner = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing in stubs
            params = inner
            inner.efSearch = max(self.ef_search, n)
            if self.storage != "flat":
                inner.efSearch = max(self.ef_search, n * self.k_factor)  # the re-ranked pool
                params = faiss.IndexRefineSearchParameters()  # type: ignore[attr-defined]
                params.k_factor, params.base_index_params = self.k_factor, inner
        if self._sel is not None:
            inner.sel = self._sel[0]  # the tuple keeps the bitmap alive for FAISS
        with _serial() if len(q) == 1 else nullcontext():
            sims, pos = self.graph.search(q, n, params=params)
        ids = np.where(pos >= 0, self.keys[np.clip(pos, 0, None)] if len(self.keys) else -1, -1)
        return ids, sims

    def save(self, folder: Path, generation: int, gallery_id: str) -> None:
        """Write index-<gen>.* then swap the manifest: a crash leaves the old, whole state."""
        name = f"index-{generation}"
        faiss.write_index(self.graph, str(folder / f"{name}.faiss.tmp"))
        _fsync_replace(folder / f"{name}.faiss.tmp", folder / f"{name}.faiss")
        with open(folder / f"{name}.npz.tmp", "wb") as f:
            np.savez(f, keys=self.keys, live=self.live)
        _fsync_replace(folder / f"{name}.npz.tmp", folder / f"{name}.npz")
        manifest = {
            "gallery_id": gallery_id,
            "generation": generation,
            "files": name,
            **self.params,
        }
        (folder / f"{MANIFEST}.tmp").write_text(json.dumps(manifest))
        _fsync_replace(folder / f"{MANIFEST}.tmp", folder / MANIFEST)
        for old in folder.glob("index-*"):
            if not old.name.startswith(f"{name}."):
                old.unlink(missing_ok=True)

    @classmethod
    def load(
        cls, folder: Path, gallery_id: str, dim: int, ef_search: int
    ) -> tuple[AnnIndex, int] | None:
        """(index, generation it reflects), or None when missing, foreign or unreadable."""
        try:
            meta = json.loads((folder / MANIFEST).read_text())
            if meta["gallery_id"] != gallery_id or meta["dim"] != dim:
                return None
            self = cls(
                dim,
                meta["m"],
                meta["ef_construction"],
                ef_search,
                meta.get("storage", "flat"),  # manifests before storage held HNSWFlat graphs
                meta.get("k_factor", 4),
                meta.get("train_size", 20_000),
            )
            self.graph = faiss.read_index(str(folder / f"{meta['files']}.faiss"))
            if not isinstance(self.graph, self._file_kinds()):
                return None  # a manifest that does not describe its file: rebuild
            with np.load(folder / f"{meta['files']}.npz") as z:
                self.keys, self.live = z["keys"], z["live"]
            self._n_live = int(self.live.sum())
            if self.graph.ntotal != len(self.keys):
                return None
            return self, int(meta["generation"])
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
