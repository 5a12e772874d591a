"""Gallery endpoints: enrol, search, list, rename and remove, on real photos; names."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image
from samples import reencoded

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from facelens.api import Settings, create_app
from facelens.gallery import Template, open_store


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(gallery_dir=tmp_path_factory.mktemp("gallery"), warm_up=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def code_of(response) -> str:
    return response.json()["error"]["code"]


def test_enrol_search_list_remove(client: TestClient, photos):
    enrolled = client.post(
        "/v1/gallery/people", data={"name": "Barack Obama"}, files={"image": photos["obama"]}
    )
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["images"][0]["status"] == "enrolled"
    again = client.post("/v1/gallery/people?name=Barack Obama", files={"image": photos["obama"]})
    assert again.json()["images"][0]["status"] == "duplicate"
    biden = client.post("/v1/gallery/people?name=Joe Biden", files={"image": photos["biden"]})
    assert biden.status_code == 200

    people = client.get("/v1/gallery/people").json()
    assert people == [
        {"name": "Barack Obama", "templates": 1},
        {"name": "Joe Biden", "templates": 1},
    ]

    found = client.post("/v1/gallery/search", files={"image": photos["obama2"]}).json()
    assert found["identity"] == "Barack Obama"
    assert found["matches"][0]["person"] == "Barack Obama"
    assert found["matches"][0]["similarity"] > found["threshold"]
    mean = client.post("/v1/gallery/search?fuse=mean", files={"image": photos["obama2"]})
    assert mean.json()["identity"] == "Barack Obama"  # one template: mean = max
    assert mean.json()["matches"][0]["similarity"] == found["matches"][0]["similarity"]
    bad = client.post("/v1/gallery/search?fuse=median", files={"image": photos["obama2"]})
    assert bad.status_code == 422 and code_of(bad) == "bad_request"

    removed = client.delete("/v1/gallery/people/Joe Biden")
    assert removed.json() == {"person": "Joe Biden", "removed": 1}
    missing = client.delete("/v1/gallery/people/Joe Biden")
    assert missing.status_code == 404 and code_of(missing) == "not_found"
    assert [p["name"] for p in client.get("/v1/gallery/people").json()] == ["Barack Obama"]


def test_enrol_bad_input(client: TestClient, photos):
    no_name = client.post("/v1/gallery/people", files={"image": photos["obama"]})
    assert no_name.status_code == 400 and code_of(no_name) == "bad_argument"
    junk = client.post("/v1/gallery/people?name=X", files={"image": b"not an image"})
    assert junk.status_code == 415 and code_of(junk) == "not_an_image"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 200)).save(buffer, format="PNG")
    no_face = client.post("/v1/gallery/people?name=X", files={"image": buffer.getvalue()})
    assert no_face.status_code == 422 and code_of(no_face) == "no_face"
    search = client.post("/v1/gallery/search", files={"image": buffer.getvalue()})
    assert search.status_code == 422 and code_of(search) == "no_face"


def test_gallery_off_without_a_directory(photos):
    with TestClient(create_app(Settings(warm_up=False))) as plain:
        response = plain.get("/v1/gallery/people")
        assert response.status_code == 404 and code_of(response) == "gallery_disabled"


def overexposed(photo: bytes) -> bytes:
    """The photo four times brighter: washed out, which quality refuses (at five times
    YuNet no longer finds the face at all)."""
    rgb = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"), dtype=np.int32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb * 4, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_face_refused_for_quality(client: TestClient, photos):
    bad = overexposed(photos["obama"])
    quality = client.post("/v1/quality", files={"image": bad}).json()["faces"][0]["quality"]
    assert quality["verdict"] == "retake", quality  # 4× over-exposure is a severe degradation
    enrol = client.post("/v1/gallery/people?name=Washed Out", files={"image": bad})
    assert enrol.status_code == 422 and code_of(enrol) == "retake"
    assert "Washed Out" not in {p["name"] for p in client.get("/v1/gallery/people").json()}
    verify = client.post("/v1/verify", files={"image_a": photos["obama2"], "image_b": bad}).json()
    assert verify["status"] == "retake" and verify["same_person"] is None and verify["reasons"]
    search = client.post("/v1/gallery/search", files={"image": bad}).json()
    assert search["status"] == "retake" and search["identity"] is None


# ---- names: any stored name reachable without a path segment, the policy on new names ----


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("names")
    with TestClient(create_app(Settings(gallery_dir=folder, warm_up=False))) as test_client:
        yield test_client, folder


def names_of(client: TestClient) -> list[str]:
    return [p["name"] for p in client.get("/v1/gallery/people").json()]


def test_any_name_is_removable(named, photos, default_dimension: int):
    client, folder = named
    path_like = ["a/b", "/", ".", "..", "../../etc/passwd", "%2F", "a?b#c&name=x"]
    for i, name in enumerate(path_like):
        sent = {"params": {"name": name}} if i % 2 else {"data": {"name": name}}
        photo = reencoded(photos["obama"], i)  # one copy per name: one photo, one identity
        enrolled = client.post("/v1/gallery/people", files={"image": photo}, **sent)
        assert enrolled.status_code == 200 and enrolled.json()["person"] == name
    # names stored before the policy: written through the store, which does not check
    store, rng = open_store(folder, default_dimension), np.random.default_rng(0)
    legacy = ["a\x00b", "line\nbreak", "\u202eevil", "zero\u200bwidth", "[/x]"]
    for i, name in enumerate(legacy):
        v = rng.standard_normal(default_dimension).astype(np.float32)
        store.add(name, [Template(embedding=v / np.linalg.norm(v), content_hash=f"old{i}")])
    store.close()
    assert sorted(names_of(client)) == sorted(path_like + legacy)
    old_route = client.delete("/v1/gallery/people/a%2Fb")  # the deprecated form, still working
    assert old_route.json() == {"person": "a/b", "removed": 1}
    for name in path_like[1:] + legacy:
        removed = client.delete("/v1/gallery/people", params={"name": name})
        assert removed.status_code == 200, (name, removed.text)
        assert removed.json() == {"person": name, "removed": 1}
    assert names_of(client) == []
    missing = client.delete("/v1/gallery/people", params={"name": "a/b"})
    assert missing.status_code == 404 and code_of(missing) == "not_found"


@pytest.mark.parametrize(
    ("name", "named_in_message"),
    [
        ("Jo\x00e", "U+0000"),
        ("Jo\ne", "U+000A"),
        ("Jo\te", "U+0009"),
        ("Jo\u202ee", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("Jo\u200be", "U+200B ZERO WIDTH SPACE"),
        ("Jo\ufeffe", "U+FEFF"),
        ("x" * 129, "at most 128"),
        ("   ", "empty"),
    ],
)
def test_bad_names_are_refused(named, photos, name: str, named_in_message: str):
    client, _ = named
    for sent in ({"params": {"name": name}}, {"data": {"name": name}}):
        answer = client.post("/v1/gallery/people", files={"image": photos["biden"]}, **sent)
        assert answer.status_code == 400 and code_of(answer) == "bad_name", answer.text
        assert named_in_message in answer.json()["error"]["message"]
    assert names_of(client) == []


def test_one_photo_is_not_enrolled_for_two_people(named, photos):
    client, _ = named
    first = client.post("/v1/gallery/people?name=Joe", files={"image": photos["biden"]})
    assert first.json()["images"][0]["status"] == "enrolled"
    second = client.post("/v1/gallery/people?name=Joseph", files={"image": photos["biden"]})
    assert second.status_code == 409 and code_of(second) == "photo_taken", second.text
    assert names_of(client) == ["Joe"]  # nothing stored for the second name
    assert client.delete("/v1/gallery/people", params={"name": "Joe"}).json()["removed"] == 1


def test_one_person_per_name_in_any_case_and_rename(named, photos):
    client, _ = named
    nfd, nfc = "Zoe\u0308", "Zo\u00eb"
    client.post("/v1/gallery/people?name=Barack Obama", files={"image": photos["obama"]})
    again = client.post("/v1/gallery/people?name=barack OBAMA", files={"image": photos["obama2"]})
    assert again.json()["person"] == "Barack Obama"
    zoe = client.post("/v1/gallery/people", params={"name": nfd}, files={"image": photos["biden"]})
    assert zoe.json()["person"] == nfc
    people = client.get("/v1/gallery/people").json()
    assert people == [{"name": "Barack Obama", "templates": 2}, {"name": nfc, "templates": 1}]

    def rename(old: str, new: str):
        return client.post("/v1/gallery/people/rename", json={"name": old, "new_name": new})

    renamed = rename("BARACK OBAMA", "  Obama ")
    assert renamed.status_code == 200 and renamed.json() == {
        "name": "BARACK OBAMA",
        "new_name": "Obama",
    }
    taken = rename("obama", nfc.upper())
    assert taken.status_code == 409 and code_of(taken) == "name_taken"
    bad = rename("obama", "Oba\u202ema")
    assert bad.status_code == 400 and code_of(bad) == "bad_name"
    unknown = rename("nobody", "x")
    assert unknown.status_code == 404 and code_of(unknown) == "not_found"
    incomplete = client.post("/v1/gallery/people/rename", json={"name": "obama"})
    assert incomplete.status_code == 422 and code_of(incomplete) == "bad_request"
    assert names_of(client) == ["Obama", nfc]
    assert (
        client.post("/v1/gallery/search", files={"image": photos["obama2"]}).json()["identity"]
        == "Obama"
    )
    # the old path form still works where a path can carry the name, in any case
    old_route = client.delete("/v1/gallery/people/ZO%C3%8B")
    assert old_route.json() == {"person": "ZOË", "removed": 1}
    assert client.delete("/v1/gallery/people?name=OBAMA").json()["removed"] == 2
    assert names_of(client) == []
