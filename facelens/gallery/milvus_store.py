"""Gallery backend over Milvus (a server at http://..., or milvus-lite on a local .db file).

One collection holds every template: primary key ``template_id``, ``person``,
the vector, and the rest of the template in fields. Milvus is the only source
of truth (no side files); the collection uses Strong consistency, so a search
sees every write committed before it, from any client. milvus-lite itself is
single-process: share a gallery between processes through a Milvus server.

A person is found by name case-insensitively (names.py): each row carries its person's
``name_key`` in ``extra["person_key"]``. Rows written before that have none; they are
matched by reading their names (a scan of those rows only).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from facelens.errors import FaceLensError
from facelens.gallery.names import name_key, pick
from facelens.gallery.record import EmbedderRecord, check_record, unrecorded
from facelens.gallery.store import (
    Fuse,
    Hit,
    PersonSummary,
    Template,
    as_queries,
    prepare,
    read_export_by_person,
    search_people,
    write_export,
)

# milvus-lite has no server session timestamps: pymilvus warns on every
# iterator, then falls back safely to client time.
logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
FIELDS = ["template_id", "person", "embedding", "quality", "content_hash", "created_at", "extra"]
MAX_LIMIT = 16_384  # Milvus caps topk
KEY = 'extra["person_key"]'
RECORD = "facelens.embedder"  # collection property: the embedder's record (record.py)
# Milvus's filter parser reads these escapes and every other character raw (NUL included);
# json.dumps's \u00XX it refuses, which made names with control characters unreachable.
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _lit(value: str | Sequence[str]) -> str:
    """A Milvus filter literal (milvus-lite has no filter templating): a string or a list."""
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    return "[" + ", ".join(_lit(v) for v in value) + "]"


def _row(t: Template) -> dict[str, Any]:
    return {
        "template_id": t.template_id,
        "person": t.person,
        "embedding": t.embedding,
        "quality": float(t.quality),
        "content_hash": t.content_hash,
        "created_at": float(t.created_at),
        "extra": {
            "box": list(t.box) if t.box else None,
            "metadata": t.metadata,
            "person_key": name_key(t.person),
        },
    }


def _template(r: dict[str, Any]) -> Template:
    box = r["extra"].get("box")
    return Template(
        template_id=r["template_id"],
        person=r["person"],
        embedding=np.asarray(r["embedding"], np.float32),
        quality=r["quality"],
        box=tuple(box) if box else None,
        content_hash=r["content_hash"],
        created_at=r["created_at"],
        metadata=r["extra"].get("metadata", {}),
    )


class MilvusGalleryStore:
    def __init__(
        self,
        uri: str,
        dim: int = 128,
        *,
        collection: str = "facelens_gallery",
        embedder: EmbedderRecord | None = None,
        token: str = "",
        connectivity: int = 32,
        expansion_add: int = 200,
        expansion_search: int = 512,
    ) -> None:
        if embedder and embedder.dimension != dim:
            raise ValueError(f"embedder {embedder} does not give {dim}-d embeddings")
        self.dim, self.name, self.expansion_search = dim, collection, expansion_search
        self._c = MilvusClient(uri=uri, token=token)
        fresh = not self._c.has_collection(collection)
        if fresh:
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("template_id", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("person", DataType.VARCHAR, max_length=1024)
            schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("quality", DataType.FLOAT)
            schema.add_field("content_hash", DataType.VARCHAR, max_length=256)
            schema.add_field("created_at", DataType.DOUBLE)
            schema.add_field("extra", DataType.JSON)  # box + free-form metadata
            index = self._c.prepare_index_params()
            index.add_index(
                field_name="embedding",
                index_type="HNSW",
                metric_type="IP",
                params={"M": connectivity, "efConstruction": expansion_add},
            )
            self._c.create_collection(
                collection,
                schema=schema,
                index_params=index,
                consistency_level="Strong",
                properties={RECORD: (embedder or unrecorded(dim)).to_json()},
            )
        field = next(
            f for f in self._c.describe_collection(collection)["fields"] if f["name"] == "embedding"
        )
        if RECORD not in self._properties():  # from before records: it holds dlib's templates
            record = unrecorded(int(field["params"]["dim"])).to_json()
            self._c.alter_collection_properties(collection, properties={RECORD: record})
        self.embedder = self.stored_embedder()
        try:
            check_record(self.embedder, embedder, uri)
        except FaceLensError:
            self._c.close()
            raise
        if int(field["params"]["dim"]) != dim:
            raise ValueError(f"{uri} holds {field['params']['dim']}-d embeddings, not {dim}-d")
        self._c.load_collection(collection)

    @staticmethod
    def peek_embedder(
        uri: str, collection: str = "facelens_gallery", token: str = ""
    ) -> EmbedderRecord | None:
        """The record of an existing collection; None when there is none yet."""
        client = MilvusClient(uri=uri, token=token)
        try:
            if not client.has_collection(collection):
                return None
            found = client.describe_collection(collection)
        finally:
            client.close()
        if RECORD in found.get("properties", {}):
            return EmbedderRecord.from_json(found["properties"][RECORD])
        field = next(f for f in found["fields"] if f["name"] == "embedding")
        return unrecorded(int(field["params"]["dim"]))

    def _properties(self) -> dict[str, str]:
        return self._c.describe_collection(self.name).get("properties", {})

    def stored_embedder(self) -> EmbedderRecord:
        return EmbedderRecord.from_json(self._properties()[RECORD])

    def _query(self, flt: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        kw = {"limit": limit} if limit else {}
        return list(self._c.query(self.name, filter=flt, output_fields=fields, **kw))

    def _iter(self, flt: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        it = self._c.query_iterator(self.name, batch_size=1000, filter=flt, output_fields=fields)
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def _stored_like(self, names: Sequence[str]) -> dict[str, set[str]]:
        """Stored names sharing the key of one of `names`, by key; enough for `pick`: a name
        stored exactly stands alone. JSON fields have no index in milvus-lite, so a few
        names cost an exact query each (and a key filter when absent); many, one scan."""
        found: dict[str, set[str]] = {}
        keys = {name_key(n) for n in names}
        if len(keys) > 16:
            people: Iterable[str] = (r["person"] for r in self._iter("", ["person"]))
        else:
            people = []
            for name in set(names):
                if self._query(f"person == {_lit(name)}", ["person"], limit=1):
                    people.append(name)
                else:  # rows written before keys have none: the filter reads their names too
                    flt = f"{KEY} == {_lit(name_key(name))} or not exists {KEY}"
                    people += self._people_where(flt)
        for person in people:
            if name_key(person) in keys:
                found.setdefault(name_key(person), set()).add(person)
        return found

    def _people_where(self, flt: str) -> set[str]:
        rows = self._query(flt, ["person"], limit=MAX_LIMIT)
        if len(rows) == MAX_LIMIT:  # more rows than one query returns: page through them
            rows = list(self._iter(flt, ["person"]))
        return {r["person"] for r in rows}

    def resolve(self, name: str) -> str | None:
        return pick(name, list(self._stored_like([name]).get(name_key(name), ())))

    # -- writes --------------------------------------------------------------------------------
    def add(self, person: str, templates: Sequence[Template]) -> list[str]:
        return self.add_many([(person, templates)])

    def add_many(self, entries: Iterable[tuple[str, Sequence[Template]]]) -> list[str]:
        entries = [(person, prepare(person, temps, self.dim)) for person, temps in entries]
        found = self._stored_like([person for person, _ in entries])
        batch: list[Template] = []
        for person, temps in entries:  # an existing case variant takes the templates
            stored = pick(person, list(found.setdefault(name_key(person), set())))
            if stored is None:
                found[name_key(person)].add(stored := person)
            batch += [replace(t, person=stored) for t in temps]
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for s in range(0, len(batch), 1000):  # one dedupe query per 1000 templates, not per person
            part = batch[s : s + 1000]
            seen |= {
                (r["person"], r["content_hash"])
                for r in self._query(
                    f"content_hash in {_lit([t.content_hash for t in part])}",
                    ["person", "content_hash"],
                )
            }
            ids = {
                r["template_id"]
                for r in self._query(
                    f"template_id in {_lit([t.template_id for t in part])}", ["template_id"]
                )
            }
            for t in part:
                if (t.person, t.content_hash) not in seen and t.template_id not in ids:
                    seen.add((t.person, t.content_hash))
                    rows.append(_row(t))
        for s in range(0, len(rows), 5000):  # keep each gRPC message well under its size cap
            self._c.insert(self.name, rows[s : s + 5000])
        return [r["template_id"] for r in rows]

    def rename(self, old: str, new: str) -> None:
        found = self._stored_like([old, new])
        stored = pick(old, list(found.get(name_key(old), ())))
        if stored is None:
            raise KeyError(old)
        taken = found.get(name_key(new), set()) - {stored}
        if taken:
            raise ValueError(f"the name {new!r} belongs to {min(taken)!r}")
        rows = list(self._iter(f"person == {_lit(stored)}", FIELDS))
        # Upsert replaces whole rows by primary key: same templates, new person.
        key = name_key(new)
        rows = [{**r, "person": new, "extra": {**r["extra"], "person_key": key}} for r in rows]
        for s in range(0, len(rows), 5000):
            self._c.upsert(self.name, rows[s : s + 5000])

    def remove(self, person: str) -> int:
        stored = self.resolve(person)
        n = len(self._query(f"person == {_lit(stored)}", ["template_id"])) if stored else 0
        if not n:
            raise KeyError(person)
        self._c.delete(self.name, filter=f"person == {_lit(stored)}")
        return n

    def import_(self, path: str | os.PathLike[str]) -> int:
        return len(self.add_many(read_export_by_person(path, self.embedder)))

    def flush(self) -> None:
        """Seal pending inserts so Milvus builds their HNSW index (else they are brute-forced)."""
        self._c.flush(self.name)

    # -- reads ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Nothing to do: Strong consistency already shows every committed write."""

    def search(self, queries: np.ndarray, k: int = 5, fuse: Fuse = "max") -> list[list[Hit]]:
        q = as_queries(queries, self.dim)
        # total = the topk cap: widening stops anyway once a search comes back short
        return search_people(q, k, fuse, MAX_LIMIT, self._ann, self._embeddings_of)

    def _ann(self, q: np.ndarray, n: int) -> list[list[tuple[str, float, str]]]:
        res = self._c.search(
            self.name,
            data=list(q),
            limit=n,
            output_fields=["person"],
            search_params={"metric_type": "IP", "params": {"ef": max(self.expansion_search, n)}},
        )
        return [
            [(h["entity"]["person"], float(h["distance"]), h["template_id"]) for h in hits]
            for hits in res
        ]

    def _embeddings_of(self, people: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, list[Any]] = {}
        for r in self._iter(f"person in {_lit(people)}", ["person", "embedding"]):
            out.setdefault(r["person"], []).append(r["embedding"])
        return {p: np.asarray(e, np.float32) for p, e in out.items()}

    def people(self) -> list[PersonSummary]:
        counts = Counter(r["person"] for r in self._iter("", ["person"]))
        ordered = sorted(counts.items(), key=lambda item: (name_key(item[0]), item[0]))
        return [PersonSummary(n, c) for n, c in ordered]

    def templates(self, person: str) -> list[Template]:
        stored = self.resolve(person)
        if stored is None:
            return []
        rows = sorted(
            self._iter(f"person == {_lit(stored)}", FIELDS), key=lambda r: r["created_at"]
        )
        return [_template(r) for r in rows]

    def has_hash(self, content_hash: str, person: str | None = None) -> bool:
        flt = f"content_hash == {_lit(content_hash)}"
        if not person:
            return bool(self._query(flt, ["template_id"], limit=1))
        # the few rows with this hash, matched by name key here: one query, not a resolve too
        key = name_key(person)
        return any(name_key(r["person"]) == key for r in self._query(flt, ["person"]))

    def count(self) -> int:
        return int(self._query("", ["count(*)"])[0]["count(*)"])

    def searched(self) -> int:
        return self.count()  # Milvus keeps the row count itself

    def export(self, path: str | os.PathLike[str]) -> int:
        rows = sorted(self._iter("", FIELDS), key=lambda r: (r["created_at"], r["template_id"]))
        return write_export(path, self.embedder, (_template(r) for r in rows))

    def close(self) -> None:
        self._c.close()

    def __enter__(self) -> MilvusGalleryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
