"""The server as a service: start it as a process, SIGKILL it, restart, and find the
gallery as it was. Also checks that its log lines are JSON."""

from __future__ import annotations

import configparser
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, gallery: Path, log: Path) -> None:
        self.port, self.gallery, self.log = free_port(), gallery, log
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "facelens.cli",
            "serve",
            "--port",
            str(self.port),
            "--gallery",
            str(self.gallery),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready after 120 s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "gallery", tmp_path / "server.log")
    yield running
    running.stop()


def test_killed_server_restarts_with_its_gallery(server: Server, fr_images: Path):
    folder = fr_images / "tests" / "test_images"
    obama, obama2 = (folder / "obama.jpg").read_bytes(), (folder / "obama2.jpg").read_bytes()
    server.start()
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    enrolled = httpx.post(
        f"{server.url}/v1/gallery/people?name=Barack Obama", files={"image": obama}, timeout=60
    )
    assert enrolled.status_code == 200, enrolled.text
    # The request's log line is written just after the response is sent: let it land first.
    deadline = time.monotonic() + 10
    while "gallery_enrol" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)

    server.kill()  # no chance to flush or close anything
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz", timeout=2)

    server.start()
    people = httpx.get(f"{server.url}/v1/gallery/people", timeout=30).json()
    assert people == [{"name": "Barack Obama", "templates": 1}]
    found = httpx.post(f"{server.url}/v1/gallery/search", files={"image": obama2}, timeout=60)
    assert found.json()["identity"] == "Barack Obama"

    lines = [
        json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")
    ]
    enrol = [line for line in lines if line.get("operation") == "gallery_enrol"]
    assert enrol and enrol[0]["outcome"] == "ok" and enrol[0]["images"][0]["bytes"] == len(obama)
    assert all("embedding" not in line for line in lines)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {seconds} s")


def test_supervisord_section_restarts_a_killed_server(tmp_path: Path):
    """deploy/supervisord.conf as shipped, with this checkout's paths: kill -9, it is back."""
    shipped = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    shipped.read(ROOT / "deploy" / "supervisord.conf")
    program = dict(shipped["program:facelens"])
    assert program["autorestart"] == "true"
    port = free_port()
    program.update(
        command=f"{sys.executable} -m facelens.cli serve --port {port} --gallery {tmp_path}/g",
        directory=str(ROOT),
        stdout_logfile=str(tmp_path / "facelens.log"),
        startsecs="1",
    )
    program.pop("user")  # the test runs as whoever runs it
    config = configparser.ConfigParser(interpolation=None)
    config["supervisord"] = {
        "nodaemon": "true",
        "logfile": str(tmp_path / "supervisord.log"),
        "pidfile": str(tmp_path / "supervisord.pid"),
    }
    config["program:facelens"] = program
    with (tmp_path / "supervisord.conf").open("w") as handle:
        config.write(handle)
    supervisor = subprocess.Popen(
        ["supervisord", "-c", str(tmp_path / "supervisord.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        (first,) = children_of(supervisor.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while children_of(supervisor.pid) in ([], [first]):
            assert time.monotonic() < deadline, "supervisord did not restart the server"
            time.sleep(0.1)
        wait_ready(url)
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        supervisor.terminate()  # stops the program too (stopasgroup)
        supervisor.wait(timeout=30)
