"""Each gallery records the embedder of its templates: new galleries and exports carry the
record, galleries and exports from before records read as dlib (and galleries get the record
written), a Gallery opened without a lens takes the embedder its record names, and another
embedder's gallery or export is refused with `embedder_mismatch`."""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusClient
from test_gallery_store import DIM, e, tpl

from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery import GalleryStore, open_store
from facelens.gallery.gallery import Gallery
from facelens.gallery.milvus_store import RECORD
from facelens.gallery.record import LEGACY_EMBEDDER, EmbedderRecord, record_of
from facelens.lens import FaceLens
from facelens.recognition.dlib import DlibEmbedder
from facelens.recognition.registry import get_embedder

SFACE = EmbedderRecord("sface", "face_recognition_sface_2021dec", 128)


class Backend:
    """Opens a gallery of one backend and reads or writes its record behind the store."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind, self.root = kind, root

    def target(self, name: str = "g") -> str:
        return str(self.root / name) if self.kind == "sqlite" else f"milvus:{self.root / name}.db"

    def raw_record(self, name: str = "g") -> str | None:
        if self.kind == "sqlite":
            with sqlite3.connect(self.root / name / "gallery.sqlite") as db:
                row = db.execute("SELECT value FROM meta WHERE key='embedder'").fetchone()
            return row[0] if row else None
        client = MilvusClient(uri=f"{self.root / name}.db")
        try:
            return client.describe_collection("facelens_gallery")["properties"].get(RECORD)
        finally:
            client.close()

    def write_record(self, record: EmbedderRecord | None, name: str = "g") -> None:
        """Replace (None: delete, as in a gallery from before records) the stored record."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.root / name / "gallery.sqlite") as db:
                db.execute("DELETE FROM meta WHERE key='embedder'")
                if record:
                    db.execute("INSERT INTO meta VALUES ('embedder', ?)", (record.to_json(),))
            return
        client = MilvusClient(uri=f"{self.root / name}.db")
        try:
            if record:
                client.alter_collection_properties(
                    "facelens_gallery", properties={RECORD: record.to_json()}
                )
            else:
                client.drop_collection_properties("facelens_gallery", property_keys=[RECORD])
        finally:
            client.close()


@pytest.fixture(params=["sqlite", "milvus"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend(request.param, tmp_path)


def mismatch(call: Callable[[], object]) -> str:
    with pytest.raises(FaceLensError) as caught:
        call()
    assert caught.value.code == ErrorCode.EMBEDDER_MISMATCH
    return caught.value.message


def test_dlib_record_is_the_dlib_embedder() -> None:
    assert (DlibEmbedder.name, DlibEmbedder.version, DlibEmbedder.dimension) == (
        LEGACY_EMBEDDER.name,
        LEGACY_EMBEDDER.version,
        LEGACY_EMBEDDER.dimension,
    )


def test_a_new_gallery_records_its_embedder(backend: Backend) -> None:
    store = open_store(backend.target(), DIM, embedder=SFACE)
    store.add("A", [tpl(e(0), "a")])
    assert store.embedder == store.stored_embedder() == SFACE
    store.close()
    assert EmbedderRecord.from_json(backend.raw_record() or "") == SFACE
    again: GalleryStore = open_store(backend.target(), DIM)  # no embedder: any record opens
    assert again.embedder == SFACE and again.count() == 1
    again.close()
    message = mismatch(lambda: open_store(backend.target(), DIM, embedder=LEGACY_EMBEDDER))
    assert "sface" in message and "dlib" in message and "re-enrol" in message


def test_a_gallery_without_record_opens_as_dlib_and_gets_it(backend: Backend) -> None:
    store = open_store(backend.target(), DIM)
    store.add("A", [tpl(e(0), "a"), tpl(e(1), "b")])
    store.add("B", [tpl(e(2), "c")])
    store.close()
    backend.write_record(None)
    assert backend.raw_record() is None
    legacy = open_store(backend.target(), DIM, embedder=LEGACY_EMBEDDER)
    assert legacy.embedder == LEGACY_EMBEDDER
    assert [(p.name, p.templates) for p in legacy.people()] == [("A", 2), ("B", 1)]
    assert legacy.search(e(2), k=1)[0][0].person == "B"
    legacy.close()
    assert EmbedderRecord.from_json(backend.raw_record() or "") == LEGACY_EMBEDDER
    # ...and so does one without record opened by the Gallery (a dlib lens)
    backend.write_record(None)
    g = Gallery(backend.target())
    assert g.store.embedder == g.embedder == LEGACY_EMBEDDER and g.store.count() == 3
    g.close()
    assert EmbedderRecord.from_json(backend.raw_record() or "") == LEGACY_EMBEDDER


def test_a_gallery_opens_with_the_embedder_it_records(
    backend: Backend, photos: dict[str, bytes]
) -> None:
    assert SFACE == record_of(get_embedder("sface"))
    for name in ("sface", "dlib", "fused"):
        target = backend.target(name)
        g = Gallery(target, lens=FaceLens(embedder=name))
        assert g.enroll("Obama", [photos["obama"]]).images[0].status == "enrolled"
        g.close()
        again = Gallery(target)  # no lens: the recorded embedder, whatever the default
        assert again.lens.embedder_name == name
        assert again.store.embedder == record_of(get_embedder(name))
        found = again.search(photos["obama2"])
        assert found.identity == "Obama", found
        assert again.search(photos["biden"]).identity is None
        again.close()


def test_flip_fused_templates_are_recorded_apart_from_plain_ones(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    """FaceLens(flip=True) makes other vectors (and has other thresholds) than the plain
    lens of the same network: the two never share a gallery, and a flip-fused gallery opened
    without a lens gets a flip-fused lens."""
    plain, mirrored = FaceLens(embedder="dlib"), FaceLens(embedder="dlib", flip=True)
    g = Gallery(tmp_path / "flip", lens=mirrored)
    assert g.enroll("Obama", [photos["obama"]]).images[0].status == "enrolled"
    g.close()
    assert g.embedder.flip and not record_of(get_embedder("dlib")).flip
    assert g.embedder.version == f"{DlibEmbedder.version}, flip-fused"
    message = mismatch(lambda: Gallery(tmp_path / "flip", lens=plain))
    assert "flip-fused" in message
    again = Gallery(tmp_path / "flip")
    assert again.lens.flip and again.lens.embedder_name == "dlib"
    assert again.search(photos["obama2"]).identity == "Obama"
    again.close()
    g = Gallery(tmp_path / "plain", lens=plain)
    assert g.enroll("Obama", [photos["obama"]]).images[0].status == "enrolled"
    g.close()
    mismatch(lambda: Gallery(tmp_path / "plain", lens=mirrored))
    again = Gallery(tmp_path / "plain")
    assert not again.lens.flip
    again.close()


def test_gallery_of_another_embedder_is_refused(backend: Backend, photos: dict[str, bytes]) -> None:
    store = open_store(backend.target(), DIM, embedder=SFACE)
    store.add("A", [tpl(e(0), "a")])
    store.close()
    message = mismatch(lambda: Gallery(backend.target(), lens=FaceLens(embedder="dlib")))
    assert str(SFACE) in message and str(LEGACY_EMBEDDER) in message

    # a gallery opened as dlib whose record then changes (another process) refuses to search
    g = Gallery(backend.target("g2"), lens=FaceLens(embedder="dlib"))
    assert g.enroll("Obama", [photos["obama"]]).images[0].status == "enrolled"
    assert g.search(photos["obama2"]).identity == "Obama"
    if backend.kind == "milvus":  # milvus-lite is one process: let the writer in
        g.close()
        backend.write_record(SFACE, "g2")
        g.store = open_store(backend.target("g2"), DIM)
    else:
        backend.write_record(SFACE, "g2")
    mismatch(lambda: g.search(photos["obama2"]))
    mismatch(lambda: g.enroll("Biden", [photos["biden"]]))
    assert g.store.count() == 1
    g.close()


def strip_record(source: Path, target: Path) -> None:
    """An export as written before records: the same file without its `embedder` array."""
    with np.load(source, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "embedder"}
    with target.open("wb") as f:
        np.savez(f, **arrays)


def test_exports_carry_the_record_and_import_refuses_another(
    backend: Backend, tmp_path: Path
) -> None:
    other = open_store(backend.target("other"), DIM, embedder=SFACE)
    other.add("A", [tpl(e(0), "a")])
    assert other.export(tmp_path / "sface.npz") == 1
    other.close()
    with np.load(tmp_path / "sface.npz", allow_pickle=False) as z:
        assert json.loads(str(z["embedder"]))["name"] == "sface"

    g = Gallery(backend.target(), lens=FaceLens(embedder="dlib"))
    message = mismatch(lambda: g.import_(tmp_path / "sface.npz"))
    assert "sface" in message and "cannot be re-embedded" in message
    assert g.store.count() == 0
    mismatch(lambda: g.store.import_(tmp_path / "sface.npz"))  # the store checks too

    strip_record(tmp_path / "sface.npz", tmp_path / "old.npz")  # no record: dlib's
    assert g.import_(tmp_path / "old.npz") == 1
    assert [(p.name, p.templates) for p in g.people()] == [("A", 1)]
    g.export(tmp_path / "dlib.npz")
    with np.load(tmp_path / "dlib.npz", allow_pickle=False) as z:
        assert EmbedderRecord.from_json(str(z["embedder"])) == LEGACY_EMBEDDER
    g.close()


def test_cli_and_rest_name_the_mismatch(tmp_path: Path, photos: dict[str, bytes]) -> None:
    with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from facelens.api import Settings, create_app
    from facelens.cli import app

    sqlite = Backend("sqlite", tmp_path)
    settings = Settings(gallery_dir=tmp_path / "g", warm_up=False)
    with TestClient(create_app(settings)) as client:
        enrolled = client.post("/v1/gallery/people?name=Obama", files={"image": photos["obama"]})
        assert enrolled.status_code == 200
        sqlite.write_record(SFACE)  # as another process could
        found = client.post("/v1/gallery/search", files={"image": photos["obama2"]})
        assert found.status_code == 409
        assert found.json()["error"]["code"] == "embedder_mismatch"

    # a record no shipped embedder matches (an older SFace conversion) cannot be searched
    sqlite.write_record(EmbedderRecord("sface", "older", 128))
    out = CliRunner().invoke(app, ["gallery", "list", "--gallery", str(tmp_path / "g"), "--json"])
    assert out.exit_code == 2
    assert json.loads(out.stdout)["error"]["code"] == "embedder_mismatch"
