"""Video throughput and track stability on a real clip, per detector.

    python -m facelens.eval.video_bench [--clip ../shared/data/video/short_hamilton_clip.mp4]
        [--detectors blazeface,yunet] [--every 1] [--speaker-until 211] [--json]

Runs `FaceLens(detector=...).video(clip)` end to end (decode, cut test, detection + mesh,
embedding of every face, tracking, and per track quality, attributes), after loading every
model on the clip's first frames, and reports frames per second (frames read / wall time),
milliseconds per frame by stage, the tracks, and the speaker's id switches: in each shot
before --speaker-until (the clip's audience shot starts at 211) the largest face is taken to
be the speaker, and every extra track id it gets counts as a switch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def bench(clip: Path, detector: str, every: int, speaker_until: int) -> dict:
    from facelens.lens import FaceLens

    lens = FaceLens(detector=detector)
    lens.video(clip, max_frames=3).summary()  # loads every model once
    analysis = lens.video(clip, every=every)
    speaker_ids: dict[int, set[int]] = {}
    faces = 0
    for frame in analysis:
        faces += len(frame.faces)
        if frame.faces and frame.index < speaker_until:
            shot = sum(frame.index >= cut for cut in analysis.cut_frames)
            speaker_ids.setdefault(shot, set()).add(frame.faces[0].track_id)
    summary = analysis.summary()
    read = summary.frames_read
    return {
        "detector": detector,
        "every": every,
        "frames_read": read,
        "frames_analysed": summary.frames_analysed,
        "seconds": summary.seconds,
        "frames_per_second": round(read / summary.seconds, 1),
        "ms_per_frame": {k: round(v / read, 2) for k, v in summary.stage_ms.items()},
        "faces": faces,
        "faces_embedded_for_tracking": analysis.embedded,
        "tracks": len(summary.tracks),
        "cuts": summary.cuts,
        "speaker_tracks_per_shot": {k: sorted(v) for k, v in speaker_ids.items()},
        "speaker_id_switches": sum(len(ids) - 1 for ids in speaker_ids.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path("../shared/data/video/short_hamilton_clip.mp4")
    parser.add_argument("--clip", type=Path, default=default)
    parser.add_argument("--detectors", default="blazeface,yunet")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--speaker-until", type=int, default=211)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reports = [
        bench(args.clip, d, args.every, args.speaker_until) for d in args.detectors.split(",")
    ]
    if args.json:
        print(json.dumps(reports, indent=2))
        return
    for r in reports:
        stages = ", ".join(f"{k} {v}" for k, v in r["ms_per_frame"].items())
        print(
            f"{r['detector']} (every {r['every']}): {r['frames_read']} frames in {r['seconds']} s"
            f" = {r['frames_per_second']} frames/s; ms/frame: {stages}; {r['faces']} faces, "
            f"{r['faces_embedded_for_tracking']} embedded for tracking, {r['tracks']} tracks, cuts {r['cuts']}, speaker id switches "
            f"{r['speaker_id_switches']} (largest face's tracks by shot: "
            f"{r['speaker_tracks_per_shot']})"
        )


if __name__ == "__main__":
    main()
