"""A small HTTP/1.1 load generator: fixed concurrency, keep-alive, fixed duration.

Plain asyncio streams rather than an HTTP library, so that the client spends as little of
the machine's CPU as it can (it shares the machine with the server it measures).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.measure import summary


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


async def _connection(
    host: str, port: int, next_path: Callable[[], str], headers: str, until: float, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            request = f"GET {next_path()} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n"
            started = time.perf_counter()
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, next_path: Callable[[], str], headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[Tally, float]:
    header_text = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    tally = Tally()
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_connection(host, port, next_path, header_text, until, tally) for _ in range(concurrency)))
    return tally, time.perf_counter() - started


def hammer(
    host: str,
    port: int,
    next_path: Callable[[], str],
    *,
    headers: dict[str, str] | None = None,
    seconds: float,
    concurrency: int = 16,
    warm_up: float = 2.0,
) -> dict[str, Any]:
    """Requests per second and latency percentiles over `seconds`, after `warm_up` seconds."""
    headers = headers or {}
    asyncio.run(_run(host, port, next_path, headers, warm_up, concurrency))
    tally, elapsed = asyncio.run(_run(host, port, next_path, headers, seconds, concurrency))
    return {
        "requests": len(tally.latencies_ms),
        "requests_per_second": round(len(tally.latencies_ms) / elapsed),
        **summary(tally.latencies_ms),
        "statuses": {str(code): count for code, count in sorted(tally.statuses.items())},
    }
