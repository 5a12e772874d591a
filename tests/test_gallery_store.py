"""Gallery storage: one suite over both backends, plus SQLite crash/concurrency tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from facelens.gallery import GalleryStore, Template, open_store

DIM = 128
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

try:  # milvus-lite is a required dev dependency: its absence fails, unless explicitly waived
    import milvus_lite  # noqa: F401
    import pymilvus  # noqa: F401

    MILVUS_ERROR = ""
except Exception as exc:
    MILVUS_ERROR = f"{type(exc).__name__}: {exc}"


def e(i: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    return v


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def tpl(v: np.ndarray, h: str, **kw: object) -> Template:
    return Template(embedding=v, content_hash=h, **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "milvus"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., GalleryStore]]:
    """opener(name='g') opens (or reopens) a gallery of the parametrised backend."""
    if request.param == "milvus" and MILVUS_ERROR:
        if os.environ.get("FACELENS_ALLOW_NO_MILVUS") != "1":
            pytest.fail(
                f"milvus-lite unavailable: {MILVUS_ERROR} (set FACELENS_ALLOW_NO_MILVUS=1 to skip)"
            )
        pytest.skip(f"milvus-lite unavailable: {MILVUS_ERROR}")
    opened: list[GalleryStore] = []

    def open_(name: str = "g") -> GalleryStore:
        target = (
            f"milvus:{tmp_path / name}.db" if request.param == "milvus" else str(tmp_path / name)
        )
        opened.append(open_store(target, DIM))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


def enrol_ab(s: GalleryStore) -> dict[str, list[str]]:
    """A: e0 and 0.8 e0 + 0.6 e2; B: e1. Similarities below follow by hand."""
    return {
        "A": s.add(
            "A",
            [
                tpl(e(0), "a1"),
                tpl(0.8 * e(0) + 0.6 * e(2), "a2", box=(1, 2, 3, 4), metadata={"src": "cam1"}),
            ],
        ),
        "B": s.add("B", [tpl(e(1), "b1")]),
    }


def test_add_search_exact(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    assert isinstance(s, GalleryStore)
    assert s.search(np.stack([e(0), e(1)]), k=3) == [[], []] and s.people() == []
    ids = enrol_ab(s)
    (hits,) = s.search(e(0), k=2)
    assert [h.person for h in hits] == ["A", "B"]
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5) and hits[0].template_id == ids["A"][0]
    assert hits[1].similarity == pytest.approx(0.0, abs=1e-5)
    assert s.count() == 3 and [(p.name, p.templates) for p in s.people()] == [("A", 2), ("B", 1)]
    t = {x.content_hash: x for x in s.templates("A")}
    assert (
        t["a2"].box == (1, 2, 3, 4)
        and t["a2"].metadata == {"src": "cam1"}
        and t["a2"].person == "A"
    )
    np.testing.assert_allclose(t["a2"].embedding, 0.8 * e(0) + 0.6 * e(2), atol=1e-6)


def test_fusion_max_vs_mean(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    enrol_ab(s)
    probe = unit(0.6 * e(0) + 0.8 * e(1))  # A: 0.6 and 0.48; B: 0.8
    got = {
        f: [(h.person, h.similarity) for h in s.search(probe, k=2, fuse=f)[0]]
        for f in ("max", "mean")
    }
    assert [p for p, _ in got["max"]] == ["B", "A"] and [p for p, _ in got["mean"]] == ["B", "A"]
    np.testing.assert_allclose([v for _, v in got["max"]], [0.8, 0.6], atol=1e-5)
    np.testing.assert_allclose([v for _, v in got["mean"]], [0.8, 0.54], atol=1e-5)
    (mean_a,) = [h for h in s.search(e(0), k=2, fuse="mean")[0] if h.person == "A"]
    assert mean_a.similarity == pytest.approx(0.9, abs=1e-5)


def test_search_fills_k_people(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    rng = np.random.default_rng(0)
    s.add("crowd", [tpl(unit(e(0) + 0.05 * rng.standard_normal(DIM)), f"c{i}") for i in range(60)])
    for i in range(1, 4):
        s.add(f"p{i}", [tpl(unit(e(0) + i * e(i)), f"p{i}")])  # below all 60 crowd templates
    hits = s.search(e(0), k=4)[0]
    assert [h.person for h in hits] == ["crowd", "p1", "p2", "p3"]


def test_idempotent_readd(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    enrol_ab(s)
    assert s.add("A", [tpl(e(0), "a1")]) == [] and s.count() == 3
    assert s.add("A", [tpl(e(3), "a3"), tpl(e(3), "a3")]) != [] and s.count() == 4  # in-batch dup
    assert s.searched() == 4  # what a search compares with, read without a table scan
    assert len(s.add("B", [tpl(e(0), "a1")])) == 1  # same image, other person: a new template
    assert s.has_hash("a1") and s.has_hash("a1", "B") and not s.has_hash("zz")
    assert s.add("C", [Template(embedding=e(5))]) and s.add("C", [Template(embedding=e(5))]) == []


def test_rename(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    enrol_ab(s)
    s.rename("A", "Alice")
    assert s.search(e(0), k=1)[0][0].person == "Alice"
    assert [p.name for p in s.people()] == ["Alice", "B"] and len(s.templates("Alice")) == 2
    with pytest.raises(ValueError):
        s.rename("Alice", "B")
    with pytest.raises(KeyError):
        s.rename("nobody", "X")


def test_remove_removes_vectors(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    enrol_ab(s)
    assert s.remove("A") == 2
    assert [h.person for h in s.search(e(0), k=5)[0]] == ["B"]
    assert s.count() == 1 and s.templates("A") == [] and not s.has_hash("a1")
    assert s.searched() == 1
    with pytest.raises(KeyError):
        s.remove("A")


def test_export_import_round_trip(opener: Callable[..., GalleryStore], tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    s = opener("src")
    for p in range(20):
        centre = unit(rng.standard_normal(DIM))
        s.add(
            f"p{p}",
            [
                tpl(
                    unit(centre + 0.3 * rng.standard_normal(DIM) / 11),
                    f"{p}-{i}",
                    metadata={"i": i},
                )
                for i in range(3)
            ],
        )
    assert s.export(tmp_path / "gallery.export") == 60
    t = opener("dst")
    assert (
        t.import_(tmp_path / "gallery.export") == 60 and t.import_(tmp_path / "gallery.export") == 0
    )
    probes = np.stack([unit(v) for v in rng.standard_normal((10, DIM))])
    for fuse in ("max", "mean"):
        a, b = s.search(probes, k=5, fuse=fuse), t.search(probes, k=5, fuse=fuse)  # type: ignore[arg-type]
        assert [[(h.person, h.template_id) for h in r] for r in a] == [
            [(h.person, h.template_id) for h in r] for r in b
        ]
        np.testing.assert_allclose(
            [[h.similarity for h in r] for r in a],
            [[h.similarity for h in r] for r in b],
            atol=1e-6,
        )
    assert s.people() == t.people()
    key = lambda x: x.template_id  # noqa: E731
    for name in ("p0", "p7"):
        xs, ys = sorted(s.templates(name), key=key), sorted(t.templates(name), key=key)
        for x, y in zip(xs, ys, strict=True):
            assert (x.template_id, x.content_hash, x.metadata, x.created_at) == (
                y.template_id,
                y.content_hash,
                y.metadata,
                y.created_at,
            )
            np.testing.assert_array_equal(x.embedding, y.embedding)


def test_persistence_across_reopen(opener: Callable[..., GalleryStore]) -> None:
    s = opener()
    ids = enrol_ab(s)
    s.remove("B")
    s.close()
    r = opener()
    assert r.count() == 2 and [h.person for h in r.search(e(0), k=3)[0]] == ["A"]
    assert r.searched() == 2
    assert r.search(e(0), k=1)[0][0].template_id == ids["A"][0]


# ---- SQLite-only: repair, crashes, concurrency --------------------------------------------


def sqlite_consistent(path: Path) -> GalleryStore:
    from facelens.gallery.sqlite_store import SqliteGalleryStore

    s = SqliteGalleryStore(path, DIM)
    assert set(s.index_keys().tolist()) == set(
        s.sqlite_keys().tolist()
    )  # index == SQLite after open
    return s


def vec(i: int) -> np.ndarray:
    """Person i's one template (random direction: exact top-1 for probe vec(i))."""
    return unit(np.random.default_rng(i).standard_normal(DIM))


def enrol_numbered(s: GalleryStore, start: int, n: int) -> None:
    for i in range(start, start + n):
        s.add(f"p{i}", [tpl(vec(i), f"h{i}")])


@pytest.mark.parametrize("storage", ["flat", "fp16", "sq8", "sq6", "sq8-exact"])
def test_faiss_index_tombstones_and_save(tmp_path: Path, storage: str) -> None:
    from facelens.gallery.faiss_index import AnnIndex

    # train_size 1: the quantiser is fitted at the first add; "-exact" stays brute force
    exact = storage.endswith("-exact")
    idx = AnnIndex(DIM, m=8, storage=storage.removesuffix("-exact"), train_size=99 if exact else 1)
    idx.add(np.array([3, 5, 9]), np.stack([e(0), unit(e(0) + e(1)), e(1)]))
    with pytest.raises(ValueError):
        idx.add(np.array([7]), e(2)[None])  # ids must keep increasing
    assert idx.mark_dead(np.array([3, 3, 4])) == 1 and len(idx) == 2
    ids, sims = idx.search(e(0)[None], 3)  # the selector hides 3 inside FAISS itself
    assert ids[0].tolist() == [5, 9, -1] and sims[0][0] == pytest.approx(0.5**0.5, abs=1e-6)
    idx.save(tmp_path, 4, "gid")
    assert AnnIndex.load(tmp_path, "other", DIM, 16) is None
    loaded = AnnIndex.load(tmp_path, "gid", DIM, 16)
    assert loaded is not None and loaded[1] == 4 and loaded[0].live_keys().tolist() == [5, 9]
    assert loaded[0].search(e(0)[None], 3)[0][0].tolist() == [5, 9, -1]
    assert loaded[0].exact == idx.exact == exact and loaded[0].params == idx.params


def test_faiss_index_exact_until_trained() -> None:
    """Brute force below train_size; crossing it builds the graph over all vectors, dead too."""
    from facelens.gallery.faiss_index import AnnIndex

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = AnnIndex(DIM, m=16, storage="sq8", train_size=200)
    idx.add(np.arange(10, 160), x[:150])
    assert idx.exact
    ids, sims = idx.search(x[:5], 150)  # brute force: exactly numpy's ranking
    want = np.argsort(-(x[:5] @ x[:150].T), axis=1)
    assert (ids == want + 10).all()
    assert np.allclose(sims, np.take_along_axis(x[:5] @ x[:150].T, want, axis=1), atol=1e-6)
    idx.mark_dead(np.arange(10, 40))
    idx.add(np.arange(200, 350), x[150:])
    assert not idx.exact and len(idx) == 270 and len(idx.keys) == 300
    ids, sims = idx.search(x, 1)  # every live vector finds itself; similarities re-ranked exactly
    assert ids[30:, 0].tolist() == [*range(40, 160), *range(200, 350)]
    assert np.allclose(sims[30:, 0], 1.0, atol=1e-5)
    assert not np.isin(idx.search(x[:30], 5)[0], np.arange(10, 40)).any()  # dead stay hidden


def test_faiss_single_query_runs_serial_then_restores_threads() -> None:
    import faiss

    from facelens.gallery.faiss_index import AnnIndex

    idx = AnnIndex(DIM, m=8, storage="fp16")
    idx.add(np.arange(1, 4), np.stack([e(0), e(1), e(2)]))
    before = faiss.omp_get_max_threads()
    seen: list[int] = []
    real = idx.graph.search

    def search(*args: object, **kw: object) -> object:
        seen.append(faiss.omp_get_max_threads())
        return real(*args, **kw)

    idx.graph.search = search  # type: ignore[method-assign]
    assert idx.search(e(1)[None], 1)[0].tolist() == [[2]]
    assert idx.search(np.stack([e(0), e(2)]), 1)[0].tolist() == [[1], [3]]
    assert seen == [1, before] and faiss.omp_get_max_threads() == before


def test_old_manifest_loads_then_compact_upgrades(tmp_path: Path) -> None:
    """A gallery saved before `storage` existed (HNSWFlat) still opens; compact rebuilds it
    with the store's storage; a manifest that contradicts its file is rebuilt."""
    import json

    from facelens.gallery.sqlite_store import SqliteGalleryStore

    with SqliteGalleryStore(tmp_path, DIM, storage="flat") as s:
        enrol_numbered(s, 0, 30)
    manifest = json.loads((tmp_path / "index.json").read_text())
    for key in ("storage", "k_factor", "train_size"):
        del manifest[key]
    (tmp_path / "index.json").write_text(json.dumps(manifest))
    with SqliteGalleryStore(tmp_path, DIM, storage="sq8") as s:  # the old index is still used
        assert s._index.storage == "flat" and s.search(vec(7), k=1)[0][0].person == "p7"
        s.compact()
        assert s._index.params["storage"] == "sq8" and s.search(vec(7), k=1)[0][0].person == "p7"
    bad = json.loads((tmp_path / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps({**bad, "storage": "flat"}))  # lies: rebuild
    with SqliteGalleryStore(tmp_path, DIM, storage="sq8") as s:
        assert s._index.storage == "sq8" and s.search(vec(3), k=1)[0][0].person == "p3"


def test_sqlite_rebuilds_deleted_index(tmp_path: Path) -> None:
    s = open_store(tmp_path, DIM)
    enrol_numbered(s, 0, 30)
    s.remove("p3")
    s.close()
    assert (tmp_path / "index.json").exists()
    for f in tmp_path.glob("index*"):
        f.unlink()
    r = sqlite_consistent(tmp_path)
    assert r.count() == 29 and r.search(vec(5), k=1)[0][0].person == "p5"
    assert "p3" not in [h.person for h in r.search(vec(3), k=5)[0]]
    for i in range(12):  # past 30% tombstones remove() compacts: the graph shrinks
        r.remove(f"p{i}" if i != 3 else "p29")
    r.close()
    assert (tmp_path / "index.json").exists()
    c = sqlite_consistent(tmp_path)
    assert c.count() == 17 and len(c._index.keys) < 29  # type: ignore[attr-defined]
    c.close()


CHILD = """
import os, signal, sys, numpy as np
from facelens.gallery.sqlite_store import SqliteGalleryStore
from facelens.gallery.faiss_index import AnnIndex
from facelens.gallery import Template
path, mode = sys.argv[1], sys.argv[2]
s = SqliteGalleryStore(path, 128, autosave=5)  # saves the index often, so kills land mid-save too
if mode == "after-commit":  # die in the window between the SQLite commit and the index update
    real = AnnIndex.add
    def add(self, ids, vecs):
        if s.count() >= 23: os.kill(os.getpid(), signal.SIGKILL)
        real(self, ids, vecs)
    AnnIndex.add = add
rng = np.random.default_rng(0)
for i in range(100000):
    v = rng.standard_normal((2, 128)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    s.add(f"p{i}", [Template(embedding=u, content_hash=f"{i}-{j}") for j, u in enumerate(v)])
    if i % 7 == 3: s.remove(f"p{i - 1}")
    print(i, flush=True)
"""


@pytest.mark.parametrize("mode", ["random", "after-commit"])
def test_sqlite_sigkill_mid_enrolment_is_repaired(tmp_path: Path, mode: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), mode],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if mode == "random":
        for line in child.stdout:  # let it get well into the loop, then kill -9
            if int(line) >= 40:
                child.send_signal(signal.SIGKILL)
                break
    assert child.wait(timeout=60) == -signal.SIGKILL
    if mode == "after-commit":  # the saved index really is behind SQLite: open must repair it
        from facelens.gallery.faiss_index import AnnIndex
        from facelens.gallery.sqlite_store import SqliteGalleryStore

        with SqliteGalleryStore(tmp_path, DIM, read_only=True) as peek:
            gid, in_db = peek._gallery_id, set(peek.sqlite_keys().tolist())
        stale = AnnIndex.load(tmp_path, gid, DIM, 64)
        assert stale is not None and set(stale[0].live_keys().tolist()) != in_db
    s = sqlite_consistent(tmp_path)
    assert s.count() > 20
    for t in s.templates(s.people()[-1].name):  # every surviving template is findable
        assert s.search(t.embedding, k=1)[0][0].template_id == t.template_id
    s.close()


READER = """
import sys, time, numpy as np
from facelens.gallery.sqlite_store import SqliteGalleryStore
s = SqliteGalleryStore(sys.argv[1], 128, read_only=True)
probe = np.random.default_rng(int(sys.argv[2])).standard_normal(128).astype(np.float32)
print("ready", flush=True)
deadline, searches, counts = time.time() + 40, 0, set()
while time.time() < deadline:  # each search refreshes: the writer's last person must show up
    hits = s.search(probe, k=3)[0]
    searches, counts = searches + 1, counts | {s.count()}
    if any(h.person == sys.argv[3] for h in hits):
        print("seen", searches, len(counts)); sys.exit(0)
sys.exit(1)
"""


def test_sqlite_concurrent_readers_and_writer(tmp_path: Path) -> None:
    s = open_store(tmp_path, DIM)
    enrol_numbered(s, 0, 50)
    n_new = 150
    last = 50 + n_new - 1
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path), str(last), f"p{last}"],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"  # overlap for real
    errors: list[BaseException] = []
    searches = [0] * 4
    done = threading.Event()

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not done.is_set():
                hits = s.search(np.stack([vec(i) for i in rng.integers(0, 50, 3)]), k=3)
                assert all(len(h) == 3 for h in hits)
                searches[seed] += 1
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        try:
            enrol_numbered(s, 50, n_new)
            s.remove("p7")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    w = threading.Thread(target=writer)
    for t in [*threads, w]:
        t.start()
    w.join(timeout=60)
    time.sleep(0.2)
    done.set()
    for t in threads:
        t.join(timeout=10)
    out, _ = proc.communicate(timeout=60)
    assert not errors, errors
    assert min(searches) > 0, searches
    # the reader process searched while the gallery grew, and saw the last person enrolled
    assert proc.returncode == 0 and out.startswith("seen"), out
    assert int(out.split()[1]) > 1 and int(out.split()[2]) > 1, out
    assert s.count() == 50 + n_new - 1 and s.search(vec(last), k=1)[0][0].person == f"p{last}"
    s.close()
    checked = sqlite_consistent(tmp_path)
    assert checked.searched() == checked.count() == 50 + n_new - 1
    checked.close()
