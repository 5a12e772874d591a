"""Soak test of a running `facelens serve`: many clients, mixed endpoints, hostile files
interleaved, for minutes; reports 5xx, latency and the server's memory at start and end.

    python tests/fuzz_corpus.py /tmp/corpus
    facelens serve --port 7861 --gallery /tmp/soak-gallery &
    python -m facelens.eval.soak --url http://127.0.0.1:7861 --pid $! --bad /tmp/corpus \
        --clients 32 --seconds 600 --warm-up 60 --json

Memory is measured after the warm-up (the same load, not counted), once a minute during the
run and at its end: growth from there is what a leak would show.

Bounded on purpose: loopback only, at most 32 clients and 15 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import time
from pathlib import Path

import httpx
import numpy as np

from facelens.eval.load_test import (
    DEFAULT_IMAGE,
    MAX_CLIENTS,
    PAIR_IMAGE,
    Tally,
    check_bounds,
    check_loopback,
)

MAX_SECONDS = 900.0
GOOD_ROUTES = (
    "/v1/detect",
    "/v1/analyze",
    "/v1/embed",
    "/v1/quality",
    "/v1/verify",
    "/v1/gallery/search",
)
BAD_EVERY = 4  # one request in four carries a hostile file


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


def files_for(route: str, image: bytes, pair: bytes) -> dict[str, bytes]:
    return {"image_a": pair, "image_b": image} if route == "/v1/verify" else {"image": image}


async def client(
    http: httpx.AsyncClient,
    plan: itertools.cycle,
    deadline: float,
    good: Tally,
    statuses: dict[str, int],
) -> None:
    while time.perf_counter() < deadline:
        route, files, hostile = next(plan)
        start = time.perf_counter()
        try:
            response = await http.post(route, files=files)
        except httpx.HTTPError as error:
            statuses[type(error).__name__] = statuses.get(type(error).__name__, 0) + 1
            continue
        key = str(response.status_code)
        statuses[key] = statuses.get(key, 0) + 1
        if not hostile and response.status_code == 200:
            good.latencies.append(time.perf_counter() - start)


async def sample_rss(pid: int, deadline: float, samples: list[float]) -> None:
    """The server's resident memory once a minute, to tell a plateau from a leak."""
    while (left := deadline - time.perf_counter()) > 0:
        await asyncio.sleep(min(60.0, left))
        samples.append(rss_mb(pid))


async def run(
    url: str, pid: int, bad_dir: Path, clients: int, seconds: float, warm_up: float
) -> dict:
    check_loopback(url)
    photo, pair = DEFAULT_IMAGE.read_bytes(), PAIR_IMAGE.read_bytes()
    bad = [p.read_bytes() for p in sorted(bad_dir.iterdir()) if p.is_file()]
    if not bad:
        raise SystemExit(f"no files in {bad_dir}: run `python tests/fuzz_corpus.py {bad_dir}`")
    # Every hostile file goes to every route once a cycle, after BAD_EVERY - 1 good requests.
    good_routes = itertools.cycle(GOOD_ROUTES)
    plan_items = []
    for image, route in itertools.product(bad, GOOD_ROUTES):
        for _ in range(BAD_EVERY - 1):
            good_route = next(good_routes)
            plan_items.append((good_route, files_for(good_route, photo, pair), False))
        plan_items.append((route, files_for(route, image, pair), True))
    plan = itertools.cycle(plan_items)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120.0) as http:
        if (await http.get("/readyz")).status_code != 200:
            raise SystemExit(f"{url} is not ready")
        await http.post("/v1/gallery/people", files={"image": photo}, data={"name": "soak"})
        for route in GOOD_ROUTES:  # every network loaded before memory is measured
            await http.post(route, files=files_for(route, photo, pair))
        if warm_up > 0:  # the same load until the allocator's working set has formed
            warm_deadline = time.perf_counter() + warm_up
            await asyncio.gather(
                *(client(http, plan, warm_deadline, Tally(), {}) for _ in range(clients))
            )
        start_rss = rss_mb(pid)
        good, statuses = Tally(), {}
        start = time.perf_counter()
        deadline = start + seconds
        samples: list[float] = []
        await asyncio.gather(
            sample_rss(pid, deadline, samples),
            *(client(http, plan, deadline, good, statuses) for _ in range(clients)),
        )
        elapsed = time.perf_counter() - start
    end_rss = rss_mb(pid)
    ms = np.array(good.latencies) * 1000 if good.latencies else np.zeros(1)
    return {
        "clients": clients,
        "warm_up_s": warm_up,
        "seconds": round(elapsed, 1),
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "server_errors_5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
        "hostile_files": len(bad),
        "good_p50_ms": round(float(np.percentile(ms, 50)), 1),
        "good_p99_ms": round(float(np.percentile(ms, 99)), 1),
        "rss_start_mb": round(start_rss),
        "rss_end_mb": round(end_rss),
        "rss_peak_mb": round(rss_mb(pid, "VmHWM")),
        "rss_growth_pct": round(100 * (end_rss - start_rss) / start_rss, 1),
        "rss_mb_each_minute": [round(v) for v in samples],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--bad", type=Path, required=True, help="folder of hostile files")
    parser.add_argument("--clients", type=int, default=32, help=f"at most {MAX_CLIENTS}")
    parser.add_argument("--seconds", type=float, default=600.0, help=f"at most {MAX_SECONDS:.0f}")
    parser.add_argument(
        "--warm-up", type=float, default=60.0, help="seconds of the same load before measuring"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    check_bounds(parser, args.clients, args.seconds, MAX_SECONDS)
    report = asyncio.run(
        run(args.url, args.pid, args.bad, args.clients, args.seconds, args.warm_up)
    )
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
