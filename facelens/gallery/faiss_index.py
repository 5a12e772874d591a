"""FAISS HNSW index keyed by SQLite template ids, with tombstones.

FAISS HNSW cannot delete, so removed templates stay in the graph but are
masked out of every search by a bitmap selector; `dead_fraction` tells the
store when rebuilding pays off. Position i of the graph holds template id
``keys[i]``; ids are appended in increasing order, so `keys` stays sorted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

MANIFEST = "index.json"


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as f:  # fsync so a power cut cannot leave a renamed, empty file
        os.fsync(f.fileno())
    os.replace(tmp, final)


class AnnIndex:
    def __init__(
        self, dim: int, m: int = 32, ef_construction: int = 200, ef_search: int = 512
    ) -> None:
        self.dim, self.m, self.ef_construction = dim, m, ef_construction
        graph = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = ef_construction
        self.graph: faiss.Index = graph
        self.ef_search = ef_search
        self.keys = np.zeros(0, np.int64)
        self.live = np.zeros(0, bool)
        self._sel: Any = None  # tombstone filter, rebuilt when the live mask changes
        self._n_live = 0  # cached: len() runs on every search

    @property
    def params(self) -> dict[str, int]:
        return {"dim": self.dim, "m": self.m, "ef_construction": self.ef_construction}

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
        self.graph.add(np.ascontiguousarray(vectors, dtype=np.float32))
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
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing in stubs
        params.efSearch = max(self.ef_search, n)
        if self._sel is not None:
            params.sel = self._sel[0]  # the tuple keeps the bitmap alive for FAISS
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
            self = cls(dim, meta["m"], meta["ef_construction"], ef_search)
            self.graph = faiss.read_index(str(folder / f"{meta['files']}.faiss"))
            with np.load(folder / f"{meta['files']}.npz") as z:
                self.keys, self.live = z["keys"], z["live"]
            self._n_live = int(self.live.sum())
            if self.graph.ntotal != len(self.keys):
                return None
            return self, int(meta["generation"])
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
