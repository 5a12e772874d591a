"""Paths the operating system refuses or that are not there: FaceLensError values with codes
from the Python API, never an OSError (Python's own existence checks raise on a name too long
for the file system instead of answering)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelens import FaceLens, Gallery
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import path_kind

LONG = "x" * 5000
CLIP = Path(__file__).resolve().parents[2] / "shared/data/video/short_hamilton_clip.mp4"


def test_path_kind(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    assert path_kind(tmp_path / "a.jpg", ErrorCode.BAD_ARGUMENT) == "file"
    assert path_kind(tmp_path, ErrorCode.BAD_ARGUMENT) == "folder"
    assert path_kind(tmp_path / "none", ErrorCode.BAD_ARGUMENT) == "missing"
    with pytest.raises(FaceLensError, match="File name too long") as refused:
        path_kind(LONG, ErrorCode.BAD_ARGUMENT)
    assert refused.value.code == "bad_argument" and len(refused.value.message) < 200


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda tmp: FaceLens(attribute_models={"age": f"{LONG}.onnx"}), "bad_argument"),
        (lambda tmp: FaceLens(attribute_models={"expression": f"{LONG}.onnx"}), "bad_argument"),
        (lambda tmp: list(FaceLens().video(f"{LONG}.mp4")), "unreadable_video"),
        (lambda tmp: FaceLens().liveness(tmp), "unreadable_video"),  # a folder
        (lambda tmp: Gallery(tmp / LONG), "bad_gallery"),
        (lambda tmp: Gallery(tmp / "g").enroll("a", [f"{LONG}.jpg"]), "not_an_image"),
        (lambda tmp: Gallery(tmp / "g").enroll("a", [tmp / "missing.jpg"]), "not_an_image"),
        (lambda tmp: Gallery(tmp / "g").enroll_dir(tmp / LONG), "bad_argument"),
        (lambda tmp: Gallery(tmp / "g").enroll_dir(tmp / "missing"), "bad_argument"),
        (lambda tmp: Gallery(tmp / "g").export(tmp / "missing" / "g.npz"), "bad_argument"),
        (lambda tmp: Gallery(tmp / "g").export(tmp / LONG), "bad_argument"),
        (lambda tmp: Gallery(tmp / "g").import_(tmp / LONG), "bad_argument"),
    ],
)
def test_bad_paths_are_error_values(call, code: str, tmp_path: Path) -> None:
    with pytest.raises(FaceLensError) as raised:
        call(tmp_path)
    assert raised.value.code == code
    assert len(raised.value.message) < 300  # the 5,000-character name is shortened


@pytest.mark.parametrize(
    "call",
    [
        lambda tmp: FaceLens(attribute_models={"expression": 123}),
        lambda tmp: FaceLens(attribute_models={"age": None}),
        lambda tmp: FaceLens(attribute_models=["age"]),
        lambda tmp: Gallery(None),
        lambda tmp: list(FaceLens().video(None)),
        lambda tmp: list(FaceLens().video(1.5)),
        lambda tmp: list(FaceLens().video(True)),  # not camera 1 by accident
        lambda tmp: FaceLens(budget=5),
        lambda tmp: Gallery(tmp / "g").search("x.jpg", k=0),  # k is checked first
        lambda tmp: Gallery(tmp / "g").search("x.jpg", k=2.5),
        lambda tmp: list(FaceLens().video(CLIP, every=1.5)),
        lambda tmp: list(FaceLens().video(CLIP, max_frames="3")),
        lambda tmp: list(FaceLens().video(CLIP, duration=float("nan"))),
    ],
)
def test_wrong_types_at_entry_points_are_bad_argument(call, tmp_path: Path) -> None:
    with pytest.raises(FaceLensError) as raised:
        call(tmp_path)
    assert raised.value.code == "bad_argument"
    assert "got" in raised.value.message  # names what it was given


def test_enrolling_one_photo_not_in_a_list(fr_images: Path, tmp_path: Path) -> None:
    """A single path is one photo, not a sequence of one-character file names."""
    photo = fr_images / "tests" / "test_images" / "obama.jpg"
    enrollment = Gallery(tmp_path / "g").enroll("obama", photo)
    assert [image.status for image in enrollment.images] == ["enrolled"]
    assert enrollment.images[0].source == str(photo)


def test_names_and_challenges_of_the_wrong_type(tmp_path: Path) -> None:
    from facelens.liveness.challenge import check_actions

    gallery = Gallery(tmp_path / "g")
    for call in (lambda: gallery.rename(None, "x"), lambda: gallery.remove(None)):
        with pytest.raises(FaceLensError) as raised:
            call()
        assert raised.value.code == "bad_name"
    assert check_actions("blink, LEFT") == ["blink", "left"]  # a string: comma-separated
    for wrong in ("blink,jump", [1, 2]):
        with pytest.raises(FaceLensError, match="a challenge is a list of blink, left, right"):
            check_actions(wrong)  # type: ignore[arg-type]
