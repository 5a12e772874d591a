"""Enrolment throughput of real photos: decode, detect, quality, embed and store.

    python -m facelens.eval.enroll_bench [--data ../shared/data/lfw] [--images 300] [--json]

Enrols LFW people (sorted by name, whole folders) into a fresh temporary gallery through
`Gallery.enroll` until `--images` photos have been offered, after one warm-up photo, and
reports photos per second with what became of them (enrolled, refused, no face).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path


def bench(data: Path, images: int) -> dict:
    from facelens.gallery import Gallery

    folders = sorted(p for p in (data / "images").iterdir() if p.is_dir())
    chosen: list[tuple[str, list[Path]]] = []
    offered = 0
    for folder in folders:
        if offered >= images:
            break
        photos = sorted(folder.glob("*.jpg"))
        chosen.append((folder.name, photos))
        offered += len(photos)
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as directory:
        gallery = Gallery(directory)
        gallery.enroll("warm-up", [chosen[0][1][0]])  # loads every model once
        gallery.remove("warm-up")
        start = time.perf_counter()
        for person, photos in chosen:
            for item in gallery.enroll(person, photos).images:
                outcomes[item.status] += 1
        gallery.store.flush()
        seconds = time.perf_counter() - start
        gallery.close()
    return {
        "photos": offered,
        "people": len(chosen),
        "seconds": round(seconds, 2),
        "photos_per_second": round(offered / seconds, 2),
        "ms_per_photo": round(1000 * seconds / offered, 1),
        "outcomes": dict(outcomes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lfw"))
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = bench(args.data, args.images)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['photos']} photos of {report['people']} people in {report['seconds']} s: "
            f"{report['photos_per_second']} photos/s ({report['ms_per_photo']} ms each); "
            f"{report['outcomes']}"
        )


if __name__ == "__main__":
    main()
