"""A video analysed frame by frame: `FaceLens().video(source)` returns a VideoAnalysis.

Per analysed frame (every `every`-th): detect, join the faces to tracks (by box motion;
the tracker asks for a face's embedding only when it starts a track or boxes are ambiguous),
keep each track's best-looking views as small crops. Per decoded
frame: the shot-cut test (a cut ends every track). Per track, once, when it ends: quality
of its kept views, attributes over them, one gallery search (video/summarize.py).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from facelens.errors import ErrorCode, FaceLensError, check_count
from facelens.recognition.operating_points import threshold_for
from facelens.types import Box, Landmarks, Track, TrackedFace, VideoFrame, VideoSummary
from facelens.video.candidates import Views
from facelens.video.cuts import CutDetector
from facelens.video.identity import check_gallery
from facelens.video.source import Frame, FrameSource, VideoSource
from facelens.video.summarize import summarize
from facelens.video.tracker import Embed, Tracker, TrackState

if TYPE_CHECKING:
    from facelens.detection.detector import FoundFaces
    from facelens.gallery.gallery import Gallery
    from facelens.lens import FaceLens

MISS_SECONDS = 0.5  # a face unseen this long (video time) ends its track...
# ...unless it is big enough to be recognised: such a track waits this long for its person to
# come back (anywhere in the shot, judged by the embedding alone: tracker step 4)
REID_SECONDS = 2.0
REID_OPERATING_POINT = "fmr_1e-3"


class VideoAnalysis:
    """Iterate for VideoFrame results (analysed frames only); `summary()` afterwards for
    the tracks. The source is opened at creation: a bad source raises there."""

    def __init__(
        self,
        lens: FaceLens,
        source: VideoSource,
        every: int = 1,
        max_frames: int | None = None,
        duration: float | None = None,
        gallery: Gallery | None = None,
        quality: bool = True,
        attributes: bool = True,
        open_timeout: float = 10.0,
        embed: bool = True,
        name: str | None = None,
    ) -> None:
        """embed=False: track by box overlap alone, never embedding (one person at a camera,
        as liveness needs); tracks then get no gallery search. name: how errors and
        `summary().info.source` name the source (FrameSource)."""
        every = check_count("every", every)
        if gallery is not None:
            if not embed:
                raise FaceLensError(ErrorCode.BAD_ARGUMENT, "a gallery search needs embed=True")
            check_gallery(gallery, lens)
        self.lens, self.every, self.gallery = lens, every, gallery
        self.quality, self.attributes, self.embed = quality, attributes, embed
        self.frames = FrameSource(
            source, lens.budget, max_frames, duration, open_timeout, name=name
        )
        fps = self.frames.info.fps or 30.0
        self.tracker = Tracker(
            max_misses=max(1, round(MISS_SECONDS * fps / every)),
            reid_misses=round(REID_SECONDS * fps / every) if embed else 0,
            reid_cosine=threshold_for(REID_OPERATING_POINT, lens.flip, lens.embedder_name),
        )
        self.cuts = CutDetector()
        self.cut_frames: list[int] = []
        self.tracks: list[Track] = []
        self.analysed = 0
        self.embedded = 0  # faces embedded for tracking (the tracker's requests)
        self.stage_ms: dict[str, float] = defaultdict(float)
        self._started = time.perf_counter()
        self._iterator: Iterator[VideoFrame] | None = None
        self._done = False
        self.current_rgb: np.ndarray | None = None  # the last analysed frame (for drawing)
        self.current_found: FoundFaces | None = None  # its faces, in VideoFrame.faces order

    def __iter__(self) -> Iterator[VideoFrame]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    def __enter__(self) -> VideoAnalysis:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading (a camera: release it); live tracks end with reason "end"."""
        self.frames.close()

    def summary(self) -> VideoSummary:
        """Every track and the run's figures; reads whatever frames are left first."""
        for _ in self:
            pass
        return VideoSummary(
            info=self.frames.info,
            frames_read=self.frames.frames_read,
            frames_analysed=self.analysed,
            stopped=self.frames.stopped,
            cuts=self.cut_frames,
            tracks=self.tracks,
            seconds=round(time.perf_counter() - self._started, 3),
            stage_ms={k: round(v, 1) for k, v in self.stage_ms.items()},
        )

    def _run(self) -> Iterator[VideoFrame]:
        cut_pending = False
        frames = iter(self.frames)
        try:
            while True:
                with self._timed("decode"):
                    frame = next(frames, None)
                if frame is None:
                    break
                with self._timed("cuts"):
                    if self.cuts.is_cut(frame.rgb):
                        self.cut_frames.append(frame.index)
                        cut_pending = True
                if frame.index % self.every:
                    continue
                result = self._analyse(frame, cut_pending)
                cut_pending = False
                yield result
        except FaceLensError:  # the tracks so far stay in summary() (a truncated file)
            self._end_live()
            raise
        self._end_live()

    def _end_live(self) -> None:
        if not self._done:
            self._done = True
            self.tracks.extend(self._finish(self.tracker.end_all("end")))

    def _analyse(self, frame: Frame, cut: bool) -> VideoFrame:
        self.analysed += 1
        self.current_rgb = frame.rgb
        ended = self._finish(self.tracker.end_all("cut")) if cut else []
        with self._timed("detect"):
            found = self.current_found = self.lens.detector.detect(frame.rgb)
        embed_before = self.stage_ms["embed"]
        with self._timed("track"):
            embed = self._embedder(frame.rgb, found) if self.embed else None
            owners, lost = self.tracker.update(found.boxes, frame.index, frame.time, embed)
            for index, track in enumerate(owners):
                if track.payload is None:
                    track.payload = Views()
                track.payload.offer(  # type: ignore[attr-defined]
                    frame.rgb, found, index, frame.index, frame.time
                )
        # "track" is the association alone: the embeddings it asked for are under "embed"
        self.stage_ms["track"] -= self.stage_ms["embed"] - embed_before
        ended += self._finish(lost)
        self.tracks.extend(ended)
        return VideoFrame(
            index=frame.index,
            time=frame.time,
            cut=cut,
            faces=tracked_faces(found, owners),
            ended=ended,
        )

    def _embedder(self, rgb: np.ndarray, found: FoundFaces) -> Embed:
        """The tracker asks for the few faces it needs embedded (timed as "embed")."""

        def embed(indices: list[int]) -> np.ndarray:
            self.embedded += len(indices)
            with self._timed("embed"):
                return self.lens.embed_found(rgb, found, indices)

        return embed

    def _finish(self, states: list[TrackState]) -> list[Track]:
        with self._timed("summarize"):
            return [
                summarize(s, self.lens, self.quality, self.attributes, self.gallery) for s in states
            ]

    def _timed(self, stage: str) -> _Timer:
        return _Timer(self.stage_ms, stage)


class _Timer:
    def __init__(self, totals: dict[str, float], stage: str) -> None:
        self.totals, self.stage = totals, stage

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.totals[self.stage] += (time.perf_counter() - self.start) * 1000


def tracked_faces(found: FoundFaces, owners: list[TrackState]) -> list[TrackedFace]:
    return [
        TrackedFace(
            index=i,
            box=Box.from_array(found.boxes[i]),
            detection_score=round(float(found.scores[i]), 4),
            landmarks=Landmarks.from_array(found.points[i]),
            track_id=owners[i].track_id,
        )
        for i in range(len(found))
    ]
