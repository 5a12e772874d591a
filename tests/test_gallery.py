"""The Gallery facade on real photos: enrol, identify, open-set unknown, gating, persistence."""

from __future__ import annotations

import shutil

import pytest

from facelens.errors import FaceLensError
from facelens.gallery.gallery import Gallery


@pytest.fixture(scope="module")
def knn(data_dir):
    return data_dir / "face_recognition/examples/knn_examples"


@pytest.fixture
def gallery(tmp_path, knn):
    folder = tmp_path / "people"
    for person in ("obama", "biden", "alex_lacamoire"):
        shutil.copytree(knn / "train" / person, folder / person)
    g = Gallery(tmp_path / "gallery")
    g.enroll_dir(folder)
    yield g
    g.close()


def test_enrolled_people_are_found(gallery, knn):
    names = {p.name: p.templates for p in gallery.people()}
    assert set(names) == {"obama", "biden", "alex_lacamoire"}
    assert all(count >= 1 for count in names.values())
    result = gallery.search(knn / "test/obama1.jpg", k=3)
    assert result.identity == "obama"
    assert result.matches[0].person == "obama"
    assert result.matches[0].similarity > result.threshold
    assert gallery.search(knn / "test/alex_lacamoire1.jpg").identity == "alex_lacamoire"


def test_stranger_is_unknown(gallery, knn):
    result = gallery.search(knn / "test/johnsnow_test1.jpg")
    assert result.identity is None
    assert result.matches and result.matches[0].similarity <= result.threshold


def test_re_enrolment_is_idempotent(gallery, knn):
    photo = next((knn / "train/obama").iterdir())
    before = {p.name: p.templates for p in gallery.people()}["obama"]
    item = gallery.enroll("obama", [photo]).images[0]
    assert item.status == "duplicate"
    assert {p.name: p.templates for p in gallery.people()}["obama"] == before


def test_no_face_and_resume(tmp_path, knn, data_dir):
    folder = tmp_path / "people" / "nobody"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "inspireface/test_res/crop/no_face.png", folder / "a.png")
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    g = Gallery(tmp_path / "g")
    statuses = [i.status for e in g.enroll_dir(tmp_path / "people") for i in e.images]
    assert statuses == ["no_face", "no_face"]
    assert g.people() == []
    g.close()


def test_remove_and_persistence(gallery, tmp_path, knn):
    assert gallery.remove("biden") >= 1
    with pytest.raises(FaceLensError):
        gallery.remove("biden")
    gallery.close()
    reopened = Gallery(tmp_path / "gallery")
    assert {p.name for p in reopened.people()} == {"obama", "alex_lacamoire"}
    assert reopened.search(knn / "test/obama1.jpg").identity == "obama"
    reopened.close()


def test_home_relative_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    Gallery("~/faces").close()
    assert (tmp_path / "faces").is_dir() and not (tmp_path / "~").exists()


def test_fusion_max_and_mean(gallery, knn):
    """A person's score is their best template (max) or the templates' mean cosine."""
    from facelens.lens import FaceLens

    obama = sorted((knn / "train/obama").iterdir())
    assert {p.name: p.templates for p in gallery.people()}["obama"] == len(obama) >= 2
    probe = knn / "test/obama1.jpg"
    lens = FaceLens()
    cosines = [lens.verify(probe, photo).similarity for photo in obama]
    best = gallery.search(probe, k=3, fuse="max").matches[0]
    mean = gallery.search(probe, k=3, fuse="mean").matches[0]
    assert best.person == mean.person == "obama"
    assert best.similarity == pytest.approx(max(cosines), abs=1e-3)
    assert mean.similarity == pytest.approx(sum(cosines) / len(cosines), abs=1e-3)
    with pytest.raises(FaceLensError) as error:
        gallery.search(probe, fuse="median")  # type: ignore[arg-type]
    assert error.value.code.value == "bad_argument"
