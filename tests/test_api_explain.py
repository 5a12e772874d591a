"""Explanation and quality endpoints: heat maps the page can draw over the photos."""

from __future__ import annotations

import base64
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
def client():
    with TestClient(create_app(Settings(warm_up=False))) as test_client:
        yield test_client


def check_overlay(overlay: dict, photo: bytes) -> np.ndarray:
    """The PNG decodes to RGBA, lies inside the photo, and is not fully transparent."""
    width, height = Image.open(io.BytesIO(photo)).size
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(overlay["png"]))))
    assert rgba.ndim == 3 and rgba.shape[2] == 4
    box = overlay["box"]
    assert 0 <= box["x1"] < box["x2"] <= width and 0 <= box["y1"] < box["y2"] <= height
    assert rgba[..., 3].max() > 0
    return rgba


@pytest.mark.parametrize("method", ["gradcam", "occlusion"])
def test_explain_one_face(client: TestClient, photos, method: str):
    response = client.post(
        f"/v1/explain?method={method}&target=gender", files={"image": photos["obama"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["explanation"]["target"].startswith("gender")
    check_overlay(body["overlay"], photos["obama"])


def test_explain_pair_similar_and_dissimilar(client: TestClient, photos):
    files = {"image_a": photos["obama"], "image_b": photos["biden"]}
    response = client.post("/v1/explain/pair", files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["explanation"]["same_person"] is False
    served = client.get("/v1/info").json()["embedder"]  # the service's recogniser is explained
    assert body["explanation"]["embedder"] == served
    assert body["overlay_a"]["signed"] and body["overlay_b"]["signed"]
    check_overlay(body["overlay_a"], photos["obama"])
    check_overlay(body["overlay_b"], photos["biden"])


def test_explain_pair_corrrise_fill_is_checked(client: TestClient, photos):
    files = {"image_a": photos["obama"], "image_b": photos["biden"]}
    url = "/v1/explain/pair?method=corrrise&masks=50&faithfulness=false"
    response = client.post(url + "&fill=other_face", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["explanation"]["a"]["method"] == "corrrise"
    response = client.post(url + "&fill=paint", files=files)
    assert response.status_code == 422 and response.json()["error"]["code"] == "bad_request"


def test_explain_pair_transplant(client: TestClient, photos):
    """The transplant pair method over REST: both maps, each the other face's patches."""
    files = {"image_a": photos["obama"], "image_b": photos["biden"]}
    response = client.post("/v1/explain/pair?method=transplant&faithfulness=false", files=files)
    assert response.status_code == 200, response.text
    body = response.json()["explanation"]
    assert body["a"]["method"] == body["b"]["method"] == "transplant"
    assert body["b"]["crop_summary"]["min"] < 0  # somewhere Obama's look raises the score


def test_explain_bad_input(client: TestClient, photos):
    blank = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 200, 200)).save(blank, format="PNG")
    response = client.post("/v1/explain", files={"image": blank.getvalue()})
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_face"
    response = client.post("/v1/explain?target=shoe_size", files={"image": photos["obama"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "bad_request"
    response = client.post("/v1/explain?face=3", files={"image": photos["obama"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "face_index"


def test_quality_with_heat_map(client: TestClient, photos, default_dimension: int):
    response = client.post(
        "/v1/quality?heatmap=true&embedding=true", files={"image": photos["obama"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    quality = body["faces"][0]["quality"]
    assert 0 <= quality["score"] <= 1 and quality["band"] in ("green", "yellow", "orange", "red")
    assert quality["verdict"] in ("ok", "low", "retake") and quality["components"]
    assert len(body["faces"][0]["embedding"]) == default_dimension
    assert len(body["heatmaps"]) == len(body["faces"])
    assert body["heatmaps"][0]["signed"]
    Image.open(io.BytesIO(base64.b64decode(body["heatmaps"][0]["png"]))).verify()
