"""Video throughput and track stability on a real clip, per detector.

    facelens eval video [--clip CLIP] [--detector yunet] [--every 1] [--repeat 1] [--json]
    python -m facelens.eval.video_bench [--clip ../shared/data/video/short_hamilton_clip.mp4]
        [--detectors yunet,blazeface] [--every 1] [--speaker-until 211] [--repeat 1] [--json]

Runs `FaceLens(detector=...).video(clip)` end to end (decode, cut test, detection + mesh,
tracking with the embeddings it asks for, and per track quality, attributes), after loading
every model on the clip's first frames, and reports frames per second (frames read / wall
time), CPU time per frame (all threads: steadier than wall time on a shared machine),
milliseconds per frame by stage, the faces embedded for tracking, the tracks (and, in the
JSON, each track's frames and face size), the
machine's load average (1 min) after the run, and the speaker's id switches: in each shot
before --speaker-until (the clip's audience shot starts at 211) the speaker is the largest
face of a frame when it is at least half the side of the shot's largest face (frames where
he is out of view and only small faces behind him remain do not count), and every extra
track id he gets counts as a switch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

SPEAKER_SHARE = 0.5  # of the shot's largest face side


def bench(clip: Path, detector: str, every: int, speaker_until: int) -> dict:
    from facelens.lens import FaceLens

    lens = FaceLens(detector=detector)
    lens.video(clip, max_frames=3).summary()  # loads every model once
    cpu_start = time.process_time()
    analysis = lens.video(clip, every=every)
    largest: dict[int, list[tuple[float, int]]] = {}  # shot → (side, track id) per frame
    faces = 0
    sides: dict[int, list[float]] = {}  # track id → its face's side per frame
    for frame in analysis:
        faces += len(frame.faces)
        for face in frame.faces:
            box = face.box
            sides.setdefault(face.track_id, []).append(
                ((box.x2 - box.x1) * (box.y2 - box.y1)) ** 0.5
            )
        if frame.faces and frame.index < speaker_until:
            shot = sum(frame.index >= cut for cut in analysis.cut_frames)
            first = frame.faces[0].track_id
            largest.setdefault(shot, []).append((sides[first][-1], first))
    speaker_ids = {
        shot: {t for side, t in seen if side >= SPEAKER_SHARE * max(s for s, _ in seen)}
        for shot, seen in largest.items()
    }
    summary = analysis.summary()
    cpu_seconds = time.process_time() - cpu_start
    read = summary.frames_read
    return {
        "detector": detector,
        "every": every,
        "frames_read": read,
        "frames_analysed": summary.frames_analysed,
        "seconds": summary.seconds,
        "frames_per_second": round(read / summary.seconds, 1),
        "cpu_ms_per_frame": round(1000 * cpu_seconds / read, 1),
        "ms_per_frame": {k: round(v / read, 2) for k, v in summary.stage_ms.items()},
        "faces": faces,
        "faces_embedded_for_tracking": analysis.embedded,
        "tracks": len(summary.tracks),
        "load_average": round(os.getloadavg()[0], 2),
        "cuts": summary.cuts,
        "speaker_tracks_per_shot": {k: sorted(v) for k, v in speaker_ids.items()},
        "speaker_id_switches": sum(len(ids) - 1 for ids in speaker_ids.values()),
        # per track: first and last frame, its face's median and largest side in px
        # (identity re-link needs 100 px: facelens.video.tracker.REID_MIN_SIDE)
        "track_sides": {
            t.track_id: [
                t.first_frame,
                t.last_frame,
                round(statistics.median(sides[t.track_id])),
                round(max(sides[t.track_id])),
            ]
            for t in summary.tracks
            if t.track_id in sides
        },
    }


def describe(report: dict) -> str:
    """One run in a sentence."""
    r = report
    stages = ", ".join(f"{k} {v}" for k, v in r["ms_per_frame"].items())
    return (
        f"{r['detector']} (every {r['every']}): {r['frames_read']} frames in {r['seconds']} s"
        f" = {r['frames_per_second']} frames/s (load average {r['load_average']}; CPU "
        f"{r['cpu_ms_per_frame']} ms/frame, all threads); "
        f"ms/frame: {stages}; {r['faces']} faces, {r['faces_embedded_for_tracking']} "
        f"embedded for tracking, {r['tracks']} tracks, cuts {r['cuts']}, speaker id "
        f"switches {r['speaker_id_switches']} (speaker's tracks by shot: "
        f"{r['speaker_tracks_per_shot']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path("../shared/data/video/short_hamilton_clip.mp4")
    parser.add_argument("--clip", type=Path, default=default)
    parser.add_argument("--detectors", default="yunet,blazeface")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--speaker-until", type=int, default=211)
    parser.add_argument("--repeat", type=int, default=1, help="runs per detector")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reports = [
        bench(args.clip, d, args.every, args.speaker_until)
        for d in args.detectors.split(",")
        for _ in range(args.repeat)
    ]
    if args.json:
        print(json.dumps(reports, indent=2))
        return
    for report in reports:
        print(describe(report))


if __name__ == "__main__":
    main()
