"""Copy the web page's tab screenshots into docs/screenshots/ for the README (`make screenshots`).

The Playwright tests (tests/test_browser.py, tests/test_browser_live.py) take them in real
Chromium under artifacts/browser/; this keeps one small JPEG per tab, 960 px wide.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

REPOSITORY = Path(__file__).resolve().parents[1]
SHOTS = REPOSITORY / "artifacts" / "browser"
DOCS = REPOSITORY / "docs" / "screenshots"
TABS = ("analyse", "compare", "extract", "gallery", "live")
WIDTH = 960


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    missing = [tab for tab in TABS if not (SHOTS / f"{tab}.png").is_file()]
    if missing:
        print(
            f"no screenshot for {missing} in {SHOTS}: run the browser tests first", file=sys.stderr
        )
        return 1
    for tab in TABS:
        picture = cv2.imread(str(SHOTS / f"{tab}.png"))
        scale = WIDTH / picture.shape[1]
        small = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(DOCS / f"{tab}.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 82])
        print(DOCS / f"{tab}.jpg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
