"""Default gallery backend: SQLite (source of truth) + a FAISS HNSW index file.

Layout of the gallery directory::

    gallery.sqlite   people (name, case-insensitive key), templates (vector BLOBs),
                     removed ids, meta (WAL mode)
    index.json       manifest: gallery id, generation the index reflects, files
    index-<gen>.*    FAISS graph + key/tombstone arrays
    gallery.lock     exclusive file lock taken by every write

Consistency: every write commits to SQLite first (bumping ``generation``),
then updates the in-memory index. `open` loads the index named by the
manifest and catches up from SQLite (rows with id above the index's last id,
removals logged after its generation); if the result still disagrees with
SQLite, or the manifest is missing/foreign, the index is rebuilt. Template ids
are AUTOINCREMENT rowids, never reused, so a stale index can never confuse two
templates. An index saved with other graph settings (an older default
``storage``) is used as it is; `compact` rebuilds it with this store's.

Concurrency: any number of threads and processes may open one gallery.
Writes are serialised by the file lock (across processes) and a thread lock;
searches run in parallel. Each `search` first checks the generation in SQLite
and catches up, so it sees every write committed before it started, by any
process. The index file is saved on `close`/`flush` and every `autosave`
added templates; between saves, open only replays the delta.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock

from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery.faiss_index import DEFAULT_STORAGE, AnnIndex
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
from facelens.io import path_kind

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- key = names.name_key(name); not UNIQUE: galleries written before it may hold case variants
CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, key TEXT);
CREATE TABLE IF NOT EXISTS templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    template_id TEXT NOT NULL UNIQUE,
    person_id INTEGER NOT NULL REFERENCES people(id),
    embedding BLOB NOT NULL, quality REAL NOT NULL, box TEXT, content_hash TEXT NOT NULL,
    created_at REAL NOT NULL, metadata TEXT NOT NULL,
    UNIQUE (person_id, content_hash));
CREATE INDEX IF NOT EXISTS templates_hash ON templates(content_hash);
CREATE TABLE IF NOT EXISTS removed (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
"""
COLS = (
    "t.id, t.template_id, p.name, t.embedding, t.quality, t.box, t.content_hash,"
    " t.created_at, t.metadata"
)
INSERT_TEMPLATE = (
    "INSERT OR IGNORE INTO templates(template_id, person_id, embedding, quality, box,"
    " content_hash, created_at, metadata) VALUES (?,?,?,?,?,?,?,?)"
)
CHUNK = 50_000  # rows per index catch-up batch: bounds memory on a 1M rebuild


class _RWLock:
    """Many searches or one index mutation; waiting writers go first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = self._waiting = 0
        self._writing = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def _template(row: sqlite3.Row | tuple) -> Template:
    _, tid, person, emb, quality, box, chash, created, meta = row
    return Template(
        template_id=tid,
        person=person,
        embedding=np.frombuffer(emb, np.float32).copy(),
        quality=quality,
        box=tuple(json.loads(box)) if box else None,
        content_hash=chash,
        created_at=created,
        metadata=json.loads(meta),
    )


def unreadable(path: Path, error: Exception) -> FaceLensError:
    return FaceLensError(
        ErrorCode.BAD_GALLERY,
        f"{path / 'gallery.sqlite'} is not a readable facelens gallery ({error}); restore it "
        "from a backup or an export, or point --gallery elsewhere",
    )


class SqliteGalleryStore:
    def __init__(
        self,
        path: str | os.PathLike[str],
        dim: int = 128,
        *,
        embedder: EmbedderRecord | None = None,
        connectivity: int = 32,
        expansion_add: int = 200,
        expansion_search: int = 512,
        storage: str = DEFAULT_STORAGE,
        autosave: int = 100_000,
        read_only: bool = False,
        lock_timeout: float = 60.0,
    ) -> None:
        if embedder and embedder.dimension != dim:
            raise ValueError(f"embedder {embedder} does not give {dim}-d embeddings")
        self.path, self.dim, self.read_only, self.autosave = Path(path), dim, read_only, autosave
        self.path.mkdir(parents=True, exist_ok=True)
        self._hnsw = (connectivity, expansion_add, expansion_search)
        self._storage = storage  # vector codes the graph walks, see faiss_index
        self._file_lock = FileLock(self.path / "gallery.lock", timeout=lock_timeout)
        self._write_lock, self._rw = threading.RLock(), _RWLock()
        self._local = threading.local()  # sqlite3 connections are per thread
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._unsaved, self._closed = 0, False
        try:
            self._open(dim, embedder, expansion_search, read_only)
        except sqlite3.DatabaseError as error:
            self.close()
            raise unreadable(self.path, error) from None

    def _open(
        self,
        dim: int,
        embedder: EmbedderRecord | None,
        expansion_search: int,
        read_only: bool,
    ) -> None:
        with self._writing():  # schema creation and repair must not race another opener
            db = self._db()
            db.executescript(SCHEMA)
            self._add_name_keys()
            db.execute("BEGIN IMMEDIATE")  # a new gallery is born with its record
            try:
                fresh = db.execute("SELECT 1 FROM meta WHERE key='dim'").fetchone() is None
                db.execute("INSERT OR IGNORE INTO meta VALUES ('dim', ?)", (str(dim),))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('gallery_id', ?)", (uuid.uuid4().hex,)
                )
                # A gallery from before records gets the record of what it holds (dlib)
                first = embedder if fresh and embedder else unrecorded(int(self._meta("dim")))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('embedder', ?)", (first.to_json(),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.embedder = self.stored_embedder()
            try:
                check_record(self.embedder, embedder, self.path)
            except FaceLensError:
                self.close()
                raise
            stored = int(self._meta("dim"))
            if stored != dim:
                raise ValueError(f"{self.path} holds {stored}-d embeddings, not {dim}-d")
            self._gallery_id = self._meta("gallery_id")
            loaded = AnnIndex.load(self.path, self._gallery_id, dim, expansion_search)
            self._index, self._gen = loaded if loaded else (self._new_index(), -1)
            self._catch_up(verify=self._gen != int(self._meta("generation")))
            if self._unsaved and not read_only:
                self.flush()

    # -- plumbing ------------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # check_same_thread=False only so close() may close every thread's connection
            db = sqlite3.connect(
                self.path / "gallery.sqlite",
                timeout=60.0,
                isolation_level=None,
                check_same_thread=False,
            )
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives process crashes
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._conns_lock:
                self._conns.append(db)
        return db

    def _add_name_keys(self) -> None:
        """Galleries written before names.py have no `key` column: add it and fill it in."""
        with self._txn() as db:
            if "key" not in {r[1] for r in db.execute("PRAGMA table_info(people)")}:
                db.execute("ALTER TABLE people ADD COLUMN key TEXT")
            db.execute("CREATE INDEX IF NOT EXISTS people_key ON people(key)")
            rows = db.execute("SELECT id, name FROM people WHERE key IS NULL").fetchall()
            keys = [(name_key(name), i) for i, name in rows]
            db.executemany("UPDATE people SET key=? WHERE id=?", keys)

    def _person(self, db: sqlite3.Connection, name: str) -> tuple[int, str] | None:
        """(id, stored name) of the person `name` means (names.pick), None if nobody."""
        rows = dict(
            (n, i)
            for i, n in db.execute(
                "SELECT id, name FROM people WHERE key=? OR name=?", (name_key(name), name)
            )
        )
        chosen = pick(name, list(rows))
        return None if chosen is None else (rows[chosen], chosen)

    @staticmethod
    def _insert_person(db: sqlite3.Connection, name: str) -> int:
        cur = db.execute("INSERT INTO people(name, key) VALUES (?, ?)", (name, name_key(name)))
        return int(cur.lastrowid or 0)

    def resolve(self, name: str) -> str | None:
        found = self._person(self._db(), name)
        return found[1] if found else None

    def stored_embedder(self) -> EmbedderRecord:
        return EmbedderRecord.from_json(self._meta("embedder"))

    @staticmethod
    def peek_embedder(path: str | os.PathLike[str]) -> EmbedderRecord | None:
        """The record of the gallery at `path` without opening it for writing; None when
        there is no gallery there yet."""
        file = Path(path) / "gallery.sqlite"
        if path_kind(file, ErrorCode.BAD_GALLERY) != "file":
            return None
        try:
            with closing(sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)) as db:
                query = "SELECT key, value FROM meta WHERE key IN ('embedder', 'dim')"
                rows = dict(db.execute(query))
        except sqlite3.DatabaseError as error:
            raise unreadable(Path(path), error) from None
        if "embedder" in rows:
            return EmbedderRecord.from_json(rows["embedder"])
        return unrecorded(int(rows["dim"])) if "dim" in rows else None

    def _meta(self, key: str) -> str:
        return self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]

    @property
    def expansion_search(self) -> int:
        """HNSW efSearch: higher = better recall, slower search (not stored on disk)."""
        return self._hnsw[2]

    @expansion_search.setter
    def expansion_search(self, ef: int) -> None:
        self._hnsw = (*self._hnsw[:2], ef)
        self._index.ef_search = ef

    def _new_index(self) -> AnnIndex:
        m, efc, efs = self._hnsw
        return AnnIndex(self.dim, m, efc, efs, self._storage)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        if self._closed:
            raise RuntimeError("gallery store is closed")
        with self._write_lock, self._file_lock:
            yield

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; bumps the generation if it changed anything."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            yield db
            if db.total_changes != before:  # a no-op re-add must not make readers catch up
                db.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _catch_up(self, verify: bool = False) -> None:
        """Bring the in-memory index to SQLite's current generation (delta, else rebuild).

        verify (used by open): also compare the full key sets, not just the counts.
        """
        with self._write_lock, self._rw.write():
            db = self._db()
            db.execute("BEGIN")  # one snapshot for the generation, new rows and removals
            try:
                gen = int(self._meta("generation"))
                if gen == self._gen and not verify:
                    return
                if gen < self._gen:  # SQLite older than the index (restored backup): rebuild
                    self._index = self._new_index()
                dead = [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM removed WHERE generation > ? AND id <= ?",
                        (self._gen, self._index.max_key),
                    )
                ]
                self._index.mark_dead(np.array(dead, np.int64))
                self._add_rows(db, self._index.max_key)
                total = db.execute("SELECT COUNT(*) FROM templates").fetchone()[0]
                if total != len(self._index) or (verify and not self._same_keys(db)):
                    # the delta did not explain the state: rebuild
                    self._index = self._new_index()
                    self._add_rows(db, 0)
            finally:
                db.execute("COMMIT")
            self._gen = gen

    def _same_keys(self, db: sqlite3.Connection) -> bool:
        ids = np.fromiter(
            (r[0] for r in db.execute("SELECT id FROM templates ORDER BY id")), np.int64
        )
        return np.array_equal(ids, self._index.live_keys())  # keys are kept sorted

    def _add_rows(self, db: sqlite3.Connection, after: int) -> None:
        while True:
            rows = db.execute(
                "SELECT id, embedding FROM templates WHERE id > ? ORDER BY id LIMIT ?",
                (after, CHUNK),
            ).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], np.int64)
            self._index.add(
                ids, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, self.dim)
            )
            self._unsaved, after = self._unsaved + len(rows), int(ids[-1])

    # -- writes --------------------------------------------------------------------------------
    def add(self, person: str, templates: Sequence[Template]) -> list[str]:
        return self.add_many([(person, templates)])

    def add_many(self, entries: Iterable[tuple[str, Sequence[Template]]]) -> list[str]:
        """Enrol many people in one transaction; returns the ids actually added."""
        batch = [(p, prepare(p, ts, self.dim)) for p, ts in entries]
        with self._writing():
            self._catch_up()
            added, tids = [], []
            with self._txn() as db:
                for person, temps in batch:
                    if not temps:
                        continue
                    found = self._person(db, person)  # an existing case variant takes them
                    pid = found[0] if found else self._insert_person(db, person)
                    for t in temps:
                        cur = db.execute(
                            INSERT_TEMPLATE,
                            (
                                t.template_id,
                                pid,
                                t.embedding.tobytes(),
                                t.quality,
                                json.dumps(t.box) if t.box else None,
                                t.content_hash,
                                t.created_at,
                                json.dumps(t.metadata),
                            ),
                        )
                        if cur.rowcount == 1:  # 0: same (person, hash) or template id already there
                            added.append((cur.lastrowid, t.embedding))
                            tids.append(t.template_id)
            self._apply_add(added)
            return tids

    def _apply_add(self, added: list[tuple[int | None, np.ndarray]]) -> None:
        with self._rw.write():
            if added:
                self._index.add(
                    np.array([a[0] for a in added], np.int64), np.stack([a[1] for a in added])
                )
            self._gen = int(self._meta("generation"))  # safe: the file lock is still held
        self._unsaved += len(added)
        if self._unsaved >= self.autosave:
            self.flush()

    def rename(self, old: str, new: str) -> None:
        with self._writing(), self._txn() as db:
            found = self._person(db, old)
            if found is None:
                raise KeyError(old)
            taken = db.execute(
                "SELECT name FROM people WHERE (key=? OR name=?) AND id<>?",
                (name_key(new), new, found[0]),
            ).fetchone()
            if taken:
                raise ValueError(f"the name {new!r} belongs to {taken[0]!r}")
            db.execute("UPDATE people SET name=?, key=? WHERE id=?", (new, name_key(new), found[0]))
        self.refresh()  # names live only in SQLite: the index just learns the generation

    def remove(self, person: str) -> int:
        """Delete a person with all their templates and vectors; returns templates removed."""
        with self._writing():
            self._catch_up()
            with self._txn() as db:
                found = self._person(db, person)
                if found is None:
                    raise KeyError(person)
                row = (found[0],)
                ids = [r[0] for r in db.execute("SELECT id FROM templates WHERE person_id=?", row)]
                gen = int(self._meta("generation")) + 1  # the generation this transaction commits
                db.executemany("INSERT INTO removed VALUES (?, ?)", [(i, gen) for i in ids])
                db.execute("DELETE FROM templates WHERE person_id=?", row)
                db.execute("DELETE FROM people WHERE id=?", row)
            with self._rw.write():
                self._index.mark_dead(np.array(ids, np.int64))
                self._gen = int(self._meta("generation"))
            if self._index.dead_fraction > 0.3:  # masked-out nodes slow HNSW: rebuild
                self.compact()
            return len(ids)

    def compact(self) -> None:
        """Rebuild the index from SQLite, dropping removed vectors for good."""
        with self._writing():
            with self._rw.write():
                self._index, self._gen = self._new_index(), -1
            self._catch_up()
            self.flush()

    def import_(self, path: str | os.PathLike[str]) -> int:
        return len(self.add_many(read_export_by_person(path, self.embedder)))

    def flush(self) -> None:
        """Save the index so the next open replays nothing."""
        if self.read_only:
            return
        with self._writing(), self._rw.read():
            self._index.save(self.path, self._gen, self._gallery_id)
            self._unsaved = 0

    # -- reads ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """See writes committed by other processes (search does this by itself)."""
        if int(self._meta("generation")) != self._gen:
            self._catch_up()

    def search(self, queries: np.ndarray, k: int = 5, fuse: Fuse = "max") -> list[list[Hit]]:
        q = as_queries(queries, self.dim)
        self.refresh()
        return search_people(q, k, fuse, len(self._index), self._ann, self._embeddings_of)

    def _ann(self, q: np.ndarray, n: int) -> list[list[tuple[str, float, str]]]:
        with self._rw.read():
            ids, sims = self._index.search(q, n)
        wanted = sorted({int(i) for i in ids.ravel() if i >= 0})
        names: dict[int, tuple[str, str]] = {}
        for s in range(0, len(wanted), 30_000):  # SQLite caps the number of bound parameters
            part = wanted[s : s + 30_000]
            names.update(
                (r[0], (r[1], r[2]))
                for r in self._db().execute(
                    "SELECT t.id, p.name, t.template_id FROM templates t"
                    " JOIN people p ON p.id = t.person_id"
                    f" WHERE t.id IN ({','.join('?' * len(part))})",
                    part,
                )
            )
        # ids missing from SQLite were removed by a writer since this search's refresh: skip them
        return [
            [
                (names[i][0], s, names[i][1])
                for i, s in zip(r_ids.tolist(), r_sims.tolist(), strict=True)
                if i in names
            ]
            for r_ids, r_sims in zip(ids, sims, strict=True)
        ]

    def _embeddings_of(self, people: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, list[bytes]] = {}
        rows = self._db().execute(
            "SELECT p.name, t.embedding FROM templates t JOIN people p ON p.id = t.person_id"
            f" WHERE p.name IN ({','.join('?' * len(people))})",
            people,
        )
        for name, emb in rows:
            out.setdefault(name, []).append(emb)
        return {
            n: np.frombuffer(b"".join(e), np.float32).reshape(-1, self.dim) for n, e in out.items()
        }

    def people(self) -> list[PersonSummary]:
        rows = self._db().execute(
            "SELECT p.name, COUNT(t.id) FROM people p LEFT JOIN templates t"
            " ON t.person_id = p.id GROUP BY p.id ORDER BY p.key, p.name"
        )
        return [PersonSummary(n, c) for n, c in rows]

    def templates(self, person: str) -> list[Template]:
        found = self._person(self._db(), person)
        if found is None:
            return []
        rows = self._db().execute(
            f"SELECT {COLS} FROM templates t JOIN people p ON p.id = t.person_id"
            " WHERE p.id=? ORDER BY t.id",
            (found[0],),
        )
        return [_template(r) for r in rows]

    def has_hash(self, content_hash: str, person: str | None = None) -> bool:
        sql, args = "SELECT 1 FROM templates WHERE content_hash=?", [content_hash]
        if person:
            found = self._person(self._db(), person)
            if found is None:
                return False
            sql, args = sql + " AND person_id=?", [content_hash, found[0]]
        return self._db().execute(sql + " LIMIT 1", args).fetchone() is not None

    def count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM templates").fetchone()[0])

    def searched(self) -> int:
        # After refresh the index holds exactly SQLite's templates (_catch_up checks it), and
        # reading its size is free; SELECT COUNT(*) scans the table, ~90 ms at 1M templates.
        self.refresh()
        with self._rw.read():
            return len(self._index)

    def index_keys(self) -> np.ndarray:
        """Template row ids the index can return (for consistency checks)."""
        with self._rw.read():
            return self._index.live_keys().copy()

    def sqlite_keys(self) -> np.ndarray:
        return np.array([r[0] for r in self._db().execute("SELECT id FROM templates")], np.int64)

    def export(self, path: str | os.PathLike[str]) -> int:
        rows = self._db().execute(
            f"SELECT {COLS} FROM templates t JOIN people p ON p.id = t.person_id ORDER BY t.id"
        )
        return write_export(path, self.embedder, (_template(r) for r in rows))

    def close(self) -> None:
        if self._closed:
            return
        if self._unsaved and not self.read_only:
            self.flush()
        self._closed = True
        with self._conns_lock:
            for db in self._conns:
                db.close()
            self._conns.clear()

    def __enter__(self) -> SqliteGalleryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
