"""Gallery endpoints: enrol, search, list and remove, on real photos."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from facelens.api import Settings, create_app


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
    """The photo five times brighter: washed out, which quality refuses."""
    rgb = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"), dtype=np.int32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb * 5, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_face_refused_for_quality(client: TestClient, photos):
    bad = overexposed(photos["obama"])
    quality = client.post("/v1/quality", files={"image": bad}).json()["faces"][0]["quality"]
    assert quality["verdict"] == "retake", quality  # 5× over-exposure is a severe degradation
    enrol = client.post("/v1/gallery/people?name=Washed Out", files={"image": bad})
    assert enrol.status_code == 422 and code_of(enrol) == "retake"
    assert "Washed Out" not in {p["name"] for p in client.get("/v1/gallery/people").json()}
    verify = client.post("/v1/verify", files={"image_a": photos["obama2"], "image_b": bad}).json()
    assert verify["status"] == "retake" and verify["same_person"] is None and verify["reasons"]
    search = client.post("/v1/gallery/search", files={"image": bad}).json()
    assert search["status"] == "retake" and search["identity"] is None
