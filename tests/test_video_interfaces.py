"""`facelens video` and POST /v1/video on a made-up clip, the stage clip and bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner
from video_clips import background, face_tile, scene, write_clip

from facelens.api import Settings, create_app
from facelens.cli import app

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

runner = CliRunner()
FRAMES = 6


@pytest.fixture(scope="module")
def one_face_clip(tmp_path_factory, data_dir: Path) -> Path:
    """One LFW face moving right 8 px a frame over a still background."""
    face = face_tile(data_dir / "lfw" / "images" / "Tony_Blair" / "Tony_Blair_0018.jpg")
    frames = [scene(background(3), [(face, 40 + 8 * i, 70)]) for i in range(FRAMES)]
    return write_clip(tmp_path_factory.mktemp("clip") / "one.mp4", frames)


@pytest.fixture(scope="module")
def client():
    settings = Settings(warm_up=False, max_video_frames=100)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_cli_json_lines(one_face_clip: Path):
    out = runner.invoke(app, ["video", str(one_face_clip), "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    frames, summary = [x["frame"] for x in lines[:-1]], lines[-1]["summary"]
    assert [f["index"] for f in frames] == list(range(FRAMES))
    assert {face["track_id"] for f in frames for face in f["faces"]} == {1}
    xs = [f["faces"][0]["box"]["x1"] for f in frames]
    assert (xs[-1] - xs[0]) / (FRAMES - 1) == pytest.approx(8, abs=1)  # moved 8 px a frame
    assert [t["track_id"] for t in summary["tracks"]] == [1]
    assert summary["tracks"][0]["end"] == "end" and summary["frames_read"] == FRAMES


def test_cli_annotated_copy_and_table(one_face_clip: Path, tmp_path: Path):
    out_file = tmp_path / "annotated.mp4"
    out = runner.invoke(app, ["video", str(one_face_clip), "--out", str(out_file), "--every", "2"])
    assert out.exit_code == 0, out.output
    assert "6 frames read, 3 analysed" in out.stdout and "1 track(s)" in out.stdout
    capture = cv2.VideoCapture(str(out_file))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    assert len(frames) == 3 and frames[0].shape == (270, 480, 3)
    # the box is drawn: the annotated frame differs from the plain one around the face
    plain = cv2.VideoCapture(str(one_face_clip)).read()[1]
    assert cv2.absdiff(frames[0], plain).max() > 100


def test_cli_max_frames_on_the_stage_clip(data_dir: Path):
    clip = data_dir / "video" / "short_hamilton_clip.mp4"
    out = runner.invoke(app, ["video", str(clip), "--json", "--max-frames", "25"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout.splitlines()[-1])["summary"]
    assert summary["frames_read"] == 25 and summary["stopped"] == "max_frames"
    assert summary["cuts"] == [20]
    assert {t["end"] for t in summary["tracks"]} <= {"cut", "end"}


def test_cli_bad_input_exit_2(tmp_path: Path):
    text = tmp_path / "fake.mp4"
    text.write_text("hello")
    out = runner.invoke(app, ["video", str(text), "--json"])
    assert out.exit_code == 2
    assert json.loads(out.stdout)["error"]["code"] == "unreadable_video"
    out = runner.invoke(app, ["video", "96"])
    assert out.exit_code == 2 and "unreadable_video" in out.output


def test_rest_video(client: TestClient, one_face_clip: Path):
    files = {"video": ("one.mp4", one_face_clip.read_bytes(), "video/mp4")}
    response = client.post("/v1/video", files=files, params={"every": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["index"] for f in body["frames"]] == [0, 2, 4]
    tracks = body["summary"]["tracks"]
    assert len(tracks) == 1 and tracks[0]["best_frame"] in (0, 2, 4)
    assert 0 < tracks[0]["best"]["quality"]["score"] <= 1
    assert tracks[0]["gender"]["label"] == "male"
    assert {face["track_id"] for f in body["frames"] for face in f["faces"]} == {1}
    assert body["summary"]["info"]["source"] == "the uploaded clip"


def test_rest_video_uses_the_served_choices(one_face_clip: Path, monkeypatch):
    """Without ?detector= the clip is read with the server's detector and attribute models."""
    from facelens.api.routes import video as route

    seen = []
    monkeypatch.setattr(route, "_analyse", lambda lens, *rest: seen.append(lens) or 1 / 0)
    settings = Settings(warm_up=False, detector="blazeface", attribute_models={"age": "faceapi"})
    files = {"video": ("one.mp4", one_face_clip.read_bytes(), "video/mp4")}
    with TestClient(create_app(settings), raise_server_exceptions=False) as served:
        served.post("/v1/video", files=files)
        served.post("/v1/video", files=files, params={"detector": "yunet"})
        bad = served.post("/v1/video", files=files, params={"detector": "hog"})
    assert [lens.detector_name for lens in seen] == ["blazeface", "yunet"]
    assert seen[0].attribute_models.age == "faceapi"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_argument"


def test_rest_video_bad_input(client: TestClient, data_dir: Path, one_face_clip: Path):
    def post(data: bytes, **params):
        return client.post(
            "/v1/video", files={"video": ("v.mp4", data, "video/mp4")}, params=params
        )

    for data, status, code in (
        (b"", 400, "empty_input"),
        (b"not a video at all" * 50, 415, "unreadable_video"),
    ):
        response = post(data)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        assert "facelens-video" not in response.text  # the server's temporary path stays private
    truncated = post(one_face_clip.read_bytes()[:-3000])
    assert truncated.status_code in (400, 415), truncated.text
    assert "the uploaded clip" in truncated.json()["error"]["message"]
    clip = (data_dir / "video" / "short_hamilton_clip.mp4").read_bytes()
    response = post(clip)  # 275 frames, the server allows 100
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    response = post(clip, max_frames=10, detector="nope")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_argument"
    response = post(clip, identify="true")  # no gallery on this server
    assert response.status_code == 400


def test_a_photo_is_not_a_clip(client: TestClient, data_dir: Path, tmp_path: Path):
    """OpenCV would read a JPEG as a one-frame video: the CLI and REST refuse it as a photo."""
    jpeg = (data_dir / "lfw" / "images" / "Tony_Blair" / "Tony_Blair_0018.jpg").read_bytes()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg)
    out = runner.invoke(app, ["video", str(photo), "--json"])
    assert out.exit_code == 2
    error = json.loads(out.stdout)["error"]
    assert error["code"] == "unreadable_video"
    assert error["message"] == (
        f"{photo} is a still image (JPEG), not a video: use analyze for photos"
    )
    response = client.post("/v1/video", files={"video": ("photo.jpg", jpeg, "image/jpeg")})
    assert response.status_code == 415, response.text
    assert response.json()["error"] == {
        "code": "unreadable_video",
        "message": "the uploaded clip is a still image (JPEG), not a video: use analyze for photos",
    }


def test_no_temporary_path_in_any_answer(
    client: TestClient, data_dir: Path, one_face_clip: Path, tmp_path: Path, monkeypatch
):
    """An upload is read from a temporary file: a corrupt clip and a photo are named "the
    uploaded clip", even where a long temporary folder would be shortened in a message."""
    import tempfile

    folder = tmp_path / ("temporary-" * 8)
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    jpeg = (data_dir / "lfw" / "images" / "Tony_Blair" / "Tony_Blair_0018.jpg").read_bytes()
    corrupt = one_face_clip.read_bytes()[: one_face_clip.stat().st_size // 2]
    for endpoint in ("/v1/video", "/v1/liveness"):
        for data in (corrupt, jpeg):
            response = client.post(endpoint, files={"video": ("v.mp4", data, "video/mp4")})
            assert response.status_code == 415, response.text
            message = response.json()["error"]["message"]
            assert message.startswith("the uploaded clip "), message
            assert "/tmp" not in response.text and "facelens-video" not in response.text
            assert str(folder) not in response.text and "temporary-" not in response.text
