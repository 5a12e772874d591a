"""Frame sources on real and broken input: every failure a FaceLensError with its code, in
bounded time, and the stage clip's shot cuts where they are."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from video_clips import background, write_clip

from facelens.budget import InputBudget
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens
from facelens.video.cuts import CutDetector
from facelens.video.source import FrameSource

CLIP_FRAMES = 275
CLIP_CUTS = [20, 82, 211]  # first frames of new shots, checked by eye (frame 163 is a jump cut)


@pytest.fixture(scope="module")
def clip(data_dir: Path) -> Path:
    return data_dir / "video" / "short_hamilton_clip.mp4"


def _code(source, **options) -> ErrorCode:
    with pytest.raises(FaceLensError) as caught:
        for _ in FrameSource(source, **options):
            pass
    return caught.value.code


def test_reads_every_frame_of_the_clip(clip: Path):
    source = FrameSource(clip)
    assert (source.info.width, source.info.height, source.info.frame_count) == (640, 360, 275)
    frames = [(f.index, f.time, f.rgb.shape) for f in source]
    assert len(frames) == CLIP_FRAMES and source.stopped == "end"
    assert frames[-1][0] == CLIP_FRAMES - 1 and frames[0][2] == (360, 640, 3)
    assert frames[30][1] == pytest.approx(30 / 29.97, abs=1e-3)


def test_cut_detector_finds_the_clips_cuts(clip: Path):
    cuts = CutDetector()
    assert [f.index for f in FrameSource(clip) if cuts.is_cut(f.rgb)] == CLIP_CUTS


def test_max_frames_and_duration_bound_the_run(clip: Path):
    by_count = FrameSource(clip, max_frames=10)
    assert sum(1 for _ in by_count) == 10 and by_count.stopped == "max_frames"
    by_time = FrameSource(clip, duration=1.0)
    assert sum(1 for _ in by_time) == 30 and by_time.stopped == "duration"


def test_bad_files(tmp_path: Path, clip: Path):
    data = clip.read_bytes()
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert _code(empty) == ErrorCode.EMPTY_INPUT
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    assert _code(text) == ErrorCode.UNREADABLE_VIDEO
    cut_short = tmp_path / "cut_short.mp4"  # its index (moov) is at the end: gone
    cut_short.write_bytes(data[: len(data) // 2])
    assert _code(cut_short) == ErrorCode.UNREADABLE_VIDEO
    assert _code(tmp_path / "missing.mp4") == ErrorCode.UNREADABLE_VIDEO


def test_corrupt_and_truncated_files_stop_with_a_code(tmp_path: Path, clip: Path):
    damaged = bytearray(clip.read_bytes())
    third = len(damaged) // 3
    damaged[third : third + 20_000] = np.random.default_rng(0).bytes(20_000)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(damaged))
    assert _code(corrupt) == ErrorCode.TRUNCATED_VIDEO
    # an AVI keeps its header first: cut in half it opens, then ends early
    avi = write_clip(tmp_path / "whole.avi", [background(i) for i in range(20)], fourcc="MJPG")
    half = tmp_path / "half.avi"
    half.write_bytes(avi.read_bytes()[: avi.stat().st_size // 2])
    assert _code(half) == ErrorCode.TRUNCATED_VIDEO
    assert sum(1 for _ in FrameSource(avi)) == 20


def test_the_budget_per_frame_and_per_clip(clip: Path, tmp_path: Path):
    small = InputBudget(max_pixels=640 * 360 - 1)
    assert _code(clip, budget=small) == ErrorCode.TOO_LARGE
    narrow = write_clip(
        tmp_path / "narrow.avi", [np.zeros((8, 400, 3), np.uint8)] * 3, fourcc="MJPG"
    )
    assert _code(narrow) == ErrorCode.BAD_DIMENSIONS
    with pytest.raises(FaceLensError) as caught:  # the message speaks of frames, not an image
        list(FrameSource(narrow))
    assert caught.value.message.startswith("each frame of the video is 400x8 pixels")
    assert _code(clip, budget=InputBudget(max_clip_frames=100)) == ErrorCode.TOO_LARGE
    assert _code(clip, budget=InputBudget(max_clip_seconds=5.0)) == ErrorCode.TOO_LARGE
    # a part within the limits is fine
    assert sum(1 for _ in FrameSource(clip, InputBudget(max_clip_frames=100), max_frames=50)) == 50


def test_cameras_and_streams_that_cannot_be_read():
    assert _code(97) == ErrorCode.UNREADABLE_VIDEO  # no such camera
    assert _code("97") == ErrorCode.UNREADABLE_VIDEO
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert _code(f"http://127.0.0.1:{port}/live.mp4") == ErrorCode.UNREADABLE_VIDEO


def test_a_silent_stream_times_out():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    started = time.monotonic()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/live.mp4"
    assert _code(url, open_timeout=1.0) == ErrorCode.UNREADABLE_VIDEO
    assert 0.5 < time.monotonic() - started < 5.0  # the open timeout, not a hang
    server.close()


def test_a_stream_that_stops_delivering_is_lost(tmp_path: Path, clip: Path):
    """A live source (here FFmpeg reading a URL) whose data breaks off mid-way."""
    damaged = bytearray(clip.read_bytes())
    third = len(damaged) // 3
    damaged[third : third + 20_000] = bytes(20_000)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(damaged))
    source = FrameSource(broken.as_uri())
    assert source.kind == "stream"
    with pytest.raises(FaceLensError) as caught:
        for _ in source:
            pass
    assert caught.value.code == ErrorCode.SOURCE_LOST
    assert 0 < source.frames_read < CLIP_FRAMES


def test_bad_arguments(clip: Path):
    with pytest.raises(FaceLensError) as caught:
        FaceLens().video(clip, every=0)
    assert caught.value.code == ErrorCode.BAD_ARGUMENT
    assert _code(clip, max_frames=0) == ErrorCode.BAD_ARGUMENT


def test_a_device_or_a_pipe_is_not_a_video_file():
    for special in ("/dev/zero", "/dev/null"):
        with pytest.raises(FaceLensError) as caught:
            FrameSource(special)
        assert caught.value.code == ErrorCode.UNREADABLE_VIDEO
        assert "not a regular file" in caught.value.message


PHOTO = "lfw/images/Tony_Blair/Tony_Blair_0018.jpg"


def _refusal(source) -> FaceLensError:
    with pytest.raises(FaceLensError) as caught:
        FrameSource(source)
    return caught.value


def test_a_still_image_is_not_a_video(tmp_path: Path, data_dir: Path):
    """OpenCV reads a photo as a one-frame clip: refused by its leading bytes, whatever its
    name ends with, before it is opened."""
    bgr = cv2.imread(str(data_dir / PHOTO))
    (tmp_path / "photo.mp4").write_bytes((data_dir / PHOTO).read_bytes())
    for ext in ("png", "bmp", "tiff", "webp"):
        cv2.imwrite(str(tmp_path / f"photo.{ext}"), bgr)
    Image.fromarray(bgr[:, :, ::-1]).save(tmp_path / "photo.gif")  # one frame
    Image.fromarray(bgr[:, :, ::-1]).save(tmp_path / "photo.avif")  # analyze reads AVIF too
    for name, kind in (
        ("photo.mp4", "JPEG"),  # a JPEG named .mp4
        ("photo.png", "PNG"),
        ("photo.bmp", "BMP"),
        ("photo.tiff", "TIFF"),
        ("photo.webp", "WebP"),
        ("photo.gif", "GIF"),
        ("photo.avif", "AVIF"),
    ):
        error = _refusal(tmp_path / name)
        assert error.code == ErrorCode.UNREADABLE_VIDEO
        assert error.message == (
            f"{tmp_path / name} is a still image ({kind}), not a video: use analyze for photos"
        )
    with pytest.raises(FaceLensError) as caught:
        FaceLens().video(tmp_path / "photo.png")
    assert "still image (PNG)" in caught.value.message


def test_an_animated_gif_or_png_plays_as_a_clip(tmp_path: Path):
    frames = [Image.fromarray(background(i, (80, 60))) for i in range(5)]
    for name in ("moving.gif", "moving.png"):
        frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=100)
        assert sum(1 for _ in FrameSource(tmp_path / name)) == 5
    # a clip whose name ends .jpg is read by its bytes: a video
    avi = write_clip(tmp_path / "clip.avi", [background(i) for i in range(3)], fourcc="MJPG")
    assert sum(1 for _ in FrameSource(avi.rename(tmp_path / "clip.jpg"))) == 3


def test_a_name_stands_for_the_path_in_every_message(tmp_path: Path, clip: Path):
    """FrameSource(name=...): how a caller (the REST server, for its temporary file) has the
    source named; the path appears nowhere."""
    name = "the uploaded clip"

    def message(path: Path) -> str:
        with pytest.raises(FaceLensError) as caught:
            for _ in FrameSource(path, name=name):
                pass
        assert str(tmp_path) not in caught.value.message
        return caught.value.message

    deep = tmp_path / ("long-folder-name-" * 6)  # a path messages would shorten
    deep.mkdir()
    (deep / "notes").write_text("not a video\n" * 100)
    assert message(deep / "notes") == (
        f"{name} could not be read as a video (not a video, or truncated or corrupt)"
    )
    cv2.imwrite(str(deep / "photo.png"), background(1))
    assert message(deep / "photo.png").startswith(f"{name} is a still image (PNG)")
    assert message(deep / "missing") == f"no such video file: {name}"
    assert message(deep) == f"{name} is a folder, not a video"
    (deep / "empty").write_bytes(b"")
    assert message(deep / "empty") == f"{name} is empty (0 bytes)"
    avi = write_clip(deep / "whole.avi", [background(i) for i in range(20)], fourcc="MJPG")
    (deep / "half").write_bytes(avi.read_bytes()[: avi.stat().st_size // 2])
    assert message(deep / "half").startswith(f"{name} stopped decoding after")
    source = FrameSource(clip, name=name, max_frames=2)
    assert source.info.source == name and sum(1 for _ in source) == 2
    summary = FaceLens().video(avi, name="my clip", quality=False, attributes=False).summary()
    assert summary.info.source == "my clip" and summary.frames_read == 20
    assert FrameSource(avi).info.source == str(avi)  # without a name: the path, as given
