"""Liveness on real frames: the stage clip's speaker (live), a held-up photo made from a real
photo (spoof), the challenge judged on the speaker's real head turns, a live session fed the
clip's frames, and bad input through the Python API, the CLI and REST."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from facelens.api import Settings, create_app
from facelens.api.sessions import MAX_SESSIONS
from facelens.cli import app
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.liveness_attacks import held_photo
from facelens.eval.liveness_clips import face_crop, read_clip, write_clip
from facelens.lens import FaceLens
from facelens.liveness.clip import clip_signals, liveness_of
from facelens.liveness.session import LiveCheck

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EVERY = 3  # 10 analysed frames a second keeps these tests short
# Frames 82-160: the speaker's frontal shot; he turns to his right (yaw to -28°) at 0.8-2 s
# and back to the front, never to his left.
SPEAKER = slice(82, 161)


@pytest.fixture(scope="module")
def speaker_frames(data_dir: Path) -> list[np.ndarray]:
    clip, _ = read_clip(data_dir / "video" / "short_hamilton_clip.mp4")
    return clip[SPEAKER]


@pytest.fixture(scope="module")
def speaker_clip(speaker_frames, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("live") / "speaker.mp4"
    write_clip(path, speaker_frames, 30.0)
    return path


@pytest.fixture(scope="module")
def lens() -> FaceLens:
    return FaceLens()


def test_speaker_is_live_and_his_turn_answers_the_challenge(lens, speaker_clip):
    signals, _, last = clip_signals(lens, speaker_clip, EVERY)
    passive = liveness_of(signals, None, last)
    assert passive.verdict == "live", passive.reasons
    assert passive.cues.residual > 0.04 and passive.cues.frozen_share < 0.5
    assert len(passive.evidence.yaw) == len(passive.evidence.times) == len(signals)
    right = liveness_of(signals, ["right"], last)
    assert right.verdict == "live" and right.challenge[0].status == "passed"
    assert 0.6 < right.challenge[0].done_at < 2.0
    left = liveness_of(signals, ["left"], last)  # he turns to his right instead
    assert left.verdict == "spoof" and "other way" in left.challenge[0].reason


def test_mirrored_speaker_turns_left(lens, speaker_frames, tmp_path):
    path = tmp_path / "mirrored.mp4"
    write_clip(path, [np.ascontiguousarray(f[:, ::-1]) for f in speaker_frames], 30.0)
    signals, _, last = clip_signals(lens, path, EVERY)
    assert liveness_of(signals, ["left"], last).challenge[0].status == "passed"
    assert liveness_of(signals, ["right"], last).verdict == "spoof"


def test_a_held_up_photo_is_a_spoof(lens, fr_images, tmp_path):
    photo = cv2.cvtColor(
        cv2.imread(str(fr_images / "tests/test_images/obama.jpg")), cv2.COLOR_BGR2RGB
    )
    frames = held_photo(face_crop(lens, photo), 2.0, np.random.default_rng(3))
    write_clip(tmp_path / "held.mp4", frames, 30.0)
    result = lens.liveness(tmp_path / "held.mp4", every=EVERY)
    assert result.verdict == "spoof", result.reasons
    assert "flat picture" in result.reasons[0] and result.cues.residual < 0.03
    assert result.frames_read == 60


def test_live_session_runs_the_challenge_on_real_frames(lens, speaker_frames):
    clock = iter(np.arange(0, 100, EVERY / 30))
    check = LiveCheck(lens, ["right"], clock=lambda: float(next(clock)))
    assert check.state.prompt == "right" and not check.state.done
    for frame in speaker_frames[::EVERY]:
        state = check.add(frame)
        assert [f.track_id for f in state.faces][:1] == [1]
        if state.done:
            break
    assert state.done and state.liveness.verdict == "live"
    assert state.prompt is None and state.liveness.challenge[0].status == "passed"


def test_bad_clips_fail_as_video_input_does(lens, tmp_path):
    with pytest.raises(FaceLensError) as error:
        lens.liveness(tmp_path / "missing.mp4")
    assert error.value.code == ErrorCode.UNREADABLE_VIDEO
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(FaceLensError) as error:
        lens.liveness(tmp_path / "empty.mp4")
    assert error.value.code == ErrorCode.EMPTY_INPUT
    with pytest.raises(FaceLensError) as error:
        lens.liveness(tmp_path / "empty.mp4", challenge=["blink", "wave"])
    assert error.value.code == ErrorCode.BAD_ARGUMENT
    result = CliRunner().invoke(app, ["liveness", str(tmp_path / "missing.mp4"), "--json"])
    assert result.exit_code == 2 and '"unreadable_video"' in result.output


def test_a_photo_is_not_a_clip(lens, speaker_frames, tmp_path):
    """A photo (OpenCV reads it as a one-frame clip, judged "undecided") is refused."""
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(speaker_frames[0], cv2.COLOR_RGB2BGR))[1].tobytes()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg)
    with pytest.raises(FaceLensError) as error:
        lens.liveness(photo)
    assert error.value.code == ErrorCode.UNREADABLE_VIDEO
    assert "is a still image (JPEG), not a video" in error.value.message
    result = CliRunner().invoke(app, ["liveness", str(photo), "--json"])
    assert result.exit_code == 2 and '"unreadable_video"' in result.output
    assert "still image (JPEG)" in result.output
    with TestClient(create_app(Settings(warm_up=False))) as client:
        answer = client.post("/v1/liveness", files={"video": ("p.jpg", jpeg, "image/jpeg")})
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "unreadable_video"
    assert answer.json()["error"]["message"].startswith("the uploaded clip is a still image")


def test_rest_clip_and_session(speaker_frames):
    settings = Settings(warm_up=False, max_video_frames=100)
    with TestClient(create_app(settings)) as client:
        bad = client.post("/v1/liveness", files={"video": ("x.mp4", b"not a video", "video/mp4")})
        assert bad.status_code == 415 and bad.json()["error"]["code"] == "unreadable_video"
        started = client.post("/v1/liveness/sessions", params={"challenge": "blink,left"})
        assert started.status_code == 200
        session = started.json()
        assert session["challenge"] == ["blink", "left"] and session["prompt"] == "blink"
        url = f"/v1/liveness/sessions/{session['session_id']}/frames"
        jpeg = cv2.imencode(".jpg", cv2.cvtColor(speaker_frames[0], cv2.COLOR_RGB2BGR))[1]
        state = client.post(url, files={"image": ("f.jpg", jpeg.tobytes(), "image/jpeg")})
        assert state.status_code == 200, state.text
        assert state.json()["faces"][0]["track_id"] == 1 and not state.json()["done"]
        ended = client.delete(f"/v1/liveness/sessions/{session['session_id']}")
        assert ended.status_code == 200 and ended.json() == {"ended": True}
        gone = client.post(url, files={"image": ("f.jpg", jpeg.tobytes(), "image/jpeg")})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        # ending it again, or a session that never was, is answered as its frames are
        for unknown in (session["session_id"], "no-such-session"):
            again = client.delete(f"/v1/liveness/sessions/{unknown}")
            assert (again.status_code, again.json()) == (gone.status_code, gone.json())
        wrong = client.post("/v1/liveness/sessions", params={"challenge": "nod"})
        assert wrong.status_code == 400
        for _ in range(MAX_SESSIONS):  # the server's limit, not the request, refuses the 17th
            assert client.post("/v1/liveness/sessions").status_code == 200
        full = client.post("/v1/liveness/sessions")
        assert full.status_code == 503 and full.json()["error"]["code"] == "busy"


def test_eval_video_reports_throughput_and_one_speaker_track(speaker_clip, tmp_path):
    import json

    result = CliRunner().invoke(
        app, ["eval", "video", "--clip", str(speaker_clip), "--every", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert report["frames_read"] == 79 and report["frames_analysed"] == 27
    assert report["cuts"] == [] and report["speaker_id_switches"] == 0
    assert report["frames_per_second"] > 0 and set(report["ms_per_frame"]) >= {"detect", "embed"}
    missing = CliRunner().invoke(
        app, ["eval", "video", "--clip", str(tmp_path / "none.mp4"), "--json"]
    )
    assert missing.exit_code == 2 and '"unreadable_video"' in missing.output


def test_eval_liveness_table_and_bad_data(tmp_path):
    from facelens.eval.liveness import markdown, table

    def row(kind: str, verdict: str, challenged: str, residual: float) -> dict:
        cues = {"residual": residual}
        return {"kind": kind, "verdict": verdict, "challenge_verdict": challenged, "cues": cues}

    rows = [row("held photo", "spoof", "spoof", 0.01), row("live", "live", "undecided", 0.06)]
    rows.insert(1, row("held photo", "undecided", "spoof", 0.03))
    lines = markdown({"table": table(rows)}).splitlines()
    assert lines[2] == "| held photo | 2 | 0 / 1 / 1 | 0 / 2 / 0 | 0.02 ([0.01, 0.03]) |"
    assert lines[3] == "| live | 1 | 1 / 0 / 0 | 0 / 0 / 1 | 0.06 ([0.06, 0.06]) |"
    result = CliRunner().invoke(app, ["eval", "liveness", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "short_hamilton_clip.mp4" in result.output
