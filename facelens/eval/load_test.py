"""A bounded load test of a running `facelens serve` on this machine.

    python -m facelens.eval.load_test --url http://127.0.0.1:7860 --clients 32 --seconds 60

Each client posts the photo, waits for the answer and posts again, until time is up.
Bounded on purpose: loopback only, at most 32 clients and 60 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

MAX_CLIENTS = 32
MAX_SECONDS = 60.0
DEFAULT_IMAGE = Path("../shared/data/face_recognition/tests/test_images/obama.jpg")
PAIR_IMAGE = Path("../shared/data/face_recognition/tests/test_images/obama2.jpg")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to load-test {host!r}: only loopback addresses are allowed")


def check_bounds(
    parser: argparse.ArgumentParser, clients: int, seconds: float, max_seconds: float
) -> None:
    if not 1 <= clients <= MAX_CLIENTS or not 0 < seconds <= max_seconds:
        parser.error(f"--clients must be 1..{MAX_CLIENTS} and --seconds 0..{max_seconds:.0f}")


async def client_loop(
    http: httpx.AsyncClient, route: str, files: dict[str, bytes], deadline: float, tally: Tally
) -> None:
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            response = await http.post(route, files=files)
        except httpx.HTTPError as error:
            tally.error(type(error).__name__)
            continue
        if response.status_code == 200:
            tally.latencies.append(time.perf_counter() - start)
        else:
            tally.error(f"http_{response.status_code}")


async def run(
    url: str, clients: int, seconds: float, endpoint: str, image: Path, api_key: str | None
) -> dict:
    check_loopback(url)
    clients, seconds = min(clients, MAX_CLIENTS), min(seconds, MAX_SECONDS)
    data = image.read_bytes()
    files = (
        {"image_a": data, "image_b": PAIR_IMAGE.read_bytes()}
        if endpoint == "verify"
        else {"image": data}
    )
    headers = {"X-API-Key": api_key} if api_key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60.0
    ) as http:
        ready = await http.get("/readyz")
        if ready.status_code != 200:
            raise SystemExit(f"{url} is not ready: {ready.status_code} {ready.text}")
        await http.post(f"/v1/{endpoint}", files=files)  # first call outside the timing
        tally = Tally()
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(
            *(client_loop(http, f"/v1/{endpoint}", files, deadline, tally) for _ in range(clients))
        )
        elapsed = time.perf_counter() - start
    ms = np.array(tally.latencies) * 1000 if tally.latencies else np.zeros(1)
    return {
        "url": url,
        "endpoint": endpoint,
        "image": image.name,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(tally.latencies),
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "requests_per_s": round(len(tally.latencies) / elapsed, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--clients", type=int, default=8, help=f"at most {MAX_CLIENTS}")
    parser.add_argument("--seconds", type=float, default=30.0, help=f"at most {MAX_SECONDS:.0f}")
    parser.add_argument(
        "--endpoint", default="detect", choices=["detect", "embed", "analyze", "verify", "quality"]
    )
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    check_bounds(parser, args.clients, args.seconds, MAX_SECONDS)
    report = asyncio.run(
        run(args.url, args.clients, args.seconds, args.endpoint, args.image, args.api_key)
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['endpoint']} × {report['clients']} clients for {report['seconds']} s: "
        f"{report['requests']} ok, {report['errors']} errors {report['error_kinds'] or ''}\n"
        f"{report['requests_per_s']} requests/s; latency p50 {report['p50_ms']} ms, "
        f"p90 {report['p90_ms']} ms, p99 {report['p99_ms']} ms, max {report['max_ms']} ms"
    )


if __name__ == "__main__":
    main()
