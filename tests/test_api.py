"""REST API on real photos and on a corpus of bad inputs (FastAPI's TestClient)."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import struct
import time
import warnings
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from facelens.api import Settings, create_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    gradient = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    Image.fromarray(gradient).save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR claiming 10^10 pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


# ---------- real photos ----------


def test_health_and_readiness(client: TestClient):
    assert client.get("/healthz").json() == {"status": "ok"}
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "models did not load within 60 s"
        time.sleep(0.1)


def test_info_names_the_networks_in_use(tmp_path):
    """/v1/info says which embedder and detector answer, and which embedder the gallery keeps
    (a gallery of another embedder keeps its own)."""
    from facelens.gallery.gallery import Gallery
    from facelens.lens import FaceLens

    Gallery(tmp_path / "g", lens=FaceLens(embedder="dlib")).close()  # an older, dlib gallery
    settings = Settings(gallery_dir=tmp_path / "g", warm_up=False, detector="blazeface")
    with TestClient(create_app(settings)) as served:
        info = served.get("/v1/info").json()
    assert (info["embedder"], info["detector"], info["gallery_embedder"]) == (
        "fused",
        "blazeface",
        "dlib",
    )
    with TestClient(create_app(Settings(warm_up=False))) as plain:
        info = plain.get("/v1/info").json()
    assert (info["embedder"], info["detector"], info["gallery_embedder"]) == (
        "fused",
        "yunet",
        None,
    )


def test_detect_two_people(client: TestClient, photos):
    response = client.post("/v1/detect", files={"image": ("two.jpg", photos["two"])})
    assert response.status_code == 200
    result = response.json()
    assert len(result["faces"]) == 2
    first, second = result["faces"]
    assert first["index"] == 0 and first["embedding"] is None
    area = [
        (f["box"]["x2"] - f["box"]["x1"]) * (f["box"]["y2"] - f["box"]["y1"])
        for f in (first, second)
    ]
    assert area[0] >= area[1]  # largest first
    assert set(first["landmarks"]) == {
        "left_eye",
        "right_eye",
        "nose_tip",
        "mouth_left",
        "mouth_right",
    }


def test_base64_json_gives_the_same_answer_as_multipart(client: TestClient, photos):
    multipart = client.post("/v1/detect", files={"image": photos["obama"]}).json()
    encoded = base64.b64encode(photos["obama"]).decode()
    as_json = client.post("/v1/detect", json={"image": encoded}).json()
    data_url = client.post("/v1/detect", json={"image": f"data:image/jpeg;base64,{encoded}"})
    assert multipart == as_json == data_url.json()


def test_embed_is_unit_length(client: TestClient, photos, default_dimension: int):
    face = client.post("/v1/embed", files={"image": photos["obama"]}).json()["faces"][0]
    vector = np.array(face["embedding"])
    assert vector.shape == (default_dimension,) and abs(np.linalg.norm(vector) - 1) < 1e-3


def test_verify_same_and_different(client: TestClient, photos):
    same = client.post(
        "/v1/verify", files={"image_a": photos["obama"], "image_b": photos["obama2"]}
    ).json()
    other = client.post(
        "/v1/verify", files={"image_a": photos["obama"], "image_b": photos["biden"]}
    ).json()
    assert same["same_person"] is True and other["same_person"] is False
    assert same["similarity"] > same["threshold"] > other["similarity"]
    assert same["face_a"]["box"] and same["operating_point"] == "accuracy"


def test_verify_with_base64_pair(client: TestClient, photos):
    body = {
        k: base64.b64encode(photos[v]).decode()
        for k, v in (("image_a", "obama"), ("image_b", "obama2"))
    }
    assert client.post("/v1/verify", json=body).json()["same_person"] is True


def test_analyze_shape(client: TestClient, photos, default_dimension: int):
    response = client.post("/v1/analyze?embedding=true", files={"image": photos["two"]})
    assert response.status_code == 200
    faces = response.json()["faces"]
    assert len(faces) == 2 and len(faces[0]["embedding"]) == default_dimension
    info = client.get("/v1/info").json()["features"]
    for face in faces:
        assert (face["quality"] is not None) == info["quality"]
        assert (face["gender"] is not None) == info["attributes"]


def test_openapi_documents_the_routes(client: TestClient):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/detect", "/v1/analyze", "/v1/embed", "/v1/verify"):
        assert path in spec["paths"]
    body = spec["paths"]["/v1/verify"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
    assert client.get("/docs").status_code == 200


def test_page_is_served(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200 and "processed locally" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200


# ---------- bad inputs: always a 4xx with a code, never a 500 ----------

TRUNCATE = object()
BAD_UPLOADS = {
    "empty": (("a.jpg", b""), 400, "empty_input"),
    "text": (("a.txt", b"hello, this is not a photo"), 415, "not_an_image"),
    "pdf_named_jpg": (
        ("photo.jpg", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "image/jpeg"),
        415,
        "not_an_image",
    ),
    "truncated_jpeg": (TRUNCATE, 400, "truncated_image"),
    "png_bomb_header": (("bomb.png", png_bomb_header()), 413, "too_large"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
@pytest.mark.parametrize("route", ["/v1/detect", "/v1/embed", "/v1/analyze"])
def test_bad_upload(client: TestClient, photos, case: str, route: str):
    upload, status, code = BAD_UPLOADS[case]
    if upload is TRUNCATE:
        upload = ("cut.jpg", photos["obama"][: len(photos["obama"]) // 2])
    response = client.post(route, files={"image": upload})
    assert response.status_code == status and error_of(response) == code


def test_bad_upload_in_a_pair(client: TestClient, photos):
    response = client.post("/v1/verify", files={"image_a": photos["obama"], "image_b": b"nope"})
    assert response.status_code == 415 and error_of(response) == "not_an_image"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"files": {"photo": b"x"}}, 400, "missing_image"),
        ({"json": {"picture": "aGVsbG8="}}, 400, "missing_image"),
        ({"json": {"image": "this is not base64!"}}, 400, "bad_base64"),
        ({"json": {"image": 12}}, 400, "bad_base64"),
        ({"json": ["a list"]}, 400, "bad_request"),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "bad_request",
        ),
        (
            {"content": b"raw", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({}, 415, "unsupported_media_type"),
    ],
)
def test_malformed_requests(client: TestClient, kwargs, status: int, code: str):
    response = client.post("/v1/detect", **kwargs)
    assert response.status_code == status and error_of(response) == code


def test_no_face(client: TestClient):
    blank = png()
    assert client.post("/v1/detect", files={"image": blank}).json()["faces"] == []
    for route, files in (
        ("/v1/embed", {"image": blank}),
        ("/v1/verify", {"image_a": blank, "image_b": blank}),
    ):
        response = client.post(route, files=files)
        assert response.status_code == 422 and error_of(response) == "no_face"


def test_bad_arguments(client: TestClient, photos):
    pair = {"image_a": photos["obama"], "image_b": photos["obama2"]}
    response = client.post("/v1/verify?operating_point=nonsense", files=pair)
    assert response.status_code == 400 and error_of(response) == "bad_argument"
    response = client.post("/v1/verify?face_a=5", files=pair)
    assert response.status_code == 422 and error_of(response) == "face_index"
    response = client.post("/v1/verify?face_a=-1", files=pair)
    assert response.status_code == 422 and error_of(response) == "bad_request"
    response = client.get("/v1/nowhere")
    assert response.status_code == 404 and error_of(response) == "not_found"


def test_size_limits(photos):
    settings = Settings(max_upload_bytes=50_000, warm_up=False)
    with TestClient(create_app(settings)) as small:
        # Refused from the header alone: nothing is read.
        huge = small.post(
            "/v1/detect",
            content=b"x",
            headers={"content-length": str(10**12), "content-type": "application/json"},
        )
        assert huge.status_code == 413 and error_of(huge) == "too_large"
        # No Content-Length (chunked): counted while reading.
        chunks = (b"0" * 65536 for _ in range(100))
        streamed = small.post(
            "/v1/detect", content=chunks, headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413 and error_of(streamed) == "too_large"
        # Within the body limit, but one image is over the per-image limit.
        big = small.post("/v1/detect", files={"image": photos["obama"]})  # ~ 80 KB
        assert len(photos["obama"]) > 50_000
        assert big.status_code == 413 and error_of(big) == "too_large"
        encoded = base64.b64encode(photos["obama"]).decode()
        assert error_of(small.post("/v1/detect", json={"image": encoded})) == "too_large"
    pixels = Settings(max_pixels=10_000, warm_up=False)
    with TestClient(create_app(pixels)) as few:
        response = few.post("/v1/detect", files={"image": photos["obama"]})
        assert response.status_code == 413 and error_of(response) == "too_large"


def test_hardening_regressions(client: TestClient, photos):
    """The inputs that broke the service before the input budget, each now a clear 4xx."""
    strip = io.BytesIO()
    Image.new("L", (65535, 1)).save(strip, format="PNG")  # ~140 bytes; killed the server
    response = client.post("/v1/detect", files={"image": strip.getvalue()})
    assert response.status_code == 413 and error_of(response) == "too_large"
    assert "65535x1" in response.json()["error"]["message"]
    # A header claiming 400 megapixels: the message names the server's limit, not Pillow's.
    response = client.post("/v1/detect", files={"image": png_bomb_header(20000, 20000)})
    assert response.status_code == 413 and "50,000,000" in response.json()["error"]["message"]
    for body in (b"[" * 100_000 + b"]" * 100_000, b"[" + b"0," * 100_000 + b"0]"):
        response = client.post(
            "/v1/detect", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400 and error_of(response) == "bad_request"


def test_avif_and_tiles_over_rest(client: TestClient, photos):
    avif = io.BytesIO()
    Image.open(io.BytesIO(photos["two"])).save(avif, format="AVIF", quality=90)
    response = client.post("/v1/detect", files={"image": avif.getvalue()})
    assert response.status_code == 200 and len(response.json()["faces"]) == 2
    tiled = client.post("/v1/detect?tiles=2", files={"image": photos["two"]})
    assert tiled.status_code == 200 and len(tiled.json()["faces"]) == 2
    refused = client.post("/v1/detect?tiles=9", files={"image": photos["two"]})
    assert refused.status_code == 422 and "tiles" in refused.json()["error"]["message"]


# ---------- key, CORS, logs, concurrency ----------


def test_api_key(photos):
    with TestClient(create_app(Settings(api_key="s3cret", warm_up=False))) as keyed:
        assert keyed.get("/healthz").status_code == 200
        assert keyed.get("/").status_code == 200  # the page itself asks for the key
        for headers in ({}, {"X-API-Key": "wrong"}):
            response = keyed.post("/v1/detect", files={"image": photos["obama"]}, headers=headers)
            assert response.status_code == 401 and error_of(response) == "unauthorized"
        good = keyed.post(
            "/v1/detect", files={"image": photos["obama"]}, headers={"X-API-Key": "s3cret"}
        )
        assert good.status_code == 200


def test_cors_off_by_default_and_on_by_option(client: TestClient):
    origin = {"Origin": "https://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/v1/info", headers=origin).headers
    settings = Settings(cors_origins=["https://elsewhere.example"], warm_up=False)
    with TestClient(create_app(settings)) as open_client:
        headers = open_client.get("/v1/info", headers=origin).headers
        assert headers["access-control-allow-origin"] == "https://elsewhere.example"


def test_one_structured_log_line_per_request(client: TestClient, photos, caplog):
    with caplog.at_level(logging.INFO, logger="facelens.api"):
        client.post("/v1/embed", files={"image": photos["obama"]})
        client.post("/v1/detect", files={"image": b"junk"})
    lines = [r.fields for r in caplog.records if r.name == "facelens.api" and hasattr(r, "fields")]
    ok, bad = lines[-2:]
    assert ok["operation"] == "embed" and ok["outcome"] == "ok" and ok["faces"] == 1
    width, height = Image.open(io.BytesIO(photos["obama"])).size
    assert ok["images"] == [{"bytes": len(photos["obama"]), "width": width, "height": height}]
    assert ok["duration_ms"] > 0 and ok["status"] == 200
    assert bad["outcome"] == "not_an_image" and bad["status"] == 415
    assert "embedding" not in str(lines)


def test_concurrent_requests_are_served(photos):
    """Slow inference in worker threads must not block other requests or each other."""
    app = create_app(Settings(warm_up=False, workers=4))
    lens = app.state.lens

    class SlowLens:
        def detect(self, rgb, tiles=None):
            time.sleep(0.5)
            return type(lens).detect(lens, rgb, tiles=tiles)

    async def scenario() -> tuple[float, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await http.post("/v1/detect", files={"image": photos["obama"]})  # load the networks
            app.state.lens = SlowLens()
            start = time.perf_counter()
            slow = [http.post("/v1/detect", files={"image": photos["obama"]}) for _ in range(4)]
            tasks = [asyncio.ensure_future(request) for request in slow]
            await asyncio.sleep(0.05)
            health_start = time.perf_counter()
            assert (await http.get("/healthz")).status_code == 200
            health = time.perf_counter() - health_start
            assert all(r.status_code == 200 for r in await asyncio.gather(*tasks))
            return health, time.perf_counter() - start

    health, total = asyncio.run(scenario())
    assert health < 0.4  # answered while the detections were sleeping
    assert total < 1.9  # the four 0.5 s requests overlapped
