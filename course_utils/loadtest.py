"""A bounded load test: a fixed number of requests from a fixed number of clients, on this machine only."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating between the two nearest ranks (NumPy's default)."""
    if not values:
        raise ValueError(
            "percentile of no values: the load test recorded no successful request"
        )
    if not 0 <= q <= 100:
        raise ValueError(f"q is a percentage in [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class LoadResult:
    """What one concurrency level measured: throughput and latency percentiles, in requests/s and ms."""

    concurrency: int
    requests: int
    errors: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


async def _load(
    url: str, texts: list[str], concurrency: int, requests: int, timeout_s: float
) -> LoadResult:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout
    ) as client:

        async def one(i: int) -> None:
            nonlocal errors
            start = time.perf_counter()
            async with client.post(
                url, json={"text": texts[i % len(texts)]}
            ) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
                    return
            latencies.append(time.perf_counter() - start)

        async def worker(
            first: int,
        ) -> None:  # one client: its requests one after another
            for i in range(first, requests, concurrency):
                await one(i)

        await asyncio.gather(
            *(one(k) for k in range(concurrency))
        )  # warm-up: one request per client
        latencies.clear()
        errors = 0
        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        seconds = time.perf_counter() - start
    ms = [1000 * t for t in latencies]
    return LoadResult(
        concurrency,
        requests,
        errors,
        seconds,
        len(latencies) / seconds,
        percentile(ms, 50),
        percentile(ms, 95),
        percentile(ms, 99),
    )


def load_test(
    url: str, texts: list[str], concurrency: int, requests: int, timeout_s: float = 120
) -> LoadResult:
    """POST `requests` texts to `url` from `concurrency` clients at once (each sends its next when answered)."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(
            f"load_test only sends to this machine (127.0.0.1), not to {host!r}: {url}"
        )
    if concurrency < 1 or requests < concurrency:
        raise ValueError(
            f"need 1 <= concurrency <= requests, got concurrency={concurrency}, requests={requests}"
        )
    if not texts:
        raise ValueError("texts is empty: pass the sentences to send")
    outcome: dict = {}

    def run() -> (
        None
    ):  # a fresh event loop in its own thread: works inside Jupyter's running loop too
        try:
            outcome["result"] = asyncio.run(
                asyncio.wait_for(
                    _load(url, texts, concurrency, requests, timeout_s),
                    timeout=2 * timeout_s,
                )
            )
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
