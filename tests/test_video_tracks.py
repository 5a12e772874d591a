"""Face tracks on a clip whose truth is known exactly (two LFW faces moved across frames,
one missing for two frames, a cut to another background) and on the real stage clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_clips import background, face_tile, scene, write_clip

from facelens.gallery.gallery import Gallery
from facelens.lens import FaceLens

FRAMES, CUT, MISSING = 12, 8, (4, 5)


def _x_of(face) -> float:
    return face.box.x1


@pytest.fixture(scope="module")
def lfw(data_dir: Path) -> Path:
    return data_dir / "lfw" / "images"


@pytest.fixture(scope="module")
def two_faces_clip(tmp_path_factory, lfw: Path) -> Path:
    """Bush moves right 6 px a frame (absent in frames 4-5), Powell left 5 px a frame; from
    frame 8 the background is another (a shot cut)."""
    bush = face_tile(lfw / "George_W_Bush" / "George_W_Bush_0007.jpg")
    powell = face_tile(lfw / "Colin_Powell" / "Colin_Powell_0040.jpg")
    frames = []
    for i in range(FRAMES):
        tiles = [(powell, 300 - 5 * i, 80)]
        if i not in MISSING:
            tiles.append((bush, 20 + 6 * i, 60))
        frames.append(scene(background(1 if i < CUT else 2), tiles))
    return write_clip(tmp_path_factory.mktemp("clip") / "two.mp4", frames)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, lfw: Path) -> Gallery:
    store = Gallery(tmp_path_factory.mktemp("gallery"))
    photos = ["George_W_Bush_0016.jpg", "George_W_Bush_0065.jpg"]
    store.enroll("George_W_Bush", [lfw / "George_W_Bush" / p for p in photos])
    yield store
    store.close()


@pytest.fixture(scope="module")
def analysed(two_faces_clip: Path, gallery: Gallery):
    analysis = FaceLens().video(two_faces_clip, gallery=gallery)
    frames = list(analysis)
    return frames, analysis.summary()


def test_each_face_keeps_its_track_through_a_miss_until_the_cut(analysed):
    frames, summary = analysed
    assert [f.index for f in frames] == list(range(FRAMES))
    assert [f.index for f in frames if f.cut] == [CUT] and summary.cuts == [CUT]
    for frame in frames:
        expected = 1 if frame.index in MISSING else 2
        assert len(frame.faces) == expected, frame.index
    left = {min(f.faces, key=_x_of).track_id for f in frames if f.index < CUT and len(f.faces) == 2}
    right = {max(f.faces, key=_x_of).track_id for f in frames if f.index < CUT}
    assert len(left) == 1 and len(right) == 1 and left != right
    bush_track = left.pop()
    # the track goes on through the two frames Bush is missing from
    assert {f.faces[0].track_id for f in frames if f.index in MISSING} == right
    after = {face.track_id for f in frames if f.index >= CUT for face in f.faces}
    assert len(after) == 2 and not after & {bush_track, *right}  # the cut ended both tracks
    ended_at_cut = {t.track_id for t in frames[CUT].ended}
    assert ended_at_cut == {bush_track, *right}


def test_track_summaries(analysed):
    frames, summary = analysed
    assert summary.frames_read == FRAMES and summary.stopped == "end"
    spans = sorted((t.first_frame, t.last_frame, t.detections, t.end) for t in summary.tracks)
    assert spans == [(0, 7, 6, "cut"), (0, 7, 8, "cut"), (8, 11, 4, "end"), (8, 11, 4, "end")]
    for track in summary.tracks:
        assert track.first_frame <= track.best_frame <= track.last_frame
        assert track.best.quality is not None and track.best.quality.verdict == "ok"
        assert track.age is not None and track.gender is not None
        assert track.gender.label == "male"
        # the best face lies where that track's face was in its best frame
        shown = {f.track_id: f for f in frames[track.best_frame].faces}[track.track_id]
        assert (
            abs(shown.box.x1 - track.best.box.x1) < 1 and abs(shown.box.y2 - track.best.box.y2) < 1
        )


def test_identity_from_the_gallery_searched_once_per_track(analysed):
    _, summary = analysed
    named = {t.track_id: t.identity for t in summary.tracks}
    bush = [t for t in summary.tracks if t.best.box.x1 < 240 and t.first_frame == 0]
    assert len(bush) == 1 and bush[0].identity == "George_W_Bush"
    assert bush[0].matches[0].similarity > bush[0].identity_threshold
    assert list(named.values()).count("George_W_Bush") == 2  # before and after the cut
    assert list(named.values()).count(None) == 2  # Powell is not enrolled


def test_faces_are_embedded_once_per_track_not_every_frame(two_faces_clip: Path):
    """22 faces over 12 frames, 4 tracks: the tracker asked for 4 embeddings (Bush comes
    back after his miss where his track predicted him, so boxes alone re-join him)."""
    analysis = FaceLens().video(two_faces_clip, quality=False, attributes=False)
    faces = sum(len(frame.faces) for frame in analysis)
    assert faces == 22 and len(analysis.summary().tracks) == 4
    assert analysis.embedded == 4


def test_every_n_frames(two_faces_clip: Path):
    analysis = FaceLens().video(two_faces_clip, every=3, quality=False, attributes=False)
    frames = list(analysis)
    summary = analysis.summary()
    assert [f.index for f in frames] == [0, 3, 6, 9]
    assert summary.frames_read == FRAMES and summary.frames_analysed == 4
    assert [f.cut for f in frames] == [False, False, False, True]  # the cut at 8, seen at 9


def test_speaker_keeps_one_track_within_each_shot(data_dir: Path):
    """The real clip: the speaker (the largest face) has one track id per shot, through the
    jump cut at frame 163, and through the 0.6 s (frames 52-70) he is out of the profile
    shot (identity re-link: he comes back elsewhere, past the miss window); the cuts end
    the tracks."""
    clip = data_dir / "video" / "short_hamilton_clip.mp4"
    analysis = FaceLens().video(clip, every=2, quality=False, attributes=False)
    largest: dict[int, set[int]] = {}
    speaker_in_profile_shot = {}
    for frame in analysis:
        if frame.faces:
            shot = sum(frame.index >= cut for cut in (20, 82, 211))
            largest.setdefault(shot, set()).add(frame.faces[0].track_id)
            if frame.index in (30, 76):  # before he leaves, after he is back
                speaker_in_profile_shot[frame.index] = frame.faces[0].track_id
    assert len(largest[0]) == 1 and len(largest[2]) == 1
    assert largest[0] != largest[2]
    assert speaker_in_profile_shot[30] == speaker_in_profile_shot[76]
    assert analysis.summary().cuts == [20, 82, 211]
