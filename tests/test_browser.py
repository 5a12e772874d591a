"""The web page in headless Chromium (Debian's `chromium`, driven by Playwright; no browser
download): analyse, explain, compare, extract and the gallery, with screenshots saved to
artifacts/browser/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image
from playwright import sync_api as playwright
from samples import reencoded

from facelens.api import Settings, create_app
from facelens.gallery import Template, open_store
from facelens.gallery.names import escape_name

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
# A cheap checksum of a canvas's pixels: changes when anything is drawn over it.
CANVAS_SUM = """id => {
  const c = document.getElementById(id);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let s = 0;
  for (let i = 0; i < d.length; i += 4) {
    s = (s + d[i] * 7 + d[i + 1] * 13 + d[i + 2] * 17) % 1000000007;
  }
  return s;
}"""

if not Path(CHROMIUM).exists():  # a missing browser is a failed set-up, never a skipped test
    raise RuntimeError("chromium is not installed: run `make test` (it installs Debian's chromium)")


@pytest.fixture(scope="module")
def gallery_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gallery")


@pytest.fixture(scope="module")
def server_url(gallery_dir: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(gallery_dir=gallery_dir)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, url: str, **options):
    tab = browser.new_page(**options)
    tab.set_default_timeout(20_000)
    tab.goto(url)
    tab.wait_for_selector("body[data-ready=true]")
    return tab


@pytest.fixture(scope="module")
def page(browser, server_url: str):
    tab = open_page(browser, server_url, viewport={"width": 1200, "height": 1000})
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def washed_out(fr_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """obama.jpg four times over-exposed: a face the server refuses (`retake`)."""
    rgb = np.asarray(Image.open(fr_images / "tests" / "test_images" / "obama.jpg"), np.int32)
    path = tmp_path_factory.mktemp("photos") / "washed_out.png"
    Image.fromarray(np.clip(rgb * 4, 0, 255).astype(np.uint8)).save(path)
    return path


class Held:
    """Holds the page's requests to `pattern` until the test releases them, one by one: a slow
    answer, made deterministic."""

    def __init__(self, page, pattern: str) -> None:
        self.page, self.pattern, self.routes, self.ended = page, pattern, [], []

    def __enter__(self) -> Held:
        self.page.route(self.pattern, self.hold)
        self.page.on("requestfinished", self.end)
        self.page.on("requestfailed", self.end)  # aborted by the page
        return self

    def hold(self, route: playwright.Route) -> None:
        self.routes.append(route)

    def end(self, request: playwright.Request) -> None:
        self.ended.append(request)

    def __exit__(self, *exc: object) -> None:
        self.page.unroute(self.pattern)
        self.page.remove_listener("requestfinished", self.end)
        self.page.remove_listener("requestfailed", self.end)

    def wait(self, count: int) -> None:
        self._until(lambda: len(self.routes) >= count, f"no request #{count} to {self.pattern}")

    def release(self, index: int) -> None:
        """Lets held request `index` through to the server and waits until it has ended:
        answered in full, or aborted by the page."""
        route = self.routes[index]
        try:
            route.continue_()
        except playwright.Error:
            pass  # the page aborted it already
        self._until(lambda: route.request in self.ended, f"request #{index + 1} never ended")

    def _until(self, done, message: str) -> None:
        deadline = time.monotonic() + 20
        while not done():
            assert time.monotonic() < deadline, message
            self.page.wait_for_timeout(50)


def settle(page) -> None:
    """Time for a released answer to be handled (decoded, drawn) had the page kept it."""
    page.wait_for_timeout(1000)


def upload(page, zone: str, path: Path) -> None:
    page.set_input_files(f"#{zone} input[type=file]", str(path))


def test_analyse_draws_boxes_and_labels(page, fr_images: Path):
    assert "processed locally" in page.inner_text(".privacy")
    upload(page, "analyse-drop", fr_images / "examples" / "two_people.jpg")
    page.wait_for_selector("#analyse-canvas[data-faces='2']")
    labels = page.locator("#analyse-faces li").all_inner_texts()
    assert len(labels) == 2
    features = page.evaluate("fetch('/v1/info').then(r => r.json()).then(j => j.features)")
    if features["attributes"]:  # `Female, (25-32), 92% · happy`
        assert all("%" in label and "·" in label for label in labels), labels
    if features["quality"]:
        assert all("quality" in label for label in labels), labels
    page.screenshot(path=str(SHOTS / "analyse.png"), full_page=True)


def test_working_belongs_to_the_tab_that_started_it(browser, server_url: str, fr_images: Path):
    """Work started on one tab marks that tab busy; "Working…" shows only while it is open."""
    tab = open_page(browser, server_url, viewport={"width": 1200, "height": 1000})
    held = []
    tab.route("**/v1/analyze*", lambda route: held.append(route))  # held until let go
    upload(tab, "analyse-drop", fr_images / "examples" / "two_people.jpg")
    while not held:
        tab.wait_for_timeout(50)
    assert tab.get_attribute("[data-tab=analyse]", "data-busy") == "true"
    assert tab.is_visible("#busy")
    tab.click("[data-tab=compare]")
    assert tab.is_hidden("#busy")  # nothing is running on Compare
    assert tab.get_attribute("[data-tab=analyse]", "data-busy") == "true"
    tab.click("[data-tab=analyse]")
    assert tab.is_visible("#busy")
    for route in held:
        route.continue_()
    tab.wait_for_selector("#analyse-canvas[data-faces='2']")
    tab.wait_for_selector("[data-tab=analyse][data-busy=false]")
    assert tab.is_hidden("#busy")
    tab.close()


def test_analyse_asks_to_retake_a_refused_face(page, server_url: str, washed_out, fr_images):
    answer = httpx.post(f"{server_url}/v1/quality", files={"image": washed_out.read_bytes()})
    quality = answer.json()["faces"][0]["quality"]
    assert quality["verdict"] == "retake"
    upload(page, "analyse-drop", washed_out)
    page.wait_for_selector("#analyse-banner:not([hidden])")
    assert page.inner_text("#analyse-banner").startswith("Please retake")
    # No age, gender or expression shown as trustworthy: "retake" and why, in the verdict's red.
    entry = page.locator("#analyse-faces li").first
    assert entry.inner_text().startswith("1. retake: " + "; ".join(quality["reasons"]))
    assert entry.evaluate("li => getComputedStyle(li).borderLeftColor") == "rgb(214, 40, 40)"
    page.screenshot(path=str(SHOTS / "analyse-retake.png"), full_page=True)
    upload(page, "analyse-drop", fr_images / "examples" / "two_people.jpg")
    page.wait_for_selector("#analyse-canvas[data-faces='2']")
    assert page.is_hidden("#analyse-banner")


def test_explain_toggle_draws_an_overlay(page):
    assert not page.is_disabled("#analyse-explain"), "explanations are unavailable"
    before = page.evaluate(CANVAS_SUM, "analyse-canvas")
    page.check("#analyse-explain")
    page.wait_for_selector("#analyse-canvas[data-overlay='1']")
    assert page.evaluate(CANVAS_SUM, "analyse-canvas") != before
    page.screenshot(path=str(SHOTS / "analyse-explain.png"), full_page=True)
    page.uncheck("#analyse-explain")
    page.wait_for_selector("#analyse-canvas[data-overlay='0']")


def test_late_explanation_is_not_painted_once_explain_is_off(page, fr_images: Path):
    upload(page, "analyse-drop", fr_images / "examples" / "two_people.jpg")
    page.wait_for_selector("#analyse-canvas[data-faces='2']")
    plain = page.evaluate(CANVAS_SUM, "analyse-canvas")
    with Held(page, "**/v1/explain?*") as held:
        page.check("#analyse-explain")
        held.wait(1)
        page.uncheck("#analyse-explain")
        held.release(0)
        settle(page)
    assert page.get_attribute("#analyse-canvas", "data-overlay") == "0"
    assert page.evaluate(CANVAS_SUM, "analyse-canvas") == plain
    assert page.inner_text("#analyse-explain-note") == ""


def test_explanation_note_names_the_answer_drawn(page):
    """Two answers out of order: the map and note drawn are those of the menu's choice."""
    page.select_option("#analyse-target", "age")  # not explained yet for this photo
    page.select_option("#analyse-method", "gradcam")
    with Held(page, "**/v1/explain?*") as held:
        page.check("#analyse-explain")
        held.wait(1)
        page.select_option("#analyse-target", "gender")
        held.wait(2)
        held.release(1)
        page.wait_for_selector("#analyse-canvas[data-overlay='1']")
        drawn = page.evaluate(CANVAS_SUM, "analyse-canvas")
        held.release(0)  # the age answer, now late
        settle(page)
    note = page.inner_text("#analyse-explain-note")
    assert note.startswith("Grad-CAM for gender"), note
    assert page.evaluate(CANVAS_SUM, "analyse-canvas") == drawn


def test_working_stays_on_its_tab_until_its_last_request_ends(page, fr_images: Path):
    working = page.get_by_text("Working…")
    with Held(page, "**/v1/explain?*") as held:
        page.select_option("#analyse-target", "age")  # drawn: gender; age is asked again
        held.wait(1)
        page.click("[data-tab=extract]")
        upload(page, "extract-drop", fr_images / "tests" / "test_images" / "obama.jpg")
        page.wait_for_selector("#extract-copy:not([disabled])")
        assert working.is_hidden()  # Extract's own work has ended
        busy = page.get_attribute("[data-tab=analyse]", "data-busy")
        assert busy == "true", "the explanation is still pending"
        page.click("[data-tab=analyse]")
        assert working.is_visible()
        held.release(0)
        working.wait_for(state="hidden")
    assert page.inner_text("#analyse-explain-note").startswith("Grad-CAM for age")
    page.uncheck("#analyse-explain")


def test_signed_map_note_names_its_colours(page):
    """Occlusion maps are signed (green supports the answer, red counts against it)."""
    page.check("#analyse-explain")
    page.select_option("#analyse-method", "occlusion")
    page.wait_for_selector("#analyse-explain-note[data-method=occlusion]")
    note = page.inner_text("#analyse-explain-note")
    assert note.startswith("occlusion for age") and "green marks" in note, note
    assert "warm colours" not in note
    page.select_option("#analyse-method", "gradcam")
    page.uncheck("#analyse-explain")


def test_new_upload_replaces_the_old_one(page, fr_images: Path):
    """Nothing of the previous photo stays while the next is analysed, nor after a late answer."""
    with Held(page, "**/v1/analyze") as held:
        upload(page, "analyse-drop", fr_images / "examples" / "two_people.jpg")
        held.wait(1)
        upload(page, "analyse-drop", fr_images / "tests" / "test_images" / "obama.jpg")
        held.wait(2)
        assert page.evaluate("document.getElementById('analyse-canvas').width") == 0
        assert page.locator("#analyse-faces li").count() == 0
        held.release(1)
        page.wait_for_selector("#analyse-canvas[data-faces='1']")
        held.release(0)  # the first photo's answer, now late
        settle(page)
    assert page.get_attribute("#analyse-canvas", "data-faces") == "1"
    assert page.locator("#analyse-faces li").count() == 1


def test_failed_upload_clears_the_page_and_says_why(page, washed_out: Path, tmp_path: Path):
    upload(page, "analyse-drop", washed_out)
    page.wait_for_selector("#analyse-banner:not([hidden])")
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a photo")
    too_wide = tmp_path / "wide.png"
    Image.new("L", (65535, 1)).save(too_wide)
    for path, code, words in [
        (not_an_image, "not_an_image", "This file is not an image"),
        (too_wide, "too_large", "This file is too large"),
    ]:
        upload(page, "analyse-drop", path)
        page.wait_for_selector(f"#status[data-code={code}]")
        assert page.inner_text("#status").startswith(words + ": ")
        assert page.evaluate("document.getElementById('analyse-canvas').width") == 0
        assert page.locator("#analyse-faces li").count() == 0
        assert page.is_hidden("#analyse-banner")
    page.screenshot(path=str(SHOTS / "analyse-error.png"), full_page=True)


def test_group_photo_numbers_faces_on_a_2x_phone(browser, server_url: str, data_dir: Path):
    phone = open_page(
        browser, server_url, viewport={"width": 390, "height": 844}, device_scale_factor=2
    )
    upload(phone, "analyse-drop", data_dir / "inspireface" / "insightface_samples" / "t1.jpg")
    phone.wait_for_selector("#analyse-canvas[data-faces='6']")
    entries = phone.locator("#analyse-faces li").all_inner_texts()
    assert [entry.split(".")[0] for entry in entries] == ["1", "2", "3", "4", "5", "6"], entries
    canvas = phone.locator("#analyse-canvas")
    density = canvas.evaluate("c => c.width / c.getBoundingClientRect().width")
    assert density == pytest.approx(2, abs=0.02)
    phone.screenshot(path=str(SHOTS / "analyse-group-phone.png"), full_page=True)
    phone.close()


def test_compare_reads_the_decision(page, fr_images: Path, tmp_path: Path):
    folder = fr_images / "tests" / "test_images"
    page.click("[data-tab=compare]")
    upload(page, "compare-drop-a", folder / "obama.jpg")
    upload(page, "compare-drop-b", folder / "obama2.jpg")
    page.wait_for_selector("#compare-result:not([hidden])")
    assert page.get_attribute("#compare-result", "data-decision") == "true"
    assert "Same person" in page.inner_text("#compare-result")
    assert page.inner_text("#compare-quality-a").startswith("Quality")
    if not page.is_disabled("#compare-explain"):
        sums = [page.evaluate(CANVAS_SUM, f"compare-canvas-{s}") for s in "ab"]
        page.check("#compare-explain")
        page.wait_for_selector("#compare-canvas-b[data-overlay='1']")
        gradient = [page.evaluate(CANVAS_SUM, f"compare-canvas-{s}") for s in "ab"]
        assert gradient != sums
        page.select_option("#compare-method", "transplant")  # another map of the same pair
        page.wait_for_function(
            f"() => ({CANVAS_SUM})('compare-canvas-b') !== {gradient[1]}", timeout=120_000
        )
        page.wait_for_selector("#compare-canvas-b[data-overlay='1']")
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)
    upload(page, "compare-drop-b", folder / "biden.jpg")
    page.wait_for_selector("#compare-result[data-decision='false']")
    assert "Different people" in page.inner_text("#compare-result")
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a photo")
    upload(page, "compare-drop-b", not_an_image)
    page.wait_for_selector("#status[data-code=not_an_image]")
    assert page.inner_text("#status").startswith("This file is not an image: ")
    assert page.is_hidden("#compare-result")
    assert page.evaluate("document.getElementById('compare-canvas-b').width") == 0


def test_extract_shows_the_embedding(page, fr_images: Path, default_dimension: int):
    page.click("[data-tab=extract]")
    upload(page, "extract-drop", fr_images / "tests" / "test_images" / "obama.jpg")
    page.wait_for_selector("#extract-copy:not([disabled])")  # the page's CSP forbids eval
    vector = page.evaluate("JSON.parse(document.getElementById('extract-json').value)")
    assert len(vector) == default_dimension
    page.screenshot(path=str(SHOTS / "extract.png"), full_page=True)


def test_extract_and_compare_show_reconstructions(browser, server_url: str, fr_images: Path):
    folder = fr_images / "tests" / "test_images"
    tab = open_page(browser, server_url, viewport={"width": 1200, "height": 1400})
    tab.click("[data-tab=extract]")
    upload(tab, "extract-drop", folder / "obama.jpg")
    tab.wait_for_selector("#extract-copy:not([disabled])")
    assert tab.is_hidden("#extract-recon")
    tab.check("#extract-reconstruct")
    tab.wait_for_selector("#extract-recon-img[src^='data:image/png']")
    # the panel (face, reconstruction, regions: 3 tiles of 160 px) with its legend and note
    assert tab.evaluate("document.getElementById('extract-recon-img').naturalWidth") == 480
    assert "not the person's photo" in tab.inner_text("#extract-recon-note")
    tab.screenshot(path=str(SHOTS / "extract-reconstruction.png"), full_page=True)
    tab.click("[data-tab=compare]")
    tab.check("#compare-reconstruct")
    upload(tab, "compare-drop-a", folder / "obama.jpg")
    upload(tab, "compare-drop-b", folder / "biden.jpg")
    tab.wait_for_selector("#compare-recon-img[src^='data:image/png']")
    assert tab.evaluate("document.getElementById('compare-recon-img').naturalWidth") == 800
    assert "where they differ" in tab.inner_text("#compare-recon-note")
    tab.uncheck("#compare-reconstruct")
    assert tab.is_hidden("#compare-recon")
    tab.close()


def test_gallery_enrol_and_search(page, fr_images: Path):
    folder = fr_images / "tests" / "test_images"
    page.click("[data-tab=gallery]")
    page.fill("#enrol-name", "Barack Obama")
    page.get_by_label("Photo to enrol").set_input_files(folder / "obama.jpg")
    page.click("#enrol-form button")
    page.wait_for_selector("#people td:text('Barack Obama')")
    page.get_by_label("Photo to search for").set_input_files(folder / "obama2.jpg")
    page.click("#search-form button")
    page.wait_for_selector("#search-results[data-identity='Barack Obama']")
    assert "Barack Obama" in page.inner_text("#search-results li")
    assert page.get_attribute("#search-canvas", "data-faces") == "1"  # the photo, its box
    assert page.inner_text("#search-quality").startswith("Quality")
    page.screenshot(path=str(SHOTS / "gallery.png"), full_page=True)


def test_gallery_says_why_it_refuses_a_photo(page, washed_out: Path):
    page.click("[data-tab=gallery]")  # the module's page may be on any tab
    page.fill("#enrol-name", "Over Exposed")
    page.get_by_label("Photo to enrol").set_input_files(washed_out)
    page.click("#enrol-form button")
    page.wait_for_selector("#status[data-code=retake]")
    text = page.inner_text("#status")
    assert text.startswith("Please retake the photo: the face was refused for quality: "), text
    assert not text.endswith("(retake)")


def test_gallery_renames_and_removes_any_name(
    page, server_url: str, gallery_dir, fr_images, default_dimension: int
):
    """The page's buttons reach every stored name: path-like ones, and ones stored before
    names were checked (shown escaped)."""
    photo = (fr_images / "tests" / "test_images" / "biden.jpg").read_bytes()
    path_like = ["a/b", "/", ".", "..", "../../etc/passwd"]
    for i, name in enumerate(path_like):  # one copy of the photo per name (one identity each)
        answer = httpx.post(
            f"{server_url}/v1/gallery/people",
            params={"name": name},
            files={"image": reencoded(photo, i)},
        )
        assert answer.status_code == 200, answer.text
    dim = default_dimension
    store, legacy = open_store(gallery_dir, dim), ["a\x00b", "\u202eevil"]
    for i, name in enumerate(legacy):  # through the store, which does not check names
        store.add(name, [Template(embedding=np.eye(dim, dtype=np.float32)[i], content_hash=name)])
    store.close()
    page.click("[data-tab=gallery]")  # lists the people again

    def row(name: str):
        cell = page.get_by_role("cell", name=escape_name(name), exact=True)
        return page.locator("#people tbody tr").filter(has=cell)

    page.once("dialog", lambda dialog: dialog.accept("  Joe Biden "))
    row("a\x00b").get_by_role("button", name="Rename").click()
    row("Joe Biden").wait_for()
    page.screenshot(path=str(SHOTS / "gallery-names.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.dismiss())  # Remove asks first: "no" keeps them
    row("Joe Biden").get_by_role("button", name="Remove").click()
    page.wait_for_selector("#busy", state="hidden")
    assert row("Joe Biden").count() == 1
    for name in [*path_like, "\u202eevil", "Joe Biden"]:
        page.once("dialog", lambda dialog: dialog.accept())
        row(name).get_by_role("button", name="Remove").click()
        row(name).wait_for(state="detached")
        assert page.inner_text("#status") == f"Removed {escape_name(name)} and their 1 photo."
    left = {p["name"] for p in httpx.get(f"{server_url}/v1/gallery/people").json()}
    assert left.isdisjoint([*path_like, *legacy, "Joe Biden"]), left
