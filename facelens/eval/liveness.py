"""Liveness evaluation: the real clip's live speaker against attacks made from real photos.

    facelens eval liveness [--photos 50] [--seconds 3] [--detector yunet] [--every 1] [--json]
    python -m facelens.eval.liveness [same options] [--json FILE]

Live: short_hamilton_clip.mp4 cut at its shot changes; every shot, and 3 s windows every
0.5 s inside shots longer than that, checked passively (FaceLens().liveness(clip)). Attacks
(facelens/eval/liveness_attacks.py), each written to an .mp4 and read back: held_photo and
screen_photo from --photos real photos (LFW, face_recognition, InspireFace; cropped to the
face), InspireFace's rgb_fake.jpg (a photo of a screen) held up five times, a frozen frame
of the speaker (exact, and with sensor noise), and the speaker's shot replayed on a moving
screen. Every clip is also judged with a random challenge (all three actions, 5 s each):
a recording that was not made in answer to it must fail or stay unfinished.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facelens.eval import liveness_attacks as attacks
from facelens.eval.liveness_clips import face_crop, photo_paths, read_clip, shots, write_clip


def evaluate(
    data: Path,
    photos: int,
    seconds: float,
    detector: str,
    every: int = 1,
    on_clip: Callable[[dict], None] | None = None,
) -> dict:
    """Every clip's passive and challenged verdict (`rows`) and the table by kind; on_clip
    sees each row as it is judged (the whole run takes tens of minutes)."""
    from facelens.lens import FaceLens
    from facelens.liveness.challenge import random_challenge
    from facelens.liveness.clip import clip_signals, liveness_of

    lens = FaceLens(detector=detector)
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    folder = Path(tempfile.mkdtemp(prefix="facelens-liveness-"))

    def check(kind: str, name: str, frames: list[np.ndarray], fps: float = attacks.FPS) -> None:
        path = folder / "clip.mp4"
        write_clip(path, frames, fps)
        signals, _, last = clip_signals(lens, path, every)
        passive = liveness_of(signals, None, last)
        actions = random_challenge(rng)
        challenged = liveness_of(signals, actions, last)
        rows.append(
            {
                "kind": kind,
                "name": name,
                "verdict": passive.verdict,
                "reasons": passive.reasons,
                "challenge": actions,
                "challenge_verdict": challenged.verdict,
                "cues": passive.cues.model_dump() if passive.cues else None,
            }
        )
        if on_clip:
            on_clip(rows[-1])

    clip, fps = read_clip(data / "video" / "short_hamilton_clip.mp4")
    speaker = max(shots(clip), key=lambda s: s[1] - s[0])
    for start, end in shots(clip):
        check("live", f"shot {start}-{end - 1}", clip[start:end], fps)
        window, step = int(seconds * fps), int(0.5 * fps)
        for first in range(start, end - window + 1, step) if end - start > window else []:
            check("live window", f"{first}-{first + window - 1}", clip[first : first + window], fps)
    for path in photo_paths(data, photos):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        face = face_crop(lens, rgb)
        if face is None:
            continue
        check("held photo", path.name, attacks.held_photo(face, seconds, rng))
        check("screen photo", path.name, attacks.screen_photo(face, seconds, rng))
    fake = cv2.cvtColor(
        cv2.imread(str(data / "inspireface/test_res/bulk/rgb_fake.jpg")), cv2.COLOR_BGR2RGB
    )
    for seed in range(5):
        check("rgb_fake held up", f"seed {seed}", attacks.held_photo(fake, seconds, rng))
    for index in np.linspace(speaker[0], speaker[1] - 1, 5).astype(int):
        still = clip[index]
        check("frozen frame", f"frame {index}", attacks.frozen(still, seconds), fps)
        noisy = [
            np.clip(still + rng.normal(0, 2.0, still.shape), 0, 255).astype(np.uint8)
            for _ in range(int(seconds * fps))
        ]
        check("frozen frame + noise", f"frame {index}", noisy, fps)
    for seed in range(3):
        check(
            "flat replay", f"seed {seed}", attacks.flat_replay(clip[speaker[0] : speaker[1]], rng)
        )
    return {
        "detector": detector,
        "every": every,
        "seconds": seconds,
        "rows": rows,
        "table": table(rows),
    }


def table(rows: list[dict]) -> list[dict]:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    out = []
    for kind, group in by_kind.items():
        passive = Counter(r["verdict"] for r in group)
        challenged = Counter(r["challenge_verdict"] for r in group)
        residuals = [r["cues"]["residual"] for r in group if r["cues"] and r["cues"]["residual"]]
        out.append(
            {
                "kind": kind,
                "clips": len(group),
                "passive": dict(passive),
                "with_challenge": dict(challenged),
                "residual_median": round(float(np.median(residuals)), 4) if residuals else None,
                "residual_range": [round(min(residuals), 4), round(max(residuals), 4)]
                if residuals
                else None,
            }
        )
    return out


def markdown(report: dict) -> str:
    lines = [
        "| clips | n | passive: live / spoof / undecided | with a random challenge "
        "| residual (range) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in report["table"]:
        p, c = row["passive"], row["with_challenge"]
        counts = " / ".join(str(p.get(v, 0)) for v in ("live", "spoof", "undecided"))
        challenged = " / ".join(str(c.get(v, 0)) for v in ("live", "spoof", "undecided"))
        lines.append(
            f"| {row['kind']} | {row['clips']} | {counts} | {challenged} | "
            f"{row['residual_median']} ({row['residual_range']}) |"
        )
    return "\n".join(lines)


def print_row(row: dict) -> None:
    verdicts = f"{row['verdict']} / {row['challenge_verdict']}"
    print(row["kind"], row["name"], verdicts, row["reasons"], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--every", type=int, default=1, help="analyse every N-th frame")
    parser.add_argument("--json", type=Path, help="also write every clip's result here")
    args = parser.parse_args()
    report = evaluate(args.data, args.photos, args.seconds, args.detector, args.every, print_row)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(markdown(report))


if __name__ == "__main__":
    main()
