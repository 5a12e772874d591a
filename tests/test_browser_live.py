"""The Live tab in headless Chromium with a fake camera playing the stage clip's speaker
(a .y4m file, Chromium's --use-file-for-fake-video-capture): preview with track ids, the
prompt, and the verdict with its plot."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright import sync_api as playwright
from test_browser import ARGS, CHROMIUM, SHOTS, gallery_dir, open_page, server_url  # noqa: F401

from facelens.eval.liveness_clips import read_clip

SPEAKER = slice(82, 161)  # he turns to his right at 0.8-2 s (tests/test_liveness_clips.py)


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """RGB frames → an uncompressed YUV4MPEG2 file (4:2:0), the fake camera's format."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def camera_file(data_dir: Path, tmp_path_factory) -> Path:
    clip, _ = read_clip(data_dir / "video" / "short_hamilton_clip.mp4")
    return write_y4m(tmp_path_factory.mktemp("camera") / "speaker.y4m", clip[SPEAKER])


def test_live_tab_runs_a_check_with_the_camera(server_url: str, camera_file: Path):  # noqa: F811
    fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    fake.append(f"--use-file-for-fake-video-capture={camera_file}")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS + fake)
        page = open_page(browser, server_url, viewport={"width": 1200, "height": 1100})
        page.context.grant_permissions(["camera"])
        # The camera's speaker turns to his right: ask for that (the page asks a random order).
        page.route(
            "**/v1/liveness/sessions",
            lambda route: route.continue_(url=route.request.url + "?challenge=right"),
        )
        page.click("[data-tab=live]")
        page.click("#live-start")
        page.wait_for_selector("#live-prompt[data-prompt=right]")
        page.wait_for_selector("#live-canvas[data-faces='1']")
        assert page.get_attribute("#live-canvas", "data-tracks") == "1"
        page.wait_for_selector("#live-verdict:not([hidden])", timeout=40_000)
        assert page.get_attribute("#live-verdict", "data-verdict") == "live"
        assert page.inner_text("#live-steps").startswith("Turn your head to your right: passed")
        assert int(page.get_attribute("#live-plot", "data-points")) >= 5
        assert page.is_disabled("#live-stop") and not page.is_disabled("#live-start")
        page.screenshot(path=str(SHOTS / "live.png"), full_page=True)
        browser.close()
