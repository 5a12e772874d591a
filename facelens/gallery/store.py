"""Backend-neutral types and helpers of the face gallery (1:N identification).

A gallery holds *templates* (one L2-normalised float32 embedding of one face
image each) grouped by *person*. Similarity is the inner product (cosine).
`search` ranks people, fusing each person's template similarities:

* ``max``:  the person's best template similarity (found by the ANN index).
* ``mean``: the mean similarity over *all* the person's templates, computed
  exactly for the people whose templates the ANN search returned (mean <= max,
  so a person absent from the nearest templates is rarely a loss).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from facelens.gallery.record import EmbedderRecord, check_record, unrecorded

Fuse = Literal["max", "mean"]
Box = tuple[float, float, float, float]
EXPORT_FORMAT = "facelens-gallery/1"


@dataclass(frozen=True, kw_only=True)
class Template:
    """One enrolled face. Empty id/hash/time are filled in by `prepare`."""

    template_id: str = ""
    person: str = ""
    embedding: np.ndarray = field(repr=False)
    quality: float = 1.0
    box: Box | None = None
    content_hash: str = ""  # hash of the source image: the idempotency key
    created_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonSummary:
    name: str
    templates: int


@dataclass(frozen=True)
class Hit:
    person: str
    similarity: float
    template_id: str  # the person's best-matching template


@runtime_checkable
class GalleryStore(Protocol):
    """What every gallery backend offers (see `facelens.gallery.open_store`).

    add/add_many return the template ids actually stored: a template whose
    (person, content_hash) or template_id is already there is skipped, so a
    resumed bulk run may simply re-add everything (or test `has_hash` first).
    search returns, per query row, up to k Hits best first. A person is named
    case-insensitively (`names.name_key`; `resolve` gives the stored name a name
    means, preferring the exact one): adding under "obama" extends a stored
    "Obama". Stores take names as given; the name policy is the Gallery's. rename
    raises KeyError for an unknown person and ValueError if `new` belongs to
    another person; remove raises KeyError and returns the number of templates
    deleted. export writes the portable .npz (see `write_export`); import_ merges
    one, idempotently, and returns the number added. refresh makes writes by other processes
    visible (search already does it); flush persists derived state. searched is the number
    of templates a search compares a probe with (= count, but cheap enough to call before
    every search: the open-set threshold depends on it). embedder is the record of the
    embedder whose templates the store holds (record.py), as read on open;
    stored_embedder reads it again.
    """

    dim: int
    embedder: EmbedderRecord

    def stored_embedder(self) -> EmbedderRecord: ...

    def add(self, person: str, templates: Sequence[Template]) -> list[str]: ...
    def add_many(self, entries: Iterable[tuple[str, Sequence[Template]]]) -> list[str]: ...
    def search(self, queries: np.ndarray, k: int = 5, fuse: Fuse = "max") -> list[list[Hit]]: ...
    def people(self) -> list[PersonSummary]: ...
    def resolve(self, name: str) -> str | None: ...
    def rename(self, old: str, new: str) -> None: ...
    def remove(self, person: str) -> int: ...
    def templates(self, person: str) -> list[Template]: ...
    def has_hash(self, content_hash: str, person: str | None = None) -> bool: ...
    def count(self) -> int: ...
    def searched(self) -> int: ...
    def export(self, path: str | os.PathLike[str]) -> int: ...
    def import_(self, path: str | os.PathLike[str]) -> int: ...
    def refresh(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def as_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32))
    q = q.reshape(1, -1) if q.ndim == 1 else q
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"queries must be (Q, {dim}), got {np.shape(queries)}")
    return q


def prepare(person: str, templates: Sequence[Template], dim: int) -> list[Template]:
    """Validate and complete templates for `person`; drop in-batch duplicate hashes."""
    if not person:
        raise ValueError("person name must be non-empty")
    out: dict[str, Template] = {}
    for t in templates:
        if t.person not in ("", person):
            raise ValueError(f"template of {t.person!r} passed to add({person!r})")
        emb = np.ascontiguousarray(np.asarray(t.embedding, dtype=np.float32).reshape(-1))
        if emb.shape != (dim,):
            raise ValueError(f"embedding must have shape ({dim},), got {emb.shape}")
        # Without an image hash the embedding bytes stand in, so re-adding is still a no-op.
        chash = t.content_hash or hashlib.sha256(emb.tobytes()).hexdigest()
        out.setdefault(
            chash,
            replace(
                t,
                person=person,
                embedding=emb,
                content_hash=chash,
                template_id=t.template_id or uuid.uuid4().hex,
                created_at=t.created_at or time.time(),
                box=tuple(float(v) for v in t.box) if t.box is not None else None,  # type: ignore[arg-type]
            ),
        )
    return list(out.values())


# ann(queries, n) -> per query, (person, similarity, template_id) best first
AnnFn = Callable[[np.ndarray, int], list[list[tuple[str, float, str]]]]
# embeddings_of(people) -> {person: (n_templates, dim) matrix}
EmbFn = Callable[[list[str]], dict[str, np.ndarray]]


def search_people(
    q: np.ndarray, k: int, fuse: Fuse, total: int, ann: AnnFn, embeddings_of: EmbFn
) -> list[list[Hit]]:
    """Top-k people per query: widen the template search until k people are found."""
    if fuse not in ("max", "mean"):
        raise ValueError(f"fuse must be 'max' or 'mean', got {fuse!r}")
    results: list[list[Hit]] = [[] for _ in range(len(q))]
    if k <= 0 or total <= 0:
        return results
    todo, n = list(range(len(q))), min(total, max(4 * k, 16))
    while todo:
        rows, again = ann(q[todo], n), []
        for i, row in zip(todo, rows, strict=True):
            best: dict[str, Hit] = {}
            for person, sim, tid in row:  # rows are best-first: keep each person's first
                best.setdefault(person, Hit(person, sim, tid))
            if len(best) < k and n < total and len(row) == n:  # short row: nothing left
                again.append(i)
                continue
            hits = list(best.values())
            if fuse == "mean":  # exact mean = q . mean(embeddings), for every candidate
                embs = embeddings_of(list(best))
                hits = [
                    replace(h, similarity=float((embs[h.person] @ q[i]).mean()))
                    for h in hits
                    if h.person in embs
                ]
            hits.sort(key=lambda h: -h.similarity)
            results[i] = hits[:k]
        todo, n = again, min(total, n * 4)
    return results


def write_export(
    path: str | os.PathLike[str], embedder: EmbedderRecord, templates: Iterable[Template]
) -> int:
    """Portable gallery file: .npz with an (N, dim) float32 matrix, JSON records and the
    embedder's record."""
    dim = embedder.dimension
    items = list(templates)
    records = [{k: v for k, v in asdict(t).items() if k != "embedding"} for t in items]
    emb = np.stack([t.embedding for t in items]) if items else np.zeros((0, dim), np.float32)
    buf = io.BytesIO()  # np.savez on a path would append ".npz"; a buffer keeps the name
    np.savez(
        buf,
        embeddings=emb.astype(np.float32),
        dim=np.int64(dim),
        format=np.array(EXPORT_FORMAT),
        records=np.array(json.dumps(records)),
        embedder=np.array(embedder.to_json()),
    )
    tmp = Path(f"{path}.tmp")
    try:
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)  # atomic: a crash never leaves half an export
    except OSError:
        with contextlib.suppress(OSError):  # a full disk leaves no half-written .tmp behind
            tmp.unlink(missing_ok=True)
        raise
    return len(items)


def read_export(path: str | os.PathLike[str]) -> tuple[EmbedderRecord, list[Template]]:
    """An export's embedder record (exports written before records: `unrecorded`) and
    templates."""
    with np.load(path, allow_pickle=False) as z:
        if str(z["format"]) != EXPORT_FORMAT:
            raise ValueError(f"{path}: not a {EXPORT_FORMAT} file")
        emb, dim, records = z["embeddings"], int(z["dim"]), json.loads(str(z["records"]))
        embedder = EmbedderRecord.from_json(str(z["embedder"])) if "embedder" in z.files else None
    out = [
        Template(**{**r, "box": tuple(r["box"]) if r["box"] else None}, embedding=e)
        for r, e in zip(records, emb, strict=True)
    ]
    return embedder or unrecorded(dim), out


def read_export_by_person(
    path: str | os.PathLike[str], embedder: EmbedderRecord
) -> list[tuple[str, list[Template]]]:
    """An export's templates grouped by person; one of another embedder is refused
    (`embedder_mismatch`)."""
    found, items = read_export(path)
    check_record(found, embedder, path)
    by_person: dict[str, list[Template]] = {}
    for template in items:
        by_person.setdefault(template.person, []).append(template)
    return list(by_person.items())
